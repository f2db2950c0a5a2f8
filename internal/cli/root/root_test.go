package root

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/cli"
)

// fakeDaemon answers the few endpoints these commands use, the way berthd
// (or dockerd) would at API 1.50. It records request URIs for assertions.
type fakeDaemon struct {
	mu   sync.Mutex
	reqs []string
}

const versionJSON = `{"Platform":{"Name":"Berth Engine"},"Components":[` +
	`{"Name":"Engine","Version":"0.1.0","Details":{"ApiVersion":"1.50","Arch":"amd64","BuildTime":"2026-11-24T10:00:00.000000000+00:00","Experimental":"false","GitCommit":"abc1234","GoVersion":"go1.26.8","KernelVersion":"6.1.0","MinAPIVersion":"1.24","Os":"linux"}},` +
	`{"Name":"runc","Version":"1.5.2","Details":{"GitCommit":"v1.5.2-0"}}],` +
	`"Version":"0.1.0","ApiVersion":"1.50","MinAPIVersion":"1.24","GitCommit":"abc1234","GoVersion":"go1.26.8","Os":"linux","Arch":"amd64","KernelVersion":"6.1.0","BuildTime":"2026-11-24T10:00:00.000000000+00:00"}`

const infoJSON = `{"ID":"d1b2c3","Containers":3,"ContainersRunning":1,"ContainersPaused":0,"ContainersStopped":2,"Images":5,` +
	`"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"]],` +
	`"Plugins":{"Volume":["local"],"Network":["bridge","host","null"],"Log":["json-file","local"]},` +
	`"LoggingDriver":"json-file","CgroupDriver":"cgroupfs","CgroupVersion":"1","KernelVersion":"6.1.0",` +
	`"OperatingSystem":"Debian GNU/Linux 12 (bookworm)","OSType":"linux","Architecture":"x86_64",` +
	`"RegistryConfig":{"InsecureRegistryCIDRs":["::1/128","127.0.0.0/8"],"IndexConfigs":{"docker.io":{"Name":"docker.io","Mirrors":["https://mirror.example.com/"],"Secure":true,"Official":true},"myreg:5000":{"Name":"myreg:5000","Secure":false}},"Mirrors":["https://mirror.example.com/"]},` +
	`"NCPU":4,"MemTotal":8254181376,"DockerRootDir":"/var/lib/berth","Name":"host1","Labels":["a=b"],"ServerVersion":"0.1.0",` +
	`"Runtimes":{"runc":{"path":"runc"}},"DefaultRuntime":"runc","Swarm":{"LocalNodeState":"inactive"},"LiveRestoreEnabled":true,` +
	`"InitBinary":"berth-shim","ContainerdCommit":{"ID":""},"RuncCommit":{"ID":"v1.5.2"},"InitCommit":{"ID":""},` +
	`"SecurityOptions":["name=seccomp,profile=builtin"],"Warnings":["WARNING: bridge-nf-call-iptables is disabled"]}`

func (f *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.URL.RequestURI())
	f.mu.Unlock()
	if r.URL.Path == "/_ping" {
		w.Header().Set("Api-Version", "1.50")
		w.Header().Set("Ostype", "linux")
		_, _ = w.Write([]byte("OK"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/v1.50/version":
		_, _ = w.Write([]byte(versionJSON))
	case "/v1.50/info":
		_, _ = w.Write([]byte(infoJSON))
	case "/v1.50/system/df":
		created := time.Now().Add(-2 * time.Hour).Unix()
		fmt.Fprintf(w, `{"LayersSize":123456789,`+
			`"Images":[{"Id":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","RepoTags":["alpine:latest"],"Created":%d,"Size":8000000,"SharedSize":0,"Containers":1},`+
			`{"Id":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","RepoTags":["localhost:5000/busybox:1"],"Created":%d,"Size":4000000,"SharedSize":0,"Containers":0}],`+
			`"Containers":[{"Id":"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","Names":["/web"],"Image":"alpine","Command":"sh","Created":%d,"State":"running","Status":"Up 2 hours","SizeRw":1234,"Mounts":[]}],`+
			`"Volumes":[{"Name":"vol1","Driver":"local","Mountpoint":"/x","Scope":"local","UsageData":{"Size":2048,"RefCount":1}}],"BuildCache":[]}`,
			created, created, created)
	case "/v1.50/events":
		enc := json.NewEncoder(w)
		_ = enc.Encode(map[string]any{"Type": "container", "Action": "create", "Actor": map[string]any{"ID": "cccc1111", "Attributes": map[string]string{"name": "web", "image": "alpine"}}, "scope": "local", "time": 1795514400, "timeNano": int64(1795514400123456789)})
		_ = enc.Encode(map[string]any{"Type": "network", "Action": "connect", "Actor": map[string]any{"ID": "nnn"}, "scope": "local", "time": 1795514401, "timeNano": int64(1795514401000000000)})
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"page not found"}`))
	}
}

func (f *fakeDaemon) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

type result struct {
	code           int
	stdout, stderr string
}

// run executes berth in-process the way main does, returning what main
// would print and its exit code.
func run(t *testing.T, host string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli.CLI{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
	cmd := NewCommand(c)
	if host != "" {
		args = append([]string{"-H", host}, args...)
	}
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	_ = c.Close()
	code, msg := cli.ExitCode(err)
	if msg != "" {
		fmt.Fprintln(&errb, msg)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func startDaemon(t *testing.T) (*fakeDaemon, string) {
	t.Helper()
	// Keep rendered dates independent of the machine's zone.
	oldLocal := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = oldLocal })
	fd := &fakeDaemon{}
	srv := httptest.NewServer(fd)
	t.Cleanup(srv.Close)
	return fd, "tcp://" + strings.TrimPrefix(srv.URL, "http://")
}

func clientVersionBlock() string {
	return "Client:\n" +
		" Version:           0.1.0-dev\n" +
		" API version:       1.50\n" +
		" Go version:        " + runtime.Version() + "\n" +
		" Git commit:        unknown\n" +
		" Built:             \n" +
		" OS/Arch:           " + runtime.GOOS + "/" + runtime.GOARCH + "\n" +
		" Context:           default\n"
}

func TestVersion(t *testing.T) {
	_, host := startDaemon(t)
	tests := []struct {
		name       string
		host       string
		args       []string
		wantCode   int
		wantOut    string
		wantErrSub string
	}{
		{
			name: "default layout",
			host: host,
			args: []string{"version"},
			wantOut: clientVersionBlock() + "\n" +
				"Server: Berth Engine\n" +
				" Engine:\n" +
				"  Version:          0.1.0\n" +
				"  API version:      1.50 (minimum version 1.24)\n" +
				"  Go version:       go1.26.8\n" +
				"  Git commit:       abc1234\n" +
				"  Built:            Tue Nov 24 10:00:00 2026\n" +
				"  OS/Arch:          linux/amd64\n" +
				"  Experimental:     false\n" +
				" runc:\n" +
				"  Version:          1.5.2\n" +
				"  GitCommit:        v1.5.2-0\n",
		},
		{
			name:    "format",
			host:    host,
			args:    []string{"version", "--format", "{{.Server.Version}} {{.Server.GitCommit}} {{.Client.APIVersion}}"},
			wantOut: "0.1.0 abc1234 1.50\n",
		},
		{
			name:    "format json client",
			host:    host,
			args:    []string{"version", "-f", "{{json .Client.Context}}"},
			wantOut: "\"default\"\n",
		},
		{
			name:       "server unreachable prints client part",
			host:       "unix:///nonexistent/berth.sock",
			args:       []string{"version"},
			wantCode:   1,
			wantOut:    clientVersionBlock(),
			wantErrSub: "/nonexistent/berth.sock",
		},
		{
			name:       "bad template",
			host:       host,
			args:       []string{"version", "--format", "{{.Nope}}"},
			wantCode:   1,
			wantErrSub: "can't evaluate field Nope",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.host, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if tt.wantOut != "" && r.stdout != tt.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tt.wantOut)
			}
			if !strings.Contains(r.stderr, tt.wantErrSub) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.wantErrSub)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	_, host := startDaemon(t)
	wantOut := `Client:
 Version:    0.1.0-dev
 Context:    default
 Debug Mode: false

Server:
 Containers: 3
  Running: 1
  Paused: 0
  Stopped: 2
 Images: 5
 Server Version: 0.1.0
 Storage Driver: overlay2
  Backing Filesystem: extfs
  Supports d_type: true
 Logging Driver: json-file
 Cgroup Driver: cgroupfs
 Cgroup Version: 1
 Plugins:
  Volume: local
  Network: bridge host null
  Log: json-file local
 Swarm: inactive
 Runtimes: runc
 Default Runtime: runc
 Init Binary: berth-shim
 containerd version: 
 runc version: v1.5.2
 init version: 
 Security Options:
  seccomp
   Profile: builtin
 Kernel Version: 6.1.0
 Operating System: Debian GNU/Linux 12 (bookworm)
 OSType: linux
 Architecture: x86_64
 CPUs: 4
 Total Memory: 7.687GiB
 Name: host1
 ID: d1b2c3
 Docker Root Dir: /var/lib/berth
 Debug Mode: false
 Labels:
  a=b
 Experimental: false
 Insecure Registries:
  myreg:5000
  ::1/128
  127.0.0.0/8
 Registry Mirrors:
  https://mirror.example.com/
 Live Restore Enabled: true

`
	tests := []struct {
		name     string
		host     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "default layout, warnings on stderr", host: host, args: []string{"info"}, wantOut: wantOut, wantErr: "WARNING: bridge-nf-call-iptables is disabled\n"},
		{name: "system info alias", host: host, args: []string{"system", "info"}, wantOut: wantOut, wantErr: "WARNING: bridge-nf-call-iptables is disabled\n"},
		{name: "format field", host: host, args: []string{"info", "--format", "{{.ServerVersion}} {{.NCPU}} {{.ClientInfo.Context}}"}, wantOut: "0.1.0 4 default\n"},
		{name: "format json", host: host, args: []string{"info", "--format", "{{json .Plugins.Volume}}"}, wantOut: "[\"local\"]\n"},
		{
			name: "server unreachable", host: "unix:///nonexistent/berth.sock", args: []string{"info"}, wantCode: 1,
			wantOut: "Client:\n Version:    0.1.0-dev\n Context:    default\n Debug Mode: false\n\nServer:\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.host, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if r.stdout != tt.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tt.wantOut)
			}
			if tt.wantCode == 0 && r.stderr != tt.wantErr {
				t.Errorf("stderr %q, want %q", r.stderr, tt.wantErr)
			}
		})
	}
}

func TestDiskUsage(t *testing.T) {
	_, host := startDaemon(t)
	tests := []struct {
		name    string
		args    []string
		wantOut string
	}{
		{
			name: "summary table",
			args: []string{"system", "df"},
			wantOut: "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n" +
				"Images          2         1         123.5MB   115.5MB (93%)\n" +
				"Containers      1         1         1.234kB   0B (0%)\n" +
				"Local Volumes   1         1         2.048kB   0B (0%)\n" +
				"Build Cache     0         0         0B        0B\n",
		},
		{
			name:    "format",
			args:    []string{"system", "df", "--format", "{{.Type}}={{.Active}}"},
			wantOut: "Images=1\nContainers=1\nLocal Volumes=1\nBuild Cache=0\n",
		},
		{
			name:    "json lines with sorted keys",
			args:    []string{"system", "df", "--format", "json", "--verbose=false"},
			wantOut: `{"Active":"1","Reclaimable":"115.5MB (93%)","Size":"123.5MB","TotalCount":"2","Type":"Images"}` + "\n" + `{"Active":"1","Reclaimable":"0B (0%)","Size":"1.234kB","TotalCount":"1","Type":"Containers"}` + "\n" + `{"Active":"1","Reclaimable":"0B (0%)","Size":"2.048kB","TotalCount":"1","Type":"Local Volumes"}` + "\n" + `{"Active":"0","Reclaimable":"0B","Size":"0B","TotalCount":"0","Type":"Build Cache"}` + "\n",
		},
		{
			name: "verbose",
			args: []string{"system", "df", "-v"},
			wantOut: "Images space usage:\n\n" +
				"REPOSITORY               TAG       IMAGE ID       CREATED       SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n" +
				"alpine                   latest    aaaaaaaaaaaa   2 hours ago   8MB       0B            8MB           1\n" +
				"localhost:5000/busybox   1         bbbbbbbbbbbb   2 hours ago   4MB       0B            4MB           0\n" +
				"\nContainers space usage:\n\n" +
				"CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED       STATUS       NAMES\n" +
				"cccccccccccc   alpine    \"sh\"      0               1.23kB    2 hours ago   Up 2 hours   web\n" +
				"\nLocal Volumes space usage:\n\n" +
				"VOLUME NAME   LINKS     SIZE\n" +
				"vol1          1         2.048kB\n" +
				"\nBuild cache usage: 0B\n\n" +
				"CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, host, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit code %d, stderr %q", r.code, r.stderr)
			}
			if r.stdout != tt.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tt.wantOut)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	fd, host := startDaemon(t)
	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantOut   string
		wantQuery []string
	}{
		{
			name: "default lines",
			args: []string{"events"},
			wantOut: "2026-11-24T10:00:00.123456789Z container create cccc1111 (image=alpine, name=web)\n" +
				"2026-11-24T10:00:01.000000000Z network connect nnn\n",
		},
		{
			name:      "format, filters and times reach the API",
			args:      []string{"system", "events", "--format", "{{.Type}} {{.Action}}", "-f", "type=container", "--since", "1795514400", "--until", "2026-11-24T10:00:05Z"},
			wantOut:   "container create\nnetwork connect\n",
			wantQuery: []string{"since=1795514400&", "until=1795514405.000000000", "filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D"},
		},
		{name: "bad filter is a flag error", args: []string{"events", "--filter", "type"}, wantCode: 125},
		{name: "bad since", args: []string{"events", "--since", "yesterday"}, wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, host, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit code %d, want %d, stderr %q", r.code, tt.wantCode, r.stderr)
			}
			if r.stdout != tt.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tt.wantOut)
			}
			if len(tt.wantQuery) > 0 {
				reqs := fd.requests()
				last := reqs[len(reqs)-1]
				for _, q := range tt.wantQuery {
					if !strings.Contains(last, q) {
						t.Errorf("request %q lacks %q", last, q)
					}
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{
			name: "unknown flag exits 125", args: []string{"info", "--bogus"}, wantCode: 125,
			wantErr: "unknown flag: --bogus\n\nUsage:  berth info [OPTIONS]\n\nRun 'berth info --help' for more information\n",
		},
		{
			name: "extra argument exits 1", args: []string{"version", "extra"}, wantCode: 1,
			wantErr: "berth: 'berth version' accepts no arguments\n\nUsage:  berth version [OPTIONS]\n\nRun 'berth version --help' for more information\n",
		},
		{
			name: "unknown command exits 1", args: []string{"foo"}, wantCode: 1,
			wantErr: "berth: unknown command: berth foo\n\nRun 'berth --help' for more information\n",
		},
		{name: "completion needs a shell", args: []string{"completion"}, wantCode: 1, wantErr: "requires 1 argument"},
		{name: "two hosts", args: []string{"-H", "unix:///a", "-H", "unix:///b", "info", "--format", "{{.ID}}"}, wantCode: 1, wantErr: "specify only one -H"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d", r.code, tt.wantCode)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q, want %q", r.stderr, tt.wantErr)
			}
		})
	}
}

func TestVersionFlagAndCompletion(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantSub string
	}{
		{"--version", []string{"--version"}, "Berth version 0.1.0-dev, build unknown\n"},
		{"-v", []string{"-v"}, "Berth version 0.1.0-dev, build unknown\n"},
		{"bash", []string{"completion", "bash"}, "bash completion"},
		{"zsh", []string{"completion", "zsh"}, "#compdef berth"},
		{"fish", []string{"completion", "fish"}, "fish completion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", tt.args...)
			if r.code != 0 || !strings.Contains(r.stdout, tt.wantSub) {
				t.Errorf("code %d, stdout %.80q, want it to contain %q", r.code, r.stdout, tt.wantSub)
			}
		})
	}
}

func TestTLSVerify(t *testing.T) {
	oldLocal := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = oldLocal })
	srv := httptest.NewUnstartedServer(&fakeDaemon{})
	// The refused handshake is logged through log's default output, which
	// the CLI under test points at its stderr buffer: keep it out.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := "tcp://" + strings.TrimPrefix(srv.URL, "https://")

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	format := []string{"version", "--format", "{{.Server.Version}}"}
	tests := []struct {
		name     string
		flags    []string
		wantCode int
	}{
		{name: "verified with the server's CA", flags: []string{"--tlsverify", "--tlscacert", ca, "--tlscert", missing, "--tlskey", missing}},
		{name: "--tls skips verification", flags: []string{"--tls", "--tlscacert", missing, "--tlscert", missing, "--tlskey", missing}},
		{name: "verification without the CA fails", flags: []string{"--tlsverify", "--tlscacert", missing, "--tlscert", missing, "--tlskey", missing}, wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, host, append(tt.flags, format...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit code %d, want %d, stderr %q", r.code, tt.wantCode, r.stderr)
			}
			if tt.wantCode == 0 && r.stdout != "0.1.0\n" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
}

// A daemon that ignores until must not keep `events --until` running.
func TestEventsUntilStopsOpenStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.50")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"Type":"container","Action":"start","Actor":{"ID":"x"},"time":1795514400,"timeNano":1795514400000000000}`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	start := time.Now()
	r := run(t, "tcp://"+strings.TrimPrefix(srv.URL, "http://"), "events", "--until", "0s", "--format", "{{.Action}}")
	if r.code != 0 || r.stdout != "start\n" {
		t.Errorf("code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}
