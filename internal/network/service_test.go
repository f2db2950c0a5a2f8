package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/network/bridge"
	"github.com/berth-engine/berth/internal/network/portmap"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates bridges, namespaces and nftables rules")
	}
}

// testService opens a service with its own default bridge, nft table and
// database; cleanup removes the containers it registered, then the
// bridges and the table.
func testService(t *testing.T, dir string) *Service {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{
		ExecRoot: dir, DB: db, Bip: "10.97.0.1/24", Firewall: true,
		DefaultBridgeIf: fmt.Sprintf("brs%d", os.Getpid()%100000),
		Table:           fmt.Sprintf("berth-test-%d", os.Getpid()),
		ResolvConf:      filepath.Join(dir, "resolv.conf"),
		Log:             slog.New(slog.DiscardHandler),
	})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	open[dir] = s
	return s
}

// open is each test directory's service while it is open, so cleanup
// after a failure can close it before reopening.
var open = map[string]*Service{}

func closeService(s *Service) {
	s.Close()
	s.cfg.DB.Close()
	for d, o := range open {
		if o == s {
			delete(open, d)
		}
	}
}

func cleanupAll(t *testing.T, dir string) {
	t.Cleanup(func() {
		if s := open[dir]; s != nil {
			closeService(s)
		}
		s := testService(t, dir)
		for id := range s.sandboxes {
			s.Unregister(context.Background(), id)
		}
		for _, n := range s.networks {
			if !n.Predefined {
				_ = s.Delete(context.Background(), n.ID)
			}
		}
		closeService(s)
		_ = portmap.Delete(s.table)
	})
}

// freshService is a root test's service in a new directory, cleaned up
// after the test (see cleanupAll); the directory lets a test reopen it.
func freshService(t *testing.T) (*Service, string) {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	cleanupAll(t, dir)
	return testService(t, dir), dir
}

func register(t *testing.T, s *Service, id, name, mode string, nc *network.NetworkingConfig) {
	t.Helper()
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(mode)}
	if err := s.ValidateContainer(hc, nc); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(context.Background(), ContainerRequest{ID: id, Name: name, Hostname: id[:12], HostConfig: hc, Networking: nc}); err != nil {
		t.Fatal(err)
	}
}

func cid(n int) string { return fmt.Sprintf("%064x", n) }

func TestCreateErrors(t *testing.T) {
	s, _ := freshService(t)
	defer closeService(s)
	ctx := context.Background()
	pfx := netip.MustParsePrefix
	if _, err := s.Create(ctx, network.CreateRequest{Name: "a", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: pfx("10.96.0.0/24")}}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		req   network.CreateRequest
		class error
	}{
		{"duplicate name", network.CreateRequest{Name: "a"}, errdefs.ErrConflict},
		{"overlap", network.CreateRequest{Name: "b", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: pfx("10.96.0.128/25")}}}}, errdefs.ErrInvalidArgument},
		{"overlaps the default bridge", network.CreateRequest{Name: "b", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: pfx("10.97.0.0/16")}}}}, errdefs.ErrInvalidArgument},
		{"gateway outside", network.CreateRequest{Name: "b", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: pfx("10.95.0.0/24"), Gateway: netip.MustParseAddr("10.94.0.1")}}}}, errdefs.ErrInvalidArgument},
		{"unknown driver", network.CreateRequest{Name: "b", Driver: "overlay"}, errdefs.ErrNotFound},
		{"second host", network.CreateRequest{Name: "b", Driver: "host"}, errdefs.ErrForbidden},
		{"bad name", network.CreateRequest{Name: "-x"}, errdefs.ErrInvalidArgument},
		{"bad mtu", network.CreateRequest{Name: "b", Options: map[string]string{optMTU: "nope"}}, errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Create(ctx, tt.req)
			if !errors.Is(err, tt.class) {
				t.Fatalf("err = %v, want class %v", err, tt.class)
			}
			if s.byNameLocked("b") != nil {
				t.Fatal("a failed create left a network behind")
			}
		})
	}
	if err := s.Delete(ctx, "bridge"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("delete bridge: %v", err)
	}
	if err := s.Delete(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("delete unknown: %v", err)
	}
}

func TestAttachDetachRestore(t *testing.T) {
	s, dir := freshService(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, network.CreateRequest{Name: "app", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.93.0.0/24")}}}}); err != nil {
		t.Fatal(err)
	}
	register(t, s, cid(1), "one", "", nil)
	register(t, s, cid(2), "two", "app", &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		"app": {Aliases: []string{"web"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.93.0.9")}},
	}})
	ns1, err := s.Attach(ctx, cid(1))
	if err != nil {
		t.Fatal(err)
	}
	if !bridge.NetnsAlive(ns1) {
		t.Fatal("no namespace")
	}
	ns2, err := s.Attach(ctx, cid(2))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.EtcInfo(cid(1)); len(got.Addrs) != 1 || got.Addrs[0].String() != "10.97.0.2" || got.EmbeddedDNS || got.HostGateway.String() != "10.97.0.1" {
		t.Errorf("EtcInfo(one) = %+v", got)
	}
	if got := s.EtcInfo(cid(2)); len(got.Addrs) != 1 || got.Addrs[0].String() != "10.93.0.9" || !got.EmbeddedDNS {
		t.Errorf("EtcInfo(two) = %+v", got)
	}
	view := &resolverView{s: s, id: cid(2)}
	if a, ok := view.LookupA("web"); !ok || len(a) != 1 || a[0].String() != "10.93.0.9" {
		t.Errorf("alias lookup = %v %v", a, ok)
	}
	register(t, s, cid(5), "five", "app", &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		"app": {Links: []string{"two:db"}},
	}})
	if _, err := s.Attach(ctx, cid(5)); err != nil {
		t.Fatal(err)
	}
	if a, ok := (&resolverView{s: s, id: cid(5)}).LookupA("db"); !ok || len(a) != 1 || a[0].String() != "10.93.0.9" {
		t.Errorf("link alias lookup = %v %v", a, ok)
	}
	if _, ok := view.LookupA("db"); ok {
		t.Error("a link alias resolved for a container that did not link")
	}
	s.Unregister(ctx, cid(5))
	if _, ok := (&resolverView{s: s, id: cid(1)}).LookupA("two"); ok {
		t.Error("a default-bridge container resolved a user-defined network's name")
	}
	if err := s.Delete(ctx, "app"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("delete in use: %v", err)
	}
	settings := s.ContainerSettings(cid(2))
	if es := settings.Networks["app"]; es == nil || es.IPAddress.String() != "10.93.0.9" || es.IPPrefixLen != 24 || settings.SandboxKey != ns2 {
		t.Errorf("settings = %+v", settings)
	}

	// A daemon restart: everything is found again, nothing double-booked.
	closeService(s)
	s = testService(t, dir)
	if sb := s.sandboxes[cid(1)]; sb == nil || sb.Netns != ns1 || len(sb.Endpoints) != 1 {
		t.Fatalf("sandbox not restored: %+v", sb)
	}
	register(t, s, cid(3), "three", "bridge", nil)
	if _, err := s.Attach(ctx, cid(3)); err != nil {
		t.Fatal(err)
	}
	if got := s.EtcInfo(cid(3)).Addrs; len(got) != 1 || got[0].String() != "10.97.0.3" {
		t.Errorf("after restart got %v, want 10.97.0.3", got)
	}
	// Stop and start: the address moves on (next-fit) and is released.
	s.Detach(ctx, cid(1))
	if bridge.NetnsAlive(ns1) {
		t.Error("namespace survived Detach")
	}
	if _, err := s.Attach(ctx, cid(1)); err != nil {
		t.Fatal(err)
	}
	if got := s.EtcInfo(cid(1)).Addrs; len(got) != 1 || got[0].String() != "10.97.0.4" {
		t.Errorf("re-attach got %v, want 10.97.0.4", got)
	}
	// A restart with a static address waits for the old host veth to go
	// (it is deleted in the background) and gets the address back.
	var oldVeth string
	for _, ep := range s.sandboxes[cid(2)].Endpoints {
		oldVeth = ep.HostVeth
	}
	s.Detach(ctx, cid(2))
	if _, err := s.Attach(ctx, cid(2)); err != nil {
		t.Fatal(err)
	}
	if got := s.EtcInfo(cid(2)).Addrs; len(got) != 1 || got[0].String() != "10.93.0.9" {
		t.Errorf("static restart got %v, want 10.93.0.9", got)
	}
	if oldVeth == "" || bridge.Exists(oldVeth) {
		t.Errorf("old host veth %q still there after the restart", oldVeth)
	}
	// A static address in use is refused, and the failed start leaves
	// nothing behind.
	register(t, s, cid(4), "four", "app", &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		"app": {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.93.0.9")}},
	}})
	if _, err := s.Attach(ctx, cid(4)); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("duplicate static address: %v", err)
	}
	if sb := s.sandboxes[cid(4)]; sb.Netns != "" || len(sb.Endpoints) != 0 {
		t.Errorf("failed attach left %+v", sb)
	}
	for _, id := range []string{cid(1), cid(2), cid(3), cid(4)} {
		s.Unregister(ctx, id)
	}
	if err := s.Delete(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	br := s.cfg.DefaultBridgeIf
	var veths []string
	for _, d := range s.drains {
		veths = append(veths, d.veth)
	}
	closeService(s)
	for _, v := range veths {
		if bridge.Exists(v) {
			t.Errorf("host veth %s outlived Close", v)
		}
	}
	if bridge.Exists(br) || portmap.Exists(s.table) {
		t.Error("an idle daemon's Close left its bridge or table")
	}
}

func TestPublishConflicts(t *testing.T) {
	s, _ := freshService(t)
	defer closeService(s)
	ctx := context.Background()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := l.Addr().(*net.TCPAddr).Port
	free := freeTCPPort(t)
	p80 := network.MustParsePort("80/tcp")
	run := func(n int, hostIP, hostPort string) error {
		hc := &container.HostConfig{PortBindings: network.PortMap{p80: {{HostIP: netip.MustParseAddr(hostIP), HostPort: hostPort}}}}
		if err := s.ValidateContainer(hc, nil); err != nil {
			return err
		}
		if err := s.Register(ctx, ContainerRequest{ID: cid(n), Name: fmt.Sprint("c", n), HostConfig: hc}); err != nil {
			return err
		}
		_, err := s.Attach(ctx, cid(n))
		return err
	}
	tests := []struct {
		name             string
		hostIP, hostPort string
		wantErr          string
	}{
		{"held by a host process", "127.0.0.1", fmt.Sprint(held), "address already in use"},
		{"free", "127.0.0.1", fmt.Sprint(free), ""},
		{"same port again", "127.0.0.1", fmt.Sprint(free), "port is already allocated"},
		{"0.0.0.0 overlaps", "0.0.0.0", fmt.Sprint(free), "port is already allocated"},
		{"ephemeral", "0.0.0.0", "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(10+i, tt.hostIP, tt.hostPort)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want conflict %q", err, tt.wantErr)
			}
			if sb := s.sandboxes[cid(10+i)]; sb.Netns != "" || len(sb.Ports) != 0 {
				t.Errorf("failed start left %+v", sb)
			}
		})
	}
	if ports := s.ContainerPorts(cid(14)); len(ports) != 1 || ports[0].PublicPort < ephemeralFirst || ports[0].PublicPort > ephemeralLast {
		t.Errorf("ephemeral mapping = %+v", ports)
	}
	if n, err := portmap.RuleCount(s.table, "ports"); err != nil || n != 2 {
		t.Errorf("port rules = %d, %v; want 2", n, err)
	}
	for i := 10; i < 15; i++ {
		s.Unregister(ctx, cid(i))
	}
	if n, _ := portmap.RuleCount(s.table, "ports"); n != 0 {
		t.Errorf("port rules after unregister = %d", n)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// An unchanged rule set is not rebuilt, unless the table went away behind
// the service's back: the next start puts it back.
func TestFirewallRestoredAfterFlush(t *testing.T) {
	s, _ := freshService(t)
	ctx := context.Background()
	register(t, s, cid(1), "one", "", nil)
	register(t, s, cid(2), "two", "", nil)
	if _, err := s.Attach(ctx, cid(1)); err != nil {
		t.Fatal(err)
	}
	if !portmap.Exists(s.table) {
		t.Fatal("no table after the first start")
	}
	if err := portmap.Delete(s.table); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attach(ctx, cid(2)); err != nil {
		t.Fatal(err)
	}
	if !portmap.Exists(s.table) {
		t.Error("a start with an unchanged rule set did not restore a deleted table")
	}
	for _, id := range []string{cid(1), cid(2)} {
		s.Unregister(ctx, id)
	}
	closeService(s)
}
