// Package harness starts real berthd processes for integration tests, each
// in its own temporary data-root, exec-root and socket, and gives tests the
// clients a Docker user has: the moby Go client, the docker CLI and
// docker-py. Everything it starts is stopped by PID in t.Cleanup.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// RequireRoot skips the test, with the reason, unless running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: berthd manages mounts, namespaces and cgroups")
	}
}

// RepoRoot returns the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binaries builds berthd, berth, berth-shim, berth-shim-lean, berth-init
// and berth-entry once per test process and returns the directory holding
// them.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "berth-bin-")
		if buildErr != nil {
			return
		}
		// berth-shim as the Makefile builds it: static, with libseccomp;
		// berth-shim-lean without, against musl (scripts/musl-cc.sh).
		static := "-linkmode external -extldflags -static"
		for _, b := range []struct{ name, pkg, tags, ldflags string }{{"berthd", "berthd", "", ""}, {"berth", "berth", "", ""},
			{"berth-shim", "berth-shim", "seccomp netgo osusergo", static}, {"berth-shim-lean", "berth-shim", "netgo osusergo", static},
			{"berth-init", "berth-init", "", ""}} {
			args := []string{"build", "-o", filepath.Join(binDir, b.name)}
			if b.tags != "" {
				args = append(args, "-tags", b.tags)
			}
			if b.ldflags != "" {
				args = append(args, "-ldflags", b.ldflags)
			}
			args = append(args, "./cmd/"+b.pkg)
			cmd := exec.Command("go", args...)
			cmd.Dir = RepoRoot()
			switch b.name {
			case "berth", "berth-init":
				cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			case "berth-shim-lean":
				cmd.Env = append(os.Environ(), "CC="+filepath.Join(RepoRoot(), "scripts", "musl-cc.sh"))
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.name, err, out)
				return
			}
		}
		// berth-entry is C (see docs/ARCHITECTURE.md, Containers).
		cmd := exec.Command(filepath.Join(RepoRoot(), "scripts", "build-entry.sh"), filepath.Join(binDir, "berth-entry"))
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build-entry.sh: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

var (
	cgroupOnce    sync.Once
	newCgroupDirs []string
)

// noteCgroupDirs records the cgroup directories that the tests' daemons
// create under the test process's own cgroup and that do not exist yet:
// berthd's default parent for containers, <own>/berth, and on v2 its leaf
// <own>/daemon. Cleanup removes them.
func noteCgroupDirs() {
	data, _ := os.ReadFile("/proc/self/cgroup")
	var own []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 {
			own = append(own, f[2])
		}
	}
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	hierarchies = append(hierarchies, "/sys/fs/cgroup")
	for _, h := range hierarchies {
		for _, rel := range own {
			if fi, err := os.Stat(filepath.Join(h, rel)); err != nil || !fi.IsDir() {
				continue
			}
			for _, leaf := range []string{"berth", "daemon"} {
				d := filepath.Join(h, rel, leaf)
				if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) && !slices.Contains(newCgroupDirs, d) {
					newCgroupDirs = append(newCgroupDirs, d)
				}
			}
		}
	}
}

// Cleanup removes the binaries and the busybox tarball; call from TestMain
// after m.Run.
func Cleanup() {
	// Empty ones only: a container cgroup left inside is a leak for the
	// tests to report, not to hide.
	for _, d := range newCgroupDirs {
		_ = os.Remove(d)
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if busyboxTar != "" {
		os.RemoveAll(filepath.Dir(busyboxTar))
	}
}

// Daemon is a berthd started for a test.
type Daemon struct {
	t        testing.TB
	Bin      string
	Dir      string
	DataRoot string
	ExecRoot string
	Socket   string
	Pidfile  string
	LogPath  string
	Args     []string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Options changes how Start runs berthd.
type Options struct {
	// Args are extra berthd flags.
	Args []string
	// Dir reuses a directory (data-root etc. below it), for restarts.
	Dir string
}

// New prepares a daemon in fresh temp dirs without starting it.
func New(t testing.TB, opts Options) *Daemon {
	t.Helper()
	RequireRoot(t)
	cgroupOnce.Do(noteCgroupDirs)
	bin := Binaries(t)
	dir := opts.Dir
	if dir == "" {
		// Short paths: unix socket paths are limited to 108 bytes.
		var err error
		dir, err = os.MkdirTemp("", "berth-it-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { removeAllUnmounting(dir) })
	}
	d := &Daemon{
		t: t, Bin: bin, Dir: dir,
		DataRoot: filepath.Join(dir, "data"),
		ExecRoot: filepath.Join(dir, "exec"),
		Socket:   filepath.Join(dir, "berth.sock"),
		Pidfile:  filepath.Join(dir, "berthd.pid"),
		LogPath:  filepath.Join(dir, "berthd.log"),
		Args:     opts.Args,
	}
	// An explicit --config-file must exist; tests may write keys into it.
	cfgFile := filepath.Join(dir, "daemon.json")
	if _, err := os.Stat(cfgFile); os.IsNotExist(err) {
		if err := os.WriteFile(cfgFile, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// Start starts a daemon in fresh temp dirs and waits until it answers.
func Start(t testing.TB, opts Options) *Daemon {
	t.Helper()
	d := New(t, opts)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// CommandArgs returns the full berthd argument list.
func (d *Daemon) CommandArgs() []string {
	args := []string{
		"--data-root", d.DataRoot, "--exec-root", d.ExecRoot,
		"-H", "unix://" + d.Socket, "--pidfile", d.Pidfile,
		"--config-file", filepath.Join(d.Dir, "daemon.json"), "--debug",
	}
	return append(args, d.Args...)
}

// Start runs berthd and waits for /_ping; the process is stopped by PID at
// test cleanup.
func (d *Daemon) Start() error {
	logf, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(d.Bin, "berthd"), d.CommandArgs()...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "PATH="+d.Bin+":"+os.Getenv("PATH"))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	d.cmd, d.done = cmd, make(chan struct{})
	go func() {
		d.err = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	d.t.Cleanup(func() {
		// Containers outlive a stopped daemon (live restore): remove them
		// through the API first, so no shim, mount or cgroup stays behind.
		d.removeAllContainers()
		d.Stop()
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return fmt.Errorf("berthd exited during start-up: %v\n%s", d.err, d.Log())
		default:
		}
		if d.ping() == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("berthd did not answer within 30s\n%s", d.Log())
}

func (d *Daemon) ping() error {
	hc := d.HTTPClient()
	resp, err := hc.Get("http://berth/_ping")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping: %s", resp.Status)
	}
	return nil
}

// Pid returns the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Done is closed when the daemon process has exited.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// ExitErr is the process's exit error once Done is closed.
func (d *Daemon) ExitErr() error { return d.err }

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig syscall.Signal) error { return d.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits; after 30 s it kills. Safe to call twice.
func (d *Daemon) Stop() {
	if d.cmd == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		d.t.Errorf("berthd did not stop within 30s of SIGTERM\n%s", d.Log())
	}
}

// removeAllContainers force-removes every container of a running daemon.
func (d *Daemon) removeAllContainers() {
	select {
	case <-d.done:
		return
	default:
	}
	hc := d.HTTPClient()
	resp, err := hc.Get("http://berth/v1.50/containers/json?all=1")
	if err != nil {
		return
	}
	var list []struct {
		ID string `json:"Id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	for _, c := range list {
		req, _ := http.NewRequest(http.MethodDelete, "http://berth/v1.50/containers/"+c.ID+"?force=1&v=1", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

// Kill stops the daemon with SIGKILL, as a crash would.
func (d *Daemon) Kill() {
	_ = d.cmd.Process.Kill()
	<-d.done
}

// Log returns what the daemon wrote so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.LogPath)
	return string(b)
}

// HTTPClient returns a plain HTTP client over the daemon's socket, for
// requests no SDK would make (bad input).
func (d *Daemon) HTTPClient() *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.Socket)
		}},
	}
}

// Client returns a moby Go client with API version negotiation.
func (d *Daemon) Client() *client.Client {
	d.t.Helper()
	c, err := client.New(client.WithHost("unix://"+d.Socket), client.WithAPIVersionNegotiation())
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.Close() })
	return c
}

// Result is what a CLI run printed and its exit code.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.ExitCode, r.Stdout, r.Stderr)
}

// Docker runs the real docker CLI against this daemon.
func (d *Daemon) Docker(args ...string) Result {
	d.t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		d.t.Skip("docker CLI not installed")
	}
	return d.run(exec.Command("docker", args...), nil)
}

// Berth runs our own CLI against this daemon.
func (d *Daemon) Berth(args ...string) Result {
	d.t.Helper()
	return d.run(exec.Command(filepath.Join(d.Bin, "berth"), args...), nil)
}

// BerthStdin runs our own CLI with stdin.
func (d *Daemon) BerthStdin(stdin []byte, args ...string) Result {
	d.t.Helper()
	return d.run(exec.Command(filepath.Join(d.Bin, "berth"), args...), stdin)
}

// DockerStdin runs the docker CLI with stdin.
func (d *Daemon) DockerStdin(stdin []byte, args ...string) Result {
	d.t.Helper()
	return d.run(exec.Command("docker", args...), stdin)
}

// Python runs a docker-py script; `client` is bound to this daemon.
func (d *Daemon) Python(script string) Result {
	d.t.Helper()
	if err := exec.Command("python3", "-c", "import docker").Run(); err != nil {
		d.t.Skip("docker-py not installed")
	}
	prelude := "import docker, json, sys\nclient = docker.DockerClient(base_url='unix://" + d.Socket + "', version='auto', timeout=120)\n"
	return d.run(exec.Command("python3", "-c", prelude+script), nil)
}

func (d *Daemon) run(cmd *exec.Cmd, stdin []byte) Result {
	home := filepath.Join(d.Dir, "home")
	_ = os.MkdirAll(home, 0o700)
	env := []string{}
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "DOCKER_") || strings.HasPrefix(e, "BERTH_") || strings.HasPrefix(e, "HOME=") {
			continue
		}
		env = append(env, e)
	}
	// A private HOME keeps the CLIs away from the user's ~/.docker.
	cmd.Env = append(env, "DOCKER_HOST=unix://"+d.Socket, "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), ExitCode: code}
}

// removeAllUnmounting removes dir after lazily unmounting anything still
// mounted below it, so a failed test cannot leave mounts behind.
func removeAllUnmounting(dir string) {
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		var targets []string
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
				targets = append(targets, f[4])
			}
		}
		for i := len(targets) - 1; i >= 0; i-- {
			_ = syscall.Unmount(targets[i], syscall.MNT_DETACH)
		}
	}
	os.RemoveAll(dir)
}

var (
	busyboxOnce sync.Once
	busyboxTar  string
	busyboxErr  error
)

// BusyboxTar returns a busybox rootfs tarball made offline by
// scripts/mkbusybox.sh, built once per test process.
func BusyboxTar(t testing.TB) string {
	t.Helper()
	busyboxOnce.Do(func() {
		dir, err := os.MkdirTemp("", "berth-busybox-")
		if err != nil {
			busyboxErr = err
			return
		}
		busyboxTar = filepath.Join(dir, "busybox.tar")
		out, err := exec.Command(filepath.Join(RepoRoot(), "scripts", "mkbusybox.sh"), busyboxTar).CombinedOutput()
		if err != nil {
			busyboxErr = fmt.Errorf("mkbusybox.sh: %v\n%s", err, out)
		}
	})
	if busyboxErr != nil {
		t.Fatal(busyboxErr)
	}
	return busyboxTar
}

// BusyboxImage is the name tests give the busybox image: a loopback
// registry, so that a missing image never sends the engine to Docker Hub.
const BusyboxImage = "127.0.0.1:1/test/busybox:1"

// ImportBusybox imports the busybox rootfs into d as BusyboxImage with a
// default command, through the docker CLI.
func (d *Daemon) ImportBusybox() {
	d.t.Helper()
	r := d.Docker("import", "--change", `CMD ["/bin/sh"]`, "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", BusyboxTar(d.t), BusyboxImage)
	if r.ExitCode != 0 {
		d.t.Fatalf("docker import busybox: %s", r)
	}
}
