package container

import (
	"errors"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

type updateOptions struct {
	blkioWeight       uint16
	cpuPeriod         int64
	cpuQuota          int64
	cpuRtPeriod       int64
	cpuRtRuntime      int64
	cpuShares         int64
	cpus              nanoCPUs
	cpusetCpus        string
	cpusetMems        string
	memory            memBytes
	memoryReservation memBytes
	memorySwap        swapBytes
	kernelMemory      memBytes
	pidsLimit         int64
	restart           string
}

// NewUpdateCommand returns `berth update` (also `berth container update`).
func NewUpdateCommand(c *cli.CLI) *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUpdate(cmd, c, &o, args)
		},
	}
	f := cmd.Flags()
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64Var(&o.cpuRtPeriod, "cpu-rt-period", 0, "Limit the CPU real-time period in microseconds")
	f.Int64Var(&o.cpuRtRuntime, "cpu-rt-runtime", 0, "Limit the CPU real-time runtime in microseconds")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Var(&o.cpus, "cpus", "Number of CPUs")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Var(&o.memoryReservation, "memory-reservation", "Memory soft limit")
	f.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.Var(&o.kernelMemory, "kernel-memory", "Kernel memory limit (deprecated)")
	_ = f.MarkHidden("kernel-memory")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.StringVar(&o.restart, "restart", "", "Restart policy to apply when a container exits")
	return cmd
}

func runUpdate(cmd *cobra.Command, c *cli.CLI, o *updateOptions, names []string) error {
	if cmd.Flags().NFlag() == 0 {
		return errors.New("you must provide one or more flags when using this command")
	}
	res := &container.Resources{
		BlkioWeight:        o.blkioWeight,
		CPUPeriod:          o.cpuPeriod,
		CPUQuota:           o.cpuQuota,
		CPURealtimePeriod:  o.cpuRtPeriod,
		CPURealtimeRuntime: o.cpuRtRuntime,
		CPUShares:          o.cpuShares,
		NanoCPUs:           int64(o.cpus),
		CpusetCpus:         o.cpusetCpus,
		CpusetMems:         o.cpusetMems,
		Memory:             int64(o.memory),
		MemoryReservation:  int64(o.memoryReservation),
		MemorySwap:         int64(o.memorySwap),
	}
	if cmd.Flags().Changed("pids-limit") {
		v := o.pidsLimit
		res.PidsLimit = &v
	}
	opts := client.ContainerUpdateOptions{Resources: res}
	if cmd.Flags().Changed("restart") {
		rp, err := parseRestartPolicy(o.restart)
		if err != nil {
			return err
		}
		opts.RestartPolicy = &rp
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, name := range names {
		r, err := cl.ContainerUpdate(cmd.Context(), name, opts)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, w := range r.Warnings {
			fmt.Fprintln(c.Err, w)
		}
		fmt.Fprintln(c.Out, name)
	}
	return multiError(errs)
}
