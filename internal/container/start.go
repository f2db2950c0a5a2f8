package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/cgroupwarm"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/runtime/spec"
	"github.com/berth-engine/berth/internal/snapshot"
)

// Start starts a created or stopped container.
func (s *Service) Start(ctx context.Context, ref string) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	switch {
	case c.removing:
		c.mu.Unlock()
		return errdefs.Conflictf("container is marked for removal and cannot be started")
	case c.State.Status == container.StatePaused:
		c.mu.Unlock()
		return errdefs.Conflictf("cannot start a paused container, try unpause instead")
	case c.State.Running():
		c.mu.Unlock()
		return errdefs.NotModified(errors.New("container already started"))
	}
	c.ManualStop = false
	err = s.startLocked(ctx, c)
	autoRemove := err != nil && c.HostConfig.AutoRemove
	c.mu.Unlock()
	if autoRemove {
		// As dockerd: a --rm container that cannot start is removed, and
		// the docker CLI waits for that removal.
		if rerr := s.Remove(context.WithoutCancel(ctx), c.ID, RemoveOptions{RemoveVolumes: true}); rerr != nil {
			s.log.Warn("auto-remove after failed start", "container", c.ID, "err", rerr)
		}
	}
	return err
}

// startLocked runs the container: mount its filesystem, write its /etc
// files and OCI spec, launch its shim, start init, and watch it.
func (s *Service) startLocked(ctx context.Context, c *Container) (retErr error) {
	// libcontainer will move init into the container's cgroups; begin the
	// kernel's wait for that now, while the rootfs is mounted and the shim
	// boots.
	cgroupwarm.Warm()
	// Wait for copies that have the stopped filesystem mounted; new ones
	// need c.mu, which the caller holds.
	c.fsBusy.Lock()
	c.fsBusy.Unlock() //nolint:staticcheck // a barrier, not a critical section
	rootfs := s.rootfsPath(c.ID)
	runDir := s.runDir(c.ID)
	cleanup := func() {
		s.disconnectNetwork(context.WithoutCancel(ctx), c)
		s.unmountVolumes(context.WithoutCancel(ctx), c)
		_ = snapshot.Unmount(rootfs)
	}
	defer func() {
		if retErr != nil {
			cleanup()
			c.State.Error = retErr.Error()
			c.State.ExitCode = startErrorExitCode(retErr)
			if c.State.Status != container.StateCreated {
				c.State.Status = container.StateExited
			}
			_ = s.store.save(c)
			c.notifyLocked()
		}
	}()
	// A previous run may have left its shim state; clear it.
	_ = os.RemoveAll(runDir)
	_ = os.RemoveAll(filepath.Join(s.stateDir(), c.ID))
	if err := os.MkdirAll(rootfs, 0o711); err != nil {
		return err
	}
	mounts, err := s.cfg.Snapshotter.Mounts(ctx, c.SnapshotKey)
	if err != nil {
		return fmt.Errorf("container filesystem: %w", err)
	}
	if err := snapshot.MountAll(mounts, rootfs); err != nil {
		return fmt.Errorf("mount container filesystem: %w", err)
	}
	// The network first: /etc/hosts and resolv.conf name its addresses.
	netns, err := s.connectNetwork(ctx, c)
	if err != nil {
		return err
	}
	hostnamePath, hostsPath, resolvPath, err := s.writeEtcFiles(c)
	if err != nil {
		return err
	}
	opts, err := s.specOptions(c, rootfs)
	if err != nil {
		return err
	}
	if netns != "" {
		opts.Namespaces.Network = netns
	}
	etc := []specs.Mount{
		{Destination: "/etc/resolv.conf", Type: "bind", Source: resolvPath, Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hostname", Type: "bind", Source: hostnamePath, Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hosts", Type: "bind", Source: hostsPath, Options: []string{"rbind", "rprivate"}},
	}
	opts.Mounts = append(etc, opts.Mounts...)
	sp, err := spec.Generate(opts)
	if err != nil {
		return err
	}
	if s.cfg.EntryBinary != "" {
		if sp.Annotations == nil {
			sp.Annotations = map[string]string{}
		}
		sp.Annotations[shim.EntryAnnotation] = s.cfg.EntryBinary
	}
	// The CLI sends its terminal's size with the create request: the pty
	// starts at that size, so the first command already sees it.
	if cs := c.HostConfig.ConsoleSize; c.Config.Tty && cs[0] > 0 && cs[1] > 0 {
		sp.Process.ConsoleSize = &specs.Box{Height: cs[0], Width: cs[1]}
	}
	data, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(runDir, "config.json"), data); err != nil {
		return err
	}

	maxSize, maxFiles, err := logRotation(c.HostConfig.LogConfig)
	if err != nil {
		return err
	}
	start := shim.Start
	if s.spares != nil {
		start = s.spares.Start
	}
	bin := s.cfg.ShimBinary
	if lean := s.leanShim(); lean != "" && leanCanRun(sp) {
		bin = lean
	}
	client, err := start(ctx, shim.StartOptions{
		SeccompCompiler: s.cfg.ShimBinary,
		LogMaxSize:      maxSize,
		LogMaxFiles:     maxFiles,
		Binary:          bin,
		ID:              c.ID,
		Bundle:          runDir,
		StateDir:        s.stateDir(),
		Socket:          s.socketPath(c.ID),
		LogPath:         s.logPath(c.ID),
		Tty:             c.Config.Tty,
		Stdin:           c.Config.OpenStdin,
		ShimLog:         filepath.Join(runDir, "shim.log"),
		AutoRemove:      c.HostConfig.AutoRemove,
	})
	if err != nil {
		return startError(err)
	}
	s.handOffAttachersLocked(c, client)
	// The "running" record is committed while init starts (a commit is two
	// disk flushes; neither waits for the other). The pids are not in it; a
	// restarted daemon asks the shim. A daemon that dies in between leaves
	// the record "running" with init still "created", or "created" with
	// init running: Restore asks the shim in both cases, removing the
	// first (a failed start) and adopting the second.
	prev := c.State
	c.State = State{
		Status:    container.StateRunning,
		StartedAt: time.Now().UTC(),
		Health:    prev.Health, // the log carries over
	}
	saved, err := s.store.saveAsync(c)
	if err != nil {
		c.State = prev
		s.deleteShim(client)
		return err
	}
	st, err := startInit(ctx, client)
	if serr := <-saved; serr != nil && err == nil {
		// A running container without its record would be lost to the
		// next daemon: the start fails instead.
		c.State = prev
		s.deleteShim(client)
		return serr
	}
	if err != nil {
		c.State = prev
		s.deleteShim(client)
		return startError(err)
	}
	c.State.Pid, c.State.ShimPid = st.Pid, st.ShimPid
	s.startHealthLocked(c, true)
	c.notifyLocked()
	s.event(c, "start", nil)
	s.watch(c, client)
	return nil
}

// startInit starts the container's init through its shim (a variable for
// tests that interrupt a start).
var startInit = func(ctx context.Context, client *shim.Client) (shim.State, error) {
	return client.Init().StartState(ctx)
}

// startError classes an error from creating or starting the container's
// process. The docker CLI picks its exit code (126, 127) from the text.
func startError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") || strings.Contains(msg, "permission denied") || strings.Contains(msg, "not a directory") {
		return errdefs.InvalidParameter(fmt.Errorf("failed to create task for container: %w", err))
	}
	return fmt.Errorf("failed to create task for container: %w", err)
}

func startErrorExitCode(err error) int {
	if code, ok := commandErrorExitCode(err); ok {
		return code
	}
	return 128
}

// execStartErrorExitCode is the exit code of an exec that failed to start:
// dockerd's default for an exec is 126 (a directory as the command, say).
func execStartErrorExitCode(err error) int {
	if code, ok := commandErrorExitCode(err); ok {
		return code
	}
	return 126
}

// commandErrorExitCode classifies an error starting a process as dockerd
// does: 127 when the command is not there (or a path in the way is not a
// directory), 126 when it cannot be invoked.
func commandErrorExitCode(err error) (int, bool) {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"),
		strings.Contains(msg, "not a directory"):
		return 127, true
	case strings.Contains(msg, "permission denied"):
		return 126, true
	}
	return 0, false
}

// leanShim is berth-shim-lean when it can serve containers: it needs
// berth-entry for any seccomp profile, and berth-shim to compile them.
func (s *Service) leanShim() string {
	if s.cfg.EntryBinary == "" || s.cfg.ShimBinary == "" {
		return ""
	}
	return s.cfg.LeanShimBinary
}

// leanCanRun says whether berth-shim-lean can run sp: without a seccomp
// profile, or with one that berth-entry loads once compiled (the shim's
// own test, server.preloadable, on the same profile): no notify action, no
// listener, no label on the process, and no flags of its own (without
// libseccomp, libcontainer cannot check them; the default, SPEC_ALLOW, the
// lean shim adds as libcontainer would).
func leanCanRun(sp *specs.Spec) bool {
	if sp.Linux == nil || sp.Linux.Seccomp == nil {
		return true
	}
	sc := sp.Linux.Seccomp
	if sc.ListenerPath != "" || sc.DefaultAction == specs.ActNotify || len(sc.Flags) > 0 ||
		(sp.Process != nil && (sp.Process.ApparmorProfile != "" || sp.Process.SelinuxLabel != "")) {
		return false
	}
	for _, c := range sc.Syscalls {
		if c.Action == specs.ActNotify {
			return false
		}
	}
	return true
}

// initPath is where --init's init appears in the container, docker's path.
const initPath = shim.InitPath

// specOptions turns the container's config into spec.Options.
func (s *Service) specOptions(c *Container, rootfs string) (spec.Options, error) {
	cfg, hc := c.Config, c.HostConfig
	o := spec.Options{
		Rootfs:          rootfs,
		Args:            append([]string{c.Path}, c.Args...),
		Env:             cfg.Env,
		Cwd:             cfg.WorkingDir,
		User:            cfg.User,
		GroupAdd:        hc.GroupAdd,
		Tty:             cfg.Tty,
		Hostname:        cfg.Hostname,
		ReadonlyRootfs:  hc.ReadonlyRootfs,
		Privileged:      hc.Privileged,
		CapAdd:          hc.CapAdd,
		CapDrop:         hc.CapDrop,
		ShmSize:         hc.ShmSize,
		Sysctls:         hc.Sysctls,
		OOMScoreAdj:     hc.OomScoreAdj,
		CgroupsPath:     s.cgroupsPath(c),
		NoNewPrivileges: false,
		Resources:       resourcesOf(hc.Resources),
	}
	o.Domainname = cfg.Domainname
	for _, d := range hc.Devices {
		dev := spec.Device{HostPath: d.PathOnHost, ContainerPath: d.PathInContainer, Permissions: d.CgroupPermissions}
		if dev.ContainerPath == "" {
			dev.ContainerPath = dev.HostPath
		}
		if dev.Permissions == "" {
			dev.Permissions = "rwm"
		}
		o.Devices = append(o.Devices, dev)
	}
	for _, u := range hc.Ulimits {
		o.Ulimits = append(o.Ulimits, spec.Ulimit{Name: u.Name, Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	for _, so := range hc.SecurityOpt {
		k, v, _ := strings.Cut(so, "=")
		if !strings.Contains(so, "=") {
			k, v, _ = strings.Cut(so, ":")
		}
		switch k {
		case "no-new-privileges":
			o.NoNewPrivileges = v == "" || v == "true"
		case "seccomp":
			if v == "unconfined" {
				o.Seccomp = "unconfined"
			} else {
				data, err := os.ReadFile(v)
				if err != nil {
					// The docker CLI sends the profile's content, not a path.
					o.Seccomp = v
				} else {
					o.Seccomp = string(data)
				}
			}
		case "apparmor", "label":
			// No AppArmor or SELinux here; accepted and ignored like dockerd
			// on hosts without them.
		default:
			return o, errdefs.InvalidParameterf("invalid --security-opt: %q", so)
		}
	}
	if hc.Init != nil && *hc.Init {
		if s.cfg.InitBinary == "" {
			return o, errdefs.InvalidParameterf("--init: berth-init is not installed beside berthd")
		}
		// As docker-init: the init runs the command as its child.
		o.Args = append([]string{initPath, "--"}, o.Args...)
	}
	ns, err := s.namespaces(hc)
	if err != nil {
		return o, err
	}
	o.Namespaces = ns
	if o.Mounts, err = s.userMounts(c); err != nil {
		return o, err
	}
	if hc.Init != nil && *hc.Init {
		o.Mounts = append(o.Mounts, specs.Mount{Destination: initPath, Type: "bind", Source: s.cfg.InitBinary, Options: []string{"bind", "ro"}})
	}
	return o, nil
}

// namespaces maps the host config's modes onto spec namespace options.
func (s *Service) namespaces(hc *container.HostConfig) (spec.NamespaceOptions, error) {
	var ns spec.NamespaceOptions
	join := func(ref, kind string) (string, error) {
		other, err := s.store.get(ref)
		if err != nil {
			return "", err
		}
		other.mu.Lock()
		defer other.mu.Unlock()
		if other.State.Status != container.StateRunning {
			return "", errdefs.Conflictf("cannot join network namespace of a non running container: container %s is %s", other.ID, other.State.Status)
		}
		return fmt.Sprintf("/proc/%d/ns/%s", other.State.Pid, kind), nil
	}
	var err error
	switch mode := hc.NetworkMode; {
	case mode.IsHost():
		ns.Network = spec.NamespaceHost
	case mode.IsContainer():
		if ns.Network, err = join(mode.ConnectedContainer(), "net"); err != nil {
			return ns, err
		}
	}
	switch mode := hc.PidMode; {
	case mode.IsHost():
		ns.PID = spec.NamespaceHost
	case mode.IsContainer():
		if ns.PID, err = join(mode.Container(), "pid"); err != nil {
			return ns, err
		}
	}
	switch mode := hc.IpcMode; {
	case mode.IsHost():
		ns.IPC = spec.NamespaceHost
	case mode.IsContainer():
		if ns.IPC, err = join(mode.Container(), "ipc"); err != nil {
			return ns, err
		}
	}
	if hc.UTSMode.IsHost() {
		ns.UTS = spec.NamespaceHost
	}
	switch hc.CgroupnsMode {
	case "host":
		ns.Cgroup = "host"
	case "private":
		ns.Cgroup = "private"
	}
	return ns, nil
}

// cgroupsPath places the container under the configured parent, by default
// nested under the daemon's own cgroup.
func (s *Service) cgroupsPath(c *Container) string {
	parent := c.HostConfig.CgroupParent
	if parent == "" {
		parent = s.cfg.CgroupParent
	}
	if !strings.HasPrefix(parent, "/") {
		parent = "/" + parent
	}
	return filepath.Join(parent, c.ID)
}

// watch follows the running container's init until it exits.
func (s *Service) watch(c *Container, client *shim.Client) {
	ctx, cancel := context.WithCancel(s.ctx)
	c.monitorCancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			exit, err := client.Init().Wait(ctx)
			if ctx.Err() != nil {
				return // the daemon is shutting down; the container runs on
			}
			if err != nil {
				// The shim may be gone: its exit file may still say how
				// init ended. A shim that still answers only dropped the
				// connection: wait again.
				if e, ferr := shim.ReadExitFile(s.runDir(c.ID)); ferr == nil {
					exit, err = e, nil
				} else if _, serr := client.Init().State(ctx); serr == nil {
					select {
					case <-ctx.Done():
						return
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
			}
			s.handleExit(c, client, exit, err)
			return
		}
	}()
}

// handleExit records an exit, releases the container's resources, and
// applies the restart policy or auto-removal.
func (s *Service) handleExit(c *Container, client *shim.Client, exit shim.Exit, waitErr error) {
	c.mu.Lock()
	s.stopHealthLocked(c, true)
	code := exit.ExitCode
	finished := exit.ExitedAt
	if waitErr != nil {
		// The shim died. Its container may still run (libcontainer's
		// parent-death signal does not reach init): kill what is left in
		// its cgroup and release what the runtime held.
		code = 137
		c.State.Error = "container's shim exited unexpectedly: " + waitErr.Error()
		s.cleanupOrphan(c)
	}
	if finished.IsZero() {
		finished = time.Now()
	}
	// An auto-removed container (--rm, which allows no restart policy)
	// is removed by this exit: claimed here, so that a concurrent rm
	// finds the removal in progress. Its runtime is torn down after the
	// removal is reported (removeExited).
	fastRemove := c.HostConfig.AutoRemove && !c.removing && s.ctx.Err() == nil
	if fastRemove {
		c.removing = true
		s.disconnectNetwork(context.Background(), c)
		s.unmountVolumes(context.Background(), c)
	} else {
		s.releaseRuntime(c, client)
	}
	c.State.Status = container.StateExited
	c.State.ExitCode = code
	c.State.OOMKilled = exit.OOMKilled
	if exit.OOMKilled {
		s.event(c, "oom", nil)
	}
	c.State.Pid = 0
	c.State.ShimPid = 0
	c.State.FinishedAt = finished.UTC()
	c.monitorCancel = nil
	restart, delay := s.shouldRestart(c)
	autoRemove := c.HostConfig.AutoRemove && !c.removing
	if !fastRemove && (!autoRemove || restart) {
		// An auto-removed container is not recorded as exited: a crash
		// before its record goes finds the shim gone and its exit file,
		// as for any exit while the daemon was down, and removes it then.
		_ = s.store.save(c)
	}
	c.notifyLocked()
	s.event(c, "die", map[string]string{"exitCode": strconv.Itoa(code)})
	c.mu.Unlock()

	switch {
	case fastRemove:
		s.removeExited(c, client)
	case restart:
		s.scheduleRestart(c, delay)
	case autoRemove:
		if err := s.Remove(context.Background(), c.ID, RemoveOptions{RemoveVolumes: true, afterExit: true}); err != nil && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrConflict) {
			s.log.Warn("auto-remove failed", "container", c.ID, "err", err)
		}
	}
}

// releaseRuntime undoes a start after init's exit: the shim destroys the
// container (its cgroups, any process left) and exits while the daemon
// releases what it set up on the host (the host's mount of the root
// filesystem, the network, the volumes). Neither needs the other.
func (s *Service) releaseRuntime(c *Container, client *shim.Client) {
	shimDone := make(chan struct{})
	go func() {
		defer close(shimDone)
		s.deleteShim(client)
	}()
	_ = snapshot.Unmount(s.rootfsPath(c.ID))
	s.disconnectNetwork(context.Background(), c)
	s.unmountVolumes(context.Background(), c)
	<-shimDone
}

// deleteShim has the shim destroy the container; a shim from the spare
// pool may then serve another container (shim.Spares.Release).
func (s *Service) deleteShim(client *shim.Client) {
	if client == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := client.Delete(dctx, true)
	cancel()
	client.Close()
	if s.spares != nil {
		s.spares.Release(client.Socket(), err == nil)
	}
}

// shouldRestart applies the restart policy; the caller holds c.mu.
func (s *Service) shouldRestart(c *Container) (bool, time.Duration) {
	if c.ManualStop || c.removing || s.ctx.Err() != nil {
		return false, 0
	}
	rp := c.HostConfig.RestartPolicy
	switch rp.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
	case container.RestartPolicyOnFailure:
		if c.State.ExitCode == 0 || (rp.MaximumRetryCount > 0 && c.RestartCount >= rp.MaximumRetryCount) {
			return false, 0
		}
	default:
		return false, 0
	}
	// Back off like dockerd: 100ms doubling, reset after a run of 10s.
	delay := 100 * time.Millisecond
	if c.State.FinishedAt.Sub(c.State.StartedAt) < 10*time.Second {
		for i := 0; i < c.RestartCount && delay < time.Minute; i++ {
			delay *= 2
		}
	}
	if delay > time.Minute {
		delay = time.Minute
	}
	c.State.Status = container.StateRestarting
	c.notifyLocked()
	return true, delay
}

func (s *Service) scheduleRestart(c *Container, delay time.Duration) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-time.After(delay):
		case <-s.ctx.Done():
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.State.Status != container.StateRestarting || c.ManualStop || c.removing {
			return
		}
		c.RestartCount++
		if err := s.startLocked(s.ctx, c); err != nil {
			s.log.Warn("restart failed", "container", c.ID, "err", err)
			return
		}
		s.event(c, "restart", nil)
	}()
}

// resourcesOf maps docker's resources to the spec generator's.
func resourcesOf(r container.Resources) spec.Resources {
	out := spec.Resources{
		Memory:            r.Memory,
		MemorySwap:        r.MemorySwap,
		MemoryReservation: r.MemoryReservation,
		CPUShares:         uint64(r.CPUShares),
		CPUQuota:          r.CPUQuota,
		CPUPeriod:         uint64(r.CPUPeriod),
		NanoCPUs:          r.NanoCPUs,
		CpusetCpus:        r.CpusetCpus,
		CpusetMems:        r.CpusetMems,
	}
	if r.PidsLimit != nil {
		out.PidsLimit = *r.PidsLimit
	}
	return out
}
