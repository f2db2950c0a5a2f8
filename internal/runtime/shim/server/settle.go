package server

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// settleWindow is how long after its start a container's init may still be
// installing its signal handlers.
const settleWindow = time.Second

// settleSignal waits, only for an init started less than settleWindow ago,
// until it catches, blocks or ignores sig. The container's init is its pid
// namespace's init, and the kernel drops a signal such a process neither
// catches nor blocks: a SIGTERM sent between the execve of, say, berth-init
// or tini and the moment it installs its handlers (a millisecond, much
// more on a loaded machine) would be lost, and `docker stop` right after
// `docker run -d` would wait out its timeout. An init that never catches
// the signal delays it by what is left of the window, no more.
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
