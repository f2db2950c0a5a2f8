package system

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
)

func TestFormatEvent(t *testing.T) {
	tests := []struct {
		name string
		msg  events.Message
		loc  *time.Location
		want string
	}{
		{
			name: "attributes sorted",
			msg: events.Message{
				Type: events.ContainerEventType, Action: events.ActionCreate,
				Actor:    events.Actor{ID: "abc123", Attributes: map[string]string{"name": "web", "image": "alpine"}},
				TimeNano: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).UnixNano(),
			},
			loc:  time.UTC,
			want: "2026-11-24T10:00:00.000000000Z container create abc123 (image=alpine, name=web)",
		},
		{
			name: "no attributes, nanoseconds kept",
			msg: events.Message{
				Type: events.NetworkEventType, Action: events.ActionConnect,
				Actor:    events.Actor{ID: "net1"},
				TimeNano: time.Date(2026, 11, 24, 10, 0, 1, 123456789, time.UTC).UnixNano(),
			},
			loc:  time.UTC,
			want: "2026-11-24T10:00:01.123456789Z network connect net1",
		},
		{
			name: "seconds only from old daemons",
			msg: events.Message{
				Type: events.ImageEventType, Action: events.ActionPull,
				Actor: events.Actor{ID: "alpine:latest", Attributes: map[string]string{"name": "alpine"}},
				Time:  time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).Unix(),
			},
			loc:  time.FixedZone("X", 2*3600),
			want: "2026-11-24T12:00:00.000000000+02:00 image pull alpine:latest (name=alpine)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatEvent(tt.msg, tt.loc); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
