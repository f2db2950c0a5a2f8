// Package clitest has what the CLI's tests share: a fake daemon's socket.
// Only tests import it.
package clitest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// ServeUnix serves h on a unix socket in a fresh directory, as berthd
// listens by default, and returns its unix:// host. Both go when the test
// ends. (The directory is not t.TempDir: a socket path is limited to 108
// bytes.)
func ServeUnix(t testing.TB, h http.Handler) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-cli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return "unix://" + sock
}
