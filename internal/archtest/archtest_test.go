// Package archtest enforces the dependency direction documented in
// docs/ARCHITECTURE.md: a package may import Berth packages of its own
// layer or below, never above; the CLI never reaches into the daemon.
package archtest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/berth-engine/berth/"

// layers maps package path prefixes (relative to the module) to a rank.
// Longest prefix wins. Keep this table and docs/ARCHITECTURE.md in step.
var layers = map[string]int{
	"internal/errdefs":  0,
	"internal/version":  0,
	"internal/apiext":   0,
	"internal/metadata": 1,
	"internal/content":  1,
	"internal/snapshot": 1,
	"internal/layer":    1,
	"internal/events":   1,
	"internal/sysinfo":  1,
	"internal/config":   1,
	"internal/runtime":  2,
	"internal/image":    2,
	// Config rules shared by commit --change and the builder.
	"internal/image/imageconfig": 1,
	"internal/registry":          2,
	"internal/network":           2,
	"internal/volume":            2,
	"internal/build":             2,
	"internal/container":         3,
	"internal/server":            4,
	"internal/daemon":            5,
	"cmd/berthd":                 6,
	"cmd/berth-shim":             6,
	"cmd/berth-init":             6,
	// The CLI is its own column: it talks to the daemon only over the API.
	"internal/cli": 10,
	"cmd/berth":    11,
	// Tests and tooling.
	"integration":       20,
	"internal/archtest": 20,
}

// cliMayImport lists the only Berth packages the CLI may use.
var cliMayImport = []string{"internal/cli", "internal/errdefs", "internal/version", "internal/apiext"}

// shimMayImport keeps berth-shim small and free of daemon code.
var shimMayImport = []string{"internal/runtime", "internal/errdefs", "internal/version"}

func rank(pkg string) (int, bool) {
	best, bestLen := 0, -1
	for prefix, r := range layers {
		if (pkg == prefix || strings.HasPrefix(pkg, prefix+"/")) && len(prefix) > bestLen {
			best, bestLen = r, len(prefix)
		}
	}
	return best, bestLen >= 0
}

func hasPrefixIn(pkg string, prefixes []string) bool {
	for _, p := range prefixes {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

type listed struct {
	ImportPath string
	Imports    []string
}

func TestDependencyDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", "-tags", "seccomp", module+"...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var violations []string
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		from := strings.TrimPrefix(p.ImportPath, module)
		fromRank, ok := rank(from)
		if !ok {
			violations = append(violations, from+": not placed in a layer (add it to archtest and docs/ARCHITECTURE.md)")
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := strings.TrimPrefix(imp, module)
			toRank, ok := rank(to)
			switch {
			case !ok:
				violations = append(violations, from+" imports unplaced "+to)
			case strings.HasPrefix(from, "internal/cli") || from == "cmd/berth":
				if !hasPrefixIn(to, cliMayImport) {
					violations = append(violations, from+" (CLI) imports "+to)
				}
			case from == "cmd/berth-shim" || strings.HasPrefix(from, "internal/runtime/shim"):
				if !hasPrefixIn(to, shimMayImport) {
					violations = append(violations, from+" (shim) imports "+to)
				}
			case toRank >= 10 && fromRank < 20:
				violations = append(violations, from+" imports CLI package "+to)
			case toRank > fromRank:
				violations = append(violations, from+" (layer "+itoa(fromRank)+") imports "+to+" (layer "+itoa(toRank)+")")
			}
		}
	}
	sort.Strings(violations)
	for _, v := range violations {
		t.Error(v)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestRank(t *testing.T) {
	tests := []struct {
		pkg  string
		want int
	}{
		{"internal/server/router/system", 4},
		{"internal/snapshot/overlay", 1},
		{"internal/cli/system", 10},
		{"cmd/berth", 11},
		{"cmd/berthd", 6},
	}
	for _, tc := range tests {
		if got, ok := rank(tc.pkg); !ok || got != tc.want {
			t.Errorf("rank(%q) = %d, %v; want %d", tc.pkg, got, ok, tc.want)
		}
	}
	if _, ok := rank("internal/unknown"); ok {
		t.Error("unknown package must not be placed")
	}
}

// TestShimLinksNoHTTPStack: berth-shim is also the init of every container
// and exec, so every package it links is initialised at each start; it
// serves its socket with its own small HTTP/1.1 server and links neither
// net/http nor TLS (see docs/ARCHITECTURE.md).
func TestShimLinksNoHTTPStack(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-tags", "seccomp netgo osusergo", "./cmd/berth-shim")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps gave %d packages: %q", len(deps), out)
	}
	for _, d := range deps {
		if d == "net/http" || d == "crypto/tls" || strings.HasPrefix(d, "net/http/") {
			t.Errorf("berth-shim links %s", d)
		}
	}
}

// TestCLILinksNoHeavyInit: every berth command is a process start, and each
// linked package's initialisation runs at every one. The CLI has its own
// API client, image reference parser and cp archiver instead of these
// (see docs/ARCHITECTURE.md): together they spent about 2 ms per start
// building regexps, CRC tables and telemetry globals.
func TestCLILinksNoHeavyInit(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./cmd/berth")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps gave %d packages: %q", len(deps), out)
	}
	banned := []string{"github.com/moby/moby/client", "github.com/distribution/reference",
		"github.com/moby/go-archive", "github.com/klauspost/compress", "go.opentelemetry.io/"}
	for _, d := range deps {
		for _, b := range banned {
			if strings.HasPrefix(d, b) {
				t.Errorf("berth links %s", d)
			}
		}
	}
}
