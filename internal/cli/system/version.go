package system

import (
	"context"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/client/versions"
	"github.com/berth-engine/berth/internal/cli/formatter"
	"github.com/berth-engine/berth/internal/version"
)

// VersionOptions are the flags of `berth version`.
type VersionOptions struct {
	Format string
}

// NewVersionCommand returns `berth version`.
func NewVersionCommand(c *cli.CLI) *cobra.Command {
	var opts VersionOptions
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the Berth version information",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunVersion(cmd.Context(), c, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// ClientVersion is the .Client of `version --format`; field names are
// docker's so existing templates keep working.
type ClientVersion struct {
	Version           string
	APIVersion        string `json:"ApiVersion"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string
	GoVersion         string
	Os                string
	Arch              string
	BuildTime         string `json:",omitempty"`
	Context           string
}

// VersionInfo is what `version --format` templates see.
type VersionInfo struct {
	Client ClientVersion
	Server *system.VersionResponse
}

func newClientVersion() ClientVersion {
	return ClientVersion{
		Version:           version.Version,
		APIVersion:        version.APIVersion,
		DefaultAPIVersion: version.APIVersion,
		GitCommit:         version.GitCommit,
		GoVersion:         runtime.Version(),
		Os:                runtime.GOOS,
		Arch:              runtime.GOARCH,
		BuildTime:         reformatDate(version.BuildTime),
		// berth has no contexts yet; docker prints "default" for the
		// equivalent single-endpoint setup.
		Context: "default",
	}
}

// RunVersion prints client and server versions. When the daemon cannot be
// reached the client part is still printed, then the error (exit 1).
func RunVersion(ctx context.Context, c *cli.CLI, opts VersionOptions) error {
	info := VersionInfo{Client: newClientVersion()}
	server, serverErr := fetchServerVersion(ctx, c, &info.Client)
	info.Server = server

	if opts.Format != "" {
		if err := formatter.Execute(c.Out, opts.Format, info); err != nil && serverErr == nil {
			return err
		}
		return serverErr
	}
	if err := writeVersion(c.Out, info); err != nil {
		return err
	}
	return serverErr
}

func fetchServerVersion(ctx context.Context, c *cli.CLI, cv *ClientVersion) (*system.VersionResponse, error) {
	cl, err := c.Client()
	if err != nil {
		return nil, err
	}
	res, err := cl.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, err
	}
	// Negotiation happened on the request above; report what was agreed.
	if v := cl.ClientVersion(); v != "" && versions.LessThan(v, version.APIVersion) {
		cv.APIVersion = v
	}
	sv := &system.VersionResponse{
		Platform:      system.PlatformInfo{Name: res.Platform.Name},
		Version:       res.Version,
		APIVersion:    res.APIVersion,
		MinAPIVersion: res.MinAPIVersion,
		Os:            res.Os,
		Arch:          res.Arch,
		Components:    res.Components,
		Experimental:  res.Experimental, //nolint:staticcheck // still sent by daemons
	}
	engine := -1
	for i, comp := range sv.Components {
		if comp.Name == "Engine" {
			engine = i
		}
	}
	if engine < 0 {
		// Daemons older than API 1.35 only send the flat fields.
		sv.Components = append([]system.ComponentVersion{{
			Name:    "Engine",
			Version: sv.Version,
			Details: map[string]string{
				"ApiVersion":    sv.APIVersion,
				"MinAPIVersion": sv.MinAPIVersion,
				"Os":            sv.Os,
				"Arch":          sv.Arch,
				"Experimental":  fmt.Sprint(sv.Experimental), //nolint:staticcheck // see above
			},
		}}, sv.Components...)
		engine = 0
	}
	// The client result drops these flat fields; the Engine component
	// carries them, so restore them for templates like {{.Server.GitCommit}}.
	d := sv.Components[engine].Details
	sv.GitCommit = d["GitCommit"]
	sv.GoVersion = d["GoVersion"]
	sv.KernelVersion = d["KernelVersion"]
	sv.BuildTime = d["BuildTime"]
	if bt, ok := d["BuildTime"]; ok {
		d = maps.Clone(d)
		d["BuildTime"] = reformatDate(bt)
		sv.Components[engine].Details = d
	}
	return sv, nil
}

// reformatDate shows RFC 3339 build times the way `date` would, as docker
// does; anything else is shown as given.
func reformatDate(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Local().Format(time.ANSIC)
}

func writeVersion(out io.Writer, info VersionInfo) error {
	// Keys end at different depths; one tabwriter over both sections keeps
	// all values in one column, 20 characters in.
	tw := newVersionWriter(out)
	cv := info.Client
	apiVersion := cv.APIVersion
	if cv.DefaultAPIVersion != "" && cv.APIVersion != cv.DefaultAPIVersion {
		apiVersion += " (downgraded from " + cv.DefaultAPIVersion + ")"
	}
	fmt.Fprintln(tw, "Client:")
	fmt.Fprintf(tw, " Version:\t%s\n", cv.Version)
	fmt.Fprintf(tw, " API version:\t%s\n", apiVersion)
	fmt.Fprintf(tw, " Go version:\t%s\n", cv.GoVersion)
	fmt.Fprintf(tw, " Git commit:\t%s\n", cv.GitCommit)
	fmt.Fprintf(tw, " Built:\t%s\n", cv.BuildTime)
	fmt.Fprintf(tw, " OS/Arch:\t%s/%s\n", cv.Os, cv.Arch)
	fmt.Fprintf(tw, " Context:\t%s\n", cv.Context)

	if sv := info.Server; sv != nil {
		fmt.Fprint(tw, "\nServer:")
		if sv.Platform.Name != "" {
			fmt.Fprint(tw, " ", sv.Platform.Name)
		}
		fmt.Fprintln(tw)
		for _, comp := range sv.Components {
			fmt.Fprintf(tw, " %s:\n", comp.Name)
			fmt.Fprintf(tw, "  Version:\t%s\n", comp.Version)
			if comp.Name == "Engine" {
				d := comp.Details
				fmt.Fprintf(tw, "  API version:\t%s (minimum version %s)\n", d["ApiVersion"], d["MinAPIVersion"])
				fmt.Fprintf(tw, "  Go version:\t%s\n", d["GoVersion"])
				fmt.Fprintf(tw, "  Git commit:\t%s\n", d["GitCommit"])
				fmt.Fprintf(tw, "  Built:\t%s\n", d["BuildTime"])
				fmt.Fprintf(tw, "  OS/Arch:\t%s/%s\n", d["Os"], d["Arch"])
				fmt.Fprintf(tw, "  Experimental:\t%s\n", d["Experimental"])
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(comp.Details)) {
				fmt.Fprintf(tw, "  %s:\t%s\n", k, comp.Details[k])
			}
		}
	}
	return tw.Flush()
}

func newVersionWriter(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 20, 1, 1, ' ', 0)
}
