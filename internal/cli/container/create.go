package container

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/image"
	"github.com/berth-engine/berth/internal/cli/imgref"
)

// NewCreateCommand returns `berth create` (also `berth container create`).
func NewCreateCommand(c *cli.CLI) *cobra.Command {
	opts := newContainerOptions()
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := opts.parse(cmd.Flags(), args)
			if err != nil {
				return createError(cmd, err)
			}
			if err := validatePull(opts.pull); err != nil {
				return createError(cmd, err)
			}
			id, err := createContainer(cmd.Context(), c, cc, opts)
			if err != nil {
				return createError(cmd, err)
			}
			fmt.Fprintln(c.Out, id)
			return nil
		},
	}
	opts.addFlags(cmd.Flags())
	cmd.Flags().Lookup("pull").Usage = `Pull image before creating ("always", "|missing", "never")`
	return cmd
}

func validatePull(p string) error {
	switch p {
	case pullAlways, pullMissing, pullNever:
		return nil
	}
	return fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never"`, p)
}

// createContainer creates the container, pulling the image first with
// --pull=always, or after the daemon says it has no such image with the
// default --pull=missing. Pull progress goes to stderr so that stdout keeps
// only the ID (or the container's own output for run).
func createContainer(ctx context.Context, c *cli.CLI, cc *createConfig, opts *containerOptions) (string, error) {
	cl, err := c.Client()
	if err != nil {
		return "", err
	}
	ref := cc.Config.Image
	// Only a name (not an ID) can be pulled; docker shows it normalised
	// with its tag ("busybox:latest").
	var pullRef, shownRef string
	if named, err := imgref.ParseNormalizedNamed(ref); err == nil {
		named = imgref.TagNameOnly(named)
		pullRef, shownRef = named.String(), imgref.FamiliarString(named)
	}

	if opts.cidFile != "" {
		if _, err := os.Stat(opts.cidFile); err == nil {
			// docker reports this one plainly, exit 1.
			return "", cli.StatusError{
				Status:     fmt.Sprintf("container ID file found, make sure the other container isn't running or delete %s", opts.cidFile),
				StatusCode: 1,
			}
		}
	}

	pullOut := c.Err
	if opts.quiet {
		pullOut = io.Discard
	}
	pull := func() error {
		if pullRef == "" {
			return fmt.Errorf("invalid reference format")
		}
		return image.Pull(ctx, c, pullRef, opts.platform, false, pullOut)
	}
	if opts.pull == pullAlways {
		if err := pull(); err != nil {
			return "", err
		}
	}
	create := func() (client.ContainerCreateResult, error) {
		return cl.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config:           cc.Config,
			HostConfig:       cc.HostConfig,
			NetworkingConfig: cc.Network,
			Platform:         cc.Platform,
			Name:             opts.name,
		})
	}
	res, err := create()
	if err != nil && cerrdefs.IsNotFound(err) && opts.pull == pullMissing && pullRef != "" && isNoSuchImage(err) {
		if !opts.quiet {
			fmt.Fprintf(c.Err, "Unable to find image '%s' locally\n", shownRef)
		}
		if perr := pull(); perr != nil {
			return "", perr
		}
		res, err = create()
	}
	if err != nil {
		return "", err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(c.Err, "WARNING: %s\n", w)
	}
	if opts.cidFile != "" {
		if werr := os.WriteFile(opts.cidFile, []byte(res.ID), 0o644); werr != nil {
			return "", fmt.Errorf("failed to write the container ID to the file: %w", werr)
		}
	}
	return res.ID, nil
}

// isNoSuchImage tells a missing image from other 404s at create (a missing
// --volumes-from container, a missing network), which must not pull.
func isNoSuchImage(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "no such image")
}
