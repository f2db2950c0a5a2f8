package network

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/berth-engine/berth/internal/network/bridge"
	"github.com/berth-engine/berth/internal/network/ipam"
)

// restore runs at start-up: predefined networks, bridges, address pools,
// live endpoints, stale ones, firewall rules and DNS servers.
func (s *Service) restore() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensurePredefinedLocked(); err != nil {
		return err
	}
	for _, n := range s.networks {
		if n.Driver != "bridge" {
			continue
		}
		pool, err := ipam.NewPool(n.Subnet, n.IPRange, n.Gateway)
		if err != nil {
			return fmt.Errorf("network %s: %w", n.Name, err)
		}
		s.pools[n.ID] = pool
		if err := s.setupBridgeLocked(n); err != nil {
			return err
		}
	}
	for _, sb := range s.sandboxes {
		if sb.Netns == "" && len(sb.Endpoints) == 0 {
			continue
		}
		if sb.Netns != "" && bridge.NetnsAlive(sb.Netns) && s.replayLocked(sb) {
			continue
		}
		// The namespace is gone (a reboot) or its record cannot be
		// replayed: release what it held; the container service finds the
		// container stopped.
		s.cfg.Log.Info("releasing stale container network", "container", sb.ContainerID, "netns", sb.Netns)
		s.detachLocked(sb)
	}
	if err := s.applyFirewallLocked(); err != nil {
		return fmt.Errorf("firewall rules: %w", err)
	}
	s.refreshDNSLocked()
	for _, sb := range s.sandboxes {
		if err := s.startResolverLocked(sb); err != nil {
			s.cfg.Log.Warn("embedded DNS", "container", sb.ContainerID, "err", err)
		}
	}
	return nil
}

// replayLocked re-reserves a live sandbox's addresses and ports.
func (s *Service) replayLocked(sb *Sandbox) bool {
	for id, ep := range sb.Endpoints {
		pool := s.pools[id]
		if pool == nil || pool.Reserve(ep.IP, sb.ContainerID) != nil || !bridge.Exists(ep.HostVeth) {
			return false
		}
	}
	s.reservePortsLocked(sb)
	return true
}

// ensurePredefinedLocked creates bridge, host and none on first start and
// applies --bip to the default bridge.
func (s *Service) ensurePredefinedLocked() error {
	for _, p := range []struct{ name, driver string }{{HostName, "host"}, {NoneName, "null"}} {
		if s.byNameLocked(p.name) != nil {
			continue
		}
		n := &Network{ID: newID(), Name: p.name, Driver: p.driver, Created: time.Now().UTC(), Predefined: true,
			Options: map[string]string{}, Labels: map[string]string{}, IPAMDriver: "default"}
		if err := s.saveNetwork(n); err != nil {
			return err
		}
		s.networks[n.ID] = n
	}
	n := s.byNameLocked(DefaultBridgeName)
	if n == nil {
		n = &Network{ID: newID(), Name: DefaultBridgeName, Driver: "bridge", Created: time.Now().UTC(), Predefined: true,
			Bridge: s.cfg.DefaultBridgeIf, MTU: defaultMTU, ICC: true, Masquerade: true, Labels: map[string]string{}, IPAMDriver: "default"}
	}
	n.Options = map[string]string{
		optDefault: "true", optICC: "true", optMasquerade: "true", optHostBindV4: "0.0.0.0",
		optBridgeName: n.Bridge, optMTU: fmt.Sprint(n.MTU),
	}
	switch {
	case s.cfg.Bip != "":
		p, err := netip.ParsePrefix(s.cfg.Bip)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("invalid --bip %q: want an IPv4 address with a prefix length, like 172.20.0.1/16", s.cfg.Bip)
		}
		n.Subnet, n.Gateway, n.IPRange = p.Masked(), p.Addr(), netip.Prefix{}
		if ipam.OverlapsAny(n.Subnet, s.subnetsLocked(n.ID)) {
			return fmt.Errorf("--bip %s overlaps another network", s.cfg.Bip)
		}
	case !n.Subnet.IsValid():
		skip := s.bridgesLocked()
		skip[n.Bridge] = true
		taken := append(s.subnetsLocked(n.ID), bridge.RoutedSubnets(skip)...)
		sub, err := ipam.PickSubnet(ipam.DefaultPools(), taken)
		if err != nil {
			return fmt.Errorf("default bridge: %w", err)
		}
		n.Subnet, n.Gateway = sub, sub.Addr().Next()
	}
	if err := s.saveNetwork(n); err != nil {
		return err
	}
	s.networks[n.ID] = n
	return nil
}
