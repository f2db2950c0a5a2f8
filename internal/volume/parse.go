package volume

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/moby/moby/api/types/mount"

	"github.com/berth-engine/berth/internal/errdefs"
)

// MountPoint is one of a container's mounts as resolved at create: what
// inspect's Mounts shows and what start turns into an OCI mount. It is
// persisted in the container's record.
type MountPoint struct {
	Type        mount.Type
	Name        string `json:",omitempty"` // volume name
	Source      string `json:",omitempty"` // host path of a bind
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation mount.Propagation `json:",omitempty"`
	// CopyData asks for the image's content at Destination to be copied
	// into a new (empty) volume at the container's first start.
	CopyData bool `json:",omitempty"`
	// Spec is the mount as the user gave it (-v is converted).
	Spec mount.Mount
	// Tmpfs holds a tmpfs mount's data options (size=, mode=…).
	Tmpfs string `json:",omitempty"`
}

// Anonymous reports whether the volume was made for this container alone
// (no source given): `rm -v` and `run --rm` remove those, never named ones.
func (m *MountPoint) Anonymous() bool {
	return m.Type == mount.TypeVolume && m.Spec.Source == ""
}

func errInvalidSpec(raw string) error {
	return errdefs.InvalidParameterf("invalid volume specification: '%s'", raw)
}

func errInvalidMode(mode string) error {
	return errdefs.InvalidParameterf("invalid mode: %s", mode)
}

// mountConfigError is dockerd's wording for a bad --mount.
func mountConfigError(m *mount.Mount, err error) error {
	return errdefs.InvalidParameter(fmt.Errorf("invalid mount config for type %q: %w", m.Type, err))
}

var (
	rwModes      = map[string]bool{"rw": true, "ro": true}
	labelModes   = map[string]bool{"z": true, "Z": true}
	propagations = map[string]bool{"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}
	copyModes    = map[string]bool{"nocopy": true}
	consistency  = map[string]bool{"consistent": true, "cached": true, "delegated": true}
)

// validMode checks a -v mode list: known words, at most one of each kind.
func validMode(mode string) bool {
	if mode == "" {
		return true
	}
	var rw, label, prop, cp, cons int
	for _, o := range strings.Split(mode, ",") {
		switch {
		case rwModes[o]:
			rw++
		case labelModes[o]:
			label++
		case propagations[o]:
			prop++
		case copyModes[o]:
			cp++
		case consistency[o]:
			cons++
		default:
			return false
		}
	}
	return rw <= 1 && label <= 1 && prop <= 1 && cp <= 1 && cons <= 1
}

func modeHas(mode string, set map[string]bool) string {
	for _, o := range strings.Split(mode, ",") {
		if set[o] {
			return o
		}
	}
	return ""
}

// ParseBind parses one -v/--volume value (HostConfig.Binds):
// [source:]destination[:mode]. An absolute source is a bind mount, anything
// else a volume name. A missing bind source is created at start, as dockerd
// does for -v (but not for --mount).
func ParseBind(raw string) (*MountPoint, error) {
	if strings.Count(raw, ":") > 2 {
		return nil, errInvalidSpec(raw)
	}
	arr := strings.SplitN(raw, ":", 3)
	if arr[0] == "" {
		return nil, errInvalidSpec(raw)
	}
	var spec mount.Mount
	mode := ""
	switch len(arr) {
	case 1:
		spec.Target = arr[0]
	case 2:
		if validMode(arr[1]) {
			// "/foo:rw" names no source: a mode needs one.
			return nil, errInvalidSpec(raw)
		}
		spec.Source, spec.Target = arr[0], arr[1]
	case 3:
		spec.Source, spec.Target, mode = arr[0], arr[1], arr[2]
	}
	if !validMode(mode) {
		return nil, errInvalidMode(mode)
	}
	if path.IsAbs(spec.Source) {
		spec.Type = mount.TypeBind
	} else {
		spec.Type = mount.TypeVolume
	}
	spec.ReadOnly = modeHas(mode, rwModes) == "ro"
	if modeHas(mode, copyModes) != "" {
		spec.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
	}
	if p := modeHas(mode, propagations); p != "" {
		spec.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(p)}
	}
	mp, err := parseSpec(spec, false)
	if err != nil {
		return nil, errdefs.InvalidParameter(fmt.Errorf("invalid volume specification: '%s': %w", raw, err))
	}
	mp.Mode = mode
	if spec.Type == mount.TypeBind {
		// -v creates a missing source; --mount refuses it.
		if mp.Spec.BindOptions == nil {
			mp.Spec.BindOptions = &mount.BindOptions{}
		}
		mp.Spec.BindOptions.CreateMountpoint = true
	}
	return mp, nil
}

// ParseMount validates and resolves one --mount (HostConfig.Mounts).
func ParseMount(m mount.Mount) (*MountPoint, error) {
	return parseSpec(m, true)
}

func parseSpec(m mount.Mount, bindMustExist bool) (*MountPoint, error) {
	if err := validateSpec(&m, bindMustExist); err != nil {
		return nil, err
	}
	mp := &MountPoint{
		Type:        m.Type,
		RW:          !m.ReadOnly,
		Destination: path.Clean(m.Target),
		Spec:        m,
	}
	switch m.Type {
	case mount.TypeVolume:
		mp.Name = m.Source
		mp.Driver = DefaultDriver
		mp.CopyData = true
		if vo := m.VolumeOptions; vo != nil {
			if vo.DriverConfig != nil && vo.DriverConfig.Name != "" {
				mp.Driver = vo.DriverConfig.Name
			}
			mp.CopyData = !vo.NoCopy
		}
	case mount.TypeBind:
		mp.Source = path.Clean(m.Source)
		mp.Propagation = mount.PropagationRPrivate
		if m.BindOptions != nil && m.BindOptions.Propagation != "" {
			mp.Propagation = m.BindOptions.Propagation
		}
	case mount.TypeTmpfs:
		data, err := TmpfsOptions(m.TmpfsOptions, m.ReadOnly)
		if err != nil {
			return nil, mountConfigError(&m, err)
		}
		mp.Tmpfs = data
	}
	return mp, nil
}

func validateAbsolute(p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("invalid mount path: '%s' mount path must be absolute", p)
	}
	return nil
}

func validateSpec(m *mount.Mount, bindMustExist bool) error {
	if m.Target == "" {
		return mountConfigError(m, errors.New("field Target must not be empty"))
	}
	if m.Target == "/" {
		return mountConfigError(m, errors.New("invalid specification: destination can't be '/'"))
	}
	if err := validateAbsolute(m.Target); err != nil {
		return mountConfigError(m, err)
	}
	switch m.Type {
	case mount.TypeBind:
		if m.Source == "" {
			return mountConfigError(m, errors.New("field Source must not be empty"))
		}
		if b := m.BindOptions; b != nil && b.Propagation != "" && !propagations[string(b.Propagation)] {
			return mountConfigError(m, fmt.Errorf("invalid propagation mode: %s", b.Propagation))
		}
		if m.VolumeOptions != nil {
			return mountConfigError(m, errors.New("field VolumeOptions must not be specified"))
		}
		if m.TmpfsOptions != nil {
			return mountConfigError(m, errors.New("field TmpfsOptions must not be specified"))
		}
		if err := validateAbsolute(m.Source); err != nil {
			return mountConfigError(m, err)
		}
		if bindMustExist && (m.BindOptions == nil || !m.BindOptions.CreateMountpoint) {
			if _, err := os.Stat(m.Source); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return mountConfigError(m, fmt.Errorf("bind source path does not exist: %s", m.Source))
				}
				return mountConfigError(m, err)
			}
		}
	case mount.TypeVolume:
		if m.BindOptions != nil {
			return mountConfigError(m, errors.New("field BindOptions must not be specified"))
		}
		if m.TmpfsOptions != nil {
			return mountConfigError(m, errors.New("field TmpfsOptions must not be specified"))
		}
		if m.Source == "" && m.ReadOnly {
			return mountConfigError(m, errors.New("must not set ReadOnly mode when using anonymous volumes"))
		}
		if vo := m.VolumeOptions; vo != nil && vo.Subpath != "" {
			if path.IsAbs(vo.Subpath) || strings.HasPrefix(path.Clean(vo.Subpath), "..") {
				return mountConfigError(m, errors.New("subpath must be a relative path within the volume"))
			}
		}
	case mount.TypeTmpfs:
		if m.BindOptions != nil {
			return mountConfigError(m, errors.New("field BindOptions must not be specified"))
		}
		if m.VolumeOptions != nil {
			return mountConfigError(m, errors.New("field VolumeOptions must not be specified"))
		}
		if m.Source != "" {
			return mountConfigError(m, errors.New("field Source must not be specified"))
		}
		if _, err := TmpfsOptions(m.TmpfsOptions, m.ReadOnly); err != nil {
			return mountConfigError(m, err)
		}
	default:
		return mountConfigError(m, errors.New("mount type unknown"))
	}
	return nil
}

// tmpfsFlags are the flag options --mount type=tmpfs,tmpfs-option= accepts.
var tmpfsFlags = map[string]bool{"exec": true, "noexec": true}

// TmpfsOptions turns --mount's tmpfs settings into mount data.
func TmpfsOptions(o *mount.TmpfsOptions, readOnly bool) (string, error) {
	var opts []string
	if readOnly {
		opts = append(opts, "ro")
	}
	if o == nil {
		return strings.Join(opts, ","), nil
	}
	if o.SizeBytes < 0 {
		return "", fmt.Errorf("invalid tmpfs size: %d", o.SizeBytes)
	}
	if o.Mode != 0 {
		opts = append(opts, fmt.Sprintf("mode=%o", o.Mode))
	}
	if size := o.SizeBytes; size != 0 {
		suffix := ""
		for _, u := range []struct {
			s string
			d int64
		}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
			if size%u.d == 0 {
				size, suffix = size/u.d, u.s
				break
			}
		}
		opts = append(opts, fmt.Sprintf("size=%d%s", size, suffix))
	}
	for _, kv := range o.Options {
		switch len(kv) {
		case 1:
			if !tmpfsFlags[kv[0]] {
				return "", fmt.Errorf("unsupported tmpfs option: %s", kv[0])
			}
			opts = append(opts, kv[0])
		case 2:
			return "", fmt.Errorf("unsupported tmpfs option: %s=%s", kv[0], kv[1])
		default:
			return "", fmt.Errorf("invalid tmpfs option %q", kv)
		}
	}
	return strings.Join(opts, ","), nil
}

// ParseVolumesFrom parses --volumes-from's container[:ro|rw].
func ParseVolumesFrom(spec string) (id, mode string, err error) {
	if spec == "" {
		return "", "", errdefs.InvalidParameterf("volumes-from specification cannot be an empty string")
	}
	id, mode, _ = strings.Cut(spec, ":")
	if mode == "" {
		return id, "rw", nil
	}
	if !validMode(mode) {
		return "", "", errInvalidMode(mode)
	}
	if modeHas(mode, propagations) != "" {
		return "", "", errdefs.InvalidParameterf("propagation mode not allowed in volumes-from: %s", mode)
	}
	return id, mode, nil
}

// ReadWrite reports whether a mode allows writes (ro is the only "no").
func ReadWrite(mode string) bool { return modeHas(mode, rwModes) != "ro" }

// TmpfsMountOptions merges docker's defaults for a tmpfs (noexec, nosuid,
// nodev) with the user's options, a later option overriding an earlier one
// of the same kind (exec after noexec), as mount(8) reads them.
func TmpfsMountOptions(data string) []string {
	opts := []string{"noexec", "nosuid", "nodev"}
	if data != "" {
		opts = append(opts, strings.Split(data, ",")...)
	}
	kind := func(o string) string {
		if k, _, ok := strings.Cut(o, "="); ok {
			return k + "="
		}
		return strings.TrimPrefix(o, "no")
	}
	seen := map[string]int{}
	var out []string
	for _, o := range opts {
		if o == "" {
			continue
		}
		k := kind(o)
		if o == "ro" || o == "rw" {
			k = "rw"
		}
		if i, ok := seen[k]; ok {
			out[i] = o
			continue
		}
		seen[k] = len(out)
		out = append(out, o)
	}
	return out
}
