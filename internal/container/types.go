package container

import (
	"strconv"

	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type specsProcess = specs.Process

func eventAction(s string) events.Action { return events.Action(s) }

func itoa(i int) string { return strconv.Itoa(i) }
