package server

import (
	"os"
	"slices"
	"testing"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPreloadable(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  *configs.Seccomp
		want bool
	}{
		{"none", nil, false},
		{"plain", &configs.Seccomp{DefaultAction: configs.Errno}, true},
		{"spec allow and log", &configs.Seccomp{DefaultAction: configs.Errno, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagLog}}, true},
		{"wait killable", &configs.Seccomp{DefaultAction: configs.Errno, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}, false},
		{"listener", &configs.Seccomp{DefaultAction: configs.Errno, ListenerPath: "/run/agent.sock"}, false},
		{"notify", &configs.Seccomp{DefaultAction: configs.Errno, Syscalls: []*configs.Syscall{{Name: "mkdir", Action: configs.Notify}}}, false},
	} {
		if got := preloadable(c.cfg); got != c.want {
			t.Errorf("%s: preloadable %v, want %v", c.name, got, c.want)
		}
	}
}

// TestWrapLendsOnlyWhatIsMissing checks the command line berth-entry gets:
// the lent capabilities per set are exactly those the sets lacked, none
// with no_new_privs, and the command follows "--" unchanged.
func TestWrapLendsOnlyWhatIsMissing(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pl := &preload{flags: 4, prog: f, entry: f}
	docker := []string{"CAP_CHOWN", "CAP_SETPCAP", "CAP_KILL"}
	yes, no := true, false
	for _, c := range []struct {
		name string
		uid  int
		nnp  *bool
		caps *configs.Capabilities
		want []string // FLAGS BND EFF PRM INH AMB
	}{
		{"root", 0, &no, &configs.Capabilities{Bounding: docker, Effective: docker, Permitted: docker}, []string{"4", "200000", "200000", "200000", "0", "0"}},
		{"user", 1000, nil, &configs.Capabilities{Bounding: docker, Effective: docker, Permitted: docker}, []string{"4", "200000", "200000", "200000", "200100", "200100"}},
		{"no caps", 1000, &no, &configs.Capabilities{}, []string{"4", "200100", "200100", "200100", "200100", "200100"}},
		{"privileged", 0, &no, &configs.Capabilities{Bounding: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"}, Effective: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"}, Permitted: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"}}, []string{"4", "0", "0", "0", "0", "0"}},
		{"no new privileges", 1000, &yes, &configs.Capabilities{}, []string{"4", "0", "0", "0", "0", "0"}},
	} {
		lp := &libcontainer.Process{Args: []string{"sh", "-c", "true"}, UID: c.uid, NoNewPrivileges: c.nnp, Capabilities: c.caps}
		p := &process{lp: lp}
		if err := pl.wrap(p, nil); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p.entryStatus.Close()
		for _, f := range p.childEnds {
			f.Close()
		}
		want := append(append([]string{"/proc/self/fd/5", "3", "4", "5"}, c.want...), "--", "sh", "-c", "true")
		if !slices.Equal(lp.Args, want) {
			t.Errorf("%s: args %q, want %q", c.name, lp.Args, want)
		}
		if len(lp.ExtraFiles) != 3 {
			t.Errorf("%s: %d extra files", c.name, len(lp.ExtraFiles))
		}
		// The caller's capability lists are not modified.
		if slices.Contains(c.caps.Bounding, "CAP_SYS_ADMIN") && c.name != "privileged" {
			t.Errorf("%s: wrap changed the spec's capabilities", c.name)
		}
	}
}

// TestWrapRefusesLabels checks that a process whose AppArmor profile or
// SELinux label would apply to berth-entry instead of the command is
// refused, never started without the container's filter.
func TestWrapRefusesLabels(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pl := &preload{prog: f, entry: f}
	for _, lp := range []*libcontainer.Process{
		{Args: []string{"true"}, AppArmorProfile: "docker-default"},
		{Args: []string{"true"}, Label: "system_u:system_r:container_t:s0"},
	} {
		if err := pl.wrap(&process{lp: lp}, nil); err == nil {
			t.Errorf("wrap accepted %+v", lp)
		}
	}
}

// Without libseccomp, a profile with no flags gets specconv's default
// (SPEC_ALLOW, which this kernel knows); explicit flags, even none, stay.
func TestLeanDefaultFlags(t *testing.T) {
	withFlags := func(f []specs.LinuxSeccompFlag) *specs.Linux {
		return &specs.Linux{Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Flags: f}}
	}
	for _, c := range []struct {
		name       string
		l          *specs.Linux
		libseccomp bool
		want       []specs.LinuxSeccompFlag
	}{
		{"no flags", withFlags(nil), false, []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}},
		{"explicitly none", withFlags([]specs.LinuxSeccompFlag{}), false, nil},
		{"with libseccomp", withFlags(nil), true, nil},
	} {
		cfg := &configs.Seccomp{DefaultAction: configs.Errno}
		leanDefaultFlags(cfg, c.l, c.libseccomp)
		if !slices.Equal(cfg.Flags, c.want) {
			t.Errorf("%s: flags %v, want %v", c.name, cfg.Flags, c.want)
		}
	}
	leanDefaultFlags(nil, withFlags(nil), false) // no profile: nothing to do
}
