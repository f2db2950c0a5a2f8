// Package ipam hands out IPv4 addresses from a network's subnet and picks
// subnets for new networks from Docker's default pools. It keeps no state
// on disk: the network service persists every allocation with the endpoint
// that holds it and replays them with Reserve after a restart.
package ipam

import (
	"errors"
	"fmt"
	"net/netip"
)

// Errors callers class (the service turns them into API errors).
var (
	ErrInUse     = errors.New("address already in use")
	ErrExhausted = errors.New("no available IPv4 addresses on this network's address pools")
	ErrOutOfPool = errors.New("address out of range")
	ErrNoSubnet  = errors.New("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
)

// Pool allocates the addresses of one subnet. It is not safe for
// concurrent use; the network service serialises calls.
type Pool struct {
	Subnet  netip.Prefix
	Range   netip.Prefix // dynamic allocations come from here; equals Subnet when not set
	Gateway netip.Addr

	used map[netip.Addr]string // address -> owner
	// next is where the search for a free address starts. Allocation is
	// next-fit, like dockerd's: a just-released address is handed out again
	// only after the rest of the range, so a stale ARP entry or DNS answer
	// for a gone container rarely points at a new one.
	next netip.Addr
}

// NewPool validates subnet, range and gateway and reserves the subnet's
// network and broadcast addresses and the gateway. A zero gateway means the
// first host address.
func NewPool(subnet, ipRange netip.Prefix, gateway netip.Addr) (*Pool, error) {
	subnet = subnet.Masked()
	if !subnet.IsValid() || !subnet.Addr().Is4() {
		return nil, fmt.Errorf("invalid subnet %s: only IPv4 is supported", subnet)
	}
	if subnet.Bits() > 30 {
		return nil, fmt.Errorf("subnet %s is too small: at least a /30 is needed", subnet)
	}
	if ipRange.IsValid() {
		ipRange = ipRange.Masked()
		if !subnet.Contains(ipRange.Addr()) || ipRange.Bits() < subnet.Bits() {
			return nil, fmt.Errorf("invalid ip-range %s: it must be inside subnet %s", ipRange, subnet)
		}
	} else {
		ipRange = subnet
	}
	if !gateway.IsValid() {
		gateway = subnet.Addr().Next()
	}
	if !subnet.Contains(gateway) {
		return nil, fmt.Errorf("gateway %s is not in subnet %s", gateway, subnet)
	}
	p := &Pool{Subnet: subnet, Range: ipRange, Gateway: gateway, used: map[netip.Addr]string{}}
	if gateway == subnet.Addr() || gateway == broadcast(subnet) {
		return nil, fmt.Errorf("gateway %s cannot be the network or broadcast address of %s", gateway, subnet)
	}
	p.used[gateway] = "gateway"
	p.next = ipRange.Addr()
	return p, nil
}

// broadcast is the last address of p.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n |= (1 << (32 - p.Bits())) - 1
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// usable reports whether a may be given to an endpoint at all.
func (p *Pool) usable(a netip.Addr) bool {
	return p.Subnet.Contains(a) && a != p.Subnet.Addr() && a != broadcast(p.Subnet)
}

// Allocate hands out the next free address of the range to owner.
func (p *Pool) Allocate(owner string) (netip.Addr, error) {
	first, last := p.Range.Addr(), broadcast(p.Range)
	a := p.next
	if !p.Range.Contains(a) {
		a = first
	}
	for range uint64(1) << (32 - p.Range.Bits()) {
		if p.usable(a) {
			if _, taken := p.used[a]; !taken {
				p.used[a] = owner
				p.next = a.Next()
				return a, nil
			}
		}
		if a == last {
			a = first
		} else {
			a = a.Next()
		}
	}
	return netip.Addr{}, ErrExhausted
}

// Reserve gives the static address a to owner (`--ip`, or an allocation
// replayed after a restart). Reserving an address the owner already holds
// succeeds.
func (p *Pool) Reserve(a netip.Addr, owner string) error {
	if !p.usable(a) {
		return fmt.Errorf("%w: %s is not a usable address of %s", ErrOutOfPool, a, p.Subnet)
	}
	if o, taken := p.used[a]; taken && o != owner {
		return fmt.Errorf("%w: %s", ErrInUse, a)
	}
	p.used[a] = owner
	return nil
}

// Release frees a; releasing the gateway or a free address does nothing.
func (p *Pool) Release(a netip.Addr) {
	if a == p.Gateway {
		return
	}
	delete(p.used, a)
}

// Owner returns who holds a.
func (p *Pool) Owner(a netip.Addr) (string, bool) {
	o, ok := p.used[a]
	return o, ok
}

// InUse is how many addresses are held, the gateway included.
func (p *Pool) InUse() int { return len(p.used) }

// DefaultPools are Docker's default local address pools: 172.17-31.0.0/16,
// then 192.168.0.0/16 cut into /20s.
func DefaultPools() []netip.Prefix {
	var out []netip.Prefix
	for i := 17; i <= 31; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i < 256; i += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 20))
	}
	return out
}

// PickSubnet returns the first of pools that overlaps none of taken (the
// subnets of other networks and of routes already on the host).
func PickSubnet(pools, taken []netip.Prefix) (netip.Prefix, error) {
	for _, p := range pools {
		if !OverlapsAny(p, taken) {
			return p, nil
		}
	}
	return netip.Prefix{}, ErrNoSubnet
}

// OverlapsAny reports whether p shares an address with any of others.
func OverlapsAny(p netip.Prefix, others []netip.Prefix) bool {
	for _, o := range others {
		if o.IsValid() && p.Overlaps(o) {
			return true
		}
	}
	return false
}
