package server

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// These tests build cmd/berth-entry/entry.c as the Makefile does and run it
// with the protocol wrap gives it: program, status pipe and executable as
// fds 3, 4 and 5.

var (
	entryOnce sync.Once
	entryBin  string
	entryErr  error
)

func entryBinary(t *testing.T) string {
	t.Helper()
	entryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "berth-entry-test-")
		if err != nil {
			entryErr = err
			return
		}
		entryBin = filepath.Join(dir, "berth-entry")
		// Built as the Makefile builds it.
		script := filepath.Join("..", "..", "..", "..", "scripts", "build-entry.sh")
		out, err := exec.Command(script, entryBin).CombinedOutput()
		if err != nil {
			entryErr = errors.New("build-entry.sh: " + err.Error() + "\n" + string(out))
		}
	})
	if entryErr != nil {
		t.Fatal(entryErr)
	}
	return entryBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if entryBin != "" {
		os.RemoveAll(filepath.Dir(entryBin))
	}
	os.Exit(code)
}

// allowAll is a one-instruction program: return SECCOMP_RET_ALLOW.
func allowAll() []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint16(b[0:], unix.BPF_RET|unix.BPF_K)
	binary.LittleEndian.PutUint32(b[4:], unix.SECCOMP_RET_ALLOW)
	return b
}

type entryResult struct {
	code   int
	status string // what the status pipe carried
	stdout string
	stderr string
}

// runEntry runs berth-entry with prog as its program and the given masks
// (BND EFF PRM INH AMB, hex) and command.
func runEntry(t *testing.T, prog []byte, masks [5]string, env []string, command ...string) entryResult {
	t.Helper()
	bin := entryBinary(t)
	dir := t.TempDir()
	progPath := filepath.Join(dir, "prog")
	if err := os.WriteFile(progPath, prog, 0o600); err != nil {
		t.Fatal(err)
	}
	pf, err := os.Open(progPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	ef, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	sr, sw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	args := append([]string{"3", "4", "5", "0"}, masks[:]...)
	args = append(append(args, "--"), command...)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{pf, sw, ef}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		sw.Close()
		t.Fatal(err)
	}
	sw.Close()
	status, _ := io.ReadAll(sr)
	err = cmd.Wait()
	res := entryResult{status: string(status), stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return res
}

var noMasks = [5]string{"0", "0", "0", "0", "0"}

func TestEntryUsage(t *testing.T) {
	bin := entryBinary(t)
	for _, args := range [][]string{
		{},
		{"3", "4", "5", "0", "0", "0", "0", "0", "0", "--"},                       // no command
		{"3", "4", "5", "0", "0", "0", "0", "0", "0", "sh"},                       // no --
		{"1", "4", "5", "0", "0", "0", "0", "0", "0", "--", "sh"},                 // stdio is not ours
		{"3", "4", "5", "8", "0", "0", "0", "0", "0", "--", "sh"},                 // a flag that needs more than a load
		{"3", "4", "5", "0", "0", "0", "zz", "0", "0", "--", "sh"},                // not hex
		{"3", "4", "5", "0", "0", "0", "0", "0", "0", "0", "--", "sh"},            // a mask too many
		{"3", "4", "5", "0", "11111111111111111", "0", "0", "0", "0", "--", "sh"}, // 17 digits
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%q: %v, want exit code 2", args, err)
		}
		if !strings.HasPrefix(string(out), "berth-entry: ") {
			t.Errorf("%q: output %q", args, out)
		}
	}
}

// TestEntryLookup checks the command lookup before any filter: Go's
// exec.LookPath messages (which libcontainer passes on and the daemon maps to
// 126 and 127) and the codes.
func TestEntryLookup(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + dir}
	for _, tc := range []struct {
		cmd    string
		code   int
		status string
	}{
		{"nosuchcommand", 127, `exec: "nosuchcommand": executable file not found in $PATH`},
		{"adir", 127, `exec: "adir": executable file not found in $PATH`},
		{filepath.Join(dir, "adir"), 127, "is a directory"},
		{filepath.Join(dir, "noexec"), 126, "permission denied"},
		{filepath.Join(dir, "missing"), 127, "no such file or directory"},
	} {
		r := runEntry(t, allowAll(), noMasks, env, tc.cmd)
		if r.code != tc.code || !strings.Contains(r.status, tc.status) {
			t.Errorf("%s: exit %d, status %q; want %d and %q", tc.cmd, r.code, r.status, tc.code, tc.status)
		}
	}
}

func TestEntryBadProgram(t *testing.T) {
	for _, prog := range [][]byte{nil, allowAll()[:5], make([]byte, 8*4097)} {
		r := runEntry(t, prog, noMasks, []string{"PATH=/bin:/usr/bin"}, "true")
		if r.code != 1 || !strings.Contains(r.status, "seccomp program of") {
			t.Errorf("program of %d bytes: exit %d, status %q", len(prog), r.code, r.status)
		}
	}
}

// TestEntryRuns loads a filter, returns a lent bounding capability and runs
// the command, whose exit code passes through.
func TestEntryRuns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: returning a lent capability needs it held")
	}
	if err := unix.Prctl(unix.PR_CAPBSET_READ, unix.CAP_SYS_TIME, 0, 0, 0); err != nil {
		t.Skip("CAP_SYS_TIME is not in this process's bounding set")
	}
	masks := noMasks
	masks[0] = strconv.FormatUint(1<<unix.CAP_SYS_TIME, 16)
	r := runEntry(t, allowAll(), masks, []string{"PATH=/usr/bin:/bin"}, "cat", "/proc/self/status")
	if r.code != 0 || r.status != "" {
		t.Fatalf("exit %d, status %q, stderr %q", r.code, r.status, r.stderr)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	if fields["Seccomp"] != "2" {
		t.Errorf("Seccomp: %q, want 2 (filter)", fields["Seccomp"])
	}
	bnd, err := strconv.ParseUint(fields["CapBnd"], 16, 64)
	if err != nil {
		t.Fatalf("CapBnd %q: %v", fields["CapBnd"], err)
	}
	if bnd&(1<<unix.CAP_SYS_TIME) != 0 {
		t.Errorf("CapBnd %x still holds the lent CAP_SYS_TIME", bnd)
	}
	if bnd&(1<<unix.CAP_CHOWN) == 0 {
		t.Errorf("CapBnd %x lost CAP_CHOWN, which was not lent", bnd)
	}

	r = runEntry(t, allowAll(), noMasks, []string{"PATH=/usr/bin:/bin"}, "sh", "-c", "exit 42")
	if r.code != 42 || r.status != "" {
		t.Errorf("exit %d, status %q; want 42 and no status", r.code, r.status)
	}
}
