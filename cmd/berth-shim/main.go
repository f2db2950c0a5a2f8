// Command berth-shim runs one container for berthd and outlives it. It is
// also re-executed by libcontainer as the container's init ("berth-shim init").
//
//	berth-shim --id ID --bundle DIR --state-dir DIR --socket PATH --log PATH
//	           [--tty] [--stdin] [--ready-fd N] [--shim-log PATH]
//	berth-shim --spare-fd N --spare-pad PADDING [--ready-fd N]
//
// DIR of --bundle holds config.json (an OCI spec); --state-dir is
// libcontainer's root; the API is served on --socket and exit.json is written
// beside it; init's output goes to --log in Docker's json-file format. With
// --ready-fd the shim closes fd N once the container is created and the
// socket listens, after writing the error there if it failed. With
// --spare-fd it is a spare started ahead of need, which reads its arguments
// from that fd, a line per container, and serves one container after another
// until the fd ends (see shim.Spares). Build with -tags seccomp.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	// Lets the cgroup managers apply device rules.
	_ "github.com/opencontainers/cgroups/devices"
	// The C constructor that joins namespaces before Go starts in "init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime/shim/server"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// Runs after nsenter's constructor and before main; never returns.
		libcontainer.Init()
	}
}

func main() {
	// Started from a sealed copy (/proc/self/fd/N), the kernel named the
	// process after the fd; ps and pgrep look for berth-shim.
	_ = os.WriteFile("/proc/self/comm", []byte("berth-shim"), 0)
	// libcontainer hands its init our GOMAXPROCS, and the init's first step
	// is runtime.GOMAXPROCS(1). Set to 1 (our own runtime read it at start),
	// the init's runtime starts with one P, does not read cgroup limits to
	// size itself and has no world to stop (0.4 ms less CPU per exec
	// measured here).
	if _, ok := os.LookupEnv("GOMAXPROCS"); !ok {
		_ = os.Setenv("GOMAXPROCS", "1")
	}
	o, _ := parseArgs(os.Args[1:], flag.ExitOnError)
	var ready *os.File
	if o.readyFD >= 0 {
		ready = os.NewFile(uintptr(o.readyFD), "ready")
	}
	if o.spareFD >= 0 {
		runAsSpare(o.spareFD, ready)
	}
	o.cfg.Ready = ready
	serve(o.cfg, o.shimLog)
}

// options is berth-shim's command line.
type options struct {
	cfg              server.Config
	readyFD, spareFD int
	shimLog          string
}

func parseArgs(args []string, onError flag.ErrorHandling) (options, error) {
	o := options{readyFD: -1, spareFD: -1}
	cfg := &o.cfg
	var pad string
	fs := flag.NewFlagSet("berth-shim", onError)
	fs.StringVar(&cfg.ID, "id", "", "container id")
	fs.StringVar(&cfg.Bundle, "bundle", "", "bundle directory holding config.json")
	fs.StringVar(&cfg.StateDir, "state-dir", "", "libcontainer state root")
	fs.StringVar(&cfg.Socket, "socket", "", "API socket path")
	fs.StringVar(&cfg.LogPath, "log", "", "json-file log path")
	fs.Int64Var(&cfg.LogMaxSize, "log-max-size", 0, "rotate the log past this many bytes (0: never)")
	fs.IntVar(&cfg.LogMaxFiles, "log-max-file", 1, "log files kept when rotating")
	fs.BoolVar(&cfg.Tty, "tty", false, "give the container a pty")
	fs.BoolVar(&cfg.Stdin, "stdin", false, "keep the container's stdin open")
	fs.IntVar(&o.readyFD, "ready-fd", -1, "fd to close once serving (errors are written to it)")
	fs.IntVar(&o.spareFD, "spare-fd", -1, "start as a spare: read the arguments, a JSON array a line, from this fd")
	fs.StringVar(&pad, "spare-pad", "", "room for the command line a spare takes on")
	fs.StringVar(&o.shimLog, "shim-log", "", "append the shim's own diagnostics to this file")
	fs.StringVar(&cfg.SeccompCompiler, "seccomp-compiler", "", "the berth-shim with libseccomp that compiles seccomp profiles (default: this one)")
	err := fs.Parse(args)
	return o, err
}

// serve runs cfg's container until it is deleted; it exits the process on
// failure.
func serve(cfg server.Config, shimLog string) {
	if shimLog != "" {
		if err := redirectStderr(shimLog); err != nil {
			fail(cfg, err)
		}
	}
	if cfg.ID == "" || cfg.Bundle == "" || cfg.StateDir == "" || cfg.Socket == "" || cfg.LogPath == "" {
		fail(cfg, fmt.Errorf("--id, --bundle, --state-dir, --socket and --log are required"))
	}
	// The daemon may die or restart; its session's signals are not ours.
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)).With("id", cfg.ID))
	if err := server.Run(cfg); err != nil {
		slog.Error("shim failed", "err", err)
		os.Exit(1)
	}
}

// fail reports err on the readiness fd (a line for a spare, see
// server.Config) and on stderr, and exits.
func fail(cfg server.Config, err error) {
	if cfg.Ready != nil {
		fmt.Fprintln(cfg.Ready, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}

// runAsSpare warms what every shim needs, then serves one container after
// another: each comes as a line on fd (a JSON array of the shim's
// arguments), and readiness is a line on ready (see server.Config). Once
// its container is deleted the shim waits for the next line: the daemon
// either gives it another container (shim.Spares takes it back as its
// spare) or closes fd, and EOF ends the process. It never returns.
func runAsSpare(fd int, ready *os.File) {
	server.Prewarm()
	// setCmdline writes over the memory of os.Args: keep the spare's own.
	spareArgs := make([]string, len(os.Args)-1)
	for i, a := range os.Args[1:] {
		spareArgs[i] = strings.Clone(a)
	}
	in := bufio.NewReader(os.NewFile(uintptr(fd), "spare"))
	for {
		args, ok := nextArgs(in)
		if !ok {
			os.Exit(0)
		}
		o, err := parseArgs(args, flag.ContinueOnError)
		o.cfg.Ready, o.cfg.ReadyLine = ready, true
		if err != nil {
			fail(o.cfg, err)
		}
		setCmdline(args)
		serve(o.cfg, o.shimLog)
		setCmdline(spareArgs)
		// Not the deleted container's shim log any more.
		_ = redirectStderr(os.DevNull)
		// What the container's work left on the heap goes back to the
		// system while the shim waits.
		debug.FreeOSMemory()
	}
}

// nextArgs reads one line of arguments. EOF without any means there is no
// more work: the daemon discarded the shim or died.
func nextArgs(in *bufio.Reader) ([]string, bool) {
	b, err := in.ReadBytes('\n')
	if len(b) == 0 || (err != nil && !errors.Is(err, io.EOF)) {
		return nil, false
	}
	var args []string
	if err := json.Unmarshal(b, &args); err != nil {
		fmt.Fprintln(os.Stderr, "berth-shim: spare arguments:", err)
		return nil, false
	}
	return args, true
}

func redirectStderr(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Dup3(int(f.Fd()), 2, 0)
}
