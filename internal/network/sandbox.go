package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/network/bridge"
	"github.com/berth-engine/berth/internal/network/dns"
	"github.com/berth-engine/berth/internal/network/ipam"
)

// Sandbox is a container's networking: what it asked for (kept for the
// container's life) and, while it runs, its namespace, endpoints and
// published ports.
type Sandbox struct {
	ContainerID string          `json:"id"`
	Name        string          `json:"name"`
	Hostname    string          `json:"hostname"`
	Mode        string          `json:"mode"` // bridge, host, none, container:<id>, or a network's ID
	Attachments []Attachment    `json:"attachments,omitempty"`
	Bindings    network.PortMap `json:"bindings,omitempty"`
	PublishAll  bool            `json:"publishAll,omitempty"`
	Exposed     []network.Port  `json:"exposed,omitempty"`
	DNS         []string        `json:"dns,omitempty"`   // --dns: upstreams of the embedded DNS
	Links       []string        `json:"links,omitempty"` // --link name:alias

	// Live state; empty while the container is not running.
	Netns     string               `json:"netns,omitempty"`
	Endpoints map[string]*Endpoint `json:"endpoints,omitempty"` // by network ID
	Ports     []PortMapping        `json:"ports,omitempty"`
}

// Attachment is a network the container is connected to.
type Attachment struct {
	NetworkID string     `json:"network"`
	Aliases   []string   `json:"aliases,omitempty"`
	Links     []string   `json:"links,omitempty"`
	IPv4      netip.Addr `json:"ipv4,omitzero"` // requested static address
}

// Endpoint is a live connection of a running container to a network.
type Endpoint struct {
	NetworkID    string     `json:"network"`
	ID           string     `json:"id"`
	IP           netip.Addr `json:"ip"`
	MAC          string     `json:"mac"`
	IfName       string     `json:"ifname"`
	HostVeth     string     `json:"veth"`
	DefaultRoute bool       `json:"defaultRoute,omitempty"`
}

// PortMapping is one published port of a running container.
type PortMapping struct {
	Proto         string     `json:"proto"`
	HostIP        netip.Addr `json:"hostIP"`
	HostPort      uint16     `json:"hostPort"`
	ContainerPort uint16     `json:"containerPort"`
	ContainerIP   netip.Addr `json:"containerIP"`
}

func (sb *Sandbox) attachment(networkID string) *Attachment {
	for i := range sb.Attachments {
		if sb.Attachments[i].NetworkID == networkID {
			return &sb.Attachments[i]
		}
	}
	return nil
}

func (sb *Sandbox) ownNamespace() bool {
	m := container.NetworkMode(sb.Mode)
	return !m.IsHost() && !m.IsNone() && !m.IsContainer()
}

// ContainerRequest is a container's networking as created.
type ContainerRequest struct {
	ID, Name, Hostname string
	HostConfig         *container.HostConfig
	ExposedPorts       network.PortSet
	Networking         *network.NetworkingConfig
}

// ValidateContainer checks a create request's network mode and endpoint
// settings, and normalises "default" (and "") to "bridge" as dockerd does.
func (s *Service) ValidateContainer(hc *container.HostConfig, nc *network.NetworkingConfig) error {
	if hc.NetworkMode == "" || hc.NetworkMode == "default" {
		asked := string(hc.NetworkMode)
		hc.NetworkMode = DefaultBridgeName
		// The docker CLI keys the endpoint settings of the default
		// network "default" as well.
		if nc != nil {
			if es, ok := nc.EndpointsConfig[asked]; ok {
				delete(nc.EndpointsConfig, asked)
				nc.EndpointsConfig[DefaultBridgeName] = es
			}
		}
	}
	mode := hc.NetworkMode
	if mode.IsContainer() {
		if mode.ConnectedContainer() == "" {
			return errdefs.InvalidParameterf("invalid network mode: %s", mode)
		}
		if len(hc.PortBindings) > 0 || hc.PublishAllPorts {
			return errdefs.InvalidParameterf("conflicting options: port publishing and the container type network mode")
		}
		return nil
	}
	if (mode.IsHost() || mode.IsNone()) && nc != nil {
		for name := range nc.EndpointsConfig {
			if name != string(mode) {
				return errdefs.InvalidParameterf("container cannot be connected to network %s and %s", mode, name)
			}
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	primary, err := s.findLocked(string(mode))
	if err != nil {
		return err
	}
	if nc == nil {
		return nil
	}
	for name, es := range nc.EndpointsConfig {
		n := primary
		if name != string(mode) && name != primary.Name && name != primary.ID {
			if n, err = s.findLocked(name); err != nil {
				return err
			}
		}
		if err := validateEndpoint(n, es); err != nil {
			return err
		}
	}
	return nil
}

// validateEndpoint applies dockerd's rules for endpoint settings.
func validateEndpoint(n *Network, es *network.EndpointSettings) error {
	if es == nil {
		return nil
	}
	if n.Driver != "bridge" && (len(es.Aliases) > 0 || es.IPAMConfig != nil) {
		return errdefs.InvalidParameterf("network-scoped aliases and static addresses are not supported on network %s", n.Name)
	}
	if !n.userDefined() {
		if len(es.Aliases) > 0 {
			return errdefs.InvalidParameterf("network-scoped alias is supported only for containers in user defined networks")
		}
		if es.IPAMConfig != nil && (es.IPAMConfig.IPv4Address.IsValid() || es.IPAMConfig.IPv6Address.IsValid()) {
			return errdefs.InvalidParameterf("user specified IP address is supported on user defined networks only")
		}
	}
	if es.IPAMConfig != nil {
		if a := es.IPAMConfig.IPv6Address; a.IsValid() {
			return errdefs.InvalidParameterf("IPv6 addresses are not supported")
		}
		if a := es.IPAMConfig.IPv4Address; a.IsValid() {
			// Like dockerd, a static address may lie outside --ip-range
			// (that range is for dynamic ones) but not outside the subnet.
			if !n.Subnet.Contains(a) {
				return errdefs.InvalidParameterf("invalid endpoint settings:\nno configured subnet or ip-range contain the IP address %s", a)
			}
		}
	}
	return nil
}

// Register records a new container's networking (call after
// ValidateContainer). Nothing is set up until Attach.
func (s *Service) Register(ctx context.Context, req ContainerRequest) error {
	put, apply, err := s.PrepareRegister(req)
	if err != nil {
		return err
	}
	if err := s.cfg.DB.Update(put); err != nil {
		return err
	}
	apply()
	return nil
}

// PrepareRegister is Register for a caller that writes the record in its
// own transaction of the service's database (the container store writes a
// new container's record in the same commit): it builds the record, which
// takes the service's lock, so call it before that transaction begins (the
// service writes to the database under its lock: the other order
// deadlocks). put writes the record in the transaction; apply, once that has
// committed, makes it live.
func (s *Service) PrepareRegister(req ContainerRequest) (put func(*bolt.Tx) error, apply func(), err error) {
	sb, err := s.sandboxFor(req)
	if err != nil {
		return nil, nil, err
	}
	data, err := json.Marshal(sb)
	if err != nil {
		return nil, nil, err
	}
	put = func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketSandboxes).Put([]byte(sb.ContainerID), data)
	}
	apply = func() {
		s.mu.Lock()
		s.sandboxes[sb.ContainerID] = sb
		s.mu.Unlock()
	}
	return put, apply, nil
}

// sandboxFor builds the record of a new container's networking.
func (s *Service) sandboxFor(req ContainerRequest) (*Sandbox, error) {
	hc := req.HostConfig
	sb := &Sandbox{
		ContainerID: req.ID, Name: strings.TrimPrefix(req.Name, "/"), Hostname: req.Hostname,
		Mode: string(hc.NetworkMode), Bindings: hc.PortBindings, PublishAll: hc.PublishAllPorts,
		Links: hc.Links,
	}
	for _, d := range hc.DNS {
		sb.DNS = append(sb.DNS, d.String())
	}
	for p := range req.ExposedPorts {
		sb.Exposed = append(sb.Exposed, p)
	}
	for p := range hc.PortBindings {
		if !slices.Contains(sb.Exposed, p) {
			sb.Exposed = append(sb.Exposed, p)
		}
	}
	sort.Slice(sb.Exposed, func(i, j int) bool { return sb.Exposed[i].String() < sb.Exposed[j].String() })
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb.ownNamespace() || hc.NetworkMode.IsHost() || hc.NetworkMode.IsNone() {
		primary, err := s.findLocked(string(hc.NetworkMode))
		if err != nil {
			return nil, err
		}
		if !hc.NetworkMode.IsHost() && !hc.NetworkMode.IsNone() {
			sb.Mode = primary.ID
			if primary.Predefined {
				sb.Mode = primary.Name
			}
		}
		sb.Attachments = append(sb.Attachments, attachmentFor(primary, endpointFor(req.Networking, primary, string(hc.NetworkMode))))
		if req.Networking != nil && sb.ownNamespace() {
			var extra []Attachment
			for name, es := range req.Networking.EndpointsConfig {
				n, err := s.findLocked(name)
				if err != nil {
					return nil, err
				}
				if n.ID == primary.ID {
					continue
				}
				extra = append(extra, attachmentFor(n, es))
			}
			sort.Slice(extra, func(i, j int) bool {
				return s.networks[extra[i].NetworkID].Name < s.networks[extra[j].NetworkID].Name
			})
			sb.Attachments = append(sb.Attachments, extra...)
		}
	}
	return sb, nil
}

func endpointFor(nc *network.NetworkingConfig, n *Network, asked string) *network.EndpointSettings {
	for _, k := range []string{asked, n.Name, n.ID} {
		if es := endpointConfig(nc, k); es != nil {
			return es
		}
	}
	return nil
}

func attachmentFor(n *Network, es *network.EndpointSettings) Attachment {
	a := Attachment{NetworkID: n.ID}
	if es != nil {
		a.Aliases = slices.Clone(es.Aliases)
		a.Links = slices.Clone(es.Links)
		if es.IPAMConfig != nil {
			a.IPv4 = es.IPAMConfig.IPv4Address
		}
	}
	return a
}

// Unregister forgets a removed container, releasing anything still held.
func (s *Service) Unregister(ctx context.Context, containerID string) {
	s.Detach(ctx, containerID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sandboxes[containerID]; !ok {
		return
	}
	delete(s.sandboxes, containerID)
	if err := s.deleteSandboxRecord(containerID); err != nil {
		s.cfg.Log.Warn("forget container networking", "container", containerID, "err", err)
	}
}

// PrepareUnregister is Unregister for a caller that deletes the record in
// its own transaction of the service's database (the container store
// deletes the container's record in the same commit). The caller has
// called Detach before (it takes the service's lock and may write to the
// database). put deletes the record in the transaction, taking no lock;
// apply, once that has committed, forgets the container.
func (s *Service) PrepareUnregister(containerID string) (put func(*bolt.Tx) error, apply func()) {
	put = func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketSandboxes).Delete([]byte(containerID))
	}
	apply = func() {
		s.mu.Lock()
		delete(s.sandboxes, containerID)
		s.mu.Unlock()
	}
	return put, apply
}

// DB is the database the service keeps its records in.
func (s *Service) DB() *bolt.DB { return s.cfg.DB }

// Rename follows a container rename: DNS answers to the new name.
func (s *Service) Rename(containerID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxes[containerID]
	if sb == nil {
		return
	}
	sb.Name = strings.TrimPrefix(name, "/")
	if err := s.saveSandbox(sb); err != nil {
		s.cfg.Log.Warn("save container networking", "container", containerID, "err", err)
	}
	s.refreshDNSLocked()
}

// Attach sets up a starting container's network: a namespace, an endpoint
// on each of its networks, its published ports and, on user-defined
// networks, its embedded DNS. It returns the namespace for the runtime to
// join, or "" when the container does not get one of its own.
func (s *Service) Attach(ctx context.Context, containerID string) (netnsPath string, retErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxes[containerID]
	if sb == nil || !sb.ownNamespace() {
		return "", nil
	}
	if sb.Netns != "" {
		s.detachLocked(sb) // left over from a run that ended without us
	}
	defer func() {
		if retErr != nil {
			s.detachLocked(sb)
		}
	}()
	sb.Netns = filepath.Join(s.netnsDir(), containerID)
	sb.Endpoints = map[string]*Endpoint{}
	// Recorded before anything exists, so a crash in between leaves a
	// record that start-up can clean after.
	if err := s.saveSandbox(sb); err != nil {
		return "", err
	}
	_ = bridge.DeleteNetns(sb.Netns)
	if err := bridge.CreateNetns(sb.Netns, s.cfg.NetnsSysctls); err != nil {
		return "", err
	}
	for _, att := range sb.Attachments {
		if _, err := s.connectLocked(sb, att); err != nil {
			return "", err
		}
	}
	if err := s.publishLocked(sb); err != nil {
		return "", err
	}
	if err := s.saveSandbox(sb); err != nil {
		return "", err
	}
	if err := s.applyFirewallLocked(); err != nil {
		return "", fmt.Errorf("firewall rules: %w", err)
	}
	s.refreshDNSLocked()
	if err := s.startResolverLocked(sb); err != nil {
		return "", err
	}
	return sb.Netns, nil
}

// connectLocked gives a running sandbox an endpoint on one network.
func (s *Service) connectLocked(sb *Sandbox, att Attachment) (*Endpoint, error) {
	n := s.networks[att.NetworkID]
	if n == nil {
		return nil, notFound(att.NetworkID)
	}
	if n.Driver != "bridge" {
		return nil, nil
	}
	if !bridge.Exists(n.Bridge) {
		// Removed behind our back (or by a daemon that shared it and
		// stopped): bring it back rather than fail the start.
		if err := s.setupBridgeLocked(n); err != nil {
			return nil, err
		}
	}
	pool := s.pools[n.ID]
	s.reapDrainsLocked(false)
	var ip netip.Addr
	if att.IPv4.IsValid() {
		if owner, ok := pool.Owner(att.IPv4); ok && owner == drainOwner {
			s.reapDrainsLocked(true) // the same container restarting with --ip
		}
		if err := pool.Reserve(att.IPv4, sb.ContainerID); err != nil {
			if errors.Is(err, ipam.ErrInUse) {
				return nil, errdefs.Conflictf("Address already in use")
			}
			return nil, errdefs.InvalidParameter(err)
		}
		ip = att.IPv4
	} else {
		a, err := pool.Allocate(sb.ContainerID)
		if errors.Is(err, ipam.ErrExhausted) && len(s.drains) > 0 {
			s.reapDrainsLocked(true)
			a, err = pool.Allocate(sb.ContainerID)
		}
		if err != nil {
			return nil, errdefs.Unavailable(fmt.Errorf("network %s: %w", n.Name, err))
		}
		ip = a
	}
	ep := &Endpoint{
		NetworkID: n.ID, ID: newID(), IP: ip, MAC: bridge.MACFor(ip).String(),
		IfName: nextIfName(sb), HostVeth: "veth" + randomHex(7),
	}
	if !n.Internal {
		ep.DefaultRoute = true
		for _, o := range sb.Endpoints {
			if o.DefaultRoute {
				ep.DefaultRoute = false
			}
		}
	}
	sb.Endpoints[n.ID] = ep
	if err := s.saveSandbox(sb); err != nil {
		pool.Release(ip)
		delete(sb.Endpoints, n.ID)
		return nil, err
	}
	bep := bridge.Endpoint{
		Bridge: n.Bridge, HostVeth: ep.HostVeth, Netns: sb.Netns, IfName: ep.IfName,
		Addr: netip.PrefixFrom(ip, n.Subnet.Bits()), MAC: bridge.MACFor(ip), MTU: n.MTU, Isolated: !n.ICC,
	}
	if ep.DefaultRoute {
		bep.Gateway = n.Gateway
	}
	if err := bridge.Attach(bep); err != nil {
		pool.Release(ip)
		delete(sb.Endpoints, n.ID)
		return nil, fmt.Errorf("failed to set up container networking: %w", err)
	}
	s.event(n, "connect", map[string]string{"container": sb.ContainerID})
	return ep, nil
}

func nextIfName(sb *Sandbox) string {
	for i := 0; ; i++ {
		name := fmt.Sprintf("eth%d", i)
		used := false
		for _, ep := range sb.Endpoints {
			if ep.IfName == name {
				used = true
			}
		}
		if !used {
			return name
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// Detach tears down a stopped container's network and releases its
// addresses and ports. It is safe to call for a container that has none.
func (s *Service) Detach(ctx context.Context, containerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxes[containerID]
	if sb == nil || (sb.Netns == "" && len(sb.Endpoints) == 0) {
		return
	}
	s.detachLocked(sb)
	if err := s.applyFirewallLocked(); err != nil {
		s.cfg.Log.Warn("firewall rules", "err", err)
	}
	s.refreshDNSLocked()
}

func (s *Service) detachLocked(sb *Sandbox) {
	if r := s.resolvers[sb.ContainerID]; r != nil {
		r.Close()
		delete(s.resolvers, sb.ContainerID)
	}
	for id, ep := range sb.Endpoints {
		s.releaseEndpointLocked(sb, id, ep)
	}
	s.releasePortsLocked(sb)
	if sb.Netns != "" {
		if err := bridge.DeleteNetns(sb.Netns); err != nil {
			s.cfg.Log.Warn("remove network namespace", "path", sb.Netns, "err", err)
		}
	}
	sb.Netns, sb.Endpoints, sb.Ports = "", nil, nil
	if err := s.saveSandbox(sb); err != nil {
		s.cfg.Log.Warn("save container networking", "container", sb.ContainerID, "err", err)
	}
}

func (s *Service) releaseEndpointLocked(sb *Sandbox, networkID string, ep *Endpoint) {
	pool := s.pools[networkID]
	d := &drain{veth: ep.HostVeth, networkID: networkID, done: make(chan struct{})}
	if pool != nil {
		if owner, ok := pool.Owner(ep.IP); ok && owner == sb.ContainerID {
			// The address stays taken until the link is gone: a new
			// endpoint with it (and its MAC) must not meet the old one on
			// the bridge.
			pool.Release(ep.IP)
			_ = pool.Reserve(ep.IP, drainOwner)
			d.ip = ep.IP
		}
	}
	// Deleting a link waits in the kernel for an RCU grace period or two
	// (about 10 ms each); the container has stopped and nothing waits on
	// its host end, so that happens in the background.
	s.drains = append(s.drains, d)
	go func() {
		defer close(d.done)
		if err := bridge.DeleteLink(d.veth); err != nil {
			s.cfg.Log.Warn("remove veth", "veth", d.veth, "err", err)
		}
	}()
	delete(sb.Endpoints, networkID)
	if n := s.networks[networkID]; n != nil {
		s.event(n, "disconnect", map[string]string{"container": sb.ContainerID})
	}
}

// drainOwner holds, in a pool, the address of an endpoint whose host veth
// is still being deleted.
const drainOwner = "(veth being removed)"

// drain is a host veth being deleted in the background and the address its
// container end had.
type drain struct {
	veth      string
	networkID string
	ip        netip.Addr // invalid when the endpoint did not own one
	done      chan struct{}
}

// reapDrainsLocked frees the addresses of deleted veths; with wait it
// first waits for every deletion under way.
func (s *Service) reapDrainsLocked(wait bool) {
	s.drains = slices.DeleteFunc(s.drains, func(d *drain) bool {
		if wait {
			<-d.done
		} else {
			select {
			case <-d.done:
			default:
				return false
			}
		}
		if pool := s.pools[d.networkID]; pool != nil && d.ip.IsValid() {
			if owner, ok := pool.Owner(d.ip); ok && owner == drainOwner {
				pool.Release(d.ip)
			}
		}
		return true
	})
}

// Connect connects a container to a network (docker network connect). A
// running container gets the endpoint at once; a stopped one at start.
func (s *Service) Connect(ctx context.Context, netRef string, req network.ConnectRequest) error {
	s.mu.RLock()
	lookup := s.containers
	s.mu.RUnlock()
	if lookup == nil {
		return errdefs.Unavailablef("containers are not available")
	}
	id, name, err := lookup.ResolveContainer(req.Container)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.findLocked(netRef)
	if err != nil {
		return err
	}
	sb := s.sandboxes[id]
	if sb == nil {
		return errdefs.NotFoundf("container %s has no network configuration", req.Container)
	}
	mode := container.NetworkMode(sb.Mode)
	if mode.IsHost() || n.Driver == "host" {
		return errdefs.Forbiddenf("container cannot be disconnected from host network or connected to host network")
	}
	if !sb.ownNamespace() || n.Driver == "null" {
		return errdefs.Forbiddenf("container sharing network namespace with another container or host cannot be connected to any other network")
	}
	if sb.attachment(n.ID) != nil {
		return errdefs.Forbiddenf("endpoint with name %s already exists in network %s", name, n.Name)
	}
	if err := validateEndpoint(n, req.EndpointConfig); err != nil {
		return err
	}
	att := attachmentFor(n, req.EndpointConfig)
	if sb.Netns != "" {
		if _, err := s.connectLocked(sb, att); err != nil {
			return err
		}
	}
	sb.Attachments = append(sb.Attachments, att)
	if err := s.saveSandbox(sb); err != nil {
		return err
	}
	if sb.Netns != "" {
		if err := s.applyFirewallLocked(); err != nil {
			s.cfg.Log.Warn("firewall rules", "err", err)
		}
		s.refreshDNSLocked()
		if err := s.startResolverLocked(sb); err != nil {
			s.cfg.Log.Warn("embedded DNS", "container", id, "err", err)
		}
	}
	return nil
}

// Disconnect removes a container from a network.
func (s *Service) Disconnect(ctx context.Context, netRef string, req network.DisconnectRequest) error {
	s.mu.RLock()
	lookup := s.containers
	s.mu.RUnlock()
	if lookup == nil {
		return errdefs.Unavailablef("containers are not available")
	}
	// Resolved before taking the lock: the container service calls this
	// one while holding its own locks.
	id, _, resolveErr := lookup.ResolveContainer(req.Container)
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.findLocked(netRef)
	if err != nil {
		return err
	}
	if err := resolveErr; err != nil {
		if !req.Force {
			return err
		}
		// Force disconnects an endpoint whose container is gone.
		id = ""
		for cid, sb := range s.sandboxes {
			if sb.Name == req.Container || strings.HasPrefix(cid, req.Container) {
				id = cid
			}
		}
		if id == "" {
			return err
		}
	}
	sb := s.sandboxes[id]
	if sb == nil || sb.attachment(n.ID) == nil {
		return errdefs.Forbiddenf("container %s is not connected to network %s", req.Container, n.Name)
	}
	if container.NetworkMode(sb.Mode).IsHost() {
		return errdefs.Forbiddenf("container cannot be disconnected from host network or connected to host network")
	}
	if ep := sb.Endpoints[n.ID]; ep != nil {
		if err := bridge.DeleteInNetns(sb.Netns, ep.IfName); err != nil {
			s.cfg.Log.Warn("remove interface", "container", id, "err", err)
		}
		s.releaseEndpointLocked(sb, n.ID, ep)
	}
	sb.Attachments = slices.DeleteFunc(sb.Attachments, func(a Attachment) bool { return a.NetworkID == n.ID })
	if sb.Mode == n.ID || sb.Mode == n.Name {
		// The network mode named this network: the next one takes its
		// place. With none left the container keeps a namespace of its
		// own (loopback only), as with dockerd.
		if len(sb.Attachments) > 0 {
			sb.Mode = sb.Attachments[0].NetworkID
		}
	}
	if err := s.saveSandbox(sb); err != nil {
		return err
	}
	if sb.Netns != "" {
		if err := s.applyFirewallLocked(); err != nil {
			s.cfg.Log.Warn("firewall rules", "err", err)
		}
		s.refreshDNSLocked()
		if !s.wantsResolverLocked(sb) {
			if r := s.resolvers[id]; r != nil {
				r.Close()
				delete(s.resolvers, id)
			}
		}
	}
	return nil
}

// wantsResolverLocked reports whether the sandbox is on a user-defined
// network, where docker runs its embedded DNS.
func (s *Service) wantsResolverLocked(sb *Sandbox) bool {
	for _, a := range sb.Attachments {
		if n := s.networks[a.NetworkID]; n != nil && n.userDefined() {
			return true
		}
	}
	return false
}

func (s *Service) startResolverLocked(sb *Sandbox) error {
	if sb.Netns == "" || s.resolvers[sb.ContainerID] != nil || !s.wantsResolverLocked(sb) {
		return nil
	}
	r, err := dns.Start(dns.Options{Netns: sb.Netns, Upstreams: s.upstreams(sb), Lookup: &resolverView{s: s, id: sb.ContainerID}})
	if err != nil {
		return err
	}
	s.resolvers[sb.ContainerID] = r
	return nil
}

// upstreams are where the embedded DNS forwards: --dns when given, else
// the host's nameservers. Forwarding happens from the host's namespace, so
// a loopback resolver on the host (systemd-resolved) works too.
func (s *Service) upstreams(sb *Sandbox) []string {
	if len(sb.DNS) > 0 {
		return sb.DNS
	}
	rc := ReadResolvConf(s.cfg.ResolvConf)
	return rc.Nameservers
}

// EtcInfo is what the container's /etc/hosts and /etc/resolv.conf need.
type EtcInfo struct {
	Addrs       []netip.Addr // the container's addresses, primary first
	EmbeddedDNS bool         // resolv.conf names 127.0.0.11
	HostGateway netip.Addr   // host-gateway in --add-host: the default bridge's gateway
	Links       []HostEntry  // --link entries
}

// HostEntry is an /etc/hosts line.
type HostEntry struct {
	IP    netip.Addr
	Names []string
}

// EtcInfo describes a container for its /etc files; call after Attach.
func (s *Service) EtcInfo(containerID string) EtcInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var info EtcInfo
	if n := s.byNameLocked(DefaultBridgeName); n != nil {
		info.HostGateway = n.Gateway
	}
	sb := s.sandboxes[containerID]
	if sb == nil {
		return info
	}
	for _, a := range sb.Attachments {
		if ep := sb.Endpoints[a.NetworkID]; ep != nil {
			info.Addrs = append(info.Addrs, ep.IP)
		}
	}
	info.EmbeddedDNS = sb.Netns != "" && s.wantsResolverLocked(sb)
	for _, l := range sb.Links {
		name, alias, _ := strings.Cut(l, ":")
		name = strings.TrimPrefix(name, "/")
		alias = alias[strings.LastIndex(alias, "/")+1:]
		if other := s.sandboxByNameLocked(name); other != nil {
			if ip := sharedIP(sb, other); ip.IsValid() {
				names := []string{alias}
				if alias != name {
					names = append(names, name)
				}
				if alias == "" {
					names = []string{name}
				}
				info.Links = append(info.Links, HostEntry{IP: ip, Names: names})
			}
		}
	}
	return info
}

func (s *Service) sandboxByNameLocked(name string) *Sandbox {
	for _, sb := range s.sandboxes {
		if sb.Name == name || sb.ContainerID == name {
			return sb
		}
	}
	return nil
}

// sharedIP is other's address on a network both are on.
func sharedIP(sb, other *Sandbox) netip.Addr {
	for id := range sb.Endpoints {
		if ep := other.Endpoints[id]; ep != nil {
			return ep.IP
		}
	}
	return netip.Addr{}
}

// ContainerSettings is inspect's NetworkSettings.
func (s *Service) ContainerSettings(containerID string) *container.NetworkSettings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}, Ports: network.PortMap{}}
	sb := s.sandboxes[containerID]
	if sb == nil {
		return out
	}
	if sb.Netns != "" {
		out.SandboxKey = sb.Netns
		out.SandboxID = sb.ContainerID[:12] + strings.Repeat("0", 52)
		for _, p := range sb.Exposed {
			out.Ports[p] = nil
		}
		for _, m := range sb.Ports {
			p, ok := network.PortFrom(m.ContainerPort, network.IPProtocol(m.Proto))
			if !ok {
				continue
			}
			out.Ports[p] = append(out.Ports[p], network.PortBinding{HostIP: m.HostIP, HostPort: fmt.Sprint(m.HostPort)})
		}
	}
	for _, a := range sb.Attachments {
		n := s.networks[a.NetworkID]
		if n == nil {
			continue
		}
		es := &network.EndpointSettings{NetworkID: n.ID, Aliases: a.Aliases, Links: a.Links}
		if a.IPv4.IsValid() {
			es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a.IPv4}
		}
		if ep := sb.Endpoints[n.ID]; ep != nil {
			es.EndpointID = ep.ID
			es.IPAddress = ep.IP
			es.IPPrefixLen = n.Subnet.Bits()
			es.Gateway = n.Gateway
			if mac, err := net.ParseMAC(ep.MAC); err == nil {
				es.MacAddress = network.HardwareAddr(mac)
			}
		}
		if n.userDefined() {
			es.DNSNames = append([]string{sb.Name}, a.Aliases...)
			es.DNSNames = append(es.DNSNames, sb.ContainerID[:12])
		}
		out.Networks[n.Name] = es
	}
	return out
}

// ContainerPorts is ps's Ports column: published ports of a running
// container, then its exposed but unpublished ones.
func (s *Service) ContainerPorts(containerID string) []container.PortSummary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []container.PortSummary{}
	sb := s.sandboxes[containerID]
	if sb == nil || sb.Netns == "" {
		return out
	}
	published := map[network.Port]bool{}
	for _, m := range sb.Ports {
		if p, ok := network.PortFrom(m.ContainerPort, network.IPProtocol(m.Proto)); ok {
			published[p] = true
		}
		out = append(out, container.PortSummary{IP: m.HostIP, PrivatePort: m.ContainerPort, PublicPort: m.HostPort, Type: m.Proto})
	}
	for _, p := range sb.Exposed {
		if !published[p] {
			out = append(out, container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
		}
	}
	return out
}
