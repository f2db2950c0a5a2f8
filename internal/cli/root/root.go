// Package root assembles the berth command tree: global flags, docker-style
// error and usage handling, and every command group. Groups register
// themselves through their own AddCommands so this file stays a list.
package root

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	ctrcmd "github.com/berth-engine/berth/internal/cli/container"
	"github.com/berth-engine/berth/internal/cli/image"
	"github.com/berth-engine/berth/internal/cli/network"
	registrycli "github.com/berth-engine/berth/internal/cli/registry"
	"github.com/berth-engine/berth/internal/cli/system"
	"github.com/berth-engine/berth/internal/cli/volume"
	"github.com/berth-engine/berth/internal/version"
)

// NewCommand returns the `berth` root command bound to c.
func NewCommand(c *cli.CLI) *cobra.Command {
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

	system.AddCommands(cmd, c)
	ctrcmd.AddCommands(cmd, c)
	image.AddCommands(cmd, c)
	registrycli.AddCommands(cmd, c)
	volume.AddCommands(cmd, c)
	network.AddCommands(cmd, c)
	cmd.AddCommand(ctrcmd.NewPortCommand(c))
	cmd.AddCommand(ctrcmd.NewTopCommand(c))
	cmd.AddCommand(ctrcmd.NewStatsCommand(c))
	cmd.AddCommand(ctrcmd.NewDiffCommand(c))
	cmd.AddCommand(ctrcmd.NewExportCommand(c))
	cmd.AddCommand(ctrcmd.NewCpCommand(c))
	cmd.AddCommand(ctrcmd.NewUpdateCommand(c))
	cmd.AddCommand(newCompletionCommand())
	// Our Use strings already say [OPTIONS]; cobra would add "[flags]".
	disableFlagsInUseLine(cmd)
	return cmd
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
