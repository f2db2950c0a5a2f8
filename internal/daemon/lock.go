package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrAlreadyRunning is returned when another berthd holds the data-root.
var ErrAlreadyRunning = errors.New("another berthd is already running")

// lockDataRoot takes an exclusive flock on data-root/berthd.lock. The lock
// dies with the process, so a daemon killed with SIGKILL leaves nothing
// that blocks the next start. It is the first thing a daemon does: a second
// daemon that fails here has touched nothing.
func lockDataRoot(root string) (*os.File, error) {
	path := filepath.Join(root, "berthd.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w on data-root %s (pid %s)", ErrAlreadyRunning, root, strings.TrimSpace(string(pid)))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// writePidfile writes our pid, refusing when the file names a live berthd
// (another daemon on another data-root sharing the pidfile). A pidfile left
// by a crashed daemon, or naming a reused pid of some other program, is
// replaced.
func writePidfile(path string) error {
	if path == "" {
		return nil
	}
	if data, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid != os.Getpid() && isBerthd(pid) {
			return fmt.Errorf("pid file found, ensure berthd is not running or delete %s (pid %d)", path, pid)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func isBerthd(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return filepath.Base(string(argv0)) == "berthd"
}

// removePidfile removes the pidfile if it still holds our pid.
func removePidfile(path string) {
	if path == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(data)) == strconv.Itoa(os.Getpid()) {
		os.Remove(path)
	}
}
