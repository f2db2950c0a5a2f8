package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-engine/berth/internal/cli/client/versions"
)

type InfoOptions struct{}

type SystemInfoResult struct {
	Info system.Info
}

func (c *Client) Info(ctx context.Context, _ InfoOptions) (SystemInfoResult, error) {
	resp, err := c.do(ctx, http.MethodGet, "/info", nil, nil, nil)
	if err != nil {
		return SystemInfoResult{}, err
	}
	defer closeBody(resp)
	var r SystemInfoResult
	if err := json.NewDecoder(resp.Body).Decode(&r.Info); err != nil {
		return SystemInfoResult{}, fmt.Errorf("Error reading remote info: %v", err)
	}
	return r, nil
}

type ServerVersionOptions struct{}

type ServerVersionResult struct {
	Platform      PlatformInfo
	Version       string
	APIVersion    string
	MinAPIVersion string
	Os            string
	Arch          string
	Experimental  bool
	Components    []system.ComponentVersion
}

type PlatformInfo struct {
	Name string
}

func (c *Client) ServerVersion(ctx context.Context, _ ServerVersionOptions) (ServerVersionResult, error) {
	var v system.VersionResponse
	if err := c.callJSON(ctx, http.MethodGet, "/version", nil, nil, &v); err != nil {
		return ServerVersionResult{}, err
	}
	return ServerVersionResult{
		Platform:      PlatformInfo{Name: v.Platform.Name},
		Version:       v.Version,
		APIVersion:    v.APIVersion,
		MinAPIVersion: v.MinAPIVersion,
		Os:            v.Os,
		Arch:          v.Arch,
		Experimental:  v.Experimental, //nolint:staticcheck // still sent by daemons, and shown
		Components:    v.Components,
	}, nil
}

type EventsListOptions struct {
	Since   string
	Until   string
	Filters Filters
}

// EventsResult delivers the daemon's events on Messages until the stream
// ends or fails, which comes on Err (io.EOF at the end, ctx's error when it
// is done).
type EventsResult struct {
	Messages <-chan events.Message
	Err      <-chan error
}

// Events returns once the daemon has accepted the request, so no event
// after the call is missed.
func (c *Client) Events(ctx context.Context, o EventsListOptions) EventsResult {
	msgs := make(chan events.Message)
	errs := make(chan error, 1)
	res := EventsResult{Messages: msgs, Err: errs}
	q := url.Values{}
	if _, err := setTimes(q, o.Since, o.Until, time.Now()); err != nil {
		errs <- err
		return res
	}
	o.Filters.setQuery(q)
	hdr := http.Header{"Accept": {"application/jsonl", "application/x-ndjson;q=0.9", "application/json-seq;q=0.5"}}
	resp, err := c.do(ctx, http.MethodGet, "/events", q, nil, hdr)
	if err != nil {
		errs <- err
		return res
	}
	go func() {
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Type") == "application/json-seq" {
			body = rsFilter{resp.Body}
		}
		dec := json.NewDecoder(body)
		for ctx.Err() == nil {
			var m events.Message
			if err := dec.Decode(&m); err != nil {
				errs <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
			}
		}
		errs <- ctx.Err()
	}()
	return res
}

// rsFilter drops the record separators of an RFC 7464 JSON text sequence.
type rsFilter struct{ r io.Reader }

func (f rsFilter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		kept := bytes.ReplaceAll(p[:n], []byte{0x1e}, nil)
		copy(p, kept)
		if len(kept) > 0 || err != nil {
			return len(kept), err
		}
	}
}

type DiskUsageOptions struct {
	Containers bool
	Images     bool
	BuildCache bool
	Volumes    bool
	Verbose    bool
}

// DiskUsageResult is the daemon's disk usage per object type. Items are
// listed only with DiskUsageOptions.Verbose (and always before API 1.52).
type DiskUsageResult struct {
	Containers ContainersDiskUsage
	Images     ImagesDiskUsage
	BuildCache BuildCacheDiskUsage
	Volumes    VolumesDiskUsage
}

type ContainersDiskUsage struct {
	ActiveCount, TotalCount, Reclaimable, TotalSize int64
	Items                                           []container.Summary
}

type ImagesDiskUsage struct {
	ActiveCount, TotalCount, Reclaimable, TotalSize int64
	Items                                           []image.Summary
}

type VolumesDiskUsage struct {
	ActiveCount, TotalCount, Reclaimable, TotalSize int64
	Items                                           []volume.Volume
}

type BuildCacheDiskUsage struct {
	ActiveCount, TotalCount, Reclaimable, TotalSize int64
	Items                                           []build.CacheRecord
}

func (c *Client) DiskUsage(ctx context.Context, o DiskUsageOptions) (DiskUsageResult, error) {
	q := url.Values{}
	for _, t := range []struct {
		on  bool
		typ system.DiskUsageObject
	}{{o.Containers, system.ContainerObject}, {o.Images, system.ImageObject}, {o.Volumes, system.VolumeObject}, {o.BuildCache, system.BuildCacheObject}} {
		if t.on {
			q.Add("type", string(t.typ))
		}
	}
	flag(q, "verbose", o.Verbose)
	resp, err := c.do(ctx, http.MethodGet, "/system/df", q, nil, nil)
	if err != nil {
		return DiskUsageResult{}, err
	}
	defer closeBody(resp)
	if versions.LessThan(c.ClientVersion(), "1.52") {
		var du legacyDiskUsage
		if err := json.NewDecoder(resp.Body).Decode(&du); err != nil {
			return DiskUsageResult{}, fmt.Errorf("retrieving disk usage: %v", err)
		}
		return du.result(), nil
	}
	var du system.DiskUsage
	if err := json.NewDecoder(resp.Body).Decode(&du); err != nil {
		return DiskUsageResult{}, fmt.Errorf("retrieving disk usage: %v", err)
	}
	var r DiskUsageResult
	if u := du.ContainerUsage; u != nil {
		r.Containers = ContainersDiskUsage{u.ActiveCount, u.TotalCount, u.Reclaimable, u.TotalSize, verboseItems(o.Verbose, u.Items)}
	}
	if u := du.ImageUsage; u != nil {
		r.Images = ImagesDiskUsage{u.ActiveCount, u.TotalCount, u.Reclaimable, u.TotalSize, verboseItems(o.Verbose, u.Items)}
	}
	if u := du.VolumeUsage; u != nil {
		r.Volumes = VolumesDiskUsage{u.ActiveCount, u.TotalCount, u.Reclaimable, u.TotalSize, verboseItems(o.Verbose, u.Items)}
	}
	if u := du.BuildCacheUsage; u != nil {
		r.BuildCache = BuildCacheDiskUsage{u.ActiveCount, u.TotalCount, u.Reclaimable, u.TotalSize, verboseItems(o.Verbose, u.Items)}
	}
	return r, nil
}

func verboseItems[T any](verbose bool, items []T) []T {
	if !verbose {
		return nil
	}
	return items
}

// legacyDiskUsage is /system/df before API 1.52: item lists only, the
// totals are the client's to count.
type legacyDiskUsage struct {
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
}

func (du *legacyDiskUsage) result() DiskUsageResult {
	r := DiskUsageResult{
		Images:     ImagesDiskUsage{TotalSize: du.LayersSize, TotalCount: int64(len(du.Images)), Items: du.Images},
		Containers: ContainersDiskUsage{TotalCount: int64(len(du.Containers)), Items: du.Containers},
		Volumes:    VolumesDiskUsage{TotalCount: int64(len(du.Volumes)), Items: du.Volumes},
		BuildCache: BuildCacheDiskUsage{TotalCount: int64(len(du.BuildCache)), Items: du.BuildCache},
	}
	for _, img := range du.Images {
		switch {
		case img.Containers > 0:
			r.Images.ActiveCount++
		case img.Containers == 0 && img.Size != -1 && img.SharedSize != -1:
			r.Images.Reclaimable += img.Size - img.SharedSize
		}
	}
	var used int64
	for _, ctr := range du.Containers {
		r.Containers.TotalSize += ctr.SizeRw
		switch ctr.State {
		case container.StateRunning, container.StatePaused, container.StateRestarting:
			r.Containers.ActiveCount++
			used += ctr.SizeRw
		}
	}
	r.Containers.Reclaimable = r.Containers.TotalSize - used
	used = 0
	for _, v := range du.Volumes {
		if v.UsageData == nil {
			continue
		}
		if v.UsageData.RefCount > 0 {
			r.Volumes.ActiveCount++
			used += v.UsageData.Size
		}
		if v.UsageData.Size > 0 {
			r.Volumes.TotalSize += v.UsageData.Size
		}
	}
	r.Volumes.Reclaimable = r.Volumes.TotalSize - used
	used = 0
	for _, b := range du.BuildCache {
		if !b.Shared {
			r.BuildCache.TotalSize += b.Size
		}
		if b.InUse {
			r.BuildCache.ActiveCount++
			if !b.Shared {
				used += b.Size
			}
		}
	}
	r.BuildCache.Reclaimable = r.BuildCache.TotalSize - used
	return r
}

type RegistryLoginOptions struct {
	Username      string
	Password      string
	ServerAddress string
	IdentityToken string
}

type RegistryLoginResult struct {
	Auth registry.AuthResponse
}

// RegistryLogin has the daemon check credentials with a registry.
func (c *Client) RegistryLogin(ctx context.Context, o RegistryLoginOptions) (RegistryLoginResult, error) {
	var r RegistryLoginResult
	err := c.callJSON(ctx, http.MethodPost, "/auth", nil, registry.AuthConfig{
		Username: o.Username, Password: o.Password, ServerAddress: o.ServerAddress, IdentityToken: o.IdentityToken,
	}, &r.Auth)
	return r, err
}

type NetworkCreateOptions struct {
	Driver     string
	Scope      string
	EnableIPv4 *bool
	EnableIPv6 *bool
	IPAM       *network.IPAM
	Internal   bool
	Attachable bool
	Ingress    bool
	ConfigOnly bool
	ConfigFrom string
	Options    map[string]string
	Labels     map[string]string
}

type NetworkCreateResult struct {
	ID string
}

func (c *Client) NetworkCreate(ctx context.Context, name string, o NetworkCreateOptions) (NetworkCreateResult, error) {
	req := network.CreateRequest{
		Name: name, Driver: o.Driver, Scope: o.Scope, EnableIPv4: o.EnableIPv4, EnableIPv6: o.EnableIPv6,
		IPAM: o.IPAM, Internal: o.Internal, Attachable: o.Attachable, Ingress: o.Ingress,
		ConfigOnly: o.ConfigOnly, Options: o.Options, Labels: o.Labels,
	}
	if o.ConfigFrom != "" {
		req.ConfigFrom = &network.ConfigReference{Network: o.ConfigFrom}
	}
	var r network.CreateResponse
	err := c.callJSON(ctx, http.MethodPost, "/networks/create", nil, req, &r)
	return NetworkCreateResult{ID: r.ID}, err
}

type NetworkListOptions struct {
	Filters Filters
}

type NetworkListResult struct {
	Items []network.Summary
}

func (c *Client) NetworkList(ctx context.Context, o NetworkListOptions) (NetworkListResult, error) {
	q := url.Values{}
	o.Filters.setQuery(q)
	var r NetworkListResult
	err := c.callJSON(ctx, http.MethodGet, "/networks", q, nil, &r.Items)
	return r, err
}

type NetworkInspectOptions struct {
	Verbose bool
}

type NetworkInspectResult struct {
	Network network.Inspect
	Raw     json.RawMessage
}

func (c *Client) NetworkInspect(ctx context.Context, id string, o NetworkInspectOptions) (NetworkInspectResult, error) {
	id, err := trimID("network", id)
	if err != nil {
		return NetworkInspectResult{}, err
	}
	q := url.Values{}
	if o.Verbose {
		q.Set("verbose", "true")
	}
	var r NetworkInspectResult
	r.Raw, err = c.getRaw(ctx, "/networks/"+id, q, &r.Network)
	return r, err
}

type NetworkRemoveOptions struct{}
type NetworkRemoveResult struct{}

func (c *Client) NetworkRemove(ctx context.Context, id string, _ NetworkRemoveOptions) (NetworkRemoveResult, error) {
	id, err := trimID("network", id)
	if err != nil {
		return NetworkRemoveResult{}, err
	}
	return NetworkRemoveResult{}, c.call(ctx, http.MethodDelete, "/networks/"+id, nil, nil)
}

type NetworkConnectOptions struct {
	Container      string
	EndpointConfig *network.EndpointSettings
}
type NetworkConnectResult struct{}

func (c *Client) NetworkConnect(ctx context.Context, id string, o NetworkConnectOptions) (NetworkConnectResult, error) {
	id, err := trimID("network", id)
	if err != nil {
		return NetworkConnectResult{}, err
	}
	ctr, err := trimID("container", o.Container)
	if err != nil {
		return NetworkConnectResult{}, err
	}
	return NetworkConnectResult{}, c.call(ctx, http.MethodPost, "/networks/"+id+"/connect", nil,
		network.ConnectRequest{Container: ctr, EndpointConfig: o.EndpointConfig})
}

type NetworkDisconnectOptions struct {
	Container string
	Force     bool
}
type NetworkDisconnectResult struct{}

func (c *Client) NetworkDisconnect(ctx context.Context, id string, o NetworkDisconnectOptions) (NetworkDisconnectResult, error) {
	id, err := trimID("network", id)
	if err != nil {
		return NetworkDisconnectResult{}, err
	}
	ctr, err := trimID("container", o.Container)
	if err != nil {
		return NetworkDisconnectResult{}, err
	}
	return NetworkDisconnectResult{}, c.call(ctx, http.MethodPost, "/networks/"+id+"/disconnect", nil,
		network.DisconnectRequest{Container: ctr, Force: o.Force})
}

type NetworkPruneOptions struct {
	Filters Filters
}

type NetworkPruneResult struct {
	Report network.PruneReport
}

func (c *Client) NetworkPrune(ctx context.Context, o NetworkPruneOptions) (NetworkPruneResult, error) {
	var r NetworkPruneResult
	err := c.prune(ctx, "/networks/prune", o.Filters, &r.Report, "Error retrieving network prune report: %v")
	return r, err
}

type VolumeCreateOptions struct {
	Name       string
	Driver     string
	DriverOpts map[string]string
	Labels     map[string]string
}

type VolumeCreateResult struct {
	Volume volume.Volume
}

func (c *Client) VolumeCreate(ctx context.Context, o VolumeCreateOptions) (VolumeCreateResult, error) {
	var r VolumeCreateResult
	err := c.callJSON(ctx, http.MethodPost, "/volumes/create", nil, volume.CreateRequest{
		Name: o.Name, Driver: o.Driver, DriverOpts: o.DriverOpts, Labels: o.Labels,
	}, &r.Volume)
	return r, err
}

type VolumeListOptions struct {
	Filters Filters
}

type VolumeListResult struct {
	Items    []volume.Volume
	Warnings []string
}

func (c *Client) VolumeList(ctx context.Context, o VolumeListOptions) (VolumeListResult, error) {
	q := url.Values{}
	o.Filters.setQuery(q)
	var l volume.ListResponse
	if err := c.callJSON(ctx, http.MethodGet, "/volumes", q, nil, &l); err != nil {
		return VolumeListResult{}, err
	}
	return VolumeListResult{Items: l.Volumes, Warnings: l.Warnings}, nil
}

type VolumeInspectOptions struct{}

type VolumeInspectResult struct {
	Volume volume.Volume
	Raw    json.RawMessage
}

func (c *Client) VolumeInspect(ctx context.Context, id string, _ VolumeInspectOptions) (VolumeInspectResult, error) {
	id, err := trimID("volume", id)
	if err != nil {
		return VolumeInspectResult{}, err
	}
	var r VolumeInspectResult
	r.Raw, err = c.getRaw(ctx, "/volumes/"+id, nil, &r.Volume)
	return r, err
}

type VolumeRemoveOptions struct {
	Force bool
}
type VolumeRemoveResult struct{}

func (c *Client) VolumeRemove(ctx context.Context, id string, o VolumeRemoveOptions) (VolumeRemoveResult, error) {
	id, err := trimID("volume", id)
	if err != nil {
		return VolumeRemoveResult{}, err
	}
	q := url.Values{}
	flag(q, "force", o.Force)
	return VolumeRemoveResult{}, c.call(ctx, http.MethodDelete, "/volumes/"+id, q, nil)
}

type VolumePruneOptions struct {
	All     bool
	Filters Filters
}

type VolumePruneResult struct {
	Report volume.PruneReport
}

func (c *Client) VolumePrune(ctx context.Context, o VolumePruneOptions) (VolumePruneResult, error) {
	f := o.Filters
	if o.All {
		if _, ok := f["all"]; ok {
			return VolumePruneResult{}, cerrdefs.ErrInvalidArgument.WithMessage(`conflicting options: cannot specify both "all" and "all" filter`)
		}
		f = f.Clone().Add("all", "true")
	}
	var r VolumePruneResult
	err := c.prune(ctx, "/volumes/prune", f, &r.Report, "error retrieving volume prune report: %v")
	return r, err
}
