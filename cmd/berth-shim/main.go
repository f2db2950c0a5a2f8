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
// from that fd (see shim.Spares). Build with -tags seccomp.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

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
	var cfg server.Config
	readyFD, spareFD := -1, -1
	var shimLog, pad string
	fs := flag.NewFlagSet("berth-shim", flag.ExitOnError)
	fs.StringVar(&cfg.ID, "id", "", "container id")
	fs.StringVar(&cfg.Bundle, "bundle", "", "bundle directory holding config.json")
	fs.StringVar(&cfg.StateDir, "state-dir", "", "libcontainer state root")
	fs.StringVar(&cfg.Socket, "socket", "", "API socket path")
	fs.StringVar(&cfg.LogPath, "log", "", "json-file log path")
	fs.Int64Var(&cfg.LogMaxSize, "log-max-size", 0, "rotate the log past this many bytes (0: never)")
	fs.IntVar(&cfg.LogMaxFiles, "log-max-file", 1, "log files kept when rotating")
	fs.BoolVar(&cfg.Tty, "tty", false, "give the container a pty")
	fs.BoolVar(&cfg.Stdin, "stdin", false, "keep the container's stdin open")
	fs.IntVar(&readyFD, "ready-fd", -1, "fd to close once serving (errors are written to it)")
	fs.IntVar(&spareFD, "spare-fd", -1, "start as a spare: read the arguments as a JSON array from this fd")
	fs.StringVar(&pad, "spare-pad", "", "room for the command line a spare takes on")
	fs.StringVar(&shimLog, "shim-log", "", "append the shim's own diagnostics to this file")
	_ = fs.Parse(os.Args[1:])
	if readyFD >= 0 {
		cfg.Ready = os.NewFile(uintptr(readyFD), "ready")
	}
	if spareFD >= 0 {
		args, ok := waitAsSpare(spareFD)
		if !ok {
			os.Exit(0)
		}
		// The padding's memory is about to be overwritten.
		pad = ""
		if err := fs.Parse(args); err != nil {
			fail(cfg.Ready, err)
		}
		setCmdline(args)
	}
	if shimLog != "" {
		if err := redirectStderr(shimLog); err != nil {
			fail(cfg.Ready, err)
		}
	}
	if cfg.ID == "" || cfg.Bundle == "" || cfg.StateDir == "" || cfg.Socket == "" || cfg.LogPath == "" {
		fail(cfg.Ready, fmt.Errorf("--id, --bundle, --state-dir, --socket and --log are required"))
	}
	// The daemon may die or restart; its session's signals are not ours.
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)).With("id", cfg.ID))
	if err := server.Run(cfg); err != nil {
		slog.Error("shim failed", "err", err)
		os.Exit(1)
	}
}

func fail(ready *os.File, err error) {
	if ready != nil {
		fmt.Fprintln(ready, err)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}

// waitAsSpare warms what every shim needs, then reads the arguments from fd:
// a JSON array of strings. EOF without any means there is no work: the
// daemon discarded the spare or died.
func waitAsSpare(fd int) ([]string, bool) {
	server.Prewarm()
	f := os.NewFile(uintptr(fd), "spare")
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	f.Close()
	if err != nil || len(b) == 0 {
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
