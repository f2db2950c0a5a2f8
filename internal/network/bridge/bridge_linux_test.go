package bridge

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates bridges, veths and network namespaces")
	}
}

func TestBridgeVethNetns(t *testing.T) {
	requireRoot(t)
	br := fmt.Sprintf("brt%d", os.Getpid()%100000)
	veth := fmt.Sprintf("vt%d", os.Getpid()%100000)
	t.Cleanup(func() { _ = DeleteLink(veth); _ = Delete(br) })
	nsPath := filepath.Join(t.TempDir(), "ns")
	t.Cleanup(func() { _ = DeleteNetns(nsPath) })

	gw := netip.MustParsePrefix("10.98.0.1/24")
	if err := Ensure(Bridge{Name: br, Gateway: gw, MTU: 1400}); err != nil {
		t.Fatal(err)
	}
	// Idempotent, and it replaces a stale address.
	if err := Ensure(Bridge{Name: br, Gateway: netip.MustParsePrefix("10.98.1.1/24"), MTU: 1400}); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(Bridge{Name: br, Gateway: gw, MTU: 1400}); err != nil {
		t.Fatal(err)
	}
	link, _ := netlink.LinkByName(br)
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || prefixOf(addrs[0].IPNet) != gw {
		t.Fatalf("bridge addresses = %v, want only %s", addrs, gw)
	}

	const sysctl = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
	hostValue, _ := os.ReadFile(sysctl)
	if err := CreateNetns(nsPath, map[string]string{"net.ipv4.ip_unprivileged_port_start": "7"}); err != nil {
		t.Fatal(err)
	}
	if !NetnsAlive(nsPath) {
		t.Fatal("namespace file is not a live namespace")
	}
	if err := CreateNetns(nsPath, nil); err == nil {
		t.Error("CreateNetns over an existing file succeeded")
	}
	if got := readInNetns(t, nsPath, sysctl); got != "7" {
		t.Errorf("sysctl in the namespace = %q, want 7", got)
	}
	if after, _ := os.ReadFile(sysctl); string(after) != string(hostValue) {
		t.Errorf("the host's sysctl changed: %q -> %q", hostValue, after)
	}
	ip := netip.MustParseAddr("10.98.0.2")
	err := Attach(Endpoint{Bridge: br, HostVeth: veth, Netns: nsPath, IfName: "eth0",
		Addr: netip.PrefixFrom(ip, 24), MAC: MACFor(ip), Gateway: gw.Addr(), MTU: 1400, Isolated: true})
	if err != nil {
		t.Fatal(err)
	}
	if LinkMaster(veth) != br {
		t.Errorf("veth master = %q, want %s", LinkMaster(veth), br)
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if eth0.Attrs().HardwareAddr.String() != "02:42:0a:62:00:02" || eth0.Attrs().MTU != 1400 {
		t.Errorf("eth0 mac %s mtu %d", eth0.Attrs().HardwareAddr, eth0.Attrs().MTU)
	}
	routes, _ := h.RouteList(eth0, netlink.FAMILY_V4)
	hasDefault := false
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			hasDefault = r.Gw.String() == "10.98.0.1"
		}
	}
	if !hasDefault {
		t.Errorf("no default route via the gateway: %v", routes)
	}
	if err := DeleteInNetns(nsPath, "eth0"); err != nil {
		t.Fatal(err)
	}
	if Exists(veth) {
		t.Error("host veth survived deleting its peer")
	}
	if err := DeleteNetns(nsPath); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(nsPath); !os.IsNotExist(err) {
		t.Errorf("namespace file remains: %v", err)
	}
	if err := DeleteNetns(nsPath); err != nil {
		t.Errorf("DeleteNetns of a missing file: %v", err)
	}
	if err := Delete(br); err != nil || Exists(br) {
		t.Errorf("Delete: %v", err)
	}
}

func TestMACFor(t *testing.T) {
	tests := map[string]string{"172.17.0.2": "02:42:ac:11:00:02", "10.0.0.255": "02:42:0a:00:00:ff"}
	for ip, want := range tests {
		if got := MACFor(netip.MustParseAddr(ip)).String(); got != want {
			t.Errorf("MACFor(%s) = %s, want %s", ip, got, want)
		}
	}
}

// readInNetns reads a file (under /proc/sys/net: the reader's namespace's)
// from a thread inside the namespace at path.
func readInNetns(t *testing.T, path, file string) string {
	t.Helper()
	var b []byte
	if err := InNetns(path, func() (err error) {
		b, err = os.ReadFile(file)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
