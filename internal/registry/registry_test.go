package registry

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/errdefs"
)

func TestEndpoints(t *testing.T) {
	s, err := New(Config{Mirrors: []string{"https://mirror.example.com", "http://10.1.2.3:5000/"}, Insecure: []string{"reg.example.com:5000", "10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref  string
		want []Endpoint
	}{
		{"busybox", []Endpoint{
			{Host: "mirror.example.com", Mirror: true},
			{Host: "10.1.2.3:5000", Mirror: true, Insecure: true},
			{Host: "registry-1.docker.io"},
		}},
		{"reg.example.com:5000/a/b:1", []Endpoint{{Host: "reg.example.com:5000", Insecure: true}}},
		{"127.0.0.1:5000/a", []Endpoint{{Host: "127.0.0.1:5000", Insecure: true}}},
		{"localhost:5000/a", []Endpoint{{Host: "localhost:5000", Insecure: true}}},
		{"10.9.9.9:443/a", []Endpoint{{Host: "10.9.9.9:443", Insecure: true}}},
		{"192.168.1.1:5000/a", []Endpoint{{Host: "192.168.1.1:5000"}}},
		{"quay.io/a/b", []Endpoint{{Host: "quay.io"}}},
	}
	for _, tt := range tests {
		named, err := reference.ParseNormalizedNamed(tt.ref)
		if err != nil {
			t.Fatal(err)
		}
		got := s.Endpoints(named)
		if len(got) != len(tt.want) {
			t.Fatalf("%s: %+v", tt.ref, got)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: endpoint %d = %+v, want %+v", tt.ref, i, got[i], tt.want[i])
			}
		}
	}
	named, _ := reference.ParseNormalizedNamed("busybox")
	if ep := s.PushEndpoint(named); ep.Mirror || ep.Host != "registry-1.docker.io" {
		t.Fatalf("push endpoint = %+v, never a mirror", ep)
	}
	for _, bad := range [][]string{{"ftp://x"}, {"https://x/path"}} {
		if _, err := New(Config{Mirrors: bad}); err == nil {
			t.Errorf("mirror %q accepted", bad)
		}
	}
	if _, err := New(Config{Insecure: []string{"a/b/c"}}); err == nil {
		t.Error("a malformed insecure registry was accepted")
	}
}

func TestServerHost(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "docker.io",
		"https://index.docker.io/v1/": "docker.io",
		"docker.io":                   "docker.io",
		"127.0.0.1:5000":              "127.0.0.1:5000",
		"https://127.0.0.1:5000/v2/":  "127.0.0.1:5000",
		"http://reg.example.com":      "reg.example.com",
	} {
		if got := ServerHost(in); got != want {
			t.Errorf("ServerHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCertsDir checks that a registry that is not insecure is verified
// against <certs>/<host>/*.crt, and fails without it.
func TestCertsDir(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/tags/list") {
			io.WriteString(w, `{"name":"a/b","tags":["1","2"]}`)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	certs := t.TempDir()
	s, err := New(Config{CertsDir: certs})
	if err != nil {
		t.Fatal(err)
	}
	named, _ := reference.ParseNormalizedNamed(host + "/a/b")
	ctx := context.Background()
	secure := Endpoint{Host: host} // as for a registry that is not loopback
	if _, err := s.Open(ctx, secure, named, nil, []string{"pull"}); err == nil {
		t.Fatal("an unknown CA was trusted")
	}
	dir := filepath.Join(certs, host)
	os.MkdirAll(dir, 0o755)
	pemCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), pemCA, 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err := s.Open(ctx, secure, named, nil, []string{"pull"})
	if err != nil {
		t.Fatalf("with the CA in the certs dir: %v", err)
	}
	tags, err := repo.Tags(ctx)
	if err != nil || strings.Join(tags, ",") != "1,2" {
		t.Fatalf("tags = %v, %v", tags, err)
	}
	// Insecure: TLS is not verified even without the CA.
	os.RemoveAll(dir)
	if _, err := s.Open(ctx, Endpoint{Host: host, Insecure: true}, named, nil, []string{"pull"}); err != nil {
		t.Fatalf("insecure endpoint: %v", err)
	}
}

func TestBlobStallTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("half"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s, _ := New(Config{ResponseTimeout: 200 * time.Millisecond})
	host := strings.TrimPrefix(srv.URL, "http://")
	named, _ := reference.ParseNormalizedNamed(host + "/a/b")
	ctx := context.Background()
	repo, err := s.Open(ctx, s.Endpoints(named)[0], named, nil, []string{"pull"})
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := repo.Blob(ctx, digest.FromString("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	start := time.Now()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, errdefs.ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("stalled blob: %v after %s", err, time.Since(start))
	}
}

func TestErrorWording(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
		case strings.Contains(r.URL.Path, "/private/"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	s, _ := New(Config{})
	ctx := context.Background()
	for _, tt := range []struct{ ref, pull, push string }{
		{host + "/a/b:nope", "manifest for " + host + "/a/b:nope not found: manifest unknown: manifest unknown", "manifest unknown: manifest unknown"},
		{host + "/private/b:1", "pull access denied for " + host + "/private/b, repository does not exist or may require 'docker login': unauthorized: authentication required", "unauthorized: authentication required"},
	} {
		named, _ := reference.ParseNormalizedNamed(tt.ref)
		repo, err := s.Open(ctx, s.Endpoints(named)[0], named, nil, []string{"pull"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = repo.Manifest(ctx, named.(reference.Tagged).Tag())
		if perr := PullError(err, named); perr == nil || perr.Error() != tt.pull || !errors.Is(perr, errdefs.ErrNotFound) {
			t.Errorf("PullError = %v", perr)
		}
		if cerr := Classify(err); cerr == nil || cerr.Error() != tt.push {
			t.Errorf("Classify = %v", cerr)
		}
	}
}

// TestBearerToken: a registry that sends clients to a token server, as
// Docker Hub and Harbor do.
func TestBearerToken(t *testing.T) {
	var srv *httptest.Server
	var scopes []string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			u, p, ok := r.BasicAuth()
			if !ok || u != "user" || p != "pass" {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`)
				return
			}
			scopes = append(scopes, r.URL.Query()["scope"]...)
			io.WriteString(w, `{"token":"tok"}`)
		case r.Header.Get("Authorization") != "Bearer tok":
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		case r.URL.Path == "/v2/":
		default:
			io.WriteString(w, `{"tags":["t"]}`)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	s, _ := New(Config{})
	ctx := context.Background()
	named, _ := reference.ParseNormalizedNamed(host + "/a/b")
	good := &registry.AuthConfig{Username: "user", Password: "pass"}
	repo, err := s.Open(ctx, s.Endpoints(named)[0], named, good, []string{"pull", "push"}, "c/d")
	if err != nil {
		t.Fatal(err)
	}
	if tags, err := repo.Tags(ctx); err != nil || len(tags) != 1 {
		t.Fatalf("tags = %v, %v", tags, err)
	}
	if !slices.Contains(scopes, "repository:a/b:pull,push") || !slices.Contains(scopes, "repository:c/d:pull") {
		t.Fatalf("scopes asked = %q", scopes)
	}
	if _, err := s.Open(ctx, s.Endpoints(named)[0], named, &registry.AuthConfig{Username: "user", Password: "nope"}, []string{"pull"}); err == nil {
		t.Fatal("a wrong password got a token")
	}
	if st, _, err := s.Login(ctx, &registry.AuthConfig{Username: "user", Password: "pass", ServerAddress: host}); err != nil || st != "Login Succeeded" {
		t.Fatalf("login: %q %v", st, err)
	}
	_, _, err = s.Login(ctx, &registry.AuthConfig{Username: "user", Password: "nope", ServerAddress: host})
	if !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("login with a wrong password: %v", err)
	}
	t.Logf("wrong password: %v", err)
}
