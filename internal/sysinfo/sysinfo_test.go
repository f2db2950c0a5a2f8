package sysinfo

import "testing"

func TestParseOSRelease(t *testing.T) {
	pretty, id := ParseOSRelease([]byte("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n"))
	if pretty != "Debian GNU/Linux 12 (bookworm)" || id != "12" {
		t.Fatalf("got %q %q", pretty, id)
	}
	if p, _ := ParseOSRelease(nil); p != "Linux" {
		t.Fatalf("empty os-release: %q", p)
	}
}

func TestParseMemTotal(t *testing.T) {
	if got := ParseMemTotal([]byte("MemTotal:       24576000 kB\nMemFree: 1 kB\n")); got != 24576000*1024 {
		t.Fatalf("got %d", got)
	}
}

func TestRead(t *testing.T) {
	h := Read()
	if h.NCPU < 1 || h.KernelVersion == "" || h.MemTotal <= 0 {
		t.Fatalf("implausible host facts: %+v", h)
	}
	if h.CgroupVersion != "1" && h.CgroupVersion != "2" {
		t.Fatalf("cgroup version %q", h.CgroupVersion)
	}
}
