package system

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
	"github.com/berth-engine/berth/internal/version"
)

// InfoOptions are the flags of `berth info`.
type InfoOptions struct {
	Format string
}

// NewInfoCommand returns `berth info` (also `berth system info`).
func NewInfoCommand(c *cli.CLI) *cobra.Command {
	var opts InfoOptions
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunInfo(cmd.Context(), c, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// ClientInfo is the .ClientInfo of `info --format`.
type ClientInfo struct {
	Debug             bool
	Version           string
	DefaultAPIVersion string
	GitCommit         string
	GoVersion         string
	Os                string
	Arch              string
	BuildTime         string `json:",omitempty"`
	Context           string
	Warnings          []string
}

// InfoView is what `info --format` templates see: the daemon's system.Info
// with its fields at the top level (so {{.ServerVersion}} works) plus the
// client's side, as docker's templates expect.
type InfoView struct {
	system.Info
	ClientInfo   *ClientInfo `json:",omitempty"`
	ServerErrors []string    `json:",omitempty"`
}

// RunInfo prints the client section, then the daemon's information;
// daemon warnings go to stderr so scripts parsing stdout are not disturbed.
func RunInfo(ctx context.Context, c *cli.CLI, opts InfoOptions) error {
	cv := newClientVersion()
	view := InfoView{ClientInfo: &ClientInfo{
		Debug:             c.Options.Debug,
		Version:           cv.Version,
		DefaultAPIVersion: version.APIVersion,
		GitCommit:         cv.GitCommit,
		GoVersion:         cv.GoVersion,
		Os:                cv.Os,
		Arch:              cv.Arch,
		BuildTime:         cv.BuildTime,
		Context:           cv.Context,
	}}

	var serverErr error
	cl, err := c.Client()
	if err == nil {
		var res client.SystemInfoResult
		res, err = cl.Info(ctx, client.InfoOptions{})
		view.Info = res.Info
	}
	if err != nil {
		serverErr = err
		view.ServerErrors = []string{err.Error()}
	}

	if opts.Format != "" {
		if err := formatter.Execute(c.Out, opts.Format, view); err != nil {
			return err
		}
		return serverErr
	}

	writeClientInfo(c.Out, view.ClientInfo)
	fmt.Fprintln(c.Out)
	fmt.Fprintln(c.Out, "Server:")
	if serverErr != nil {
		return serverErr
	}
	writeServerInfo(c.Out, &view.Info)
	for _, w := range view.Info.Warnings {
		fmt.Fprintln(c.Err, w)
	}
	return nil
}

func writeClientInfo(out io.Writer, ci *ClientInfo) {
	fmt.Fprintln(out, "Client:")
	fmt.Fprintln(out, " Version:   ", ci.Version)
	fmt.Fprintln(out, " Context:   ", ci.Context)
	fmt.Fprintln(out, " Debug Mode:", ci.Debug)
}

// infoWriter prints " key: value" lines; nonEmpty skips lines without a
// value so fields a daemon does not report do not show up blank.
type infoWriter struct{ out io.Writer }

func (w infoWriter) line(key string, v any) { fmt.Fprintf(w.out, "%s: %v\n", key, v) }

func (w infoWriter) nonEmpty(key, v string) {
	if v != "" {
		w.line(key, v)
	}
}

func (w infoWriter) list(key string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w.out, "%s:\n", key)
	for _, it := range items {
		fmt.Fprintf(w.out, "  %s\n", it)
	}
}

// The order and labels follow `docker info`, so people (and scripts that
// grep it) find things where they expect them.
func writeServerInfo(out io.Writer, info *system.Info) {
	w := infoWriter{out}
	w.line(" Containers", info.Containers)
	w.line("  Running", info.ContainersRunning)
	w.line("  Paused", info.ContainersPaused)
	w.line("  Stopped", info.ContainersStopped)
	w.line(" Images", info.Images)
	w.nonEmpty(" Server Version", info.ServerVersion)
	w.nonEmpty(" Storage Driver", info.Driver)
	if info.Driver != "" {
		for _, kv := range info.DriverStatus {
			w.line("  "+kv[0], kv[1])
		}
	}
	w.nonEmpty(" Logging Driver", info.LoggingDriver)
	w.nonEmpty(" Cgroup Driver", info.CgroupDriver)
	w.nonEmpty(" Cgroup Version", info.CgroupVersion)

	fmt.Fprintln(out, " Plugins:")
	w.line("  Volume", strings.Join(info.Plugins.Volume, " "))
	w.line("  Network", strings.Join(info.Plugins.Network, " "))
	if len(info.Plugins.Authorization) > 0 {
		w.line("  Authorization", strings.Join(info.Plugins.Authorization, " "))
	}
	w.line("  Log", strings.Join(info.Plugins.Log, " "))
	w.list(" CDI spec directories", info.CDISpecDirs)

	w.line(" Swarm", info.Swarm.LocalNodeState)
	if len(info.Runtimes) > 0 {
		w.line(" Runtimes", strings.Join(slices.Sorted(maps.Keys(info.Runtimes)), " "))
		w.line(" Default Runtime", info.DefaultRuntime)
	}
	if info.OSType == "linux" {
		w.line(" Init Binary", info.InitBinary)
		w.line(" containerd version", info.ContainerdCommit.ID)
		w.line(" runc version", info.RuncCommit.ID)
		w.line(" init version", info.InitCommit.ID)
		writeSecurityOptions(out, info.SecurityOptions)
	}
	w.nonEmpty(" Kernel Version", info.KernelVersion)
	w.nonEmpty(" Operating System", info.OperatingSystem)
	w.nonEmpty(" OSType", info.OSType)
	w.nonEmpty(" Architecture", info.Architecture)
	w.line(" CPUs", info.NCPU)
	w.line(" Total Memory", units.BytesSize(float64(info.MemTotal)))
	w.nonEmpty(" Name", info.Name)
	w.nonEmpty(" ID", info.ID)
	w.line(" Docker Root Dir", info.DockerRootDir)
	w.line(" Debug Mode", info.Debug)
	if info.Debug {
		w.line("  File Descriptors", info.NFd)
		w.line("  Goroutines", info.NGoroutines)
		w.line("  System Time", info.SystemTime)
		w.line("  EventsListeners", info.NEventsListener)
	}
	w.nonEmpty(" HTTP Proxy", info.HTTPProxy)
	w.nonEmpty(" HTTPS Proxy", info.HTTPSProxy)
	w.nonEmpty(" No Proxy", info.NoProxy)
	w.list(" Labels", info.Labels)
	w.line(" Experimental", info.ExperimentalBuild)

	if rc := info.RegistryConfig; rc != nil {
		var insecure []string
		for _, name := range slices.Sorted(maps.Keys(rc.IndexConfigs)) {
			if ic := rc.IndexConfigs[name]; ic != nil && !ic.Secure {
				insecure = append(insecure, ic.Name)
			}
		}
		for _, cidr := range rc.InsecureRegistryCIDRs {
			insecure = append(insecure, cidr.String())
		}
		w.list(" Insecure Registries", insecure)
		w.list(" Registry Mirrors", rc.Mirrors)
	}
	w.line(" Live Restore Enabled", info.LiveRestoreEnabled)
	w.nonEmpty(" Product License", info.ProductLicense)
	if len(info.DefaultAddressPools) > 0 {
		fmt.Fprintln(out, " Default Address Pools:")
		for _, p := range info.DefaultAddressPools {
			fmt.Fprintf(out, "   Base: %s, Size: %d\n", p.Base, p.Size)
		}
	}
	fmt.Fprintln(out)
}

// Security options arrive as "name=seccomp,profile=builtin"; docker shows
// the name with the other keys indented beneath it.
func writeSecurityOptions(out io.Writer, opts []string) {
	if len(opts) == 0 {
		return
	}
	fmt.Fprintln(out, " Security Options:")
	for _, o := range opts {
		if !strings.Contains(o, "=") {
			fmt.Fprintf(out, "  %s\n", o)
			continue
		}
		var rest []string
		for _, kv := range strings.Split(o, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if k == "" {
				continue
			}
			if k == "name" {
				fmt.Fprintf(out, "  %s\n", v)
				continue
			}
			rest = append(rest, fmt.Sprintf("   %s: %s", strings.ToUpper(k[:1])+k[1:], v))
		}
		for _, r := range rest {
			fmt.Fprintln(out, r)
		}
	}
}
