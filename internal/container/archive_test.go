package container

import (
	"testing"
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
