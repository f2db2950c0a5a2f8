package root

import (
	"slices"
	"testing"

	"github.com/berth-engine/berth/internal/cli"
)

// TestLazyCommandsMatchTree: every lazily built command has the name it is
// listed under, and the list is the whole tree's top level.
func TestLazyCommandsMatchTree(t *testing.T) {
	c := cli.New()
	var listed []string
	for _, l := range lazyCommands(c) {
		if got := l.New().Name(); got != l.Name {
			t.Errorf("listed as %q, builds %q", l.Name, got)
		}
		if slices.Contains(listed, l.Name) {
			t.Errorf("%q listed twice", l.Name)
		}
		listed = append(listed, l.Name)
	}
	var tree []string
	for _, sub := range NewCommand(c).Commands() {
		if len(sub.Aliases) > 0 {
			t.Errorf("%s has aliases %v, which the list does not know", sub.Name(), sub.Aliases)
		}
		if sub.Name() != "completion" {
			tree = append(tree, sub.Name())
		}
	}
	slices.Sort(listed)
	slices.Sort(tree)
	if !slices.Equal(listed, tree) {
		t.Errorf("listed %v\ntree   %v", listed, tree)
	}
}

func TestCommandWord(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rm", "img"}, "run"},
		{[]string{"-H", "unix:///x.sock", "exec", "c", "true"}, "exec"},
		{[]string{"--host=unix:///x.sock", "ps"}, "ps"},
		{[]string{"--host", "unix:///x.sock", "ps"}, "ps"},
		{[]string{"-Hunix:///x.sock", "ps"}, "ps"},
		{[]string{"-D", "ps"}, "ps"},
		{[]string{"-DH", "unix:///x.sock", "ps"}, "ps"},
		{[]string{"--tlsverify", "--tlscacert", "ca.pem", "version"}, "version"},
		{[]string{"-l", "debug", "network", "ls"}, "network"},
		{[]string{"--log-level=debug", "container", "ls"}, "container"},
		{[]string{"run"}, "run"},
		{[]string{}, ""},
		{[]string{"--help"}, ""},
		{[]string{"-h", "run"}, ""},
		{[]string{"-v"}, ""},
		{[]string{"--nosuchflag", "run"}, ""},
		{[]string{"-H"}, ""},
		{[]string{"--", "run"}, ""},
	} {
		if got := commandWord(tc.args); got != tc.want {
			t.Errorf("commandWord(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestNewCommandForBuildsOne(t *testing.T) {
	c := cli.New()
	subs := NewCommandFor(c, []string{"-H", "unix:///x.sock", "exec", "c1", "true"}).Commands()
	if len(subs) != 1 || subs[0].Name() != "exec" {
		t.Errorf("for exec: built %d commands", len(subs))
	}
	all := len(NewCommand(c).Commands())
	for _, args := range [][]string{{"nosuch"}, {"help", "run"}, {"--help"}, {}} {
		if n := len(NewCommandFor(c, args).Commands()); n != all {
			t.Errorf("for %q: built %d commands, want all %d", args, n, all)
		}
	}
}
