package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/cli/clitest"
)

// recorder is a fake daemon that logs "METHOD URI" of each request and
// answers the ping with apiVersion (none when empty).
type recorder struct {
	mu         sync.Mutex
	reqs       []string
	apiVersion string
	headStatus int // the HEAD /_ping status, 200 when 0
	handler    http.HandlerFunc
}

func (f *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI())
	f.mu.Unlock()
	if r.URL.Path == "/_ping" {
		if f.apiVersion != "" {
			w.Header().Set("Api-Version", f.apiVersion)
		}
		if r.Method == http.MethodHead && f.headStatus != 0 {
			w.WriteHeader(f.headStatus)
			return
		}
		_, _ = w.Write([]byte("OK"))
		return
	}
	if f.handler != nil {
		f.handler(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("[]"))
}

func (f *recorder) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

// serveTCP starts f on a loopback port and returns its tcp:// host.
func serveTCP(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return "tcp://" + strings.TrimPrefix(srv.URL, "http://")
}

// serveUnix starts h on a unix socket and returns its unix:// host.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	return clitest.ServeUnix(t, h)
}

func newClient(t *testing.T, host string, opts ...Opt) *Client {
	t.Helper()
	c, err := New(append([]Opt{WithHost(host)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestVersionNegotiation(t *testing.T) {
	tests := []struct {
		name       string
		server     string // the daemon's API-Version
		headStatus int
		env        string // DOCKER_API_VERSION
		want       []string
		version    string
	}{
		{
			name: "older daemon wins", server: "1.44",
			want:    []string{"HEAD /_ping", "GET /v1.44/info", "GET /v1.44/info"},
			version: "1.44",
		},
		{
			name: "newer daemon gets ours", server: "1.99",
			want:    []string{"HEAD /_ping", "GET /v1.56/info", "GET /v1.56/info"},
			version: maxAPIVersion,
		},
		{
			name:    "no version header",
			want:    []string{"HEAD /_ping", "GET /v1.56/info", "GET /v1.56/info"},
			version: maxAPIVersion,
		},
		{
			name: "HEAD refused, GET answers", server: "1.50", headStatus: http.StatusMethodNotAllowed,
			want:    []string{"HEAD /_ping", "GET /_ping", "GET /v1.50/info", "GET /v1.50/info"},
			version: "1.50",
		},
		{
			// Below the oldest version the client speaks it does not settle
			// and asks again next time; the daemon answers with its error.
			name: "daemon too old", server: "1.24",
			want:    []string{"HEAD /_ping", "GET /v1.56/info", "HEAD /_ping", "GET /v1.56/info"},
			version: maxAPIVersion,
		},
		{
			name: "DOCKER_API_VERSION pins", server: "1.50", env: "1.41",
			want:    []string{"GET /v1.41/info", "GET /v1.41/info"},
			version: "1.41",
		},
		{
			name: "DOCKER_API_VERSION with a v", server: "1.50", env: " v1.43 ",
			want:    []string{"GET /v1.43/info", "GET /v1.43/info"},
			version: "1.43",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DOCKER_API_VERSION", tt.env)
			f := &recorder{apiVersion: tt.server, headStatus: tt.headStatus, handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte("{}"))
			}}
			c := newClient(t, serveTCP(t, f), WithAPIVersionFromEnv())
			for range 2 {
				if _, err := c.Info(context.Background(), InfoOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if got := f.requests(); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if got := c.ClientVersion(); got != tt.version {
				t.Errorf("ClientVersion %q, want %q", got, tt.version)
			}
		})
	}
}

func TestAPIVersionFromEnvInvalid(t *testing.T) {
	t.Setenv("DOCKER_API_VERSION", "latest")
	_, err := New(WithHost("unix:///x.sock"), WithAPIVersionFromEnv())
	if err == nil || err.Error() != "invalid API version (latest): must be formatted <major>.<minor>" {
		t.Fatalf("err %v", err)
	}
}

func TestRequestHeaders(t *testing.T) {
	var got http.Header
	var host string
	f := &recorder{apiVersion: "1.50", handler: func(w http.ResponseWriter, r *http.Request) {
		got, host = r.Header.Clone(), r.Host
		_, _ = w.Write([]byte("{}"))
	}}
	c := newClient(t, serveUnix(t, f), WithUserAgent("Berth-Client/test"))
	if _, err := c.ContainerRename(context.Background(), "a", ContainerRenameOptions{NewName: "b"}); err != nil {
		t.Fatal(err)
	}
	if host != dummyHost || got.Get("User-Agent") != "Berth-Client/test" {
		t.Errorf("Host %q, User-Agent %q", host, got.Get("User-Agent"))
	}
	if want := "POST /v1.50/containers/a/rename?name=b"; f.requests()[1] != want {
		t.Errorf("request %q, want %q", f.requests()[1], want)
	}
}

func TestDaemonErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string
		class       func(error) bool
	}{
		{name: "not found", status: 404, contentType: "application/json", body: `{"message":"No such container: x"}`,
			want: "Error response from daemon: No such container: x", class: cerrdefs.IsNotFound},
		{name: "conflict", status: 409, contentType: "application/json", body: `{"message":"name in use"}`,
			want: "Error response from daemon: name in use", class: cerrdefs.IsConflict},
		{name: "bad request", status: 400, contentType: "application/json", body: `{"message":" bad\n"}`,
			want: "Error response from daemon: bad", class: cerrdefs.IsInvalidArgument},
		{name: "unauthorized", status: 401, contentType: "application/json", body: `{"message":"login"}`,
			want: "Error response from daemon: login", class: cerrdefs.IsUnauthorized},
		{name: "forbidden", status: 403, contentType: "application/json", body: `{"message":"no"}`,
			want: "Error response from daemon: no", class: cerrdefs.IsPermissionDenied},
		{name: "internal", status: 500, contentType: "application/json", body: `{"message":"oops"}`,
			want: "Error response from daemon: oops", class: cerrdefs.IsInternal},
		{name: "not implemented", status: 501, contentType: "application/json", body: `{"message":"nope"}`,
			want: "Error response from daemon: nope", class: cerrdefs.IsNotImplemented},
		{name: "unavailable", status: 503, contentType: "application/json", body: `{"message":"later"}`,
			want: "Error response from daemon: later", class: cerrdefs.IsUnavailable},
		{name: "other statuses have no class", status: 418, contentType: "application/json", body: `{"message":"teapot"}`,
			want: "Error response from daemon: teapot", class: func(err error) bool {
				return !cerrdefs.IsInvalidArgument(err) && !cerrdefs.IsInternal(err) && !cerrdefs.IsUnknown(err)
			}},
		{name: "plain text", status: 404, contentType: "text/plain; charset=utf-8", body: "page not found\n",
			want: "Error response from daemon: page not found", class: cerrdefs.IsNotFound},
		{name: "JSON without message", status: 500, contentType: "application/json", body: `{}`,
			want: "Error response from daemon: API returned a 500 (Internal Server Error) but provided no error-message", class: cerrdefs.IsInternal},
		{name: "broken JSON", status: 400, contentType: "application/json", body: `{"message":`,
			want: "error reading JSON: unexpected end of JSON input", class: cerrdefs.IsInvalidArgument},
		{name: "empty body", status: 404,
			want:  `request returned 404 Not Found for API route and version http://HOST/v1.50/containers/x/json, check if the server supports the requested API version`,
			class: cerrdefs.IsNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &recorder{apiVersion: "1.50", handler: func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}}
			host := serveTCP(t, f)
			c := newClient(t, host)
			_, err := c.ContainerInspect(context.Background(), "x", ContainerInspectOptions{})
			want := strings.ReplaceAll(tt.want, "HOST", strings.TrimPrefix(host, "tcp://"))
			if err == nil || err.Error() != want {
				t.Fatalf("err %v, want %s", err, want)
			}
			if !tt.class(err) {
				t.Errorf("%v is not of the expected class", err)
			}
			if tt.status != 404 && cerrdefs.IsNotFound(err) {
				t.Errorf("%v is also NotFound", err)
			}
		})
	}
}

func TestStatPathNotFound(t *testing.T) {
	f := &recorder{apiVersion: "1.50", handler: func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound) // HEAD: no body
	}}
	host := serveUnix(t, f)
	c := newClient(t, host)
	_, err := c.ContainerStatPath(context.Background(), "web", ContainerStatPathOptions{Path: "/no/such"})
	sock := strings.TrimPrefix(host, "unix://")
	want := "request returned 404 Not Found for API route and version http://" + escapeHost(sock) +
		"/v1.50/containers/web/archive?path=%2Fno%2Fsuch, check if the server supports the requested API version"
	if err == nil || err.Error() != want || !cerrdefs.IsNotFound(err) {
		t.Fatalf("err %v\nwant %s", err, want)
	}
}

// escapeHost escapes a socket path as it appears as the host of a URL.
func escapeHost(sock string) string { return strings.ReplaceAll(sock, "/", "%2F") }

func TestConnectErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")

	// A socket file nobody listens on refuses connections.
	dead := filepath.Join(dir, "dead.sock")
	l, err := net.Listen("unix", dead)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close()

	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedTCP := tl.Addr().String()
	_ = tl.Close()

	const hijack = "cannot connect to the Docker daemon. Is 'docker daemon' running on this host?: "
	tests := []struct {
		host, want, wantHijack string
	}{
		{"unix://" + missing, "failed to connect to the docker API at unix://" + missing +
			"; check if the path is correct and if the daemon is running: dial unix " + missing + ": connect: no such file or directory",
			hijack + "dial unix " + missing + ": connect: no such file or directory"},
		{"unix://" + dead, "Cannot connect to the Docker daemon at unix://" + dead + ". Is the docker daemon running?",
			hijack + "dial unix " + dead + ": connect: connection refused"},
		{"tcp://" + closedTCP, "Cannot connect to the Docker daemon at tcp://" + closedTCP + ". Is the docker daemon running?",
			hijack + "dial tcp " + closedTCP + ": connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			c := newClient(t, tt.host)
			_, err := c.ServerVersion(context.Background(), ServerVersionOptions{})
			if err == nil || err.Error() != tt.want {
				t.Errorf("err %v\nwant %s", err, tt.want)
			}
			// The hijacking path dials on its own.
			_, err = c.ContainerAttach(context.Background(), "x", ContainerAttachOptions{Stream: true})
			if err == nil || err.Error() != tt.wantHijack {
				t.Errorf("attach err %v\nwant %s", err, tt.wantHijack)
			}
		})
	}
}

func TestHostErrors(t *testing.T) {
	for host, want := range map[string]string{
		"unix://":                             "unable to parse docker host `unix://`",
		"nohost":                              "unable to parse docker host `nohost`",
		"unix:///" + strings.Repeat("a", 120): "unix socket path \"/" + strings.Repeat("a", 120) + "\" is too long",
	} {
		if _, err := New(WithHost(host)); err == nil || err.Error() != want {
			t.Errorf("%s: err %v, want %s", host, err, want)
		}
	}
}

func TestFilters(t *testing.T) {
	f := Filters{}
	if got := f.Add("label", "a=b", "c").Add("status", "running"); got == nil {
		t.Fatal("Add does not chain")
	}
	g := f.Clone().Add("label", "d")
	if f["label"]["d"] || !g["label"]["a=b"] || !g["label"]["d"] {
		t.Fatalf("Clone shares maps: %v %v", f, g)
	}

	var queries []string
	rec := &recorder{apiVersion: "1.50", handler: func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.Query().Get("filters")+"|"+r.URL.Query().Get("all"))
		_, _ = w.Write([]byte("[]"))
	}}
	c := newClient(t, serveTCP(t, rec))
	ctx := context.Background()
	for _, fl := range []Filters{nil, {}, f} {
		if _, err := c.ContainerList(ctx, ContainerListOptions{All: true, Filters: fl}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"|1", "|1", `{"label":{"a=b":true,"c":true},"status":{"running":true}}|1`}
	if strings.Join(queries, "\n") != strings.Join(want, "\n") {
		t.Errorf("filters query:\n%s\nwant:\n%s", strings.Join(queries, "\n"), strings.Join(want, "\n"))
	}
}

// hijackDaemon answers an attach with 101 and "hello " in the same write
// as the headers, then echoes what the client sent until it half-closed.
func hijackDaemon(t *testing.T, got chan<- *http.Request) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		got <- r
		if strings.Contains(r.URL.Path, "missing") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No such container: missing"}`))
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello ")
		_ = buf.Flush()
		in, _ := io.ReadAll(buf.Reader)
		_, _ = conn.Write([]byte("got:" + string(in)))
	}
}

func TestHijackUnix(t *testing.T) {
	got := make(chan *http.Request, 1)
	host := serveUnix(t, &recorder{apiVersion: "1.50", handler: hijackDaemon(t, got)})
	c := newClient(t, host, WithUserAgent("ua"))
	ctx := context.Background()

	res, err := c.ContainerAttach(ctx, "web", ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, DetachKeys: "ctrl-a,a"})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	r := <-got
	for k, want := range map[string]string{"Connection": "Upgrade", "Upgrade": "tcp", "Content-Type": "text/plain", "User-Agent": "ua"} {
		if v := r.Header.Get(k); v != want {
			t.Errorf("header %s: %q, want %q", k, v, want)
		}
	}
	if r.Host != dummyHost || r.URL.RequestURI() != "/v1.50/containers/web/attach?detachKeys=ctrl-a%2Ca&stdin=1&stdout=1&stream=1" {
		t.Errorf("request Host %q URI %q", r.Host, r.URL.RequestURI())
	}
	if mt, ok := res.MediaType(); !ok || mt != "application/vnd.docker.raw-stream" {
		t.Errorf("MediaType %q %v", mt, ok)
	}
	if _, err := res.Conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := res.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(res.Reader)
	if err != nil || string(out) != "hello got:ping" {
		t.Errorf("read %q, %v", out, err)
	}

	// Exec: a JSON body; the console size needs a TTY.
	ex, err := c.ExecAttach(ctx, "e1", ExecAttachOptions{TTY: true, ConsoleSize: ConsoleSize{Height: 24, Width: 80}})
	if err != nil {
		t.Fatal(err)
	}
	r = <-got
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/v1.50/exec/e1/start" || r.Header.Get("Content-Type") != "application/json" ||
		string(body) != `{"Tty":true,"ConsoleSize":[24,80]}` {
		t.Errorf("exec request %s %q %s", r.URL.Path, r.Header.Get("Content-Type"), body)
	}
	_ = ex.CloseWrite()
	// Reading through Conn sees the bytes that came with the headers too.
	out, _ = io.ReadAll(ex.Conn)
	if string(out) != "hello got:" {
		t.Errorf("exec read %q", out)
	}
	ex.Close()
	if _, err := c.ExecAttach(ctx, "e1", ExecAttachOptions{ConsoleSize: ConsoleSize{Height: 1}}); err == nil || !cerrdefs.IsInvalidArgument(err) {
		t.Errorf("console size without TTY: %v", err)
	}

	_, err = c.ContainerAttach(ctx, "missing", ContainerAttachOptions{Stream: true})
	<-got
	if err == nil || err.Error() != "unable to upgrade to tcp, received 404" {
		t.Errorf("attach to missing: %v", err)
	}
}

func TestHijackCancel(t *testing.T) {
	// A daemon that never answers the attach: ctx ends the wait.
	release := make(chan struct{})
	defer close(release)
	host := serveUnix(t, &recorder{apiVersion: "1.50", handler: func(w http.ResponseWriter, r *http.Request) { <-release }})
	c := newClient(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.ContainerAttach(ctx, "x", ContainerAttachOptions{Stream: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want context.DeadlineExceeded", err)
	}
}

func TestContainerWait(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{body: `{"StatusCode":3}`, want: "3"},
		{body: "container died badly", want: "error: container died badly"},
	}
	for _, tt := range tests {
		f := &recorder{apiVersion: "1.50", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(tt.body))
		}}
		c := newClient(t, serveTCP(t, f))
		w := c.ContainerWait(context.Background(), "x", ContainerWaitOptions{Condition: "removed"})
		var got string
		select {
		case r := <-w.Result:
			got = strings.TrimSpace(string(mustJSON(t, r.StatusCode)))
		case err := <-w.Error:
			got = "error: " + err.Error()
		}
		if got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		if reqs := f.requests(); reqs[len(reqs)-1] != "POST /v1.50/containers/x/wait?condition=removed" {
			t.Errorf("request %q", reqs[len(reqs)-1])
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEvents(t *testing.T) {
	var accept []string
	var query string
	f := &recorder{apiVersion: "1.50", handler: func(w http.ResponseWriter, r *http.Request) {
		accept, query = r.Header.Values("Accept"), r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json-seq")
		_, _ = w.Write([]byte("\x1e{\"Type\":\"container\",\"Action\":\"start\"}\n\x1e{\"Type\":\"network\",\"Action\":\"connect\"}\n"))
	}}
	c := newClient(t, serveTCP(t, f))
	res := c.Events(context.Background(), EventsListOptions{Since: "1700000000.000000001", Until: "1700000001", Filters: Filters{}.Add("type", "container")})
	var got []string
	for {
		select {
		case m := <-res.Messages:
			got = append(got, string(m.Type)+" "+string(m.Action))
			continue
		case err := <-res.Err:
			if !errors.Is(err, io.EOF) {
				t.Errorf("end: %v", err)
			}
		}
		break
	}
	if strings.Join(got, ",") != "container start,network connect" {
		t.Errorf("events %q", got)
	}
	if strings.Join(accept, ",") != "application/jsonl,application/x-ndjson;q=0.9,application/json-seq;q=0.5" {
		t.Errorf("Accept %q", accept)
	}
	if query != "filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D&since=1700000000.000000001&until=1700000001" {
		t.Errorf("query %q", query)
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in, name, tag, digest, err string
	}{
		{in: "busybox", name: "docker.io/library/busybox", tag: "latest"},
		{in: "127.0.0.1:1/test/busybox:1", name: "127.0.0.1:1/test/busybox", tag: "1"},
		{in: "localhost/a@sha256:" + strings.Repeat("a", 64), name: "localhost/a", digest: "sha256:" + strings.Repeat("a", 64)},
		{in: "UPPER", err: "invalid reference format: repository name (library/UPPER) must be lowercase"},
		{in: "a:b:c", err: "invalid reference format"},
	}
	for _, tt := range tests {
		name, tag, digest, err := parseRef(tt.in)
		if fmtErr(err) != tt.err || name != tt.name || tag != tt.tag || digest != tt.digest {
			t.Errorf("%s: %q %q %q %v", tt.in, name, tag, digest, err)
		}
	}
	for in, ok := range map[string]bool{
		strings.Repeat("f", 64):             true,
		"sha256:" + strings.Repeat("f", 64): true,
		"sha256:" + strings.Repeat("f", 63): true, // the image sha256, tagged
		"busybox:1":                         true,
		"Busybox":                           false,
		"a:b:c":                             false,
		"sha512:" + strings.Repeat("f", 64) + "@sha256:x": false,
	} {
		if err := checkAnyReference(in); (err == nil) != ok {
			t.Errorf("checkAnyReference(%q) = %v", in, err)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestAPITimestamp(t *testing.T) {
	now := mustTime(t, "2026-01-02T03:04:05Z")
	tests := []struct{ in, want, err string }{
		{in: "10m", want: "1767322445"},
		{in: "2026-01-01T00:00:00Z", want: "1767225600.000000000"},
		{in: "2026-01-01", want: "1767225600.000000000"},
		{in: "2026-01-01T10:00:00.5+01:00", want: "1767258000.500000000"},
		{in: "1700000000.5", want: "1700000000.5"},
		{in: "foo", err: `failed to parse value as time or duration: "foo"`},
		{in: "2026-13-01", err: `parsing time "2026-13-01": month out of range`},
	}
	for _, tt := range tests {
		got, err := apiTimestamp(tt.in, now)
		if got != tt.want || fmtErr(err) != tt.err {
			t.Errorf("%s: %q %v", tt.in, got, err)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestTLS(t *testing.T) {
	got := make(chan *http.Request, 2)
	rec := &recorder{apiVersion: "1.50", handler: func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.50/info" {
			_, _ = w.Write([]byte(`{"Name":"tls-daemon"}`))
			return
		}
		hijackDaemon(t, got)(w, r)
	}}
	srv := httptest.NewTLSServer(rec)
	t.Cleanup(srv.Close)
	trusted := srv.Client().Transport.(*http.Transport).TLSClientConfig
	host := "tcp://" + strings.TrimPrefix(srv.URL, "https://")
	c := newClient(t, host, WithHTTPClient(&http.Client{
		Transport:     &http.Transport{TLSClientConfig: trusted},
		CheckRedirect: CheckRedirect,
	}))
	ctx := context.Background()
	info, err := c.Info(ctx, InfoOptions{})
	if err != nil || info.Info.Name != "tls-daemon" {
		t.Fatalf("info %+v, %v", info.Info.Name, err)
	}
	res, err := c.ContainerAttach(ctx, "web", ContainerAttachOptions{Stream: true, Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	<-got
	_, _ = res.Conn.Write([]byte("over tls"))
	if err := res.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if out, _ := io.ReadAll(res.Reader); string(out) != "hello got:over tls" {
		t.Errorf("read %q", out)
	}

}

// maxAPIVersion follows the API types module the client encodes.
func TestMaxAPIVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile("../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github\.com/moby/moby/api v1\.(\d+)\.`).FindSubmatch(mod)
	if m == nil || "1."+string(m[1]) != maxAPIVersion {
		t.Errorf("go.mod has moby/moby/api %q, maxAPIVersion is %s", m, maxAPIVersion)
	}
}

func TestTimestamp(t *testing.T) {
	now := mustTime(t, "2026-11-24T10:00:00Z")
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "10m", want: now.Add(-10 * time.Minute)},
		{in: "1h30m", want: now.Add(-90 * time.Minute)},
		{in: "0", want: time.Unix(0, 0)},
		{in: "1795514400", want: time.Unix(1795514400, 0)},
		{in: "1795514400.5", want: time.Unix(1795514400, 500000000)},
		{in: "1795514400.000000001", want: time.Unix(1795514400, 1)},
		{in: "2026-11-24T12:00:00+02:00", want: now},
		{in: "2026-11-24T10:00:00.25Z", want: now.Add(250 * time.Millisecond)},
		{in: "yesterday", err: true},
	}
	for _, tt := range tests {
		got, err := Timestamp(tt.in, now)
		if (err != nil) != tt.err || !tt.err && !got.Equal(tt.want) {
			t.Errorf("%s: %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
