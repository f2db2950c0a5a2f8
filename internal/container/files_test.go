package container

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	netsvc "github.com/berth-engine/berth/internal/network"
)

func TestBuildResolvConfEmbedded(t *testing.T) {
	old := hostResolvConf
	t.Cleanup(func() { hostResolvConf = old })
	hostResolvConf = t.TempDir() + "/resolv.conf"
	if err := writeFileAtomic(hostResolvConf, []byte("nameserver 127.0.0.53\nsearch example.test\n")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hc   container.HostConfig
		want string
	}{
		{name: "host servers forwarded", want: "nameserver 127.0.0.11\nsearch example.test\noptions ndots:0\n\n# ExtServers: [127.0.0.53]\n"},
		{name: "--dns forwarded", hc: container.HostConfig{DNS: []netip.Addr{netip.MustParseAddr("10.1.1.1")}}, want: "nameserver 127.0.0.11\nsearch example.test\noptions ndots:0\n\n# ExtServers: [10.1.1.1]\n"},
		{name: "user ndots kept", hc: container.HostConfig{DNSOptions: []string{"ndots:3"}}, want: "nameserver 127.0.0.11\nsearch example.test\noptions ndots:3\n\n# ExtServers: [127.0.0.53]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildResolvConf(&tt.hc, true)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestBuildHosts(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name  string
		mode  container.NetworkMode
		extra []string
		info  netsvc.EtcInfo
		want  []string // lines that must be present
		not   []string
	}{
		{name: "own address", mode: "bridge", info: netsvc.EtcInfo{Addrs: []netip.Addr{a("172.17.0.2")}}, want: []string{"172.17.0.2\tabc"}},
		{name: "host-gateway", mode: "bridge", extra: []string{"host.docker.internal:host-gateway"}, info: netsvc.EtcInfo{HostGateway: a("172.17.0.1")}, want: []string{"172.17.0.1\thost.docker.internal"}},
		{name: "host-gateway unknown", mode: "bridge", extra: []string{"h:host-gateway"}, not: []string{"\th\n"}},
		{name: "add-host", mode: "bridge", extra: []string{"db=10.0.0.5"}, want: []string{"10.0.0.5\tdb"}},
		{name: "link", mode: "bridge", info: netsvc.EtcInfo{Links: []netsvc.HostEntry{{IP: a("172.17.0.3"), Names: []string{"alias", "other"}}}}, want: []string{"172.17.0.3\talias other"}},
		{name: "host mode has no own line", mode: "host", info: netsvc.EtcInfo{Addrs: []netip.Addr{a("172.17.0.2")}}, not: []string{"172.17.0.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Container{Config: &container.Config{Hostname: "abc"}, HostConfig: &container.HostConfig{NetworkMode: tt.mode, ExtraHosts: tt.extra}}
			got := string(buildHosts(c, tt.info))
			for _, w := range tt.want {
				if !strings.Contains(got, w+"\n") {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("unexpected %q in\n%s", n, got)
				}
			}
		})
	}
}
