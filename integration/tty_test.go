package integration

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/berth-engine/berth/integration/harness"
)

// ptyRun runs the docker CLI on a pseudo-terminal, as a user at a terminal
// would, and returns it with a reader of everything it printed.
type ptyRun struct {
	cmd *exec.Cmd
	tty *os.File
	mu  sync.Mutex
	out bytes.Buffer
}

func startPTY(t *testing.T, d *harness.Daemon, args ...string) *ptyRun {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.Socket, "HOME="+d.Dir)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyRun{cmd: cmd, tty: f}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		f.Close()
	})
	return p
}

func (p *ptyRun) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		ok := strings.Contains(p.out.String(), s)
		p.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Fatalf("no %q in terminal output:\n%q", s, p.out.String())
}

func (p *ptyRun) exitCode(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		p.mu.Lock()
		t.Fatalf("docker CLI did not exit; terminal:\n%q", p.out.String())
	}
	return -1
}

func TestInteractiveTTY(t *testing.T) {
	d := startWithBusybox(t)
	p := startPTY(t, d, "run", "-it", "--name", "tty1", img, "sh")
	// The shell sees a terminal of the CLI's size.
	io.WriteString(p.tty, "stty size; tty; echo typed-$((40+2))\r")
	p.waitFor(t, "30 100")
	p.waitFor(t, "/dev/pts/0")
	p.waitFor(t, "typed-42")
	io.WriteString(p.tty, "exit 3\r")
	if code := p.exitCode(t); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}

	// ctrl-p ctrl-q detaches and leaves the container running.
	p = startPTY(t, d, "run", "-it", "--name", "tty2", img, "sh")
	io.WriteString(p.tty, "echo rea$((0))dy\r")
	p.waitFor(t, "rea0dy")
	p.tty.Write([]byte{16, 17})
	if code := p.exitCode(t); code != 0 {
		t.Fatalf("detach exit code %d", code)
	}
	if s := strings.TrimSpace(d.Docker("inspect", "-f", "{{.State.Running}}", "tty2").Stdout); s != "true" {
		t.Fatalf("container not running after detach: %s", s)
	}
	// docker attach reconnects; typed input reaches the shell again.
	p = startPTY(t, d, "attach", "tty2")
	time.Sleep(300 * time.Millisecond)
	io.WriteString(p.tty, "echo again-$((1+1))\r")
	p.waitFor(t, "again-2")
	io.WriteString(p.tty, "exit 5\r")
	if code := p.exitCode(t); code != 5 {
		t.Fatalf("attach exit code %d, want 5", code)
	}
	// exec -it works the same way.
	if r := d.Docker("run", "-d", "--name", "tty3", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	p = startPTY(t, d, "exec", "-it", "tty3", "sh")
	io.WriteString(p.tty, "tty; exit 6\r")
	p.waitFor(t, "/dev/pts/")
	if code := p.exitCode(t); code != 6 {
		t.Fatalf("exec -it exit code %d, want 6", code)
	}
}
