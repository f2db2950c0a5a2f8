package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/image"
)

// InspectOptions are the flags of `berth inspect` and `container inspect`.
type InspectOptions struct {
	Format string
	Size   bool
	Type   string
	Refs   []string
}

const inspectFormatHelp = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template."

// NewContainerInspectCommand returns `berth container inspect`.
func NewContainerInspectCommand(c *cli.CLI) *cobra.Command {
	var opts InspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs, opts.Type = args, "container"
			return RunInspect(cmd.Context(), c, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", inspectFormatHelp)
	cmd.Flags().BoolVarP(&opts.Size, "size", "s", false, "Display total file sizes")
	return cmd
}

// NewInspectCommand returns the generic `berth inspect`, which looks a name
// up as a container, then an image, a network and a volume.
func NewInspectCommand(c *cli.CLI) *cobra.Command {
	var opts InspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs = args
			return RunInspect(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Format, "format", "f", "", inspectFormatHelp)
	f.BoolVarP(&opts.Size, "size", "s", false, "Display total file sizes if the type is container")
	f.StringVar(&opts.Type, "type", "", "Only inspect objects of the given type")
	return cmd
}

type inspected = image.Inspected

type inspectFunc func(ctx context.Context, cl *client.Client, ref string, size bool) (inspected, error)

var inspectors = map[string]inspectFunc{
	"container": func(ctx context.Context, cl *client.Client, ref string, size bool) (inspected, error) {
		r, err := cl.ContainerInspect(ctx, ref, client.ContainerInspectOptions{Size: size})
		return inspected{Value: r.Container, Raw: r.Raw}, err
	},
	"image": func(ctx context.Context, cl *client.Client, ref string, _ bool) (inspected, error) {
		var raw bytes.Buffer
		r, err := cl.ImageInspect(ctx, ref, client.ImageInspectWithRawResponse(&raw))
		return inspected{Value: r.InspectResponse, Raw: raw.Bytes()}, err
	},
	"volume": func(ctx context.Context, cl *client.Client, ref string, _ bool) (inspected, error) {
		r, err := cl.VolumeInspect(ctx, ref, client.VolumeInspectOptions{})
		return inspected{Value: r.Volume, Raw: r.Raw}, err
	},
	"network": func(ctx context.Context, cl *client.Client, ref string, _ bool) (inspected, error) {
		r, err := cl.NetworkInspect(ctx, ref, client.NetworkInspectOptions{})
		return inspected{Value: r.Network, Raw: r.Raw}, err
	},
}

// inspectOrder is the order the generic inspect tries, as docker's.
var inspectOrder = []string{"container", "image", "network", "volume"}

// RunInspect prints each object as an indented JSON array, or each through
// --format. Objects not found are reported after the rest, exit 1.
func RunInspect(ctx context.Context, c *cli.CLI, opts InspectOptions) error {
	types := inspectOrder
	if opts.Type != "" {
		if _, ok := inspectors[opts.Type]; !ok {
			switch opts.Type {
			case "config", "node", "plugin", "secret", "service", "task":
				// Swarm and plugin objects do not exist in Berth.
				return fmt.Errorf("inspecting %s objects is not supported", opts.Type)
			}
			return fmt.Errorf(`unknown type: %q: must be one of "config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"`, opts.Type)
		}
		types = []string{opts.Type}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var found []inspected
	var errs []string
	for _, ref := range opts.Refs {
		obj, err := inspectOne(ctx, cl, types, ref, opts.Size)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		found = append(found, obj)
	}
	if err := image.WriteInspect(c.Out, opts.Format, found); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

func inspectOne(ctx context.Context, cl *client.Client, types []string, ref string, size bool) (inspected, error) {
	for _, t := range types {
		obj, err := inspectors[t](ctx, cl, ref, size)
		if err == nil {
			return obj, nil
		}
		if !cerrdefs.IsNotFound(err) {
			return inspected{}, err
		}
		if len(types) == 1 {
			// Asked for one type, docker shows the daemon's own error.
			return inspected{}, err
		}
	}
	return inspected{}, fmt.Errorf("Error: No such object: %s", ref) //nolint:staticcheck // docker's wording
}
