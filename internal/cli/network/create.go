package network

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// CreateOptions are the flags of `berth network create`.
type CreateOptions struct {
	Name       string
	Driver     string
	Opts       []string
	Labels     []string
	Internal   bool
	Attachable bool
	Ingress    bool
	IPv4       bool
	IPv6       bool
	Scope      string
	ConfigOnly bool
	ConfigFrom string
	IPAMDriver string
	IPAMOpts   []string
	Subnets    []string
	IPRanges   []string
	Gateways   []string
	AuxAddrs   []string
}

// NewCreateCommand returns `berth network create`.
func NewCreateCommand(c *cli.CLI) *cobra.Command {
	var opts CreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return RunCreate(cmd.Context(), c, opts, cmd.Flags().Changed("ipv4"))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.StringArrayVarP(&opts.Opts, "opt", "o", nil, "Set driver specific options")
	f.StringArrayVar(&opts.Labels, "label", nil, "Set metadata on a network")
	f.BoolVar(&opts.Internal, "internal", false, "Restrict external access to the network")
	f.BoolVar(&opts.Attachable, "attachable", false, "Enable manual container attachment")
	f.BoolVar(&opts.Ingress, "ingress", false, "Create swarm routing-mesh network")
	f.BoolVar(&opts.IPv4, "ipv4", true, "Enable or disable IPv4 address assignment")
	f.BoolVar(&opts.IPv6, "ipv6", false, "Enable or disable IPv6 address assignment")
	f.StringVar(&opts.Scope, "scope", "", "Control the network's scope")
	f.BoolVar(&opts.ConfigOnly, "config-only", false, "Create a configuration only network")
	f.StringVar(&opts.ConfigFrom, "config-from", "", "The network from which to copy the configuration")
	f.StringVar(&opts.IPAMDriver, "ipam-driver", "default", "IP Address Management Driver")
	f.StringArrayVar(&opts.IPAMOpts, "ipam-opt", nil, "Set IPAM driver specific options")
	f.StringArrayVar(&opts.Subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment")
	f.StringArrayVar(&opts.IPRanges, "ip-range", nil, "Allocate container ip from a sub-range")
	f.StringArrayVar(&opts.Gateways, "gateway", nil, "IPv4 or IPv6 Gateway for the master subnet")
	f.StringArrayVar(&opts.AuxAddrs, "aux-address", nil, "Auxiliary IPv4 or IPv6 addresses used by Network driver")
	return cmd
}

// RunCreate creates the network and prints its ID.
func RunCreate(ctx context.Context, c *cli.CLI, opts CreateOptions, ipv4Set bool) error {
	ipamCfg, err := ipamConfig(opts)
	if err != nil {
		return err
	}
	co := client.NetworkCreateOptions{
		Driver: opts.Driver, Scope: opts.Scope, Internal: opts.Internal, Attachable: opts.Attachable,
		Ingress: opts.Ingress, ConfigOnly: opts.ConfigOnly, ConfigFrom: opts.ConfigFrom,
		Options: kvMap(opts.Opts), Labels: kvMap(opts.Labels),
		IPAM: &network.IPAM{Driver: opts.IPAMDriver, Config: ipamCfg, Options: kvMap(opts.IPAMOpts)},
	}
	if ipv4Set {
		co.EnableIPv4 = &opts.IPv4
	}
	if opts.IPv6 {
		co.EnableIPv6 = &opts.IPv6
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.NetworkCreate(ctx, opts.Name, co)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Out, res.ID)
	return nil
}

// ipamConfig pairs each --ip-range, --gateway and --aux-address with the
// --subnet that contains it, as docker does.
func ipamConfig(opts CreateOptions) ([]network.IPAMConfig, error) {
	var out []network.IPAMConfig
	for _, s := range opts.Subnets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("invalid subnet %s: %w", s, err)
		}
		out = append(out, network.IPAMConfig{Subnet: p})
	}
	find := func(a netip.Addr, what, v string) (*network.IPAMConfig, error) {
		for i := range out {
			if out[i].Subnet.Contains(a) {
				return &out[i], nil
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("every %s must be paired with a --subnet", what)
		}
		return nil, fmt.Errorf("no matching subnet for %s %s", what, v)
	}
	for _, r := range opts.IPRanges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, fmt.Errorf("invalid ip-range %s: %w", r, err)
		}
		cfg, err := find(p.Addr(), "range", r)
		if err != nil {
			return nil, err
		}
		if cfg.IPRange.IsValid() {
			return nil, fmt.Errorf("cannot configure multiple ranges (%s, %s) on the same subnet (%s)", r, cfg.IPRange, cfg.Subnet)
		}
		cfg.IPRange = p
	}
	for _, g := range opts.Gateways {
		a, err := netip.ParseAddr(g)
		if err != nil {
			return nil, fmt.Errorf("invalid gateway %s: %w", g, err)
		}
		cfg, err := find(a, "gateway", g)
		if err != nil {
			// Let the daemon word an out-of-subnet gateway.
			if len(out) == 1 {
				out[0].Gateway = a
				continue
			}
			return nil, err
		}
		if cfg.Gateway.IsValid() {
			return nil, fmt.Errorf("cannot configure multiple gateways (%s, %s) for the same subnet (%s)", g, cfg.Gateway, cfg.Subnet)
		}
		cfg.Gateway = a
	}
	for _, kv := range opts.AuxAddrs {
		k, v, ok := strings.Cut(kv, "=")
		a, err := netip.ParseAddr(v)
		if !ok || err != nil {
			return nil, fmt.Errorf("invalid aux-address %s", kv)
		}
		cfg, err := find(a, "auxiliary address", v)
		if err != nil {
			return nil, err
		}
		if cfg.AuxAddress == nil {
			cfg.AuxAddress = map[string]netip.Addr{}
		}
		cfg.AuxAddress[k] = a
	}
	return out, nil
}

func kvMap(list []string) map[string]string {
	m := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
