package system

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		value   string
		want    time.Time
		wantErr bool
	}{
		{value: "10m", want: now.Add(-10 * time.Minute)},
		{value: "1h30m", want: now.Add(-90 * time.Minute)},
		{value: "0s", want: now},
		{value: "1795514400", want: time.Unix(1795514400, 0)},
		{value: "1795514400.5", want: time.Unix(1795514400, 500000000)},
		{value: "1795514400.000000001", want: time.Unix(1795514400, 1)},
		{value: "2026-11-24T10:00:00Z", want: now},
		{value: "2026-11-24T12:00:00+02:00", want: now},
		{value: "2026-11-24T10:00:00.25Z", want: now.Add(250 * time.Millisecond)},
		{value: "2026-11-24T10:00:00", want: time.Date(2026, 11, 24, 10, 0, 0, 0, time.Local)},
		{value: "2026-11-24T10:00", want: time.Date(2026, 11, 24, 10, 0, 0, 0, time.Local)},
		{value: "2026-11-24", want: time.Date(2026, 11, 24, 0, 0, 0, 0, time.Local)},
		{value: "yesterday", wantErr: true},
		{value: "", wantErr: true},
		{value: "1795514400.", wantErr: true},
		{value: "1795514400.1234567890", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := ParseTimestamp(tt.value, now)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAPITimestamp(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Unix(1795514400, 0), "1795514400.000000000"},
		{time.Unix(1795514400, 123), "1795514400.000000123"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := APITimestamp(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
