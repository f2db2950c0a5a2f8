package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/berth-engine/berth/integration/harness"
)

// httpdCmd serves a one-line page with busybox httpd on port 80.
var httpdCmd = []string{"sh", "-c", "mkdir -p /www && echo hello-berth > /www/index.html && exec httpd -f -p 80 -h /www"}

// withHttpd appends the image and the httpd command to docker run args.
func withHttpd(args ...string) []string {
	return append(append(args, img), httpdCmd...)
}

// netDaemon starts a daemon with busybox whose cleanup removes the
// containers first and then the networks the test made.
func netDaemon(t *testing.T) *harness.Daemon {
	t.Helper()
	d := harness.Start(t, harness.Options{})
	d.ImportBusybox()
	t.Cleanup(func() { cleanupNetworks(d) })
	return d
}

func cleanupNetworks(d *harness.Daemon) {
	if r := d.Docker("ps", "-aq"); r.ExitCode == 0 {
		if ids := strings.Fields(r.Stdout); len(ids) > 0 {
			d.Docker(append([]string{"rm", "-f"}, ids...)...)
		}
	}
	d.Docker("network", "prune", "-f")
}

// freeHostPort returns a loopback TCP port nobody listens on right now.
func freeHostPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// curl fetches a URL from the host, bounded in time.
func curl(url string) (string, error) {
	out, err := exec.Command("curl", "-sS", "--max-time", "3", url).CombinedOutput()
	return string(out), err
}

// waitCurl polls until url answers with want or the deadline passes.
func waitCurl(t *testing.T, url, want string) {
	t.Helper()
	var out string
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, err = curl(url); err == nil && strings.Contains(out, want) {
			return
		}
	}
	t.Fatalf("curl %s: %v: %q", url, err, out)
}

// ncGet is a shell command that fetches / from host:port with busybox nc,
// bounded by -w.
func ncGet(host string, port int) string {
	return "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 " + host + " " + strconv.Itoa(port)
}

func inspectField(t *testing.T, d *harness.Daemon, format, name string) string {
	t.Helper()
	r := d.Docker("inspect", "-f", format, name)
	if r.ExitCode != 0 {
		t.Fatalf("inspect %s: %s", name, r)
	}
	return strings.TrimSpace(r.Stdout)
}

func TestNetworkDefaultBridge(t *testing.T) {
	d := netDaemon(t)
	r := d.Docker("run", "--rm", img, "sh", "-c", "ip -4 -o addr show eth0; ip route; cat /etc/hosts /etc/resolv.conf")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	gw := inspectGateway(t, d, "bridge")
	if !strings.Contains(r.Stdout, "default via "+gw) || !strings.Contains(r.Stdout, "eth0") {
		t.Fatalf("no address or default route via %s:\n%s", gw, r.Stdout)
	}
	if strings.Contains(r.Stdout, "127.0.0.11") {
		t.Errorf("default bridge must not use the embedded DNS:\n%s", r.Stdout)
	}
	// Docker's sysctls for a namespace of the container's own: low ports
	// and ping for every user, on a bridge as with --network none; a
	// --sysctl overrides them; the host's stay.
	const sysctls = "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range"
	for _, net := range []string{"bridge", "none"} {
		if r := d.Docker("run", "--rm", "--network", net, img, "sh", "-c", sysctls); r.Stdout != "0\n0\t2147483647\n" {
			t.Errorf("sysctls on %s: %s", net, r)
		}
	}
	if r := d.Docker("run", "--rm", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80", img, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"); strings.TrimSpace(r.Stdout) != "80" {
		t.Errorf("--sysctl over the default: %s", r)
	}
	host, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if r := d.Docker("run", "--rm", "--network", "host", img, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"); r.Stdout != string(host) {
		t.Errorf("host network: %q, the host's %q", r.Stdout, host)
	}
	// Two containers on the default bridge reach each other by address.
	if r := d.Docker(withHttpd("run", "-d", "--name", "web")...); r.ExitCode != 0 {
		t.Fatalf("run web: %s", r)
	}
	ip := inspectField(t, d, "{{.NetworkSettings.Networks.bridge.IPAddress}}", "web")
	if !strings.HasPrefix(ip, strings.TrimSuffix(gw, ".1")) {
		t.Fatalf("web address %q is not on the bridge %s", ip, gw)
	}
	r = d.Docker("run", "--rm", "--add-host", "host.docker.internal:host-gateway", img, "sh", "-c", "sleep 0.3; "+ncGet(ip, 80)+"; grep host.docker.internal /etc/hosts")
	if !strings.Contains(r.Stdout, "hello-berth") || !strings.Contains(r.Stdout, gw+"\thost.docker.internal") {
		t.Fatalf("container to container on the default bridge: %s", r)
	}
}

func inspectGateway(t *testing.T, d *harness.Daemon, network string) string {
	t.Helper()
	r := d.Docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", network)
	if r.ExitCode != 0 {
		t.Fatalf("network inspect: %s", r)
	}
	return strings.TrimSpace(r.Stdout)
}

func TestNetworkPublish(t *testing.T) {
	d := netDaemon(t)
	loPort, anyPort := freeHostPort(t), freeHostPort(t)
	if r := d.Docker(withHttpd("run", "-d", "--name", "lo", "-p", "127.0.0.1:"+strconv.Itoa(loPort)+":80")...); r.ExitCode != 0 {
		t.Fatalf("run -p 127.0.0.1: %s", r)
	}
	waitCurl(t, "http://127.0.0.1:"+strconv.Itoa(loPort)+"/", "hello-berth")

	if r := d.Docker(withHttpd("run", "-d", "--name", "any", "-p", strconv.Itoa(anyPort)+":80", "-p", "9999/udp")...); r.ExitCode != 0 {
		t.Fatalf("run -p: %s", r)
	}
	waitCurl(t, "http://127.0.0.1:"+strconv.Itoa(anyPort)+"/", "hello-berth")
	gw := inspectGateway(t, d, "bridge")
	waitCurl(t, "http://"+gw+":"+strconv.Itoa(anyPort)+"/", "hello-berth")

	// Another container reaches the 0.0.0.0 port through the host.
	r := d.Docker("run", "--rm", img, "sh", "-c", ncGet(gw, anyPort))
	if !strings.Contains(r.Stdout, "hello-berth") {
		t.Fatalf("published port from another container: %s", r)
	}

	r = d.Docker("port", "lo")
	if want := "80/tcp -> 127.0.0.1:" + strconv.Itoa(loPort) + "\n"; r.Stdout != want {
		t.Errorf("docker port lo = %q, want %q", r.Stdout, want)
	}
	r = d.Docker("port", "any", "80")
	if want := "0.0.0.0:" + strconv.Itoa(anyPort) + "\n"; r.Stdout != want {
		t.Errorf("docker port any 80 = %q, want %q", r.Stdout, want)
	}
	r = d.Docker("port", "any", "9999/udp")
	if !strings.HasPrefix(r.Stdout, "0.0.0.0:") || r.ExitCode != 0 {
		t.Errorf("ephemeral udp port: %s", r)
	}
	r = d.Docker("ps", "--filter", "name=lo", "--format", "{{.Ports}}")
	if want := "127.0.0.1:" + strconv.Itoa(loPort) + "->80/tcp"; strings.TrimSpace(r.Stdout) != want {
		t.Errorf("ps ports = %q, want %q", r.Stdout, want)
	}

	// -P publishes every exposed port on an ephemeral host port.
	if r := d.Docker(withHttpd("run", "-d", "--name", "pall", "--expose", "80", "-P")...); r.ExitCode != 0 {
		t.Fatalf("run -P: %s", r)
	}
	r = d.Docker("port", "pall", "80")
	hostPort := strings.TrimPrefix(strings.TrimSpace(r.Stdout), "0.0.0.0:")
	if n, err := strconv.Atoi(hostPort); err != nil || n < 32768 || n > 60999 {
		t.Fatalf("-P host port: %s", r)
	}
	waitCurl(t, "http://127.0.0.1:"+hostPort+"/", "hello-berth")

	// The same host port again is refused, and nothing is left behind.
	r = d.Docker(withHttpd("run", "-d", "--name", "clash", "-p", strconv.Itoa(anyPort)+":80")...)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "port is already allocated") {
		t.Fatalf("clash: %s", r)
	}

	// Stopping releases the port: the page is gone.
	d.Docker("rm", "-f", "lo")
	if _, err := curl("http://127.0.0.1:" + strconv.Itoa(loPort) + "/"); err == nil {
		t.Errorf("port %d still answers after rm", loPort)
	}
}

func TestNetworkUserDefined(t *testing.T) {
	d := netDaemon(t)
	if r := d.Docker("network", "create", "--subnet", "10.231.0.0/24", "--label", "team=a", "app"); r.ExitCode != 0 {
		t.Fatalf("network create: %s", r)
	}
	if r := d.Docker("network", "create", "--subnet", "10.231.0.0/25", "dup"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "overlaps") {
		t.Fatalf("overlapping subnet accepted: %s", r)
	}
	if r := d.Docker("network", "create", "--subnet", "10.232.0.0/24", "--gateway", "10.233.0.1", "badgw"); r.ExitCode == 0 {
		t.Fatalf("gateway outside the subnet accepted: %s", r)
	}
	if r := d.Docker("network", "create", "other"); r.ExitCode != 0 {
		t.Fatalf("network create other: %s", r)
	}
	if r := d.Docker(withHttpd("run", "-d", "--name", "web", "--network", "app", "--network-alias", "www", "--ip", "10.231.0.50")...); r.ExitCode != 0 {
		t.Fatalf("run web: %s", r)
	}
	if ip := inspectField(t, d, "{{.NetworkSettings.Networks.app.IPAddress}}", "web"); ip != "10.231.0.50" {
		t.Fatalf("--ip: got %q", ip)
	}
	if r := d.Docker("ps", "--filter", "network=app", "--format", "{{.Names}} {{.Networks}}"); r.Stdout != "web app\n" {
		t.Errorf("ps --filter network=app: %s", r)
	}
	// By name and by alias, through the embedded DNS.
	for _, name := range []string{"web", "www"} {
		r := d.Docker("run", "--rm", "--network", "app", img, "sh", "-c", "sleep 0.3; "+ncGet(name, 80))
		if !strings.Contains(r.Stdout, "hello-berth") {
			t.Fatalf("reach %s by name: %s", name, r)
		}
	}
	r := d.Docker("run", "--rm", "--network", "app", img, "cat", "/etc/resolv.conf")
	if !strings.Contains(r.Stdout, "nameserver 127.0.0.11") {
		t.Errorf("resolv.conf on a user-defined network: %s", r)
	}
	// A renamed container answers to its new name.
	if r := d.Docker("rename", "web", "web2"); r.ExitCode != 0 {
		t.Fatalf("rename: %s", r)
	}
	r = d.Docker("run", "--rm", "--network", "app", img, "sh", "-c", ncGet("web2", 80))
	if !strings.Contains(r.Stdout, "hello-berth") {
		t.Fatalf("reach a renamed container: %s", r)
	}
	if r := d.Docker("rename", "web2", "web"); r.ExitCode != 0 {
		t.Fatalf("rename back: %s", r)
	}
	// The same address twice is refused.
	r = d.Docker("run", "--name", "dupip", "--network", "app", "--ip", "10.231.0.50", img, "true")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Address already in use") {
		t.Errorf("duplicate --ip: %s", r)
	}
	// Isolation: from another network, neither the name nor the address.
	r = d.Docker("run", "--rm", "--network", "other", img, "sh", "-c", ncGet("10.231.0.50", 80))
	if strings.Contains(r.Stdout, "hello-berth") {
		t.Fatalf("other network reached web: %s", r)
	}
	// Connect joins the networks; disconnect splits them again.
	if r := d.Docker("run", "-d", "--name", "client", "--network", "other", img, "sleep", "300"); r.ExitCode != 0 {
		t.Fatalf("run client: %s", r)
	}
	if r := d.Docker("network", "connect", "app", "client"); r.ExitCode != 0 {
		t.Fatalf("network connect: %s", r)
	}
	r = d.Docker("exec", "client", "sh", "-c", ncGet("web", 80))
	if !strings.Contains(r.Stdout, "hello-berth") {
		t.Fatalf("after connect: %s", r)
	}
	if r := d.Docker("network", "disconnect", "app", "client"); r.ExitCode != 0 {
		t.Fatalf("network disconnect: %s", r)
	}
	r = d.Docker("exec", "client", "sh", "-c", ncGet("10.231.0.50", 80))
	if strings.Contains(r.Stdout, "hello-berth") {
		t.Fatalf("after disconnect: %s", r)
	}
	// In use: refused with docker's status.
	r = d.Docker("network", "rm", "app")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "has active endpoints") {
		t.Fatalf("rm of a network in use: %s", r)
	}
}

func TestNetworkInternal(t *testing.T) {
	d := netDaemon(t)
	if r := d.Docker("network", "create", "--internal", "--subnet", "10.234.0.0/24", "sealed"); r.ExitCode != 0 {
		t.Fatalf("create --internal: %s", r)
	}
	if r := d.Docker("network", "create", "--subnet", "10.235.0.0/24", "open"); r.ExitCode != 0 {
		t.Fatalf("create: %s", r)
	}
	if r := d.Docker(withHttpd("run", "-d", "--name", "web", "--network", "open")...); r.ExitCode != 0 {
		t.Fatalf("run web: %s", r)
	}
	r := d.Docker("run", "--rm", "--network", "sealed", img, "sh", "-c", "ip route; sleep 0.3; "+ncGet("10.235.0.1", 80)+"; "+ncGet("10.235.0.2", 80)+"; echo done")
	if strings.Contains(r.Stdout, "default") || strings.Contains(r.Stdout, "hello-berth") || !strings.Contains(r.Stdout, "done") {
		t.Fatalf("internal network got out: %s", r)
	}
	if v := inspectField(t, d, "{{.Internal}}", "sealed"); v != "" {
		// docker container inspect format does not apply; use network inspect.
		_ = v
	}
	r = d.Docker("network", "inspect", "-f", "{{.Internal}}", "sealed")
	if strings.TrimSpace(r.Stdout) != "true" {
		t.Errorf("inspect Internal: %s", r)
	}
}

func TestNetworkCommands(t *testing.T) {
	d := netDaemon(t)
	r := d.Docker("network", "create", "-d", "bridge", "--subnet", "10.236.0.0/24", "--label", "k=v", "-o", "com.docker.network.driver.mtu=1400", "n1")
	if r.ExitCode != 0 || len(strings.TrimSpace(r.Stdout)) != 64 {
		t.Fatalf("create: %s", r)
	}
	id := strings.TrimSpace(r.Stdout)
	r = d.Docker("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
	if want := "bridge bridge local\nhost host local\nn1 bridge local\nnone null local\n"; r.Stdout != want {
		t.Errorf("ls = %q, want %q", r.Stdout, want)
	}
	r = d.Docker("network", "ls")
	if lines := strings.Split(strings.TrimSpace(r.Stdout), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[0], "NETWORK ID") || !strings.Contains(lines[0], "DRIVER") {
		t.Errorf("ls table: %q", r.Stdout)
	}
	r = d.Docker("network", "ls", "-q", "--filter", "label=k=v")
	if strings.TrimSpace(r.Stdout) != id[:12] {
		t.Errorf("ls -q --filter label: %q", r.Stdout)
	}
	r = d.Docker("network", "inspect", "n1")
	var nets []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &nets); err != nil || len(nets) != 1 {
		t.Fatalf("inspect: %v: %s", err, r)
	}
	n := nets[0]
	if n["Id"] != id || n["Driver"] != "bridge" || n["Scope"] != "local" || n["Labels"].(map[string]any)["k"] != "v" {
		t.Errorf("inspect fields: %v", n)
	}
	cfg := n["IPAM"].(map[string]any)["Config"].([]any)[0].(map[string]any)
	if cfg["Subnet"] != "10.236.0.0/24" || cfg["Gateway"] != "10.236.0.1" {
		t.Errorf("IPAM config: %v", cfg)
	}
	if r := d.Docker("network", "create", "n1"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "network with name n1 already exists") {
		t.Errorf("duplicate name: %s", r)
	}
	if r := d.Docker("network", "inspect", "nope"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "network nope not found") {
		t.Errorf("unknown network: %s", r)
	}
	if r := d.Docker("network", "rm", "bridge"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "pre-defined network") {
		t.Errorf("rm bridge: %s", r)
	}
	if r := d.Docker("run", "--rm", "--network", "n1", img, "cat", "/sys/class/net/eth0/mtu"); strings.TrimSpace(r.Stdout) != "1400" {
		t.Errorf("MTU option: %s", r)
	}
	if r := d.Docker("network", "rm", "n1"); r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "n1" {
		t.Errorf("rm: %s", r)
	}
	if r := d.Docker("network", "create", "n2"); r.ExitCode != 0 {
		t.Fatalf("create n2: %s", r)
	}
	r = d.Docker("network", "prune", "-f")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Deleted Networks:\nn2\n") {
		t.Errorf("prune: %s", r)
	}
	r = d.Docker("run", "--rm", "--network", "host", img, "true")
	if r.ExitCode != 0 {
		t.Errorf("--network host: %s", r)
	}
	// container:<name> shares the other container's namespace.
	if r := d.Docker("run", "-d", "--name", "owner", img, "sleep", "300"); r.ExitCode != 0 {
		t.Fatalf("run owner: %s", r)
	}
	ownerIP := inspectField(t, d, "{{.NetworkSettings.Networks.bridge.IPAddress}}", "owner")
	r = d.Docker("run", "--rm", "--network", "container:owner", img, "ip", "-4", "-o", "addr", "show", "eth0")
	if !strings.Contains(r.Stdout, " "+ownerIP+"/") {
		t.Errorf("--network container:owner does not see %s: %s", ownerIP, r)
	}
	r = d.Docker("run", "--rm", "--network", "none", img, "sh", "-c", "ls /sys/class/net")
	if strings.TrimSpace(r.Stdout) != "lo" {
		t.Errorf("--network none: %s", r)
	}
}

func TestNetworkSurvivesDaemonRestart(t *testing.T) {
	d := netDaemon(t)
	port := freeHostPort(t)
	if r := d.Docker("network", "create", "keep"); r.ExitCode != 0 {
		t.Fatalf("create: %s", r)
	}
	if r := d.Docker(withHttpd("run", "-d", "--name", "web", "--network", "keep", "-p", "127.0.0.1:"+strconv.Itoa(port)+":80")...); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	waitCurl(t, url, "hello-berth")
	ip := inspectField(t, d, "{{.NetworkSettings.Networks.keep.IPAddress}}", "web")

	d.Kill()
	d2 := harness.New(t, harness.Options{Dir: d.Dir})
	if err := d2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupNetworks(d2) })
	waitCurl(t, url, "hello-berth")
	if got := inspectField(t, d2, "{{.NetworkSettings.Networks.keep.IPAddress}}", "web"); got != ip {
		t.Errorf("address after restart = %q, want %q", got, ip)
	}
	// A new container gets a new address, never the running one's, and
	// still finds web by name.
	r := d2.Docker("run", "--rm", "--network", "keep", img, "sh", "-c", "ip -4 -o addr show eth0; sleep 0.3; "+ncGet("web", 80))
	if strings.Contains(r.Stdout, " "+ip+"/") || !strings.Contains(r.Stdout, "hello-berth") {
		t.Fatalf("after restart: %s", r)
	}
}

func TestNetworkICCAndDNSForwarding(t *testing.T) {
	d := netDaemon(t)
	// A fake upstream resolver on loopback: the embedded DNS forwards to
	// it from the host's namespace. 192.0.2.77 is a documentation
	// address nobody contacts.
	pc, err := net.ListenPacket("udp4", "127.0.0.77:53")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.77:53: %v", err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if q := r.Question[0]; q.Qtype == mdns.TypeA && q.Name == "ext.test." {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 5}, A: net.IPv4(192, 0, 2, 77)})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	if r := d.Docker("network", "create", "--subnet", "10.237.0.0/24", "-o", "com.docker.network.bridge.enable_icc=false", "iccoff"); r.ExitCode != 0 {
		t.Fatalf("create: %s", r)
	}
	if r := d.Docker(withHttpd("run", "-d", "--name", "web", "--network", "iccoff")...); r.ExitCode != 0 {
		t.Fatalf("run web: %s", r)
	}
	r := d.Docker("run", "--rm", "--network", "iccoff", "--dns", "127.0.0.77", img, "sh", "-c",
		"nslookup ext.test; nslookup web; "+ncGet("web", 80)+"; echo done")
	if !strings.Contains(r.Stdout, "192.0.2.77") {
		t.Errorf("forwarded name not resolved: %s", r)
	}
	if !strings.Contains(r.Stdout, "10.237.0.2") {
		t.Errorf("container name not resolved: %s", r)
	}
	if strings.Contains(r.Stdout, "hello-berth") || !strings.Contains(r.Stdout, "done") {
		t.Errorf("ICC off: containers talked: %s", r)
	}
}

func TestNetworkDockerPy(t *testing.T) {
	d := netDaemon(t)
	r := d.Python(`
net = client.networks.create("pynet", driver="bridge", labels={"a": "b"},
    ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.238.0.0/24", gateway="10.238.0.1")]))
c = client.containers.run("` + img + `", ["sleep", "60"], detach=True, name="pyc", network="pynet")
net.reload()
c.reload()
print(sorted(n.name for n in client.networks.list()))
print(list(net.containers)[0].name, net.attrs["IPAM"]["Config"][0]["Subnet"], net.attrs["Labels"])
print(c.attrs["NetworkSettings"]["Networks"]["pynet"]["IPAddress"])
net.disconnect(c)
net.reload()
print(len(net.containers))
c.remove(force=True)
net.remove()
print(sorted(n.name for n in client.networks.list()))
`)
	want := "['bridge', 'host', 'none', 'pynet']\npyc 10.238.0.0/24 {'a': 'b'}\n10.238.0.2\n0\n['bridge', 'host', 'none']\n"
	if r.ExitCode != 0 || r.Stdout != want {
		t.Fatalf("docker-py: %s\nwant stdout:\n%s", r, want)
	}
}

func TestInspectLegacyIPAddress(t *testing.T) {
	d := startWithBusybox(t)
	if r := d.Docker("run", "-d", "--name", "addr", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	ip := strings.TrimSpace(d.Docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "addr").Stdout)
	want := strings.TrimSpace(d.Docker("inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", "addr").Stdout)
	if ip == "" || ip != want {
		t.Fatalf("{{.NetworkSettings.IPAddress}} = %q, want %q", ip, want)
	}
}

// TestNetworkConcurrentRuns: containers created, started and removed in
// parallel on the default bridge. A container's record and its network's
// are written in one commit while other starts attach their networks: the
// two must not wait for each other (they once deadlocked).
func TestNetworkConcurrentRuns(t *testing.T) {
	d := netDaemon(t)
	const n, parallel = 16, 4
	done := make(chan struct{})
	var failed atomic.Int32
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		sem := make(chan struct{}, parallel)
		for i := 0; i < n; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				name := fmt.Sprintf("cc-%d", i)
				if r := d.Docker("run", "-d", "--name", name, img, "sleep", "1000"); r.ExitCode != 0 {
					t.Errorf("run %s: %s", name, r)
					failed.Add(1)
				}
				if i%2 == 0 {
					if r := d.Docker("run", "--rm", img, "true"); r.ExitCode != 0 {
						t.Errorf("run --rm: %s", r)
						failed.Add(1)
					}
				}
				if r := d.Docker("rm", "-f", name); r.ExitCode != 0 {
					t.Errorf("rm %s: %s", name, r)
					failed.Add(1)
				}
			}(i)
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		// A deadlocked daemon would hang the cleanup's commands too.
		_ = d.Signal(syscall.SIGQUIT) // its goroutines, into its log
		time.Sleep(time.Second)
		t.Logf("daemon log:\n%s", d.Log())
		d.Kill()
		t.Fatal("concurrent runs did not finish in 90 s (a deadlock?)")
	}
	if failed.Load() == 0 {
		if r := d.Docker("ps", "-aq"); strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("containers left: %s", r)
		}
	}
}
