package container

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// mountOpt is --mount, docker's CSV syntax:
// type=bind,source=/a,target=/b,readonly,bind-propagation=rslave.
type mountOpt struct {
	values []mount.Mount
}

func (o *mountOpt) Type() string { return "mount" }

func (o *mountOpt) String() string {
	parts := make([]string, 0, len(o.values))
	for _, m := range o.values {
		parts = append(parts, fmt.Sprintf("%s %s %s", m.Type, m.Source, m.Target))
	}
	return strings.Join(parts, ", ")
}

func (o *mountOpt) Set(v string) error {
	m, err := parseMount(v)
	if err != nil {
		return err
	}
	o.values = append(o.values, m)
	return nil
}

func parseBoolValue(key, val string, hasVal bool) (bool, error) {
	if !hasVal {
		return true, nil
	}
	switch strings.ToLower(val) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("invalid value for %s: %s", key, val)
}

// parseMount reads one --mount value. Options that belong to another mount
// type are refused, so a typo'd type does not silently drop options.
func parseMount(value string) (mount.Mount, error) {
	r := csv.NewReader(strings.NewReader(value))
	fields, err := r.Read()
	if err != nil {
		return mount.Mount{}, err
	}
	m := mount.Mount{Type: mount.TypeVolume}
	// The type decides where options go, so find it first.
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		if strings.ToLower(strings.TrimSpace(k)) == "type" {
			m.Type = mount.Type(strings.ToLower(v))
		}
	}
	bindOpts := func() *mount.BindOptions {
		if m.BindOptions == nil {
			m.BindOptions = &mount.BindOptions{}
		}
		return m.BindOptions
	}
	volOpts := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{}
		}
		return m.VolumeOptions
	}
	tmpfsOpts := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !hasVal {
			switch key {
			case "readonly", "ro", "volume-nocopy", "bind-nonrecursive", "bind-create-mountpoint":
			default:
				return mount.Mount{}, fmt.Errorf("invalid field '%s' must be a key=value pair", f)
			}
		}
		switch key {
		case "type":
			// Unknown types are the daemon's to refuse, as with docker.
		case "source", "src":
			m.Source = val
			if m.Type == mount.TypeBind && strings.HasPrefix(val, ".") {
				// Relative bind sources are relative to the client's
				// directory, which the daemon cannot know.
				if abs, err := filepath.Abs(val); err == nil {
					m.Source = abs
				}
			}
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if m.ReadOnly, err = parseBoolValue(key, val, hasVal); err != nil {
				return mount.Mount{}, err
			}
		case "consistency":
			m.Consistency = mount.Consistency(strings.ToLower(val))
		case "bind-propagation":
			bindOpts().Propagation = mount.Propagation(strings.ToLower(val))
		case "bind-nonrecursive":
			// Deprecated by docker in favour of bind-recursive=disabled.
			if bindOpts().NonRecursive, err = parseBoolValue(key, val, hasVal); err != nil {
				return mount.Mount{}, err
			}
		case "bind-recursive":
			switch val {
			case "enabled":
			case "disabled":
				bindOpts().NonRecursive = true
			case "writable":
				bindOpts().ReadOnlyNonRecursive = true
			case "readonly":
				bindOpts().ReadOnlyForceRecursive = true
			default:
				return mount.Mount{}, fmt.Errorf(`invalid value for %s: %s (must be "enabled", "disabled", "writable", or "readonly")`, key, val)
			}
		case "bind-create-mountpoint":
			if bindOpts().CreateMountpoint, err = parseBoolValue(key, val, hasVal); err != nil {
				return mount.Mount{}, err
			}
		case "volume-nocopy":
			if volOpts().NoCopy, err = parseBoolValue(key, val, hasVal); err != nil {
				return mount.Mount{}, err
			}
		case "volume-label":
			lk, lv, _ := strings.Cut(val, "=")
			if volOpts().Labels == nil {
				volOpts().Labels = map[string]string{}
			}
			volOpts().Labels[lk] = lv
		case "volume-driver":
			if volOpts().DriverConfig == nil {
				volOpts().DriverConfig = &mount.Driver{}
			}
			volOpts().DriverConfig.Name = val
		case "volume-opt":
			if volOpts().DriverConfig == nil {
				volOpts().DriverConfig = &mount.Driver{}
			}
			dc := volOpts().DriverConfig
			if dc.Options == nil {
				dc.Options = map[string]string{}
			}
			ok, ov, _ := strings.Cut(val, "=")
			dc.Options[ok] = ov
		case "volume-subpath":
			volOpts().Subpath = val
		case "image-subpath":
			if m.ImageOptions == nil {
				m.ImageOptions = &mount.ImageOptions{}
			}
			m.ImageOptions.Subpath = val
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().Mode = os.FileMode(n)
		default:
			return mount.Mount{}, fmt.Errorf("unexpected key '%s' in '%s'", key, f)
		}
	}
	if b := m.BindOptions; b != nil && b.ReadOnlyForceRecursive && b.Propagation != mount.PropagationRPrivate {
		return mount.Mount{}, errors.New("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
	}
	if m.Target == "" {
		return mount.Mount{}, errors.New("target is required")
	}
	if m.Type != mount.TypeBind && m.BindOptions != nil {
		return mount.Mount{}, fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if m.Type != mount.TypeVolume && m.VolumeOptions != nil {
		return mount.Mount{}, fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	if m.Type != mount.TypeTmpfs && m.TmpfsOptions != nil {
		return mount.Mount{}, fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	if m.Type != mount.TypeImage && m.ImageOptions != nil {
		return mount.Mount{}, fmt.Errorf("cannot mix 'image-*' options with mount type '%s'", m.Type)
	}
	return m, nil
}
