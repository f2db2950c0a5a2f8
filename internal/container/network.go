package container

import (
	"context"
	"errors"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
	netsvc "github.com/berth-engine/berth/internal/network"
)

// Networks is the network service as the container service uses it:
// create validates and records a container's networking, start attaches
// it (a namespace with its endpoints, ports and DNS), exit detaches it,
// remove forgets it, and inspect and ps read it back.
type Networks interface {
	ValidateContainer(hc *container.HostConfig, nc *network.NetworkingConfig) error
	Register(ctx context.Context, req netsvc.ContainerRequest) error
	Unregister(ctx context.Context, containerID string)
	Rename(containerID, name string)
	Attach(ctx context.Context, containerID string) (netnsPath string, err error)
	Detach(ctx context.Context, containerID string)
	EtcInfo(containerID string) netsvc.EtcInfo
	ContainerSettings(containerID string) *container.NetworkSettings
	ContainerPorts(containerID string) []container.PortSummary
}

var _ Networks = (*netsvc.Service)(nil)

// networkRecords is a Networks that keeps its records in a database: in
// the container store's, a container's record and its networking's are
// written in one commit (one fdatasync pair less per create and removal).
// The records are prepared before the container store's transaction (the
// network service takes its lock for that, and writes to the database
// under it); the transaction only writes them.
type networkRecords interface {
	DB() *bolt.DB
	PrepareRegister(req netsvc.ContainerRequest) (put func(*bolt.Tx) error, apply func(), err error)
	PrepareUnregister(containerID string) (put func(*bolt.Tx) error, apply func())
}

var _ networkRecords = (*netsvc.Service)(nil)

func (s *Service) sharedNetworkRecords() networkRecords {
	if nr, ok := s.cfg.Networks.(networkRecords); ok && nr.DB() == s.cfg.DB {
		return nr
	}
	return nil
}

// addRecord stores a new container and registers its networking; on an
// error neither is done.
func (s *Service) addRecord(ctx context.Context, c *Container, nc *network.NetworkingConfig) error {
	commit, err := s.insertRecord(ctx, c, nc)
	if err != nil {
		return err
	}
	return commit()
}

// insertRecord makes a new container visible, its name reserved, and
// returns the commit of its record and networking, for the caller to run
// now or later (it holds c.mu until it has); on an error from either,
// neither is kept.
func (s *Service) insertRecord(ctx context.Context, c *Container, nc *network.NetworkingConfig) (commit func() error, err error) {
	nr := s.sharedNetworkRecords()
	if nr == nil {
		if err := s.store.add(c, nil); err != nil {
			return nil, err
		}
		if err := s.registerNetwork(ctx, c, nc); err != nil {
			_ = s.store.delete(c, nil)
			return nil, err
		}
		return func() error { return nil }, nil
	}
	put, apply, err := nr.PrepareRegister(s.networkRequest(c, nc))
	if err != nil {
		return nil, err
	}
	if err := s.store.insert(c); err != nil {
		return nil, err
	}
	return func() error {
		if err := s.store.commitAdd(c, put); err != nil {
			s.store.forget(c)
			return err
		}
		apply()
		return nil
	}, nil
}

// deleteRecord forgets a container and its networking (released first).
func (s *Service) deleteRecord(ctx context.Context, c *Container) error {
	return s.forgetRecord(ctx, c, false)()
}

// forgetRecord forgets a container and its networking (released first)
// and returns the commit of the deletion, for the caller to run. With
// early, the container is forgotten at once and the commit may follow any
// time later (a daemon that dies before it finds the record again at its
// next start); otherwise it is forgotten once the commit has succeeded.
func (s *Service) forgetRecord(ctx context.Context, c *Container, early bool) (commit func() error) {
	var put func(*bolt.Tx) error
	apply := func() { s.unregisterNetwork(ctx, c) }
	if nr := s.sharedNetworkRecords(); nr != nil {
		s.disconnectNetwork(ctx, c)
		put, apply = nr.PrepareUnregister(c.ID)
	}
	if early {
		s.store.forget(c)
		apply()
		return func() error { return s.store.commitDelete(c, put) }
	}
	return func() error {
		if err := s.store.delete(c, put); err != nil {
			return err
		}
		apply()
		return nil
	}
}

// connectNetwork prepares the container's network before its process
// starts. It returns the path of a network namespace for the runtime to
// join, or "" to let the runtime make a fresh one (loopback only) or use
// the one its network mode names (host, container:<id>).
func (s *Service) connectNetwork(ctx context.Context, c *Container) (netnsPath string, err error) {
	if s.cfg.Networks == nil {
		return "", nil
	}
	return s.cfg.Networks.Attach(ctx, c.ID)
}

// disconnectNetwork releases what connectNetwork set up; it is called when
// the container stops and when a start fails.
func (s *Service) disconnectNetwork(ctx context.Context, c *Container) {
	if s.cfg.Networks != nil {
		s.cfg.Networks.Detach(ctx, c.ID)
	}
}

// registerNetwork records a new container's networking with the network
// service; validateNetworkMode has accepted it already.
func (s *Service) registerNetwork(ctx context.Context, c *Container, nc *network.NetworkingConfig) error {
	if s.cfg.Networks == nil {
		return nil
	}
	return s.cfg.Networks.Register(ctx, s.networkRequest(c, nc))
}

func (s *Service) networkRequest(c *Container, nc *network.NetworkingConfig) netsvc.ContainerRequest {
	return netsvc.ContainerRequest{
		ID: c.ID, Name: c.Name, Hostname: c.Config.Hostname, HostConfig: c.HostConfig,
		ExposedPorts: c.Config.ExposedPorts, Networking: nc,
	}
}

// unregisterNetwork forgets a removed container's networking.
func (s *Service) unregisterNetwork(ctx context.Context, c *Container) {
	if s.cfg.Networks != nil {
		s.cfg.Networks.Unregister(ctx, c.ID)
	}
}

// renameNetwork makes the embedded DNS answer to the container's new name.
func (s *Service) renameNetwork(c *Container) {
	if s.cfg.Networks != nil {
		s.cfg.Networks.Rename(c.ID, c.Name)
	}
}

// networkSettings is inspect's NetworkSettings.
func (s *Service) networkSettings(c *Container) *container.NetworkSettings {
	if s.cfg.Networks == nil {
		return &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}}
	}
	return s.cfg.Networks.ContainerSettings(c.ID)
}

// portSummaries is ps's Ports column.
func (s *Service) portSummaries(c *Container) []container.PortSummary {
	if s.cfg.Networks == nil {
		return []container.PortSummary{}
	}
	return s.cfg.Networks.ContainerPorts(c.ID)
}

// onNetwork is ps's network filter: the container's network mode, or the
// name or ID of any network it is connected to.
func (s *Service) onNetwork(c *Container, refs []string) bool {
	if contains(refs, string(c.HostConfig.NetworkMode)) {
		return true
	}
	for name, es := range s.networkSettings(c).Networks {
		for _, r := range refs {
			if r == name || (es != nil && r != "" && strings.HasPrefix(es.NetworkID, r)) {
				return true
			}
		}
	}
	return false
}

// validateNetworkMode checks the network mode and endpoint settings of a
// create request; without a network service only the predefined modes are
// accepted.
func (s *Service) validateNetworkMode(hc *container.HostConfig, nc *network.NetworkingConfig) error {
	if s.cfg.Networks != nil {
		return s.cfg.Networks.ValidateContainer(hc, nc)
	}
	mode := hc.NetworkMode
	switch {
	case mode == "", mode == "default", mode == "bridge", mode.IsHost(), mode.IsNone(), mode.IsContainer():
		if mode.IsContainer() && mode.ConnectedContainer() == "" {
			return errdefs.InvalidParameterf("invalid network mode: %s", mode)
		}
		return nil
	}
	return errdefs.NotFound(errors.New("network " + string(mode) + " not found"))
}
