package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/shim/api"
)

type handler func(w *response, r *request, p *process) error

// routes returns the shim's API (see package api) as a handler for httpd.
func (s *server) routes() func(w *response, r *request) {
	routes := map[string]func(w *response, r *request){}
	paths := map[string]bool{}
	handle := func(pattern string, h func(w *response, r *request)) {
		routes[pattern] = h
		_, path, _ := strings.Cut(pattern, " ")
		paths[path] = true
	}
	// Routes acting on a process take ?exec=ID; without it, init.
	proc := func(h handler) func(w *response, r *request) {
		return func(w *response, r *request) {
			p, err := s.process(r.Query().Get("exec"))
			if err == nil {
				err = h(w, r, p)
			}
			if err != nil && !w.hijacked {
				writeError(w, err)
			}
		}
	}
	plain := func(h func(w *response, r *request) error) func(w *response, r *request) {
		return proc(func(w *response, r *request, _ *process) error { return h(w, r) })
	}
	state := func(p *process) api.State {
		st := p.state()
		if p.id == "" {
			st.Status = s.status()
			st.Held = p.out.isHeld()
		}
		return st
	}
	handle("GET /state", proc(func(w *response, r *request, p *process) error {
		return writeJSON(w, state(p))
	}))
	// The answer is the started process's state, which saves the daemon a
	// round trip for its pid.
	handle("POST /start", proc(func(w *response, r *request, p *process) error {
		if err := s.start(p); err != nil {
			return err
		}
		return writeJSON(w, state(p))
	}))
	handle("POST /signal", proc(func(w *response, r *request, p *process) error {
		sig, err := strconv.Atoi(r.Query().Get("sig"))
		if err != nil || sig <= 0 || sig > 64 {
			return errdefs.InvalidParameter(errors.New("invalid signal: " + r.Query().Get("sig")))
		}
		if err := s.signal(p, unix.Signal(sig)); err != nil {
			return err
		}
		w.WriteHeader(204)
		return nil
	}))
	handle("GET /wait", proc(func(w *response, r *request, p *process) error {
		select {
		case <-p.done:
			return writeJSON(w, p.exit())
		case <-r.Context().Done():
			return nil
		}
	}))
	handle("POST /attach", proc(s.attach))
	handle("POST /exec/start", plain(s.execAttachStart))
	handle("POST /resize", proc(func(w *response, r *request, p *process) error {
		q := r.Query()
		h, err1 := strconv.ParseUint(q.Get("h"), 10, 16)
		wd, err2 := strconv.ParseUint(q.Get("w"), 10, 16)
		if err1 != nil || err2 != nil {
			return errdefs.InvalidParameter(errors.New("resize needs h and w"))
		}
		if p.console == nil {
			return errdefs.Conflict(errors.New("process has no tty"))
		}
		ws := &unix.Winsize{Row: uint16(h), Col: uint16(wd)}
		if err := unix.IoctlSetWinsize(int(p.console.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return err
		}
		w.WriteHeader(204)
		return nil
	}))
	handle("POST /exec", plain(func(w *response, r *request) error {
		p, err := s.execFromRequest(r)
		if err != nil {
			return err
		}
		return writeJSON(w, api.ExecResponse{ID: p.id})
	}))
	handle("POST /pause", plain(func(w *response, r *request) error {
		if s.init.state().Status != api.StatusRunning {
			return errdefs.Conflict(errors.New("container is not running"))
		}
		if err := s.container.Pause(); err != nil {
			return err
		}
		w.WriteHeader(204)
		return nil
	}))
	handle("POST /resume", plain(func(w *response, r *request) error {
		if s.status() != api.StatusPaused {
			return errdefs.Conflict(errors.New("container is not paused"))
		}
		if err := s.container.Resume(); err != nil {
			return err
		}
		w.WriteHeader(204)
		return nil
	}))
	handle("POST /update", plain(func(w *response, r *request) error {
		var res specs.LinuxResources
		if err := json.NewDecoder(r.Body()).Decode(&res); err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("decoding resources: %w", err))
		}
		cfg := s.container.Config()
		applyResources(cfg.Cgroups.Resources, &res)
		if err := s.container.Set(cfg); err != nil {
			return err
		}
		w.WriteHeader(204)
		return nil
	}))
	handle("GET /stats", plain(func(w *response, r *request) error {
		st, err := s.container.Stats()
		if err != nil {
			return err
		}
		return writeJSON(w, st)
	}))
	handle("POST /delete", plain(func(w *response, r *request) error {
		if err := s.delete(r.Context(), r.Query().Get("force") == "1"); err != nil {
			return err
		}
		w.WriteHeader(204)
		return nil
	}))
	return func(w *response, r *request) {
		if h := routes[r.method+" "+r.path]; h != nil {
			h(w, r)
			return
		}
		if paths[r.path] {
			w.WriteHeader(405)
			writeError(w, errors.New("method not allowed"))
			return
		}
		writeError(w, errdefs.NotFound(errors.New("page not found")))
	}
}

// attach hijacks the connection: output (framed unless tty) flows to the
// client until the process's output ends; the client's bytes go to stdin.
func (s *server) attach(w *response, r *request, p *process) error {
	return s.attachStream(w, r, p, nil)
}

// execAttachStart creates an exec process, attaches the connection to it and
// starts it: what the daemon does for `docker exec` in one round trip instead
// of three. The 101 answer names the exec and its pid (ExecIDHeader,
// ExecPidHeader); a failed start is answered with its error instead.
func (s *server) execAttachStart(w *response, r *request) error {
	p, err := s.execFromRequest(r)
	if err != nil {
		return err
	}
	id := p.id
	return s.attachStream(w, r, p, func() (string, error) {
		if err := s.start(p); err != nil {
			return "", err
		}
		st := p.state()
		return api.ExecIDHeader + ": " + id + "\r\n" + api.ExecPidHeader + ": " + strconv.Itoa(st.Pid) + "\r\n", nil
	})
}

// execFromRequest creates the exec process an ExecRequest body describes.
func (s *server) execFromRequest(r *request) (*process, error) {
	var req api.ExecRequest
	if err := json.NewDecoder(r.Body()).Decode(&req); err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	id, err := s.newExec(req)
	if err != nil {
		return nil, err
	}
	return s.process(id)
}

// attachStream subscribes the connection to p's output (and stdin), hijacks
// it and streams. With start, the process is started after the subscription
// and before the answer, whose extra header lines start returns; a start
// error is the answer then.
func (s *server) attachStream(w *response, r *request, p *process, start func() (string, error)) error {
	q := r.Query()
	wantStdin := q.Get("stdin") == "1" && p.withStdin
	if wantStdin && !p.acquireStdin() {
		return errdefs.Conflict(errors.New("another client is attached to stdin"))
	}
	// Subscribe before answering, so no output falls between the answer and
	// the subscription.
	sub := p.out.subscribe(q.Get("stdout") == "1", q.Get("stderr") == "1")
	release := func() {
		p.out.unsubscribe(sub)
		if wantStdin {
			p.releaseStdin(false)
		}
	}
	var extra string
	if start != nil {
		var err error
		if extra, err = start(); err != nil {
			release()
			return err
		}
	}
	conn, rw := w.Hijack()
	ctype := "application/vnd.docker.multiplexed-stream"
	if p.tty {
		ctype = "application/vnd.docker.raw-stream"
	}
	_, _ = rw.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: " + ctype + "\r\n" + extra + "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	if err := rw.Flush(); err != nil {
		conn.Close()
		release()
		return nil
	}
	go func() {
		// rw.Reader may hold stdin bytes the client sent with the request.
		in := io.Reader(rw.Reader)
		var err error
		if wantStdin {
			err = p.copyStdin(in)
			p.releaseStdin(err == nil && q.Get("closeStdin") == "1")
		} else {
			_, err = io.Copy(io.Discard, in)
		}
		// A half-close (EOF) keeps the output flowing; a broken connection
		// stops it.
		if err != nil && !errors.Is(err, net.ErrClosed) {
			p.out.unsubscribe(sub)
		}
	}()
	p.out.serve(sub, conn)
	// Unix sockets keep data already sent readable after close, so the
	// client still gets the tail of the output.
	conn.Close()
	return nil
}

func writeJSON(w *response, v any) error {
	w.SetContentType("application/json")
	return json.NewEncoder(w).Encode(v)
}

// writeError answers err as {"message": ...} with the status of its class;
// a status the handler set already (an error status) stays.
func writeError(w *response, err error) {
	status := 500
	switch {
	case errors.Is(err, errdefs.ErrInvalidArgument):
		status = 400
	case errors.Is(err, errdefs.ErrNotFound):
		status = 404
	case errors.Is(err, errdefs.ErrConflict):
		status = 409
	}
	if w.status < 400 {
		w.WriteHeader(status)
	}
	w.body.Reset()
	w.SetContentType("application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
}
