package container

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/errdefs"
)

// The container service's side of volumes and mounts: prepareMounts runs at
// create (validating, creating named volumes), userMounts at every start,
// releaseMounts at remove, mountPoints for inspect and ps.

// prepareMounts validates the container's mounts when it is created.
func (s *Service) prepareMounts(ctx context.Context, c *Container) error { return nil }

// releaseMounts drops the container's references to volumes at removal,
// removing its anonymous volumes when removeAnonymous.
func (s *Service) releaseMounts(ctx context.Context, c *Container, removeAnonymous bool) error {
	return nil
}

// mountPoints is inspect's Mounts.
func (s *Service) mountPoints(c *Container) []container.MountPoint {
	return []container.MountPoint{}
}

// userMounts turns -v host:ctr binds and --tmpfs into OCI mounts. Named
// volumes are the volume service's (not in this build).
func (s *Service) userMounts(c *Container) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, b := range c.HostConfig.Binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, errdefs.InvalidParameterf("invalid volume specification: '%s'", b)
		}
		src, dst := parts[0], parts[1]
		if !filepath.IsAbs(src) {
			return nil, errdefs.NotImplementedf("named volumes are not supported yet: '%s'", b)
		}
		if !filepath.IsAbs(dst) {
			return nil, errdefs.InvalidParameterf("invalid volume specification: '%s': invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", b, dst)
		}
		if err := os.MkdirAll(src, 0o755); err != nil {
			return nil, err
		}
		opts := []string{"rbind", "rprivate"}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					opts = append(opts, "ro")
				case "rw", "z", "Z", "":
				case "private", "rprivate", "slave", "rslave", "shared", "rshared":
					opts[1] = o
				default:
					return nil, errdefs.InvalidParameterf("invalid mode: %s", o)
				}
			}
		}
		out = append(out, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts})
	}
	for dst, o := range c.HostConfig.Tmpfs {
		opts := []string{"nosuid", "nodev", "noexec"}
		if o != "" {
			opts = strings.Split(o, ",")
		}
		out = append(out, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	return out, nil
}
