package container

import (
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestMountAt(t *testing.T) {
	mps := []*mountPoint{
		{Destination: "/data", RW: true},
		{Destination: "/data/ro", RW: false},
		{Destination: "/datafile"},
	}
	for p, want := range map[string]string{
		"/data": "/data", "/data/x": "/data", "/data/ro": "/data/ro", "/data/ro/y": "/data/ro",
		"/datax": "", "/": "", "/datafile": "/datafile", "/etc/data": "",
	} {
		got := mountAt(mps, p)
		switch {
		case want == "" && got != nil:
			t.Errorf("%s: got %s, want none", p, got.Destination)
		case want != "" && (got == nil || got.Destination != want):
			t.Errorf("%s: got %v, want %s", p, got, want)
		}
	}
}

func TestAbsContainerPath(t *testing.T) {
	for in, want := range map[string]string{
		"etc":        "/etc",
		"/etc/":      "/etc/",
		"/etc/.":     "/etc/.",
		"../../etc":  "/etc",
		"/a/../../b": "/b",
		"/":          "/",
	} {
		if got := absContainerPath(in); got != want {
			t.Errorf("absContainerPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMergeUpdate(t *testing.T) {
	hc := &container.HostConfig{Resources: container.Resources{Memory: 64 << 20, MemorySwap: 128 << 20, NanoCPUs: 1e9}}
	if err := mergeUpdate(hc, container.UpdateConfig{Resources: container.Resources{CPUQuota: 50000}}); err == nil {
		t.Fatal("quota over --cpus accepted")
	}
	if err := mergeUpdate(hc, container.UpdateConfig{Resources: container.Resources{Memory: 256 << 20}}); err == nil {
		t.Fatal("memory above the swap limit accepted")
	}
	pids := int64(-1)
	err := mergeUpdate(hc, container.UpdateConfig{
		Resources:     container.Resources{Memory: 100 << 20, NanoCPUs: 5e8, PidsLimit: &pids},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways},
	})
	if err != nil {
		t.Fatal(err)
	}
	if hc.Memory != 100<<20 || hc.MemorySwap != 128<<20 || hc.NanoCPUs != 5e8 || *hc.PidsLimit != 0 || hc.RestartPolicy.Name != container.RestartPolicyAlways {
		t.Fatalf("merged: %+v", hc.Resources)
	}
	hc.AutoRemove = true
	if err := mergeUpdate(hc, container.UpdateConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways}}); err == nil {
		t.Fatal("restart policy on an auto-remove container accepted")
	}
}
