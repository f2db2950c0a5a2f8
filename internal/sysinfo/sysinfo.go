// Package sysinfo reads facts about the host that /info reports: kernel,
// operating system, memory, CPUs and the cgroup version in use.
package sysinfo

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Host is what the daemon reports about the machine it runs on.
type Host struct {
	KernelVersion   string
	OperatingSystem string
	OSVersion       string
	Architecture    string
	NCPU            int
	MemTotal        int64
	CgroupVersion   string // "1" or "2"
	Hostname        string
}

// Read gathers the host facts. Missing files leave fields empty rather than
// failing: /info must answer on odd hosts too.
func Read() Host {
	h := Host{NCPU: runtime.NumCPU(), CgroupVersion: CgroupVersion("/sys/fs/cgroup")}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.KernelVersion = unix.ByteSliceToString(u.Release[:])
		h.Architecture = unix.ByteSliceToString(u.Machine[:])
	}
	h.Hostname, _ = os.Hostname()
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		h.OperatingSystem, h.OSVersion = ParseOSRelease(data)
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		h.MemTotal = ParseMemTotal(data)
	}
	return h
}

// ParseOSRelease returns PRETTY_NAME and VERSION_ID from os-release text.
func ParseOSRelease(data []byte) (pretty, versionID string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "PRETTY_NAME":
			pretty = v
		case "VERSION_ID":
			versionID = v
		}
	}
	if pretty == "" {
		pretty = "Linux"
	}
	return pretty, versionID
}

// ParseMemTotal returns MemTotal from /proc/meminfo text, in bytes.
func ParseMemTotal(data []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// CgroupVersion reports "2" when mountpoint is a cgroup2 (unified) mount,
// "1" otherwise (v1 or hybrid, as on this project's CI machines).
func CgroupVersion(mountpoint string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(mountpoint, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}
