package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startHTTPD serves h on a unix socket and returns a net/http client for it
// (the daemon's kind of client) and the socket path.
func startHTTPD(t *testing.T, h *httpd) (*http.Client, string, <-chan error) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	served, done := make(chan error, 1), make(chan struct{})
	go func() {
		served <- h.serve(ln)
		close(done)
	}()
	t.Cleanup(func() {
		h.shutdown(context.Background())
		<-done
	})
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	return c, sock, served
}

func testRoutes(waiting chan<- struct{}, canceled chan<- struct{}) func(w *response, r *request) {
	return func(w *response, r *request) {
		switch r.method + " " + r.path {
		case "GET /json":
			_ = writeJSON(w, map[string]string{"q": r.Query().Get("q")})
		case "POST /echo":
			b, _ := io.ReadAll(r.Body())
			w.Write(b)
		case "POST /none":
			w.WriteHeader(204)
		case "GET /wait":
			waiting <- struct{}{}
			<-r.Context().Done()
			canceled <- struct{}{}
		case "POST /upgrade":
			conn, rw := w.Hijack()
			rw.WriteString("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nraw bytes")
			rw.Flush()
			conn.Close()
		default:
			writeError(w, errors.New("no route"))
		}
	}
}

func TestHTTPDRequests(t *testing.T) {
	h := newHTTPD(testRoutes(nil, nil), "GET /wait")
	c, _, _ := startHTTPD(t, h)

	resp, err := c.Get("http://shim/json?q=a%20b")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || strings.TrimSpace(string(b)) != `{"q":"a b"}` {
		t.Errorf("GET /json: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	// The same connection serves the next requests (keep-alive).
	body := strings.Repeat("x", 100000)
	resp, err = c.Post("http://shim/echo", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != body {
		t.Errorf("POST /echo: %d, %d bytes back", resp.StatusCode, len(b))
	}
	resp, err = c.Post("http://shim/none", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Errorf("POST /none: %d", resp.StatusCode)
	}
	resp, err = c.Get("http://shim/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), `"message":"no route"`) {
		t.Errorf("error: %d %q", resp.StatusCode, b)
	}
	h.mu.Lock()
	n := len(h.conns)
	h.mu.Unlock()
	if n != 1 {
		t.Errorf("%d connections for sequential requests, want 1 kept alive", n)
	}
}

func TestHTTPDBadRequests(t *testing.T) {
	h := newHTTPD(testRoutes(nil, nil))
	_, sock, _ := startHTTPD(t, h)
	for _, tc := range []struct{ req, status string }{
		{"GARBAGE\r\n\r\n", "400"},
		{"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "411"},
		{"POST /echo HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", "413"},
		{"GET /json HTTP/1.1\r\nno colon here\r\n\r\n", "400"},
	} {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, tc.req)
		line, _ := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if !strings.HasPrefix(line, "HTTP/1.1 "+tc.status+" ") {
			t.Errorf("%q: answered %q, want %s", tc.req, line, tc.status)
		}
	}
}

// TestHTTPDLongPoll: a waiting handler's context ends when its client goes.
func TestHTTPDLongPoll(t *testing.T) {
	waiting, canceled := make(chan struct{}, 1), make(chan struct{}, 1)
	h := newHTTPD(testRoutes(waiting, canceled), "GET /wait")
	c, _, _ := startHTTPD(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://shim/wait", nil)
		_, err := c.Do(req)
		errc <- err
	}()
	select {
	case <-waiting:
	case <-time.After(5 * time.Second):
		t.Fatal("handler not called")
	}
	cancel()
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context did not end when the client went")
	}
	<-errc
}

func TestHTTPDHijackAndShutdown(t *testing.T) {
	h := newHTTPD(testRoutes(nil, nil))
	c, sock, served := startHTTPD(t, h)
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /upgrade HTTP/1.1\r\nHost: shim\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	b, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(b), "HTTP/1.1 101 UPGRADED\r\n") || !strings.HasSuffix(string(b), "\r\n\r\nraw bytes") {
		t.Errorf("hijacked answer %q", b)
	}
	// An idle keep-alive connection does not hold up shutdown.
	resp, err := c.Get("http://shim/json")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	done := make(chan struct{})
	go func() {
		h.shutdown(context.Background())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown waits on an idle connection")
	}
	select {
	case err := <-served:
		if !errors.Is(err, errServerClosed) {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after shutdown")
	}
	if _, err := net.Dial("unix", sock); err == nil {
		t.Error("still accepting after shutdown")
	}
}
