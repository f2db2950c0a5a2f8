package root

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/clitest"
)

// pingDaemon answers the ping and an empty container list, recording the
// requests in order.
type pingDaemon struct {
	mu   sync.Mutex
	reqs []string
}

func (d *pingDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.reqs = append(d.reqs, r.Method+" "+r.URL.Path)
	d.mu.Unlock()
	w.Header().Set("Api-Version", "1.45")
	if r.URL.Path == "/_ping" {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("[]"))
}

func (d *pingDaemon) requests() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.reqs...)
}

func newTestCLI(env map[string]string) (*cli.CLI, *bytes.Buffer) {
	var out bytes.Buffer
	c := &cli.CLI{In: strings.NewReader(""), Out: &out, Err: &out, Getenv: func(k string) string { return env[k] }}
	return c, &out
}

func execute(t *testing.T, c *cli.CLI, args []string) {
	t.Helper()
	cmd := NewCommandFor(c, args)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}

// The ping goes out before the command is even built, and once: the
// command's request uses its answer.
func TestPreconnectPingsAhead(t *testing.T) {
	d := &pingDaemon{}
	host := clitest.ServeUnix(t, d)
	c, _ := newTestCLI(map[string]string{"DOCKER_HOST": host})
	args := []string{"ps", "-q"}
	Preconnect(c, args)
	deadline := time.Now().Add(5 * time.Second)
	for len(d.requests()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no ping before the command ran")
		}
		time.Sleep(time.Millisecond)
	}
	execute(t, c, args)
	want := "HEAD /_ping,GET /v1.45/containers/json"
	if got := strings.Join(d.requests(), ","); got != want {
		t.Errorf("requests %s, want %s", got, want)
	}
}

// Nothing ahead of a command line with global flags (they may name
// another daemon or TLS), of a command that may not talk to the daemon, or
// of a daemon that is not a unix socket.
func TestPreconnectOnlyWhenCertain(t *testing.T) {
	d := &pingDaemon{}
	host := clitest.ServeUnix(t, d)
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"-H", host, "ps"}, map[string]string{"DOCKER_HOST": host}},
		{[]string{"help", "ps"}, map[string]string{"DOCKER_HOST": host}},
		{[]string{"ps"}, map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1"}},
		{[]string{"ps"}, map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:1"}},
	} {
		c, _ := newTestCLI(tc.env)
		Preconnect(c, tc.args)
		time.Sleep(20 * time.Millisecond)
		if got := d.requests(); len(got) != 0 {
			t.Errorf("%v %v: requests %v before the command ran", tc.args, tc.env, got)
		}
	}
}

// A daemon that is not there: the command fails as it does without the
// early ping, after no second attempt to ping.
func TestPreconnectNoDaemon(t *testing.T) {
	host := "unix://" + t.TempDir() + "/nosuch.sock"
	var msgs []string
	for _, pre := range []bool{false, true} {
		c, _ := newTestCLI(map[string]string{"DOCKER_HOST": host})
		args := []string{"ps"}
		if pre {
			Preconnect(c, args)
		}
		cmd := NewCommandFor(c, args)
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(context.Background())
		if err == nil {
			t.Fatal("ps succeeded without a daemon")
		}
		msgs = append(msgs, err.Error())
	}
	if msgs[0] != msgs[1] {
		t.Errorf("without the early ping: %q\nwith it: %q", msgs[0], msgs[1])
	}
}

// Every command Preconnect pings ahead of exists.
func TestDaemonCommandsExist(t *testing.T) {
	names := map[string]bool{}
	for _, l := range lazyCommands(cli.New()) {
		names[l.Name] = true
	}
	for w := range daemonCommands {
		if !names[w] {
			t.Errorf("%q is not a command", w)
		}
	}
}
