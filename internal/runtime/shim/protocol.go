// Package shim is the daemon's side of berth-shim: the wire types of the
// shim's HTTP API (from package api), the client, and Start and Spares, which
// launch shims detached. The shim itself (package shim/server) links
// libcontainer; this package does not, so the daemon stays free of it.
package shim

import (
	"errors"

	"github.com/berth-engine/berth/internal/runtime/shim/api"
)

// The protocol's types, from package api (documented there), under the names
// the daemon uses.
type (
	State        = api.State
	Exit         = api.Exit
	ExecRequest  = api.ExecRequest
	ExecResponse = api.ExecResponse
	Stats        = api.Stats
)

const (
	StatusCreated   = api.StatusCreated
	StatusRunning   = api.StatusRunning
	StatusPaused    = api.StatusPaused
	StatusStopped   = api.StatusStopped
	ExitFileName    = api.ExitFileName
	Stdout          = api.Stdout
	Stderr          = api.Stderr
	EntryAnnotation = api.EntryAnnotation
	InitPath        = api.InitPath
)

// FrameHeader is api.FrameHeader.
func FrameHeader(stream byte, n int) [8]byte { return api.FrameHeader(stream, n) }

// ReadExitFile is api.ReadExitFile.
func ReadExitFile(dir string) (Exit, error) { return api.ReadExitFile(dir) }

type errorBody struct {
	Message string `json:"message"`
}

var errClosed = errors.New("shim closed the connection")
