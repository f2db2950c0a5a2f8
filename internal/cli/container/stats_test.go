package container

import (
	"bytes"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestCPUPercent(t *testing.T) {
	cpu := func(total, system uint64, online uint32, percpu int) container.CPUStats {
		return container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: total, PercpuUsage: make([]uint64, percpu)}, SystemUsage: system, OnlineCPUs: online}
	}
	tests := []struct {
		name      string
		prev, cur container.CPUStats
		want      float64
	}{
		{"one busy CPU of four", cpu(0, 0, 4, 0), cpu(250, 1000, 4, 0), 100},
		{"online from percpu", cpu(0, 0, 0, 0), cpu(100, 1000, 0, 2), 20},
		{"no previous sample", container.CPUStats{}, cpu(100, 0, 4, 0), 0},
		{"idle", cpu(100, 1000, 4, 0), cpu(100, 2000, 4, 0), 0},
	}
	for _, tc := range tests {
		if got := cpuPercent(tc.prev, tc.cur); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMemUsageNoCache(t *testing.T) {
	tests := []struct {
		name  string
		usage uint64
		stats map[string]uint64
		want  float64
	}{
		{"v1", 1000, map[string]uint64{"total_inactive_file": 300, "inactive_file": 100}, 700},
		{"v1 cache above usage", 1000, map[string]uint64{"total_inactive_file": 3000}, 1000},
		{"v2", 1000, map[string]uint64{"inactive_file": 100}, 900},
		{"no stats", 1000, nil, 1000},
	}
	for _, tc := range tests {
		if got := memUsageNoCache(container.MemoryStats{Usage: tc.usage, Stats: tc.stats}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStatsTable(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	running := &statsEntry{container: "web", id: id}
	running.fill(container.StatsResponse{
		Name: "/web", ID: id,
		PreCPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 0}, SystemUsage: 0},
		CPUStats:    container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 50}, SystemUsage: 1000, OnlineCPUs: 2},
		MemoryStats: container.MemoryStats{Usage: 3 << 20, Limit: 64 << 20, Stats: map[string]uint64{"total_inactive_file": 1 << 20}},
		Networks:    map[string]container.NetworkStats{"eth0": {RxBytes: 1500, TxBytes: 700}},
		BlkioStats:  container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{{Op: "Read", Value: 4096}, {Op: "write", Value: 2_500_000}}},
		PidsStats:   container.PidsStats{Current: 3},
	})
	stopped := &statsEntry{container: "old", id: id}
	stopped.fill(container.StatsResponse{Name: "/old", ID: id})
	broken := &statsEntry{container: "gone", id: "gone", invalid: true, seen: true}
	var buf bytes.Buffer
	if err := writeStats(&buf, defaultStatsFormat, &statsSet{entries: []*statsEntry{running, stopped, broken}}, true); err != nil {
		t.Fatal(err)
	}
	want := "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        BLOCK I/O       PIDS\n" +
		"0123456789ab   web       10.00%    2MiB / 64MiB        3.12%     1.5kB / 700B   4.1kB / 2.5MB   3\n" +
		"0123456789ab   old       0.00%     0B / 0B             0.00%     0B / 0B        0B / 0B         0\n" +
		"gone           --        --        -- / --             --        --             --              --\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
