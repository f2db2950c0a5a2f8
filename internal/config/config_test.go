package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func load(t *testing.T, file string, args ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	f := InstallFlags(fs)
	path := filepath.Join(t.TempDir(), "daemon.json")
	if file != "" {
		if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Parse(append([]string{"--config-file", path}, args...)); err != nil {
		t.Fatal(err)
	}
	if file == "" {
		// An explicitly named file that is missing is an error; test the
		// default-file case through a fresh flag set instead.
		fs2 := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
		f = InstallFlags(fs2)
		f.configFile = path
		if err := fs2.Parse(args); err != nil {
			t.Fatal(err)
		}
	}
	return f.Load()
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		args    []string
		wantErr string
		check   func(*Config) string
	}{
		{name: "defaults", check: func(c *Config) string {
			if c.DataRoot != DefaultDataRoot || c.ExecRoot != DefaultExecRoot || *c.LiveRestore != true || c.TLS != nil {
				return "unexpected defaults"
			}
			return ""
		}},
		{name: "file values", file: `{"data-root":"/tmp/x","hosts":["unix:///tmp/x.sock"],"debug":true,"registry-mirrors":["http://127.0.0.1:5000"]}`, check: func(c *Config) string {
			if c.DataRoot != "/tmp/x" || len(c.Hosts) != 1 || !c.Debug || c.RegistryMirrors[0] != "http://127.0.0.1:5000" {
				return "file values not applied"
			}
			return ""
		}},
		{name: "flag and file conflict", file: `{"data-root":"/tmp/x"}`, args: []string{"--data-root", "/tmp/y"}, wantErr: "specified both as a flag and in the configuration file: data-root"},
		{name: "unknown key", file: `{"bogus":1}`, wantErr: "don't match any configuration option: bogus"},
		{name: "bad json", file: `{`, wantErr: "unable to configure the daemon"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: "invalid log level"},
		{name: "relative data-root", args: []string{"--data-root", "rel"}, wantErr: "absolute"},
		{name: "bad host", args: []string{"-H", "ftp://x"}, wantErr: "invalid host"},
		{name: "explicit plain tcp", args: []string{"--tls=false"}, check: func(c *Config) string {
			if !c.PlainTCPAllowed() || c.TLSEnabled() {
				return "--tls=false must allow plain tcp"
			}
			return ""
		}},
		{name: "tlsverify", args: []string{"--tlsverify"}, check: func(c *Config) string {
			if !c.TLSEnabled() || c.PlainTCPAllowed() {
				return "--tlsverify must enable TLS"
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.file, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(c); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

func TestMissingExplicitConfigFile(t *testing.T) {
	fs := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	f := InstallFlags(fs)
	if err := fs.Parse([]string{"--config-file", "/nonexistent/daemon.json"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Load(); err == nil {
		t.Fatal("missing explicit config file must be an error")
	}
}

func TestParseHost(t *testing.T) {
	tests := []struct{ in, proto, addr string }{
		{"unix:///run/b.sock", "unix", "/run/b.sock"},
		{"unix://", "unix", DefaultSocket},
		{"/tmp/s.sock", "unix", "/tmp/s.sock"},
		{"tcp://127.0.0.1:2376", "tcp", "127.0.0.1:2376"},
		{"tcp://127.0.0.1", "tcp", "127.0.0.1:2376"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, a, err := ParseHost(tc.in)
			if err != nil || p != tc.proto || a != tc.addr {
				t.Fatalf("ParseHost(%q) = %q, %q, %v", tc.in, p, a, err)
			}
		})
	}
}
