// Command berth-init is the minimal init `--init` puts in front of a
// container's command: it runs the command as its child, forwards the
// signals it receives to it, reaps every zombie the container leaves, and
// exits with the command's status. It is built static (CGO_ENABLED=0) so it
// runs in any image.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"unsafe"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "berth-init: usage: berth-init -- COMMAND [ARG...]")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
		return 127
	}
	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The child gets its own process group and the terminal's foreground,
	// as a shell would give it, so that ctrl-c reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if _, err := unixIoctlGetTermios(0); err == nil {
		cmd.SysProcAttr.Foreground = true
		cmd.SysProcAttr.Ctty = 0
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
		if os.IsPermission(err) {
			return 126
		}
		return 127
	}
	child := cmd.Process.Pid
	for sig := range sigs {
		s := sig.(syscall.Signal)
		if s != syscall.SIGCHLD {
			// Forward to the child's whole group, as tini does by default
			// for the child only; the group reaches its helpers too.
			_ = syscall.Kill(-child, s)
			continue
		}
		// Reap everything that exited; the child's status is ours.
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == child {
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
	}
	return 0
}

// unixIoctlGetTermios reports whether fd is a terminal.
func unixIoctlGetTermios(fd int) (*syscall.Termios, error) {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	if errno != 0 {
		return nil, errno
	}
	return &t, nil
}
