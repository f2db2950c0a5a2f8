// Package root assembles the berth command tree: global flags, docker-style
// error and usage handling, and every command group. Groups register
// themselves through their own AddCommands so this file stays a list.
package root

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-engine/berth/internal/cli"
	ctrcmd "github.com/berth-engine/berth/internal/cli/container"
	"github.com/berth-engine/berth/internal/cli/image"
	"github.com/berth-engine/berth/internal/cli/network"
	registrycli "github.com/berth-engine/berth/internal/cli/registry"
	"github.com/berth-engine/berth/internal/cli/system"
	"github.com/berth-engine/berth/internal/cli/volume"
	"github.com/berth-engine/berth/internal/version"
)

// NewCommand returns the `berth` root command bound to c, with every command.
func NewCommand(c *cli.CLI) *cobra.Command {
	return newCommand(c, "")
}

// NewCommandFor returns the root command for the command line args (without
// the program name): when they name a top-level command, only that one is
// built; what it does, prints and exits with is the same as in the whole
// tree. Help, completion and unknown words get the whole tree.
func NewCommandFor(c *cli.CLI, args []string) *cobra.Command {
	return newCommand(c, commandWord(args))
}

func newCommand(c *cli.CLI, only string) *cobra.Command {
	cmd := &cobra.Command{
		Use:              "berth [OPTIONS] COMMAND [ARG...]",
		Short:            "A self-sufficient runtime for containers",
		Version:          fmt.Sprintf("%s, build %s", version.Version, version.GitCommit),
		SilenceErrors:    true,
		SilenceUsage:     true,
		TraverseChildren: true,
		Args:             unknownCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return c.SetupLogging()
		},
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	cmd.SetIn(c.In)
	cmd.SetOut(c.Out)
	cmd.SetErr(c.Err)
	cmd.SetVersionTemplate("Berth version {{.Version}}\n")
	cmd.SetFlagErrorFunc(cli.FlagErrorFunc)
	// Global flags belong to the root alone (given before the command, as
	// with docker): subcommands reuse their letters (run -l/--label,
	// ps -l/--latest, run -h/--hostname).
	c.AddGlobalFlags(cmd.Flags())
	cmd.Flags().BoolP("version", "v", false, "Print version information and quit")

	all := lazyCommands(c)
	i := slices.IndexFunc(all, func(l cli.Lazy) bool { return l.Name == only })
	if i >= 0 {
		cmd.AddCommand(all[i].New())
	} else {
		for _, l := range all {
			cmd.AddCommand(l.New())
		}
		cmd.AddCommand(newCompletionCommand())
	}
	// Our Use strings already say [OPTIONS]; cobra would add "[flags]".
	disableFlagsInUseLine(cmd)
	return cmd
}

// daemonCommands are the top-level commands that are requests to the
// daemon.
var daemonCommands = map[string]bool{
	"attach": true, "commit": true, "container": true, "cp": true, "create": true, "events": true,
	"exec": true, "image": true, "images": true, "info": true, "inspect": true, "kill": true,
	"logs": true, "network": true, "pause": true, "port": true, "ps": true, "pull": true,
	"rename": true, "restart": true, "rm": true, "rmi": true, "run": true, "start": true,
	"stats": true, "stop": true, "system": true, "tag": true, "top": true, "unpause": true,
	"update": true, "version": true, "volume": true, "wait": true,
}

// Preconnect lets c negotiate the API version with the daemon while the
// command is built and its flags parsed, when args start with a command
// that talks to the daemon: no global flag before it can change where or
// how c connects.
func Preconnect(c *cli.CLI, args []string) {
	if len(args) > 0 && daemonCommands[args[0]] {
		c.Preconnect()
	}
}

// lazyCommands lists the top-level commands.
func lazyCommands(c *cli.CLI) []cli.Lazy {
	var all []cli.Lazy
	for _, group := range [][]cli.Lazy{system.Commands(c), ctrcmd.Commands(c), image.Commands(c),
		registrycli.Commands(c), volume.Commands(c), network.Commands(c)} {
		all = append(all, group...)
	}
	return all
}

// commandWord is the first word of args after the global flags: the
// top-level command, or "" when that is not certain (a flag the root does
// not know, such as --help, is left for the whole tree to handle).
func commandWord(args []string) string {
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	(&cli.CLI{}).AddGlobalFlags(fs)
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-":
			return ""
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			f := fs.Lookup(name)
			if f == nil {
				return ""
			}
			if !hasValue && f.Value.Type() != "bool" {
				i++
			}
		case strings.HasPrefix(a, "-"):
			// Shorthands, possibly run together (-D, -DH host, -Hhost).
			for j := 1; j < len(a); j++ {
				f := fs.ShorthandLookup(a[j : j+1])
				if f == nil {
					return ""
				}
				if f.Value.Type() != "bool" {
					if j == len(a)-1 {
						i++
					}
					break
				}
			}
		default:
			return a
		}
	}
	return ""
}

func disableFlagsInUseLine(cmd *cobra.Command) {
	cmd.DisableFlagsInUseLine = true
	for _, sub := range cmd.Commands() {
		disableFlagsInUseLine(sub)
	}
}

// unknownCommand words the error like docker ("berth: unknown command:
// berth foo") instead of cobra's default, and exits 1.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return cli.StatusError{
		Status: fmt.Sprintf("%s: unknown command: %s %s\n\nRun '%s --help' for more information",
			cmd.Name(), cmd.Name(), strings.Join(args, " "), cmd.Name()),
		StatusCode: cli.ExitGeneral,
	}
}
