package daemon

import (
	"context"

	"github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/network"
	"github.com/berth-engine/berth/internal/runtime/spec"
)

// initNetworks builds the network service: predefined networks, bridges,
// the endpoints of containers still running, their firewall rules and DNS.
func (d *Daemon) initNetworks() error {
	svc, err := network.New(network.Config{
		ExecRoot: d.cfg.ExecRoot,
		DB:       d.db,
		Bip:      d.cfg.Bip,
		Firewall: d.cfg.Iptables == nil || *d.cfg.Iptables,
		// Docker's, as the runtime sets them in a namespace it makes.
		NetnsSysctls: spec.NetnsSysctls(),
		Events:       d.bus,
		Log:          d.log.With("service", "network"),
	})
	if err != nil {
		return err
	}
	d.networks = svc
	return nil
}

// containersForNetworks adapts the container service to what the network
// service needs: container references resolved to ID and name.
type containersForNetworks struct{ containers *container.Service }

func (a containersForNetworks) ResolveContainer(ref string) (string, string, error) {
	c, err := a.containers.Inspect(context.Background(), ref, false)
	if err != nil {
		return "", "", err
	}
	return c.ID, c.Name, nil
}
