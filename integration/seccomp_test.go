package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestSeccompPreloaded checks the shim's precompiled seccomp path: the
// program berth-entry loads is the one compiled into the cache (which
// libcontainer itself compiled), every process of the container runs under
// it, and berth-entry leaves the capability sets, no_new_privs and the open
// files exactly as libcontainer would have.
func TestSeccompPreloaded(t *testing.T) {
	d := startWithBusybox(t)
	if r := d.Docker("run", "-d", "--name", "sc", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(d.Docker("inspect", "-f", "{{.State.Pid}}", "sc").Stdout))
	if err != nil {
		t.Fatal(err)
	}
	cached, _ := filepath.Glob(filepath.Join(d.ExecRoot, "runtime", ".seccomp", "*.bpf"))
	if len(cached) != 1 {
		t.Fatalf("want one compiled profile in the cache, found %v", cached)
	}
	want, err := os.ReadFile(cached[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := seccompFilter(t, pid); !bytes.Equal(got, want) {
		t.Errorf("init's filter (%d bytes) is not the compiled program (%d bytes)", len(got), len(want))
	}

	// Docker's default sets, as libcontainer leaves them.
	status := `grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status | tr -s "\t" " "; ls /proc/self/fd | tr "\n" " "`
	root := "CapInh: 0000000000000000\nCapPrm: 00000000a80425fb\nCapEff: 00000000a80425fb\nCapBnd: 00000000a80425fb\nCapAmb: 0000000000000000\nNoNewPrivs: 0\nSeccomp: 2\nSeccomp_filters: 1\n0 1 2 3"
	user := "CapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: 00000000a80425fb\nCapAmb: 0000000000000000\nNoNewPrivs: 0\nSeccomp: 2\nSeccomp_filters: 1\n0 1 2 3"
	nnp := "CapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: 0000000000003000\nCapAmb: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2\nSeccomp_filters: 1\n0 1 2 3"
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"run as root", []string{"run", "--rm", img, "sh", "-c", status}, root},
		{"run as a user", []string{"run", "--rm", "-u", "1000:1000", img, "sh", "-c", status}, user},
		{"run with no-new-privileges", []string{"run", "--rm", "-u", "1000", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
			"--security-opt", "no-new-privileges", img, "sh", "-c", status}, nnp},
		{"exec as root", []string{"exec", "sc", "sh", "-c", status}, root},
		{"exec as a user", []string{"exec", "-u", "1000", "sc", "sh", "-c", status}, user},
		{"exec with a tty", []string{"exec", "-t", "sc", "sh", "-c", status}, root},
	} {
		r := d.Docker(c.args...)
		got := strings.TrimSpace(strings.ReplaceAll(r.Stdout, "\r", ""))
		if r.ExitCode != 0 || got != c.want {
			t.Errorf("%s: exit %d\n%s\nwant\n%s", c.name, r.ExitCode, got, c.want)
		}
	}
	// The default profile is enforced: it blocks unshare, which no
	// capability is needed for.
	if r := d.Docker("exec", "sc", "unshare", "-U", "true"); r.ExitCode == 0 {
		t.Errorf("unshare allowed in an exec under the default profile: %s", r)
	}
	if r := d.Docker("exec", "-u", "1000", "sc", "unshare", "-U", "true"); r.ExitCode == 0 {
		t.Errorf("unshare allowed in a user's exec under the default profile: %s", r)
	}
	// A profile is compiled once: more processes with the same options
	// add nothing to the cache.
	compiled := func() []string {
		m, _ := filepath.Glob(filepath.Join(d.ExecRoot, "runtime", ".seccomp", "*.bpf"))
		return m
	}
	before := compiled()
	d.Docker("run", "--rm", img, "true")
	d.Docker("exec", "sc", "true")
	if after := compiled(); len(after) != len(before) {
		t.Errorf("the cache grew from %v to %v", before, after)
	}
	// A profile with CAP_SYS_ADMIN differs (it allows mount and unshare);
	// it is compiled once more and used.
	if r := d.Docker("run", "--rm", "--cap-add", "SYS_ADMIN", img, "unshare", "-U", "true"); r.ExitCode != 0 {
		t.Errorf("unshare with CAP_SYS_ADMIN: %s", r)
	}
	if after := compiled(); len(after) != len(before)+1 {
		t.Errorf("after a new profile the cache holds %v (before: %v)", after, before)
	}

	// A profile of one's own (here with the LOG flag, which berth-entry
	// passes to seccomp(2)) is compiled and enforced the same way.
	profile := filepath.Join(t.TempDir(), "nomkdir.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := d.Docker("run", "--rm", "--security-opt", "seccomp="+profile, img, "sh", "-c", "mkdir /x; echo $?; grep Seccomp: /proc/self/status")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "1\n") || !strings.Contains(r.Stdout, "Seccomp:\t2") || !strings.Contains(r.Stderr+r.Stdout, "Operation not permitted") {
		t.Errorf("custom profile: %s", r)
	}
	if after := compiled(); len(after) != len(before)+2 {
		t.Errorf("after a custom profile the cache holds %v (before: %v)", after, before)
	}
}

// seccompFilter reads the newest seccomp filter of process pid.
func seccompFilter(t *testing.T, pid int) []byte {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.PtraceSeize(pid); err != nil {
		t.Fatalf("ptrace seize: %v", err)
	}
	defer unix.PtraceDetach(pid)
	if err := unix.PtraceInterrupt(pid); err != nil {
		t.Fatalf("ptrace interrupt: %v", err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		t.Fatalf("wait: %v", err)
	}
	get := func(buf []unix.SockFilter) int {
		var p unsafe.Pointer
		if len(buf) > 0 {
			p = unsafe.Pointer(&buf[0])
		}
		n, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(pid), 0, uintptr(p), 0, 0)
		if errno != 0 {
			t.Fatalf("PTRACE_SECCOMP_GET_FILTER: %v", errno)
		}
		return int(n)
	}
	buf := make([]unix.SockFilter, get(nil))
	get(buf)
	return unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 8*len(buf))
}

// TestLeanShim: containers whose seccomp program berth-entry loads (the
// default profile, or none) run in berth-shim-lean, which has no
// libseccomp; a profile with flags of its own runs in berth-shim, and both
// enforce it (the lean shim's default flag: TestLeanDefaultFlags).
func TestLeanShim(t *testing.T) {
	d := startWithBusybox(t)
	profile := filepath.Join(t.TempDir(), "nomkdir.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, shim string
		opts       []string
		mkdir      string // mkdir's exit status in the container
	}{
		{"default", "berth-shim-lean", nil, "0"},
		{"unconfined", "berth-shim-lean", []string{"--security-opt", "seccomp=unconfined"}, "0"},
		{"flags of its own", "berth-shim", []string{"--security-opt", "seccomp=" + profile}, "1"},
	} {
		args := append(append([]string{"run", "-d", "--name", "lean-" + strings.ReplaceAll(c.name, " ", "-")}, c.opts...), img, "sleep", "1000")
		r := d.Docker(args...)
		if r.ExitCode != 0 {
			t.Fatalf("%s: run: %s", c.name, r)
		}
		id := strings.TrimSpace(r.Stdout)
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(findShim(t, id)) + "/cmdline")
		if argv0 := string(bytes.SplitN(cmd, []byte{0}, 2)[0]); filepath.Base(argv0) != c.shim {
			t.Errorf("%s: runs in %s, want %s", c.name, argv0, c.shim)
		}
		if r := d.Docker("exec", id, "sh", "-c", "mkdir /tmp/m 2>/dev/null; echo $?"); strings.TrimSpace(r.Stdout) != c.mkdir {
			t.Errorf("%s: mkdir in an exec: %s, want status %s", c.name, r, c.mkdir)
		}
	}
	// The default profile is enforced in the lean shim's containers.
	if r := d.Docker("exec", "lean-default", "unshare", "-U", "true"); r.ExitCode == 0 {
		t.Errorf("unshare allowed under the default profile in berth-shim-lean: %s", r)
	}
}
