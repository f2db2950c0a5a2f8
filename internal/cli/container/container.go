// Package container holds the container commands (run, create, start, ps,
// logs, exec, …) and the generic `inspect`, with docker's names, flags,
// output and exit codes.
package container

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
)

// Commands are the top-level container commands and the `container` group.
func Commands(c *cli.CLI) []cli.Lazy {
	return []cli.Lazy{
		{Name: "run", New: func() *cobra.Command { return NewRunCommand(c) }},
		{Name: "create", New: func() *cobra.Command { return NewCreateCommand(c) }},
		{Name: "start", New: func() *cobra.Command { return NewStartCommand(c) }},
		{Name: "stop", New: func() *cobra.Command { return NewStopCommand(c) }},
		{Name: "kill", New: func() *cobra.Command { return NewKillCommand(c) }},
		{Name: "restart", New: func() *cobra.Command { return NewRestartCommand(c) }},
		{Name: "wait", New: func() *cobra.Command { return NewWaitCommand(c) }},
		{Name: "rm", New: func() *cobra.Command { return NewRmCommand(c) }},
		{Name: "pause", New: func() *cobra.Command { return NewPauseCommand(c) }},
		{Name: "unpause", New: func() *cobra.Command { return NewUnpauseCommand(c) }},
		{Name: "rename", New: func() *cobra.Command { return NewRenameCommand(c) }},
		{Name: "ps", New: func() *cobra.Command { return NewPsCommand(c) }},
		{Name: "logs", New: func() *cobra.Command { return NewLogsCommand(c) }},
		{Name: "attach", New: func() *cobra.Command { return NewAttachCommand(c) }},
		{Name: "exec", New: func() *cobra.Command { return NewExecCommand(c) }},
		{Name: "inspect", New: func() *cobra.Command { return NewInspectCommand(c) }},
		{Name: "commit", New: func() *cobra.Command { return NewCommitCommand(c) }},
		{Name: "container", New: func() *cobra.Command { return newContainerCommand(c) }},
		{Name: "port", New: func() *cobra.Command { return NewPortCommand(c) }},
		{Name: "top", New: func() *cobra.Command { return NewTopCommand(c) }},
		{Name: "stats", New: func() *cobra.Command { return NewStatsCommand(c) }},
		{Name: "diff", New: func() *cobra.Command { return NewDiffCommand(c) }},
		{Name: "export", New: func() *cobra.Command { return NewExportCommand(c) }},
		{Name: "cp", New: func() *cobra.Command { return NewCpCommand(c) }},
		{Name: "update", New: func() *cobra.Command { return NewUpdateCommand(c) }},
	}
}

func newContainerCommand(c *cli.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	ls := NewPsCommand(c)
	ls.Use = "ls [OPTIONS]"
	ls.Aliases = []string{"list", "ps"}
	rm := NewRmCommand(c)
	rm.Aliases = []string{"remove"}
	cmd.AddCommand(
		NewAttachCommand(c),
		NewCommitCommand(c),
		NewCreateCommand(c),
		NewExecCommand(c),
		NewContainerInspectCommand(c),
		NewKillCommand(c),
		NewLogsCommand(c),
		ls,
		NewPauseCommand(c),
		NewPortCommand(c),
		NewPruneCommand(c),
		NewRenameCommand(c),
		NewRestartCommand(c),
		rm,
		NewRunCommand(c),
		NewStartCommand(c),
		NewStopCommand(c),
		NewUnpauseCommand(c),
		NewWaitCommand(c),
		NewTopCommand(c),
		NewStatsCommand(c),
		NewDiffCommand(c),
		NewExportCommand(c),
		NewCpCommand(c),
		NewUpdateCommand(c),
	)
	return cmd
}

// runStartError is how run/create/start report a daemon error: docker's
// "berth: <error>" with a hint, and exit 125, or 126/127 when the daemon
// says the command could not be invoked or was not found (as a shell does).
func runStartError(cmd *cobra.Command, err error) error {
	msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
	code := 125
	switch {
	case strings.Contains(msg, "executable file not found"),
		strings.Contains(msg, "no such file or directory"),
		strings.Contains(msg, "system cannot find the file specified"):
		code = 127
	case strings.Contains(msg, "permission denied"),
		strings.Contains(msg, "is a directory"):
		code = 126
	}
	return cli.StatusError{Status: errorWithHint(cmd, err), StatusCode: code, Cause: err}
}

// createError is how run/create report failures before a container exists:
// exit 125 with docker's hint line.
func createError(cmd *cobra.Command, err error) error {
	var se cli.StatusError
	if errors.As(err, &se) {
		return err
	}
	return cli.StatusError{Status: errorWithHint(cmd, err), StatusCode: 125, Cause: err}
}

func errorWithHint(cmd *cobra.Command, err error) string {
	root := cmd.Root().Name()
	return fmt.Sprintf("%s: %s\n\nRun '%s %s --help' for more information", root, err, root, cmd.Name())
}

// multiError joins per-container failures the way docker prints them (one
// a line) and exits 1; earlier successes were already printed.
func multiError(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}
