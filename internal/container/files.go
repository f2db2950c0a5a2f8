package container

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"

	netsvc "github.com/berth-engine/berth/internal/network"
)

// hostResolvConf is read for the container's resolv.conf.
var hostResolvConf = "/etc/resolv.conf"

// writeEtcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its directory; start bind-mounts them.
func (s *Service) writeEtcFiles(c *Container) (hostname, hosts, resolv string, err error) {
	dir := s.containerDir(c.ID)
	hostname = filepath.Join(dir, "hostname")
	hosts = filepath.Join(dir, "hosts")
	resolv = filepath.Join(dir, "resolv.conf")

	name := c.Config.Hostname
	if err := writeFileAtomic(hostname, []byte(name+"\n")); err != nil {
		return "", "", "", err
	}
	var info netsvc.EtcInfo
	if s.cfg.Networks != nil {
		info = s.cfg.Networks.EtcInfo(c.ID)
	}
	if err := writeFileAtomic(hosts, buildHosts(c, info)); err != nil {
		return "", "", "", err
	}
	data, err := buildResolvConf(c.HostConfig, info.EmbeddedDNS)
	if err != nil {
		return "", "", "", err
	}
	if err := writeFileAtomic(resolv, data); err != nil {
		return "", "", "", err
	}
	return hostname, hosts, resolv, nil
}

// buildHosts writes docker's /etc/hosts: loopback names, --link entries,
// --add-host entries (host-gateway is the default bridge's gateway), then
// the container's own addresses with its hostname.
func buildHosts(c *Container, info netsvc.EtcInfo) []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	for _, l := range info.Links {
		fmt.Fprintf(&b, "%s\t%s\n", l.IP, strings.Join(l.Names, " "))
	}
	for _, h := range c.HostConfig.ExtraHosts {
		// docker's --add-host is host:ip (or host=ip since 25).
		name, ip, ok := strings.Cut(h, "=")
		if !ok {
			i := strings.Index(h, ":")
			if i < 0 {
				continue
			}
			name, ip = h[:i], h[i+1:]
		}
		ip = strings.Trim(ip, "[]")
		if ip == "host-gateway" {
			if !info.HostGateway.IsValid() {
				continue
			}
			ip = info.HostGateway.String()
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	if !c.HostConfig.NetworkMode.IsHost() {
		for _, a := range info.Addrs {
			fmt.Fprintf(&b, "%s\t%s\n", a, c.Config.Hostname)
		}
	}
	return b.Bytes()
}

// buildResolvConf derives the container's resolv.conf from the host's, like
// dockerd: loopback nameservers cannot work from the container's namespace
// and are dropped; --dns, --dns-search and --dns-option replace their lines.
// On user-defined networks the only nameserver is the embedded DNS
// (127.0.0.11), which forwards to the servers it would have listed.
func buildResolvConf(hc *container.HostConfig, embedded bool) ([]byte, error) {
	var servers, search, options []string
	if data, err := os.ReadFile(hostResolvConf); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 || strings.HasPrefix(f[0], "#") {
				continue
			}
			switch f[0] {
			case "nameserver":
				if a, err := netip.ParseAddr(f[1]); err == nil && !a.IsLoopback() {
					servers = append(servers, f[1])
				}
			case "search", "domain":
				search = f[1:]
			case "options":
				options = append(options, f[1:]...)
			}
		}
	}
	if len(hc.DNS) > 0 {
		servers = servers[:0]
		for _, a := range hc.DNS {
			servers = append(servers, a.String())
		}
	}
	if len(hc.DNSSearch) > 0 {
		search = hc.DNSSearch
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	if len(hc.DNSOptions) > 0 {
		options = hc.DNSOptions
	}
	if hc.NetworkMode.IsHost() && len(hc.DNS) == 0 {
		// Host networking shares the host's resolvers, loopback included.
		return os.ReadFile(hostResolvConf)
	}
	var b bytes.Buffer
	footer := ""
	if embedded {
		ext := servers
		if len(hc.DNS) == 0 {
			ext = netsvc.ReadResolvConf(hostResolvConf).Nameservers
		}
		// ndots:0 lets single-label container names go to the embedded
		// server as they are, before any search domain.
		if !slices.ContainsFunc(options, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
			options = append([]string{"ndots:0"}, options...)
		}
		servers = []string{netsvc.EmbeddedDNSAddress}
		footer = fmt.Sprintf("\n# ExtServers: [%s]\n", strings.Join(ext, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	b.WriteString(footer)
	return b.Bytes(), nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
