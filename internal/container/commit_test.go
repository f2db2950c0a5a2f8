package container

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
)

// fakeCreator records what a commit hands the image service.
type fakeCreator struct {
	mu    sync.Mutex
	imgs  []NewImage
	files [][]string // per image: "name" or "name=content" for regular files
}

func (f *fakeCreator) CreateImage(_ context.Context, img NewImage) (string, error) {
	var names []string
	if img.Layer != nil {
		tr := tar.NewReader(img.Layer)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", err
			}
			if h.Typeflag == tar.TypeReg {
				b, _ := io.ReadAll(tr)
				names = append(names, h.Name+"="+string(b))
			} else {
				names = append(names, h.Name)
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imgs = append(f.imgs, img)
	f.files = append(f.files, names)
	return "sha256:" + strings.Repeat("f", 64), nil
}

func TestRunAndCommit(t *testing.T) {
	e := newEnv(t)
	fc := &fakeCreator{}
	e.svc.cfg.ImageCreator = fc
	ctx := context.Background()
	var out bytes.Buffer
	var started string
	commitCfg := dockerspec.DockerOCIImageConfig{}
	commitCfg.Cmd = []string{"final"}
	code, id, err := e.svc.RunAndCommit(ctx, RunOptions{
		Config:     &container.Config{Image: "busybox", Entrypoint: []string{}, Cmd: []string{"sh", "-c", "echo out; echo err >&2; echo data > /new; rm /bin/vi"}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
		Output:     &out,
		OnStart:    func(id string) { started = id },
		Commit:     CommitOptions{ImageConfig: &commitCfg, CreatedBy: "step", Quiet: true},
	})
	if err != nil || code != 0 || id == "" {
		t.Fatalf("run: code %d id %q err %v", code, id, err)
	}
	if !strings.Contains(out.String(), "out\n") || !strings.Contains(out.String(), "err\n") {
		t.Fatalf("output %q", out.String())
	}
	if started == "" || len(e.svc.store.all()) != 0 {
		t.Fatalf("the container must be gone: %d left", len(e.svc.store.all()))
	}
	img := fc.imgs[0]
	if img.CreatedBy != "step" || img.Config.Cmd[0] != "final" || img.Changes != nil || img.Defaults != nil {
		t.Fatalf("commit request: %+v", img)
	}
	got := strings.Join(fc.files[0], " ")
	if !strings.Contains(got, "new=data\n") || !strings.Contains(got, "bin/.wh.vi") || strings.Contains(got, "etc/hosts") {
		t.Fatalf("layer: %s", got)
	}

	// A failing command: its code, no commit, no container left.
	code, id, err = e.svc.RunAndCommit(ctx, RunOptions{
		Config:     &container.Config{Image: "busybox", Entrypoint: []string{}, Cmd: []string{"sh", "-c", "exit 3"}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
		Commit:     CommitOptions{ImageConfig: &commitCfg},
	})
	if err != nil || code != 3 || id != "" || len(fc.imgs) != 1 || len(e.svc.store.all()) != 0 {
		t.Fatalf("failing run: code %d id %q err %v imgs %d", code, id, err, len(fc.imgs))
	}
}

func TestCommitConfigAndEmptyLayer(t *testing.T) {
	e := newEnv(t)
	fc := &fakeCreator{}
	e.svc.cfg.ImageCreator = fc
	ctx := context.Background()
	id, _, err := e.svc.Create(ctx, CreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"true"}, Env: []string{"X=1"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Never started: nothing changed, so no layer.
	if _, err := e.svc.Commit(ctx, id, CommitOptions{Tag: "x:1", Changes: []string{"CMD [\"a\"]"}, Comment: "m", Pause: true}); err != nil {
		t.Fatal(err)
	}
	img := fc.imgs[0]
	if img.Layer != nil || img.CreatedBy != "true" || img.Comment != "m" || img.Tags[0] != "x:1" || img.Defaults != nil {
		t.Fatalf("commit: %+v", img)
	}
	if strings.Join(img.Config.Env, ",") != "PATH=/usr/sbin:/usr/bin:/sbin:/bin,X=1" || img.Changes[0] != `CMD ["a"]` {
		t.Fatalf("config: %+v", img.Config)
	}
	// A request config replaces the container's, which becomes the defaults.
	if _, err := e.svc.Commit(ctx, id, CommitOptions{Config: &container.Config{Cmd: []string{"b"}}}); err != nil {
		t.Fatal(err)
	}
	img = fc.imgs[1]
	if img.Config.Cmd[0] != "b" || img.Defaults == nil || strings.Join(img.Defaults.Cmd, " ") != "true" {
		t.Fatalf("body config: %+v", img)
	}
	if _, err := e.svc.Commit(ctx, "nosuch", CommitOptions{}); err == nil {
		t.Fatalf("commit of a missing container")
	}
}
