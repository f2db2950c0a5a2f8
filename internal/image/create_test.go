package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func TestCreateChildImages(t *testing.T) {
	e := newOverlayEnv(t)
	ctx := context.Background()
	base := e.importImage("base", "base:1", `CMD ["/bin/sh"]`, "ENV A=1")

	// A layer with a new file and a deletion (whiteout), tagged.
	layerTar := mkTar(t, tarEntry{name: "etc/", typ: '5'}, tarEntry{name: "etc/new", body: "new"}, tarEntry{name: "etc/.wh.hostname"})
	var cfg dockerspec.DockerOCIImageConfig
	cfg.Cmd = []string{"echo", "x"}
	defaults := dockerspec.DockerOCIImageConfig{}
	defaults.Env = []string{"A=1", "B=2"}
	defaults.Labels = map[string]string{"l": "d"}
	defaults.WorkingDir = "/w"
	child, err := e.svc.Create(ctx, CreateOptions{
		Parent: base.String(), Layer: bytes.NewReader(layerTar), Config: cfg,
		Changes: []string{"ENV A=changed", "LABEL x=y"}, Defaults: &defaults,
		CreatedBy: "sh -c thing", Comment: "c1", Author: "me", Tags: []string{"child:1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	insp, err := e.svc.Inspect(ctx, "child:1")
	if err != nil || insp.ID != child.String() {
		t.Fatalf("inspect: %v %v", insp, err)
	}
	c := insp.Config
	if insp.Author != "me" || insp.Comment != "c1" || len(insp.RootFS.Layers) != 2 {
		t.Fatalf("author/comment/layers: %+v", insp)
	}
	if strings.Join(c.Env, ",") != "A=changed,B=2" || c.Labels["x"] != "y" || c.Labels["l"] != "d" || c.WorkingDir != "/w" || strings.Join(c.Cmd, " ") != "echo x" {
		t.Fatalf("config merge: %+v", c)
	}
	hist, _ := e.svc.History(ctx, "child:1")
	if len(hist) != 2 || hist[0].CreatedBy != "sh -c thing" || hist[0].ID != child.String() || hist[1].ID != base.String() {
		t.Fatalf("history: %+v", hist)
	}
	dir, release, err := e.svc.View(ctx, child.String())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/new")); string(b) != "new" {
		t.Errorf("view: etc/new = %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/hostname")); !os.IsNotExist(err) {
		t.Errorf("whiteout not applied: %v", err)
	}
	release()
	if err := e.svc.RemoveStaleViews(ctx); err != nil {
		t.Fatal(err)
	}

	// No layer: an empty_layer entry on top of the same layers.
	meta, err := e.svc.Create(ctx, CreateOptions{Parent: child.String(), Config: c2(cfg), CreatedBy: "#(nop) CMD"})
	if err != nil {
		t.Fatal(err)
	}
	insp, _ = e.svc.Inspect(ctx, meta.String())
	if len(insp.RootFS.Layers) != 2 {
		t.Fatalf("metadata-only child has %d layers", len(insp.RootFS.Layers))
	}
	// DeleteUnused: the untagged leaf goes; the tagged child stays.
	deleted, _, err := e.svc.DeleteUnused(ctx, meta.String())
	if err != nil || len(deleted) == 0 || deleted[0] != meta.String() {
		t.Fatalf("delete unused: %v %v", deleted, err)
	}
	deleted, _, err = e.svc.DeleteUnused(ctx, child.String())
	if err != nil || len(deleted) != 0 || !e.svc.Exists(child) {
		t.Fatalf("a tagged image must stay: %v %v", deleted, err)
	}
}

func c2(c dockerspec.DockerOCIImageConfig) dockerspec.DockerOCIImageConfig {
	c.Cmd = []string{"other"}
	return c
}

// BenchmarkCreate10MB: a build's COPY of 10 MB, as the image service
// stores it (blob, snapshot, records).
func BenchmarkCreate10MB(b *testing.B) {
	e := newOverlayEnv(b)
	base := e.importImage("base", "")
	data := make([]byte, 10<<20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data[0] = byte(i)
		data[1] = byte(i >> 8)
		layer := mkTar(b, tarEntry{name: "big.bin", body: string(data)})
		if _, err := e.svc.Create(context.Background(), CreateOptions{Parent: base.String(), Layer: bytes.NewReader(layer), CreatedBy: "COPY"}); err != nil {
			b.Fatal(err)
		}
	}
}
