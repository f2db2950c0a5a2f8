package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server/httputils"
)

type testRouter struct{}

func (testRouter) Routes() []Route {
	return []Route{
		{Method: "POST", Path: "/things/create", Handler: func(_ context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
			var body struct{ Name string }
			if err := httputils.ReadJSON(r, &body, false); err != nil {
				return err
			}
			if body.Name == "taken" {
				return errdefs.Conflictf("name %q is already in use", body.Name)
			}
			return httputils.WriteJSON(w, http.StatusCreated, map[string]string{"Name": body.Name, "Version": httputils.VersionFromContext(r.Context())})
		}},
		{Method: "GET", Path: "/images/{name:.*}/json", Handler: func(_ context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
			return httputils.WriteJSON(w, http.StatusOK, vars)
		}},
		{Method: "GET", Path: "/containers/{id}/json", Handler: func(_ context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
			if vars["id"] == "missing" {
				return errdefs.NotFoundf("No such container: %s", vars["id"])
			}
			return httputils.WriteJSON(w, http.StatusOK, vars)
		}},
		{Method: "GET", Path: "/panic", Handler: func(context.Context, http.ResponseWriter, *http.Request, map[string]string) error {
			panic("boom")
		}},
	}
}

func do(t *testing.T, h http.Handler, method, path, ctype, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	out, _ := io.ReadAll(rec.Body)
	return rec.Code, string(out)
}

func TestServerRequests(t *testing.T) {
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), testRouter{})
	huge := `{"Name":"` + strings.Repeat("a", httputils.MaxJSONBody) + `"}`
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		contains                        string
	}{
		{"create", "POST", "/v1.44/things/create", "application/json", `{"Name":"a"}`, 201, `"Version":"1.44"`},
		{"unversioned gets newest", "POST", "/things/create", "application/json", `{"Name":"a"}`, 201, `"Version":"1.50"`},
		{"malformed json", "POST", "/things/create", "application/json", `{"Name":`, 400, "invalid JSON"},
		{"empty body", "POST", "/things/create", "application/json", ``, 400, "invalid JSON"},
		{"trailing garbage", "POST", "/things/create", "application/json", `{"Name":"a"} x`, 400, "unexpected content after JSON"},
		{"wrong content type", "POST", "/things/create", "text/plain", `{"Name":"a"}`, 400, "unsupported Content-Type header (text/plain): must be 'application/json'"},
		{"huge body", "POST", "/things/create", "application/json", huge, 413, "request body too large"},
		{"conflict", "POST", "/things/create", "application/json", `{"Name":"taken"}`, 409, `name \"taken\" is already in use`},
		{"image name with slashes", "GET", "/v1.50/images/127.0.0.1:1/test/busybox:1/json", "", "", 200, `"name":"127.0.0.1:1/test/busybox:1"`},
		{"not found", "GET", "/containers/missing/json", "", "", 404, `{"message":"No such container: missing"}`},
		{"one segment only", "GET", "/containers/a/b/json", "", "", 404, `page not found`},
		{"head falls back to get", "HEAD", "/containers/x/json", "", "", 200, ""},
		{"panic", "GET", "/panic", "", "", 500, "internal server error: boom"},
		{"too new", "GET", "/v1.51/panic", "", "", 400, "too new"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, s, tc.method, tc.path, tc.ctype, tc.body)
			if code != tc.status || !strings.Contains(body, tc.contains) {
				t.Fatalf("%s %s = %d %s, want %d containing %q", tc.method, tc.path, code, body, tc.status, tc.contains)
			}
			if code >= 400 {
				var e struct{ Message string }
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Message == "" {
					t.Fatalf("error body %q is not {\"message\":…}", body)
				}
			}
		})
	}
}

func TestStatusFor(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{errdefs.NotFoundf("x"), 404},
		{errdefs.InvalidParameterf("x"), 400},
		{errdefs.Conflictf("x"), 409},
		{errdefs.Unauthorized(io.EOF), 401},
		{errdefs.Forbiddenf("x"), 403},
		{errdefs.Unavailablef("x"), 503},
		{errdefs.NotImplementedf("x"), 501},
		{io.EOF, 500},
	}
	for _, tc := range tests {
		if got := statusFor(tc.err); got != tc.want {
			t.Errorf("statusFor(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
