// Package events is Berth's in-process event bus: services publish what
// happened (container create, image pull, volume mount…), and subscribers
// such as GET /events receive the events that match their filter. A bounded
// history lets late subscribers replay recent events for `since`.
package events

import (
	"context"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
)

// historySize is how many past events are kept for `since` queries, the
// same order as dockerd keeps.
const historySize = 1024

// subscriberBuffer bounds how far a slow subscriber may lag before it is
// dropped; a stalled client must never block publishers.
const subscriberBuffer = 256

// Bus fans events out to subscribers. The zero value is not usable; use New.
type Bus struct {
	mu      sync.Mutex
	history []events.Message // ring, oldest first once full
	next    int
	full    bool
	subs    map[*subscriber]struct{}
	now     func() time.Time
}

type subscriber struct {
	ch     chan events.Message
	filter Filter
	closed bool
}

// New returns an empty bus.
func New() *Bus {
	return &Bus{
		history: make([]events.Message, historySize),
		subs:    make(map[*subscriber]struct{}),
		now:     time.Now,
	}
}

// Publish records an event and delivers it to every matching subscriber.
// Time fields are filled in when zero.
func (b *Bus) Publish(m events.Message) {
	if m.TimeNano == 0 {
		t := b.now()
		m.Time, m.TimeNano = t.Unix(), t.UnixNano()
	}
	if m.Scope == "" {
		m.Scope = "local"
	}
	if m.Actor.Attributes == nil {
		m.Actor.Attributes = map[string]string{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.history[b.next] = m
	b.next = (b.next + 1) % len(b.history)
	if b.next == 0 {
		b.full = true
	}
	for s := range b.subs {
		if !s.filter.Match(m) {
			continue
		}
		select {
		case s.ch <- m:
		default:
			// The subscriber is too far behind: end its stream rather
			// than stall the engine or silently skip events.
			b.dropLocked(s)
		}
	}
}

func (b *Bus) dropLocked(s *subscriber) {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	delete(b.subs, s)
}

// Subscribe returns the past events matching f that happened at or after
// since (zero: none), and a channel of future matching events. The channel
// is closed when ctx ends or when the subscriber falls too far behind.
func (b *Bus) Subscribe(ctx context.Context, since time.Time, f Filter) ([]events.Message, <-chan events.Message) {
	s := &subscriber{ch: make(chan events.Message, subscriberBuffer), filter: f}
	b.mu.Lock()
	var past []events.Message
	if !since.IsZero() {
		past = b.historyLocked(since, f)
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		b.dropLocked(s)
		b.mu.Unlock()
	}()
	return past, s.ch
}

func (b *Bus) historyLocked(since time.Time, f Filter) []events.Message {
	var out []events.Message
	add := func(ms []events.Message) {
		for _, m := range ms {
			if m.TimeNano != 0 && m.TimeNano >= since.UnixNano() && f.Match(m) {
				out = append(out, m)
			}
		}
	}
	if b.full {
		add(b.history[b.next:])
	}
	add(b.history[:b.next])
	return out
}
