package container

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/shim"
)

// ParseSignal reads a signal as docker accepts it: "SIGTERM", "TERM",
// "term" or a number.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.InvalidParameterf("Invalid signal: %s", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	// Real-time signals are written relative to their range, as docker
	// accepts them: RTMIN+3, RTMAX-1.
	for base, n := range map[string]int{"SIGRTMIN": 34, "SIGRTMAX": 64} {
		if off, ok := strings.CutPrefix(name, base); ok {
			d := 0
			if off != "" {
				var err error
				if d, err = strconv.Atoi(off); err != nil {
					return 0, errdefs.InvalidParameterf("Invalid signal: %s", s)
				}
			}
			if n+d < 34 || n+d > 64 {
				return 0, errdefs.InvalidParameterf("Invalid signal: %s", s)
			}
			sig = syscall.Signal(n + d)
		}
	}
	if sig == 0 {
		return 0, errdefs.InvalidParameterf("Invalid signal: %s", s)
	}
	return sig, nil
}

func (s *Service) shimFor(c *Container) *shim.Client {
	return shim.NewClient(s.socketPath(c.ID))
}

// StopOptions are docker's stop parameters.
type StopOptions struct {
	Signal  string
	Timeout *int // seconds; nil: the container's StopTimeout or 10; -1: wait forever
}

// Stop sends the stop signal, waits for the timeout, then kills.
func (s *Service) Stop(ctx context.Context, ref string, opts StopOptions) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if !c.State.Running() {
		c.mu.Unlock()
		return errdefs.NotModified(fmt.Errorf("container %s is already stopped", c.ID))
	}
	c.ManualStop = true
	_ = s.store.save(c)
	if c.State.Status == container.StateRestarting {
		// Not running between restarts: stopping just cancels the restart.
		c.State.Status = container.StateExited
		_ = s.store.save(c)
		c.notifyLocked()
		c.mu.Unlock()
		return nil
	}
	sigName := opts.Signal
	if sigName == "" {
		sigName = c.Config.StopSignal
	}
	if sigName == "" {
		sigName = "SIGTERM"
	}
	timeout := 10
	if c.Config.StopTimeout != nil {
		timeout = *c.Config.StopTimeout
	}
	if opts.Timeout != nil {
		timeout = *opts.Timeout
	}
	c.mu.Unlock()

	sig, err := ParseSignal(sigName)
	if err != nil {
		return err
	}
	if err := s.signal(ctx, c, sig); err != nil {
		return err
	}
	defer s.event(c, "stop", nil)
	if timeout < 0 {
		_, err := s.waitNotRunning(ctx, c)
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second)
	_, err = s.waitNotRunning(wctx, c)
	cancel()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := s.signal(ctx, c, syscall.SIGKILL); err != nil {
		return err
	}
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := s.waitNotRunning(kctx, c); err != nil {
		return fmt.Errorf("container %s did not exit after SIGKILL: %w", c.ID, err)
	}
	return nil
}

// signal delivers sig to init; a paused container is thawed so the signal
// lands.
func (s *Service) signal(ctx context.Context, c *Container, sig syscall.Signal) error {
	c.mu.Lock()
	paused := c.State.Status == container.StatePaused
	c.mu.Unlock()
	client := s.shimFor(c)
	defer client.Close()
	if err := client.Init().Signal(ctx, sig); err != nil {
		return fmt.Errorf("cannot kill container %s: %w", c.ID, err)
	}
	if paused && (sig == syscall.SIGKILL || sig == syscall.SIGTERM) {
		if err := client.Resume(ctx); err == nil {
			c.mu.Lock()
			if c.State.Status == container.StatePaused {
				c.State.Status = container.StateRunning
				_ = s.store.save(c)
			}
			c.mu.Unlock()
		}
	}
	return nil
}

// Kill sends a signal (default SIGKILL) to the container's init.
func (s *Service) Kill(ctx context.Context, ref, sigName string) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	if sigName == "" {
		sigName = "SIGKILL"
	}
	sig, err := ParseSignal(sigName)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.State.Status != container.StateRunning && c.State.Status != container.StatePaused {
		c.mu.Unlock()
		return errdefs.Conflictf("cannot kill container: %s: container %s is not running", ref, c.ID)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM || sig == syscall.SIGINT {
		c.ManualStop = true
		_ = s.store.save(c)
	}
	c.mu.Unlock()
	if err := s.signal(ctx, c, sig); err != nil {
		return err
	}
	s.event(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	return nil
}

// Restart stops (if running) and starts the container.
func (s *Service) Restart(ctx context.Context, ref string, opts StopOptions) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	if err := s.Stop(ctx, c.ID, opts); err != nil && !isNotModified(err) {
		return err
	}
	if err := s.Start(ctx, c.ID); err != nil && !isNotModified(err) {
		return err
	}
	s.event(c, "restart", nil)
	return nil
}

// Pause freezes the container's processes.
func (s *Service) Pause(ctx context.Context, ref string) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.State.Status {
	case container.StatePaused:
		return errdefs.Conflictf("container %s is already paused", c.ID)
	case container.StateRunning:
	default:
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	client := s.shimFor(c)
	defer client.Close()
	if err := client.Pause(ctx); err != nil {
		return err
	}
	c.State.Status = container.StatePaused
	_ = s.store.save(c)
	c.notifyLocked()
	s.event(c, "pause", nil)
	return nil
}

// Unpause thaws a paused container.
func (s *Service) Unpause(ctx context.Context, ref string) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.State.Status != container.StatePaused {
		return errdefs.Conflictf("container %s is not paused", c.ID)
	}
	client := s.shimFor(c)
	defer client.Close()
	if err := client.Resume(ctx); err != nil {
		return err
	}
	c.State.Status = container.StateRunning
	_ = s.store.save(c)
	c.notifyLocked()
	s.event(c, "unpause", nil)
	return nil
}

// Rename gives the container a new unique name.
func (s *Service) Rename(_ context.Context, ref, newName string) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	newName = strings.TrimPrefix(newName, "/")
	if newName == "" {
		return errdefs.InvalidParameterf("Neither old nor new names may be empty")
	}
	if err := checkName(newName); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.Name
	if old == newName {
		return errdefs.InvalidParameterf("Renaming a container with the same name as its current name")
	}
	if err := s.store.rename(c, newName); err != nil {
		return err
	}
	s.renameNetwork(c)
	s.event(c, "rename", map[string]string{"oldName": "/" + old})
	return nil
}

func isNotModified(err error) bool {
	return err != nil && errorsIs(err, errdefs.ErrNotModified)
}
