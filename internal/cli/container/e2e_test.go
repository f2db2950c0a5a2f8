package container_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/apiext"
	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/clitest"
	"github.com/berth-engine/berth/internal/cli/root"
)

const ctrID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fakeDaemon answers the endpoints these commands use the way dockerd (and
// berthd) do at API 1.50, including the hijacked attach stream.
type fakeDaemon struct {
	mu         sync.Mutex
	reqs       []string
	createBody []byte
	exitCode   int
	startErr   string
	pulled     bool
	// execAttach answers an exec create with apiext.ExecAttachHeader as
	// berthd does: the exec streams on the create's connection and ends
	// with an exit frame.
	execAttach bool
	// events records the order of attach/wait/start.
	events []string
}

func (f *fakeDaemon) record(ev string) {
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
}

func (f *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI())
	f.mu.Unlock()
	if r.URL.Path == "/_ping" {
		w.Header().Set("Api-Version", "1.50")
		w.Header().Set("Ostype", "linux")
		_, _ = w.Write([]byte("OK"))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1.50")
	notFound := func(msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"message":%q}`, msg)
	}
	switch {
	case r.Method == http.MethodGet && path == "/containers/json":
		w.Header().Set("Content-Type", "application/json")
		created := time.Now().Add(-90 * time.Second).Unix()
		fmt.Fprintf(w, `[{"Id":%q,"Names":["/web"],"Image":"busybox","ImageID":"sha256:%s","Command":"sleep 100","Created":%d,`+
			`"Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}],"Labels":{},"State":"running","Status":"Up About a minute",`+
			`"HostConfig":{"NetworkMode":"bridge"},"NetworkSettings":{"Networks":{"bridge":{}}},"Mounts":[]}]`,
			ctrID, strings.Repeat("b", 64), created)
	case r.Method == http.MethodPost && path == "/containers/create":
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.createBody = body
		pulled := f.pulled
		f.mu.Unlock()
		var req struct{ Image string }
		_ = json.Unmarshal(body, &req)
		if (req.Image == "missing" && !pulled) || req.Image == "nopull" {
			notFound("No such image: " + req.Image + ":latest")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"Id":%q,"Warnings":[]}`, ctrID)
	case r.Method == http.MethodPost && path == "/containers/"+ctrID+"/attach":
		f.record("attach")
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
		_ = buf.Flush()
		go func() {
			defer conn.Close()
			// Output only once the container has started, as a real one.
			for !f.started() {
				time.Sleep(5 * time.Millisecond)
			}
			if f.startErr != "" {
				return // a container that failed to start writes nothing
			}
			_, _ = conn.Write(frame(1, "hello from stdout\n"))
			_, _ = conn.Write(frame(2, "hello from stderr\n"))
		}()
	case r.Method == http.MethodPost && path == "/containers/"+ctrID+"/wait":
		f.record("wait?" + r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		// dockerd sends the headers at once, so the client knows the wait
		// is registered before it starts the container.
		w.(http.Flusher).Flush()
		for !f.started() {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		fmt.Fprintf(w, `{"StatusCode":%d}`, f.exitCode)
	case r.Method == http.MethodPost && path == "/containers/"+ctrID+"/start":
		f.record("start")
		if f.startErr != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"message":%q}`, f.startErr)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && path == "/images/create":
		if r.URL.Query().Get("fromImage") != "docker.io/library/missing" {
			notFound("pull access denied for nopull, repository does not exist or may require 'docker login'")
			return
		}
		f.mu.Lock()
		f.pulled = true
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"Pulling from library/missing","id":"latest"}`)
		fmt.Fprintln(w, `{"status":"Status: Downloaded newer image for missing:latest"}`)
	case r.Method == http.MethodPost && path == "/containers/"+ctrID+"/exec":
		f.record("exec create")
		if !f.execAttach || r.Header.Get(apiext.ExecAttachHeader) != "1" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"Id":"e1"}`)
			return
		}
		f.hijackExec(w, apiext.ExecIDHeader+": e1\r\n"+apiext.ExitFrameHeader+": 1\r\n", frame(apiext.ExitStream, "\xff\xff\xff\xfd"))
	case r.Method == http.MethodPost && path == "/exec/e1/start":
		f.record("exec start")
		f.hijackExec(w, "", nil)
	case r.Method == http.MethodGet && path == "/exec/e1/json":
		f.record("exec inspect")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ID":"e1","Running":false,"ExitCode":%d}`, f.exitCode)
	case r.Method == http.MethodDelete && path == "/containers/web":
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete && path == "/containers/nope":
		notFound("No such container: nope")
	default:
		notFound("page not found")
	}
}

// hijackExec answers an exec's start with its output, then the extra
// frame (an exit frame) if any.
func (f *fakeDaemon) hijackExec(w http.ResponseWriter, hdr string, end []byte) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n" + hdr + "\r\n")
	_, _ = buf.Write(frame(1, "exec out\n"))
	_, _ = buf.Write(frame(2, "exec err\n"))
	_, _ = buf.Write(end)
	_ = buf.Flush()
}

func (f *fakeDaemon) started() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.events {
		if e == "start" {
			return true
		}
	}
	return false
}

func frame(stream byte, data string) []byte {
	h := make([]byte, 8, 8+len(data))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(data)))
	return append(h, data...)
}

// startDaemon serves f on a unix socket, as berthd listens by default.
func startDaemon(t *testing.T, f *fakeDaemon) string {
	t.Helper()
	// No user config.json (psFormat, credentials) may leak into the test.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	return clitest.ServeUnix(t, f)
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, host string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli.CLI{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
	cmd := root.NewCommand(c)
	cmd.SetArgs(append([]string{"-H", host}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	_ = c.Close()
	code, msg := cli.ExitCode(err)
	if msg != "" {
		fmt.Fprintln(&errb, msg)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestPsEndToEnd(t *testing.T) {
	host := startDaemon(t, &fakeDaemon{})
	r := run(t, host, "ps")
	want := "CONTAINER ID   IMAGE     COMMAND       CREATED              STATUS              PORTS                  NAMES\n" +
		"0123456789ab   busybox   \"sleep 100\"   About a minute ago   Up About a minute   0.0.0.0:8080->80/tcp   web\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("code %d stderr %q\nstdout\n%s\nwant\n%s", r.code, r.stderr, r.stdout, want)
	}
	r = run(t, host, "container", "ls", "-q", "--no-trunc")
	if r.code != 0 || r.stdout != ctrID+"\n" {
		t.Errorf("ls -q: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, host, "ps", "--format", "{{.Names}} {{.State}}")
	if r.stdout != "web running\n" {
		t.Errorf("ps --format: %q %q", r.stdout, r.stderr)
	}
	r = run(t, host, "ps", "--filter", "nokey")
	if r.code != 125 {
		t.Errorf("bad filter: code %d, want 125", r.code)
	}
}

func TestRmEndToEnd(t *testing.T) {
	host := startDaemon(t, &fakeDaemon{})
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{name: "removed", args: []string{"rm", "web"}, stdout: "web\n"},
		{name: "missing", args: []string{"rm", "web", "nope"}, code: 1, stdout: "web\n", stderr: "Error response from daemon: No such container: nope\n"},
		{name: "missing with force is not an error", args: []string{"container", "rm", "-f", "nope"}, stderr: "Error response from daemon: No such container: nope\n"},
		{name: "no arguments", args: []string{"rm"}, code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, host, tt.args...)
			if r.code != tt.code || r.stdout != tt.stdout || (tt.stderr != "" && r.stderr != tt.stderr) {
				t.Errorf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestRunDetachedEndToEnd(t *testing.T) {
	f := &fakeDaemon{}
	host := startDaemon(t, f)
	r := run(t, host, "run", "-d", "--name", "web", "-p", "8080:80", "-e", "A=1", "busybox", "sleep", "100")
	if r.code != 0 || r.stdout != ctrID+"\n" {
		t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	var body struct {
		Image        string
		Cmd          []string
		Env          []string
		AttachStdout bool
		HostConfig   struct {
			PortBindings map[string][]struct{ HostIP, HostPort string }
		}
	}
	if err := json.Unmarshal(f.createBody, &body); err != nil {
		t.Fatal(err)
	}
	if body.Image != "busybox" || strings.Join(body.Cmd, " ") != "sleep 100" || strings.Join(body.Env, ",") != "A=1" || body.AttachStdout {
		t.Errorf("create body %s", f.createBody)
	}
	if b := body.HostConfig.PortBindings["80/tcp"]; len(b) != 1 || b[0].HostPort != "8080" {
		t.Errorf("port bindings %s", f.createBody)
	}
	var createURI string
	for _, req := range f.reqs {
		if strings.Contains(req, "/containers/create") {
			createURI = req
		}
	}
	if !strings.Contains(createURI, "name=web") {
		t.Errorf("create request %q has no name", createURI)
	}
	for _, e := range f.events {
		if e == "attach" || strings.HasPrefix(e, "wait") {
			t.Errorf("run -d must not attach or wait: %v", f.events)
		}
	}
}

func TestRunAttachedExitCodeEndToEnd(t *testing.T) {
	f := &fakeDaemon{exitCode: 3}
	host := startDaemon(t, f)
	r := run(t, host, "run", "--rm", "busybox", "sh", "-c", "echo hello; exit 3")
	if r.code != 3 {
		t.Fatalf("exit code %d, want 3 (stderr %q)", r.code, r.stderr)
	}
	if r.stdout != "hello from stdout\n" || r.stderr != "hello from stderr\n" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	// Attach and wait (sent side by side) are set up before start so no
	// output or exit is missed; --rm waits for the removal.
	got := slices.Clone(f.events)
	if len(got) == 3 && got[0] > got[1] {
		got[0], got[1] = got[1], got[0]
	}
	want := []string{"attach", "wait?condition=removed", "start"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("order %v, want attach and wait?condition=removed (in either order), then start", f.events)
	}
}

func TestRunPullsMissingImageEndToEnd(t *testing.T) {
	f := &fakeDaemon{}
	host := startDaemon(t, f)
	r := run(t, host, "run", "-d", "missing")
	wantErr := "Unable to find image 'missing:latest' locally\n" +
		"latest: Pulling from library/missing\n" +
		"Status: Downloaded newer image for missing:latest\n"
	if r.code != 0 || r.stdout != ctrID+"\n" || r.stderr != wantErr {
		t.Errorf("code %d stdout %q\nstderr %q\nwant   %q", r.code, r.stdout, r.stderr, wantErr)
	}

	r = run(t, host, "run", "nopull")
	wantErr = "Unable to find image 'nopull:latest' locally\n" +
		"berth: Error response from daemon: pull access denied for nopull, repository does not exist or may require 'docker login'\n\n" +
		"Run 'berth run --help' for more information\n"
	if r.code != 125 || r.stderr != wantErr {
		t.Errorf("code %d stderr %q\nwant %q", r.code, r.stderr, wantErr)
	}

	// --pull=never never pulls: the daemon's error is the answer.
	r = run(t, host, "create", "--pull", "never", "nopull")
	if r.code != 125 || !strings.Contains(r.stderr, "No such image: nopull:latest") || strings.Contains(r.stderr, "Unable to find") {
		t.Errorf("code %d stderr %q", r.code, r.stderr)
	}
}

// TestExecEndToEnd: against berthd the exec is created and streamed in one
// exchange, its exit code read from the stream's end (here -3, as the
// daemon's frame says); against a daemon without the extension the CLI
// sends the create, the start and the inspect, as the docker CLI does.
func TestExecEndToEnd(t *testing.T) {
	for _, tt := range []struct {
		name     string
		f        *fakeDaemon
		wantCode int
		wantReqs []string
	}{
		{"berthd", &fakeDaemon{execAttach: true, exitCode: 9}, -3, []string{"exec create"}},
		{"other daemon", &fakeDaemon{exitCode: 9}, 9, []string{"exec create", "exec start", "exec inspect"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, startDaemon(t, tt.f), "exec", ctrID, "sh", "-c", "echo")
			if r.code != tt.wantCode || r.stdout != "exec out\n" || r.stderr != "exec err\n" {
				t.Errorf("code %d (want %d) stdout %q stderr %q", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			tt.f.mu.Lock()
			defer tt.f.mu.Unlock()
			if !slices.Equal(tt.f.events, tt.wantReqs) {
				t.Errorf("requests %v, want %v", tt.f.events, tt.wantReqs)
			}
		})
	}
}

func TestRunStartErrorExitCodes(t *testing.T) {
	tests := []struct {
		startErr string
		code     int
	}{
		{`failed to create task for container: exec: "nosuchcmd": executable file not found in $PATH`, 127},
		{`failed to create task for container: exec: "/etc": permission denied`, 126},
		{`failed to create task for container: cgroup busy`, 125},
	}
	for _, tt := range tests {
		host := startDaemon(t, &fakeDaemon{startErr: tt.startErr})
		r := run(t, host, "run", "busybox")
		want := "berth: Error response from daemon: " + tt.startErr + "\n\nRun 'berth run --help' for more information\n"
		if r.code != tt.code || r.stderr != want {
			t.Errorf("%s: code %d, want %d; stderr %q", tt.startErr, r.code, tt.code, r.stderr)
		}
	}
}
