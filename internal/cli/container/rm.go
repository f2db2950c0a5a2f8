package container

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// RmOptions are the flags of `berth rm`.
type RmOptions struct {
	Force      bool
	Volumes    bool
	Link       bool
	Containers []string
}

// NewRmCommand returns `berth rm` (also `berth container rm`).
func NewRmCommand(c *cli.CLI) *cobra.Command {
	var opts RmOptions
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Containers = args
			return RunRm(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	f.BoolVarP(&opts.Link, "link", "l", false, "Remove the specified link")
	f.BoolVarP(&opts.Volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	return cmd
}

// RunRm removes each container, printing the name given. With -f a
// container that does not exist is reported but is not a failure, so
// `rm -f` is idempotent in scripts, as with docker.
func RunRm(ctx context.Context, c *cli.CLI, opts RmOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, name := range opts.Containers {
		id := strings.Trim(name, "/")
		if id == "" {
			errs = append(errs, errors.New("container name cannot be empty").Error())
			continue
		}
		_, err := cl.ContainerRemove(ctx, id, client.ContainerRemoveOptions{
			Force: opts.Force, RemoveVolumes: opts.Volumes, RemoveLinks: opts.Link,
		})
		if err != nil {
			if opts.Force && cerrdefs.IsNotFound(err) {
				fmt.Fprintln(c.Err, err)
				continue
			}
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	return multiError(errs)
}
