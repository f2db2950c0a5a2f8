package volume

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/volume"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/server"
	volsvc "github.com/berth-engine/berth/internal/volume"
)

func newTestServer(t *testing.T) (*httptest.Server, *volsvc.Service) {
	t.Helper()
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "m.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc, err := volsvc.New(volsvc.Config{Root: filepath.Join(dir, "volumes"), DB: db})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), New(svc)))
	t.Cleanup(ts.Close)
	return ts, svc
}

func do(t *testing.T, ts *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestRoutes(t *testing.T) {
	ts, svc := newTestServer(t)
	steps := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"POST", "/v1.50/volumes/create", `{"Name":"v1","Labels":{"a":"b"}}`, 201, `"Name":"v1"`},
		{"POST", "/volumes/create", `{"Name":"v2"}`, 201, `"Scope":"local"`},
		{"POST", "/volumes/create", `{"Name":"bad name"}`, 400, `includes invalid characters for a local volume name`},
		{"POST", "/volumes/create", `{"Name":"o1","DriverOpts":{"colour":"red"}}`, 400, `invalid option: \"colour\"`},
		{"GET", "/volumes/v1", "", 200, `"Labels":{"a":"b"}`},
		{"GET", "/volumes/nope", "", 404, `{"message":"get nope: no such volume"}`},
		{"GET", "/volumes?filters=" + url.QueryEscape(`{"label":{"a=b":true}}`), "", 200, `"Name":"v1"`},
		{"GET", "/volumes?filters=" + url.QueryEscape(`{"bogus":["x"]}`), "", 400, `invalid filter 'bogus'`},
		{"DELETE", "/volumes/v1", "", 409, `{"message":"remove v1: volume is in use - [c1]"}`},
		{"DELETE", "/volumes/nope", "", 404, `no such volume`},
		{"DELETE", "/volumes/nope?force=1", "", 204, ``},
		// 1.42+: named volumes survive a plain prune.
		{"POST", "/volumes/prune", "", 200, `"VolumesDeleted":[]`},
		// Before 1.42 prune removed every unused volume.
		{"POST", "/v1.41/volumes/prune", "", 200, `"VolumesDeleted":["v2"]`},
		{"GET", "/volumes", "", 200, `"Warnings":[]`},
	}
	for _, st := range steps {
		if st.method == "DELETE" && st.path == "/volumes/v1" {
			if err := svc.Acquire(context.Background(), "v1", "c1"); err != nil {
				t.Fatal(err)
			}
		}
		status, body := do(t, ts, st.method, st.path, st.body)
		if status != st.status || !strings.Contains(body, st.contains) {
			t.Fatalf("%s %s: %d %s, want %d containing %q", st.method, st.path, status, body, st.status, st.contains)
		}
	}
	_, body := do(t, ts, "GET", "/volumes", "")
	var list volume.ListResponse
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Volumes) != 1 || list.Volumes[0].Name != "v1" {
		t.Fatalf("list: %s %v", body, err)
	}
}
