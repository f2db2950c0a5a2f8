// Package server is Berth's HTTP front: it routes Docker Engine API
// requests (versioned and unversioned paths) to handlers, negotiates the
// API version, recovers panics, logs requests, and maps error classes to
// HTTP statuses in one place.
package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/moby/moby/client/pkg/versions"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server/httputils"
	"github.com/berth-engine/berth/internal/version"
)

// Server serves the API on any number of listeners.
type Server struct {
	log    *slog.Logger
	routes []compiledRoute

	mu         sync.Mutex
	servers    []*http.Server
	shutdown   chan struct{}
	shutdownMu sync.Once
}

// New builds a server from the routers' tables.
func New(log *slog.Logger, routers ...Router) *Server {
	s := &Server{log: log, shutdown: make(chan struct{})}
	for _, rt := range routers {
		for _, r := range rt.Routes() {
			s.routes = append(s.routes, compile(r))
		}
	}
	return s
}

// Serve accepts connections on l until Shutdown. It returns nil after a
// clean shutdown.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context {
			return httputils.WithShutdown(context.Background(), s.shutdown)
		},
	}
	s.mu.Lock()
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown ends streams, stops accepting, and waits for in-flight requests
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownMu.Do(func() { close(s.shutdown) })
	s.mu.Lock()
	servers := append([]*http.Server(nil), s.servers...)
	s.mu.Unlock()
	var errs []error
	for _, hs := range servers {
		errs = append(errs, hs.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

// statusRecorder remembers the status for the request log while keeping
// the Flusher and Hijacker the streaming handlers need.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection to attach and exec handlers.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	r.status = http.StatusSwitchingProtocols
	return hj.Hijack()
}

// ServeHTTP is the whole middleware chain: recover, log, version, route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic in API handler", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeError(rec, fmt.Errorf("internal server error: %v", p))
			}
		}
		s.log.Debug("api request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	}()

	h := rec.Header()
	h.Set("Server", fmt.Sprintf("Docker/%s (%s)", version.Version, runtime.GOOS))
	h.Set("Api-Version", version.APIVersion)
	h.Set("Ostype", runtime.GOOS)

	path := r.URL.Path
	apiVersion := version.APIVersion
	if m := versionPrefix.FindStringSubmatch(path); m != nil {
		apiVersion, path = m[1], m[2]
		if versions.LessThan(apiVersion, version.MinAPIVersion) {
			writeError(rec, errdefs.InvalidParameterf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", apiVersion, version.MinAPIVersion))
			return
		}
		if versions.GreaterThan(apiVersion, version.APIVersion) {
			writeError(rec, errdefs.InvalidParameterf("client version %s is too new. Maximum supported API version is %s", apiVersion, version.APIVersion))
			return
		}
	}

	route, vars, pathExists := match(s.routes, r.Method, path)
	if route == nil {
		if pathExists {
			writeError(rec, errMethodNotAllowed)
		} else {
			writeError(rec, errdefs.NotFoundf("page not found"))
		}
		return
	}
	if err := httputils.ParseForm(r); err != nil {
		writeError(rec, err)
		return
	}
	ctx := httputils.WithVersion(r.Context(), apiVersion)
	if err := route.Handler(ctx, rec, r.WithContext(ctx), vars); err != nil {
		if rec.status != 0 {
			// Headers are gone (a stream broke mid-way): all we can do is log.
			s.log.Debug("api stream error", "method", r.Method, "path", path, "err", err)
			return
		}
		status := writeError(rec, err)
		if status >= 500 {
			s.log.Error("api error", "method", r.Method, "path", path, "status", status, "err", err)
		} else {
			s.log.Debug("api error", "method", r.Method, "path", path, "status", status, "err", err)
		}
	}
}

var errMethodNotAllowed = methodNotAllowed{}

type methodNotAllowed struct{}

func (methodNotAllowed) Error() string { return "method not allowed" }
