// Package imageconfig holds the small rules of an image config that both
// `commit --change` (package image) and the builder apply: setting an
// environment variable and expanding an EXPOSE word.
package imageconfig

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SetEnv sets k=v in env, replacing an earlier value of k in place.
func SetEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// ExpandPorts expands an EXPOSE word (80, 80/udp, 8000-8002/tcp) into
// port/proto keys, sorted.
func ExpandPorts(w string) ([]string, error) {
	spec, proto, _ := strings.Cut(w, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", spec)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
			return nil, fmt.Errorf("invalid containerPort: %s", spec)
		}
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	sort.Strings(out)
	return out, nil
}
