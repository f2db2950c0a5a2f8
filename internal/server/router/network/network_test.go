package network

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/errdefs"
	netsvc "github.com/berth-engine/berth/internal/network"
	"github.com/berth-engine/berth/internal/server"
)

// fake answers from fixed data and records what it was asked.
type fake struct {
	gotFilters netsvc.Filters
	gotCreate  []network.CreateRequest
	gotConnect network.ConnectRequest
}

func (f *fake) List(_ context.Context, fl netsvc.Filters) ([]network.Summary, error) {
	f.gotFilters = fl
	return []network.Summary{{Network: network.Network{Name: "bridge", ID: "abc"}}}, nil
}

func (f *fake) Inspect(_ context.Context, ref string) (network.Inspect, error) {
	if ref != "abc" {
		return network.Inspect{}, errdefs.NotFoundf("network %s not found", ref)
	}
	return network.Inspect{Network: network.Network{Name: "bridge", ID: "abc"}}, nil
}

func (f *fake) Create(_ context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	f.gotCreate = append(f.gotCreate, req)
	if req.Name == "dup" {
		return network.CreateResponse{}, errdefs.Conflictf("network with name dup already exists")
	}
	if req.Name == "overlap" {
		return network.CreateResponse{}, errdefs.InvalidParameterf("invalid pool request: Pool overlaps with other one on this address space")
	}
	return network.CreateResponse{ID: "new"}, nil
}

func (f *fake) Delete(_ context.Context, ref string) error {
	if ref == "busy" {
		return errdefs.Conflictf("error while removing network: network busy has active endpoints")
	}
	return nil
}

func (f *fake) Connect(_ context.Context, ref string, req network.ConnectRequest) error {
	f.gotConnect = req
	return nil
}

func (f *fake) Disconnect(context.Context, string, network.DisconnectRequest) error { return nil }

func (f *fake) Prune(context.Context, netsvc.Filters) (network.PruneReport, error) {
	return network.PruneReport{NetworksDeleted: []string{"old"}}, nil
}

func TestRoutes(t *testing.T) {
	f := &fake{}
	srv := httptest.NewServer(server.New(slog.New(slog.DiscardHandler), New(f)))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, method, path, body string
		status                   int
		contains                 string
	}{
		{"list", "GET", "/v1.50/networks?filters=%7B%22name%22%3A%7B%22br%22%3Atrue%7D%7D", "", 200, `"Name":"bridge"`},
		{"inspect", "GET", "/networks/abc", "", 200, `"Id":"abc"`},
		{"inspect unknown", "GET", "/networks/zzz", "", 404, `"message":"network zzz not found"`},
		{"inspect swarm scope", "GET", "/networks/abc?scope=swarm", "", 404, "not found"},
		{"create", "POST", "/networks/create", `{"Name":"n1","Driver":"bridge","Labels":{"a":"b"}}`, 201, `"Id":"new"`},
		{"create duplicate", "POST", "/networks/create", `{"Name":"dup"}`, 409, "already exists"},
		{"create overlap", "POST", "/networks/create", `{"Name":"overlap"}`, 400, "overlaps"},
		{"create bad json", "POST", "/networks/create", `{`, 400, "invalid JSON"},
		{"remove", "DELETE", "/networks/abc", "", 204, ""},
		{"remove in use", "DELETE", "/networks/busy", "", 409, "active endpoints"},
		{"connect", "POST", "/networks/abc/connect", `{"Container":"c1","EndpointConfig":{"Aliases":["x"]}}`, 200, ""},
		{"disconnect", "POST", "/networks/abc/disconnect", `{"Container":"c1","Force":true}`, 200, ""},
		{"prune", "POST", "/networks/prune", "", 200, `"NetworksDeleted":["old"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.contains) {
				t.Fatalf("%d %s; want %d containing %q", resp.StatusCode, body, tt.status, tt.contains)
			}
		})
	}
	if got := f.gotFilters["name"]; len(got) != 1 || got[0] != "br" {
		t.Errorf("filters = %v", f.gotFilters)
	}
	if len(f.gotCreate) == 0 || f.gotCreate[0].Name != "n1" || f.gotCreate[0].Labels["a"] != "b" {
		t.Errorf("create request = %+v", f.gotCreate)
	}
	if f.gotConnect.Container != "c1" || f.gotConnect.EndpointConfig.Aliases[0] != "x" {
		b, _ := json.Marshal(f.gotConnect)
		t.Errorf("connect request = %s", b)
	}
}
