package main

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	o, err := parse([]string{"3", "4", "5", "4", "200000", "200000", "200000", "200100", "200100", "--", "sh", "-c", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if o.bpfFD != 3 || o.statusFD != 4 || o.exeFD != 5 || o.flags != 4 || o.bnd != 0x200000 || o.amb != 0x200100 || !slices.Equal(o.args, []string{"sh", "-c", "x"}) {
		t.Errorf("parsed %+v", o)
	}
	for _, bad := range [][]string{
		{"3", "4", "5", "4", "0", "0", "0", "0", "0", "--"},                  // no command
		{"3", "4", "5", "4", "0", "0", "0", "0", "0", "sh"},                  // no --
		{"1", "4", "5", "4", "0", "0", "0", "0", "0", "--", "sh"},            // stdio is not ours
		{"3", "4", "5", "8", "0", "0", "0", "0", "0", "--", "sh"},            // a flag that needs more than a load
		{"3", "4", "5", "4", "0", "0", "zz", "0", "0", "--", "sh"},           // not hex
		{"3", "4", "5", "4", "0", "0", "0", "0", "0", "0", "--", "sh", "-c"}, // a mask too many
	} {
		if _, err := parse(bad); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}
