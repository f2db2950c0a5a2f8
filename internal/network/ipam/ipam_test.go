package ipam

import (
	"errors"
	"net/netip"
	"testing"
)

func TestNewPool(t *testing.T) {
	tests := []struct {
		name, subnet, ipRange, gateway string
		wantGateway                    string
		wantErr                        bool
	}{
		{name: "default gateway", subnet: "172.18.0.0/16", wantGateway: "172.18.0.1"},
		{name: "explicit gateway", subnet: "10.1.0.0/24", gateway: "10.1.0.254", wantGateway: "10.1.0.254"},
		{name: "unmasked subnet", subnet: "10.1.0.7/24", wantGateway: "10.1.0.1"},
		{name: "gateway outside", subnet: "10.1.0.0/24", gateway: "10.2.0.1", wantErr: true},
		{name: "gateway is broadcast", subnet: "10.1.0.0/24", gateway: "10.1.0.255", wantErr: true},
		{name: "range outside", subnet: "10.1.0.0/24", ipRange: "10.1.1.0/25", wantErr: true},
		{name: "range wider", subnet: "10.1.0.0/24", ipRange: "10.1.0.0/23", wantErr: true},
		{name: "too small", subnet: "10.1.0.0/31", wantErr: true},
		{name: "ipv6", subnet: "fd00::/64", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r netip.Prefix
			var g netip.Addr
			if tt.ipRange != "" {
				r = netip.MustParsePrefix(tt.ipRange)
			}
			if tt.gateway != "" {
				g = netip.MustParseAddr(tt.gateway)
			}
			p, err := NewPool(netip.MustParsePrefix(tt.subnet), r, g)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && p.Gateway.String() != tt.wantGateway {
				t.Errorf("gateway = %s, want %s", p.Gateway, tt.wantGateway)
			}
		})
	}
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		name, subnet, ipRange string
		n                     int
		want                  []string // the first allocations
		exhaustAfter          int      // 0: not checked
	}{
		{name: "sequential", subnet: "172.17.0.0/16", n: 3, want: []string{"172.17.0.2", "172.17.0.3", "172.17.0.4"}},
		{name: "range", subnet: "10.0.0.0/24", ipRange: "10.0.0.128/30", n: 4, want: []string{"10.0.0.128", "10.0.0.129", "10.0.0.130", "10.0.0.131"}, exhaustAfter: 4},
		{name: "small subnet", subnet: "10.0.0.0/30", n: 1, want: []string{"10.0.0.2"}, exhaustAfter: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r netip.Prefix
			if tt.ipRange != "" {
				r = netip.MustParsePrefix(tt.ipRange)
			}
			p, err := NewPool(netip.MustParsePrefix(tt.subnet), r, netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[netip.Addr]bool{}
			for i := 0; i < tt.n; i++ {
				a, err := p.Allocate("c")
				if err != nil {
					t.Fatal(err)
				}
				if seen[a] {
					t.Fatalf("%s handed out twice", a)
				}
				seen[a] = true
				if i < len(tt.want) && a.String() != tt.want[i] {
					t.Errorf("allocation %d = %s, want %s", i, a, tt.want[i])
				}
			}
			if tt.exhaustAfter > 0 {
				if _, err := p.Allocate("c"); !errors.Is(err, ErrExhausted) {
					t.Errorf("after %d: err = %v, want ErrExhausted", tt.exhaustAfter, err)
				}
			}
		})
	}
}

func TestNextFitAndReserve(t *testing.T) {
	p, err := NewPool(netip.MustParsePrefix("10.0.0.0/29"), netip.Prefix{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Allocate("a") // .2
	b, _ := p.Allocate("b") // .3
	p.Release(a)
	c, _ := p.Allocate("c")
	if c == a {
		t.Errorf("released %s reused at once; next-fit should move on", a)
	}
	if err := p.Reserve(b, "other"); !errors.Is(err, ErrInUse) {
		t.Errorf("Reserve of a held address: err = %v, want ErrInUse", err)
	}
	if err := p.Reserve(b, "b"); err != nil {
		t.Errorf("Reserve by its owner: %v", err)
	}
	if err := p.Reserve(netip.MustParseAddr("10.0.0.7"), "x"); !errors.Is(err, ErrOutOfPool) {
		t.Errorf("Reserve of broadcast: err = %v, want ErrOutOfPool", err)
	}
	if err := p.Reserve(p.Gateway, "x"); !errors.Is(err, ErrInUse) {
		t.Errorf("Reserve of the gateway: err = %v, want ErrInUse", err)
	}
	p.Release(p.Gateway)
	if _, ok := p.Owner(p.Gateway); !ok {
		t.Error("the gateway was released")
	}
	// Fill the pool: .2 .4 .5 .6 remain free after b and c.
	for {
		if _, err := p.Allocate("f"); err != nil {
			break
		}
	}
	if got := p.InUse(); got != 6 {
		t.Errorf("in use = %d, want 6 (gateway and 5 hosts)", got)
	}
}

func TestPickSubnet(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		name  string
		taken []netip.Prefix
		want  string
	}{
		{name: "empty host", want: "172.17.0.0/16"},
		{name: "docker0 present", taken: []netip.Prefix{pfx("172.17.0.0/16")}, want: "172.18.0.0/16"},
		{name: "narrow route inside", taken: []netip.Prefix{pfx("172.17.5.0/24"), pfx("172.18.0.0/16")}, want: "172.19.0.0/16"},
		{name: "wide route covers all 172", taken: []netip.Prefix{pfx("172.16.0.0/12")}, want: "192.168.0.0/20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PickSubnet(DefaultPools(), tt.taken)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := PickSubnet(DefaultPools(), []netip.Prefix{pfx("0.0.0.0/0")}); !errors.Is(err, ErrNoSubnet) {
		t.Errorf("all taken: err = %v", err)
	}
}
