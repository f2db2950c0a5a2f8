package container

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"

	"github.com/berth-engine/berth/internal/cli/image"
)

// containerOptions holds the flags shared by `run` and `create`. parse
// turns them into the three structs of the create request.
type containerOptions struct {
	attach       *listOpt
	env          *listOpt
	envFile      *listOpt
	labels       *listOpt
	labelFile    *listOpt
	publish      *listOpt
	expose       *listOpt
	volumes      *listOpt
	tmpfs        *listOpt
	mounts       mountOpt
	networks     networkOpt
	aliases      *listOpt
	linkLocalIPs *listOpt
	dns          *listOpt
	dnsSearch    *listOpt
	dnsOptions   *listOpt
	extraHosts   *listOpt
	capAdd       *listOpt
	capDrop      *listOpt
	securityOpt  *listOpt
	groupAdd     *listOpt
	logOpts      *listOpt
	volumesFrom  *listOpt
	links        *listOpt
	devices      *listOpt
	storageOpt   *listOpt
	sysctls      *mapOpt
	annotations  *mapOpt
	ulimits      *ulimitOpt
	cgroupRules  *listOpt
	weightDevs   weightDeviceOpt
	readBps      throttleDeviceOpt
	writeBps     throttleDeviceOpt
	readIOps     throttleDeviceOpt
	writeIOps    throttleDeviceOpt
	gpus         gpuOpt

	name            string
	hostname        string
	domainname      string
	user            string
	workdir         string
	entrypoint      string
	restart         string
	stdin           bool
	tty             bool
	autoRemove      bool
	publishAll      bool
	privileged      bool
	readonly        bool
	init            bool
	ipv4            string
	ipv6            string
	macAddress      string
	memory          memBytes
	memoryReserve   memBytes
	memorySwap      swapBytes
	memorySwappines int64
	oomKillDisable  bool
	oomScoreAdj     int
	shmSize         memBytes
	cpus            nanoCPUs
	cpuShares       int64
	cpuPeriod       int64
	cpuQuota        int64
	cpuRtPeriod     int64
	cpuRtRuntime    int64
	kernelMemory    memBytes
	cpusetCpus      string
	cpusetMems      string
	blkioWeight     uint16
	pidsLimit       int64
	stopSignal      string
	stopTimeout     int
	pidMode         string
	ipcMode         string
	utsMode         string
	usernsMode      string
	cgroupnsMode    string
	cgroupParent    string
	logDriver       string
	volumeDriver    string
	runtime         string
	isolation       string
	platform        string
	pull            string
	quiet           bool
	cidFile         string

	healthCmd           string
	healthInterval      time.Duration
	healthTimeout       time.Duration
	healthStartPeriod   time.Duration
	healthStartInterval time.Duration
	healthRetries       int
	noHealthcheck       bool
}

func newContainerOptions() *containerOptions {
	return &containerOptions{
		attach:       newListOpt(validateAttach),
		env:          newListOpt(validateEnv),
		envFile:      newListOpt(nil),
		labels:       newListOpt(validateLabel),
		labelFile:    newListOpt(nil),
		publish:      newListOpt(nil),
		expose:       newListOpt(nil),
		volumes:      newListOpt(nil),
		tmpfs:        newListOpt(nil),
		aliases:      newListOpt(nil),
		linkLocalIPs: newListOpt(validateIP),
		dns:          newListOpt(validateIP),
		dnsSearch:    newListOpt(validateDNSSearch),
		dnsOptions:   newListOpt(nil),
		extraHosts:   newListOpt(validateExtraHost),
		capAdd:       newListOpt(nil),
		capDrop:      newListOpt(nil),
		securityOpt:  newListOpt(nil),
		groupAdd:     newListOpt(nil),
		logOpts:      newListOpt(nil),
		volumesFrom:  newListOpt(nil),
		links:        newListOpt(validateLink),
		devices:      newListOpt(nil),
		storageOpt:   newListOpt(nil),
		sysctls:      newMapOpt(),
		annotations:  newMapOpt(),
		ulimits:      newUlimitOpt(),
		cgroupRules:  newListOpt(nil),
		readBps:      throttleDeviceOpt{bytes: true},
		writeBps:     throttleDeviceOpt{bytes: true},
	}
}

// addFlags registers docker's run/create flags (the set docker 28 has,
// minus Windows-only and swarm-only ones).
func (o *containerOptions) addFlags(f *pflag.FlagSet) {
	f.SetInterspersed(false)
	// -h is --hostname here, so help gets no shorthand (cobra would
	// otherwise claim -h for it).
	f.Bool("help", false, "Print usage")

	f.VarP(o.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR")
	f.VarP(o.env, "env", "e", "Set environment variables")
	f.Var(o.envFile, "env-file", "Read in a file of environment variables")
	f.VarP(o.labels, "label", "l", "Set meta data on a container")
	f.Var(o.labelFile, "label-file", "Read in a line delimited file of labels")
	f.VarP(o.publish, "publish", "p", "Publish a container's port(s) to the host")
	f.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	f.Var(o.expose, "expose", "Expose a port or a range of ports")
	f.VarP(o.volumes, "volume", "v", "Bind mount a volume")
	f.Var(&o.mounts, "mount", "Attach a filesystem mount to the container")
	f.Var(o.tmpfs, "tmpfs", "Mount a tmpfs directory")
	f.Var(o.volumesFrom, "volumes-from", "Mount volumes from the specified container(s)")
	f.StringVar(&o.volumeDriver, "volume-driver", "", "Optional volume driver for the container")

	f.Var(&o.networks, "network", "Connect a container to a network")
	f.Var(&o.networks, "net", "Connect a container to a network")
	_ = f.MarkHidden("net")
	f.Var(o.aliases, "network-alias", "Add network-scoped alias for the container")
	f.Var(o.aliases, "net-alias", "Add network-scoped alias for the container")
	_ = f.MarkHidden("net-alias")
	f.StringVar(&o.ipv4, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	f.StringVar(&o.ipv6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	f.StringVar(&o.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	f.Var(o.linkLocalIPs, "link-local-ip", "Container IPv4/IPv6 link-local addresses")
	f.Var(o.links, "link", "Add link to another container")
	f.Var(o.dns, "dns", "Set custom DNS servers")
	f.Var(o.dnsSearch, "dns-search", "Set custom DNS search domains")
	f.Var(o.dnsOptions, "dns-option", "Set DNS options")
	f.Var(o.dnsOptions, "dns-opt", "Set DNS options")
	_ = f.MarkHidden("dns-opt")
	f.Var(o.extraHosts, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	f.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	f.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")

	f.StringVar(&o.name, "name", "", "Assign a name to the container")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	f.BoolVarP(&o.stdin, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVar(&o.autoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	f.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	f.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	f.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	f.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	f.StringVar(&o.cidFile, "cidfile", "", "Write the container ID to the file")
	f.StringVar(&o.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	f.StringVar(&o.runtime, "runtime", "", "Runtime to use for this container")
	f.StringVar(&o.isolation, "isolation", "", "Container isolation technology")

	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Var(&o.memoryReserve, "memory-reservation", "Memory soft limit")
	f.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	f.Int64Var(&o.memorySwappines, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	f.BoolVar(&o.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	f.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	f.Var(&o.shmSize, "shm-size", "Size of /dev/shm")
	f.Var(&o.cpus, "cpus", "Number of CPUs")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.Var(o.ulimits, "ulimit", "Ulimit options")
	f.Var(o.devices, "device", "Add a host device to the container")
	f.Var(o.cgroupRules, "device-cgroup-rule", "Add a rule to the cgroup allowed devices list")
	f.Var(&o.weightDevs, "blkio-weight-device", "Block IO weight (relative device weight)")
	f.Var(&o.readBps, "device-read-bps", "Limit read rate (bytes per second) from a device")
	f.Var(&o.writeBps, "device-write-bps", "Limit write rate (bytes per second) to a device")
	f.Var(&o.readIOps, "device-read-iops", "Limit read rate (IO per second) from a device")
	f.Var(&o.writeIOps, "device-write-iops", "Limit write rate (IO per second) to a device")
	f.Var(&o.gpus, "gpus", "GPU devices to add to the container ('all' to pass all GPUs)")
	f.Int64Var(&o.cpuRtPeriod, "cpu-rt-period", 0, "Limit CPU real-time period in microseconds")
	f.Int64Var(&o.cpuRtRuntime, "cpu-rt-runtime", 0, "Limit CPU real-time runtime in microseconds")
	// Deprecated by docker and ignored by current kernels; accepted so
	// old scripts still parse.
	f.Var(&o.kernelMemory, "kernel-memory", "Kernel memory limit")
	_ = f.MarkHidden("kernel-memory")

	f.Var(o.capAdd, "cap-add", "Add Linux capabilities")
	f.Var(o.capDrop, "cap-drop", "Drop Linux capabilities")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	f.BoolVar(&o.readonly, "read-only", false, "Mount the container's root filesystem as read only")
	f.Var(o.securityOpt, "security-opt", "Security Options")
	f.Var(o.groupAdd, "group-add", "Add additional groups to join")
	f.Var(o.sysctls, "sysctl", "Sysctl options")
	f.Var(o.annotations, "annotation", "Add an annotation to the container (passed through to the OCI runtime)")
	f.Var(o.storageOpt, "storage-opt", "Storage driver options for the container")
	f.StringVar(&o.pidMode, "pid", "", "PID namespace to use")
	f.StringVar(&o.ipcMode, "ipc", "", "IPC mode to use")
	f.StringVar(&o.utsMode, "uts", "", "UTS namespace to use")
	f.StringVar(&o.usernsMode, "userns", "", "User namespace to use")
	f.StringVar(&o.cgroupnsMode, "cgroupns", "", "Cgroup namespace to use (host|private)")
	f.StringVar(&o.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	f.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container")
	f.Var(o.logOpts, "log-opt", "Log driver options")

	f.StringVar(&o.healthCmd, "health-cmd", "", "Command to run to check health")
	f.DurationVar(&o.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.healthStartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	f.DurationVar(&o.healthStartInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	f.IntVar(&o.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	f.BoolVar(&o.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")

	f.StringVar(&o.pull, "pull", pullMissing, `Pull image before running ("always", "missing", "never")`)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the pull output")
	// Accepted so scripts written for docker keep working; berth has no
	// content trust.
	f.Bool("disable-content-trust", true, "Skip image verification")
	_ = f.MarkHidden("disable-content-trust")
}

const (
	pullAlways  = "always"
	pullMissing = "missing"
	pullNever   = "never"
)

// createConfig is what parse produces: the body of POST /containers/create
// plus the request's name and platform.
type createConfig struct {
	Config     *container.Config
	HostConfig *container.HostConfig
	Network    *network.NetworkingConfig
	Platform   *ocispec.Platform
}

// parse builds the create request from the flags; f tells which flags were
// given (some fields are sent only then, as docker does). args are IMAGE
// [COMMAND] [ARG...].
func (o *containerOptions) parse(f *pflag.FlagSet, args []string) (*createConfig, error) {
	if len(args) == 0 {
		return nil, errors.New("image name is required")
	}
	imageRef, cmdArgs := args[0], args[1:]

	attach := map[string]bool{}
	for _, a := range o.attach.GetAll() {
		attach[strings.ToLower(a)] = true
	}
	attachStdin := attach["stdin"] || o.stdin
	attachStdout, attachStderr := attach["stdout"], attach["stderr"]
	if len(o.attach.GetAll()) == 0 {
		attachStdout, attachStderr = true, true
	}

	exposed, bindings, err := parsePorts(o.publish.GetAll(), o.expose.GetAll())
	if err != nil {
		return nil, err
	}

	volumes := map[string]struct{}{}
	var binds []string
	for _, v := range o.volumes.GetAll() {
		bind, anon, err := parseVolume(v)
		if err != nil {
			return nil, err
		}
		if anon {
			volumes[bind] = struct{}{}
		} else {
			binds = append(binds, bind)
		}
	}
	if len(volumes) == 0 {
		volumes = nil
	}

	tmpfs := map[string]string{}
	for _, t := range o.tmpfs.GetAll() {
		dst, opts, _ := strings.Cut(t, ":")
		tmpfs[dst] = opts
	}
	if len(tmpfs) == 0 {
		tmpfs = nil
	}

	env, err := readKVFiles(o.envFile.GetAll(), true)
	if err != nil {
		return nil, err
	}
	env = append(env, o.env.GetAll()...)

	labelLines, err := readKVFiles(o.labelFile.GetAll(), false)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for _, l := range append(labelLines, o.labels.GetAll()...) {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}

	var entrypoint []string
	if o.entrypoint != "" {
		entrypoint = []string{o.entrypoint}
	} else if f.Changed("entrypoint") {
		// An explicit empty entrypoint resets the image's.
		entrypoint = []string{""}
	}
	var cmd []string
	if len(cmdArgs) > 0 {
		cmd = cmdArgs
	}

	health, err := o.healthConfig(f)
	if err != nil {
		return nil, err
	}

	restart, err := parseRestartPolicy(o.restart)
	if err != nil {
		return nil, err
	}
	if o.autoRemove && !restart.IsNone() {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}

	if o.memorySwappines != -1 && (o.memorySwappines < 0 || o.memorySwappines > 100) {
		return nil, fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", o.memorySwappines)
	}
	if !container.PidMode(o.pidMode).Valid() {
		return nil, errors.New("--pid: invalid PID mode")
	}
	if !container.UTSMode(o.utsMode).Valid() {
		return nil, errors.New("--uts: invalid UTS mode")
	}
	if !container.UsernsMode(o.usernsMode).Valid() {
		return nil, errors.New("--userns: invalid USER mode")
	}
	if !container.CgroupnsMode(o.cgroupnsMode).Valid() {
		return nil, errors.New("--cgroupns: invalid CGROUP mode")
	}

	logOpts := map[string]string{}
	for _, l := range o.logOpts.GetAll() {
		k, v, _ := strings.Cut(l, "=")
		logOpts[k] = v
	}
	if len(logOpts) == 0 {
		logOpts = nil
	}

	storageOpt := map[string]string{}
	for _, s := range o.storageOpt.GetAll() {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("invalid storage option")
		}
		storageOpt[k] = v
	}
	if len(storageOpt) == 0 {
		storageOpt = nil
	}

	securityOpts, err := parseSecurityOpts(o.securityOpt.GetAll())
	if err != nil {
		return nil, err
	}

	var dns []netip.Addr
	for _, d := range o.dns.GetAll() {
		a, _ := netip.ParseAddr(d)
		dns = append(dns, a)
	}

	devices := make([]container.DeviceMapping, 0, len(o.devices.GetAll()))
	for _, d := range o.devices.GetAll() {
		dm, err := parseDevice(d)
		if err != nil {
			return nil, err
		}
		devices = append(devices, dm)
	}

	var platform *ocispec.Platform
	if o.platform != "" {
		p, err := image.ParsePlatform(o.platform)
		if err != nil {
			return nil, err
		}
		platform = &p
	}

	cfg := &container.Config{
		Hostname:     o.hostname,
		Domainname:   o.domainname,
		User:         o.user,
		AttachStdin:  attachStdin,
		AttachStdout: attachStdout,
		AttachStderr: attachStderr,
		ExposedPorts: exposed,
		Tty:          o.tty,
		OpenStdin:    o.stdin,
		// Closing stdin when the one attached client goes away is what lets
		// `echo x | berth run -i img cat` end.
		StdinOnce:   o.stdin && attachStdin,
		Env:         env,
		Cmd:         cmd,
		Healthcheck: health,
		Image:       imageRef,
		Volumes:     volumes,
		WorkingDir:  o.workdir,
		Entrypoint:  entrypoint,
		Labels:      labels,
		StopSignal:  o.stopSignal,
	}
	if f.Changed("stop-timeout") {
		t := o.stopTimeout
		cfg.StopTimeout = &t
	}

	hc := &container.HostConfig{
		Binds:           binds,
		ContainerIDFile: o.cidFile,
		LogConfig:       container.LogConfig{Type: o.logDriver, Config: logOpts},
		PortBindings:    bindings,
		RestartPolicy:   restart,
		AutoRemove:      o.autoRemove,
		VolumeDriver:    o.volumeDriver,
		VolumesFrom:     o.volumesFrom.GetAll(),
		Annotations:     nilIfEmpty(o.annotations.values),
		CapAdd:          o.capAdd.GetAll(),
		CapDrop:         o.capDrop.GetAll(),
		CgroupnsMode:    container.CgroupnsMode(o.cgroupnsMode),
		DNS:             dns,
		DNSOptions:      o.dnsOptions.GetAll(),
		DNSSearch:       o.dnsSearch.GetAll(),
		ExtraHosts:      o.extraHosts.GetAll(),
		GroupAdd:        o.groupAdd.GetAll(),
		IpcMode:         container.IpcMode(o.ipcMode),
		Links:           o.links.GetAll(),
		OomScoreAdj:     o.oomScoreAdj,
		PidMode:         container.PidMode(o.pidMode),
		Privileged:      o.privileged,
		PublishAllPorts: o.publishAll,
		ReadonlyRootfs:  o.readonly,
		SecurityOpt:     securityOpts,
		StorageOpt:      storageOpt,
		Tmpfs:           tmpfs,
		UTSMode:         container.UTSMode(o.utsMode),
		UsernsMode:      container.UsernsMode(o.usernsMode),
		ShmSize:         int64(o.shmSize),
		Sysctls:         nilIfEmpty(o.sysctls.values),
		Runtime:         o.runtime,
		Isolation:       container.Isolation(o.isolation),
		Mounts:          o.mounts.values,
		Resources: container.Resources{
			CPUShares:            o.cpuShares,
			Memory:               int64(o.memory),
			NanoCPUs:             int64(o.cpus),
			CgroupParent:         o.cgroupParent,
			BlkioWeight:          o.blkioWeight,
			CPUPeriod:            o.cpuPeriod,
			CPUQuota:             o.cpuQuota,
			CpusetCpus:           o.cpusetCpus,
			CpusetMems:           o.cpusetMems,
			Devices:              devices,
			DeviceCgroupRules:    o.cgroupRules.GetAll(),
			DeviceRequests:       o.gpus.values,
			BlkioWeightDevice:    o.weightDevs.values,
			BlkioDeviceReadBps:   o.readBps.values,
			BlkioDeviceWriteBps:  o.writeBps.values,
			BlkioDeviceReadIOps:  o.readIOps.values,
			BlkioDeviceWriteIOps: o.writeIOps.values,
			CPURealtimePeriod:    o.cpuRtPeriod,
			CPURealtimeRuntime:   o.cpuRtRuntime,
			MemoryReservation:    int64(o.memoryReserve),
			MemorySwap:           int64(o.memorySwap),
			Ulimits:              o.ulimits.GetList(),
		},
	}
	if o.memorySwappines != -1 {
		s := o.memorySwappines
		hc.MemorySwappiness = &s
	}
	if f.Changed("oom-kill-disable") {
		b := o.oomKillDisable
		hc.OomKillDisable = &b
	}
	if f.Changed("pids-limit") {
		p := o.pidsLimit
		hc.PidsLimit = &p
	}
	if f.Changed("init") {
		b := o.init
		hc.Init = &b
	}

	nc, netMode, err := o.networkingConfig()
	if err != nil {
		return nil, err
	}
	hc.NetworkMode = netMode
	return &createConfig{Config: cfg, HostConfig: hc, Network: nc, Platform: platform}, nil
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// healthConfig builds Config.Healthcheck; nil means "inherit the image's".
func (o *containerOptions) healthConfig(f *pflag.FlagSet) (*container.HealthConfig, error) {
	set := o.healthCmd != "" || f.Changed("health-interval") || f.Changed("health-timeout") ||
		f.Changed("health-start-period") || f.Changed("health-start-interval") || f.Changed("health-retries")
	if o.noHealthcheck {
		if set {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	for name, d := range map[string]time.Duration{
		"--health-interval": o.healthInterval, "--health-timeout": o.healthTimeout,
		"--health-start-period": o.healthStartPeriod, "--health-start-interval": o.healthStartInterval,
	} {
		if d < 0 {
			return nil, fmt.Errorf("%s cannot be negative", name)
		}
	}
	if o.healthRetries < 0 {
		return nil, errors.New("--health-retries cannot be negative")
	}
	var test []string
	if o.healthCmd != "" {
		test = []string{"CMD-SHELL", o.healthCmd}
	}
	return &container.HealthConfig{
		Test:          test,
		Interval:      o.healthInterval,
		Timeout:       o.healthTimeout,
		StartPeriod:   o.healthStartPeriod,
		StartInterval: o.healthStartInterval,
		Retries:       o.healthRetries,
	}, nil
}

// networkingConfig returns the endpoint settings and the network mode (the
// first --network, or "default").
func (o *containerOptions) networkingConfig() (*network.NetworkingConfig, container.NetworkMode, error) {
	nets := o.networks.values
	if len(nets) == 0 {
		nets = []networkAttachment{{Target: network.NetworkDefault}}
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
	for i, n := range nets {
		if _, dup := nc.EndpointsConfig[n.Target]; dup {
			return nil, "", fmt.Errorf("network %q is specified multiple times", n.Target)
		}
		ep := &network.EndpointSettings{Aliases: n.Aliases, DriverOpts: n.DriverOpts, GwPriority: n.GwPriority}
		ipv4, ipv6, linkLocal, mac := n.IPv4, n.IPv6, n.LinkLocalIPs, n.MacAddress
		// The container-wide flags apply to the first network, as docker
		// applies them.
		if i == 0 {
			if len(o.aliases.GetAll()) > 0 && !isUserDefinedNetwork(n.Target) {
				return nil, "", errors.New("network-scoped aliases are only supported for user-defined networks")
			}
			if len(o.aliases.GetAll()) > 0 {
				ep.Aliases = append(ep.Aliases, o.aliases.GetAll()...)
			}
			if o.ipv4 != "" {
				ipv4 = o.ipv4
			}
			if o.ipv6 != "" {
				ipv6 = o.ipv6
			}
			linkLocal = append(linkLocal, o.linkLocalIPs.GetAll()...)
			if o.macAddress != "" {
				mac = o.macAddress
			}
			if isUserDefinedNetwork(n.Target) && len(o.links.GetAll()) > 0 {
				ep.Links = o.links.GetAll()
			}
		}
		if ipv4 != "" || ipv6 != "" || len(linkLocal) > 0 {
			ep.IPAMConfig = &network.EndpointIPAMConfig{}
			if ipv4 != "" {
				a, err := netip.ParseAddr(ipv4)
				if err != nil || !a.Is4() {
					return nil, "", fmt.Errorf("invalid IPv4 address: %s", ipv4)
				}
				ep.IPAMConfig.IPv4Address = a
			}
			if ipv6 != "" {
				a, err := netip.ParseAddr(ipv6)
				if err != nil || !a.Is6() {
					return nil, "", fmt.Errorf("invalid IPv6 address: %s", ipv6)
				}
				ep.IPAMConfig.IPv6Address = a
			}
			for _, l := range linkLocal {
				a, err := netip.ParseAddr(l)
				if err != nil {
					return nil, "", fmt.Errorf("invalid IP address: %s", l)
				}
				ep.IPAMConfig.LinkLocalIPs = append(ep.IPAMConfig.LinkLocalIPs, a)
			}
		}
		if mac != "" {
			hw, err := net.ParseMAC(mac)
			if err != nil {
				return nil, "", fmt.Errorf("%s is not a valid mac address", mac)
			}
			ep.MacAddress = network.HardwareAddr(hw)
		}
		nc.EndpointsConfig[n.Target] = ep
	}
	return nc, container.NetworkMode(nets[0].Target), nil
}

func isUserDefinedNetwork(n string) bool {
	switch n {
	case network.NetworkDefault, network.NetworkBridge, network.NetworkHost, network.NetworkNone, "":
		return false
	}
	return !strings.HasPrefix(n, "container:")
}

// networkAttachment is one --network value, in the short form (a name) or
// docker's CSV form: name=n,alias=a,ip=…,ip6=…,mac-address=…,driver-opt=k=v.
type networkAttachment struct {
	Target       string
	Aliases      []string
	IPv4, IPv6   string
	LinkLocalIPs []string
	MacAddress   string
	DriverOpts   map[string]string
	GwPriority   int
}

type networkOpt struct {
	values []networkAttachment
}

func (o *networkOpt) Type() string { return "network" }

func (o *networkOpt) String() string {
	names := make([]string, 0, len(o.values))
	for _, v := range o.values {
		names = append(names, v.Target)
	}
	return strings.Join(names, ",")
}

func (o *networkOpt) Set(v string) error {
	if !strings.Contains(v, "=") {
		o.values = append(o.values, networkAttachment{Target: v})
		return nil
	}
	var n networkAttachment
	for _, field := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(field, "=")
		if !ok {
			return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		switch strings.ToLower(k) {
		case "name":
			n.Target = val
		case "alias":
			n.Aliases = append(n.Aliases, val)
		case "ip":
			n.IPv4 = val
		case "ip6":
			n.IPv6 = val
		case "link-local-ip":
			n.LinkLocalIPs = append(n.LinkLocalIPs, val)
		case "mac-address":
			n.MacAddress = val
		case "driver-opt":
			dk, dv, _ := strings.Cut(val, "=")
			if n.DriverOpts == nil {
				n.DriverOpts = map[string]string{}
			}
			n.DriverOpts[dk] = dv
		case "gw-priority":
			p, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("invalid gw-priority: %s", val)
			}
			n.GwPriority = p
		default:
			return fmt.Errorf("invalid field key %s", k)
		}
	}
	if n.Target == "" {
		return errors.New("network name is required")
	}
	o.values = append(o.values, n)
	return nil
}

// parsePorts turns -p and --expose values into the exposed set and the
// bindings. -p "[ip:][hostPort:]containerPort[/proto]", ranges allowed on
// both sides; a host range for a single container port lets the daemon
// pick one port from it.
func parsePorts(publish, expose []string) (network.PortSet, network.PortMap, error) {
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, spec := range publish {
		if err := parsePortSpec(spec, exposed, bindings); err != nil {
			return nil, nil, err
		}
	}
	for _, e := range expose {
		if strings.Contains(e, ":") {
			return nil, nil, fmt.Errorf("invalid port format for --expose: %s", e)
		}
		portStr, proto := splitProto(e)
		start, end, err := parseRange(portStr)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid range format for --expose: %s, error: %w", e, err)
		}
		for p := start; p <= end; p++ {
			port, ok := network.PortFrom(uint16(p), network.IPProtocol(proto))
			if !ok {
				return nil, nil, fmt.Errorf("invalid proto: %s", proto)
			}
			exposed[port] = struct{}{}
		}
	}
	if len(exposed) == 0 {
		exposed = nil
	}
	if len(bindings) == 0 {
		bindings = nil
	}
	return exposed, bindings, nil
}

func splitProto(s string) (string, string) {
	port, proto, ok := strings.Cut(s, "/")
	if !ok || proto == "" {
		proto = "tcp"
	}
	return port, strings.ToLower(proto)
}

func parseRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	start, err := strconv.ParseUint(a, 10, 16)
	if err != nil || a == "" {
		return 0, 0, fmt.Errorf("invalid port: %s", s)
	}
	end := start
	if isRange {
		end, err = strconv.ParseUint(b, 10, 16)
		if err != nil || end < start {
			return 0, 0, fmt.Errorf("invalid range: %s", s)
		}
	}
	return int(start), int(end), nil
}

func parsePortSpec(spec string, exposed network.PortSet, bindings network.PortMap) error {
	rest, proto := splitProto(spec)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return fmt.Errorf("invalid proto: %s", proto)
	}
	var ip, hostPort, ctrPort string
	// An IPv6 host address comes in brackets: [::1]:8080:80.
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return fmt.Errorf("invalid IP address: %s", rest)
		}
		ip = rest[1:end]
		rest = strings.TrimPrefix(rest[end+1:], ":")
		hostPort, ctrPort, _ = strings.Cut(rest, ":")
		if ctrPort == "" {
			return fmt.Errorf("invalid port format: %s", spec)
		}
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctrPort = parts[0]
		case 2:
			hostPort, ctrPort = parts[0], parts[1]
		case 3:
			ip, hostPort, ctrPort = parts[0], parts[1], parts[2]
		default:
			// An unbracketed IPv6 address: the last two fields are ports.
			ip = strings.Join(parts[:len(parts)-2], ":")
			hostPort, ctrPort = parts[len(parts)-2], parts[len(parts)-1]
		}
	}
	var hostIP netip.Addr
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return fmt.Errorf("invalid IP address: %s", ip)
		}
		hostIP = a
	}
	if ctrPort == "" {
		return fmt.Errorf("no port specified: %s<empty>", spec)
	}
	cStart, cEnd, err := parseRange(ctrPort)
	if err != nil {
		return fmt.Errorf("invalid containerPort: %s", ctrPort)
	}
	hStart, hEnd := 0, 0
	if hostPort != "" {
		hStart, hEnd, err = parseRange(hostPort)
		if err != nil {
			return fmt.Errorf("invalid hostPort: %s", hostPort)
		}
	}
	singleCtrHostRange := hostPort != "" && cStart == cEnd && hEnd != hStart
	if hostPort != "" && !singleCtrHostRange && hEnd-hStart != cEnd-cStart {
		return fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", ctrPort, hostPort)
	}
	for i := 0; i <= cEnd-cStart; i++ {
		port, _ := network.PortFrom(uint16(cStart+i), network.IPProtocol(proto))
		exposed[port] = struct{}{}
		hp := ""
		switch {
		case singleCtrHostRange:
			hp = fmt.Sprintf("%d-%d", hStart, hEnd)
		case hostPort != "":
			hp = strconv.Itoa(hStart + i)
		}
		bindings[port] = append(bindings[port], network.PortBinding{HostIP: hostIP, HostPort: hp})
	}
	return nil
}

// parseVolume reads a -v value. A lone path is an anonymous volume
// (Config.Volumes); anything with a source is a bind or named volume
// (HostConfig.Binds), with a relative "./src" made absolute first.
func parseVolume(spec string) (string, bool, error) {
	if spec == "" {
		return "", false, errors.New("invalid empty volume spec")
	}
	parts := strings.Split(spec, ":")
	if len(parts) == 1 {
		return spec, true, nil
	}
	for _, p := range parts {
		if p == "" {
			return "", false, fmt.Errorf("invalid spec: %s: empty section between colons", spec)
		}
	}
	src := parts[0]
	if strings.HasPrefix(src, ".") {
		if abs, err := filepath.Abs(src); err == nil {
			src = abs
		}
	}
	parts[0] = src
	return strings.Join(parts, ":"), false, nil
}

// parseRestartPolicy reads "no", "always", "unless-stopped" or
// "on-failure[:max-retries]"; the daemon validates the name.
func parseRestartPolicy(s string) (container.RestartPolicy, error) {
	if s == "" {
		return container.RestartPolicy{}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	if hasCount && name == "" {
		return container.RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return container.RestartPolicy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	return p, nil
}

// readKVFiles reads --env-file/--label-file files: one KEY=VALUE a line,
// blank lines and # comments skipped. In env files a bare KEY takes its
// value from our environment and is dropped when unset.
func readKVFiles(files []string, env bool) ([]string, error) {
	var out []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; sc.Scan(); n++ {
			raw := sc.Text()
			if n == 1 {
				raw = strings.TrimPrefix(raw, "\uFEFF")
			}
			if !utf8.ValidString(raw) {
				return nil, fmt.Errorf("invalid utf8 bytes at line %d: %v", n, []byte(raw))
			}
			line := strings.TrimLeftFunc(raw, unicode.IsSpace)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, hasValue := strings.Cut(line, "=")
			if k == "" {
				return nil, fmt.Errorf("no variable name on line '%s'", line)
			}
			if strings.ContainsFunc(k, unicode.IsSpace) {
				return nil, fmt.Errorf("variable '%s' contains whitespaces", k)
			}
			switch {
			case hasValue:
				out = append(out, k+"="+v)
			case !env:
				out = append(out, k)
			default:
				if val, ok := os.LookupEnv(k); ok {
					out = append(out, k+"="+val)
				}
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseSecurityOpts reads seccomp profiles given as files, since the
// daemon takes the profile's JSON, not a path on the client.
func parseSecurityOpts(opts []string) ([]string, error) {
	out := make([]string, 0, len(opts))
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		if k == "seccomp" && ok && v != "unconfined" && v != "builtin" {
			data, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, data); err != nil {
				return nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %w", v, err)
			}
			o = "seccomp=" + buf.String()
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// parseDevice reads --device /dev/x[:/dev/y][:rwm].
func parseDevice(s string) (container.DeviceMapping, error) {
	parts := strings.Split(s, ":")
	dm := container.DeviceMapping{CgroupPermissions: "rwm"}
	switch len(parts) {
	case 1:
		dm.PathOnHost, dm.PathInContainer = parts[0], parts[0]
	case 2:
		dm.PathOnHost = parts[0]
		if isDeviceMode(parts[1]) {
			dm.PathInContainer, dm.CgroupPermissions = parts[0], parts[1]
		} else {
			dm.PathInContainer = parts[1]
		}
	case 3:
		if !isDeviceMode(parts[2]) {
			return dm, fmt.Errorf("bad mode specified: %s", parts[2])
		}
		dm.PathOnHost, dm.PathInContainer, dm.CgroupPermissions = parts[0], parts[1], parts[2]
	default:
		return dm, fmt.Errorf("invalid device specification: %s", s)
	}
	return dm, nil
}

func isDeviceMode(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c != 'r' && c != 'w' && c != 'm' {
			return false
		}
	}
	return true
}

// Flag validators: their errors become docker's
// `invalid argument "v" for "--flag" flag: …` with exit 125.

func validateAttach(v string) (string, error) {
	switch strings.ToLower(v) {
	case "stdin", "stdout", "stderr":
		return strings.ToLower(v), nil
	}
	return v, errors.New("valid streams are STDIN, STDOUT and STDERR")
}

func validateEnv(v string) (string, error) {
	k, _, hasValue := strings.Cut(v, "=")
	if k == "" {
		return "", fmt.Errorf("invalid environment variable: %s", v)
	}
	if hasValue {
		return v, nil
	}
	if val, ok := os.LookupEnv(k); ok {
		return k + "=" + val, nil
	}
	return v, nil
}

func validateLabel(v string) (string, error) {
	if strings.HasPrefix(v, "=") {
		return "", fmt.Errorf("invalid label '%s': empty name", v)
	}
	return v, nil
}

func validateIP(v string) (string, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(v))
	if err != nil {
		return "", fmt.Errorf("IP address is not correctly formatted: %s", v)
	}
	return a.String(), nil
}

func validateDNSSearch(v string) (string, error) {
	if v == "." {
		return v, nil
	}
	d := strings.TrimSuffix(v, ".")
	if d == "" || strings.HasPrefix(d, ".") || strings.HasPrefix(d, "-") || len(d) > 255 {
		return "", fmt.Errorf("%s is not a valid domain", v)
	}
	return v, nil
}

func validateExtraHost(v string) (string, error) {
	name, ip, ok := strings.Cut(v, "=")
	if !ok {
		// "host:ip"; the IP may itself contain colons (IPv6).
		name, ip, ok = strings.Cut(v, ":")
	}
	if !ok || name == "" {
		return "", fmt.Errorf("bad format for add-host: %q", v)
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if ip != "host-gateway" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
	}
	// The daemon's format is host:ip; "=" is only the friendlier input.
	return name + ":" + ip, nil
}

func validateLink(v string) (string, error) {
	name, alias, ok := strings.Cut(v, ":")
	if name == "" || (ok && alias == "") || strings.Count(v, ":") > 1 {
		return "", fmt.Errorf("bad format for links: %s", v)
	}
	return v, nil
}
