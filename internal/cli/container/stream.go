package container

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/term"

	"github.com/berth-engine/berth/internal/apiext"
	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// defaultDetachKeys is docker's ctrl-p,ctrl-q.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// parseDetachKeys turns "ctrl-p,ctrl-q" style sequences into bytes: each
// comma-separated key is one character or ctrl-<x> for x in a-z, @, [, \,
// ], ^, _ (the ASCII control codes).
func parseDetachKeys(keys string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(keys, ",") {
		if len(k) == 1 {
			out = append(out, k[0])
			continue
		}
		rest, ok := strings.CutPrefix(strings.ToLower(k), "ctrl-")
		if !ok || len(rest) != 1 {
			return nil, fmt.Errorf("invalid detach keys (%s) provided", keys)
		}
		c := rest[0]
		switch {
		case c >= 'a' && c <= 'z':
			out = append(out, c-'a'+1)
		case c == '@':
			out = append(out, 0)
		case c >= '[' && c <= '_':
			out = append(out, c-'['+27)
		default:
			return nil, fmt.Errorf("invalid detach keys (%s) provided", keys)
		}
	}
	return out, nil
}

// errDetached reports that the user typed the detach sequence: not an
// error for the command, which then exits 0 and leaves the container
// running.
var errDetached = errors.New("read escape sequence")

// streamOptions says how to connect a hijacked attach/exec connection to
// the CLI's streams.
type streamOptions struct {
	In         io.Reader // nil when stdin is not attached
	Out, Err   io.Writer
	TTY        bool
	DetachKeys string
	// Exit, when set, receives the exit code that ends the multiplexed
	// stream (no TTY; see package apiext), valid once streamHijacked has
	// returned nil.
	Exit *streamExit
}

// streamExit is the exit code read from a stream's exit frame, if it had
// one.
type streamExit struct {
	code int
	ok   bool
}

// streamHijacked copies between the terminal and the connection until the
// output ends, the detach keys are typed (errDetached) or ctx ends. Output
// is raw with a TTY, stdcopy frames without.
func streamHijacked(ctx context.Context, resp client.HijackedResponse, o streamOptions) error {
	outDone := make(chan error, 1)
	go func() {
		var err error
		switch {
		case o.TTY:
			_, err = io.Copy(o.Out, resp.Reader)
		case o.Exit != nil:
			err = copyExitFramed(o.Out, o.Err, resp.Reader, o.Exit)
		default:
			_, err = stdcopy.StdCopy(o.Out, o.Err, resp.Reader)
		}
		outDone <- err
	}()

	inDone := make(chan error, 1)
	if o.In != nil {
		go func() {
			in := o.In
			// With a TTY the client watches for the detach keys too, so it
			// can restore the terminal and return at once; the daemon does
			// the same on its side and drops the connection.
			if o.TTY {
				keys := o.DetachKeys
				if keys == "" {
					keys = defaultDetachKeys
				}
				if b, err := parseDetachKeys(keys); err == nil {
					in = term.NewEscapeProxy(in, b)
				}
			}
			_, err := io.Copy(resp.Conn, in)
			// Tell the daemon stdin ended (so `cat` in the container sees
			// EOF) while still reading the output.
			_ = resp.CloseWrite()
			inDone <- err
		}()
	}

	for {
		select {
		case err := <-outDone:
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				return err
			}
			return nil
		case err := <-inDone:
			var esc term.EscapeError
			if errors.As(err, &esc) {
				return errDetached
			}
			inDone = nil
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// copyExitFramed demultiplexes as stdcopy.StdCopy does (a stream cut short
// ends the copy quietly), up to the exit frame that ends the stream (package
// apiext), whose code it stores in exit. A stream that ends without one
// leaves exit unset.
func copyExitFramed(stdout, stderr io.Writer, r io.Reader, exit *streamExit) error {
	var hdr [8]byte
	buf := make([]byte, 32*1024)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return quietEOF(err)
		}
		size := int64(binary.BigEndian.Uint32(hdr[4:]))
		var w io.Writer
		switch stdcopy.StdType(hdr[0]) {
		case stdcopy.Stdin, stdcopy.Stdout:
			w = stdout
		case stdcopy.Stderr:
			w = stderr
		case stdcopy.Systemerr:
			msg := make([]byte, min(size, 1<<20))
			if _, err := io.ReadFull(r, msg); err != nil {
				return quietEOF(err)
			}
			return fmt.Errorf("error from daemon in stream: %s", msg)
		case stdcopy.StdType(apiext.ExitStream):
			if size != 4 {
				return fmt.Errorf("exit frame of %d bytes", size)
			}
			if _, err := io.ReadFull(r, hdr[:4]); err != nil {
				return quietEOF(err)
			}
			exit.code, exit.ok = int(int32(binary.BigEndian.Uint32(hdr[:4]))), true
			return nil
		default:
			return fmt.Errorf("unrecognized stream: %d", hdr[0])
		}
		n, err := io.CopyBuffer(w, io.LimitReader(r, size), buf)
		if err != nil {
			return err
		}
		if n < size {
			return nil // the stream ended inside the frame
		}
	}
}

// quietEOF drops the end of a stream, as stdcopy.StdCopy does.
func quietEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// ttyState holds a terminal put in raw mode, to restore it on return.
type ttyState struct {
	inFd    uintptr
	inState *term.State
}

// setRawTerminal puts the CLI's stdin in raw mode when it is a terminal, so
// keys (including ctrl-c and the detach keys) go to the container as bytes.
func setRawTerminal(c *cli.CLI) (*ttyState, error) {
	fd, isTerm := term.GetFdInfo(c.In)
	if !isTerm {
		return nil, nil
	}
	st, err := term.SetRawTerminal(fd)
	if err != nil {
		return nil, fmt.Errorf("unable to set IO streams as raw terminal: %w", err)
	}
	return &ttyState{inFd: fd, inState: st}, nil
}

func (t *ttyState) restore() {
	if t != nil && t.inState != nil {
		_ = term.RestoreTerminal(t.inFd, t.inState)
	}
}

// checkTTY refuses -t with attached stdin when stdin is not a terminal,
// docker's "the input device is not a TTY".
func checkTTY(c *cli.CLI, attachStdin, tty bool) error {
	if !tty || !attachStdin {
		return nil
	}
	if _, isTerm := term.GetFdInfo(c.In); !isTerm {
		return errors.New("the input device is not a TTY")
	}
	return nil
}

// ttySize is the size of the terminal on the CLI's stdout; ok is false when
// stdout is not a terminal.
func ttySize(c *cli.CLI) (height, width uint, ok bool) {
	fd, isTerm := term.GetFdInfo(c.Out)
	if !isTerm {
		return 0, 0, false
	}
	ws, err := term.GetWinsize(fd)
	if err != nil || ws.Height == 0 && ws.Width == 0 {
		return 0, 0, false
	}
	return uint(ws.Height), uint(ws.Width), true
}

// monitorTTYSize sends the terminal size now and on every SIGWINCH, until
// ctx ends. resize is ContainerResize or ExecResize.
func monitorTTYSize(ctx context.Context, c *cli.CLI, resize func(ctx context.Context, h, w uint) error) {
	if _, isTerm := term.GetFdInfo(c.Out); !isTerm {
		return
	}
	send := func() {
		if h, w, ok := ttySize(c); ok {
			_ = resize(ctx, h, w)
		}
	}
	send()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ch:
				send()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// proxySignals forwards the signals berth receives to the container, as
// docker's --sig-proxy does, until the returned stop is called.
//
// Enabling every signal takes the runtime one round trip to its signal
// thread per signal, a millisecond or more in all: the goroutine does it,
// so that the caller's requests (attach, start) go on meanwhile.
func proxySignals(ctx context.Context, cl *client.Client, id string) (stop func()) {
	ch := make(chan os.Signal, 16)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		signal.Notify(ch)
		for {
			select {
			case s := <-ch:
				sig, ok := s.(syscall.Signal)
				if !ok {
					continue
				}
				switch sig {
				case syscall.SIGCHLD, syscall.SIGPIPE, syscall.SIGURG, syscall.SIGWINCH:
					continue
				}
				_, _ = cl.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: fmt.Sprint(int(sig))})
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		// Stop waits for the runtime's signal delivery to go idle, a
		// millisecond or two after every signal was enabled; the command
		// is about to return and need not wait for it. Until it is done
		// a signal lands in ch and is dropped.
		go signal.Stop(ch)
	}
}
