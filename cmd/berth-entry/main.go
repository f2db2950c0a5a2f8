// Command berth-entry is what berth-shim has libcontainer execute in a
// container whose seccomp filter was compiled ahead of time: it loads that
// filter, gives up the capabilities the shim lent it for the load, and
// executes the container's command. Compiling Docker's default profile with
// libseccomp costs tens of milliseconds on every start and exec; loading a
// compiled program costs microseconds.
//
//	berth-entry BPF_FD STATUS_FD EXE_FD FLAGS BND EFF PRM INH AMB -- COMMAND [ARG...]
//
// BPF_FD holds the program (struct sock_filter array, as the kernel takes
// it); STATUS_FD is a pipe the shim reads: closed by a successful execve,
// or given the error and closed by our exit; EXE_FD is this binary; FLAGS
// (hex) are seccomp(2)'s filter flags (LOG and SPEC_ALLOW only). BND..AMB
// are hex masks of the capabilities the shim added to each set so that this
// process can load the filter without no_new_privs; each is removed exactly,
// leaving the sets the container's spec asked for. The command is looked up
// in PATH as libcontainer does (before the filter, as libcontainer does with
// no_new_privs). Any failure before the execve exits without running the
// command. Built static (CGO_ENABLED=0) so it runs in any image.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	// Filters, capabilities and no_new_privs belong to a thread: the one
	// that sets them must be the one that executes the command.
	runtime.LockOSThread()
}

type options struct {
	bpfFD, statusFD, exeFD int
	flags                  uint64
	// Capabilities lent by the shim, per set.
	bnd, eff, prm, inh, amb uint64
	args                    []string
}

func parse(argv []string) (options, error) {
	var o options
	if len(argv) < 11 || argv[9] != "--" {
		return o, errors.New("usage: berth-entry BPF_FD STATUS_FD EXE_FD FLAGS BND EFF PRM INH AMB -- COMMAND [ARG...]")
	}
	fds := []*int{&o.bpfFD, &o.statusFD, &o.exeFD}
	for i, p := range fds {
		n, err := strconv.Atoi(argv[i])
		if err != nil || n < 3 {
			return o, fmt.Errorf("bad fd %q", argv[i])
		}
		*p = n
	}
	masks := []*uint64{&o.flags, &o.bnd, &o.eff, &o.prm, &o.inh, &o.amb}
	for i, p := range masks {
		m, err := strconv.ParseUint(argv[3+i], 16, 64)
		if err != nil {
			return o, fmt.Errorf("bad mask %q", argv[3+i])
		}
		*p = m
	}
	if o.flags&^(unix.SECCOMP_FILTER_FLAG_LOG|unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW) != 0 {
		return o, fmt.Errorf("unsupported seccomp flags %#x", o.flags)
	}
	o.args = argv[10:]
	return o, nil
}

func main() {
	o, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-entry:", err)
		os.Exit(2)
	}
	status := os.NewFile(uintptr(o.statusFD), "status")
	fail := func(code int, err error) {
		fmt.Fprint(status, err.Error())
		os.Exit(code)
	}
	// Nobody else in the container may look into this process while it
	// holds the lent capabilities; execve resets this as usual.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fail(1, fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err))
	}
	for _, fd := range []int{o.bpfFD, o.statusFD, o.exeFD} {
		unix.CloseOnExec(fd)
	}
	name, err := exec.LookPath(o.args[0])
	if err != nil {
		code := 127
		if errors.Is(err, os.ErrPermission) {
			code = 126
		}
		fail(code, err)
	}
	prog, err := readProgram(o.bpfFD)
	if err != nil {
		fail(1, err)
	}
	if err := loadFilter(prog, o.flags); err != nil {
		fail(1, err)
	}
	if err := returnCaps(o); err != nil {
		fail(1, err)
	}
	unix.Close(o.bpfFD)
	unix.Close(o.exeFD)
	err = unix.Exec(name, o.args, os.Environ())
	// As libcontainer's init reports a failed execve: on stderr, exit 255.
	fmt.Fprintln(os.Stderr, &os.PathError{Op: "exec", Path: name, Err: err})
	os.Exit(255)
}

// maxInsns is the kernel's BPF_MAXINSNS.
const maxInsns = 4096

func readProgram(fd int) ([]unix.SockFilter, error) {
	// The descriptor is shared with every process of the container: read
	// at offsets, never moving the shared position.
	b, err := io.ReadAll(io.NewSectionReader(os.NewFile(uintptr(fd), "bpf"), 0, maxInsns*8+1))
	if err != nil {
		return nil, fmt.Errorf("reading seccomp program: %w", err)
	}
	if len(b) == 0 || len(b)%8 != 0 || len(b) > maxInsns*8 {
		return nil, fmt.Errorf("seccomp program of %d bytes", len(b))
	}
	prog := make([]unix.SockFilter, len(b)/8)
	for i := range prog {
		ins := b[i*8:]
		prog[i] = unix.SockFilter{
			Code: uint16(ins[0]) | uint16(ins[1])<<8,
			Jt:   ins[2],
			Jf:   ins[3],
			K:    uint32(ins[4]) | uint32(ins[5])<<8 | uint32(ins[6])<<16 | uint32(ins[7])<<24,
		}
	}
	return prog, nil
}

// loadFilter installs prog on this thread as libcontainer does.
func loadFilter(prog []unix.SockFilter, flags uint64) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	var err error
	if flags == 0 {
		err = unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
	} else if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		err = errno
	}
	runtime.KeepAlive(prog)
	runtime.KeepAlive(&fprog)
	if err != nil {
		return fmt.Errorf("loading seccomp filter: %w", err)
	}
	return nil
}

// returnCaps removes the lent capabilities from each set and checks they are
// gone. The bounding set is lowered first, while CAP_SETPCAP (possibly lent
// too) is still effective.
func returnCaps(o options) error {
	for c := 0; c < 64; c++ {
		if o.amb&(1<<c) != 0 {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_LOWER, uintptr(c), 0, 0); err != nil {
				return fmt.Errorf("lowering ambient capability %d: %w", c, err)
			}
		}
	}
	for c := 0; c < 64; c++ {
		if o.bnd&(1<<c) != 0 && c != unix.CAP_SETPCAP {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				return fmt.Errorf("dropping bounding capability %d: %w", c, err)
			}
		}
	}
	if o.bnd&(1<<unix.CAP_SETPCAP) != 0 {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, unix.CAP_SETPCAP, 0, 0, 0); err != nil {
			return fmt.Errorf("dropping bounding capability %d: %w", unix.CAP_SETPCAP, err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	for i := range data {
		shift := 32 * i
		data[i].Effective &^= uint32(o.eff >> shift)
		data[i].Permitted &^= uint32(o.prm >> shift)
		data[i].Inheritable &^= uint32(o.inh >> shift)
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	// Trust, but verify: the command must not inherit a lent capability.
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	for i := range data {
		shift := 32 * i
		if data[i].Effective&uint32(o.eff>>shift) != 0 || data[i].Permitted&uint32(o.prm>>shift) != 0 ||
			data[i].Inheritable&uint32(o.inh>>shift) != 0 {
			return errors.New("lent capabilities are still held")
		}
	}
	for c := 0; c < 64; c++ {
		if o.bnd&(1<<c) != 0 {
			if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err != nil || in != 0 {
				return fmt.Errorf("capability %d is still in the bounding set", c)
			}
		}
		if o.amb&(1<<c) != 0 {
			if in, err := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(c), 0, 0); err != nil || in != 0 {
				return fmt.Errorf("capability %d is still ambient", c)
			}
		}
	}
	return nil
}
