package container

import (
	"context"
	"errors"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/errdefs"
)

var errorsIs = errors.Is

// WaitResult is what a wait returns.
type WaitResult struct {
	ExitCode int
	Error    string
}

// waitNotRunning blocks until c is neither running nor restarting.
func (s *Service) waitNotRunning(ctx context.Context, c *Container) (WaitResult, error) {
	for {
		c.mu.Lock()
		st := c.State
		ch := c.waitChanLocked()
		c.mu.Unlock()
		if !st.Running() {
			return WaitResult{ExitCode: st.ExitCode, Error: st.Error}, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return WaitResult{}, ctx.Err()
		}
	}
}

// Wait blocks until the container meets condition: "not-running" (the
// default: returns at once if it is not running), "next-exit", or
// "removed".
func (s *Service) Wait(ctx context.Context, ref string, condition container.WaitCondition) (WaitResult, error) {
	c, err := s.store.get(ref)
	if err != nil {
		return WaitResult{}, err
	}
	return s.WaitFor(ctx, c, condition)
}

// Prepared returns a function that waits for condition on ref, having
// registered interest now: a "next-exit" waiter set up before start sees
// the exit even if the process ends at once.
func (s *Service) PrepareWait(ref string, condition container.WaitCondition) (func(context.Context) (WaitResult, error), error) {
	c, err := s.store.get(ref)
	if err != nil {
		return nil, err
	}
	switch condition {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return nil, errdefs.InvalidParameterf("invalid condition: %q", condition)
	}
	c.mu.Lock()
	wasRunning := c.State.Running()
	ch := c.waitChanLocked()
	c.mu.Unlock()
	return func(ctx context.Context) (WaitResult, error) {
		switch condition {
		case container.WaitConditionNextExit:
			// Wait until we have seen it running (or it was already) and
			// then not running.
			seenRunning := wasRunning
			for {
				select {
				case <-ch:
				case <-ctx.Done():
					return WaitResult{}, ctx.Err()
				}
				c.mu.Lock()
				st := c.State
				ch = c.waitChanLocked()
				removed := c.removing
				c.mu.Unlock()
				if st.Running() {
					seenRunning = true
					continue
				}
				if seenRunning || st.Status == container.StateExited || removed {
					return WaitResult{ExitCode: st.ExitCode, Error: st.Error}, nil
				}
			}
		case container.WaitConditionRemoved:
			for {
				if _, err := s.store.get(c.ID); err != nil {
					c.mu.Lock()
					st := c.State
					c.mu.Unlock()
					return WaitResult{ExitCode: st.ExitCode}, nil
				}
				select {
				case <-ch:
				case <-ctx.Done():
					return WaitResult{}, ctx.Err()
				}
				c.mu.Lock()
				ch = c.waitChanLocked()
				c.mu.Unlock()
			}
		}
		return s.waitNotRunning(ctx, c)
	}, nil
}

// WaitFor waits on an already resolved container.
func (s *Service) WaitFor(ctx context.Context, c *Container, condition container.WaitCondition) (WaitResult, error) {
	wait, err := s.PrepareWait(c.ID, condition)
	if err != nil {
		return WaitResult{}, err
	}
	return wait(ctx)
}
