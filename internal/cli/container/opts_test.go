package container

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// parseRun parses a `run` command line (flags, image, command) the way the
// run command does.
func parseRun(t *testing.T, args ...string) (*createConfig, error) {
	t.Helper()
	o := newContainerOptions()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return o.parse(fs, fs.Args())
}

func port(s string) network.Port { return network.MustParsePort(s) }

func TestParseRun(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# comment\n\nA=1\n  B=two words \nBERTH_TEST_FROM_ENV\nBERTH_TEST_UNSET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	labelFile := filepath.Join(dir, "labels")
	if err := os.WriteFile(labelFile, []byte("x=y\nbare\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_TEST_FROM_ENV", "fromenv")
	t.Setenv("BERTH_TEST_E", "e-value")
	i64 := func(v int64) *int64 { return &v }
	tru := true

	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, cc *createConfig)
		wantErr string
	}{
		{
			name: "defaults",
			args: []string{"busybox"},
			check: func(t *testing.T, cc *createConfig) {
				c, h := cc.Config, cc.HostConfig
				if c.Image != "busybox" || !c.AttachStdout || !c.AttachStderr || c.AttachStdin || c.OpenStdin {
					t.Errorf("config %+v", c)
				}
				if h.NetworkMode != "default" || h.RestartPolicy.Name != "no" || c.Cmd != nil || c.Entrypoint != nil {
					t.Errorf("host config %+v", h)
				}
				if h.Init != nil || h.PidsLimit != nil || h.MemorySwappiness != nil || c.StopTimeout != nil {
					t.Errorf("flags not given must not be sent: %+v", h)
				}
			},
		},
		{
			name: "command and args after the image are not flags",
			args: []string{"busybox", "sh", "-c", "echo -e hi"},
			check: func(t *testing.T, cc *createConfig) {
				if !reflect.DeepEqual(cc.Config.Cmd, []string{"sh", "-c", "echo -e hi"}) {
					t.Errorf("cmd %q", cc.Config.Cmd)
				}
			},
		},
		{
			name: "ports",
			args: []string{"-p", "8080:80", "-p", "127.0.0.1:5353:53/udp", "-p", "9000-9001:9000-9001", "-p", "[::1]:8443:443", "-p", "7000", "-p", "8000-8010:81", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				want := network.PortMap{
					port("80/tcp"):   {{HostPort: "8080"}},
					port("53/udp"):   {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "5353"}},
					port("9000/tcp"): {{HostPort: "9000"}},
					port("9001/tcp"): {{HostPort: "9001"}},
					port("443/tcp"):  {{HostIP: netip.MustParseAddr("::1"), HostPort: "8443"}},
					port("7000/tcp"): {{}},
					port("81/tcp"):   {{HostPort: "8000-8010"}},
				}
				if !reflect.DeepEqual(cc.HostConfig.PortBindings, want) {
					t.Errorf("bindings %v", cc.HostConfig.PortBindings)
				}
				if len(cc.Config.ExposedPorts) != len(want) {
					t.Errorf("exposed %v", cc.Config.ExposedPorts)
				}
			},
		},
		{
			name: "expose and publish-all",
			args: []string{"-P", "--expose", "8000-8002", "--expose", "53/udp", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				if !cc.HostConfig.PublishAllPorts || len(cc.Config.ExposedPorts) != 4 {
					t.Errorf("exposed %v", cc.Config.ExposedPorts)
				}
				if _, ok := cc.Config.ExposedPorts[port("53/udp")]; !ok {
					t.Errorf("53/udp missing: %v", cc.Config.ExposedPorts)
				}
			},
		},
		{name: "bad container port", args: []string{"-p", "abc", "busybox"}, wantErr: "invalid containerPort: abc"},
		{name: "mismatched ranges", args: []string{"-p", "80-82:90-91", "busybox"}, wantErr: "invalid ranges specified for container and host Ports: 90-91 and 80-82"},
		{name: "bad protocol", args: []string{"-p", "80/bogus", "busybox"}, wantErr: "invalid proto: bogus"},
		{
			name: "volumes: binds, named, anonymous, relative",
			args: []string{"-v", "/src:/dst", "-v", "/data", "-v", "vol:/x:ro", "-v", "./rel:/y", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				wd, _ := os.Getwd()
				want := []string{"/src:/dst", "vol:/x:ro", filepath.Join(wd, "rel") + ":/y"}
				if !reflect.DeepEqual(cc.HostConfig.Binds, want) {
					t.Errorf("binds %q, want %q", cc.HostConfig.Binds, want)
				}
				if _, ok := cc.Config.Volumes["/data"]; !ok || len(cc.Config.Volumes) != 1 {
					t.Errorf("volumes %v", cc.Config.Volumes)
				}
			},
		},
		{name: "empty volume section", args: []string{"-v", ":/b", "busybox"}, wantErr: "invalid spec: :/b: empty section between colons"},
		{
			name: "env and env-file: files first, bare names from the environment",
			args: []string{"--env-file", envFile, "-e", "C=3", "-e", "BERTH_TEST_E", "-e", "NOT_SET_ANYWHERE_X", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				want := []string{"A=1", "B=two words ", "BERTH_TEST_FROM_ENV=fromenv", "C=3", "BERTH_TEST_E=e-value", "NOT_SET_ANYWHERE_X"}
				if !reflect.DeepEqual(cc.Config.Env, want) {
					t.Errorf("env %q, want %q", cc.Config.Env, want)
				}
			},
		},
		{name: "missing env file", args: []string{"--env-file", filepath.Join(dir, "nope"), "busybox"}, wantErr: "no such file or directory"},
		{name: "empty env name", args: []string{"-e", "=x", "busybox"}, wantErr: "invalid environment variable: =x"},
		{
			name: "labels and label-file",
			args: []string{"--label-file", labelFile, "-l", "a=b", "--label", "c", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				want := map[string]string{"x": "y", "bare": "", "a": "b", "c": ""}
				if !reflect.DeepEqual(cc.Config.Labels, want) {
					t.Errorf("labels %v", cc.Config.Labels)
				}
			},
		},
		{
			name: "memory units",
			args: []string{"-m", "512m", "--memory-swap", "1g", "--memory-reservation", "100m", "--shm-size", "64m", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				h := cc.HostConfig
				if h.Memory != 512<<20 || h.MemorySwap != 1<<30 || h.MemoryReservation != 100<<20 || h.ShmSize != 64<<20 {
					t.Errorf("memory %d swap %d reservation %d shm %d", h.Memory, h.MemorySwap, h.MemoryReservation, h.ShmSize)
				}
			},
		},
		{
			name: "unlimited swap",
			args: []string{"-m", "1.5g", "--memory-swap", "-1", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				if cc.HostConfig.Memory != 1610612736 || cc.HostConfig.MemorySwap != -1 {
					t.Errorf("memory %d swap %d", cc.HostConfig.Memory, cc.HostConfig.MemorySwap)
				}
			},
		},
		{name: "bad memory", args: []string{"-m", "lots", "busybox"}, wantErr: `invalid argument "lots" for "-m, --memory" flag`},
		{
			name: "cpus, shares, pids",
			args: []string{"--cpus", "1.5", "-c", "512", "--cpuset-cpus", "0-1", "--pids-limit", "100", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				h := cc.HostConfig
				if h.NanoCPUs != 1500000000 || h.CPUShares != 512 || h.CpusetCpus != "0-1" || !reflect.DeepEqual(h.PidsLimit, i64(100)) {
					t.Errorf("nano %d shares %d cpuset %q pids %v", h.NanoCPUs, h.CPUShares, h.CpusetCpus, h.PidsLimit)
				}
			},
		},
		{name: "too precise cpus", args: []string{"--cpus", "0.0000000001", "busybox"}, wantErr: "value is too precise"},
		{
			name: "restart always",
			args: []string{"--restart", "always", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				if cc.HostConfig.RestartPolicy != (container.RestartPolicy{Name: "always"}) {
					t.Errorf("policy %+v", cc.HostConfig.RestartPolicy)
				}
			},
		},
		{
			name: "restart on-failure with retries",
			args: []string{"--restart", "on-failure:5", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				if cc.HostConfig.RestartPolicy != (container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 5}) {
					t.Errorf("policy %+v", cc.HostConfig.RestartPolicy)
				}
			},
		},
		{name: "restart retries not a number", args: []string{"--restart", "on-failure:x", "busybox"}, wantErr: "maximum retry count must be an integer"},
		{name: "restart without a name", args: []string{"--restart", ":3", "busybox"}, wantErr: "no policy provided before colon"},
		{name: "restart with --rm", args: []string{"--rm", "--restart", "always", "busybox"}, wantErr: "conflicting options: cannot specify both --restart and --rm"},
		{
			name: "ulimits",
			args: []string{"--ulimit", "nofile=1024:2048", "--ulimit", "nproc=10", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				want := []*units.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 10, Hard: 10}}
				if !reflect.DeepEqual(cc.HostConfig.Ulimits, want) {
					t.Errorf("ulimits %v", cc.HostConfig.Ulimits)
				}
			},
		},
		{name: "bad ulimit", args: []string{"--ulimit", "nofile=10:5", "busybox"}, wantErr: "ulimit soft limit must be less than or equal to hard limit"},
		{
			name: "health flags",
			args: []string{"--health-cmd", "curl -f http://localhost", "--health-interval", "30s", "--health-timeout", "5s", "--health-retries", "3", "--health-start-period", "10s", "--health-start-interval", "2s", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				want := &container.HealthConfig{
					Test: []string{"CMD-SHELL", "curl -f http://localhost"}, Interval: 30 * time.Second, Timeout: 5 * time.Second,
					StartPeriod: 10 * time.Second, StartInterval: 2 * time.Second, Retries: 3,
				}
				if !reflect.DeepEqual(cc.Config.Healthcheck, want) {
					t.Errorf("health %+v", cc.Config.Healthcheck)
				}
			},
		},
		{
			name: "no healthcheck",
			args: []string{"--no-healthcheck", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				if !reflect.DeepEqual(cc.Config.Healthcheck, &container.HealthConfig{Test: []string{"NONE"}}) {
					t.Errorf("health %+v", cc.Config.Healthcheck)
				}
			},
		},
		{name: "no healthcheck with a health flag", args: []string{"--no-healthcheck", "--health-cmd", "x", "busybox"}, wantErr: "--no-healthcheck conflicts with --health-* options"},
		{name: "negative interval", args: []string{"--health-interval", "-1s", "busybox"}, wantErr: "--health-interval cannot be negative"},
		{
			name: "mounts",
			args: []string{
				"--mount", "type=bind,source=/a,target=/b,readonly,bind-propagation=rshared",
				"--mount", "type=volume,src=v,dst=/c,volume-opt=o=1,volume-nocopy",
				"--mount", "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777",
				"--mount", "target=/anon",
				"busybox",
			},
			check: func(t *testing.T, cc *createConfig) {
				want := []mount.Mount{
					{Type: mount.TypeBind, Source: "/a", Target: "/b", ReadOnly: true, BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared}},
					{Type: mount.TypeVolume, Source: "v", Target: "/c", VolumeOptions: &mount.VolumeOptions{NoCopy: true, DriverConfig: &mount.Driver{Options: map[string]string{"o": "1"}}}},
					{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777}},
					{Type: mount.TypeVolume, Target: "/anon"},
				}
				if !reflect.DeepEqual(cc.HostConfig.Mounts, want) {
					t.Errorf("mounts\n got %+v\nwant %+v", cc.HostConfig.Mounts, want)
				}
			},
		},
		{name: "mount without target", args: []string{"--mount", "type=bind,src=/a", "busybox"}, wantErr: `invalid argument "type=bind,src=/a" for "--mount" flag: target is required`},
		{name: "mount options of another type", args: []string{"--mount", "type=bind,src=/a,dst=/b,volume-nocopy", "busybox"}, wantErr: "cannot mix 'volume-*' options with mount type 'bind'"},
		{name: "mount field without value", args: []string{"--mount", "type=bind,src", "busybox"}, wantErr: "invalid field 'src' must be a key=value pair"},
		{
			name: "tmpfs, sysctl, security, caps",
			args: []string{"--tmpfs", "/run:rw,size=64m", "--sysctl", "net.ipv4.ip_forward=1", "--security-opt", "no-new-privileges", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged", "--read-only", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				h := cc.HostConfig
				if h.Tmpfs["/run"] != "rw,size=64m" || h.Sysctls["net.ipv4.ip_forward"] != "1" || !h.Privileged || !h.ReadonlyRootfs {
					t.Errorf("host config %+v", h)
				}
				if !reflect.DeepEqual(h.SecurityOpt, []string{"no-new-privileges"}) || !reflect.DeepEqual(h.CapAdd, []string{"NET_ADMIN"}) || !reflect.DeepEqual(h.CapDrop, []string{"ALL"}) {
					t.Errorf("security %q add %q drop %q", h.SecurityOpt, h.CapAdd, h.CapDrop)
				}
			},
		},
		{
			name: "namespaces, init, stop, user, workdir, entrypoint",
			args: []string{"--init", "--pid", "host", "--ipc", "host", "--uts", "host", "--userns", "host", "--cgroup-parent", "/foo", "--stop-signal", "SIGINT", "--stop-timeout", "30", "-u", "1000:1000", "-w", "/work", "-h", "myhost", "--entrypoint", "/bin/sh", "--group-add", "10", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				c, h := cc.Config, cc.HostConfig
				if !reflect.DeepEqual(h.Init, &tru) || h.PidMode != "host" || h.IpcMode != "host" || h.UTSMode != "host" || h.UsernsMode != "host" || h.CgroupParent != "/foo" {
					t.Errorf("host config %+v", h)
				}
				if c.StopSignal != "SIGINT" || c.StopTimeout == nil || *c.StopTimeout != 30 || c.User != "1000:1000" || c.WorkingDir != "/work" || c.Hostname != "myhost" {
					t.Errorf("config %+v", c)
				}
				if !reflect.DeepEqual(c.Entrypoint, []string{"/bin/sh"}) || !reflect.DeepEqual(h.GroupAdd, []string{"10"}) {
					t.Errorf("entrypoint %q groups %q", c.Entrypoint, h.GroupAdd)
				}
			},
		},
		{
			name: "empty entrypoint resets the image's",
			args: []string{"--entrypoint", "", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				if !reflect.DeepEqual(cc.Config.Entrypoint, []string{""}) {
					t.Errorf("entrypoint %q", cc.Config.Entrypoint)
				}
			},
		},
		{name: "bad pid mode", args: []string{"--pid", "bogus", "busybox"}, wantErr: "--pid: invalid PID mode"},
		{
			name: "log driver and options",
			args: []string{"--log-driver", "json-file", "--log-opt", "max-size=10m", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				if cc.HostConfig.LogConfig.Type != "json-file" || cc.HostConfig.LogConfig.Config["max-size"] != "10m" {
					t.Errorf("log %+v", cc.HostConfig.LogConfig)
				}
			},
		},
		{
			name: "user-defined network with alias, ip and link",
			args: []string{"--network", "mynet", "--network-alias", "web", "--ip", "172.20.0.5", "--link", "db:db", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				ep := cc.Network.EndpointsConfig["mynet"]
				if cc.HostConfig.NetworkMode != "mynet" || ep == nil {
					t.Fatalf("mode %q endpoints %v", cc.HostConfig.NetworkMode, cc.Network.EndpointsConfig)
				}
				if !reflect.DeepEqual(ep.Aliases, []string{"web"}) || ep.IPAMConfig.IPv4Address != netip.MustParseAddr("172.20.0.5") || !reflect.DeepEqual(ep.Links, []string{"db:db"}) {
					t.Errorf("endpoint %+v", ep)
				}
				if !reflect.DeepEqual(cc.HostConfig.Links, []string{"db:db"}) {
					t.Errorf("links %q", cc.HostConfig.Links)
				}
			},
		},
		{
			name: "two networks, the first is the mode",
			args: []string{"--network", "name=n1,alias=a1", "--net", "n2", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				if cc.HostConfig.NetworkMode != "n1" || len(cc.Network.EndpointsConfig) != 2 || !reflect.DeepEqual(cc.Network.EndpointsConfig["n1"].Aliases, []string{"a1"}) {
					t.Errorf("mode %q endpoints %v", cc.HostConfig.NetworkMode, cc.Network.EndpointsConfig)
				}
			},
		},
		{name: "alias on the default network", args: []string{"--network-alias", "x", "busybox"}, wantErr: "network-scoped aliases are only supported for user-defined networks"},
		{
			name: "dns and hosts",
			args: []string{"--dns", "8.8.8.8", "--dns-search", "example.com", "--dns-option", "ndots:2", "--add-host", "foo:1.2.3.4", "--add-host", "bar=::1", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				h := cc.HostConfig
				if !reflect.DeepEqual(h.DNS, []netip.Addr{netip.MustParseAddr("8.8.8.8")}) || !reflect.DeepEqual(h.DNSSearch, []string{"example.com"}) || !reflect.DeepEqual(h.DNSOptions, []string{"ndots:2"}) {
					t.Errorf("dns %v %v %v", h.DNS, h.DNSSearch, h.DNSOptions)
				}
				if !reflect.DeepEqual(h.ExtraHosts, []string{"foo:1.2.3.4", "bar:::1"}) {
					t.Errorf("hosts %q", h.ExtraHosts)
				}
			},
		},
		{name: "bad dns", args: []string{"--dns", "bogus", "busybox"}, wantErr: `invalid argument "bogus" for "--dns" flag: IP address is not correctly formatted: bogus`},
		{name: "bad add-host", args: []string{"--add-host", "foo", "busybox"}, wantErr: `bad format for add-host: "foo"`},
		{
			name: "interactive tty",
			args: []string{"-i", "-t", "busybox", "sh"},
			check: func(t *testing.T, cc *createConfig) {
				c := cc.Config
				if !c.AttachStdin || !c.OpenStdin || !c.StdinOnce || !c.Tty {
					t.Errorf("config %+v", c)
				}
			},
		},
		{
			name: "attach only stdout",
			args: []string{"-a", "stdout", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				c := cc.Config
				if !c.AttachStdout || c.AttachStderr || c.AttachStdin {
					t.Errorf("config %+v", c)
				}
			},
		},
		{name: "bad attach stream", args: []string{"-a", "bogus", "busybox"}, wantErr: "valid streams are STDIN, STDOUT and STDERR"},
		{
			name: "block IO and device rules",
			args: []string{"--blkio-weight-device", "/dev/sda:200", "--device-read-bps", "/dev/sda:1mb", "--device-write-iops", "/dev/sdb:5", "--device-cgroup-rule", "c 1:3 mr", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				h := cc.HostConfig
				if len(h.BlkioWeightDevice) != 1 || *h.BlkioWeightDevice[0] != (blkiodev.WeightDevice{Path: "/dev/sda", Weight: 200}) {
					t.Errorf("weight %v", h.BlkioWeightDevice)
				}
				if len(h.BlkioDeviceReadBps) != 1 || *h.BlkioDeviceReadBps[0] != (blkiodev.ThrottleDevice{Path: "/dev/sda", Rate: 1 << 20}) {
					t.Errorf("read bps %v", h.BlkioDeviceReadBps)
				}
				if len(h.BlkioDeviceWriteIOps) != 1 || *h.BlkioDeviceWriteIOps[0] != (blkiodev.ThrottleDevice{Path: "/dev/sdb", Rate: 5}) {
					t.Errorf("write iops %v", h.BlkioDeviceWriteIOps)
				}
				if !reflect.DeepEqual(h.DeviceCgroupRules, []string{"c 1:3 mr"}) {
					t.Errorf("rules %q", h.DeviceCgroupRules)
				}
			},
		},
		{name: "device path outside /dev", args: []string{"--device-read-bps", "sda:1mb", "busybox"}, wantErr: "bad format for device path: sda:1mb"},
		{name: "weight out of range", args: []string{"--blkio-weight-device", "/dev/sda:5", "busybox"}, wantErr: "invalid weight for device: /dev/sda:5"},
		{
			name: "gpus",
			args: []string{"--gpus", "all", "--gpus", `"device=0,1"`, "--gpus", "driver=nvidia,count=1,capabilities=compute", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				want := []container.DeviceRequest{
					{Count: -1, Capabilities: [][]string{{"gpu"}}},
					{DeviceIDs: []string{"0", "1"}, Capabilities: [][]string{{"gpu"}}},
					{Driver: "nvidia", Count: 1, Capabilities: [][]string{{"compute", "gpu"}}},
				}
				if !reflect.DeepEqual(cc.HostConfig.DeviceRequests, want) {
					t.Errorf("requests %+v", cc.HostConfig.DeviceRequests)
				}
			},
		},
		{
			name: "platform",
			args: []string{"--platform", "linux/arm64/v8", "busybox"},
			check: func(t *testing.T, cc *createConfig) {
				if p := cc.Platform; p == nil || p.OS != "linux" || p.Architecture != "arm64" || p.Variant != "v8" {
					t.Errorf("platform %+v", cc.Platform)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := parseRun(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cc)
		})
	}
}

func TestSplitCpArg(t *testing.T) {
	for in, want := range map[string][2]string{
		"ctr:/etc":    {"ctr", "/etc"},
		"ctr:":        {"ctr", ""},
		"/abs:x":      {"", "/abs:x"},
		"./ctr:/x":    {"", "./ctr:/x"},
		"dir/file:x":  {"", "dir/file:x"},
		"plainfile":   {"", "plainfile"},
		"-":           {"", "-"},
		"a1b2c3:/tmp": {"a1b2c3", "/tmp"},
	} {
		c, p := splitCpArg(in)
		if c != want[0] || p != want[1] {
			t.Errorf("splitCpArg(%q) = %q, %q; want %q, %q", in, c, p, want[0], want[1])
		}
	}
}
