// Package api is berth-shim's wire protocol: the types the shim and the
// daemon's client (package shim) exchange.
//
// # Protocol
//
// HTTP/1.1 on the shim's Unix socket. Every route that acts on a process takes
// an optional exec=ID query parameter; without it the route acts on the
// container's init process. Errors are {"message": "..."} with status 400
// (bad request), 404 (no such exec), 409 (wrong state) or 500.
//
//	GET  /state[?exec=ID]       -> State
//	POST /start[?exec=ID]       -> State; starts a created exec. Init needs no
//	                               start: the shim lets it run its command
//	                               once created, holding its output (for
//	                               attachers, not the log) until this call,
//	                               which releases it and reports the
//	                               command's start, or why it failed
//	POST /signal?sig=N[&exec=ID] -> 204
//	GET  /wait[?exec=ID]        -> Exit, once the process has exited and its
//	                               output is fully written
//	POST /attach?stdin=1&stdout=1&stderr=1[&closeStdin=1][&exec=ID]
//	                            -> 101, then the raw stream; see Stream
//	POST /resize?h=H&w=W[&exec=ID] -> 204
//	POST /exec  ExecRequest     -> ExecResponse (created, not started; an
//	                               exec is forgotten 5 minutes after it exits)
//	POST /exec/start?stdin=1&stdout=1&stderr=1[&closeStdin=1]  ExecRequest
//	                            -> 101 with ExecIDHeader and ExecPidHeader,
//	                               then the stream: /exec, /attach and /start
//	                               in one round trip (or the start's error)
//	POST /pause, POST /resume   -> 204 (cgroup freezer)
//	GET  /stats                 -> Stats
//	POST /update  specs.LinuxResources -> 204; sets the cgroup limits given
//	                               (memory, CPU, cpuset, pids), leaving others
//	POST /delete[?force=1]      -> 204; destroys the container (force kills a
//	                               running one first), then the shim exits
//
// The shim writes ExitFileName beside its socket when init exits, so the
// daemon learns the exit even when it restarts after the shim is gone.
//
// This package has the protocol's types and nothing else, so that berth-shim,
// which links it, links no HTTP client or TLS: the shim binary is also the
// container's init, started for every container and every exec, and each
// package linked in is initialised at each of those starts.
package api

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Process states reported in State.Status.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusPaused  = "paused"
	StatusStopped = "stopped"
)

// ExitFileName is the file, beside the socket, holding init's Exit as JSON.
const ExitFileName = "exit.json"

// State describes the init process or one exec process.
type State struct {
	ID         string    `json:"id"`
	Pid        int       `json:"pid"`
	ShimPid    int       `json:"shimPid"`
	Status     string    `json:"status"`
	Tty        bool      `json:"tty"`
	ExitCode   int       `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Held (init only): init runs but its output is held for the start
	// that has not come (see POST /start).
	Held bool `json:"held,omitempty"`
}

// Exit is a process's end. ExitCode is 128+N for a process killed by signal N,
// as a shell reports it. OOMKilled (init only) says the kernel's OOM killer
// acted in the container's cgroup while it ran.
type Exit struct {
	Pid       int       `json:"pid"`
	ExitCode  int       `json:"exitCode"`
	OOMKilled bool      `json:"oomKilled,omitempty"`
	ExitedAt  time.Time `json:"exitedAt"`
}

// ExecRequest creates an exec process. Process.Terminal asks for a pty; the
// user, capabilities and rlimits are taken as given (the daemon resolves them).
type ExecRequest struct {
	Process specs.Process `json:"process"`
	// Stdin gives the process a stdin that attachers can write; otherwise it
	// reads /dev/null.
	Stdin bool `json:"stdin"`
}

// ExecResponse names the created exec process.
type ExecResponse struct {
	ID string `json:"id"`
}

// Stats is libcontainer's Stats as the shim sends it.
type Stats struct {
	CgroupStats *cgroups.Stats  `json:"CgroupStats"`
	Interfaces  json.RawMessage `json:"Interfaces"`
}

// Stream identifiers in the 8-byte header of a non-tty attach stream, as in
// Docker's stdcopy.
const (
	Stdout = 1
	Stderr = 2
)

// FrameHeader returns the 8-byte header that precedes n bytes of stream's
// output on a non-tty attach connection: stream, three zero bytes, then n as
// a big-endian uint32.
func FrameHeader(stream byte, n int) [8]byte {
	var h [8]byte
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(n))
	return h
}

// ReadExitFile reads the Exit the shim recorded in dir (the socket's
// directory). It fails with an error satisfying errors.Is(err,
// os.ErrNotExist) when init has not exited (or the shim never ran).
func ReadExitFile(dir string) (Exit, error) {
	var e Exit
	b, err := os.ReadFile(dir + "/" + ExitFileName)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("parsing %s: %w", ExitFileName, err)
	}
	return e, nil
}

// EntryAnnotation names berth-entry (its path) in the spec's annotations. With it, and a
// seccomp profile that needs nothing but a plain filter, the shim compiles the
// profile once (per profile, shared by every shim through a cache in the
// state dir), takes it away from libcontainer, and has libcontainer execute
// berth-entry, which loads the compiled program and executes the command.
// Compiling Docker's default profile costs libcontainer's init tens of
// milliseconds on every start and exec.
const EntryAnnotation = "io.berth.entry"

// Headers of the 101 answer to POST /exec/start.
const (
	ExecIDHeader  = "X-Berth-Exec-Id"
	ExecPidHeader = "X-Berth-Exec-Pid"
)

// InitPath is where --init's init (berth-init) appears in the container,
// docker's path. The shim treats a process starting there as berth-init.
const InitPath = "/sbin/docker-init"
