package events

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-engine/berth/internal/errdefs"
)

func msg(typ events.Type, action, id string, attrs map[string]string) events.Message {
	return events.Message{Type: typ, Action: events.Action(action), Actor: events.Actor{ID: id, Attributes: attrs}}
}

func TestFilterMatch(t *testing.T) {
	create := msg(events.ContainerEventType, "create", "abcdef123", map[string]string{"name": "web", "image": "busybox:latest", "com.example": "x"})
	pull := msg(events.ImageEventType, "pull", "busybox:latest", map[string]string{"name": "busybox:latest"})
	exec := msg(events.ContainerEventType, "exec_start: sh -c true", "abcdef123", map[string]string{"name": "web"})
	tests := []struct {
		name string
		f    Filter
		m    events.Message
		want bool
	}{
		{"empty", Filter{}, create, true},
		{"type", Filter{"type": {"container"}}, create, true},
		{"type other", Filter{"type": {"image"}}, create, false},
		{"event", Filter{"event": {"create", "start"}}, create, true},
		{"event miss", Filter{"event": {"die"}}, create, false},
		{"event prefix", Filter{"event": {"exec_start"}}, exec, true},
		{"container id prefix", Filter{"container": {"abc"}}, create, true},
		{"container name", Filter{"container": {"web"}}, create, true},
		{"container on image event", Filter{"container": {"web"}}, pull, false},
		{"image on container", Filter{"image": {"busybox"}}, create, true},
		{"image on image", Filter{"image": {"busybox"}}, pull, true},
		{"label key", Filter{"label": {"com.example"}}, create, true},
		{"label kv", Filter{"label": {"com.example=x"}}, create, true},
		{"label kv miss", Filter{"label": {"com.example=y"}}, create, false},
		{"and", Filter{"type": {"container"}, "event": {"die"}}, create, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match(tc.m); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterValidate(t *testing.T) {
	if err := (Filter{"bogus": {"x"}}).Validate(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Validate = %v, want invalid argument", err)
	}
	if err := (Filter{"type": {"x"}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSubscribeLiveAndHistory(t *testing.T) {
	b := New()
	start := time.Now()
	b.Publish(msg(events.ContainerEventType, "create", "c1", nil))
	b.Publish(msg(events.ImageEventType, "pull", "i1", nil))

	ctx, cancel := context.WithCancel(context.Background())
	past, ch := b.Subscribe(ctx, start, Filter{"type": {"container"}})
	if len(past) != 1 || past[0].Actor.ID != "c1" {
		t.Fatalf("history = %+v, want only c1", past)
	}
	b.Publish(msg(events.ImageEventType, "tag", "i2", nil))
	b.Publish(msg(events.ContainerEventType, "start", "c1", nil))
	select {
	case m := <-ch:
		if m.Action != "start" || m.Scope != "local" || m.TimeNano == 0 {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live event")
	}
	cancel()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after cancel")
		}
	}
}

func TestHistoryWraps(t *testing.T) {
	b := New()
	for i := 0; i < historySize+10; i++ {
		b.Publish(msg(events.ContainerEventType, "create", "c", nil))
	}
	past, _ := b.Subscribe(t.Context(), time.Unix(1, 0), nil)
	if len(past) != historySize {
		t.Fatalf("history %d, want %d", len(past), historySize)
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	b := New()
	_, ch := b.Subscribe(t.Context(), time.Time{}, nil)
	for i := 0; i < subscriberBuffer+1; i++ {
		b.Publish(msg(events.ContainerEventType, "create", "c", nil))
	}
	n := 0
	for range ch {
		n++
	}
	if n != subscriberBuffer {
		t.Fatalf("received %d before close, want %d", n, subscriberBuffer)
	}
}
