package client

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// setTimes sets the since and until parameters from --since/--until
// values; on a bad value it returns the parameter's name and the error.
func setTimes(q url.Values, since, until string, now time.Time) (string, error) {
	for _, t := range []struct{ name, value string }{{"since", since}, {"until", until}} {
		if t.value == "" {
			continue
		}
		ts, err := apiTimestamp(t.value, now)
		if err != nil {
			return t.name, err
		}
		q.Set(t.name, ts)
	}
	return "", nil
}

// Timestamp is the time a --since/--until value names, read as the
// requests read it.
func Timestamp(value string, now time.Time) (time.Time, error) {
	ts, err := apiTimestamp(value, now)
	if err != nil {
		return time.Time{}, err
	}
	sec, frac, _ := strings.Cut(ts, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var nsec int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if nsec, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, err
		}
	}
	return time.Unix(secs, nsec), nil
}

// apiTimestamp turns a --since/--until value into the API's form, as docker
// does: a duration counts back from now (whole seconds), an RFC 3339 date
// or date-time (in the local zone when it names none) becomes
// "seconds.nanoseconds", and a unix timestamp is passed on as is.
func apiTimestamp(value string, now time.Time) (string, error) {
	if d, err := time.ParseDuration(value); value != "0" && err == nil {
		return strconv.FormatInt(now.Add(-d).Unix(), 10), nil
	}
	local := !strings.ContainsAny(value, "zZ+") && strings.Count(value, "-") != 3
	var layout string
	switch colons := strings.Count(value, ":"); {
	case strings.Contains(value, "."):
		layout = time.RFC3339Nano
		if local {
			layout = "2006-01-02T15:04:05.999999999"
		}
	case strings.Contains(value, "T"):
		if !local && !strings.ContainsAny(value, "zZ") && colons > 0 {
			colons-- // the zone offset's
		}
		layout = [...]string{"2006-01-02T15", "2006-01-02T15:04", "2006-01-02T15:04:05"}[min(colons, 2)]
		if !local {
			layout = [...]string{"2006-01-02T15Z07:00", "2006-01-02T15:04Z07:00", time.RFC3339}[min(colons, 2)]
		}
	case local:
		layout = "2006-01-02"
	default:
		layout = "2006-01-02Z07:00"
	}
	var t time.Time
	var err error
	if local {
		t, err = time.ParseInLocation(layout, value, time.FixedZone(now.Zone()))
	} else {
		t, err = time.Parse(layout, value)
	}
	if err == nil {
		return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()), nil
	}
	if strings.Contains(value, "-") {
		return "", err
	}
	// Else it must be a unix timestamp, with an optional fraction.
	sec, frac, hasFrac := strings.Cut(value, ".")
	if _, serr := strconv.ParseInt(sec, 10, 64); serr != nil {
		return "", fmt.Errorf("failed to parse value as time or duration: %q", value)
	}
	if _, ferr := strconv.ParseInt(frac, 10, 64); hasFrac && ferr != nil {
		return "", fmt.Errorf("failed to parse value as time or duration: %q", value)
	}
	return value, nil
}
