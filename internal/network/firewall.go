package network

import (
	"github.com/berth-engine/berth/internal/network/bridge"
	"github.com/berth-engine/berth/internal/network/portmap"
)

// applyFirewallLocked rebuilds Berth's nftables table from the current
// networks and published ports.
func (s *Service) applyFirewallLocked() error {
	if !s.cfg.Firewall {
		return nil
	}
	var rs portmap.Ruleset
	for _, n := range s.sortedLocked() {
		if n.Driver != "bridge" || n.Bridge == "" {
			continue
		}
		rs.Networks = append(rs.Networks, portmap.Network{Bridge: n.Bridge, Subnet: n.Subnet, Internal: n.Internal, Masquerade: n.Masquerade})
	}
	for _, sb := range s.sandboxes {
		for _, m := range sb.Ports {
			rs.Mappings = append(rs.Mappings, portmap.Mapping{Proto: m.Proto, HostIP: m.HostIP, HostPort: m.HostPort, ContainerIP: m.ContainerIP, ContainerPort: m.ContainerPort})
		}
	}
	rs.Sort()
	// The table is checked too: a firewall reload (`nft flush ruleset`)
	// may have removed it behind our back.
	if s.applied != nil && s.applied.Equal(rs) && portmap.Exists(s.table) {
		return nil
	}
	s.applied = nil
	if err := portmap.Apply(s.table, rs); err != nil {
		return err
	}
	s.applied = &rs
	return nil
}

// teardownLocked removes the bridges that have nothing plugged in and
// Berth's table; used when the daemon stops with no container connected.
func (s *Service) teardownLocked() {
	for _, n := range s.networks {
		if n.Driver != "bridge" || n.Bridge == "" {
			continue
		}
		if s.bridgeHasPorts(n.Bridge) {
			continue // another daemon's containers may be on it
		}
		if err := bridge.Delete(n.Bridge); err != nil {
			s.cfg.Log.Warn("remove bridge", "bridge", n.Bridge, "err", err)
		}
	}
	if s.cfg.Firewall {
		s.applied = nil
		if err := portmap.Delete(s.table); err != nil {
			s.cfg.Log.Warn("remove nftables table", "table", s.table, "err", err)
		}
	}
}

func (s *Service) bridgeHasPorts(name string) bool {
	for _, l := range bridge.Links("") {
		if bridge.LinkMaster(l) == name {
			return true
		}
	}
	return false
}
