// Package spec turns a container's settings into an OCI runtime spec with
// Docker's defaults: the capability set, masked and read-only /proc and /sys
// paths, default devices and device cgroup rules, the standard mounts, the
// default seccomp profile and rlimits bounded by the daemon's own. The spec is
// the whole contract between the daemon and berth-shim.
package spec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/errdefs"
)

// DefaultShmSize is Docker's /dev/shm size when none is asked for.
const DefaultShmSize = 64 << 20

// DefaultPathEnv is the PATH a container gets when its image sets none.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Namespace modes for NamespaceOptions fields.
const (
	NamespacePrivate = ""     // a new namespace (the default)
	NamespaceHost    = "host" // share the daemon's namespace
)

// Options are a container's settings, already resolved by the daemon (image
// config merged with the create request). Zero values mean Docker's default.
type Options struct {
	// Rootfs is the absolute path of the mounted root filesystem; /etc/passwd
	// and /etc/group are read from it to resolve User.
	Rootfs string
	// Args, Env and Cwd describe the process; Env entries are KEY=value and
	// override the defaults (PATH, HOSTNAME, TERM). Cwd defaults to "/".
	Args []string
	Env  []string
	Cwd  string
	// User is docker's -u: "", "name", "uid", "uid:gid", "name:group".
	User string
	// GroupAdd are extra groups (names or gids), docker's --group-add.
	GroupAdd []string
	Tty      bool
	Hostname string
	// Domainname is the container's NIS domain name (docker's --domainname).
	Domainname string
	// Devices are host devices to create in the container and allow in its
	// device cgroup (docker's --device).
	Devices []Device

	ReadonlyRootfs bool
	// Privileged grants every capability the daemon holds, all host devices,
	// a writable /sys and cgroup mount, and no masked paths or seccomp.
	Privileged bool
	// CapAdd and CapDrop take names with or without "CAP_", in any case, or "ALL".
	CapAdd  []string
	CapDrop []string

	// ShmSize is the size of /dev/shm in bytes; 0 means DefaultShmSize.
	ShmSize int64
	// Mounts are added after the defaults; one with the same destination as a
	// default replaces it, and a mount on /dev replaces every default under /dev.
	Mounts []specs.Mount

	Namespaces NamespaceOptions

	// CgroupsPath is passed to the runtime as linux.cgroupsPath.
	CgroupsPath string
	Resources   Resources
	Sysctls     map[string]string
	// Ulimits replace the defaults per name. By default the container gets
	// RLIMIT_NOFILE at the daemon's own hard limit, never above it: raising a
	// hard limit needs CAP_SYS_RESOURCE, which a daemon may not have.
	Ulimits         []Ulimit
	OOMScoreAdj     int
	NoNewPrivileges bool
	// Seccomp is "" for Docker's default profile, "unconfined" for none, or
	// the JSON text of a profile (docker's --security-opt seccomp=FILE).
	Seccomp string
	// ProcessOnly: only the spec's Process will be used (an exec joins a
	// running container): the seccomp profile and the host's devices,
	// which only a container's creation uses, are left out.
	ProcessOnly bool
}

// NamespaceOptions choose, per namespace, NamespacePrivate, NamespaceHost or a
// path to join (for example /proc/PID/ns/net of another container).
type NamespaceOptions struct {
	Network string
	PID     string
	IPC     string
	UTS     string
	// Cgroup is "", "host" or "private"; "" is Docker's default: private on a
	// cgroup v2 host, host on v1.
	Cgroup string
}

// Resources are the cgroup limits, with docker's flag semantics.
type Resources struct {
	Memory     int64 // bytes; 0 = unlimited
	MemorySwap int64 // memory+swap bytes; 0 = unset, -1 = unlimited
	// MemoryReservation is the soft limit (docker's --memory-reservation).
	MemoryReservation int64
	CPUShares         uint64
	CPUQuota          int64
	CPUPeriod         uint64
	NanoCPUs          int64 // docker's --cpus, in 1e-9 CPUs; sets quota and period
	CpusetCpus        string
	CpusetMems        string
	PidsLimit         int64 // 0 or negative = unlimited
}

// Ulimit is one docker --ulimit, Name without "RLIMIT_" ("nofile").
type Ulimit struct {
	Name string
	Soft uint64
	Hard uint64
}

// DefaultCapabilities is Docker's default capability set.
var DefaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// Generate builds the spec for opts. Errors from bad settings are
// errdefs.ErrInvalidArgument.
func Generate(opts Options) (*specs.Spec, error) {
	if opts.Rootfs == "" || !filepath.IsAbs(opts.Rootfs) {
		return nil, errdefs.InvalidParameter(fmt.Errorf("rootfs must be an absolute path, got %q", opts.Rootfs))
	}
	if len(opts.Args) == 0 {
		return nil, errdefs.InvalidParameter(errors.New("no command specified"))
	}
	s := defaultSpec()
	s.Root.Path = opts.Rootfs
	s.Root.Readonly = opts.ReadonlyRootfs

	p := s.Process
	p.Args = append([]string(nil), opts.Args...)
	p.Terminal = opts.Tty
	p.Cwd = opts.Cwd
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	p.NoNewPrivileges = opts.NoNewPrivileges
	oom := opts.OOMScoreAdj
	p.OOMScoreAdj = &oom

	u, home, err := ResolveUser(opts.Rootfs, opts.User, opts.GroupAdd)
	if err != nil {
		return nil, err
	}
	p.User = u
	p.Env = buildEnv(opts, home)

	caps, err := capabilities(opts)
	if err != nil {
		return nil, err
	}
	p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Permitted: caps, Effective: caps}

	rl, err := rlimits(opts.Ulimits)
	if err != nil {
		return nil, err
	}
	p.Rlimits = rl

	if err := setNamespaces(s, opts); err != nil {
		return nil, err
	}
	s.Mounts = mounts(s.Mounts, opts)

	s.Linux.CgroupsPath = opts.CgroupsPath
	if err := setResources(s.Linux.Resources, opts.Resources); err != nil {
		return nil, err
	}
	for k, v := range opts.Sysctls {
		s.Linux.Sysctl[k] = v
	}

	if err := addDevices(s, opts.Devices); err != nil {
		return nil, err
	}
	if opts.ProcessOnly {
		return s, nil
	}
	if opts.Privileged {
		s.Linux.MaskedPaths = nil
		s.Linux.ReadonlyPaths = nil
		devs, err := hostDevices()
		if err != nil {
			return nil, fmt.Errorf("listing host devices: %w", err)
		}
		s.Linux.Devices = devs
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else if err := setSeccomp(s, opts.Seccomp); err != nil {
		return nil, err
	}
	return s, nil
}

func defaultSpec() *specs.Spec {
	dev := func(major, minor int64, allow bool) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
	}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{},
		Root:    &specs.Root{},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
		},
		Linux: &specs.Linux{
			MaskedPaths:   maskedPaths(),
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			Sysctl:        map[string]string{},
			// The runtime creates null, zero, full, random, urandom, tty,
			// console and ptmx itself (the OCI default devices), so none are
			// listed here; the rules below let the container use them.
			Devices: []specs.LinuxDevice{},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{
					{Allow: false, Access: "rwm"},
					dev(1, 5, true),     // zero
					dev(1, 3, true),     // null
					dev(1, 9, true),     // urandom
					dev(1, 8, true),     // random
					dev(5, 0, true),     // tty
					dev(5, 1, true),     // console
					dev(10, 229, false), // fuse
				},
			},
		},
	}
}

// maskedPaths is Docker's list; the per-CPU thermal_throttle entries exist
// only on some hosts and the runtime fails on masking a missing sysfs path.
func maskedPaths() []string {
	paths := []string{
		"/proc/asound",
		"/proc/acpi",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	return append(paths, thermalThrottle()...)
}

// thermalThrottle lists the host's per-CPU thermal_throttle directories,
// once: a glob of /sys for every start and exec is a tenth of a millisecond.
var thermalThrottle = sync.OnceValue(func() []string {
	tt, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle")
	sort.Slice(tt, func(i, j int) bool { return cpuNum(tt[i]) < cpuNum(tt[j]) })
	return tt
})

func cpuNum(p string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(filepath.Dir(p)), "cpu"))
	return n
}

func buildEnv(opts Options, home string) []string {
	env := []string{"PATH=" + DefaultPathEnv}
	if opts.Hostname != "" {
		env = append(env, "HOSTNAME="+opts.Hostname)
	}
	if opts.Tty {
		env = append(env, "TERM=xterm")
	}
	index := map[string]int{}
	for i, kv := range env {
		index[envKey(kv)] = i
	}
	for _, kv := range opts.Env {
		k := envKey(kv)
		if i, ok := index[k]; ok {
			env[i] = kv
			continue
		}
		index[k] = len(env)
		env = append(env, kv)
	}
	if _, ok := index["HOME"]; !ok && home != "" {
		env = append(env, "HOME="+home)
	}
	return env
}

func envKey(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

func setNamespaces(s *specs.Spec, opts Options) error {
	ns := opts.Namespaces
	add := func(t specs.LinuxNamespaceType, mode string) error {
		switch mode {
		case NamespacePrivate, "private", "none":
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
		case NamespaceHost:
		default:
			if !filepath.IsAbs(mode) {
				return errdefs.InvalidParameter(fmt.Errorf("invalid %s namespace mode %q: want host or an absolute path", t, mode))
			}
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: mode})
		}
		return nil
	}
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	for _, n := range []struct {
		t    specs.LinuxNamespaceType
		mode string
	}{
		{specs.NetworkNamespace, ns.Network},
		{specs.UTSNamespace, ns.UTS},
		{specs.PIDNamespace, ns.PID},
		{specs.IPCNamespace, ns.IPC},
	} {
		if err := add(n.t, n.mode); err != nil {
			return err
		}
	}
	switch ns.Cgroup {
	case "private":
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	case "host":
	case "":
		if cgroups.IsCgroup2UnifiedMode() {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		}
	default:
		return errdefs.InvalidParameter(fmt.Errorf("invalid cgroup namespace mode %q", ns.Cgroup))
	}

	// The kernel refuses a hostname without a UTS namespace of our own.
	if ns.UTS == NamespacePrivate {
		s.Hostname = opts.Hostname
		s.Domainname = opts.Domainname
	}
	// Docker's default sysctls, only where the runtime makes the
	// container's network namespace (elsewhere they would change the host's,
	// or another container's); a namespace the network service makes gets
	// them there (NetnsSysctls).
	if ns.Network == NamespacePrivate || ns.Network == "none" || ns.Network == "private" {
		maps.Copy(s.Linux.Sysctl, NetnsSysctls())
	}
	return nil
}

// NetnsSysctls are Docker's default sysctls for a container with a network
// namespace of its own (unprivileged ping and low ports), those the host's
// kernel has.
func NetnsSysctls() map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{
		"net.ipv4.ping_group_range":           "0 2147483647",
		"net.ipv4.ip_unprivileged_port_start": "0",
	} {
		if sysctlExists(k) {
			out[k] = v
		}
	}
	return out
}

// sysctlExists answers from the kernel once per name: the sysctls asked
// about are the kernel's own, not a module's that could come later.
func sysctlExists(name string) bool {
	if v, ok := sysctlSeen.Load(name); ok {
		return v.(bool)
	}
	_, err := os.Stat(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	sysctlSeen.Store(name, err == nil)
	return err == nil
}

var sysctlSeen sync.Map // sysctl name -> bool

func mounts(defaults []specs.Mount, opts Options) []specs.Mount {
	user := map[string]bool{}
	for _, m := range opts.Mounts {
		user[filepath.Clean(m.Destination)] = true
	}
	shm := opts.ShmSize
	if shm <= 0 {
		shm = DefaultShmSize
	}
	var out []specs.Mount
	for _, m := range defaults {
		if user[m.Destination] || (user["/dev"] && strings.HasPrefix(m.Destination, "/dev/")) {
			continue
		}
		m.Options = append([]string(nil), m.Options...)
		switch m.Destination {
		case "/dev/shm":
			if opts.Namespaces.IPC == NamespaceHost {
				// Host IPC shares the host's POSIX shared memory too.
				m = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "nosuid", "noexec", "nodev"}}
			} else {
				m.Options = append(m.Options, "size="+strconv.FormatInt(shm, 10))
			}
		case "/sys", "/sys/fs/cgroup":
			if opts.Privileged {
				m.Options = withoutOption(m.Options, "ro")
			}
		}
		if opts.ReadonlyRootfs && !opts.Privileged {
			switch m.Destination {
			case "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev":
			default:
				if !hasOption(m.Options, "ro") {
					m.Options = append(m.Options, "ro")
				}
			}
		}
		out = append(out, m)
	}
	return append(out, opts.Mounts...)
}

func hasOption(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

func withoutOption(opts []string, o string) []string {
	out := opts[:0]
	for _, x := range opts {
		if x != o {
			out = append(out, x)
		}
	}
	return out
}

// LinuxResources returns the OCI form of res, for updating a running
// container's limits.
func LinuxResources(res Resources) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if err := setResources(r, res); err != nil {
		return nil, err
	}
	return r, nil
}

func setResources(r *specs.LinuxResources, res Resources) error {
	if res.Memory < 0 {
		return errdefs.InvalidParameter(errors.New("memory limit must not be negative"))
	}
	if res.Memory > 0 || res.MemorySwap != 0 || res.MemoryReservation > 0 {
		r.Memory = &specs.LinuxMemory{}
		if res.MemoryReservation > 0 {
			mr := res.MemoryReservation
			r.Memory.Reservation = &mr
		}
		if res.Memory > 0 {
			m := res.Memory
			r.Memory.Limit = &m
		}
		if res.MemorySwap != 0 {
			if res.MemorySwap > 0 && res.Memory > 0 && res.MemorySwap < res.Memory {
				return errdefs.InvalidParameter(errors.New("minimum memoryswap limit should be larger than memory limit, see usage"))
			}
			sw := res.MemorySwap
			r.Memory.Swap = &sw
		}
	}
	if res.NanoCPUs > 0 && (res.CPUQuota > 0 || res.CPUPeriod > 0) {
		return errdefs.InvalidParameter(errors.New("conflicting options: Nano CPUs and CPU Period/Quota cannot both be set"))
	}
	if res.CPUShares > 0 || res.CPUQuota != 0 || res.CPUPeriod > 0 || res.NanoCPUs > 0 || res.CpusetCpus != "" || res.CpusetMems != "" {
		c := &specs.LinuxCPU{Cpus: res.CpusetCpus, Mems: res.CpusetMems}
		if res.CPUShares > 0 {
			sh := res.CPUShares
			c.Shares = &sh
		}
		if res.NanoCPUs > 0 {
			period := uint64(100000)
			quota := res.NanoCPUs * int64(period) / 1e9
			c.Period, c.Quota = &period, &quota
		}
		if res.CPUQuota != 0 {
			q := res.CPUQuota
			c.Quota = &q
		}
		if res.CPUPeriod > 0 {
			p := res.CPUPeriod
			c.Period = &p
		}
		r.CPU = c
	}
	if res.PidsLimit > 0 {
		r.Pids = &specs.LinuxPids{Limit: &res.PidsLimit}
	}
	return nil
}

var rlimitNames = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

func rlimits(ulimits []Ulimit) ([]specs.POSIXRlimit, error) {
	var own unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &own); err != nil {
		return nil, fmt.Errorf("reading own RLIMIT_NOFILE: %w", err)
	}
	out := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: own.Max, Hard: own.Max}}
	canRaise := canRaiseLimits()
	for _, u := range ulimits {
		name := strings.ToLower(strings.TrimPrefix(strings.ToUpper(u.Name), "RLIMIT_"))
		res, ok := rlimitNames[name]
		if !ok {
			return nil, errdefs.InvalidParameter(fmt.Errorf("invalid ulimit type: %s", u.Name))
		}
		if u.Soft > u.Hard {
			return nil, errdefs.InvalidParameter(fmt.Errorf("ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard))
		}
		if !canRaise {
			var lim unix.Rlimit
			if err := unix.Getrlimit(res, &lim); err == nil && u.Hard > lim.Max {
				return nil, errdefs.InvalidParameter(fmt.Errorf("ulimit %s hard limit %d is above the daemon's own (%d) and the daemon lacks CAP_SYS_RESOURCE", name, u.Hard, lim.Max))
			}
		}
		rl := specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: u.Soft, Hard: u.Hard}
		replaced := false
		for i := range out {
			if out[i].Type == rl.Type {
				out[i], replaced = rl, true
			}
		}
		if !replaced {
			out = append(out, rl)
		}
	}
	return out, nil
}
