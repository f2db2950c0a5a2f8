package container

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/events"
	"github.com/berth-engine/berth/internal/layer"
	"github.com/berth-engine/berth/internal/metadata"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/overlay"
)

// Root-only tests run real containers: a busybox layer in an overlay
// snapshotter and the real berth-shim.

var shimBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		// -short keeps unit runs fast: no shim build, the root tests skip.
		if os.Geteuid() == 0 && !testing.Short() {
			dir, err := os.MkdirTemp("", "berth-shim-bin-")
			if err != nil {
				panic(err)
			}
			defer os.RemoveAll(dir)
			cmd := exec.Command("go", "build", "-tags", "seccomp", "-o", filepath.Join(dir, "berth-shim"), "../../cmd/berth-shim")
			if out, err := cmd.CombinedOutput(); err == nil {
				shimBinary = filepath.Join(dir, "berth-shim")
			} else {
				os.Stderr.Write(out)
			}
		}
		defer removeTestCgroupParent()
		return m.Run()
	}()
	os.Exit(code)
}

// removeTestCgroupParent removes the (then empty) parent cgroup the tests'
// containers were placed under, in every hierarchy.
func removeTestCgroupParent() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth-test")
	if d := "/sys/fs/cgroup/berth-test"; fileExists(d) {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type fakeImages struct{ info ImageInfo }

func (f fakeImages) ImageForContainer(context.Context, string) (ImageInfo, error) { return f.info, nil }

type env struct {
	svc  *Service
	db   *bolt.DB
	sn   snapshot.Snapshotter
	cfg  Config
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs real containers")
	}
	if shimBinary == "" {
		t.Skip("berth-shim did not build (libseccomp-dev missing?)")
	}
	root, err := os.MkdirTemp("", "berth-ctr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Unmount anything left below root, then remove it.
		data, _ := os.ReadFile("/proc/self/mountinfo")
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && strings.HasPrefix(f[4], root+"/") {
				_ = snapshot.Unmount(f[4])
			}
		}
		os.RemoveAll(root)
	})
	if err := overlay.Supported(root); err != nil {
		t.Skipf("overlay not supported: %v", err)
	}
	sn, err := overlay.New(filepath.Join(root, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	tarPath := filepath.Join(root, "busybox.tar")
	if out, err := exec.Command("../../scripts/mkbusybox.sh", tarPath).CombinedOutput(); err != nil {
		t.Skipf("mkbusybox: %v %s", err, out)
	}
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	_, chainID, _, err := layer.Apply(context.Background(), sn, "", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := metadata.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	info := ImageInfo{ID: "sha256:" + strings.Repeat("a", 64), ChainID: chainID.String()}
	info.Config.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	info.Config.Cmd = []string{"/bin/sh"}
	cfg := Config{
		DataRoot: filepath.Join(root, "data"), ExecRoot: filepath.Join(root, "exec"),
		ShimBinary: shimBinary, CgroupParent: "/berth-test", DB: db, Snapshotter: sn, Driver: "overlay2",
		Images: fakeImages{info}, Events: events.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	e := &env{db: db, sn: sn, cfg: cfg, root: root}
	if e.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	// Clean up through whichever service is current at the end (a test may
	// replace it to simulate a daemon restart).
	t.Cleanup(func() {
		for _, c := range e.svc.store.all() {
			_ = e.svc.Remove(context.Background(), c.ID, RemoveOptions{Force: true})
		}
		e.svc.Close()
	})
	return e
}

func (e *env) run(t *testing.T, hc *container.HostConfig, cmd ...string) string {
	t.Helper()
	ctx := context.Background()
	id, _, err := e.svc.Create(ctx, CreateOptions{Config: &container.Config{Image: "busybox", Cmd: cmd}, HostConfig: hc})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) logs(t *testing.T, id string) string {
	t.Helper()
	_, run, err := e.svc.Logs(id, LogsOptions{Stdout: true, Stderr: true, Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := run(context.Background(), func(m LogMessage) error { b.Write(m.Line); return nil }); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func waitExit(t *testing.T, svc *Service, id string) WaitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := svc.Wait(ctx, id, container.WaitConditionNotRunning)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// restored is a new service on e's data, restored as a restarted daemon's
// is; the caller decides what becomes of the old one.
func (e *env) restored(t *testing.T) *Service {
	t.Helper()
	svc, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Restore(context.Background())
	return svc
}

// killed kills container id through svc and waits for its exit, 137.
func killed(t *testing.T, svc *Service, id string) {
	t.Helper()
	if err := svc.Kill(context.Background(), id, "KILL"); err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, svc, id); res.ExitCode != 137 {
		t.Fatalf("exit %d", res.ExitCode)
	}
}

// restartAdopting drops the service as a daemon restart would, keeping the
// shims, and checks that the restored one adopts container id running (it
// is then killed and removed).
func (e *env) restartAdopting(t *testing.T, id string) {
	t.Helper()
	e.svc.Close()
	e.svc = e.restored(t)
	insp, err := e.svc.Inspect(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	if !insp.State.Running || insp.State.Pid == 0 {
		t.Fatalf("after restore: %+v", insp.State)
	}
	killed(t, e.svc, id)
	if err := e.svc.Remove(context.Background(), id, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRunOutputAndExitCode(t *testing.T) {
	e := newEnv(t)
	id := e.run(t, nil, "sh", "-c", "echo hello; echo oops >&2; exit 3")
	if res := waitExit(t, e.svc, id); res.ExitCode != 3 {
		t.Fatalf("exit code %d, want 3", res.ExitCode)
	}
	// stdout and stderr are separate pipes: their relative order is not
	// defined, as with docker.
	if got := e.logs(t, id); len(got) != len("hello\noops\n") || !strings.Contains(got, "hello\n") || !strings.Contains(got, "oops\n") {
		t.Fatalf("logs %q", got)
	}
	insp, err := e.svc.Inspect(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	if insp.State.Status != "exited" || insp.State.ExitCode != 3 || insp.State.FinishedAt == "0001-01-01T00:00:00Z" {
		t.Fatalf("state %+v", insp.State)
	}
	// The rootfs is unmounted after exit.
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), e.svc.rootfsPath(id)) {
		t.Fatal("rootfs still mounted after exit")
	}
}

func TestStopKillsAfterTimeout(t *testing.T) {
	e := newEnv(t)
	// PID 1 ignores SIGTERM without a handler: stop must fall back to SIGKILL.
	id := e.run(t, nil, "sleep", "100")
	one := 1
	start := time.Now()
	if err := e.svc.Stop(context.Background(), id, StopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, e.svc, id); res.ExitCode != 137 {
		t.Fatalf("exit code %d, want 137", res.ExitCode)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("stop took %v", time.Since(start))
	}
	if err := e.svc.Stop(context.Background(), id, StopOptions{}); !isNotModified(err) {
		t.Fatalf("second stop: %v, want not modified", err)
	}
}

// TestRestoreShimKilledWhileDown: a shim killed while the daemon is down
// leaves its container running; the restarted daemon reports the container
// exited and kills what was left, removing its cgroups.
func TestRestoreShimKilledWhileDown(t *testing.T) {
	e := newEnv(t)
	id := e.run(t, nil, "sleep", "100")
	insp, err := e.svc.Inspect(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	pid := insp.State.Pid
	c, err := e.svc.store.get(id)
	if err != nil {
		t.Fatal(err)
	}
	shimPid := c.State.ShimPid
	cgroups := cgroupDirs("/sys/fs/cgroup", e.svc.cgroupsPath(c))
	e.svc.Close()
	if err := syscall.Kill(shimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500 && syscall.Kill(shimPid, 0) == nil && !isZombie(shimPid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	e.svc = e.restored(t)
	insp, err = e.svc.Inspect(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	if insp.State.Running || insp.State.Status != "exited" {
		t.Fatalf("after restore: %+v", insp.State)
	}
	for i := 0; i < 500 && syscall.Kill(pid, 0) == nil && !isZombie(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("the container's init %d still runs", pid)
	}
	if len(cgroups) == 0 {
		t.Fatal("found no cgroup of the running container")
	}
	for _, d := range cgroups {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup %s left", d)
		}
	}
}

// isZombie reports whether pid has exited but is not reaped yet.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	return len(f) > 0 && f[0] == "Z"
}

func TestRestoreAfterRestart(t *testing.T) {
	e := newEnv(t)
	id := e.run(t, nil, "sh", "-c", "echo up; sleep 100")
	e.restartAdopting(t, id)
}

// TestRestoreUnsavedStart: init runs but the daemon died before the
// "running" record was committed (the two go side by side): the restarted
// daemon finds the shim of the record that still says "created" and adopts
// the running container.
func TestRestoreUnsavedStart(t *testing.T) {
	e := newEnv(t)
	id := e.run(t, nil, "sh", "-c", "echo up; sleep 100")
	st, err := newStore(e.db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.get(id)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Status != "running" {
		t.Fatalf("stored state %q after start", c.State.Status)
	}
	// A restore that does not adopt the container leaves its shim behind.
	live, err := e.svc.store.get(id)
	if err != nil {
		t.Fatal(err)
	}
	shimPid, initPid := live.State.ShimPid, live.State.Pid
	if shimPid == 0 || initPid == 0 {
		t.Fatalf("pids of the running container: shim %d, init %d", shimPid, initPid)
	}
	t.Cleanup(func() {
		for _, pid := range []int{initPid, shimPid} {
			if syscall.Kill(pid, 0) == nil && !zombie(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	c.State = State{Status: "created"}
	if err := st.save(c); err != nil {
		t.Fatal(err)
	}
	e.restartAdopting(t, id)
}

// TestRestoreCreateWithoutLayer: the daemon died in a create after the
// record was committed but before the writable layer was (the two go side
// by side); the restarted daemon prepares the layer and the container runs.
func TestRestoreCreateWithoutLayer(t *testing.T) {
	e := newEnv(t)
	id, _, err := e.svc.Create(context.Background(), CreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"sh", "-c", "exit 7"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cfg.Snapshotter.Remove(context.Background(), "container-"+id); err != nil {
		t.Fatal(err)
	}
	e.svc.Close()
	svc2 := e.restored(t)
	e.svc = svc2
	if _, err := e.cfg.Snapshotter.Stat(context.Background(), "container-"+id); err != nil {
		t.Fatalf("writable layer after restore: %v", err)
	}
	if err := svc2.Start(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, svc2, id); res.ExitCode != 7 {
		t.Fatalf("exit %d", res.ExitCode)
	}
	if err := svc2.Remove(context.Background(), id, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreInterruptedStart: a daemon that dies in a start after the shim
// has created the container, before its start call: init already runs its
// command (the shim lets it go at once) with its output held for attachers,
// and the record says "running". The restarted daemon adopts the container
// and lets its output go; its exit is then recorded as for any other.
func TestRestoreInterruptedStart(t *testing.T) {
	e := newEnv(t)
	id, _, err := e.svc.Create(context.Background(), CreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"sh", "-c", "echo up; exec sleep 100"}}})
	if err != nil {
		t.Fatal(err)
	}
	reached, release := make(chan shim.State, 1), make(chan struct{})
	var once sync.Once
	// The interrupted start holds the container's lock until released.
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	defaultStartInit := startInit
	t.Cleanup(func() { startInit = defaultStartInit })
	startInit = func(ctx context.Context, client *shim.Client) (shim.State, error) {
		st, _ := client.Init().State(ctx)
		reached <- st
		<-release
		return shim.State{}, errors.New("interrupted")
	}
	started := make(chan error, 1)
	go func() { started <- e.svc.Start(context.Background(), id) }()
	var st shim.State
	select {
	case st = <-reached:
	case <-time.After(30 * time.Second):
		t.Fatal("start did not reach its init")
	}
	if st.Status != shim.StatusRunning || !st.Held || st.ShimPid == 0 || st.Pid == 0 {
		t.Fatalf("shim state before the interruption: %+v", st)
	}
	t.Cleanup(func() {
		for _, pid := range []int{st.Pid, st.ShimPid} {
			if syscall.Kill(pid, 0) == nil && !zombie(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	// The "running" record precedes the start of init.
	stored := func() string {
		st2, err := newStore(e.db)
		if err != nil {
			t.Fatal(err)
		}
		c, err := st2.get(id)
		if err != nil {
			t.Fatal(err)
		}
		return string(c.State.Status)
	}
	for i := 0; i < 500 && stored() != "running"; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := stored(); got != "running" {
		t.Fatalf("stored state %q while starting, want running", got)
	}
	// The daemon "dies" here; a new one restores.
	svc2 := e.restored(t)
	insp, err := svc2.Inspect(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	if !insp.State.Running || insp.State.Pid != st.Pid {
		t.Fatalf("after restore: %+v, want running with pid %d", insp.State, st.Pid)
	}
	client, err := shim.Dial(context.Background(), svc2.socketPath(id))
	if err != nil {
		t.Fatal(err)
	}
	st2, err := client.Init().State(context.Background())
	client.Close()
	if err != nil || st2.Held {
		t.Fatalf("shim state after restore: %+v, %v; want the output released", st2, err)
	}
	// The old service's start still holds the container; the new one
	// answers from here.
	e.svc, svc2 = svc2, e.svc
	// The log is written while the output is held for attachers.
	for i := 0; i < 500 && e.logs(t, id) != "up\n"; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.logs(t, id); got != "up\n" {
		t.Errorf("log %q", got)
	}
	// Held output would keep the exit from being recorded.
	killed(t, e.svc, id)
	// The old daemon's start ends now; its cleanup finds the container gone.
	free()
	<-started
	svc2.Close()
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && strings.HasPrefix(string(b[i+2:]), "Z")
}

func TestRemoveRunningNeedsForce(t *testing.T) {
	e := newEnv(t)
	id := e.run(t, nil, "sleep", "100")
	if err := e.svc.Remove(context.Background(), id, RemoveOptions{}); err == nil || !strings.Contains(err.Error(), "container is running") {
		t.Fatalf("remove running: %v", err)
	}
	if err := e.svc.Remove(context.Background(), id, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Inspect(context.Background(), id, false); err == nil {
		t.Fatal("container still there")
	}
}
