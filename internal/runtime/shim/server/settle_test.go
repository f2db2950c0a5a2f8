package server

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestHandled(t *testing.T) {
	status := func(blk, ign, cgt string) []byte {
		return []byte("Name:\tsh\nState:\tS (sleeping)\nSigQ:\t0/31574\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n" +
			"SigBlk:\t" + blk + "\nSigIgn:\t" + ign + "\nSigCgt:\t" + cgt + "\nCapInh:\t0000000000000000\n")
	}
	const none = "0000000000000000"
	term := "0000000000004000" // SIGTERM is 15: bit 14
	for _, tc := range []struct {
		name   string
		status []byte
		sig    unix.Signal
		want   bool
	}{
		{"default disposition", status(none, none, none), unix.SIGTERM, false},
		{"caught", status(none, none, term), unix.SIGTERM, true},
		{"blocked", status(term, none, none), unix.SIGTERM, true},
		{"ignored", status(none, term, none), unix.SIGTERM, true},
		{"another signal caught", status(none, none, "0000000000000002"), unix.SIGTERM, false},
		{"SIGINT caught", status(none, none, "0000000000000002"), unix.SIGINT, true},
		{"a realtime signal", status(none, none, "8000000000000000"), unix.Signal(64), true},
		{"unreadable", []byte("Name:\tx\n"), unix.SIGTERM, true},
	} {
		if got := handled(tc.status, tc.sig); got != tc.want {
			t.Errorf("%s: handled = %v, want %v", tc.name, got, tc.want)
		}
	}
}
