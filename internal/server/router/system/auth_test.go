package system

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/registry"

	"github.com/berth-engine/berth/internal/errdefs"
	bus "github.com/berth-engine/berth/internal/events"
	"github.com/berth-engine/berth/internal/server"
)

type authBackend struct{ fakeBackend }

func (authBackend) AuthenticateToRegistry(_ context.Context, a *registry.AuthConfig) (registry.AuthResponse, error) {
	if a.Password != "right" {
		return registry.AuthResponse{}, errdefs.Unauthorized(io.ErrUnexpectedEOF)
	}
	return registry.AuthResponse{Status: "Login Succeeded"}, nil
}

func TestAuth(t *testing.T) {
	post := func(b Backend, body string) (int, string) {
		ts := httptest.NewServer(server.New(slog.New(slog.DiscardHandler), New(b)))
		defer ts.Close()
		resp, err := http.Post(ts.URL+"/v1.50/auth", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	b := authBackend{fakeBackend{bus: bus.New()}}
	if code, body := post(b, `{"username":"u","password":"right","serveraddress":"127.0.0.1:5000"}`); code != 200 || !strings.Contains(body, `"Status":"Login Succeeded"`) {
		t.Fatalf("good login: %d %s", code, body)
	}
	if code, _ := post(b, `{"username":"u","password":"wrong"}`); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if code, _ := post(b, `not json`); code != 400 {
		t.Fatalf("bad body: %d", code)
	}
	if code, _ := post(fakeBackend{bus: bus.New()}, `{}`); code != 501 {
		t.Fatalf("backend without registry: %d", code)
	}
}
