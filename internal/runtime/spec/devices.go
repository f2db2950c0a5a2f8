package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-engine/berth/internal/errdefs"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostDevices lists the host's device nodes for a privileged container. The
// pseudo-filesystems under /dev are skipped: the container gets its own.
func hostDevices() ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir("/dev", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				return filepath.SkipDir
			}
			return nil
		}
		if path == "/dev/console" || path == "/dev/ptmx" || d.Type()&fs.ModeDevice == 0 {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return nil
		}
		typ := "c"
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			typ = "b"
		} else if st.Mode&unix.S_IFMT != unix.S_IFCHR {
			return nil
		}
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		out = append(out, specs.LinuxDevice{
			Path:     path,
			Type:     typ,
			Major:    int64(unix.Major(st.Rdev)),
			Minor:    int64(unix.Minor(st.Rdev)),
			FileMode: &mode,
			UID:      &uid,
			GID:      &gid,
		})
		return nil
	})
	return out, err
}

// Device is one docker --device: a host device node, where it appears in
// the container, and the cgroup permissions ("rwm" by default).
type Device struct {
	HostPath, ContainerPath, Permissions string
}

func validPerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for _, c := range p {
		if c != 'r' && c != 'w' && c != 'm' {
			return false
		}
	}
	return true
}

// addDevices creates each requested host device in the container and
// allows it in the device cgroup.
func addDevices(s *specs.Spec, devs []Device) error {
	for _, d := range devs {
		if !validPerms(d.Permissions) {
			return errdefs.InvalidParameter(fmt.Errorf("invalid device mode: %s", d.Permissions))
		}
		if !filepath.IsAbs(d.HostPath) || !filepath.IsAbs(d.ContainerPath) {
			return errdefs.InvalidParameter(fmt.Errorf("invalid device specification: %s:%s: paths must be absolute", d.HostPath, d.ContainerPath))
		}
		var st unix.Stat_t
		if err := unix.Stat(d.HostPath, &st); err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("error gathering device information while adding custom device %q: %w", d.HostPath, err))
		}
		var typ string
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = "c"
		case unix.S_IFBLK:
			typ = "b"
		default:
			return errdefs.InvalidParameter(fmt.Errorf("error gathering device information while adding custom device %q: not a device node", d.HostPath))
		}
		major, minor := int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{
			Path: d.ContainerPath, Type: typ, Major: major, Minor: minor, FileMode: &mode, UID: &uid, GID: &gid,
		})
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
			Allow: true, Type: typ, Major: &major, Minor: &minor, Access: d.Permissions,
		})
	}
	return nil
}
