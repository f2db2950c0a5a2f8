package spec

import (
	"fmt"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/errdefs"
)

// setSeccomp must run after capabilities are set: Docker's default profile
// allows some syscalls only when the matching capability is granted.
func setSeccomp(s *specs.Spec, profile string) error {
	var (
		sc  *specs.LinuxSeccomp
		err error
	)
	switch profile {
	case "unconfined":
		return nil
	case "", "default", "builtin":
		sc, err = seccomp.GetDefaultProfile(s)
	default:
		sc, err = seccomp.LoadProfile(profile, s)
		if err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("loading seccomp profile: %w", err))
		}
	}
	if err != nil {
		return fmt.Errorf("loading seccomp profile: %w", err)
	}
	s.Linux.Seccomp = sc
	return nil
}
