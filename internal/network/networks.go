package network

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/network/bridge"
	"github.com/berth-engine/berth/internal/network/ipam"
)

// Bridge driver options dockerd understands (com.docker.network.*).
const (
	optBridgeName = "com.docker.network.bridge.name"
	optICC        = "com.docker.network.bridge.enable_icc"
	optMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
	optMTU        = "com.docker.network.driver.mtu"
	optHostBindV4 = "com.docker.network.bridge.host_binding_ipv4"
	optDefault    = "com.docker.network.bridge.default_bridge"
)

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func notFound(ref string) error { return errdefs.NotFoundf("network %s not found", ref) }

func ambiguous(ref string) error {
	return errdefs.InvalidParameterf("network %s is ambiguous", ref)
}

// Create makes a user-defined network.
func (s *Service) Create(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	if req.Name == "" {
		return network.CreateResponse{}, errdefs.InvalidParameterf("network name cannot be empty")
	}
	if !validName.MatchString(req.Name) {
		return network.CreateResponse{}, errdefs.InvalidParameterf("invalid network name %q: must match [a-zA-Z0-9][a-zA-Z0-9_.-]*", req.Name)
	}
	driver := req.Driver
	if driver == "" {
		driver = "bridge"
	}
	switch driver {
	case "bridge":
	case "host", "null":
		return network.CreateResponse{}, errdefs.Forbiddenf("only one instance of %q network is allowed", driver)
	default:
		return network.CreateResponse{}, errdefs.NotFoundf("could not find plugin %s in v1 plugin registry: plugin not found", driver)
	}
	if req.Scope != "" && req.Scope != "local" {
		return network.CreateResponse{}, errdefs.NotImplementedf("scope %q is not supported: only local networks", req.Scope)
	}
	if req.ConfigOnly || req.ConfigFrom != nil || req.Ingress {
		return network.CreateResponse{}, errdefs.NotImplementedf("config-only and ingress networks are not supported")
	}
	if req.EnableIPv6 != nil && *req.EnableIPv6 {
		return network.CreateResponse{}, errdefs.NotImplementedf("IPv6 networks are not supported")
	}
	if req.EnableIPv4 != nil && !*req.EnableIPv4 {
		return network.CreateResponse{}, errdefs.InvalidParameterf("IPv4 cannot be disabled on bridge networks")
	}
	n := &Network{
		ID: newID(), Name: req.Name, Driver: driver, Created: time.Now().UTC(),
		Internal: req.Internal, Attachable: req.Attachable,
		Options: maps.Clone(req.Options), Labels: maps.Clone(req.Labels),
		ICC: true, Masquerade: true, MTU: defaultMTU, IPAMDriver: "default",
	}
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if err := applyOptions(n); err != nil {
		return network.CreateResponse{}, err
	}
	var cfg network.IPAMConfig
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return network.CreateResponse{}, errdefs.NotFoundf("could not find plugin %s in v1 plugin registry: plugin not found", req.IPAM.Driver)
		}
		n.IPAMOpts = maps.Clone(req.IPAM.Options)
		var v4 []network.IPAMConfig
		for _, c := range req.IPAM.Config {
			if c.Subnet.IsValid() && c.Subnet.Addr().Is6() {
				return network.CreateResponse{}, errdefs.NotImplementedf("IPv6 subnets are not supported")
			}
			v4 = append(v4, c)
		}
		if len(v4) > 1 {
			return network.CreateResponse{}, errdefs.NotImplementedf("only one IPv4 subnet per network is supported")
		}
		if len(v4) == 1 {
			cfg = v4[0]
		}
	}
	if !cfg.Subnet.IsValid() && (cfg.IPRange.IsValid() || cfg.Gateway.IsValid()) {
		return network.CreateResponse{}, errdefs.InvalidParameterf("ip-range and gateway need a subnet")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byNameLocked(req.Name) != nil {
		return network.CreateResponse{}, errdefs.Conflictf("network with name %s already exists", req.Name)
	}
	if n.Bridge == "" {
		n.Bridge = "br-" + n.ID[:12]
	}
	for _, o := range s.networks {
		if o.Bridge == n.Bridge {
			return network.CreateResponse{}, errdefs.Conflictf("bridge name %s is already used by network %s", n.Bridge, o.Name)
		}
	}
	if cfg.Subnet.IsValid() {
		cfg.Subnet = cfg.Subnet.Masked()
		if ipam.OverlapsAny(cfg.Subnet, s.subnetsLocked("")) {
			return network.CreateResponse{}, errdefs.InvalidParameterf("invalid pool request: Pool overlaps with other one on this address space")
		}
	} else {
		sub, err := ipam.PickSubnet(ipam.DefaultPools(), append(s.subnetsLocked(""), bridge.RoutedSubnets(s.bridgesLocked())...))
		if err != nil {
			return network.CreateResponse{}, errdefs.Forbidden(err)
		}
		cfg.Subnet = sub
	}
	pool, err := ipam.NewPool(cfg.Subnet, cfg.IPRange, cfg.Gateway)
	if err != nil {
		if cfg.Gateway.IsValid() && !cfg.Subnet.Contains(cfg.Gateway) {
			return network.CreateResponse{}, errdefs.InvalidParameterf("no matching subnet for gateway %s", cfg.Gateway)
		}
		return network.CreateResponse{}, errdefs.InvalidParameter(err)
	}
	n.Subnet, n.IPRange, n.Gateway = pool.Subnet, cfg.IPRange, pool.Gateway
	if err := s.setupBridgeLocked(n); err != nil {
		return network.CreateResponse{}, err
	}
	if err := s.saveNetwork(n); err != nil {
		_ = bridge.Delete(n.Bridge)
		return network.CreateResponse{}, err
	}
	s.networks[n.ID] = n
	s.pools[n.ID] = pool
	if err := s.applyFirewallLocked(); err != nil {
		s.cfg.Log.Warn("firewall rules", "err", err)
	}
	s.event(n, "create", nil)
	return network.CreateResponse{ID: n.ID}, nil
}

// applyOptions reads the bridge driver's options into the record.
func applyOptions(n *Network) error {
	for k, v := range n.Options {
		switch k {
		case optBridgeName:
			if v == "" || len(v) > 15 || strings.ContainsAny(v, "/ \t") {
				return errdefs.InvalidParameterf("invalid bridge name %q", v)
			}
			n.Bridge = v
		case optICC, optMasquerade:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errdefs.InvalidParameterf("invalid value %q for %s: %v", v, k, err)
			}
			if k == optICC {
				n.ICC = b
			} else {
				n.Masquerade = b
			}
		case optMTU:
			mtu, err := strconv.Atoi(v)
			if err != nil || mtu < 68 || mtu > 65535 {
				return errdefs.InvalidParameterf("invalid MTU %q: must be a number from 68 to 65535", v)
			}
			n.MTU = mtu
		}
	}
	return nil
}

// subnetsLocked lists the subnets of every network but except.
func (s *Service) subnetsLocked(except string) []netip.Prefix {
	var out []netip.Prefix
	for id, n := range s.networks {
		if id != except && n.Subnet.IsValid() {
			out = append(out, n.Subnet)
		}
	}
	return out
}

// bridgesLocked names the bridges of Berth's networks.
func (s *Service) bridgesLocked() map[string]bool {
	out := map[string]bool{}
	for _, n := range s.networks {
		if n.Bridge != "" {
			out[n.Bridge] = true
		}
	}
	return out
}

// setupBridgeLocked creates the network's bridge and turns on forwarding,
// which containers need to reach anything beyond their bridge.
func (s *Service) setupBridgeLocked(n *Network) error {
	if err := bridge.Ensure(bridge.Bridge{Name: n.Bridge, Gateway: netip.PrefixFrom(n.Gateway, n.Subnet.Bits()), MTU: n.MTU}); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := bridge.SetSysctl("net/ipv4/ip_forward", "1"); err != nil {
		s.cfg.Log.Warn("cannot enable IPv4 forwarding", "err", err)
	}
	return nil
}

// Delete removes a user-defined network that no container uses.
func (s *Service) Delete(ctx context.Context, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.findLocked(ref)
	if err != nil {
		return err
	}
	return s.deleteLocked(n)
}

func (s *Service) deleteLocked(n *Network) error {
	if n.Predefined {
		return errdefs.Forbiddenf("%s is a pre-defined network and cannot be removed", n.Name)
	}
	if users := s.usersLocked(n.ID); len(users) > 0 {
		return errdefs.Conflictf("error while removing network: network %s has active endpoints (%s)", n.Name, strings.Join(users, ", "))
	}
	if err := bridge.Delete(n.Bridge); err != nil {
		return fmt.Errorf("remove bridge %s: %w", n.Bridge, err)
	}
	if err := s.deleteNetworkRecord(n.ID); err != nil {
		return err
	}
	delete(s.networks, n.ID)
	delete(s.pools, n.ID)
	if err := s.applyFirewallLocked(); err != nil {
		s.cfg.Log.Warn("firewall rules", "err", err)
	}
	s.event(n, "destroy", nil)
	return nil
}

// usersLocked names the containers connected to (or configured for) a
// network, as dockerd lists them in its error.
func (s *Service) usersLocked(id string) []string {
	var out []string
	for _, sb := range s.sandboxes {
		if sb.attachment(id) != nil || sb.Endpoints[id] != nil {
			out = append(out, fmt.Sprintf("name:%q id:%q", sb.Name, sb.ContainerID[:12]))
		}
	}
	sort.Strings(out)
	return out
}

// Filters are the API's filters: key -> accepted values.
type Filters map[string][]string

var listFilters = map[string]bool{"driver": true, "id": true, "label": true, "name": true, "scope": true, "type": true, "dangling": true}

func (f Filters) validate(allowed map[string]bool) error {
	for k := range f {
		if !allowed[k] {
			return errdefs.InvalidParameterf("invalid filter '%s'", k)
		}
	}
	return nil
}

// List returns the networks matching the filters, sorted by name.
func (s *Service) List(ctx context.Context, f Filters) ([]network.Summary, error) {
	if err := f.validate(listFilters); err != nil {
		return nil, err
	}
	for _, t := range f["type"] {
		if t != "custom" && t != "builtin" {
			return nil, errdefs.InvalidParameterf("invalid filter: 'type'='%s'", t)
		}
	}
	for _, d := range f["dangling"] {
		if _, err := strconv.ParseBool(d); err != nil {
			return nil, errdefs.InvalidParameterf("invalid filter 'dangling=%s'", d)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []network.Summary{}
	for _, n := range s.sortedLocked() {
		if !s.matchLocked(n, f) {
			continue
		}
		out = append(out, network.Summary{Network: s.apiNetworkLocked(n)})
	}
	return out, nil
}

func (s *Service) sortedLocked() []*Network {
	list := make([]*Network, 0, len(s.networks))
	for _, n := range s.networks {
		list = append(list, n)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

func (s *Service) matchLocked(n *Network, f Filters) bool {
	anyOf := func(vals []string, ok func(string) bool) bool {
		if len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if ok(v) {
				return true
			}
		}
		return false
	}
	if !anyOf(f["driver"], func(v string) bool { return v == n.Driver }) ||
		!anyOf(f["id"], func(v string) bool { return strings.HasPrefix(n.ID, v) }) ||
		!anyOf(f["name"], func(v string) bool { return strings.Contains(n.Name, v) }) ||
		!anyOf(f["scope"], func(v string) bool { return v == "local" }) ||
		!anyOf(f["type"], func(v string) bool { return (v == "builtin") == n.Predefined }) ||
		!anyOf(f["dangling"], func(v string) bool {
			b, _ := strconv.ParseBool(v)
			return b == (!n.Predefined && len(s.usersLocked(n.ID)) == 0)
		}) {
		return false
	}
	for _, l := range f["label"] {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := n.Labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
}

// Inspect returns a network with its connected containers.
func (s *Service) Inspect(ctx context.Context, ref string) (network.Inspect, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := s.findLocked(ref)
	if err != nil {
		return network.Inspect{}, err
	}
	resp := network.Inspect{Network: s.apiNetworkLocked(n), Containers: map[string]network.EndpointResource{}}
	for _, sb := range s.sandboxes {
		ep := sb.Endpoints[n.ID]
		if ep == nil {
			continue
		}
		r := network.EndpointResource{Name: sb.Name, EndpointID: ep.ID}
		if ep.IP.IsValid() {
			r.IPv4Address = netip.PrefixFrom(ep.IP, n.Subnet.Bits())
			if mac, err := net.ParseMAC(ep.MAC); err == nil {
				r.MacAddress = network.HardwareAddr(mac)
			}
		}
		resp.Containers[sb.ContainerID] = r
	}
	return resp, nil
}

// apiNetworkLocked renders a record as the API's Network.
func (s *Service) apiNetworkLocked(n *Network) network.Network {
	out := network.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		EnableIPv4: n.Driver == "bridge", Internal: n.Internal, Attachable: n.Attachable,
		ConfigFrom: network.ConfigReference{Network: ""},
		Options:    maps.Clone(n.Options), Labels: maps.Clone(n.Labels),
		IPAM: network.IPAM{Driver: "default", Options: maps.Clone(n.IPAMOpts), Config: []network.IPAMConfig{}},
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if n.Subnet.IsValid() {
		out.IPAM.Config = append(out.IPAM.Config, network.IPAMConfig{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway})
	}
	return out
}

var pruneFilters = map[string]bool{"until": true, "label": true, "label!": true}

// Prune removes the user-defined networks no container uses.
func (s *Service) Prune(ctx context.Context, f Filters) (network.PruneReport, error) {
	report := network.PruneReport{NetworksDeleted: []string{}}
	if err := f.validate(pruneFilters); err != nil {
		return report, err
	}
	var until []time.Time
	for _, u := range f["until"] {
		t, err := parseUntil(u)
		if err != nil {
			return report, err
		}
		until = append(until, t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.sortedLocked() {
		if n.Predefined || len(s.usersLocked(n.ID)) > 0 || !matchPruneLabels(f, n.Labels) {
			continue
		}
		old := true
		for _, t := range until {
			if !n.Created.Before(t) {
				old = false
			}
		}
		if !old {
			continue
		}
		if err := s.deleteLocked(n); err != nil {
			if errors.Is(err, errdefs.ErrConflict) {
				continue
			}
			return report, err
		}
		report.NetworksDeleted = append(report.NetworksDeleted, n.Name)
	}
	if s.cfg.Events != nil {
		s.cfg.Events.Publish(events.Message{Type: events.NetworkEventType, Action: events.ActionPrune,
			Actor: events.Actor{Attributes: map[string]string{"reclaimed": "0"}}})
	}
	return report, nil
}

func matchPruneLabels(f Filters, labels map[string]string) bool {
	for _, l := range f["label"] {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	for _, l := range f["label!"] {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if ok && (!hasV || got == v) {
			return false
		}
	}
	return true
}

func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(0, int64(secs*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.InvalidParameterf("invalid time value: %s", v)
}
