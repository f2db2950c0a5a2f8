package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/cli/formatter"
	"github.com/berth-engine/berth/internal/cli/image"
)

// StatsOptions are the flags of `berth stats`.
type StatsOptions struct {
	All        bool
	NoStream   bool
	NoTrunc    bool
	Format     string
	Containers []string
}

// NewStatsCommand returns `berth stats` (also `berth container stats`).
func NewStatsCommand(c *cli.CLI) *cobra.Command {
	var opts StatsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Containers = args
			return RunStats(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.All, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&opts.NoStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	f.BoolVar(&opts.NoTrunc, "no-trunc", false, "Do not truncate output")
	f.StringVar(&opts.Format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

const defaultStatsFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// StatsRow is what `stats --format` templates see, with docker's fields
// rendered as docker renders them.
type StatsRow struct {
	BlockIO   string
	CPUPerc   string
	Container string
	ID        string
	MemPerc   string
	MemUsage  string
	Name      string
	NetIO     string
	PIDs      string
}

var statsHeader = StatsRow{
	BlockIO: "BLOCK I/O", CPUPerc: "CPU %", Container: "CONTAINER", ID: "CONTAINER ID", MemPerc: "MEM %",
	MemUsage: "MEM USAGE / LIMIT", Name: "NAME", NetIO: "NET I/O", PIDs: "PIDS",
}

// statsEntry is one container's latest numbers.
type statsEntry struct {
	container string // as the user named it, or its ID
	id, name  string
	cpu, mem  float64
	memLimit  float64
	memPerc   float64
	netRx     float64
	netTx     float64
	blkRead   float64
	blkWrite  float64
	pids      uint64
	invalid   bool // the daemon gave no sample (an error)
	seen      bool // at least one sample or error arrived
	err       error
}

func (e statsEntry) row(trunc bool) StatsRow {
	r := StatsRow{Container: e.container, ID: e.id, Name: e.name}
	if trunc {
		r.ID = TruncateID(e.id)
	}
	if r.Name == "" {
		r.Name = "--"
	}
	if e.invalid {
		r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs = "--", "-- / --", "--", "--", "--", "--"
		return r
	}
	r.CPUPerc = fmt.Sprintf("%.2f%%", e.cpu)
	r.MemUsage = units.BytesSize(e.mem) + " / " + units.BytesSize(e.memLimit)
	r.MemPerc = fmt.Sprintf("%.2f%%", e.memPerc)
	r.NetIO = units.HumanSizeWithPrecision(e.netRx, 3) + " / " + units.HumanSizeWithPrecision(e.netTx, 3)
	r.BlockIO = units.HumanSizeWithPrecision(e.blkRead, 3) + " / " + units.HumanSizeWithPrecision(e.blkWrite, 3)
	r.PIDs = fmt.Sprintf("%d", e.pids)
	return r
}

// fill computes the displayed numbers from one sample.
func (e *statsEntry) fill(s container.StatsResponse) {
	e.name = strings.TrimPrefix(s.Name, "/")
	if s.ID != "" {
		e.id = s.ID
	}
	e.cpu = cpuPercent(s.PreCPUStats, s.CPUStats)
	e.mem = memUsageNoCache(s.MemoryStats)
	e.memLimit = float64(s.MemoryStats.Limit)
	e.memPerc = 0
	if e.memLimit != 0 {
		e.memPerc = e.mem / e.memLimit * 100
	}
	e.netRx, e.netTx = 0, 0
	for _, n := range s.Networks {
		e.netRx += float64(n.RxBytes)
		e.netTx += float64(n.TxBytes)
	}
	e.blkRead, e.blkWrite = 0, 0
	for _, b := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			e.blkRead += float64(b.Value)
		case "write":
			e.blkWrite += float64(b.Value)
		}
	}
	e.pids = s.PidsStats.Current
	e.invalid, e.seen, e.err = false, true, nil
}

// cpuPercent is the container's share of the host's CPU time between two
// samples, scaled so that one busy CPU is 100%.
func cpuPercent(prev, cur container.CPUStats) float64 {
	cpuDelta := float64(cur.CPUUsage.TotalUsage) - float64(prev.CPUUsage.TotalUsage)
	sysDelta := float64(cur.SystemUsage) - float64(prev.SystemUsage)
	online := float64(cur.OnlineCPUs)
	if online == 0 {
		online = float64(len(cur.CPUUsage.PercpuUsage))
	}
	if sysDelta <= 0 || cpuDelta <= 0 {
		return 0
	}
	return cpuDelta / sysDelta * online * 100
}

// memUsageNoCache leaves out the reclaimable page cache, as docker shows
// memory: total_inactive_file on cgroup v1, inactive_file on v2.
func memUsageNoCache(m container.MemoryStats) float64 {
	if v, ok := m.Stats["total_inactive_file"]; ok {
		if v < m.Usage {
			return float64(m.Usage - v)
		}
		return float64(m.Usage)
	}
	if v := m.Stats["inactive_file"]; v < m.Usage {
		return float64(m.Usage - v)
	}
	return float64(m.Usage)
}

// statsSet holds the containers being watched, in display order.
type statsSet struct {
	mu      sync.Mutex
	entries []*statsEntry
}

func (s *statsSet) has(id string) bool {
	for _, e := range s.entries {
		if e.id == id || e.container == id {
			return true
		}
	}
	return false
}

// RunStats shows the containers' usage: one table with --no-stream,
// otherwise a table redrawn twice a second until interrupted.
func RunStats(ctx context.Context, c *cli.CLI, opts StatsOptions) error {
	format := opts.Format
	if format == "" {
		format = image.ConfiguredFormat("statsFormat")
	}
	if format == "" || format == "table" {
		format = defaultStatsFormat
	}
	if _, err := formatter.Parse(format); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	set := &statsSet{}
	var wg sync.WaitGroup
	watch := func(name, id string) {
		e := &statsEntry{container: name, id: id}
		set.mu.Lock()
		set.entries = append(set.entries, e)
		set.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			collectStats(ctx, cl, set, e, !opts.NoStream)
		}()
	}
	named := len(opts.Containers) > 0
	// listing finds the containers to show when none are named; while
	// streaming it runs again each round, so new ones appear and removed
	// ones go (docker follows events for the same effect).
	listing := func() error {
		res, err := cl.ContainerList(ctx, client.ContainerListOptions{All: opts.All})
		if err != nil {
			return err
		}
		live := map[string]bool{}
		for _, s := range res.Items {
			live[s.ID] = true
			set.mu.Lock()
			known := set.has(s.ID)
			set.mu.Unlock()
			if !known {
				watch(s.ID, s.ID)
			}
		}
		set.mu.Lock()
		kept := set.entries[:0]
		for _, e := range set.entries {
			if live[e.id] {
				kept = append(kept, e)
			}
		}
		set.entries = kept
		set.mu.Unlock()
		return nil
	}
	if named {
		for _, n := range opts.Containers {
			watch(n, n)
		}
	} else if err := listing(); err != nil {
		return err
	}

	if opts.NoStream {
		wg.Wait()
		var errs []string
		set.mu.Lock()
		for _, e := range set.entries {
			if e.err != nil {
				errs = append(errs, e.err.Error())
			}
		}
		set.mu.Unlock()
		if len(errs) > 0 {
			return errors.New(strings.Join(errs, "\n"))
		}
		return writeStats(c.Out, format, set, !opts.NoTrunc)
	}

	_, isTerm := term.GetFdInfo(c.Out)
	if isTerm {
		fmt.Fprint(c.Out, "\033[2J")
	}
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		var buf bytes.Buffer
		if err := writeStats(&buf, format, set, !opts.NoTrunc); err != nil {
			return err
		}
		if isTerm {
			// Redraw in place: home, each line erased to its end, then
			// whatever a longer previous table left below.
			var screen bytes.Buffer
			screen.WriteString("\033[H")
			for _, line := range strings.SplitAfter(buf.String(), "\n") {
				if line == "" {
					continue
				}
				screen.WriteString(strings.TrimSuffix(line, "\n") + "\033[K\n")
			}
			screen.WriteString("\033[J")
			buf = screen
		}
		if _, err := c.Out.Write(buf.Bytes()); err != nil {
			return err
		}
		if named {
			// All named containers gone wrong (removed, never existed):
			// nothing left to show.
			set.mu.Lock()
			failed := 0
			var errs []string
			for _, e := range set.entries {
				if e.err != nil {
					failed++
					errs = append(errs, e.err.Error())
				}
			}
			n := len(set.entries)
			set.mu.Unlock()
			if failed == n {
				return errors.New(strings.Join(errs, "\n"))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		if !named {
			if err := listing(); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

func writeStats(w io.Writer, format string, set *statsSet, trunc bool) error {
	set.mu.Lock()
	rows := make([]StatsRow, 0, len(set.entries))
	for _, e := range set.entries {
		if !e.seen && !e.invalid {
			// No sample yet: show it as docker does, with zeros.
			rows = append(rows, statsEntry{container: e.container, id: e.id, name: e.name}.row(trunc))
			continue
		}
		if e.err != nil {
			continue
		}
		rows = append(rows, e.row(trunc))
	}
	set.mu.Unlock()
	return formatter.Write(w, format, statsHeader, rows)
}

// collectStats reads one container's sample stream into e.
func collectStats(ctx context.Context, cl *client.Client, set *statsSet, e *statsEntry, stream bool) {
	res, err := cl.ContainerStats(ctx, e.container, client.ContainerStatsOptions{Stream: stream, IncludePreviousSample: !stream})
	if err != nil {
		set.mu.Lock()
		e.invalid, e.seen, e.err = true, true, err
		set.mu.Unlock()
		return
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			set.mu.Lock()
			if !e.seen {
				e.invalid, e.seen = true, true
			}
			set.mu.Unlock()
			return
		}
		set.mu.Lock()
		e.fill(s)
		set.mu.Unlock()
		if !stream {
			return
		}
	}
}
