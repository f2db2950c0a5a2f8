// Package config holds berthd's configuration: dockerd's flag names and
// daemon.json keys where the meaning is the same, merged with dockerd's
// rules (a setting given both as a flag and in the file is an error;
// unknown keys in the file are an error).
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Defaults.
const (
	DefaultDataRoot   = "/var/lib/berth"
	DefaultExecRoot   = "/run/berth"
	DefaultSocket     = "/run/berth/berth.sock"
	DefaultConfigFile = "/etc/berth/daemon.json"
	DefaultPidfile    = "/run/berth.pid"
)

// Config is the daemon's whole configuration. JSON names are daemon.json
// keys; flag names are registered in InstallFlags.
type Config struct {
	DataRoot           string   `json:"data-root,omitempty"`
	ExecRoot           string   `json:"exec-root,omitempty"`
	Hosts              []string `json:"hosts,omitempty"`
	Pidfile            string   `json:"pidfile,omitempty"`
	LogLevel           string   `json:"log-level,omitempty"`
	Debug              bool     `json:"debug,omitempty"`
	Group              string   `json:"group,omitempty"`
	TLS                *bool    `json:"tls,omitempty"`
	TLSVerify          *bool    `json:"tlsverify,omitempty"`
	TLSCACert          string   `json:"tlscacert,omitempty"`
	TLSCert            string   `json:"tlscert,omitempty"`
	TLSKey             string   `json:"tlskey,omitempty"`
	StorageDriver      string   `json:"storage-driver,omitempty"`
	Bip                string   `json:"bip,omitempty"`
	Iptables           *bool    `json:"iptables,omitempty"`
	RegistryMirrors    []string `json:"registry-mirrors,omitempty"`
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	CgroupParent       string   `json:"cgroup-parent,omitempty"`
	LiveRestore        *bool    `json:"live-restore,omitempty"`
	Labels             []string `json:"labels,omitempty"`
	MaxConcurrentDL    int      `json:"max-concurrent-downloads,omitempty"`
	MaxConcurrentUL    int      `json:"max-concurrent-uploads,omitempty"`
	ShutdownTimeout    int      `json:"shutdown-timeout,omitempty"`
	// RegistryCertsDir holds per-registry certificates (<dir>/<host>/*.crt,
	// like /etc/docker/certs.d); a flag only.
	RegistryCertsDir string `json:"-"`

	// ConfigFile is where daemon.json was read from; not itself a key.
	ConfigFile string `json:"-"`
}

// flagBinding ties a daemon.json key to its flag name, for conflict checks.
var flagForKey = map[string]string{
	"data-root": "data-root", "exec-root": "exec-root", "hosts": "host", "pidfile": "pidfile",
	"log-level": "log-level", "debug": "debug", "group": "group", "tls": "tls",
	"tlsverify": "tlsverify", "tlscacert": "tlscacert", "tlscert": "tlscert", "tlskey": "tlskey",
	"storage-driver": "storage-driver", "bip": "bip", "iptables": "iptables",
	"registry-mirrors": "registry-mirror", "insecure-registries": "insecure-registry",
	"cgroup-parent": "cgroup-parent", "live-restore": "live-restore", "labels": "label",
	"max-concurrent-downloads": "max-concurrent-downloads", "max-concurrent-uploads": "max-concurrent-uploads",
	"shutdown-timeout": "shutdown-timeout",
}

// Flags are the values bound to berthd's command line.
type Flags struct {
	cfg        Config
	tls        bool
	tlsVerify  bool
	iptables   bool
	live       bool
	configFile string
	set        *pflag.FlagSet
}

// InstallFlags registers dockerd's flag names on fs.
func InstallFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{set: fs}
	c := &f.cfg
	fs.StringVar(&c.DataRoot, "data-root", DefaultDataRoot, "Root directory of persistent Berth state")
	fs.StringVar(&c.ExecRoot, "exec-root", DefaultExecRoot, "Root directory for execution state files")
	fs.StringSliceVarP(&c.Hosts, "host", "H", nil, "Daemon socket(s) to connect to (unix:///path, tcp://addr:port)")
	fs.StringVarP(&c.Pidfile, "pidfile", "p", DefaultPidfile, "Path to use for daemon PID file")
	fs.StringVarP(&c.LogLevel, "log-level", "l", "info", `Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")`)
	fs.BoolVarP(&c.Debug, "debug", "D", false, "Enable debug mode")
	fs.StringVarP(&c.Group, "group", "G", "docker", "Group for the unix socket")
	fs.BoolVar(&f.tls, "tls", false, "Use TLS; implied by --tlsverify. --tls=false explicitly allows an unencrypted TCP socket")
	fs.BoolVar(&f.tlsVerify, "tlsverify", false, "Use TLS and verify the remote client (mutual TLS)")
	fs.StringVar(&c.TLSCACert, "tlscacert", "", "Trust certs signed only by this CA")
	fs.StringVar(&c.TLSCert, "tlscert", "", "Path to TLS certificate file")
	fs.StringVar(&c.TLSKey, "tlskey", "", "Path to TLS key file")
	fs.StringVarP(&c.StorageDriver, "storage-driver", "s", "", "Storage driver to use (overlay2, vfs)")
	fs.StringVar(&c.Bip, "bip", "", "IPv4 address (CIDR) of the default bridge")
	fs.BoolVar(&f.iptables, "iptables", true, "Enable addition of nftables rules")
	fs.StringSliceVar(&c.RegistryMirrors, "registry-mirror", nil, "Preferred registry mirror")
	fs.StringSliceVar(&c.InsecureRegistries, "insecure-registry", nil, "Enable insecure registry communication")
	fs.StringVar(&c.CgroupParent, "cgroup-parent", "", "Set parent cgroup for all containers")
	fs.BoolVar(&f.live, "live-restore", true, "Keep containers running while the daemon is down")
	fs.StringSliceVar(&c.Labels, "label", nil, "Set key=value labels to the daemon")
	fs.IntVar(&c.MaxConcurrentDL, "max-concurrent-downloads", 3, "Set the max concurrent downloads")
	fs.IntVar(&c.MaxConcurrentUL, "max-concurrent-uploads", 5, "Set the max concurrent uploads")
	fs.IntVar(&c.ShutdownTimeout, "shutdown-timeout", 15, "Set the default shutdown timeout")
	fs.StringVar(&c.RegistryCertsDir, "registry-certs-dir", "/etc/berth/certs.d", "Directory of per-registry CA and client certificates (<dir>/<host[:port]>/*.crt)")
	fs.StringVar(&f.configFile, "config-file", DefaultConfigFile, "Daemon configuration file")
	return f
}

// Load merges the flags with the configuration file into the final config.
func (f *Flags) Load() (*Config, error) {
	c := f.cfg
	c.ConfigFile = f.configFile
	changed := func(name string) bool { return f.set.Changed(name) }
	// TLS settings stay unset unless given, so that "--tls=false" (an
	// explicit request for plain TCP) differs from not saying anything.
	if changed("tls") {
		c.TLS = boolPtr(f.tls)
	}
	if changed("tlsverify") {
		c.TLSVerify = boolPtr(f.tlsVerify)
	}
	c.Iptables = boolPtr(f.iptables)
	c.LiveRestore = boolPtr(f.live)

	data, err := os.ReadFile(f.configFile)
	switch {
	case errors.Is(err, os.ErrNotExist) && !changed("config-file"):
		// The default file is optional.
	case err != nil:
		return nil, fmt.Errorf("unable to configure the daemon with file %s: %w", f.configFile, err)
	default:
		if err := mergeFile(&c, data, changed, f.configFile); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func boolPtr(b bool) *bool { return &b }

func mergeFile(c *Config, data []byte, changed func(string) bool, path string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("unable to configure the daemon with file %s: %w", path, err)
	}
	var unknown, conflicts []string
	for k := range raw {
		flag, ok := flagForKey[k]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if changed(flag) {
			conflicts = append(conflicts, k)
		}
	}
	sort.Strings(unknown)
	sort.Strings(conflicts)
	if len(unknown) > 0 {
		return fmt.Errorf("the following directives don't match any configuration option: %s", strings.Join(unknown, ", "))
	}
	if len(conflicts) > 0 {
		return fmt.Errorf("the following directives are specified both as a flag and in the configuration file: %s", strings.Join(conflicts, ", "))
	}
	var fromFile Config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fromFile); err != nil {
		return fmt.Errorf("unable to configure the daemon with file %s: %w", path, err)
	}
	set := func(k string) bool { _, ok := raw[k]; return ok }
	if set("data-root") {
		c.DataRoot = fromFile.DataRoot
	}
	if set("exec-root") {
		c.ExecRoot = fromFile.ExecRoot
	}
	if set("hosts") {
		c.Hosts = fromFile.Hosts
	}
	if set("pidfile") {
		c.Pidfile = fromFile.Pidfile
	}
	if set("log-level") {
		c.LogLevel = fromFile.LogLevel
	}
	if set("debug") {
		c.Debug = fromFile.Debug
	}
	if set("group") {
		c.Group = fromFile.Group
	}
	if set("tls") {
		c.TLS = fromFile.TLS
	}
	if set("tlsverify") {
		c.TLSVerify = fromFile.TLSVerify
	}
	if set("tlscacert") {
		c.TLSCACert = fromFile.TLSCACert
	}
	if set("tlscert") {
		c.TLSCert = fromFile.TLSCert
	}
	if set("tlskey") {
		c.TLSKey = fromFile.TLSKey
	}
	if set("storage-driver") {
		c.StorageDriver = fromFile.StorageDriver
	}
	if set("bip") {
		c.Bip = fromFile.Bip
	}
	if set("iptables") {
		c.Iptables = fromFile.Iptables
	}
	if set("registry-mirrors") {
		c.RegistryMirrors = fromFile.RegistryMirrors
	}
	if set("insecure-registries") {
		c.InsecureRegistries = fromFile.InsecureRegistries
	}
	if set("cgroup-parent") {
		c.CgroupParent = fromFile.CgroupParent
	}
	if set("live-restore") {
		c.LiveRestore = fromFile.LiveRestore
	}
	if set("labels") {
		c.Labels = fromFile.Labels
	}
	if set("max-concurrent-downloads") {
		c.MaxConcurrentDL = fromFile.MaxConcurrentDL
	}
	if set("max-concurrent-uploads") {
		c.MaxConcurrentUL = fromFile.MaxConcurrentUL
	}
	if set("shutdown-timeout") {
		c.ShutdownTimeout = fromFile.ShutdownTimeout
	}
	return nil
}

// Validate checks values that need no I/O.
func (c *Config) Validate() error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error", "fatal", "panic":
	default:
		return fmt.Errorf("invalid log level: %q", c.LogLevel)
	}
	switch c.StorageDriver {
	case "", "overlay2", "overlay", "vfs":
	default:
		return fmt.Errorf("unsupported storage driver: %q (supported: overlay2, vfs)", c.StorageDriver)
	}
	if c.DataRoot == "" || !strings.HasPrefix(c.DataRoot, "/") {
		return fmt.Errorf("data-root must be an absolute path: %q", c.DataRoot)
	}
	if c.ExecRoot == "" || !strings.HasPrefix(c.ExecRoot, "/") {
		return fmt.Errorf("exec-root must be an absolute path: %q", c.ExecRoot)
	}
	if c.MaxConcurrentDL < 0 || c.MaxConcurrentUL < 0 {
		return fmt.Errorf("max-concurrent-downloads and max-concurrent-uploads must not be negative")
	}
	for _, h := range c.Hosts {
		if _, _, err := ParseHost(h); err != nil {
			return err
		}
	}
	return nil
}

// TLSEnabled reports whether TCP listeners use TLS.
func (c *Config) TLSEnabled() bool {
	return (c.TLS != nil && *c.TLS) || (c.TLSVerify != nil && *c.TLSVerify)
}

// PlainTCPAllowed reports whether the user explicitly asked for an
// unencrypted TCP socket with --tls=false.
func (c *Config) PlainTCPAllowed() bool {
	return c.TLS != nil && !*c.TLS && (c.TLSVerify == nil || !*c.TLSVerify)
}

// ListenHosts returns the configured hosts, or the default socket.
func (c *Config) ListenHosts() []string {
	if len(c.Hosts) == 0 {
		return []string{"unix://" + DefaultSocket}
	}
	return c.Hosts
}

// ParseHost splits a -H value into protocol and address the way dockerd
// accepts them: unix:///path, tcp://host:port, a bare path, fd:// is refused.
func ParseHost(h string) (proto, addr string, err error) {
	switch {
	case strings.HasPrefix(h, "unix://"):
		addr = strings.TrimPrefix(h, "unix://")
		if addr == "" {
			addr = DefaultSocket
		}
		if !strings.HasPrefix(addr, "/") {
			return "", "", fmt.Errorf("invalid unix socket path %q: must be absolute", addr)
		}
		return "unix", addr, nil
	case strings.HasPrefix(h, "tcp://"):
		addr = strings.TrimPrefix(h, "tcp://")
		if addr == "" || strings.Contains(addr, "/") {
			return "", "", fmt.Errorf("invalid tcp address %q", h)
		}
		if !strings.Contains(addr, ":") {
			addr += ":2376"
		} else if strings.HasSuffix(addr, ":") {
			addr += "2376"
		}
		return "tcp", addr, nil
	case strings.HasPrefix(h, "/"):
		return "unix", h, nil
	}
	return "", "", fmt.Errorf("invalid host %q: use unix:///path or tcp://host:port", h)
}
