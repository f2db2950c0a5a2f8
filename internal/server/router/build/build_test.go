package build

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	buildsvc "github.com/berth-engine/berth/internal/build"
	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server"
)

type fakeBackend struct {
	opts buildsvc.Options
	body string
	run  func(out buildsvc.Output) (string, error)
}

func (f *fakeBackend) Build(_ context.Context, r io.Reader, opts buildsvc.Options, out buildsvc.Output) (string, error) {
	b, _ := io.ReadAll(r)
	f.body, f.opts = string(b), opts
	return f.run(out)
}

func (f *fakeBackend) Prune(context.Context) ([]string, int64, error) {
	return []string{"sha256:x"}, 42, nil
}

func serve(t *testing.T, b Backend) *httptest.Server {
	srv := httptest.NewServer(server.New(slog.New(slog.DiscardHandler), New(b)))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/x-tar", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBuildParamsAndStream(t *testing.T) {
	fb := &fakeBackend{run: func(out buildsvc.Output) (string, error) {
		out.Stream("Step 1/1 : FROM x\n")
		out.Aux("sha256:abc")
		return "sha256:abc", nil
	}}
	srv := serve(t, fb)
	code, body := post(t, srv.URL+`/v1.50/build?t=a:1&t=b&dockerfile=sub/Df&buildargs={"A":"1","B":null}&labels={"l":"v"}&target=s&nocache=1&networkmode=none&platform=linux/amd64`, "ctx")
	if code != 200 || fb.body != "ctx" {
		t.Fatalf("%d %s", code, body)
	}
	o := fb.opts
	if strings.Join(o.Tags, ",") != "a:1,b" || o.Dockerfile != "sub/Df" || *o.BuildArgs["A"] != "1" || o.BuildArgs["B"] != nil ||
		o.Labels["l"] != "v" || o.Target != "s" || !o.NoCache || o.NetworkMode != "none" || o.Platform != "linux/amd64" {
		t.Fatalf("options: %+v", o)
	}
	want := `{"stream":"Step 1/1 : FROM x\n"}` + "\n" + `{"aux":{"ID":"sha256:abc"}}` + "\n"
	if body != want {
		t.Fatalf("stream:\n%s\nwant:\n%s", body, want)
	}
	// Quiet: only the result.
	code, body = post(t, srv.URL+"/build?q=1", "ctx")
	if code != 200 || body != `{"aux":{"ID":"sha256:abc"}}`+"\n"+`{"stream":"sha256:abc\n"}`+"\n" {
		t.Fatalf("quiet: %d %s", code, body)
	}
	if code, body = post(t, srv.URL+"/build?buildargs=notjson", "ctx"); code != 400 {
		t.Fatalf("bad buildargs: %d %s", code, body)
	}
	if code, body = post(t, srv.URL+"/build?remote=https://example.com/x.git", ""); code != 400 || !strings.Contains(body, "remote build contexts are not supported") {
		t.Fatalf("remote: %d %s", code, body)
	}
}

func TestBuildErrors(t *testing.T) {
	// Before any output: an HTTP status.
	fb := &fakeBackend{run: func(out buildsvc.Output) (string, error) {
		return "", errdefs.InvalidParameterf("dockerfile parse error on line 1: unknown instruction: FOO")
	}}
	srv := serve(t, fb)
	code, body := post(t, srv.URL+"/build", "")
	if code != 400 || !strings.Contains(body, `"message":"dockerfile parse error on line 1: unknown instruction: FOO"`) {
		t.Fatalf("%d %s", code, body)
	}
	// After: in the stream, with the RUN's exit code.
	fb.run = func(out buildsvc.Output) (string, error) {
		out.Stream("Step 1/2 : RUN exit 3\n")
		return "", &buildsvc.StepError{Code: 3, Msg: "The command '/bin/sh -c exit 3' returned a non-zero code: 3"}
	}
	code, body = post(t, srv.URL+"/build", "")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	var last struct {
		ErrorDetail struct {
			Code    int
			Message string
		}
		Error string
	}
	if code != 200 || len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &last) != nil || last.ErrorDetail.Code != 3 || last.Error != "The command '/bin/sh -c exit 3' returned a non-zero code: 3" {
		t.Fatalf("%d %s", code, body)
	}
}

func TestBuildPrune(t *testing.T) {
	srv := serve(t, &fakeBackend{})
	code, body := post(t, srv.URL+"/build/prune", "")
	if code != 200 || strings.TrimSpace(body) != `{"CachesDeleted":["sha256:x"],"SpaceReclaimed":42}` {
		t.Fatalf("%d %s", code, body)
	}
}
