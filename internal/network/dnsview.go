package network

import (
	"net/netip"
	"strings"
)

// dnsView is what the embedded DNS servers answer from: rebuilt after
// every endpoint change and swapped in whole, so lookups (on the servers'
// goroutines) never take the service's lock.
type dnsView struct {
	// names maps network ID -> lower-case name -> addresses on it.
	names map[string]map[string][]netip.Addr
	// ptr maps an address to its container's name.
	ptr map[netip.Addr]string
	// networks lists, per container, its user-defined networks.
	networks map[string][]string
	subnets  map[string]netip.Prefix
	// links maps a container to its --link aliases (on user-defined
	// networks links are names only the linking container resolves).
	links map[string]map[string][]netip.Addr
}

func (s *Service) refreshDNSLocked() {
	v := &dnsView{names: map[string]map[string][]netip.Addr{}, ptr: map[netip.Addr]string{}, networks: map[string][]string{}, subnets: map[string]netip.Prefix{}, links: map[string]map[string][]netip.Addr{}}
	for _, sb := range s.sandboxes {
		for _, a := range sb.Attachments {
			n := s.networks[a.NetworkID]
			ep := sb.Endpoints[a.NetworkID]
			if n == nil || ep == nil || !n.userDefined() {
				continue
			}
			v.networks[sb.ContainerID] = append(v.networks[sb.ContainerID], n.ID)
			v.subnets[n.ID] = n.Subnet
			m := v.names[n.ID]
			if m == nil {
				m = map[string][]netip.Addr{}
				v.names[n.ID] = m
			}
			names := append([]string{sb.Name, sb.ContainerID[:12]}, a.Aliases...)
			for _, l := range a.Links {
				target, alias, ok := strings.Cut(l, ":")
				if !ok {
					alias = target
				}
				other := s.sandboxByNameLocked(strings.TrimPrefix(target, "/"))
				if other == nil || other.Endpoints[n.ID] == nil {
					continue
				}
				if v.links[sb.ContainerID] == nil {
					v.links[sb.ContainerID] = map[string][]netip.Addr{}
				}
				key := strings.ToLower(alias[strings.LastIndex(alias, "/")+1:])
				v.links[sb.ContainerID][key] = append(v.links[sb.ContainerID][key], other.Endpoints[n.ID].IP)
			}
			for _, name := range names {
				name = strings.ToLower(name)
				m[name] = append(m[name], ep.IP)
			}
			v.ptr[ep.IP] = sb.Name
		}
	}
	s.dns.Store(v)
}

// resolverView is one container's window on the view.
type resolverView struct {
	s  *Service
	id string
}

func (r *resolverView) LookupA(name string) ([]netip.Addr, bool) {
	v := r.s.dns.Load()
	if v == nil {
		return nil, false
	}
	if addrs, ok := v.links[r.id][name]; ok {
		return addrs, true
	}
	var out []netip.Addr
	known := false
	for _, nid := range v.networks[r.id] {
		if addrs, ok := v.names[nid][name]; ok {
			known = true
			out = append(out, addrs...)
		}
	}
	return out, known
}

func (r *resolverView) LookupPTR(addr netip.Addr) (string, bool) {
	v := r.s.dns.Load()
	if v == nil {
		return "", false
	}
	for _, nid := range v.networks[r.id] {
		if v.subnets[nid].Contains(addr) {
			return v.ptr[addr], true
		}
	}
	return "", false
}

// EmbeddedDNSAddress is the nameserver containers on user-defined networks
// are given.
const EmbeddedDNSAddress = "127.0.0.11"
