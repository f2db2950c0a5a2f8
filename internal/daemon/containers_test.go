package daemon

import "testing"

func TestPlanCgroups(t *testing.T) {
	tests := []struct {
		name         string
		procSelf     string
		v2           bool
		parent, leaf string
	}{
		{"v1 root", "9:name=systemd:/\n4:memory:/\n0::/\n", false, "/berth", ""},
		{"v1 nested", "4:memory:/system.slice/berthd.service\n3:cpu,cpuacct:/system.slice/berthd.service\n", false, "/system.slice/berthd.service/berth", ""},
		{"hybrid uses memory", "4:memory:/limited\n0::/other\n", false, "/limited/berth", ""},
		{"v2 root", "0::/\n", true, "/berth", ""},
		{"v2 nested moves daemon to a leaf", "0::/system.slice/berthd.service\n", true, "/system.slice/berthd.service/berth", "/system.slice/berthd.service/daemon"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent, leaf := planCgroups([]byte(tc.procSelf), tc.v2)
			if parent != tc.parent || leaf != tc.leaf {
				t.Fatalf("planCgroups = %q, %q; want %q, %q", parent, leaf, tc.parent, tc.leaf)
			}
		})
	}
}
