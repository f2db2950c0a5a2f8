package container

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Filters are the API's filters: key -> accepted values.
type Filters map[string][]string

var listFilterKeys = map[string]bool{
	"id": true, "name": true, "label": true, "status": true, "ancestor": true, "exited": true,
	"before": true, "since": true, "volume": true, "network": true, "health": true,
	"publish": true, "expose": true, "is-task": true,
}

var pruneFilterKeys = map[string]bool{"until": true, "label": true, "label!": true}

func (f Filters) validate(allowed map[string]bool) error {
	for k := range f {
		if !allowed[k] {
			return errdefs.InvalidParameterf("invalid filter '%s'", k)
		}
	}
	return nil
}

// matchLabels implements label=key, label=key=value, and label!= for prune.
func (f Filters) matchLabels(labels map[string]string) bool {
	for _, l := range f["label"] {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	for _, l := range f["label!"] {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if ok && (!hasV || got == v) {
			return false
		}
	}
	return true
}

// matchUntil implements prune's until=<timestamp|duration>.
func (f Filters) matchUntil(created time.Time) bool {
	for _, u := range f["until"] {
		t, err := parseTimeFilter(u)
		if err != nil {
			return false
		}
		if !created.Before(t) {
			return false
		}
	}
	return true
}

func parseTimeFilter(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(0, int64(secs*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.InvalidParameterf("invalid time value: %s", v)
}

// ListOptions are docker ps's parameters.
type ListOptions struct {
	All     bool
	Limit   int
	Size    bool
	Filters Filters
}

// List returns container summaries, newest first.
func (s *Service) List(ctx context.Context, opts ListOptions) ([]container.Summary, error) {
	f := opts.Filters
	if err := f.validate(listFilterKeys); err != nil {
		return nil, err
	}
	for _, st := range f["status"] {
		if err := container.ValidateContainerState(container.ContainerState(st)); err != nil {
			return nil, errdefs.InvalidParameterf("invalid filter 'status=%s'", st)
		}
	}
	for _, h := range f["health"] {
		if err := container.ValidateHealthStatus(container.HealthStatus(h)); err != nil {
			return nil, errdefs.InvalidParameterf("Unrecognised filter value for health: %s", h)
		}
	}
	var before, since *Container
	var err error
	if v := f["before"]; len(v) > 0 {
		if before, err = s.store.get(v[0]); err != nil {
			return nil, err
		}
	}
	if v := f["since"]; len(v) > 0 {
		if since, err = s.store.get(v[0]); err != nil {
			return nil, err
		}
	}
	all := s.store.all()
	out := []container.Summary{}
	for _, c := range all {
		c.mu.Lock()
		sum, ok := s.summaryLocked(c, opts, f, before, since)
		c.mu.Unlock()
		if !ok {
			continue
		}
		if opts.Size {
			sz := s.sizeRw(ctx, c)
			sum.SizeRw = sz
		}
		out = append(out, sum)
		if opts.Limit > 0 && len(out) >= opts.Limit {
			break
		}
	}
	return out, nil
}

func (s *Service) summaryLocked(c *Container, opts ListOptions, f Filters, before, since *Container) (container.Summary, bool) {
	status := c.State.Status
	// -a (or any status/exited filter) includes stopped containers.
	if !opts.All && !c.State.Running() && len(f["status"]) == 0 && len(f["exited"]) == 0 && opts.Limit <= 0 {
		return container.Summary{}, false
	}
	if before != nil && !c.Created.Before(before.Created) {
		return container.Summary{}, false
	}
	if since != nil && !c.Created.After(since.Created) {
		return container.Summary{}, false
	}
	if v := f["id"]; len(v) > 0 && !anyPrefix(c.ID, v) {
		return container.Summary{}, false
	}
	if v := f["name"]; len(v) > 0 {
		ok := false
		for _, n := range v {
			if strings.Contains(c.Name, strings.TrimPrefix(n, "/")) {
				ok = true
			}
		}
		if !ok {
			return container.Summary{}, false
		}
	}
	if !f.matchLabels(c.Config.Labels) {
		return container.Summary{}, false
	}
	if v := f["status"]; len(v) > 0 && !contains(v, string(status)) {
		return container.Summary{}, false
	}
	if v := f["exited"]; len(v) > 0 {
		if status != container.StateExited || !contains(v, strconv.Itoa(c.State.ExitCode)) {
			return container.Summary{}, false
		}
	}
	if v := f["ancestor"]; len(v) > 0 {
		ok := false
		for _, a := range v {
			if a == c.Image || a == c.ImageID || strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), strings.TrimPrefix(a, "sha256:")) || stripLatest(a) == stripLatest(c.Image) {
				ok = true
			}
		}
		if !ok {
			return container.Summary{}, false
		}
	}
	if v := f["network"]; len(v) > 0 && !s.onNetwork(c, v) {
		return container.Summary{}, false
	}
	if v := f["health"]; len(v) > 0 && !contains(v, string(healthStatus(c.State))) {
		return container.Summary{}, false
	}
	if v := f["volume"]; len(v) > 0 {
		ok := false
		for _, b := range c.HostConfig.Binds {
			src, dst, _ := strings.Cut(b, ":")
			dst, _, _ = strings.Cut(dst, ":")
			if contains(v, src) || contains(v, dst) {
				ok = true
			}
		}
		if !ok {
			return container.Summary{}, false
		}
	}
	sum := container.Summary{
		ID:      c.ID,
		Names:   []string{"/" + c.Name},
		Image:   c.Image,
		ImageID: c.ImageID,
		Command: commandString(c.Path, c.Args),
		Created: c.Created.Unix(),
		Ports:   s.portSummaries(c),
		Labels:  c.Config.Labels,
		State:   status,
		Status:  statusString(c.State),
		Mounts:  s.mountPoints(c),
	}
	if h := c.State.Health; h != nil {
		sum.Health = &container.HealthSummary{Status: h.Status, FailingStreak: h.FailingStreak}
	}
	sum.HostConfig.NetworkMode = string(c.HostConfig.NetworkMode)
	sum.NetworkSettings = &container.NetworkSettingsSummary{Networks: s.networkSettings(c).Networks}
	return sum, true
}

func stripLatest(ref string) string { return strings.TrimSuffix(ref, ":latest") }

func anyPrefix(id string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func commandString(path string, args []string) string {
	parts := append([]string{path}, args...)
	return strings.Join(parts, " ")
}

// statusString is docker ps's STATUS column: "Up 2 minutes", "Exited (0)
// 3 seconds ago", "Created".
func statusString(st State) string {
	now := time.Now()
	switch st.Status {
	case container.StateRunning:
		return "Up " + humanDuration(now.Sub(st.StartedAt)) + healthSuffix(st.Health)
	case container.StatePaused:
		return "Up " + humanDuration(now.Sub(st.StartedAt)) + " (Paused)"
	case container.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, humanDuration(now.Sub(st.FinishedAt)))
	case container.StateExited:
		if st.FinishedAt.IsZero() {
			return "Created"
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, humanDuration(now.Sub(st.FinishedAt)))
	case container.StateRemoving:
		return "Removal In Progress"
	case container.StateDead:
		return "Dead"
	}
	return "Created"
}

// humanDuration words a duration like docker (go-units HumanDuration).
func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	switch m := int(d.Minutes()); {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	switch h := int(d.Round(time.Hour).Hours()); {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	default:
		return fmt.Sprintf("%d years", h/24/365)
	}
}

func pruneEvent(reclaimed uint64) events.Message {
	return events.Message{Type: events.ContainerEventType, Action: events.ActionPrune,
		Actor: events.Actor{Attributes: map[string]string{"reclaimed": strconv.FormatUint(reclaimed, 10)}}}
}
