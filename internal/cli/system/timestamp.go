package system

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Layouts docker accepts for --since/--until when no zone is given; such
// times are read in the local zone, as docker does.
var localLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15",
	"2006-01-02",
}

var zonedLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15Z07:00",
	"2006-01-02Z07:00",
}

// ParseTimestamp reads a --since/--until value: a Go duration ("10m",
// "1h30m") counted back from now, a unix timestamp with optional fraction
// ("1700000000", "1700000000.5"), or an RFC 3339 date or date-time with or
// without a zone.
func ParseTimestamp(value string, now time.Time) (time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", value)
	}
	if d, err := time.ParseDuration(value); err == nil {
		return now.Add(-d), nil
	}
	if t, ok := parseUnix(value); ok {
		return t, nil
	}
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, value); err == nil {
			return t, nil
		}
	}
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, value, time.Local); err == nil {
			return t, nil
		}
	}
	// docker's wording, so scripts matching on it keep working.
	return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", value)
}

func parseUnix(v string) (time.Time, bool) {
	secStr, fracStr, hasFrac := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var nsec int64
	if hasFrac {
		if fracStr == "" || len(fracStr) > 9 {
			return time.Time{}, false
		}
		nsec, err = strconv.ParseInt(fracStr+strings.Repeat("0", 9-len(fracStr)), 10, 64)
		if err != nil || nsec < 0 {
			return time.Time{}, false
		}
	}
	return time.Unix(sec, nsec), true
}

// APITimestamp is the "seconds.nanoseconds" form the Engine API takes in
// since/until query parameters.
func APITimestamp(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}
