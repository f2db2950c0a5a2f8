package container

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cleanupOrphan releases what a container's runtime held when its shim
// died without destroying it: processes left in its cgroup are killed, the
// cgroup directories removed, and libcontainer's state dropped.
func (s *Service) cleanupOrphan(c *Container) {
	dirs := cgroupDirs("/sys/fs/cgroup", s.cgroupsPath(c))
	for _, d := range dirs {
		killCgroup(d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, d := range dirs {
		for {
			err := os.Remove(d)
			if err == nil || os.IsNotExist(err) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	_ = os.RemoveAll(filepath.Join(s.stateDir(), c.ID))
}

// cgroupDirs lists the directories of cgroup path under root: one per v1
// hierarchy (root/<controller>/path), or root/path on a unified host.
func cgroupDirs(root, path string) []string {
	var out []string
	if fi, err := os.Stat(filepath.Join(root, path, "cgroup.procs")); err == nil && !fi.IsDir() {
		if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
			return []string{filepath.Join(root, path)}
		}
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	for _, e := range ents {
		d := filepath.Join(root, e.Name(), path)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

func killCgroup(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
