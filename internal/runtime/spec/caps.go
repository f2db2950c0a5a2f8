package spec

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/sys/capability"

	"github.com/berth-engine/berth/internal/errdefs"
)

// capabilities applies docker's rules: ALL in CapAdd starts from every
// capability the daemon holds, ALL in CapDrop starts from none, otherwise
// from the default set; then adds, then drops.
func capabilities(opts Options) ([]string, error) {
	bounding, err := boundingSet()
	if err != nil {
		return nil, err
	}
	if opts.Privileged {
		return bounding, nil
	}
	known := map[string]bool{}
	for _, c := range capability.ListKnown() {
		known[capName(c)] = true
	}
	norm := func(list []string) (map[string]bool, bool, error) {
		set, all := map[string]bool{}, false
		for _, c := range list {
			n := strings.ToUpper(strings.TrimSpace(c))
			if n == "ALL" {
				all = true
				continue
			}
			if !strings.HasPrefix(n, "CAP_") {
				n = "CAP_" + n
			}
			if !known[n] {
				return nil, false, errdefs.InvalidParameter(fmt.Errorf("unknown capability: %q", c))
			}
			set[n] = true
		}
		return set, all, nil
	}
	add, addAll, err := norm(opts.CapAdd)
	if err != nil {
		return nil, err
	}
	drop, dropAll, err := norm(opts.CapDrop)
	if err != nil {
		return nil, err
	}
	var base []string
	switch {
	case addAll:
		base = bounding
	case dropAll:
		base = nil
	default:
		base = DefaultCapabilities
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range base {
		if !drop[c] && !seen[c] {
			out, seen[c] = append(out, c), true
		}
	}
	// Adds are applied in the kernel's order, so equal requests give equal specs.
	for _, c := range capability.ListKnown() {
		n := capName(c)
		if add[n] && !seen[n] && (!drop[n] || dropAll) {
			out, seen[n] = append(out, n), true
		}
	}
	return out, nil
}

func capName(c capability.Cap) string {
	if names := capNames(); int(c) < len(names) && names[c] != "" {
		return names[c]
	}
	return "CAP_" + strings.ToUpper(c.String())
}

// capNames holds "CAP_" names by number, for the capabilities the library
// knows: every spec names them all, a few microseconds each to build.
var capNames = sync.OnceValue(func() []string {
	var names []string
	for _, c := range capability.ListKnown() {
		for int(c) >= len(names) {
			names = append(names, "")
		}
		names[c] = "CAP_" + strings.ToUpper(c.String())
	}
	return names
})

// boundingSet is read from /proc at run time because a daemon in a restricted
// environment (this one lacks CAP_SYS_RESOURCE) cannot grant what it lacks;
// the runtime would fail to start a privileged container that asked for it.
// Once per process: nothing but the daemon itself could shrink its bounding
// set, and every start and exec generates a spec.
func boundingSet() ([]string, error) {
	b, err := ownBoundingSet()
	return slices.Clone(b), err
}

var ownBoundingSet = sync.OnceValues(readBoundingSet)

func readBoundingSet() ([]string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mask uint64
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapBnd:"); ok {
			mask, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("parsing CapBnd: %w", err)
			}
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("no CapBnd in /proc/self/status")
	}
	var out []string
	for _, c := range capability.ListKnown() {
		if mask&(1<<uint(c)) != 0 {
			out = append(out, capName(c))
		}
	}
	return out, nil
}

// canRaiseLimits: whether the daemon holds CAP_SYS_RESOURCE, which its own
// capabilities decide once for its life.
var canRaiseLimits = sync.OnceValue(func() bool { return haveCapability(int(capability.CAP_SYS_RESOURCE)) })

func haveCapability(c int) bool {
	caps, err := capability.NewPid2(0)
	if err != nil || caps.Load() != nil {
		return false
	}
	return caps.Get(capability.EFFECTIVE, capability.Cap(c))
}
