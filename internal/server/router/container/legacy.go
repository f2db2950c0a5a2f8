package container

import (
	"context"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/berth-engine/berth/internal/server/httputils"
)

// legacyNetworkSettings adds the top-level address fields that API versions
// before 1.52 carry in NetworkSettings (taken from the default "bridge"
// network's endpoint, as dockerd does). Templates such as
// {{.NetworkSettings.IPAddress}} read them.
type legacyNetworkSettings struct {
	*container.NetworkSettings
	Bridge                 string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   any
	SecondaryIPv6Addresses any
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
}

type legacyInspect struct {
	*container.InspectResponse
	NetworkSettings *legacyNetworkSettings
}

// downgradeInspect shapes an inspect response for the request's version.
func downgradeInspect(ctx context.Context, resp *container.InspectResponse) any {
	if !versions.LessThan(httputils.VersionFromContext(ctx), "1.52") || resp.NetworkSettings == nil {
		return resp
	}
	ls := &legacyNetworkSettings{NetworkSettings: resp.NetworkSettings}
	if ep := resp.NetworkSettings.Networks["bridge"]; ep != nil {
		ls.EndpointID = ep.EndpointID
		ls.MacAddress = ep.MacAddress.String()
		ls.IPPrefixLen = ep.IPPrefixLen
		ls.GlobalIPv6PrefixLen = ep.GlobalIPv6PrefixLen
		if ep.IPAddress.IsValid() {
			ls.IPAddress = ep.IPAddress.String()
		}
		if ep.Gateway.IsValid() {
			ls.Gateway = ep.Gateway.String()
		}
		if ep.GlobalIPv6Address.IsValid() {
			ls.GlobalIPv6Address = ep.GlobalIPv6Address.String()
		}
		if ep.IPv6Gateway.IsValid() {
			ls.IPv6Gateway = ep.IPv6Gateway.String()
		}
	}
	return legacyInspect{InspectResponse: resp, NetworkSettings: ls}
}
