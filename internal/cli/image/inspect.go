package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
)

// InspectOptions are the flags of `berth image inspect`.
type InspectOptions struct {
	Format   string
	Platform string
	Refs     []string
}

// NewInspectCommand returns `berth image inspect`.
func NewInspectCommand(c *cli.CLI) *cobra.Command {
	var opts InspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refs = args
			return RunInspect(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	f.StringVar(&opts.Platform, "platform", "", "Inspect a specific platform of the multi-platform image.")
	return cmd
}

// RunInspect prints the images as an indented JSON array or through
// --format; missing ones are reported after, exit 1.
func RunInspect(ctx context.Context, c *cli.CLI, opts InspectOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var iopts []client.ImageInspectOption
	if opts.Platform != "" {
		p, err := ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		iopts = append(iopts, client.ImageInspectWithPlatform(&p))
	}
	var found []Inspected
	var errs []string
	for _, ref := range opts.Refs {
		var raw bytes.Buffer
		r, err := cl.ImageInspect(ctx, ref, append(iopts, client.ImageInspectWithRawResponse(&raw))...)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		found = append(found, Inspected{Value: r.InspectResponse, Raw: raw.Bytes()})
	}
	if err := WriteInspect(c.Out, opts.Format, found); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// Inspected is one object for WriteInspect: the decoded value (what
// templates see first) and the daemon's raw JSON (what is printed without
// a template).
type Inspected struct {
	Value any
	Raw   []byte
}

// WriteInspect prints objects the way every docker inspect command does:
// an indented JSON array of the daemon's documents, or one line per object
// through --format ("json" prints the array on one line).
func WriteInspect(out io.Writer, format string, objs []Inspected) error {
	if format == "" {
		raws := make([][]byte, 0, len(objs))
		for _, o := range objs {
			raws = append(raws, bytes.TrimSpace(o.Raw))
		}
		var buf bytes.Buffer
		if len(raws) == 0 {
			buf.WriteString("[]")
		} else if err := json.Indent(&buf, append(append([]byte("["), bytes.Join(raws, []byte(","))...), ']'), "", "    "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := out.Write(buf.Bytes())
		return err
	}
	if strings.TrimSpace(format) == formatter.JSONFormat {
		// One line holding the whole array, as docker prints it.
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i, o := range objs {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := json.Compact(&buf, o.Raw); err != nil {
				return err
			}
		}
		buf.WriteString("]\n")
		_, err := out.Write(buf.Bytes())
		return err
	}
	tmpl, err := formatter.Parse(format)
	if err != nil {
		return err
	}
	for _, o := range objs {
		var buf bytes.Buffer
		// Templates name fields as the Go types do (.State.Running) or as
		// the JSON does (.Id, .HostConfig.Dns): try the typed value first,
		// then the raw document, as docker does.
		if err := tmpl.Execute(&buf, o.Value); err != nil {
			buf.Reset()
			var doc any
			dec := json.NewDecoder(bytes.NewReader(o.Raw))
			dec.UseNumber()
			if derr := dec.Decode(&doc); derr != nil {
				return err
			}
			if err := tmpl.Execute(&buf, doc); err != nil {
				return err
			}
		}
		buf.WriteByte('\n')
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
