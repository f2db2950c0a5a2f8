package events

import (
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/events"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Filter selects events the way dockerd's /events filters do: each key's
// values are alternatives (OR), different keys must all match (AND).
type Filter map[string][]string

var filterKeys = map[string]bool{
	"container": true, "image": true, "event": true, "type": true, "label": true,
	"network": true, "volume": true, "daemon": true, "scope": true, "plugin": true,
	"node": true, "service": true, "secret": true, "config": true,
}

// Validate reports the first unknown filter key the way dockerd words it.
func (f Filter) Validate() error {
	for k := range f {
		if !filterKeys[k] {
			return errdefs.InvalidParameterf("invalid filter '%s'", k)
		}
	}
	return nil
}

// Match reports whether m passes the filter.
func (f Filter) Match(m events.Message) bool {
	for key, values := range f {
		if len(values) == 0 {
			continue
		}
		if !f.matchKey(key, values, m) {
			return false
		}
	}
	return true
}

func (f Filter) matchKey(key string, values []string, m events.Message) bool {
	switch key {
	case "type":
		return anyEqual(values, string(m.Type))
	case "event":
		// "exec_start" matches "exec_start: sh -c …" like dockerd.
		for _, v := range values {
			if string(m.Action) == v || strings.HasPrefix(string(m.Action), v+":") {
				return true
			}
		}
		return false
	case "scope":
		return anyEqual(values, m.Scope)
	case "label":
		for _, v := range values {
			k, want, hasValue := strings.Cut(v, "=")
			got, ok := m.Actor.Attributes[k]
			if ok && (!hasValue || got == want) {
				return true
			}
		}
		return false
	case "container", "network", "volume", "daemon", "plugin", "node", "service", "secret", "config":
		if string(m.Type) != key {
			return false
		}
		return matchActor(values, m)
	case "image":
		switch m.Type {
		case events.ImageEventType:
			return matchActor(values, m)
		case events.ContainerEventType:
			img := m.Actor.Attributes["image"]
			return anyEqual(values, img) || anyEqual(values, stripTag(img))
		}
		return false
	}
	return false
}

// matchActor matches the actor's ID (or a prefix of it) or its name.
func matchActor(values []string, m events.Message) bool {
	for _, v := range values {
		if v == "" {
			continue
		}
		if m.Actor.ID == v || strings.HasPrefix(m.Actor.ID, v) || m.Actor.Attributes["name"] == v {
			return true
		}
		if m.Type == events.ImageEventType && (stripTag(m.Actor.ID) == v || stripTag(m.Actor.Attributes["name"]) == v) {
			return true
		}
	}
	return false
}

func stripTag(ref string) string {
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i]
	}
	return ref
}

func anyEqual(values []string, s string) bool {
	for _, v := range values {
		if v == s {
			return true
		}
	}
	return false
}

// String renders the filter for logs.
func (f Filter) String() string { return fmt.Sprint(map[string][]string(f)) }
