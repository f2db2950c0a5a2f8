package server

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// settleWindow is how long after its start berth-init may still be
// installing its signal handlers.
const settleWindow = 250 * time.Millisecond

// settleSignal waits, only for an init started less than settleWindow ago,
// until it catches, blocks or ignores sig. The container's init is its pid
// namespace's init, and the kernel drops a signal such a process neither
// catches nor blocks. berth-init (--init) is a Go program: its handlers are
// in place a fraction of a millisecond after its execve, later on a loaded
// machine, and a `docker stop` landing before that would wait out its
// timeout. Only berth-init gets this: any other init is the user's, and
// dockerd delivers to it as it stands.
func settleSignal(pid int, sig unix.Signal, startedAt time.Time) {
	if sig == unix.SIGKILL || sig == unix.SIGSTOP || pid <= 0 {
		return
	}
	deadline := startedAt.Add(settleWindow)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil || handled(b, sig) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// handled reports whether a /proc/PID/status shows sig caught, blocked or
// ignored: whether the kernel would deliver it rather than drop it.
func handled(status []byte, sig unix.Signal) bool {
	bit := uint64(1) << (uint(sig) - 1)
	sc := bufio.NewScanner(bytes.NewReader(status))
	seen := 0
	for sc.Scan() {
		key, val, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		switch string(key) {
		case "SigBlk", "SigIgn", "SigCgt":
			seen++
			m, err := strconv.ParseUint(string(bytes.TrimSpace(val)), 16, 64)
			if err != nil || m&bit != 0 {
				return true
			}
		}
	}
	return seen < 3 // a status we cannot read: do not wait
}
