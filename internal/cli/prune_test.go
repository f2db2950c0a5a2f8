package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "maybe\n": false} {
		var out bytes.Buffer
		if got := Confirm(strings.NewReader(in), &out, "WARNING! x"); got != want {
			t.Errorf("Confirm(%q) = %v, want %v", in, got, want)
		}
		if out.String() != "WARNING! x\nAre you sure you want to continue? [y/N] " {
			t.Errorf("prompt %q", out.String())
		}
	}
}

func TestPrintPruneReport(t *testing.T) {
	var out bytes.Buffer
	PrintDeleted(&out, "Deleted Volumes:", nil)
	PrintDeleted(&out, "Deleted Volumes:", []string{"a", "b"})
	PrintReclaimed(&out, 2048)
	if want := "Deleted Volumes:\na\nb\n\nTotal reclaimed space: 2.048kB\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
