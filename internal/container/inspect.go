package container

import (
	"context"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/storage"
)

// Inspect returns the container's details in the API's shape.
func (s *Service) Inspect(ctx context.Context, ref string, size bool) (*container.InspectResponse, error) {
	c, err := s.store.get(ref)
	if err != nil {
		return nil, err
	}
	var sizeRw *int64
	if size {
		sz := s.sizeRw(ctx, c)
		sizeRw = &sz
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := s.containerDir(c.ID)
	resp := &container.InspectResponse{
		ID:              c.ID,
		Created:         formatTime(c.Created),
		Path:            c.Path,
		Args:            append([]string{}, c.Args...),
		State:           c.State.inspect(),
		Image:           c.ImageID,
		ResolvConfPath:  dir + "/resolv.conf",
		HostnamePath:    dir + "/hostname",
		HostsPath:       dir + "/hosts",
		LogPath:         s.logPath(c.ID),
		Name:            "/" + c.Name,
		RestartCount:    c.RestartCount,
		Driver:          s.cfg.Driver,
		Platform:        "linux",
		ExecIDs:         s.execIDs(c.ID),
		HostConfig:      c.HostConfig,
		GraphDriver:     &storage.DriverData{Name: s.cfg.Driver, Data: map[string]string{}},
		SizeRw:          sizeRw,
		Mounts:          s.mountPoints(c),
		Config:          c.Config,
		NetworkSettings: s.networkSettings(c),
	}
	if c.State.Running() {
		resp.GraphDriver.Data["MergedDir"] = s.rootfsPath(c.ID)
	}
	return resp, nil
}
