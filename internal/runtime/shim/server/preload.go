package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/exeseal"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// lentCaps are what berth-entry needs to load a filter without
// no_new_privs (CAP_SYS_ADMIN) and to give them back (CAP_SETPCAP lowers the
// bounding set).
var lentCaps = []struct {
	name string
	num  int
}{{"CAP_SYS_ADMIN", unix.CAP_SYS_ADMIN}, {"CAP_SETPCAP", unix.CAP_SETPCAP}}

// preload holds what every process of the container needs to start through
// berth-entry.
type preload struct {
	flags uint64   // seccomp(2) flags
	prog  *os.File // the compiled program, in a sealed memfd
	entry *os.File // berth-entry, on a read-only mount or a sealed copy
	// tree is the detached mount entry is on, kept open as long as entry:
	// closing it unmounts the tree, and an unmount waits for an expedited
	// RCU grace period (a millisecond and more on a busy VM), which the
	// shim then pays when it exits rather than while a container starts.
	tree *os.File
}

// filterFlags are the seccomp(2) flags berth-entry may load a filter with,
// by their names in the spec.
var filterFlags = map[specs.LinuxSeccompFlag]uint64{
	specs.LinuxSeccompFlagLog:       unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow: unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
}

// preloadable says whether libcontainer would load cfg as a plain filter:
// flags among filterFlags, no listener, no notify action. Anything else
// stays with libcontainer.
func preloadable(cfg *configs.Seccomp) bool {
	if cfg == nil || cfg.ListenerPath != "" || cfg.DefaultAction == configs.Notify {
		return false
	}
	for _, f := range cfg.Flags {
		if _, ok := filterFlags[f]; !ok {
			return false
		}
	}
	for _, c := range cfg.Syscalls {
		if c.Action == configs.Notify {
			return false
		}
	}
	return true
}

// newPreload compiles cfg (or finds it compiled in cacheDir) and opens
// entryPath. The dump of a compiled filter runs with reaping held off: its
// ptrace stops and exit are the shim's to collect.
func newPreload(cfg *configs.Seccomp, cacheDir, entryPath, compiler string, r *reaper) (*preload, error) {
	prog, err := cachedProgram(cfg, cacheDir, compilerPath(compiler), r)
	if err != nil {
		return nil, err
	}
	pf, err := sealedMemfd("berth-seccomp", prog)
	if err != nil {
		return nil, err
	}
	entry, tree, err := openReadOnly(entryPath)
	if err != nil {
		pf.Close()
		return nil, err
	}
	var flags uint64
	for _, f := range cfg.Flags {
		flags |= filterFlags[f]
	}
	return &preload{flags: flags, prog: pf, entry: entry, tree: tree}, nil
}

// compilerPath is the binary that compiles profiles: compiler, or this
// shim's own (a shim started by the daemon has its path as argv[0]).
func compilerPath(compiler string) string {
	if compiler != "" {
		return compiler
	}
	if filepath.IsAbs(os.Args[0]) {
		return os.Args[0]
	}
	return "/proc/self/exe"
}

// cacheKey names a compiled profile: the profile, the binary that compiles
// it (its libseccomp, libcontainer and Go are linked in: another build,
// another key), and the compaction.
func cacheKey(cfg *configs.Seccomp, compiler string) (string, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(compiler)
	if err != nil {
		return "", fmt.Errorf("seccomp compiler: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %d %d\n%s\n", compiler, fi.Size(), fi.ModTime().UnixNano(), compactVersion)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func cachedProgram(cfg *configs.Seccomp, dir, compiler string, r *reaper) ([]byte, error) {
	key, err := cacheKey(cfg, compiler)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, key+".bpf")
	if b, err := os.ReadFile(path); err == nil && validProgram(b) {
		return b, nil
	}
	var prog []byte
	r.exclusive(func() { prog, err = dumpProgram(cfg, compiler) })
	if err != nil {
		return nil, err
	}
	prog = compactProgram(prog)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".bpf-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(prog); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	return prog, os.Rename(tmp.Name(), path)
}

func validProgram(b []byte) bool {
	return len(b) > 0 && len(b)%8 == 0 && len(b) <= 4096*8
}

// DumpCommand is the berth-shim argument that runs DumpChild.
const DumpCommand = "seccomp-dump"

// dumpProgram has libcontainer itself compile and load cfg, in a child (the
// compiler binary: a berth-shim with libseccomp), and reads the loaded
// program back with ptrace: the program is exactly the one libcontainer's
// init would load, -ENOSYS patch included.
func dumpProgram(cfg *configs.Seccomp, compiler string) (prog []byte, err error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer inR.Close()
	defer inW.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer outR.Close()
	defer outW.Close()
	// ptrace requests must come from the thread that attached.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	proc, err := os.StartProcess(compiler, []string{compiler, DumpCommand}, &os.ProcAttr{
		Files: []*os.File{inR, outW, os.Stderr},
	})
	if err != nil {
		return nil, err
	}
	inR.Close()
	outW.Close()
	defer func() {
		_ = proc.Kill()
		_, _ = proc.Wait()
	}()
	if _, err := inW.Write(b); err != nil {
		return nil, fmt.Errorf("compiling seccomp profile: %w", err)
	}
	line, err := io.ReadAll(io.LimitReader(outR, 4096))
	if err != nil {
		return nil, err
	}
	tid, err := strconv.Atoi(string(line))
	if err != nil {
		return nil, fmt.Errorf("compiling seccomp profile: %s", line)
	}
	if err := unix.PtraceSeize(tid); err != nil {
		return nil, fmt.Errorf("ptrace seize: %w", err)
	}
	if err := unix.PtraceInterrupt(tid); err != nil {
		return nil, fmt.Errorf("ptrace interrupt: %w", err)
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(tid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("waiting for the seccomp dump: %w", err)
		}
		break
	}
	if !ws.Stopped() {
		return nil, fmt.Errorf("seccomp dump child: %v", ws)
	}
	n, err := ptraceSeccompFilter(tid, nil)
	if err != nil {
		return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER: %w", err)
	}
	filter := make([]unix.SockFilter, n)
	if _, err := ptraceSeccompFilter(tid, filter); err != nil {
		return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER: %w", err)
	}
	prog = make([]byte, 0, 8*n)
	for _, f := range filter {
		prog = append(prog, byte(f.Code), byte(f.Code>>8), f.Jt, f.Jf,
			byte(f.K), byte(f.K>>8), byte(f.K>>16), byte(f.K>>24))
	}
	if !validProgram(prog) {
		return nil, fmt.Errorf("seccomp dump: %d instructions", n)
	}
	return prog, nil
}

// DumpChild is berth-shim's seccomp-dump: it reads a libcontainer seccomp
// config on stdin, loads it as libcontainer's init would, writes its thread
// id on stdout and waits to be read and killed.
func DumpChild() {
	runtime.LockOSThread()
	var cfg configs.Seccomp
	if err := json.NewDecoder(os.Stdin).Decode(&cfg); err != nil {
		fmt.Print(err.Error())
		os.Exit(1)
	}
	if _, err := seccomp.InitSeccomp(&cfg); err != nil {
		fmt.Print(err.Error())
		os.Exit(1)
	}
	fmt.Print(unix.Gettid())
	os.Stdout.Close()
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// sealedMemfd holds b in a memfd no one can change.
func sealedMemfd(name string, b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealing memfd: %w", err)
	}
	return f, nil
}

// openReadOnly opens path so that nobody holding the descriptor (a process
// in the container, through /proc/PID/exe or /proc/PID/fd) can write to the
// host's file: through a detached read-only bind mount of its directory
// (returned too: see preload.tree), or, where that is not possible, as a
// sealed copy.
func openReadOnly(path string) (file, tree *os.File, err error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, filepath.Dir(path), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err == nil {
		tree = os.NewFile(uintptr(fd), "detached:"+filepath.Dir(path))
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		if err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err == nil {
			f, err := unix.Openat(fd, filepath.Base(path), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
			if err != nil {
				tree.Close()
				return nil, nil, fmt.Errorf("opening %s: %w", path, err)
			}
			return os.NewFile(uintptr(f), path), tree, nil
		}
		tree.Close()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	file, err = exeseal.CloneBinary(f, st.Size(), filepath.Base(path), os.TempDir())
	return file, nil, err
}

// entryFDs are where berth-entry finds its files in the container: libcontainer
// passes ExtraFiles from fd 3 on.
const (
	entryProgFD   = 3
	entryStatusFD = 4
	entryExeFD    = 5
)

// wrap makes p start through berth-entry: its command goes behind
// berth-entry's arguments, the capabilities berth-entry needs are lent in
// every set that lacks them (and recorded, so it returns exactly those), and
// a status pipe tells the shim whether the command was executed.
func (pl *preload) wrap(p *process, containerCaps *configs.Capabilities) error {
	if pl == nil {
		return nil
	}
	lp := p.lp
	if len(lp.ExtraFiles) > 0 {
		return errors.New("a process with extra files cannot start through berth-entry")
	}
	// An AppArmor profile or SELinux label applies at libcontainer's
	// execve, which would be berth-entry's, not the command's. The
	// container's filter is berth-entry's to load, so such a process fails
	// rather than run without it (create keeps such containers on
	// libcontainer's path).
	if lp.AppArmorProfile != "" || lp.Label != "" {
		return errors.New("a process with an AppArmor profile or SELinux label cannot start through berth-entry")
	}
	caps := lp.Capabilities
	if caps == nil {
		caps = containerCaps
	}
	var c configs.Capabilities
	if caps != nil {
		c = configs.Capabilities{
			Bounding: slices.Clone(caps.Bounding), Effective: slices.Clone(caps.Effective),
			Permitted: slices.Clone(caps.Permitted), Inheritable: slices.Clone(caps.Inheritable),
			Ambient: slices.Clone(caps.Ambient),
		}
	}
	var masks [5]uint64
	if lp.NoNewPrivileges == nil || !*lp.NoNewPrivileges {
		sets := []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient}
		if lp.UID == 0 {
			// Root keeps its bounding set across execve; ambient and
			// inheritable are not needed.
			sets = sets[:3]
		}
		for i, set := range sets {
			for _, lc := range lentCaps {
				if !slices.Contains(*set, lc.name) {
					*set = append(*set, lc.name)
					masks[i] |= 1 << lc.num
				}
			}
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	args := []string{"/proc/self/fd/" + strconv.Itoa(entryExeFD),
		strconv.Itoa(entryProgFD), strconv.Itoa(entryStatusFD), strconv.Itoa(entryExeFD),
		strconv.FormatUint(pl.flags, 16)}
	for _, m := range masks {
		args = append(args, strconv.FormatUint(m, 16))
	}
	lp.Args = append(append(args, "--"), lp.Args...)
	lp.Capabilities = &c
	lp.ExtraFiles = []*os.File{pl.prog, w, pl.entry}
	p.childEnds = append(p.childEnds, w)
	p.entryStatus = r
	return nil
}

// waitEntry returns once berth-entry has executed the command (its status
// pipe closes with nothing written) or failed to (the error it wrote).
func (p *process) waitEntry() error {
	if p.entryStatus == nil {
		return nil
	}
	defer func() {
		p.entryStatus.Close()
		p.entryStatus = nil
	}()
	b, err := io.ReadAll(io.LimitReader(p.entryStatus, 64<<10))
	if err != nil {
		return err
	}
	if len(b) > 0 {
		return errors.New(string(b))
	}
	return nil
}

// ptraceSeccompFilter is PTRACE_SECCOMP_GET_FILTER for the newest filter of
// the stopped tracee tid: the number of instructions, and with buf, the
// instructions themselves.
func ptraceSeccompFilter(tid int, buf []unix.SockFilter) (int, error) {
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	n, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid), 0, uintptr(p), 0, 0)
	runtime.KeepAlive(buf)
	if errno != 0 {
		return 0, errno
	}
	if len(buf) > 0 && int(n) != len(buf) {
		return 0, fmt.Errorf("filter changed size: %d, then %d instructions", len(buf), n)
	}
	return int(n), nil
}

// leanDefaultFlags gives a shim without libseccomp (berth-shim-lean) the
// default that specconv gives a profile with no flags where libseccomp is
// linked: SPEC_ALLOW, when the kernel knows it (without libseccomp,
// specconv cannot ask and leaves none). Profiles with flags of their own
// run in berth-shim (the daemon sends them there).
func leanDefaultFlags(cfg *configs.Seccomp, l *specs.Linux, libseccomp bool) {
	if libseccomp || cfg == nil || l == nil || l.Seccomp == nil || l.Seccomp.Flags != nil || len(cfg.Flags) > 0 {
		return
	}
	if kernelKnowsFilterFlag(unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW) {
		cfg.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}
	}
}

// kernelKnowsFilterFlag asks the kernel whether seccomp(2) takes flag, as
// libseccomp does: with no program, a known flag fails on the program's
// address (EFAULT), an unknown one as invalid.
func kernelKnowsFilterFlag(flag uint64) bool {
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flag), 0)
	return errno == unix.EFAULT
}
