package shim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/runtime/spec"
)

const cgroupParent = "berth-shim-test"

var (
	shimBinary string
	rootfs     string
	skipReason string
	seq        atomic.Int64
)

func TestMain(m *testing.M) {
	if o := os.Getenv(launcherEnv); o != "" {
		os.Exit(launch(o))
	}
	os.Exit(run(m))
}

// launcherEnv makes the test binary play a daemon that starts a shim and
// dies at once.
const launcherEnv = "BERTH_SHIM_TEST_LAUNCH"

func launch(opts string) int {
	var o shim.StartOptions
	if err := json.Unmarshal([]byte(opts), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := shim.Start(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		skipReason = "needs root (namespaces, cgroups, mounts)"
		return m.Run()
	}
	if _, err := os.Stat("/usr/bin/busybox"); err != nil {
		skipReason = "needs a static busybox at /usr/bin/busybox (apt-get install busybox-static)"
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "berth-shim-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	defer removeCgroups(cgroupParent)

	shimBinary = filepath.Join(tmp, "berth-shim")
	args := []string{"build", "-tags", "seccomp", "-o", shimBinary}
	if os.Getenv("BERTH_SHIM_RACE") != "" {
		// The shim is a separate binary: -race on the test does not reach it.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/berth-engine/berth/cmd/berth-shim")...)
	if out, err := build.CombinedOutput(); err != nil {
		// The seccomp tag needs libseccomp's headers (libseccomp-dev).
		skipReason = "cannot build berth-shim with -tags seccomp (is libseccomp-dev installed?): " + strings.TrimSpace(string(out))
		return m.Run()
	}
	rootfs = filepath.Join(tmp, "rootfs")
	if err := makeBusyboxRootfs(rootfs); err != nil {
		fmt.Fprintln(os.Stderr, "making rootfs:", err)
		return 1
	}
	return m.Run()
}

func makeBusyboxRootfs(dir string) error {
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	b, err := os.ReadFile("/usr/bin/busybox")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), b, 0o755); err != nil {
		return err
	}
	for _, app := range []string{"sh", "echo", "cat", "sleep", "true", "false", "id", "ls", "grep", "wc", "tty", "stty", "hostname", "head"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", app)); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func requireShim(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// startShim starts the shims of newContainer; TestSpare swaps in a Spares.
var startShim = shim.Start

type container struct {
	id      string
	dir     string
	client  *shim.Client
	shimPid int
	log     string
}

type opt func(*spec.Options, *shim.StartOptions)

func withTty(o *spec.Options, s *shim.StartOptions)   { o.Tty, s.Tty = true, true }
func withStdin(o *spec.Options, s *shim.StartOptions) { s.Stdin = true }

// withAutoRemove: the container goes when it stops (run --rm), so a spare's
// shim is expected back (shim.Spares).
func withAutoRemove(o *spec.Options, s *shim.StartOptions) { s.AutoRemove = true }

// newContainer launches a shim for args; the container is created, not started.
func newContainer(t testing.TB, args []string, opts ...opt) *container {
	t.Helper()
	return newContainerVia(t, false, args, opts...)
}

func newContainerVia(t testing.TB, viaLauncher bool, args []string, opts ...opt) *container {
	t.Helper()
	requireShim(t)
	id := fmt.Sprintf("t%d-%d", os.Getpid(), seq.Add(1))
	// Short, because a socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "bs")
	if err != nil {
		t.Fatal(err)
	}
	so := spec.Options{Rootfs: rootfs, Args: args, Hostname: id, CgroupsPath: "/" + cgroupParent + "/" + id}
	st := shim.StartOptions{
		Binary:   shimBinary,
		ID:       id,
		Bundle:   filepath.Join(dir, "bundle"),
		StateDir: filepath.Join(dir, "state"),
		Socket:   filepath.Join(dir, "shim.sock"),
		LogPath:  filepath.Join(dir, "json.log"),
		ShimLog:  filepath.Join(dir, "shim.log"),
	}
	for _, o := range opts {
		o(&so, &st)
	}
	s, err := spec.Generate(so)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(st.Bundle, 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(st.Bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &container{id: id, dir: dir, log: st.LogPath}
	t.Cleanup(func() { c.cleanup(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if viaLauncher {
		// A separate process starts the shim and exits, as a daemon that
		// dies right after starting a container would.
		b, _ := json.Marshal(st)
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), launcherEnv+"="+string(b))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("launcher: %v: %s", err, out)
		}
		c.client, err = shim.Dial(ctx, st.Socket)
	} else {
		c.client, err = startShim(ctx, st)
	}
	if err != nil {
		shimLog, _ := os.ReadFile(st.ShimLog)
		t.Fatalf("starting shim: %v\nshim log:\n%s", err, shimLog)
	}
	state, err := c.client.Init().State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.shimPid = state.ShimPid
	return c
}

// cleanup removes everything a test container may leave, even after a
// failure: the shim, the container's processes and cgroups, and its dirs.
func (c *container) cleanup(t testing.TB) {
	if c.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = c.client.Delete(ctx, true)
		cancel()
		c.client.Close()
	}
	if c.shimPid > 0 {
		_ = unix.Kill(c.shimPid, unix.SIGKILL)
	}
	removeCgroups(cgroupParent + "/" + c.id)
	if t.Failed() {
		if b, err := os.ReadFile(filepath.Join(c.dir, "shim.log")); err == nil && len(b) > 0 {
			t.Logf("shim log:\n%s", b)
		}
	}
	_ = os.RemoveAll(c.dir)
}

// removeCgroups kills what is left in the cgroup and removes it in every
// hierarchy (v1 controllers and the unified one).
func removeCgroups(rel string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + rel)
	if _, err := os.Stat("/sys/fs/cgroup/" + rel); err == nil {
		dirs = append(dirs, "/sys/fs/cgroup/"+rel)
	}
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
		}
		for i := 0; i < 50; i++ {
			if err := os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// run starts the container and waits for it.
func (c *container) run(t testing.TB) shim.Exit {
	t.Helper()
	ctx := ctxT(t)
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := c.client.Init().Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type logLine struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

func (c *container) logLines(t testing.TB) []logLine {
	t.Helper()
	f, err := os.Open(c.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad log line %q: %v", sc.Text(), err)
		}
		if _, err := time.Parse(time.RFC3339Nano, l.Time); err != nil {
			t.Errorf("bad time in %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// stdout runs the container and returns its logged stdout.
// runExec runs args as an exec (PATH=/bin, in /) with its output attached
// and returns what it wrote and how it exited.
func (c *container) runExec(t testing.TB, args ...string) (stdout, stderr string, exit shim.Exit) {
	t.Helper()
	ctx := ctxT(t)
	p, err := c.client.Exec(ctx, shim.ExecRequest{Process: specs.Process{Args: args, Env: []string{"PATH=/bin"}, Cwd: "/"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Attach(ctx, shim.AttachOptions{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stdout, stderr = demux(t, s)
	if exit, err = p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return stdout, stderr, exit
}

func (c *container) stdout(t testing.TB) string {
	t.Helper()
	if e := c.run(t); e.ExitCode != 0 {
		t.Fatalf("exit code %d; log %+v", e.ExitCode, c.logLines(t))
	}
	var b strings.Builder
	for _, l := range c.logLines(t) {
		if l.Stream == "stdout" {
			b.WriteString(l.Log)
		}
	}
	return b.String()
}

// demux splits a non-tty attach stream into stdout and stderr.
func demux(t testing.TB, r io.Reader) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	var h [8]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			if err != io.EOF {
				t.Fatalf("reading frame header: %v", err)
			}
			return out.String(), errb.String()
		}
		n := binary.BigEndian.Uint32(h[4:])
		dst := &out
		if h[0] == shim.Stderr {
			dst = &errb
		}
		if _, err := io.CopyN(dst, r, int64(n)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLogOutput(t *testing.T) {
	c := newContainer(t, []string{"sh", "-c", "echo hello; echo oops >&2; printf partial"})
	if e := c.run(t); e.ExitCode != 0 {
		t.Fatalf("exit = %+v", e)
	}
	got := c.logLines(t)
	want := map[string]string{"hello\n": "stdout", "oops\n": "stderr", "partial": "stdout"}
	if len(got) != len(want) {
		t.Fatalf("log = %+v", got)
	}
	for _, l := range got {
		if want[l.Log] != l.Stream {
			t.Errorf("unexpected log line %+v", l)
		}
	}
}

// TestOutputHeldForAttachers: init runs from its creation, ahead of the
// start; an attacher connected before the start still gets its output from
// the first byte, here more than the shim holds (the process waits for the
// start with its pipe full), and the log has it all.
func TestOutputHeldForAttachers(t *testing.T) {
	c := newContainer(t, []string{"sh", "-c", "seq 1 200000; echo end >&2"})
	ctx := ctxT(t)
	var want strings.Builder
	for i := 1; i <= 200000; i++ {
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	// Let it run ahead into the bound.
	for i := 0; i < 100; i++ {
		if fi, err := os.Stat(c.log); err == nil && fi.Size() > 1<<20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := c.client.Init().State(ctx)
	if err != nil || st.Status != shim.StatusRunning || !st.Held {
		t.Fatalf("state before the start: %+v, %v; want running, held", st, err)
	}
	s, err := c.client.Init().Attach(ctx, shim.AttachOptions{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	out, errOut := demux(t, s)
	if out != want.String() || errOut != "end\n" {
		t.Errorf("attached stdout %d bytes (want %d, equal %v), stderr %q", len(out), want.Len(), out == want.String(), errOut)
	}
	if e, err := c.client.Init().Wait(ctx); err != nil || e.ExitCode != 0 {
		t.Fatalf("exit %+v, %v", e, err)
	}
	var logged strings.Builder
	for _, l := range c.logLines(t) {
		if l.Stream == "stdout" {
			logged.WriteString(l.Log)
		}
	}
	if logged.String() != want.String() {
		t.Errorf("log has %d bytes of stdout, want %d", logged.Len(), want.Len())
	}
	if err := c.client.Init().Start(ctx); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second start: %v, want a conflict", err)
	}
}

func TestExitCode(t *testing.T) {
	c := newContainer(t, []string{"sh", "-c", "exit 3"})
	e := c.run(t)
	if e.ExitCode != 3 || e.ExitedAt.IsZero() {
		t.Fatalf("exit = %+v, want code 3", e)
	}
	fe, err := shim.ReadExitFile(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if fe.ExitCode != 3 || !fe.ExitedAt.Equal(e.ExitedAt) {
		t.Errorf("exit.json = %+v, want %+v", fe, e)
	}
	st, err := c.client.Init().State(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != shim.StatusStopped || st.ExitCode != 3 || st.FinishedAt.IsZero() || st.StartedAt.IsZero() {
		t.Errorf("state = %+v", st)
	}
}

func TestSignal(t *testing.T) {
	c := newContainer(t, []string{"sleep", "100"})
	ctx := ctxT(t)
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := c.client.Init().State(ctx)
	if err != nil || st.Status != shim.StatusRunning || st.Pid <= 0 {
		t.Fatalf("state = %+v, %v", st, err)
	}
	if err := c.client.Init().Signal(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e, err := c.client.Init().Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("exit code = %d, want 137", e.ExitCode)
	}
	if err := c.client.Init().Signal(ctx, syscall.SIGKILL); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("signal after exit: %v, want conflict", err)
	}
}

func TestExec(t *testing.T) {
	c := newContainer(t, []string{"sleep", "100"})
	ctx := ctxT(t)
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, e := c.runExec(t, "sh", "-c", "echo x; echo y >&2; exit 5")
	if stdout != "x\n" || stderr != "y\n" {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	if e.ExitCode != 5 {
		t.Errorf("exec exit = %d, want 5", e.ExitCode)
	}
	if st, _ := c.client.Init().State(ctx); st.Status != shim.StatusRunning {
		t.Errorf("init status after exec = %s", st.Status)
	}
	if _, err := c.client.ExecProcess("exec-404").State(ctx); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown exec: %v", err)
	}
}

func TestTty(t *testing.T) {
	// Init runs as soon as the shim has created it: a resize reaches it
	// running, as the docker CLI's does after its start.
	c := newContainer(t, []string{"sh", "-c", "tty; read x; stty size; echo done"}, withTty, withStdin)
	ctx := ctxT(t)
	s, err := c.client.Init().Attach(ctx, shim.AttachOptions{Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(s)
	if line, err := r.ReadString('\n'); line != "/dev/pts/0\r\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if err := c.client.Init().Resize(ctx, 40, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(s, "\n"); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	// The pty echoes the typed newline.
	if want := "\r\n40 100\r\ndone\r\n"; string(out) != want {
		t.Errorf("tty output after the resize %q, want %q", out, want)
	}
	if e, _ := c.client.Init().Wait(ctx); e.ExitCode != 0 {
		t.Errorf("exit %d", e.ExitCode)
	}
	if lines := c.logLines(t); len(lines) == 0 || lines[0].Log != "/dev/pts/0\r\n" {
		t.Errorf("log = %+v", lines)
	}
}

func TestExecTty(t *testing.T) {
	c := newContainer(t, []string{"sleep", "100"})
	ctx := ctxT(t)
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := c.client.Exec(ctx, shim.ExecRequest{Stdin: true, Process: specs.Process{
		Terminal: true, Args: []string{"sh", "-c", "read x; echo $((x*7)); exit 2"}, Env: []string{"PATH=/bin"}, Cwd: "/",
	}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Attach(ctx, shim.AttachOptions{Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Resize(ctx, 24, 80); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(s, "6\n"); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(s)
	if !strings.Contains(string(out), "42\r\n") {
		t.Errorf("output %q lacks 42", out)
	}
	if e, err := p.Wait(ctx); err != nil || e.ExitCode != 2 {
		t.Errorf("exit = %+v, %v", e, err)
	}
}

func TestStdin(t *testing.T) {
	c := newContainer(t, []string{"sh", "-c", "cat; echo end"}, withStdin)
	ctx := ctxT(t)
	s, err := c.client.Init().Attach(ctx, shim.AttachOptions{Stdin: true, Stdout: true, Stderr: true, CloseStdin: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := c.client.Init().Attach(ctx, shim.AttachOptions{Stdin: true}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second stdin attach: %v, want conflict", err)
	}
	reader, err := c.client.Init().Attach(ctx, shim.AttachOptions{Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(s, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]io.Reader{"stdin attacher": s, "second reader": reader} {
		if out, _ := demux(t, r); out != "ping\nend\n" {
			t.Errorf("%s got %q", name, out)
		}
	}
	if e, _ := c.client.Init().Wait(ctx); e.ExitCode != 0 {
		t.Errorf("exit %d", e.ExitCode)
	}
}

func TestPid1(t *testing.T) {
	c := newContainer(t, []string{"sh", "-c", "echo $$"})
	if out := c.stdout(t); out != "1\n" {
		t.Errorf("pid = %q, want 1", out)
	}
}

func TestCapabilities(t *testing.T) {
	c := newContainer(t, []string{"grep", "-E", "^Cap(Eff|Bnd|Prm|Inh)", "/proc/self/status"})
	var want uint64
	for _, name := range spec.DefaultCapabilities {
		n, ok := capNumbers[name]
		if !ok {
			t.Fatalf("no number for %s", name)
		}
		want |= 1 << n
	}
	fields := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(c.stdout(t)), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		fields[k] = n
	}
	for _, k := range []string{"CapEff", "CapBnd", "CapPrm"} {
		if fields[k] != want {
			t.Errorf("%s = %016x, want %016x", k, fields[k], want)
		}
	}
	if fields["CapInh"] != 0 {
		t.Errorf("CapInh = %x, want 0", fields["CapInh"])
	}
}

var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5,
	"CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13,
	"CAP_SYS_CHROOT": 18, "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31,
}

func TestMaskedPaths(t *testing.T) {
	// /proc/kcore is missing on kernels built without it (this VM's), and
	// the runtime skips masking what does not exist; timer_list is always
	// there and non-empty on the host.
	masked := []string{"/proc/timer_list"}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		masked = append(masked, "/proc/kcore")
	}
	script := ""
	want := ""
	for _, p := range masked {
		script += "wc -c < " + p + "; "
		want += "0\n"
	}
	script += "ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/hostname || echo ro"
	want += "0\nro\n"
	c := newContainer(t, []string{"sh", "-c", script})
	if out := c.stdout(t); out != want {
		t.Errorf("output %q, want %q; log %+v", out, want, c.logLines(t))
	}
}

func TestUserAndHostname(t *testing.T) {
	c := newContainer(t, []string{"sh", "-c", "id -u; id -g; hostname; echo $HOME"}, func(o *spec.Options, _ *shim.StartOptions) {
		o.User = "nobody"
	})
	want := "65534\n65534\n" + c.id + "\n/nonexistent\n"
	if out := c.stdout(t); out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

// The shim must not care about its clients: a dropped attach, an abandoned
// wait and a closed client leave it serving.
func TestSurvivesClientGone(t *testing.T) {
	c := newContainer(t, []string{"sleep", "100"})
	ctx := ctxT(t)
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := c.client.Init().Attach(ctx, shim.AttachOptions{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	if _, err := c.client.Init().Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait: %v, want deadline exceeded", err)
	}
	cancel()
	c.client.Close()

	c2, err := shim.Dial(ctx, c.client.Socket())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	st, err := c2.Init().State(ctx)
	if err != nil || st.Status != shim.StatusRunning {
		t.Fatalf("state = %+v, %v", st, err)
	}
	if err := unix.Kill(st.ShimPid, 0); err != nil {
		t.Fatalf("shim gone: %v", err)
	}
}

// The daemon may die (or restart) while its containers run: the shim is in
// its own session, is found again by its socket and still reports the exit.
func TestSurvivesDaemonDeath(t *testing.T) {
	c := newContainerVia(t, true, []string{"sh", "-c", "read x; exit $x"}, withStdin)
	ctx := ctxT(t)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.shimPid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command: state, ppid, pgrp, session.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if f[3] != strconv.Itoa(c.shimPid) {
		t.Errorf("shim session = %s, want its own (%d)", f[3], c.shimPid)
	}
	s, err := c.client.Init().Attach(ctx, shim.AttachOptions{Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(s, "7\n"); err != nil {
		t.Fatal(err)
	}
	if e, err := c.client.Init().Wait(ctx); err != nil || e.ExitCode != 7 {
		t.Fatalf("exit = %+v, %v", e, err)
	}
	// With the shim gone too, the exit file remains.
	if err := unix.Kill(c.shimPid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if e, err := shim.ReadExitFile(c.dir); err != nil || e.ExitCode != 7 {
		t.Errorf("exit file = %+v, %v", e, err)
	}
}

func TestPrivileged(t *testing.T) {
	c := newContainer(t, []string{"sh", "-c", "grep CapEff /proc/self/status; ls /dev | wc -l; grep -E '^[0-9]+ [0-9]+ [0-9:]+ / /sys rw' /proc/self/mountinfo | wc -l"}, func(o *spec.Options, _ *shim.StartOptions) {
		o.Privileged = true
	})
	var own string
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			own = strings.TrimSpace(v)
		}
	}
	out := strings.Split(strings.TrimSpace(c.stdout(t)), "\n")
	if len(out) != 3 {
		t.Fatalf("output %q", out)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(out[0], "CapEff:")); got != own {
		t.Errorf("CapEff = %s, want the daemon's bounding set %s", got, own)
	}
	if n, _ := strconv.Atoi(out[1]); n < 20 {
		t.Errorf("only %d entries in /dev; host devices missing", n)
	}
	if out[2] != "1" {
		t.Errorf("/sys is not read-write")
	}
}

// TestCgroupTree: the container's /sys/fs/cgroup on cgroup v1 in the host's
// cgroup namespace (the shim stages it; see server.cgroupStage): a
// writable tmpfs holding, for every hierarchy of the host, a read-only
// bind of the container's own cgroup (read-write with --privileged); none
// of it shows on the host, and the shim's threads are all back in the
// host's mount namespace.
func TestCgroupTree(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("cgroup v1 only: on v2 libcontainer mounts cgroup2 itself")
	}
	hosts, err := cgroups.GetCgroupMounts(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, privileged := range []bool{false, true} {
		c := newContainer(t, []string{"sh", "-c", "cat /proc/self/mountinfo; echo --; ls /sys/fs/cgroup; echo --; if echo 7 2>/dev/null >/sys/fs/cgroup/pids/pids.max; then echo wrote; fi"}, func(o *spec.Options, _ *shim.StartOptions) {
			o.Privileged = privileged
		})
		out := c.stdout(t)
		parts := strings.Split(out, "--\n")
		if len(parts) != 3 {
			t.Fatalf("output %q", out)
		}
		want := "/" + cgroupParent + "/" + c.id
		mode := "ro,"
		if privileged {
			mode = "rw,"
		}
		var tmpfs bool
		binds := map[string]bool{}
		for _, l := range strings.Split(parts[0], "\n") {
			f := strings.Fields(l)
			if len(f) < 10 || !strings.HasPrefix(f[4], "/sys/fs/cgroup") {
				continue
			}
			if f[4] == "/sys/fs/cgroup" {
				tmpfs = strings.HasPrefix(f[5], "rw,") && strings.Contains(l, " - tmpfs ") && strings.Contains(l, "mode=755")
				continue
			}
			if f[3] != want || !strings.HasPrefix(f[5], mode) {
				t.Errorf("privileged=%v: %s: root %s, options %s; want %s, %s", privileged, f[4], f[3], f[5], want, mode)
			}
			binds[filepath.Base(f[4])] = true
		}
		if !tmpfs {
			t.Errorf("privileged=%v: no writable tmpfs at /sys/fs/cgroup:\n%s", privileged, parts[0])
		}
		for _, m := range hosts {
			if !binds[filepath.Base(m.Mountpoint)] {
				t.Errorf("privileged=%v: hierarchy %s missing in the container", privileged, m.Mountpoint)
			}
		}
		if wrote := strings.Contains(parts[2], "wrote"); wrote != privileged {
			t.Errorf("privileged=%v: writing pids.max: %q", privileged, parts[2])
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mi), c.dir) {
			t.Errorf("the staged tree shows on the host:\n%s", mi)
		}
		own, _ := os.Readlink("/proc/self/ns/mnt")
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/ns/mnt", c.shimPid))
		for _, task := range tasks {
			if ns, err := os.Readlink(task); err == nil && ns != own {
				t.Errorf("shim thread %s in mount namespace %s, not the host's %s", task, ns, own)
			}
		}
	}
}

func TestOOMKilled(t *testing.T) {
	c := newContainer(t, []string{"sh", "-c", "x=0123456789; while true; do x=$x$x; done"}, func(o *spec.Options, _ *shim.StartOptions) {
		o.Resources.Memory = 48 << 20
		o.Resources.MemorySwap = 48 << 20
	})
	e := c.run(t)
	if e.ExitCode != 137 || !e.OOMKilled {
		t.Errorf("exit = %+v, want 137 and OOMKilled", e)
	}
	if fe, _ := shim.ReadExitFile(c.dir); !fe.OOMKilled {
		t.Errorf("exit file = %+v, want OOMKilled", fe)
	}
}

func TestPauseStats(t *testing.T) {
	c := newContainer(t, []string{"sleep", "100"}, func(o *spec.Options, _ *shim.StartOptions) {
		o.Resources.PidsLimit = 50
		o.Resources.Memory = 64 << 20
	})
	ctx := ctxT(t)
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.client.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.client.Init().State(ctx); st.Status != shim.StatusPaused {
		t.Errorf("status after pause = %s", st.Status)
	}
	execTrue := shim.ExecRequest{Process: specs.Process{Args: []string{"true"}, Env: []string{"PATH=/bin"}, Cwd: "/"}}
	if _, err := c.client.Exec(ctx, execTrue); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("exec into a paused container: %v, want a conflict", err)
	}
	if err := c.client.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.client.Init().State(ctx); st.Status != shim.StatusRunning {
		t.Errorf("status after resume = %s", st.Status)
	}
	// Frozen behind the shim's back (v1's freezer file): the shim reads the
	// cgroup, so it is paused all the same.
	if dirs, _ := filepath.Glob("/sys/fs/cgroup/freezer/" + cgroupParent + "/" + c.id); len(dirs) == 1 {
		state := filepath.Join(dirs[0], "freezer.state")
		if err := os.WriteFile(state, []byte("FROZEN"), 0); err != nil {
			t.Fatal(err)
		}
		st, _ := c.client.Init().State(ctx)
		_, err := c.client.Exec(ctx, execTrue)
		if err := os.WriteFile(state, []byte("THAWED"), 0); err != nil {
			t.Fatal(err)
		}
		if st.Status != shim.StatusPaused || !errors.Is(err, errdefs.ErrConflict) {
			t.Errorf("frozen through cgroupfs: status %s, exec %v; want paused and a conflict", st.Status, err)
		}
		if st, _ := c.client.Init().State(ctx); st.Status != shim.StatusRunning {
			t.Errorf("status after thawing = %s", st.Status)
		}
	}
	stats, err := c.client.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.CgroupStats == nil || stats.CgroupStats.PidsStats.Current < 1 || stats.CgroupStats.PidsStats.Limit != 50 {
		t.Errorf("stats = %+v", stats.CgroupStats)
	}
	if u := stats.CgroupStats.MemoryStats.Usage; u.Usage == 0 || u.Limit != 64<<20 {
		t.Errorf("memory stats = %+v", u)
	}
}

func TestDeleteRemovesCgroup(t *testing.T) {
	c := newContainer(t, []string{"true"})
	ctx := ctxT(t)
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent + "/" + c.id)
	if len(dirs) == 0 {
		t.Fatal("no cgroup made for the container")
	}
	c.run(t)
	if err := c.client.Delete(ctx, false); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", d, err)
		}
	}
	// The shim exits after delete.
	deadline := time.Now().Add(5 * time.Second)
	for unix.Kill(c.shimPid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("shim still running after delete")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := shim.ReadExitFile(c.dir); err != nil {
		t.Errorf("exit file gone after delete: %v", err)
	}
}

func TestDeleteRunningNeedsForce(t *testing.T) {
	c := newContainer(t, []string{"sleep", "100"})
	ctx := ctxT(t)
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.client.Delete(ctx, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("delete running: %v, want conflict", err)
	}
	if err := c.client.Delete(ctx, true); err != nil {
		t.Fatal(err)
	}
}

func TestCreateError(t *testing.T) {
	requireShim(t)
	dir, err := os.MkdirTemp("", "bs")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	_, err = shim.Start(ctxT(t), shim.StartOptions{
		Binary: shimBinary, ID: "broken", Bundle: filepath.Join(dir, "nope"), StateDir: dir,
		Socket: filepath.Join(dir, "s.sock"), LogPath: filepath.Join(dir, "log"),
	})
	if err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("err = %v, want one naming config.json", err)
	}
}

// A missing program fails creation, with the runtime's message.
func TestCreateMissingProgram(t *testing.T) {
	requireShim(t)
	dir, err := os.MkdirTemp("", "bs")
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("t%d-missing", os.Getpid())
	defer os.RemoveAll(dir)
	defer removeCgroups(cgroupParent + "/" + id)
	s, err := spec.Generate(spec.Options{Rootfs: rootfs, Args: []string{"/no/such/program"}, CgroupsPath: "/" + cgroupParent + "/" + id})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = shim.Start(ctxT(t), shim.StartOptions{
		Binary: shimBinary, ID: id, Bundle: dir, StateDir: filepath.Join(dir, "state"),
		Socket: filepath.Join(dir, "s.sock"), LogPath: filepath.Join(dir, "log"),
	})
	if err == nil || !strings.Contains(err.Error(), "/no/such/program") {
		t.Errorf("err = %v, want one naming the program", err)
	}
}

// TestShimRSS reports the shim's resident memory with a running container.
func TestShimRSS(t *testing.T) {
	c := newContainer(t, []string{"sleep", "100"})
	if err := c.client.Init().Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.shimPid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmRSS:", "RssAnon:", "RssFile:"} {
			if strings.HasPrefix(line, k) {
				t.Logf("shim %s", strings.Join(strings.Fields(line), " "))
			}
		}
	}
}

// TestShimRunsSealedCopy: a shim runs from a sealed memfd copy of its
// binary (so libcontainer seals nothing per start or exec), still named
// berth-shim for ps and pgrep, and its container and execs run.
func TestShimRunsSealedCopy(t *testing.T) {
	c := newContainer(t, []string{"sleep", "100"})
	if err := c.client.Init().Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", c.shimPid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(exe, "/memfd:") {
		t.Errorf("the shim runs %s, not a sealed copy", exe)
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c.shimPid))
	if got := strings.TrimSpace(string(comm)); got != "berth-shim" {
		t.Errorf("comm %q, want berth-shim", got)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.shimPid))
	if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); argv0 != shimBinary {
		t.Errorf("argv[0] %q, want %q", argv0, shimBinary)
	}
	if stdout, stderr, e := c.runExec(t, "sh", "-c", "echo exec ok"); stdout != "exec ok\n" || stderr != "" || e.ExitCode != 0 {
		t.Errorf("exec: stdout %q stderr %q exit %d", stdout, stderr, e.ExitCode)
	}
}

// TestExecAttachStart: one round trip creates, attaches and starts an exec;
// a start failure is its answer; stdin flows.
func TestExecAttachStart(t *testing.T) {
	c := newContainer(t, []string{"sleep", "100"})
	ctx := ctxT(t)
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	proc := specs.Process{Args: []string{"sh", "-c", "echo x; echo y >&2; read l; echo got $l; exit 5"}, Env: []string{"PATH=/bin"}, Cwd: "/"}
	p, st, s, err := c.client.ExecAttachStart(ctx, shim.ExecRequest{Process: proc, Stdin: true},
		shim.AttachOptions{Stdin: true, Stdout: true, Stderr: true, CloseStdin: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st.Pid <= 0 || st.ID != p.ID() {
		t.Errorf("state %+v for exec %s", st, p.ID())
	}
	if got, err := p.State(ctx); err != nil || got.Pid != st.Pid || got.Status != shim.StatusRunning && got.Status != shim.StatusStopped {
		t.Errorf("exec state %+v, %v; answered pid %d", got, err, st.Pid)
	}
	if _, err := io.WriteString(s, "in\n"); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseWrite()
	stdout, stderr := demux(t, s)
	if stdout != "x\ngot in\n" || stderr != "y\n" {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	if e, err := p.Wait(ctx); err != nil || e.ExitCode != 5 {
		t.Errorf("exit %+v, %v", e, err)
	}

	_, _, _, err = c.client.ExecAttachStart(ctx, shim.ExecRequest{Process: specs.Process{Args: []string{"nosuchcmd"}, Env: []string{"PATH=/bin"}, Cwd: "/"}},
		shim.AttachOptions{Stdout: true})
	if err == nil || errors.Is(err, shim.ErrNotSupported) || !strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("exec of a missing command: %v", err)
	}
}

// useSpares makes newContainer start shims through a pool of spares of
// binary for the rest of the test.
func useSpares(t testing.TB, binary string) *shim.Spares {
	t.Helper()
	requireShim(t)
	p := shim.NewSpares(binary, slog.New(slog.DiscardHandler))
	startShim = p.Start
	t.Cleanup(func() {
		startShim = shim.Start
		p.Close()
	})
	return p
}

// waitSpare waits for p to have a spare and returns its pid.
func waitSpare(t testing.TB, p *shim.Spares) int {
	t.Helper()
	for i := 0; i < 500; i++ {
		if pid := p.Pid(); pid != 0 {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no spare shim after 5 s")
	return 0
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
}

// gone reports whether pid has exited (and been reaped, or is a zombie).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))[0] == "Z"
}

// TestSpare starts containers through a spare shim: the spare becomes the
// container's shim, takes on its command line and shim log, and is replaced;
// Close makes the waiting spare exit.
func TestSpare(t *testing.T) {
	p := useSpares(t, shimBinary)

	spare := waitSpare(t, p)
	if cl := cmdline(spare); !strings.Contains(cl, "--spare-fd 4") {
		t.Fatalf("spare's command line %q", cl)
	}
	c := newContainer(t, []string{"sh", "-c", "echo from-spare"})
	if c.shimPid != spare {
		t.Errorf("container's shim is %d, want the spare %d", c.shimPid, spare)
	}
	cl := cmdline(c.shimPid)
	if !strings.Contains(cl, "--id "+c.id+" ") || strings.Contains(cl, "--spare") || !strings.HasPrefix(cl, shimBinary+" ") {
		t.Errorf("shim's command line %q: want the container's arguments in place of the spare's", cl)
	}
	if out := c.stdout(t); out != "from-spare\n" {
		t.Errorf("output %q", out)
	}
	// Its diagnostics go to the container's shim log.
	if _, err := os.Stat(filepath.Join(c.dir, "shim.log")); err != nil {
		t.Errorf("shim log: %v", err)
	}
	fd2, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/2", c.shimPid))
	if err != nil || fd2 != filepath.Join(c.dir, "shim.log") {
		t.Errorf("shim's stderr is %q (%v), want its shim log", fd2, err)
	}

	next := waitSpare(t, p)
	if next == spare {
		t.Fatal("the used spare is still offered")
	}
	c2 := newContainer(t, []string{"true"})
	if c2.shimPid != next {
		t.Errorf("second container's shim is %d, want the new spare %d", c2.shimPid, next)
	}
	if e := c2.run(t); e.ExitCode != 0 {
		t.Errorf("exit %+v", e)
	}

	last := waitSpare(t, p)
	p.Close()
	for i := 0; i < 500 && !gone(last); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !gone(last) {
		_ = unix.Kill(last, unix.SIGKILL)
		t.Fatal("a closed Spares' spare still runs after 5 s")
	}
	// Closed: containers start the usual way.
	c3 := newContainer(t, []string{"true"})
	if c3.shimPid == last || p.Pid() != 0 {
		t.Errorf("closed Spares still hands out spares")
	}
}

// TestSpareReused: a spare's shim whose container is deleted and released
// serves the next container, its command line the spare's again while it
// waits and nothing of the container left open; given up, it exits.
func TestSpareReused(t *testing.T) {
	p := useSpares(t, shimBinary)

	// Go's runtime may start a thread or two more at any time (a blocking
	// syscall while another goroutine wants to run), so threads are checked
	// for growth with the containers: one leaked per container is n-2 more
	// while waiting for the last than after the first, and a few are not.
	const n = 8
	// A container slower than the refill delay (a loaded machine) would
	// have a new spare started, leaving the released shim no room.
	p.SetRefillDelay(time.Hour)
	spare := waitSpare(t, p)
	var fds, threads int
	for i := range n {
		c := newContainer(t, []string{"sh", "-c", fmt.Sprintf("echo run-%d", i)}, withAutoRemove)
		if c.shimPid != spare {
			t.Fatalf("container %d's shim is %d, want the reused %d", i, c.shimPid, spare)
		}
		if out := c.stdout(t); out != fmt.Sprintf("run-%d\n", i) {
			t.Errorf("container %d's output %q", i, out)
		}
		last := i == n-1
		handBack(t, p, c, !last)
		if last {
			for j := 0; j < 500 && !gone(spare); j++ {
				time.Sleep(10 * time.Millisecond)
			}
			if !gone(spare) {
				_ = unix.Kill(spare, unix.SIGKILL)
				t.Fatal("a shim given up still runs 5 s after its container's deletion")
			}
			break
		}
		if got := waitSpare(t, p); got != spare {
			t.Fatalf("spare after container %d is %d, want the shim that served it, %d", i, got, spare)
		}
		// Waiting again: the spare's command line, and the fds it had
		// after the first container.
		for j := 0; j < 200 && !strings.Contains(cmdline(spare), "--spare-fd 4"); j++ {
			time.Sleep(10 * time.Millisecond)
		}
		if cl := cmdline(spare); !strings.Contains(cl, "--spare-fd 4") || strings.Contains(cl, c.id) {
			t.Errorf("waiting shim's command line %q", cl)
		}
		if i == 0 {
			fds, threads = countEntries(t, spare, "fd", 0), countEntries(t, spare, "task", 0)
			continue
		}
		nfd, th := countEntries(t, spare, "fd", fds), countEntries(t, spare, "task", 0)
		if nfd > fds {
			t.Errorf("after container %d: %d fds; after the first, %d: %v", i, nfd, fds, fdLinks(spare))
		}
		fds = min(fds, nfd) // the first count may have caught one closing late
		if i == n-2 && th-threads >= n/2 {
			t.Errorf("after container %d: %d threads; after the first, %d: a thread leaked per container", i, th, threads)
		}
	}
}

// TestSpareRefillDelay: the start of a container that goes when it stops
// leaves the pool empty, expecting its shim back, for the refill delay; a
// new spare comes after it when that shim has not come back, and not when
// it has and serves another container.
func TestSpareRefillDelay(t *testing.T) {
	p := useSpares(t, shimBinary)
	first := waitSpare(t, p)
	start := func(delay time.Duration) *container {
		t.Helper()
		p.SetRefillDelay(delay)
		c := newContainer(t, []string{"sleep", "100"}, withAutoRemove)
		if c.shimPid != first {
			t.Fatalf("container's shim is %d, want the spare %d", c.shimPid, first)
		}
		return c
	}
	release := func(c *container) {
		t.Helper()
		handBack(t, p, c, true)
		if got := waitSpare(t, p); got != first {
			t.Fatalf("spare after the release is %d, want %d", got, first)
		}
	}

	c := start(time.Hour)
	time.Sleep(300 * time.Millisecond)
	if pid := p.Pid(); pid != 0 {
		t.Errorf("a spare (%d) was started while the --rm container's shim may come back", pid)
	}
	release(c)

	// Back before its delay, then busy with the next container when the
	// first start's delay ends: no new spare.
	began := time.Now()
	release(start(2 * time.Second))
	c = start(time.Hour)
	time.Sleep(time.Until(began.Add(2500 * time.Millisecond)))
	if pid := p.Pid(); pid != 0 {
		t.Errorf("a spare (%d) was started for a shim that came back", pid)
	}
	release(c)

	// This time the shim stays busy past the delay: a new spare comes.
	start(100 * time.Millisecond)
	if next := waitSpare(t, p); next == first {
		t.Errorf("spare after the delay is the busy shim %d", next)
	}
}

// TestSpareGivenUp: a shim given up rather than taken back exits, and the
// pool gets a new spare at once, not after the refill delay.
func TestSpareGivenUp(t *testing.T) {
	p := useSpares(t, shimBinary)
	p.SetRefillDelay(time.Hour)
	first := waitSpare(t, p)
	c := newContainer(t, []string{"true"}, withAutoRemove)
	if c.shimPid != first {
		t.Fatalf("container's shim is %d, want the spare %d", c.shimPid, first)
	}
	c.run(t)
	handBack(t, p, c, false)
	if next := waitSpare(t, p); next == first {
		t.Errorf("the given-up shim %d is the spare", next)
	}
	for i := 0; i < 500 && !gone(first); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !gone(first) {
		_ = unix.Kill(first, unix.SIGKILL)
		t.Error("a shim given up still runs 5 s after its release")
	}
}

// handBack deletes c's container and tells p its shim is free (reusable)
// or given up, as the daemon does; the shim is no longer c's to stop.
func handBack(t testing.TB, p *shim.Spares, c *container, reusable bool) {
	t.Helper()
	if err := c.client.Delete(ctxT(t), true); err != nil {
		t.Fatal(err)
	}
	c.client.Close()
	c.client, c.shimPid = nil, 0
	p.Release(filepath.Join(c.dir, "shim.sock"), reusable)
}

// countEntries counts /proc/pid/<dir>'s entries (fd, task) once they
// settle: the shim closes the container's files after its delete has
// answered. With want > 0 it waits up to 3 s for at most want.
func countEntries(t testing.TB, pid int, dir string, want int) int {
	t.Helper()
	prev := -1
	for range 150 {
		e, err := os.ReadDir(fmt.Sprintf("/proc/%d/%s", pid, dir))
		if err != nil {
			t.Fatal(err)
		}
		n := len(e)
		if dir == "fd" {
			// A pidfd of a process that is gone is closed when Go's
			// garbage collector finds its os.Process unreachable (the
			// shim reaps its children itself): whenever a collection
			// runs, not a leak.
			for _, f := range e {
				if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, f.Name())); l == "anon_inode:[pidfd]" {
					n--
				}
			}
		}
		if want > 0 && n <= want || want == 0 && n == prev {
			return n
		}
		prev = n
		time.Sleep(20 * time.Millisecond)
	}
	return prev
}

// fdLinks lists what pid's descriptors point to, for a failure's message.
func fdLinks(pid int) []string {
	e, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var links []string
	for _, f := range e {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, f.Name()))
		links = append(links, f.Name()+"->"+l)
	}
	return links
}

// TestSpareStaleBinary: a spare of a binary replaced since (an upgrade) is
// not used; the container gets a shim of the new file, and a new spare.
func TestSpareStaleBinary(t *testing.T) {
	requireShim(t)
	bin := filepath.Join(t.TempDir(), "berth-shim")
	b, err := os.ReadFile(shimBinary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	p := useSpares(t, bin)
	old := waitSpare(t, p)
	// Replace the file, as a package upgrade does (a new inode).
	if err := os.WriteFile(bin+".new", b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	saved := shimBinary
	shimBinary = bin
	defer func() { shimBinary = saved }()
	c := newContainer(t, []string{"true"})
	if c.shimPid == old {
		t.Error("a spare of the replaced binary was used")
	}
	for i := 0; i < 500 && !gone(old); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !gone(old) {
		_ = unix.Kill(old, unix.SIGKILL)
		t.Error("the stale spare did not exit")
	}
	if next := waitSpare(t, p); next == old {
		t.Error("the stale spare is offered again")
	}
}

// BenchmarkRunTrue is create+start+wait of /bin/true through a shim, plus
// delete, which a docker run --rm also pays.
func BenchmarkRunTrue(b *testing.B) {
	requireShim(b)
	for b.Loop() {
		c := newContainer(b, []string{"true"})
		ctx := context.Background()
		if err := c.client.Init().Start(ctx); err != nil {
			b.Fatal(err)
		}
		if e, err := c.client.Init().Wait(ctx); err != nil || e.ExitCode != 0 {
			b.Fatal(e, err)
		}
		if err := c.client.Delete(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExec is exec of /bin/true in a running container.
func BenchmarkExec(b *testing.B) {
	c := newContainer(b, []string{"sleep", "1000"})
	ctx := context.Background()
	if err := c.client.Init().Start(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, err := c.client.Exec(ctx, shim.ExecRequest{Process: specs.Process{Args: []string{"true"}, Env: []string{"PATH=/bin"}, Cwd: "/"}})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if e, err := p.Wait(ctx); err != nil || e.ExitCode != 0 {
			b.Fatal(e, err)
		}
	}
}

// TestMountNamespaceHeldUntilDelete: the shim keeps the container's mount
// namespace after init exits (so that init's exit does not tear the mount
// tree down before it is reported) and lets go of it at delete.
func TestMountNamespaceHeldUntilDelete(t *testing.T) {
	c := newContainer(t, []string{"sh", "-c", "read x"}, withStdin)
	ctx := ctxT(t)
	st, err := c.client.Init().State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if self, _ := os.Readlink("/proc/self/ns/mnt"); ns == self {
		t.Fatalf("init %d is in the test's mount namespace %s", st.Pid, ns)
	}
	held := func() bool {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", c.shimPid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", c.shimPid, fd.Name())); l == ns {
				return true
			}
		}
		return false
	}
	if !held() {
		t.Fatalf("the shim holds no handle to init's mount namespace %s", ns)
	}
	if err := c.client.Init().Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.client.Init().Signal(ctx, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if e, err := c.client.Init().Wait(ctx); err != nil || e.ExitCode != 137 {
		t.Fatalf("wait: %+v, %v", e, err)
	}
	if !held() {
		t.Fatal("the mount namespace was let go before delete")
	}
	if err := c.client.Delete(ctx, false); err != nil {
		t.Fatal(err)
	}
	// Delete answers after letting go; the shim may still be exiting.
	if unix.Kill(c.shimPid, 0) == nil && held() {
		t.Error("the mount namespace is still held after delete")
	}
}
