package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-engine/berth/integration/harness"
)

func TestPingVersionInfoGoClient(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	c := d.Client()
	ctx := context.Background()

	ping, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		t.Fatal(err)
	}
	if ping.APIVersion != "1.50" || ping.OSType != "linux" {
		t.Fatalf("ping = %+v, want API 1.50 on linux", ping)
	}
	v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.APIVersion != "1.50" || v.MinAPIVersion != "1.24" || v.Platform.Name != "Berth Engine" {
		t.Fatalf("version = %+v", v)
	}
	res, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info := res.Info
	if info.DockerRootDir != d.DataRoot {
		t.Errorf("DockerRootDir = %q, want %q", info.DockerRootDir, d.DataRoot)
	}
	if info.NCPU < 1 || info.MemTotal <= 0 || info.KernelVersion == "" || info.OperatingSystem == "" {
		t.Errorf("implausible host figures: NCPU=%d MemTotal=%d Kernel=%q OS=%q", info.NCPU, info.MemTotal, info.KernelVersion, info.OperatingSystem)
	}
	if info.CgroupVersion != "1" && info.CgroupVersion != "2" {
		t.Errorf("CgroupVersion = %q", info.CgroupVersion)
	}
	if info.Driver == "" || info.CgroupDriver != "cgroupfs" || info.ID == "" {
		t.Errorf("Driver=%q CgroupDriver=%q ID=%q", info.Driver, info.CgroupDriver, info.ID)
	}
}

func TestDockerCLIVersionInfoDF(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	r := d.Docker("version")
	if r.ExitCode != 0 {
		t.Fatalf("docker version: %s", r)
	}
	for _, want := range []string{`Server: Berth Engine`, `Engine:\s+Version:\s+\S+\s+API version:\s+1\.50 \(minimum version 1\.24\)`} {
		if !regexp.MustCompile(want).MatchString(r.Stdout) {
			t.Errorf("docker version lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout+r.Stderr, "downgraded") {
		t.Errorf("docker version shows a downgrade:\n%s", r)
	}

	r = d.Docker("info", "--format", "{{.DockerRootDir}}|{{.NCPU}}|{{.CgroupVersion}}|{{.ServerVersion}}")
	if r.ExitCode != 0 {
		t.Fatalf("docker info: %s", r)
	}
	parts := strings.Split(strings.TrimSpace(r.Stdout), "|")
	if len(parts) != 4 || parts[0] != d.DataRoot || parts[1] == "0" || parts[3] == "" {
		t.Fatalf("docker info --format = %q", r.Stdout)
	}
	r = d.Docker("info")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Docker Root Dir: "+d.DataRoot) || !strings.Contains(r.Stdout, "Total Memory:") {
		t.Fatalf("docker info:\n%s", r)
	}

	r = d.Docker("system", "df")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "TYPE") || !strings.Contains(r.Stdout, "Local Volumes") {
		t.Fatalf("docker system df:\n%s", r)
	}
}

func TestDockerPy(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	r := d.Python(`
assert client.ping() is True
v = client.version()
i = client.info()
print(json.dumps({"api": v["ApiVersion"], "min": v["MinAPIVersion"], "root": i["DockerRootDir"], "ncpu": i["NCPU"]}))
`)
	if r.ExitCode != 0 {
		t.Fatalf("docker-py: %s", r)
	}
	var got struct {
		API, Min, Root string
		NCPU           int
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.Stdout)), &got); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	if got.API != "1.50" || got.Min != "1.24" || got.Root != d.DataRoot || got.NCPU < 1 {
		t.Fatalf("docker-py saw %+v", got)
	}
}

func TestBadRequests(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	hc := d.HTTPClient()
	tests := []struct {
		name, method, path string
		status             int
		message            string
	}{
		{"unknown path", "GET", "/v1.50/nope", 404, "page not found"},
		{"unknown unversioned", "GET", "/nope", 404, "page not found"},
		{"too new", "GET", "/v1.99/version", 400, "client version 1.99 is too new. Maximum supported API version is 1.50"},
		{"too old", "GET", "/v1.12/version", 400, "client version 1.12 is too old. Minimum supported API version is 1.24"},
		{"bad events filter", "GET", "/events?filters=%7Bnot-json", 400, "invalid filter"},
		{"unknown events filter", "GET", `/events?filters={"bogus":["x"]}`, 400, "invalid filter 'bogus'"},
		{"bad since", "GET", "/events?since=yesterday", 400, "invalid value for since"},
		{"bad df type", "GET", "/system/df?type=nope", 400, "invalid type: nope"},
		{"wrong method", "DELETE", "/version", 405, "method not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://berth"+tc.path, nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Message string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(body.Message, tc.message) {
				t.Fatalf("%s %s = %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, body.Message, tc.status, tc.message)
			}
		})
	}
	// Bodies: malformed JSON, a wrong content type, a huge body.
	bodies := []struct {
		name, ctype string
		body        string
		status      int
		message     string
	}{
		{"malformed json", "application/json", `{"Image": `, 400, "invalid JSON"},
		{"wrong content type", "text/plain", `{"Image":"x"}`, 400, "unsupported Content-Type header (text/plain)"},
		{"huge body", "application/json", `{"Image":"` + strings.Repeat("a", 20<<20) + `"}`, 413, "request body too large"},
		{"no config", "application/json", `{}`, 400, "config cannot be empty"},
		{"no image", "application/json", `{"Cmd":["true"]}`, 400, "no image specified"},
	}
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := hc.Post("http://berth/v1.50/containers/create", tc.ctype, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Message string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(body.Message, tc.message) {
				t.Fatalf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, body.Message, tc.status, tc.message)
			}
		})
	}
	// The daemon still serves after all that.
	if r := d.Docker("version", "--format", "{{.Server.APIVersion}}"); strings.TrimSpace(r.Stdout) != "1.50" {
		t.Fatalf("daemon stopped serving: %s", r)
	}
}

func TestSocketPermissions(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	fi, err := os.Stat(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode %v, want srw-rw----", fi.Mode())
	}
	st := fi.Sys().(*syscall.Stat_t)
	wantGID := 0
	if g, err := user.LookupGroup("docker"); err == nil {
		wantGID, _ = strconv.Atoi(g.Gid)
	}
	if int(st.Gid) != wantGID || st.Uid != 0 {
		t.Fatalf("socket owner %d:%d, want 0:%d", st.Uid, st.Gid, wantGID)
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	second := harness.New(t, harness.Options{Dir: d.Dir})
	second.Socket = d.Dir + "/second.sock"
	second.Pidfile = d.Dir + "/second.pid"
	second.LogPath = d.Dir + "/second.log"
	err := second.Start()
	if err == nil {
		t.Fatal("second berthd on the same data-root started")
	}
	if !strings.Contains(second.Log(), "another berthd is already running on data-root "+d.DataRoot) {
		t.Fatalf("second daemon's message:\n%s", second.Log())
	}
	if _, err := os.Stat(second.Socket); !os.IsNotExist(err) {
		t.Fatalf("second daemon created its socket: %v", err)
	}
	if _, err := os.Stat(second.Pidfile); !os.IsNotExist(err) {
		t.Fatalf("second daemon wrote its pidfile: %v", err)
	}
	// The first is untouched.
	pid, _ := os.ReadFile(d.Pidfile)
	if strings.TrimSpace(string(pid)) != strconv.Itoa(d.Pid()) {
		t.Fatalf("pidfile now %q, want %d", pid, d.Pid())
	}
	if r := d.Docker("version"); r.ExitCode != 0 {
		t.Fatalf("first daemon stopped serving: %s", r)
	}
}

func TestKill9ThenRestart(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	idBefore := d.Docker("info", "--format", "{{.ID}}").Stdout
	d.Kill()
	// The crash leaves the socket and pidfile behind.
	if _, err := os.Stat(d.Socket); err != nil {
		t.Fatalf("expected a stale socket after SIGKILL: %v", err)
	}
	restarted := harness.New(t, harness.Options{Dir: d.Dir})
	if err := restarted.Start(); err != nil {
		t.Fatalf("restart after kill -9: %v", err)
	}
	if got := restarted.Docker("info", "--format", "{{.ID}}").Stdout; got != idBefore || got == "" {
		t.Fatalf("engine ID changed across restart: %q -> %q", idBefore, got)
	}
	pid, _ := os.ReadFile(restarted.Pidfile)
	if strings.TrimSpace(string(pid)) != strconv.Itoa(restarted.Pid()) {
		t.Fatalf("pidfile %q, want %d", pid, restarted.Pid())
	}
}

func TestSIGTERMShutsDownCleanly(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	// An open event stream must not hold the daemon up.
	resp, err := d.HTTPClient().Get("http://berth/v1.50/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	streamEnded := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		close(streamEnded)
	}()
	if err := d.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("berthd still running 20s after SIGTERM\n%s", d.Log())
	}
	if d.ExitErr() != nil {
		t.Fatalf("berthd exit: %v\n%s", d.ExitErr(), d.Log())
	}
	select {
	case <-streamEnded:
	case <-time.After(5 * time.Second):
		t.Fatal("event stream still open after shutdown")
	}
	for _, p := range []string{d.Socket, d.Pidfile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind after clean shutdown: %v", p, err)
		}
	}
}

func TestEventsUntilInThePast(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	// With --until in the past, the stream ends by itself with exit 0.
	r := d.Docker("events", "--since", "10m", "--until", "1s")
	if r.ExitCode != 0 {
		t.Fatalf("docker events --until: %s", r)
	}
	r = d.Docker("events", "--filter", "bogus=1", "--until", "1s")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "invalid filter 'bogus'") {
		t.Fatalf("docker events with a bad filter: %s", r)
	}
}
