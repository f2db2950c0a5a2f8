// Package container is the container service: it creates containers from
// images, runs them through one berth-shim each, tracks their state
// (persisted in the metadata store), and serves logs, attach, exec and
// wait. It finds its shims again after a daemon restart.
package container

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
)

// Container is one container's persisted record plus its in-memory state.
// Fields are guarded by mu; the record is written to the store on every
// state change.
type Container struct {
	mu sync.Mutex

	ID         string
	Name       string // without the leading slash
	Created    time.Time
	Image      string // the reference as the user gave it
	ImageID    string
	Path       string
	Args       []string
	Config     *container.Config
	HostConfig *container.HostConfig
	State      State
	// SnapshotKey is the container's active snapshot (its writable layer).
	SnapshotKey string
	// MountPoints are the container's binds, volumes and tmpfs mounts as
	// resolved at create (mounts.go).
	MountPoints  []*mountPoint `json:",omitempty"`
	RestartCount int
	// ManualStop is set by stop/kill through the API, so that restart
	// policies (and unless-stopped across daemon restarts) leave it alone.
	ManualStop bool
	ExecIDs    []string `json:"-"`

	removing bool
	// fsBusy is held for reading while the archive API has the stopped
	// container's filesystem mounted (fsroot.go); start and remove take it
	// for writing, so they wait for the copy to end. Taken with mu held.
	fsBusy sync.RWMutex
	// changed is closed and replaced on every state change; waiters select
	// on it.
	changed chan struct{}
	// monitor cancels the goroutine watching the running process.
	monitorCancel func()
	// healthStop stops the health monitor (health.go).
	healthStop func()
	// attachWaiters are attaches made before start.
	attachWaiters []*attachWaiter
}

// State is the container's lifecycle state as inspect reports it.
type State struct {
	Status     container.ContainerState
	Pid        int
	ExitCode   int
	Error      string
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
	// ShimPid is the berth-shim serving this container while it runs.
	ShimPid int
	// Health is the healthcheck's state; nil without a healthcheck.
	Health *container.Health `json:",omitempty"`
}

// Running reports whether the container's process is alive (paused
// included).
func (s State) Running() bool {
	return s.Status == container.StateRunning || s.Status == container.StatePaused || s.Status == container.StateRestarting
}

func (c *Container) notifyLocked() {
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
}

// waitChan returns a channel closed at the next state change.
func (c *Container) waitChanLocked() <-chan struct{} {
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// inspectState renders the state in the API's shape.
func (s State) inspect() *container.State {
	st := &container.State{
		Status:     s.Status,
		Running:    s.Status == container.StateRunning || s.Status == container.StatePaused,
		Paused:     s.Status == container.StatePaused,
		Restarting: s.Status == container.StateRestarting,
		OOMKilled:  s.OOMKilled,
		Dead:       s.Status == container.StateDead,
		Pid:        s.Pid,
		ExitCode:   s.ExitCode,
		Error:      s.Error,
		StartedAt:  formatTime(s.StartedAt),
		FinishedAt: formatTime(s.FinishedAt),
	}
	if !st.Running {
		st.Pid = 0
	}
	if s.Health != nil {
		h := *s.Health
		h.Log = append([]*container.HealthcheckResult{}, s.Health.Log...)
		st.Health = &h
	}
	return st
}
