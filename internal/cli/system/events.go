package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
)

// EventsOptions are the flags of `berth events`.
type EventsOptions struct {
	Filters *cli.FilterOpt
	Since   string
	Until   string
	Format  string
}

// NewEventsCommand returns `berth events` (also `berth system events`).
func NewEventsCommand(c *cli.CLI) *cobra.Command {
	opts := EventsOptions{Filters: cli.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunEvents(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.VarP(opts.Filters, "filter", "f", "Filter output based on conditions provided")
	f.StringVar(&opts.Since, "since", "", "Show all events created since timestamp")
	f.StringVar(&opts.Until, "until", "", "Stream events until this timestamp")
	f.StringVar(&opts.Format, "format", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// RunEvents streams events until the stream ends, --until passes, or ctx
// is cancelled (Ctrl-C); none of those is an error.
func RunEvents(ctx context.Context, c *cli.CLI, opts EventsOptions) error {
	var tmpl interface {
		Execute(io.Writer, any) error
	}
	if opts.Format != "" {
		t, err := formatter.Parse(opts.Format)
		if err != nil {
			return err
		}
		tmpl = t
	}

	now := time.Now()
	listOpts := client.EventsListOptions{}
	if opts.Filters != nil {
		listOpts.Filters = opts.Filters.Value()
	}
	// The client sends --since/--until in the API's form, as docker's does.
	listOpts.Since, listOpts.Until = opts.Since, opts.Until
	if opts.Until != "" {
		t, err := client.Timestamp(opts.Until, now)
		if err != nil {
			return err
		}
		// The daemon ends the stream at --until; the local deadline (with
		// grace for clock skew) only guards against one that does not.
		deadline := t
		if deadline.Before(now) {
			deadline = now
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(2*time.Second))
		defer cancel()
	}

	cl, err := c.Client()
	if err != nil {
		return err
	}
	res := cl.Events(ctx, listOpts)
	for {
		select {
		case m := <-res.Messages:
			if tmpl != nil {
				if err := tmpl.Execute(c.Out, m); err != nil {
					return err
				}
				fmt.Fprintln(c.Out)
				continue
			}
			fmt.Fprintln(c.Out, FormatEvent(m, time.Local))
		case err := <-res.Err:
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
	}
}

// FormatEvent renders an event as docker's default line:
// "<time> <type> <action> <actor id> (k=v, …)" with attributes sorted by key.
func FormatEvent(m events.Message, loc *time.Location) string {
	t := time.Unix(0, m.TimeNano)
	if m.TimeNano == 0 {
		t = time.Unix(m.Time, 0)
	}
	var b strings.Builder
	b.WriteString(t.In(loc).Format("2006-01-02T15:04:05.000000000Z07:00"))
	fmt.Fprintf(&b, " %s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		attrs := make([]string, 0, len(m.Actor.Attributes))
		for _, k := range slices.Sorted(maps.Keys(m.Actor.Attributes)) {
			attrs = append(attrs, k+"="+m.Actor.Attributes[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	return b.String()
}
