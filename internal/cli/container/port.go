package container

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// PortOptions are the arguments of `berth port`.
type PortOptions struct {
	Container string
	Port      string // PRIVATE_PORT[/PROTO]; empty lists every mapping
}

// NewPortCommand returns `berth port` (also `container port`).
func NewPortCommand(c *cli.CLI) *cobra.Command {
	var opts PortOptions
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				return cli.RequiresMaxArgs(2)(cmd, args)
			}
			opts.Container = args[0]
			if len(args) == 2 {
				opts.Port = args[1]
			}
			return RunPort(cmd.Context(), c, opts)
		},
	}
}

// RunPort prints the container's published ports the way docker does:
// "80/tcp -> 0.0.0.0:8080" per binding, or just the host side for one port.
func RunPort(ctx context.Context, c *cli.CLI, opts PortOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	r, err := cl.ContainerInspect(ctx, opts.Container, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	var ports network.PortMap
	if r.Container.NetworkSettings != nil {
		ports = r.Container.NetworkSettings.Ports
	}
	lines, err := portLines(ports, opts.Port)
	if err != nil {
		return fmt.Errorf("%w for %s", err, opts.Container)
	}
	for _, l := range lines {
		fmt.Fprintln(c.Out, l)
	}
	return nil
}

// portLines renders a port map, sorted by port then protocol.
func portLines(ports network.PortMap, want string) ([]string, error) {
	if want != "" {
		num, proto, _ := strings.Cut(want, "/")
		if proto == "" {
			proto = "tcp"
		}
		n, err := strconv.ParseUint(num, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid port (%s): %w", num, err)
		}
		p, ok := network.PortFrom(uint16(n), network.IPProtocol(proto))
		if !ok {
			return nil, fmt.Errorf("invalid port (%s)", want)
		}
		var out []string
		for _, b := range ports[p] {
			out = append(out, hostAddr(b))
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("Error: No public port '%s' published", p)
		}
		return out, nil
	}
	keys := make([]network.Port, 0, len(ports))
	for p := range ports {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Num() != keys[j].Num() {
			return keys[i].Num() < keys[j].Num()
		}
		return keys[i].Proto() < keys[j].Proto()
	})
	var out []string
	for _, p := range keys {
		for _, b := range ports[p] {
			out = append(out, fmt.Sprintf("%s -> %s", p, hostAddr(b)))
		}
	}
	return out, nil
}

func hostAddr(b network.PortBinding) string {
	ip := "0.0.0.0"
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return net.JoinHostPort(ip, b.HostPort)
}
