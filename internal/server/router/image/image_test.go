package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/image"

	"github.com/berth-engine/berth/internal/content"
	imagesvc "github.com/berth-engine/berth/internal/image"
	"github.com/berth-engine/berth/internal/metadata"
	"github.com/berth-engine/berth/internal/server"
	"github.com/berth-engine/berth/internal/snapshot/vfs"
)

// newServer serves the image routes over a real image service on vfs.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacking layers keeps file owners")
	}
	dir := t.TempDir()
	db, err := metadata.Open(filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := content.New(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	sn, err := vfs.New(filepath.Join(dir, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := imagesvc.New(context.Background(), imagesvc.Options{DB: db, Content: cs, Snapshotter: sn, Driver: "vfs", TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(slog.New(slog.DiscardHandler), New(svc)))
	t.Cleanup(func() { srv.Close(); sn.Close(); db.Close() })
	return srv
}

func rootfsTar(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi"))
	tw.Close()
	return buf.Bytes()
}

func do(t *testing.T, method, url string, body io.Reader) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestImageRoutes(t *testing.T) {
	srv := newServer(t)
	u := srv.URL + "/v1.50"

	code, body, hdr := do(t, "POST", u+"/images/create?fromSrc=-&repo=127.0.0.1:1/x/y:1&message=m&changes=CMD+%5B%22%2Fbin%2Fsh%22%5D", bytes.NewReader(rootfsTar(t)))
	var status struct{ Status string }
	if code != 200 || hdr.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &status) != nil || !strings.HasPrefix(status.Status, "sha256:") {
		t.Fatalf("import: %d %s", code, body)
	}
	id := status.Status

	tests := []struct {
		method, path string
		body         io.Reader
		code         int
		contains     string
	}{
		{"POST", "/images/create?fromImage=busybox&tag=latest", nil, 501, "pulling images is not configured"},
		{"POST", "/images/127.0.0.1:1/x/y:1/push", nil, 501, "pushing images is not configured"},
		{"GET", "/images/search?term=busybox", nil, 501, "search is not supported by this registry"},
		{"POST", "/images/create?fromSrc=-&changes=RUN+true", bytes.NewReader(rootfsTar(t)), 400, "run is not a valid change command"},
		{"GET", "/images/127.0.0.1:1/x/y:1/json", nil, 200, id},
		{"GET", "/images/nope/json", nil, 404, `{"message":"No such image: nope"}`},
		{"GET", "/images/127.0.0.1:1/x/y:1/history", nil, 200, `"Comment":"m"`},
		{"POST", "/images/127.0.0.1:1/x/y:1/tag?repo=other&tag=2", nil, 201, ""},
		{"POST", "/images/127.0.0.1:1/x/y:1/tag?repo=Bad", nil, 400, "must be lowercase"},
		{"GET", `/images/json?filters={"reference":{"other":true}}`, nil, 200, `"RepoTags":["other:2"]`},
		{"GET", `/images/json?filters={"nope":["1"]}`, nil, 400, "invalid filter 'nope'"},
		{"POST", "/images/load?quiet=1", strings.NewReader("garbage"), 400, "invalid archive"},
		{"GET", "/images/get?names=nope", nil, 404, "No such image: nope"},
		{"DELETE", "/images/" + id[7:19], nil, 409, "conflict: unable to delete " + id[7:19] + " (must be forced) - image is referenced in multiple repositories"},
		{"DELETE", "/images/other:2", nil, 200, `[{"Untagged":"other:2"}]`},
		{"POST", `/images/prune?filters={"dangling":["false"]}`, nil, 200, `"Deleted":"` + id},
	}
	var saved []byte
	for _, tt := range tests {
		if tt.path == "/images/other:2" || strings.HasPrefix(tt.path, "/images/prune") {
			// Before deleting: a save to load back later.
			if saved == nil {
				code, body, hdr := do(t, "GET", u+"/images/get?names=127.0.0.1:1/x/y:1", nil)
				if code != 200 || hdr.Get("Content-Type") != "application/x-tar" {
					t.Fatalf("save: %d", code)
				}
				saved = []byte(body)
			}
		}
		code, body, _ := do(t, tt.method, u+tt.path, tt.body)
		if code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("%s %s = %d %s, want %d containing %q", tt.method, tt.path, code, body, tt.code, tt.contains)
		}
	}

	code, body, _ = do(t, "POST", u+"/images/load", bytes.NewReader(saved))
	if code != 200 || !strings.Contains(body, `"status":"Loading layer"`) || !strings.Contains(body, `{"stream":"Loaded image: 127.0.0.1:1/x/y:1\n"}`) {
		t.Fatalf("load: %d %s", code, body)
	}
	code, body, _ = do(t, "GET", u+"/images/json", nil)
	var list []image.Summary
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 1 || list[0].ID != id || list[0].SharedSize != -1 {
		t.Fatalf("list: %d %s", code, body)
	}
}

func TestParseFilters(t *testing.T) {
	for raw, want := range map[string]string{
		``:                               `{}`,
		`{"dangling":["true"]}`:          `{"dangling":["true"]}`,
		`{"dangling":{"true":true}}`:     `{"dangling":["true"]}`,
		`{"label":{"a":true,"b":false}}`: `{"label":["a"]}`,
	} {
		f, err := ParseFilters(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(f); string(got) != want {
			t.Errorf("ParseFilters(%s) = %s, want %s", raw, got, want)
		}
	}
	if _, err := ParseFilters(`[1]`); err == nil {
		t.Error("bad filters accepted")
	}
}

func TestPullRef(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		img, tag, ref string
		all           bool
	}{
		{"busybox", "latest", "docker.io/library/busybox:latest", false},
		{"busybox", "", "docker.io/library/busybox", true},
		{"busybox:1", "", "docker.io/library/busybox:1", false},
		{"127.0.0.1:5000/a/b", d, "127.0.0.1:5000/a/b@" + d, false},
		{"busybox:1", "2", "docker.io/library/busybox:2", false},
	}
	for _, tt := range tests {
		ref, all, err := pullRef(tt.img, tt.tag)
		if err != nil || ref != tt.ref || all != tt.all {
			t.Errorf("pullRef(%q, %q) = %q, %v, %v; want %q, %v", tt.img, tt.tag, ref, all, err, tt.ref, tt.all)
		}
	}
	if _, _, err := pullRef("UPPER", ""); err == nil {
		t.Error("an invalid name was accepted")
	}
}
