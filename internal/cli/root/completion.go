package root

import (
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
)

// newCompletionCommand replaces cobra's default completion command so it
// takes exactly docker's shells and reports a wrong one with our exit code.
func newCompletionCommand() *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Generate the autocompletion script for the specified shell",
		Args:      cli.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return cli.StatusError{
				Status:     "unsupported shell \"" + args[0] + "\": use bash, zsh or fish",
				StatusCode: cli.ExitGeneral,
			}
		},
	}
}
