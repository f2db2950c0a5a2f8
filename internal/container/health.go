package container

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-engine/berth/internal/runtime/shim"
)

// Healthchecks, with dockerd's semantics: a probe runs in the container
// as an exec every interval (every start interval during the start
// period); exit 0 is healthy, anything else a failure; retries failures
// in a row make the container unhealthy, but failures during the start
// period do not count. The last five results are kept, each with at most
// 4096 bytes of output. A change of status is a "health_status: …" event.

const (
	defaultProbeInterval = 30 * time.Second
	defaultProbeTimeout  = 30 * time.Second
	defaultStartInterval = 5 * time.Second
	defaultProbeRetries  = 3
	maxHealthLogEntries  = 5
	maxHealthOutput      = 4096
)

// healthcheckOf returns the container's effective healthcheck, or nil when
// it has none (no test, or NONE).
func healthcheckOf(cfg *container.Config) *container.HealthConfig {
	if cfg == nil || cfg.Healthcheck == nil {
		return nil
	}
	hc := cfg.Healthcheck
	if len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return nil
	}
	return hc
}

// startHealthLocked starts the container's health monitor after a start
// (reset: the status begins as "starting") or a daemon restart (the status
// carries on). The caller holds c.mu.
func (s *Service) startHealthLocked(c *Container, reset bool) {
	s.stopHealthLocked(c, false)
	hc := healthcheckOf(c.Config)
	if hc == nil {
		c.State.Health = nil
		return
	}
	if c.State.Health == nil {
		c.State.Health = &container.Health{Status: container.Starting}
	}
	if reset {
		c.State.Health.Status = container.Starting
		c.State.Health.FailingStreak = 0
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c.healthStop = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.monitorHealth(ctx, c, *hc, c.State.StartedAt)
	}()
}

// stopHealthLocked stops the monitor; a stopped container is unhealthy.
func (s *Service) stopHealthLocked(c *Container, stopped bool) {
	if c.healthStop != nil {
		c.healthStop()
		c.healthStop = nil
	}
	if stopped && c.State.Health != nil {
		c.State.Health.Status = container.Unhealthy
	}
}

func (s *Service) monitorHealth(ctx context.Context, c *Container, hc container.HealthConfig, started time.Time) {
	interval := durationOr(hc.Interval, defaultProbeInterval)
	startInterval := durationOr(hc.StartInterval, defaultStartInterval)
	for {
		wait := interval
		if time.Since(started) < hc.StartPeriod {
			wait = startInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		c.mu.Lock()
		paused := c.State.Status == container.StatePaused
		c.mu.Unlock()
		if paused {
			continue
		}
		res := s.probe(ctx, c, hc)
		if ctx.Err() != nil {
			return
		}
		s.recordProbe(ctx, c, hc, res, started)
	}
}

// recordProbe adds a result to the container's health and moves its status.
func (s *Service) recordProbe(ctx context.Context, c *Container, hc container.HealthConfig, res *container.HealthcheckResult, started time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.State.Health
	if ctx.Err() != nil || h == nil || !c.State.Running() {
		return
	}
	old := h.Status
	h.Log = append(h.Log, res)
	if len(h.Log) > maxHealthLogEntries {
		h.Log = h.Log[len(h.Log)-maxHealthLogEntries:]
	}
	retries := hc.Retries
	if retries <= 0 {
		retries = defaultProbeRetries
	}
	switch {
	case res.ExitCode == 0:
		h.FailingStreak = 0
		h.Status = container.Healthy
	case time.Since(started) < hc.StartPeriod && h.Status != container.Healthy:
		// Failures while the container is still starting do not count.
	default:
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = container.Unhealthy
		}
	}
	_ = s.store.save(c)
	if h.Status != old {
		s.event(c, events.Action("health_status: "+string(h.Status)), nil)
	}
}

// probe runs one check as an exec in the container.
func (s *Service) probe(ctx context.Context, c *Container, hc container.HealthConfig) *container.HealthcheckResult {
	res := &container.HealthcheckResult{Start: time.Now()}
	finish := func(code int, out string) *container.HealthcheckResult {
		res.End = time.Now()
		res.ExitCode = code
		res.Output = out
		return res
	}
	var cmd []string
	switch hc.Test[0] {
	case "CMD":
		cmd = hc.Test[1:]
	case "CMD-SHELL":
		shell := []string{"/bin/sh", "-c"}
		if c.Config != nil && len(c.Config.Shell) > 0 {
			shell = c.Config.Shell
		}
		cmd = append(append([]string(nil), shell...), strings.Join(hc.Test[1:], " "))
	default:
		return finish(-1, fmt.Sprintf("unknown healthcheck type %q (expected CMD, CMD-SHELL or NONE)", hc.Test[0]))
	}
	if len(cmd) == 0 {
		return finish(-1, "healthcheck has no command")
	}
	timeout := durationOr(hc.Timeout, defaultProbeTimeout)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	proc, err := s.execProcess(c, ExecCreateOptions{Cmd: cmd})
	if err != nil {
		return finish(-1, err.Error())
	}
	client := s.shimFor(c)
	if client == nil {
		return finish(-1, "container is not running")
	}
	defer client.Close()
	p, err := client.Exec(pctx, shim.ExecRequest{Process: *proc})
	if err != nil {
		return finish(-1, err.Error())
	}
	stream, err := p.Attach(pctx, shim.AttachOptions{Stdout: true, Stderr: true})
	if err != nil {
		return finish(-1, err.Error())
	}
	defer stream.Close()
	if err := p.Start(pctx); err != nil {
		if pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			// The timeout covers the whole probe, its start included (as
			// in dockerd); the probe may be running by now.
			kctx, kcancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = p.Signal(kctx, syscall.SIGKILL)
			kcancel()
			return finish(-1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout))
		}
		return finish(startErrorExitCode(err), startError(err).Error())
	}
	out := make(chan []byte, 1)
	go func() { out <- readFramed(stream, maxHealthOutput) }()
	exit, err := p.Wait(pctx)
	if err != nil {
		// Timed out (or the daemon stops): kill the probe, as dockerd does.
		kctx, kcancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = p.Signal(kctx, syscall.SIGKILL)
		kcancel()
		stream.Close()
		<-out
		if pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return finish(-1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout))
		}
		return finish(-1, err.Error())
	}
	var output []byte
	select {
	case output = <-out:
	case <-time.After(time.Second):
		stream.Close()
		output = <-out
	}
	return finish(exit.ExitCode, string(output))
}

// readFramed reads a non-tty attach stream (8-byte headers) to its end and
// returns the first limit bytes of stdout and stderr together.
func readFramed(r io.Reader, limit int) []byte {
	var buf bytes.Buffer
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		if room := int64(limit - buf.Len()); room > 0 {
			take := min(n, room)
			if _, err := io.CopyN(&buf, r, take); err != nil {
				break
			}
			n -= take
		}
		if _, err := io.CopyN(io.Discard, r, n); err != nil {
			break
		}
	}
	return buf.Bytes()
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// healthSuffix is what ps adds to "Up …" for a container with a
// healthcheck.
func healthSuffix(h *container.Health) string {
	if h == nil {
		return ""
	}
	switch h.Status {
	case container.Starting:
		return " (health: starting)"
	case container.Healthy, container.Unhealthy:
		return " (" + string(h.Status) + ")"
	}
	return ""
}

// healthStatus is the container's status for the health filter and the
// summary: "none" without a healthcheck.
func healthStatus(st State) container.HealthStatus {
	if st.Health == nil {
		return container.NoHealthcheck
	}
	return st.Health.Status
}
