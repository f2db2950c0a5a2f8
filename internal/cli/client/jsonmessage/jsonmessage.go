// Package jsonmessage renders the JSON progress streams of pull, push,
// load, import and build as docker does: on a terminal, one line per layer
// redrawn in place with a progress bar; elsewhere, plain status lines
// without the progress updates.
package jsonmessage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/term"
)

// DisplayJSONMessagesStream reads messages from in until it ends and writes
// them to out; terminalFd is out's descriptor when isTerminal. Messages
// with Aux data go to auxCallback instead (nil drops them). A message
// carrying an error stops the display and is returned (a
// *jsonstream.Error).
func DisplayJSONMessagesStream(in io.Reader, out io.Writer, terminalFd uintptr, isTerminal bool, auxCallback func(jsonstream.Message)) error {
	width := uint16(200)
	if isTerminal {
		if ws, err := term.GetWinsize(terminalFd); err == nil {
			width = ws.Width
		}
	}
	// lines maps a layer ID to the line it is shown on, counted from the
	// first of the block of progress lines being redrawn.
	lines := map[string]int{}
	dec := json.NewDecoder(in)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Aux != nil {
			if auxCallback != nil {
				auxCallback(m)
			}
			continue
		}
		up := 0
		if m.ID != "" && m.Progress != nil {
			line, ok := lines[m.ID]
			if !ok {
				line = len(lines)
				lines[m.ID] = line
				if isTerminal {
					fmt.Fprint(out, "\n")
				}
			}
			up = len(lines) - line
			if isTerminal && up > 0 {
				fmt.Fprintf(out, "\x1b[%dA", up)
			}
		} else {
			lines = map[string]int{}
		}
		err := display(m, out, isTerminal, width)
		if m.ID != "" && isTerminal && up > 0 {
			fmt.Fprintf(out, "\x1b[%dB", up)
		}
		if err != nil {
			return err
		}
	}
}

// display writes one message; the cursor is on the message's line.
func display(m jsonstream.Message, out io.Writer, isTerminal bool, width uint16) error {
	if m.Error != nil {
		return m.Error
	}
	var eol string
	switch {
	case isTerminal && m.Stream == "" && m.Progress != nil:
		fmt.Fprint(out, "\x1b[2K\r") // redraw the line
		eol = "\r"
	case m.Progress != nil && (m.Progress.Current > 0 || m.Progress.Total > 0):
		return nil // progress updates are for terminals only
	}
	if m.ID != "" {
		fmt.Fprintf(out, "%s: ", m.ID)
	}
	switch {
	case m.Progress != nil && isTerminal:
		fmt.Fprintf(out, "%s %s%s", m.Status, progressBar(*m.Progress, width, time.Now()), eol)
	case m.Stream != "":
		fmt.Fprintf(out, "%s%s", m.Stream, eol)
	default:
		fmt.Fprintf(out, "%s%s\n", m.Status, eol)
	}
	return nil
}

// progressBar renders "[====>    ] 1.2MB/3.4MB 5s": the bar only on a
// terminal wider than 110 columns, the time left on one wider than 50.
func progressBar(p jsonstream.Progress, width uint16, now time.Time) string {
	if p.Current <= 0 && p.Total <= 0 {
		return ""
	}
	if p.Total <= 0 {
		if p.Units == "" {
			return fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
		}
		return fmt.Sprintf("%d %s", p.Current, p.Units)
	}
	half := min(int(float64(p.Current)/float64(p.Total)*100)/2, 50)
	var bar, counts, left string
	if width > 110 {
		bar = "[" + strings.Repeat("=", half) + ">" + strings.Repeat(" ", max(50-half, 0)) + "] "
	}
	switch {
	case p.HideCounts:
	case p.Units == "" && p.Current > p.Total:
		counts = fmt.Sprintf("%8v", units.HumanSize(float64(p.Current)))
	case p.Units == "":
		counts = fmt.Sprintf("%8v/%v", units.HumanSize(float64(p.Current)), units.HumanSize(float64(p.Total)))
	case p.Current > p.Total:
		counts = fmt.Sprintf("%d %s", p.Current, p.Units)
	default:
		counts = fmt.Sprintf("%d/%d %s", p.Current, p.Total, p.Units)
	}
	if width > 50 && p.Current > 0 && p.Start > 0 && half < 50 {
		perUnit := now.UTC().Sub(time.Unix(p.Start, 0)) / time.Duration(p.Current)
		left = " " + (time.Duration(p.Total-p.Current) * perUnit).Round(time.Second).String()
	}
	return bar + counts + left
}
