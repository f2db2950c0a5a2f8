package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/berth-engine/berth/internal/errdefs"
)

// LogsOptions are docker logs' parameters.
type LogsOptions struct {
	Stdout, Stderr bool
	Since, Until   time.Time
	Follow         bool
	Tail           int // -1: all
	Timestamps     bool
}

// LogMessage is one line of a container's output.
type LogMessage struct {
	Stream string // "stdout" or "stderr"
	Line   []byte // with its newline
	Time   time.Time
}

type jsonLogLine struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// Logs validates the request and returns whether the container has a TTY
// (the stream is then not multiplexed) and a function that emits the lines.
func (s *Service) Logs(ref string, opts LogsOptions) (tty bool, run func(ctx context.Context, emit func(LogMessage) error) error, err error) {
	c, err := s.store.get(ref)
	if err != nil {
		return false, nil, err
	}
	if !opts.Stdout && !opts.Stderr {
		return false, nil, errdefs.InvalidParameterf("you must choose at least one stream")
	}
	if !opts.Until.IsZero() && !opts.Since.IsZero() && opts.Until.Before(opts.Since) {
		return false, nil, errdefs.InvalidParameterf("since must be before until")
	}
	c.mu.Lock()
	tty = c.Config.Tty
	c.mu.Unlock()
	path := s.logPath(c.ID)
	return tty, func(ctx context.Context, emit func(LogMessage) error) error {
		return s.followLog(ctx, c, path, opts, emit)
	}, nil
}

// rotatedLogs lists the rotated files of path, oldest first (path.N …
// path.1), as json-file's max-file leaves them.
func rotatedLogs(path string) []string {
	var out []string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		out = append([]string{p}, out...)
	}
	return out
}

func (s *Service) followLog(ctx context.Context, c *Container, path string, opts LogsOptions, emit func(LogMessage) error) error {
	// Rotated files first; they are complete and never grow.
	var rotated []io.Reader
	var closers []io.Closer
	for _, p := range rotatedLogs(path) {
		if f, err := os.Open(p); err == nil {
			rotated = append(rotated, f)
			closers = append(closers, f)
		}
	}
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if !opts.Follow {
			return nil
		}
		// The container has not written yet; wait for the file.
		for errors.Is(err, os.ErrNotExist) {
			if !s.isRunning(c) {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			f, err = os.Open(path)
		}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(&chainReader{done: rotated, live: f}, 64<<10)

	want := func(m jsonLogLine) bool {
		if m.Stream == "stdout" && !opts.Stdout || m.Stream == "stderr" && !opts.Stderr {
			return false
		}
		if !opts.Since.IsZero() && m.Time.Before(opts.Since) {
			return false
		}
		if !opts.Until.IsZero() && m.Time.After(opts.Until) {
			return false
		}
		return true
	}
	send := func(m jsonLogLine) error {
		return emit(LogMessage{Stream: m.Stream, Line: []byte(m.Log), Time: m.Time})
	}

	// First the existing content, honouring --tail.
	var tail []jsonLogLine
	var pending []byte
	readLine := func() (jsonLogLine, bool, error) {
		for {
			chunk, err := r.ReadBytes('\n')
			pending = append(pending, chunk...)
			if err != nil {
				return jsonLogLine{}, false, err
			}
			line := pending
			pending = nil
			var m jsonLogLine
			if json.Unmarshal(line, &m) != nil {
				continue // a torn or foreign line: skip it
			}
			return m, true, nil
		}
	}
	for {
		m, ok, err := readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if !ok || !want(m) {
			continue
		}
		if opts.Tail >= 0 {
			tail = append(tail, m)
			if len(tail) > opts.Tail {
				tail = tail[1:]
			}
			continue
		}
		if err := send(m); err != nil {
			return err
		}
	}
	for _, m := range tail {
		if err := send(m); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	stopped := false
	for {
		m, ok, err := readLine()
		if err == nil {
			if ok && want(m) {
				if err := send(m); err != nil {
					return err
				}
			}
			continue
		}
		if err != io.EOF {
			return err
		}
		if stopped {
			return nil
		}
		if !opts.Until.IsZero() && time.Now().After(opts.Until) {
			return nil
		}
		if !s.isRunning(c) {
			// Read once more: the last lines may have landed after our EOF.
			stopped = true
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Service) isRunning(c *Container) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.State.Running()
}

// chainReader reads the finished readers in turn, then the live one; unlike
// io.MultiReader it keeps reading the live one after an EOF, so that a
// follower sees what is appended later.
type chainReader struct {
	done []io.Reader
	live io.Reader
}

func (c *chainReader) Read(p []byte) (int, error) {
	for len(c.done) > 0 {
		n, err := c.done[0].Read(p)
		if err == io.EOF {
			c.done = c.done[1:]
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
	return c.live.Read(p)
}
