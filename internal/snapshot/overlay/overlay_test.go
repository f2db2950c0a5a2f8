package overlay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/internal/storage"
	"github.com/berth-engine/berth/internal/snapshot/testsuite"
)

func TestOverlay(t *testing.T) {
	testsuite.Require(t, Supported)
	testsuite.Run(t, New)
}

// TestLongChain mounts 130 layers: more than fits in one page of mount data
// with absolute paths, so it passes only through the short links.
func TestLongChain(t *testing.T) {
	testsuite.Require(t, Supported)
	ctx := context.Background()
	sn, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	const layers = 130
	parent := ""
	for i := range layers {
		key, name := fmt.Sprintf("key-%d", i), fmt.Sprintf("layer-%d", i)
		mounts, err := sn.Prepare(ctx, key, parent)
		if err != nil {
			t.Fatal(err)
		}
		// Write straight into the upper (or base) dir: mounting 130 times
		// would only slow the test down.
		upper := mounts[0].Source
		for _, o := range mounts[0].Options {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				upper = v
			}
		}
		if err := os.WriteFile(filepath.Join(upper, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := sn.Commit(ctx, name, key); err != nil {
			t.Fatal(err)
		}
		parent = name
	}
	mounts, err := sn.Prepare(ctx, "container", parent)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Join(mounts[0].Options, ",")); n < os.Getpagesize() {
		t.Fatalf("mount data is %d bytes; the test must exceed a page to mean anything", n)
	}
	dir, _ := testsuite.Mount(t, mounts)
	for _, i := range []int{0, 1, layers / 2, layers - 1} {
		name := fmt.Sprintf("layer-%d", i)
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != name {
			t.Fatalf("%s = %q, %v", name, b, err)
		}
	}
}

func TestMountsShape(t *testing.T) {
	tests := []struct {
		name     string
		kind     snapshot.Kind
		parents  []string
		wantType string
		wantRO   bool
	}{
		{"base active", snapshot.KindActive, nil, "bind", false},
		{"empty view", snapshot.KindView, nil, "bind", true},
		{"single-layer view", snapshot.KindView, []string{"1"}, "bind", true},
		{"two-layer view", snapshot.KindView, []string{"2", "1"}, "overlay", false},
		{"active on layer", snapshot.KindActive, []string{"1"}, "overlay", false},
	}
	d := &driver{root: "/r"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := d.Mounts(storage.Snapshot{ID: "9", Kind: tc.kind, ParentIDs: tc.parents})
			if len(m) != 1 || m[0].Type != tc.wantType {
				t.Fatalf("mounts = %+v", m)
			}
			opts := strings.Join(m[0].Options, ",")
			if tc.wantRO != slices.Contains(m[0].Options, "ro") {
				t.Fatalf("options %q, read-only %v", opts, tc.wantRO)
			}
			if tc.wantType == "overlay" && !strings.Contains(opts, "lowerdir=/r/l/") {
				t.Fatalf("lowerdir not through links: %q", opts)
			}
		})
	}
}

func TestStaleLinksRemovedAtOpen(t *testing.T) {
	testsuite.Require(t, Supported)
	root := t.TempDir()
	sn, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(context.Background(), "live", ""); err != nil {
		t.Fatal(err)
	}
	sn.Close()
	stale := filepath.Join(root, "l", "zz")
	if err := os.Symlink("../snapshots/1295/fs", stale); err != nil {
		t.Fatal(err)
	}
	sn, err = New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale link kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "l", linkName("1"))); err != nil {
		t.Fatalf("live link removed: %v", err)
	}
}
