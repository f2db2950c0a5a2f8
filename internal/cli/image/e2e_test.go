package image_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/clitest"
	"github.com/berth-engine/berth/internal/cli/root"
)

// fakeDaemon answers the image endpoints as dockerd does at API 1.50.
func fakeDaemon(t *testing.T, loaded *bytes.Buffer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.50")
			_, _ = w.Write([]byte("OK"))
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/v1.50")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && path == "/images/json":
			created := time.Now().Add(-72 * time.Hour).Unix()
			fmt.Fprintf(w, `[{"Id":"sha256:%s","RepoTags":["busybox:latest"],"RepoDigests":[],"Created":%d,"Size":4261000,"SharedSize":-1,"Containers":-1}]`,
				strings.Repeat("a", 64), created)
		case r.Method == http.MethodDelete && path == "/images/busybox":
			_, _ = w.Write([]byte(`[{"Untagged":"busybox:latest"},{"Deleted":"sha256:aaaa"},{"Deleted":"sha256:bbbb"}]`))
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No such image: nope:latest"}`))
		case r.Method == http.MethodPost && path == "/images/create":
			if r.URL.Query().Get("fromImage") != "docker.io/library/busybox" || r.URL.Query().Get("tag") != "latest" {
				t.Errorf("pull query %q", r.URL.RawQuery)
			}
			enc := json.NewEncoder(w)
			for _, m := range []map[string]any{
				{"status": "Pulling from library/busybox", "id": "latest"},
				{"status": "Downloading", "progressDetail": map[string]any{"current": 10, "total": 100}, "id": "abc"},
				{"status": "Pull complete", "progressDetail": map[string]any{}, "id": "abc"},
				{"status": "Status: Downloaded newer image for busybox:latest"},
			} {
				_ = enc.Encode(m)
			}
		case r.Method == http.MethodPost && path == "/images/load":
			_, _ = io.Copy(loaded, r.Body)
			_, _ = w.Write([]byte(`{"stream":"Loaded image: busybox:latest\n"}` + "\n"))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"page not found"}`))
		}
	})
}

func startDaemon(t *testing.T, h http.Handler) string {
	t.Helper()
	// No user config.json (psFormat, credentials) may leak into the test.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	return clitest.ServeUnix(t, h)
}

func run(t *testing.T, host string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli.CLI{In: strings.NewReader(stdin), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
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
	return code, out.String(), errb.String()
}

func TestImagesEndToEnd(t *testing.T) {
	var loaded bytes.Buffer
	host := startDaemon(t, fakeDaemon(t, &loaded))
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{
			name: "images",
			args: []string{"images"},
			stdout: "REPOSITORY   TAG       IMAGE ID       CREATED      SIZE\n" +
				"busybox      latest    aaaaaaaaaaaa   3 days ago   4.26MB\n",
		},
		{name: "image ls -q", args: []string{"image", "ls", "-q"}, stdout: "aaaaaaaaaaaa\n"},
		{name: "rmi", args: []string{"rmi", "busybox"}, stdout: "Untagged: busybox:latest\nDeleted: sha256:aaaa\nDeleted: sha256:bbbb\n"},
		{name: "rmi missing", args: []string{"image", "rm", "nope"}, code: 1, stderr: "Error response from daemon: No such image: nope:latest\n"},
		{
			// Not a terminal: no progress bars, one line per status.
			name: "pull",
			args: []string{"pull", "busybox"},
			stdout: "Using default tag: latest\nlatest: Pulling from library/busybox\nabc: Pull complete\n" +
				"Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n",
		},
		{name: "pull -q", args: []string{"pull", "-q", "busybox"}, stdout: "docker.io/library/busybox:latest\n"},
		{name: "load from stdin", stdin: "TARBALL", args: []string{"load"}, stdout: "Loaded image: busybox:latest\n"},
		{name: "prune declined", stdin: "n\n", args: []string{"image", "prune"}, stdout: "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, host, tt.stdin, tt.args...)
			if code != tt.code || stdout != tt.stdout || (tt.stderr != "" && stderr != tt.stderr) {
				t.Errorf("code %d\nstdout %q\nwant   %q\nstderr %q", code, stdout, tt.stdout, stderr)
			}
		})
	}
	if loaded.String() != "TARBALL" {
		t.Errorf("load sent %q", loaded.String())
	}
}
