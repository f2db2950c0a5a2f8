package image

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
)

// NewSearchCommand returns `berth search`. Berth's daemon answers that the
// registry does not support search (Docker Hub's search is its own API);
// results from a daemon that has them are printed as docker does.
func NewSearchCommand(c *cli.CLI) *cobra.Command {
	var (
		limit   int
		noTrunc bool
		filters = cli.NewFilterOpt()
	)
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search Docker Hub for images",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ImageSearch(cmd.Context(), args[0], client.ImageSearchOptions{Limit: limit, Filters: filters.Value()})
			if err != nil {
				return err
			}
			tw := formatter.NewTabWriter(c.Out)
			fmt.Fprintln(tw, "NAME\tDESCRIPTION\tSTARS\tOFFICIAL")
			for _, r := range res.Items {
				desc := strings.ReplaceAll(r.Description, "\n", " ")
				if !noTrunc && len(desc) > 45 {
					desc = desc[:44] + "…"
				}
				official := ""
				if r.IsOfficial {
					official = "[OK]"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Name, desc, r.StarCount, official)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", 0, "Max number of search results")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.VarP(filters, "filter", "f", "Filter output based on conditions provided")
	return cmd
}
