package shim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

// TestExecAttachStartOlderShim: a shim from before /exec/start (net/http's
// mux, which answers unknown routes with a plain-text 404) gives
// ErrNotSupported, so the daemon falls back to three calls; a JSON error is
// the shim's own answer and is passed on.
func TestExecAttachStartOlderShim(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /exec", func(w http.ResponseWriter, r *http.Request) {})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := NewClient(sock)
	defer c.Close()
	if _, _, _, err := c.ExecAttachStart(context.Background(), ExecRequest{}, AttachOptions{Stdout: true}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("older shim: %v, want ErrNotSupported", err)
	}

	mux.HandleFunc("POST /exec/start", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"message":"container is stopped, not running"}`))
	})
	_, _, _, err = c.ExecAttachStart(context.Background(), ExecRequest{}, AttachOptions{Stdout: true})
	if err == nil || errors.Is(err, ErrNotSupported) || err.Error() != "container is stopped, not running" {
		t.Errorf("shim's error: %v", err)
	}
}
