package container

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Top lists the container's processes as the host's ps shows them with
// psArgs (default "-ef"). ps runs on the host, so its columns and options
// are the host's; only the rows whose PID is in the container's cgroup are
// kept, which is how dockerd answers /top too.
func (s *Service) Top(ctx context.Context, ref, psArgs string) (container.TopResponse, error) {
	if psArgs == "" {
		psArgs = "-ef"
	}
	if err := checkPsArgs(psArgs); err != nil {
		return container.TopResponse{}, err
	}
	c, err := s.store.get(ref)
	if err != nil {
		return container.TopResponse{}, err
	}
	c.mu.Lock()
	status, pid, id := c.State.Status, c.State.Pid, c.ID
	c.mu.Unlock()
	switch {
	case status == container.StateRestarting:
		return container.TopResponse{}, errdefs.Conflictf("Container %s is restarting, wait until the container is running", id)
	case !(status == container.StateRunning || status == container.StatePaused) || pid == 0:
		return container.TopResponse{}, errdefs.Conflictf("Container %s is not running", id)
	}
	pids, err := containerPids(pid, id)
	if err != nil {
		return container.TopResponse{}, err
	}
	args := strings.Split(psArgs, " ")
	// Asking ps for just our pids (-q) keeps its work small on a busy host;
	// some options (f, for a forest) refuse -q, so on failure ask for all.
	out, err := exec.CommandContext(ctx, "ps", append(args, "-q", joinPids(pids))...).Output()
	if err != nil {
		out, err = exec.CommandContext(ctx, "ps", args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				// ps says what was wrong on its first line of stderr.
				if line, _, _ := strings.Cut(string(ee.Stderr), "\n"); line != "" {
					err = errors.New(line)
				}
			}
			return container.TopResponse{}, fmt.Errorf("ps: %w", err)
		}
	}
	resp, err := parsePs(out, pids)
	if err != nil {
		return container.TopResponse{}, err
	}
	s.event(c, "top", nil)
	return resp, nil
}

// psPidEquals finds "-o x=PID…" style options: a PID column renamed to
// something else would hide it from parsePs, so (as dockerd) only pid may
// carry a PID title.
var psPidEquals = regexp.MustCompile(`\s+([^\s]*)=\s*(PID[^\s]*)`)

// checkPsArgs refuses a renamed PID column; dockerd answers 500 here too.
func checkPsArgs(psArgs string) error {
	for _, m := range psPidEquals.FindAllStringSubmatch(psArgs, -1) {
		if m[1] != "pid" {
			return fmt.Errorf("specifying \"%s=%s\" is not allowed", m[1], m[2])
		}
	}
	return nil
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// parsePs keeps ps's header as the titles and the rows whose PID column is
// one of pids. The last column (the command) may hold spaces, so a row is
// split into as many fields as there are titles, the rest going to the last.
func parsePs(out []byte, pids []int) (container.TopResponse, error) {
	resp := container.TopResponse{Processes: [][]string{}}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return resp, errors.New("ps printed nothing")
	}
	resp.Titles = asciiFields(lines[0])
	pidCol := slices.Index(resp.Titles, "PID")
	if pidCol < 0 {
		return resp, errors.New("Couldn't find PID field in ps output")
	}
	for _, line := range lines[1:] {
		f := asciiFields(line)
		if len(f) <= pidCol {
			continue
		}
		pid, err := strconv.Atoi(f[pidCol])
		if err != nil {
			return resp, fmt.Errorf("unexpected pid '%s': %w", f[pidCol], err)
		}
		if !slices.Contains(pids, pid) {
			continue
		}
		if n := len(resp.Titles); len(f) > n {
			// Re-split keeping the tail intact: the command's own spacing.
			f = splitN(line, n)
		}
		resp.Processes = append(resp.Processes, f)
	}
	return resp, nil
}

// asciiFields splits on ASCII blanks only: a command line may contain
// other Unicode spaces that must stay inside its field.
func asciiFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

// splitN splits line into n blank-separated fields, the last keeping
// everything after the first n-1.
func splitN(line string, n int) []string {
	var out []string
	rest := strings.TrimLeft(line, " \t")
	for len(out) < n-1 && rest != "" {
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			break
		}
		out = append(out, rest[:i])
		rest = strings.TrimLeft(rest[i:], " \t")
	}
	if rest != "" {
		out = append(out, rest)
	}
	return out
}

// containerPids lists the processes in the container's cgroup, found
// through its init (pid) and named by its ID.
func containerPids(pid int, id string) ([]int, error) {
	procCg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, errdefs.Conflictf("Container %s is not running", id)
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer mi.Close()
	mounts, err := parseCgroupMounts(mi)
	if err != nil {
		return nil, err
	}
	dirs := containerCgroupDirs(string(procCg), mounts, id)
	if len(dirs) == 0 {
		return nil, fmt.Errorf("cannot find the cgroup of container %s", id)
	}
	seen := map[int]bool{}
	var pids []int
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if p, err := strconv.Atoi(f); err == nil && !seen[p] {
				seen[p] = true
				pids = append(pids, p)
			}
		}
	}
	if len(pids) == 0 {
		// The container's init is in its cgroup by construction.
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids, nil
}

// cgroupMount is one cgroup filesystem from mountinfo: where it is mounted,
// which part of the hierarchy is its root, and (v1) its controllers.
type cgroupMount struct {
	v2          bool
	root        string
	mountPoint  string
	controllers []string // v1 only: "memory", "cpu", "name=systemd", …
}

// parseCgroupMounts reads the cgroup and cgroup2 mounts from mountinfo.
func parseCgroupMounts(r io.Reader) ([]cgroupMount, error) {
	var out []cgroupMount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts [optional…] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, sf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(sf) < 3 {
			continue
		}
		m := cgroupMount{root: unescapeMountinfo(pf[3]), mountPoint: unescapeMountinfo(pf[4])}
		switch sf[0] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			for _, o := range strings.Split(sf[2], ",") {
				if o == "rw" || o == "ro" || strings.HasPrefix(o, "release_agent=") || o == "clone_children" || o == "noprefix" || o == "xattr" || o == "cpuset_v2_mode" {
					continue
				}
				m.controllers = append(m.controllers, o)
			}
		default:
			continue
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) the kernel
// writes in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// containerCgroupDirs maps the lines of /proc/<pid>/cgroup to directories
// on this host's cgroup mounts. Only the hierarchies where the container
// has its own cgroup (the path ends in its ID, as cgroupsPath places it)
// count: a v1 hierarchy the runtime did not manage (name=systemd, or the
// empty v2 one of a hybrid host) would otherwise name a cgroup shared with
// the whole host.
func containerCgroupDirs(procCgroup string, mounts []cgroupMount, id string) []string {
	var dirs []string
	for _, line := range strings.Split(procCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || filepath.Base(parts[2]) != id {
			continue
		}
		path := parts[2]
		for _, m := range mounts {
			if parts[0] == "0" && parts[1] == "" {
				if !m.v2 {
					continue
				}
			} else if m.v2 || !sameControllers(m.controllers, strings.Split(parts[1], ",")) {
				continue
			}
			rel, ok := relUnder(m.root, path)
			if !ok {
				continue
			}
			dir := filepath.Join(m.mountPoint, rel)
			if !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
			break
		}
	}
	return dirs
}

func sameControllers(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// relUnder returns path relative to a mount's root, when the mount shows it.
func relUnder(root, path string) (string, bool) {
	if root == "/" {
		return path, true
	}
	if path == root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(path, root+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}
