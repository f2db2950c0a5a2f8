package portmap

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: programs nftables")
	}
}

func TestApply(t *testing.T) {
	requireRoot(t)
	table := fmt.Sprintf("berth-test-%d", os.Getpid())
	t.Cleanup(func() { _ = Delete(table) })
	a := netip.MustParseAddr
	nets := []Network{
		{Bridge: "brt-a", Subnet: netip.MustParsePrefix("10.99.1.0/24"), Masquerade: true},
		{Bridge: "brt-b", Subnet: netip.MustParsePrefix("10.99.2.0/24"), Internal: true},
	}
	tests := []struct {
		name         string
		rs           Ruleset
		ports, fwd   int
		post, inputs int
	}{
		{name: "empty", rs: Ruleset{}, ports: 0, fwd: 1},
		{name: "networks", rs: Ruleset{Networks: nets}, fwd: 1 + 2 + 2, post: 2 + 1 + 2, inputs: 1},
		{name: "mappings", rs: Ruleset{Networks: nets[:1], Mappings: []Mapping{
			{Proto: "tcp", HostIP: a("127.0.0.1"), HostPort: 8080, ContainerIP: a("10.99.1.2"), ContainerPort: 80},
			{Proto: "udp", HostPort: 5353, ContainerIP: a("10.99.1.2"), ContainerPort: 53},
		}}, ports: 2, fwd: 1, post: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Apply(table, tt.rs); err != nil {
				t.Fatal(err)
			}
			for chain, want := range map[string]int{"ports": tt.ports, "forward": tt.fwd, "postrouting": tt.post, "input": tt.inputs, "prerouting": 1, "output": 1} {
				got, err := RuleCount(table, chain)
				if err != nil {
					t.Fatalf("%s: %v", chain, err)
				}
				if got != want {
					t.Errorf("chain %s has %d rules, want %d", chain, got, want)
				}
			}
		})
	}
	if err := Delete(table); err != nil {
		t.Fatal(err)
	}
	if Exists(table) {
		t.Error("table still exists after Delete")
	}
	if err := Delete(table); err != nil {
		t.Errorf("Delete of a missing table: %v", err)
	}
	if err := Apply(table, Ruleset{Mappings: []Mapping{{Proto: "icmp", HostPort: 1, ContainerIP: a("10.0.0.2"), ContainerPort: 1}}}); err == nil {
		t.Error("unknown protocol accepted")
	}
}

func TestRulesetSortEqual(t *testing.T) {
	ip := netip.MustParseAddr
	a := Ruleset{
		Networks: []Network{{Bridge: "b0", Subnet: netip.MustParsePrefix("172.30.0.0/16"), Masquerade: true}},
		Mappings: []Mapping{
			{Proto: "udp", HostPort: 53, ContainerIP: ip("172.30.0.2"), ContainerPort: 53},
			{Proto: "tcp", HostIP: ip("127.0.0.1"), HostPort: 8080, ContainerIP: ip("172.30.0.3"), ContainerPort: 80},
			{Proto: "tcp", HostPort: 8080, ContainerIP: ip("172.30.0.2"), ContainerPort: 80},
		},
	}
	b := Ruleset{Networks: slices.Clone(a.Networks), Mappings: []Mapping{a.Mappings[2], a.Mappings[0], a.Mappings[1]}}
	if a.Equal(b) {
		t.Fatal("unsorted rule sets in different orders compare equal")
	}
	a.Sort()
	b.Sort()
	if !a.Equal(b) {
		t.Fatalf("same rules, sorted, differ:\n%+v\n%+v", a, b)
	}
	if a.Mappings[0].Proto != "tcp" || a.Mappings[2].Proto != "udp" || a.Mappings[0].HostIP.IsValid() {
		t.Fatalf("unexpected order: %+v", a.Mappings)
	}
	c := Ruleset{Networks: slices.Clone(a.Networks), Mappings: slices.Clone(a.Mappings)}
	c.Mappings[1].ContainerPort = 81
	if a.Equal(c) {
		t.Fatal("a changed container port compares equal")
	}
	d := Ruleset{Networks: []Network{{Bridge: "b0", Subnet: a.Networks[0].Subnet, Masquerade: true, Internal: true}}, Mappings: a.Mappings}
	if a.Equal(d) {
		t.Fatal("a network turned internal compares equal")
	}
}
