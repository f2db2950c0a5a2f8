package image

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
)

// FuzzArchivePlan feeds arbitrary archives to the staging and manifest
// parsing that every load goes through before it writes anything: they
// must fail cleanly, never panic, and never name a file outside the
// archive.
func FuzzArchivePlan(f *testing.F) {
	f.Add(dockerArchive(f, rootfs(f, "seed"), nil))
	f.Add(ociLayout(f, gz(f, rootfs(f, "seed")), "127.0.0.1:1/x:1"))
	f.Add(mkTar(f, tarEntry{name: "manifest.json", body: `[{"Config":"../x","Layers":["/etc/passwd"]}]`}))
	f.Add(mkTar(f, tarEntry{name: "index.json", body: `{"manifests":[{"digest":"sha256:` + string(bytes.Repeat([]byte("0"), 64)) + `"}]}`}))
	f.Fuzz(func(t *testing.T, data []byte) {
		tmp, err := os.MkdirTemp("", "fuzz-stage-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		st, err := stage(context.Background(), bytes.NewReader(data), tmp)
		if err != nil {
			return
		}
		defer st.remove()
		plans, err := st.plan(nil)
		if err != nil {
			return
		}
		for _, p := range plans {
			if !json.Valid(p.raw) {
				t.Fatalf("plan with invalid config JSON")
			}
			for _, l := range p.layers {
				if _, err := cleanName(l.name); err != nil {
					t.Fatalf("plan names a layer outside the archive: %q", l.name)
				}
			}
		}
	})
}
