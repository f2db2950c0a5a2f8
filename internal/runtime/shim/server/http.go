package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/shim"
)

type handler func(w http.ResponseWriter, r *http.Request, p *process) error

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	// Routes acting on a process take ?exec=ID; without it, init.
	proc := func(h handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			p, err := s.process(r.URL.Query().Get("exec"))
			if err == nil {
				err = h(w, r, p)
			}
			if err != nil {
				writeError(w, err)
			}
		}
	}
	plain := func(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
		return proc(func(w http.ResponseWriter, r *http.Request, _ *process) error { return h(w, r) })
	}
	state := func(p *process) shim.State {
		st := p.state()
		if p.id == "" {
			st.Status = s.status()
		}
		return st
	}
	mux.HandleFunc("GET /state", proc(func(w http.ResponseWriter, r *http.Request, p *process) error {
		return writeJSON(w, state(p))
	}))
	// The answer is the started process's state, which saves the daemon a
	// round trip for its pid.
	mux.HandleFunc("POST /start", proc(func(w http.ResponseWriter, r *http.Request, p *process) error {
		if err := s.start(p); err != nil {
			return err
		}
		return writeJSON(w, state(p))
	}))
	mux.HandleFunc("POST /signal", proc(func(w http.ResponseWriter, r *http.Request, p *process) error {
		sig, err := strconv.Atoi(r.URL.Query().Get("sig"))
		if err != nil || sig <= 0 || sig > 64 {
			return errdefs.InvalidParameter(errors.New("invalid signal: " + r.URL.Query().Get("sig")))
		}
		if err := s.signal(p, unix.Signal(sig)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mux.HandleFunc("GET /wait", proc(func(w http.ResponseWriter, r *http.Request, p *process) error {
		select {
		case <-p.done:
			return writeJSON(w, p.exit())
		case <-r.Context().Done():
			return nil
		}
	}))
	mux.HandleFunc("POST /attach", proc(s.attach))
	mux.HandleFunc("POST /resize", proc(func(w http.ResponseWriter, r *http.Request, p *process) error {
		q := r.URL.Query()
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
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mux.HandleFunc("POST /exec", plain(func(w http.ResponseWriter, r *http.Request) error {
		var req shim.ExecRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			return errdefs.InvalidParameter(err)
		}
		id, err := s.newExec(req)
		if err != nil {
			return err
		}
		return writeJSON(w, shim.ExecResponse{ID: id})
	}))
	mux.HandleFunc("POST /pause", plain(func(w http.ResponseWriter, r *http.Request) error {
		if s.init.state().Status != shim.StatusRunning {
			return errdefs.Conflict(errors.New("container is not running"))
		}
		if err := s.container.Pause(); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mux.HandleFunc("POST /resume", plain(func(w http.ResponseWriter, r *http.Request) error {
		if s.status() != shim.StatusPaused {
			return errdefs.Conflict(errors.New("container is not paused"))
		}
		if err := s.container.Resume(); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mux.HandleFunc("POST /update", plain(func(w http.ResponseWriter, r *http.Request) error {
		var res specs.LinuxResources
		if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("decoding resources: %w", err))
		}
		cfg := s.container.Config()
		applyResources(cfg.Cgroups.Resources, &res)
		if err := s.container.Set(cfg); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mux.HandleFunc("GET /stats", plain(func(w http.ResponseWriter, r *http.Request) error {
		st, err := s.container.Stats()
		if err != nil {
			return err
		}
		return writeJSON(w, st)
	}))
	mux.HandleFunc("POST /delete", plain(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.delete(r.Context(), r.URL.Query().Get("force") == "1"); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	return mux
}

// attach hijacks the connection: output (framed unless tty) flows to the
// client until the process's output ends; the client's bytes go to stdin.
func (s *server) attach(w http.ResponseWriter, r *http.Request, p *process) error {
	q := r.URL.Query()
	wantStdin := q.Get("stdin") == "1" && p.withStdin
	if wantStdin && !p.acquireStdin() {
		return errdefs.Conflict(errors.New("another client is attached to stdin"))
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		if wantStdin {
			p.releaseStdin(false)
		}
		return errors.New("connection cannot be hijacked")
	}
	// Subscribe before answering, so no output falls between the answer and
	// the subscription.
	sub := p.out.subscribe(q.Get("stdout") == "1", q.Get("stderr") == "1")
	conn, rw, err := hj.Hijack()
	if err != nil {
		p.out.unsubscribe(sub)
		if wantStdin {
			p.releaseStdin(false)
		}
		return err
	}
	ctype := "application/vnd.docker.multiplexed-stream"
	if p.tty {
		ctype = "application/vnd.docker.raw-stream"
	}
	_, _ = rw.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: " + ctype + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	if err := rw.Flush(); err != nil {
		conn.Close()
		p.out.unsubscribe(sub)
		if wantStdin {
			p.releaseStdin(false)
		}
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

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errdefs.ErrInvalidArgument):
		status = http.StatusBadRequest
	case errors.Is(err, errdefs.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, errdefs.ErrConflict):
		status = http.StatusConflict
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
}
