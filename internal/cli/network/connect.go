package network

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// ConnectOptions are the flags of `berth network connect`.
type ConnectOptions struct {
	Network, Container string
	IPv4, IPv6         string
	Links, Aliases     []string
	LinkLocalIPs       []string
	DriverOpts         []string
	GwPriority         int
}

// NewConnectCommand returns `berth network connect`.
func NewConnectCommand(c *cli.CLI) *cobra.Command {
	var opts ConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Network, opts.Container = args[0], args[1]
			return RunConnect(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.IPv4, "ip", "", "IPv4 address (e.g., \"172.30.100.104\")")
	f.StringVar(&opts.IPv6, "ip6", "", "IPv6 address (e.g., \"2001:db8::33\")")
	f.StringArrayVar(&opts.Links, "link", nil, "Add link to another container")
	f.StringArrayVar(&opts.Aliases, "alias", nil, "Add network-scoped alias for the container")
	f.StringArrayVar(&opts.LinkLocalIPs, "link-local-ip", nil, "Add a link-local address for the container")
	f.StringArrayVar(&opts.DriverOpts, "driver-opt", nil, "driver options for the network")
	f.IntVar(&opts.GwPriority, "gw-priority", 0, "Highest gw-priority provides the default gateway. Accepts positive and negative values.")
	return cmd
}

// RunConnect connects the container.
func RunConnect(ctx context.Context, c *cli.CLI, opts ConnectOptions) error {
	es := &network.EndpointSettings{Links: opts.Links, Aliases: opts.Aliases, GwPriority: opts.GwPriority}
	if len(opts.DriverOpts) > 0 {
		es.DriverOpts = kvMap(opts.DriverOpts)
	}
	if opts.IPv4 != "" || opts.IPv6 != "" || len(opts.LinkLocalIPs) > 0 {
		es.IPAMConfig = &network.EndpointIPAMConfig{}
		if opts.IPv4 != "" {
			a, err := netip.ParseAddr(opts.IPv4)
			if err != nil {
				return fmt.Errorf("invalid IPv4 address: %s", opts.IPv4)
			}
			es.IPAMConfig.IPv4Address = a
		}
		if opts.IPv6 != "" {
			a, err := netip.ParseAddr(opts.IPv6)
			if err != nil {
				return fmt.Errorf("invalid IPv6 address: %s", opts.IPv6)
			}
			es.IPAMConfig.IPv6Address = a
		}
		for _, s := range opts.LinkLocalIPs {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("invalid link-local address: %s", s)
			}
			es.IPAMConfig.LinkLocalIPs = append(es.IPAMConfig.LinkLocalIPs, a)
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	_, err = cl.NetworkConnect(ctx, opts.Network, client.NetworkConnectOptions{Container: opts.Container, EndpointConfig: es})
	return err
}

// DisconnectOptions are the flags of `berth network disconnect`.
type DisconnectOptions struct {
	Network, Container string
	Force              bool
}

// NewDisconnectCommand returns `berth network disconnect`.
func NewDisconnectCommand(c *cli.CLI) *cobra.Command {
	var opts DisconnectOptions
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Network, opts.Container = args[0], args[1]
			cl, err := c.Client()
			if err != nil {
				return err
			}
			_, err = cl.NetworkDisconnect(cmd.Context(), opts.Network, client.NetworkDisconnectOptions{Container: opts.Container, Force: opts.Force})
			return err
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}
