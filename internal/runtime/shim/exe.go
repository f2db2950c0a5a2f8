package shim

import (
	"os"
	"strconv"
	"sync"

	"github.com/opencontainers/runc/libcontainer/exeseal"
)

// Shims run from a sealed copy of their binary, made once per binary file
// (a memfd that nobody can write: CVE-2019-5736's defence, which
// libcontainer otherwise builds for every container start and every exec,
// a detached overlayfs mount each time). libcontainer sees that its
// /proc/self/exe is sealed and re-executes it as the container's init
// directly.
//
// The copy is made again when the file changes (an upgrade); a copy in use
// by a launch is not closed under it.

type sealedExe struct {
	mu   sync.RWMutex // held for reading while a launch uses f
	id   fileID
	f    *os.File
	fail bool // sealing failed for this id: run the file itself
}

var (
	sealedMu sync.Mutex
	sealed   = map[string]*sealedExe{}
)

// exePath returns what to execute for binary and the file's identity, and a
// release to call once the process has been started. Without a sealed copy
// (a kernel without memfd, a failure) it is binary itself.
func exePath(binary string) (path string, id fileID, release func(), err error) {
	id, err = statID(binary)
	if err != nil {
		return "", fileID{}, nil, err
	}
	sealedMu.Lock()
	se := sealed[binary]
	if se == nil {
		se = &sealedExe{}
		sealed[binary] = se
	}
	sealedMu.Unlock()

	se.mu.RLock()
	if se.id == id && (se.f != nil || se.fail) {
		return se.path(binary), id, se.mu.RUnlock, nil
	}
	se.mu.RUnlock()

	se.mu.Lock()
	if se.id != id || (se.f == nil && !se.fail) {
		if se.f != nil {
			se.f.Close()
		}
		se.f, se.fail, se.id = nil, false, id
		if f, err := sealCopy(binary); err == nil {
			se.f = f
		} else {
			se.fail = true
		}
	}
	se.mu.Unlock()
	// A concurrent replacement between these two locks is harmless: the
	// caller then runs the newer copy, of a file that changed meanwhile.
	se.mu.RLock()
	return se.path(binary), se.id, se.mu.RUnlock, nil
}

func (se *sealedExe) path(binary string) string {
	if se.f == nil {
		return binary
	}
	return "/proc/self/fd/" + strconv.Itoa(int(se.f.Fd()))
}

func sealCopy(binary string) (*os.File, error) {
	src, err := os.Open(binary)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return nil, err
	}
	f, err := exeseal.CloneBinary(src, fi.Size(), binary, os.TempDir())
	if err != nil {
		return nil, err
	}
	if !exeseal.IsCloned(f) {
		// A temporary file rather than a sealed memfd: libcontainer would
		// not trust it and would seal its own copy anyway.
		f.Close()
		return nil, os.ErrInvalid
	}
	return f, nil
}
