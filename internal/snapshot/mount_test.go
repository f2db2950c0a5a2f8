package snapshot

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		opts  []string
		flags uintptr
		data  []string
	}{
		{[]string{"rbind", "ro"}, unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, nil},
		{[]string{"ro", "rw"}, 0, nil},
		{[]string{"nosuid", "lowerdir=/a:/b", "index=off"}, unix.MS_NOSUID, []string{"lowerdir=/a:/b", "index=off"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.opts, ","), func(t *testing.T) {
			f, data := parseOptions(tc.opts)
			if f != tc.flags || !slices.Equal(data, tc.data) {
				t.Fatalf("parseOptions = %#x %q, want %#x %q", f, data, tc.flags, tc.data)
			}
		})
	}
}

func TestCompactLowerdir(t *testing.T) {
	tests := []struct {
		name     string
		data     []string
		wantDir  string
		wantOpts string
	}{
		{"links", []string{"upperdir=/r/s/9/fs", "lowerdir=/r/l/a:/r/l/b"}, "/r/l", "upperdir=/r/s/9/fs,lowerdir=a:b"},
		{"mixed depth", []string{"lowerdir=/r/l/a:/r/x/b"}, "/r", "lowerdir=l/a:x/b"},
		{"nothing in common", []string{"lowerdir=/a/x:/b/y"}, "", "lowerdir=/a/x:/b/y"},
		{"no lowerdir", []string{"upperdir=/u"}, "", "upperdir=/u"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, opts := compactLowerdir(tc.data)
			if dir != tc.wantDir || opts != tc.wantOpts {
				t.Fatalf("compactLowerdir = %q %q, want %q %q", dir, opts, tc.wantDir, tc.wantOpts)
			}
		})
	}
}
