package container

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/server/httputils"
)

func TestDowngradeInspect(t *testing.T) {
	resp := &container.InspectResponse{ID: "abc", NetworkSettings: &container.NetworkSettings{
		SandboxKey: "/run/netns/x",
		Networks: map[string]*network.EndpointSettings{"bridge": {
			IPAddress: netip.MustParseAddr("172.17.0.2"), Gateway: netip.MustParseAddr("172.17.0.1"), IPPrefixLen: 16,
		}},
	}}
	for _, tc := range []struct {
		version string
		wantIP  string
	}{{"1.50", "172.17.0.2"}, {"1.52", ""}} {
		ctx := httputils.WithVersion(t.Context(), tc.version)
		data, err := json.Marshal(downgradeInspect(ctx, resp))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			ID              string `json:"Id"`
			NetworkSettings struct {
				IPAddress, Gateway, SandboxKey string
				IPPrefixLen                    int
				Networks                       map[string]any
			}
		}
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		ns := got.NetworkSettings
		if got.ID != "abc" || ns.IPAddress != tc.wantIP || ns.SandboxKey != "/run/netns/x" || len(ns.Networks) != 1 {
			t.Fatalf("API %s: %s", tc.version, data)
		}
		if tc.wantIP != "" && (ns.Gateway != "172.17.0.1" || ns.IPPrefixLen != 16) {
			t.Fatalf("API %s: legacy fields missing: %s", tc.version, data)
		}
	}
}
