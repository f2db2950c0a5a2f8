package container

import (
	"context"
	"errors"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/errdefs"
)

// The container service's side of networking. The hooks below are called
// from create, start, exit, remove, inspect and ps; the network service
// plugs in here.

// connectNetwork prepares the container's network before its process
// starts. It returns the path of a network namespace for the runtime to
// join, or "" to let the runtime make a fresh one (loopback only).
func (s *Service) connectNetwork(ctx context.Context, c *Container) (netnsPath string, err error) {
	return "", nil
}

// disconnectNetwork releases what connectNetwork set up; it is called when
// the container stops and when a start fails.
func (s *Service) disconnectNetwork(ctx context.Context, c *Container) {}

// networkSettings is inspect's NetworkSettings.
func (s *Service) networkSettings(c *Container) *container.NetworkSettings {
	return &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}}
}

// portSummaries is ps's Ports column.
func (s *Service) portSummaries(c *Container) []container.PortSummary {
	return []container.PortSummary{}
}

// validateNetworkMode accepts the modes this build implements.
func validateNetworkMode(hc *container.HostConfig) error {
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
