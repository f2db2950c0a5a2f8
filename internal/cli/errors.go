package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes follow docker's CLI:
//   - 0 success;
//   - 1 any other error: daemon errors ("Error response from daemon: …",
//     printed as the client returns them), connection failures, wrong
//     number of arguments, unknown commands;
//   - 125 a flag could not be parsed. docker returns 125 for bad flags on
//     every command (not only run), so a script cannot tell a typo from a
//     daemon failure of `run` by the code alone, but it can tell either from
//     the container's own exit code;
//   - commands that run containers return their own StatusError: 125 when the
//     daemon fails, 126/127 when the command cannot be invoked/found, or the
//     container's exit code.
const (
	ExitGeneral = 1
	ExitUsage   = 125
)

// StatusError carries an exit code out of a command. Status is printed to
// stderr if it is not empty; a command that already printed its error (or
// that exits with a container's code) leaves it empty.
type StatusError struct {
	Status     string
	StatusCode int
	// Cause is kept for errors.Is/As; it is not printed.
	Cause error
}

func (e StatusError) Error() string {
	if e.Status == "" && e.Cause != nil {
		return e.Cause.Error()
	}
	return fmt.Sprintf("Status: %s, Code: %d", e.Status, e.StatusCode)
}

func (e StatusError) Unwrap() error { return e.Cause }

// ExitCode maps an error returned from the command tree to the process exit
// code and the message to print (empty means print nothing).
func ExitCode(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	var se StatusError
	if errors.As(err, &se) {
		code := se.StatusCode
		if code == 0 {
			code = ExitGeneral
		}
		return code, se.Status
	}
	var sp *StatusError
	if errors.As(err, &sp) {
		return ExitCode(*sp)
	}
	return ExitGeneral, err.Error()
}

// FlagErrorFunc is installed on the root command so that bad flags print the
// way docker prints them and exit 125.
func FlagErrorFunc(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	return StatusError{
		Status:     fmt.Sprintf("%s\n\n%s", err, usageHint(cmd)),
		StatusCode: ExitUsage,
		Cause:      err,
	}
}

func usageHint(cmd *cobra.Command) string {
	return usageHintVerb(cmd, "Run")
}

// usageHintVerb words the hint as docker does: "Run" for most errors,
// "See" for the at-least/at-most argument counts.
func usageHintVerb(cmd *cobra.Command, verb string) string {
	return fmt.Sprintf("Usage:  %s\n\n%s '%s --help' for more information", cmd.UseLine(), verb, cmd.CommandPath())
}

func argsError(cmd *cobra.Command, format string, a ...any) error {
	return argsErrorVerb(cmd, "Run", format, a...)
}

func argsErrorVerb(cmd *cobra.Command, verb, format string, a ...any) error {
	msg := fmt.Sprintf("%s: '%s' %s\n\n%s", cmd.Root().Name(), cmd.CommandPath(), fmt.Sprintf(format, a...), usageHintVerb(cmd, verb))
	return StatusError{Status: msg, StatusCode: ExitGeneral}
}

func plural(n int) string {
	if n == 1 {
		return "argument"
	}
	return "arguments"
}

// NoArgs rejects positional arguments with docker's wording.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return StatusError{
			Status:     fmt.Sprintf("%s: unknown command: %s %s\n\n%s", cmd.Root().Name(), cmd.CommandPath(), strings.Join(args, " "), usageHint(cmd)),
			StatusCode: ExitGeneral,
		}
	}
	return argsError(cmd, "accepts no arguments")
}

// ExactArgs requires exactly n positional arguments.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, "requires %d %s", n, plural(n))
	}
}

// RequiresMinArgs requires at least n positional arguments.
func RequiresMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsErrorVerb(cmd, "See", "requires at least %d %s", n, plural(n))
	}
}

// RequiresMaxArgs allows at most n positional arguments.
func RequiresMaxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argsErrorVerb(cmd, "See", "requires at most %d %s", n, plural(n))
	}
}

// Lazy is a top-level command and how to build it. Every command pays for
// the CLI's start, and building all of docker's commands with their flags is
// a good part of it: the root builds only the one a command line names.
type Lazy struct {
	Name string
	New  func() *cobra.Command
}
