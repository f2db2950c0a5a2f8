// Command berth-shim runs one container for berthd and outlives it. It is
// also re-executed by libcontainer as the container's init ("berth-shim init").
//
//	berth-shim --id ID --bundle DIR --state-dir DIR --socket PATH --log PATH
//	           [--tty] [--stdin] [--ready-fd N]
//
// DIR of --bundle holds config.json (an OCI spec); --state-dir is
// libcontainer's root; the API is served on --socket and exit.json is written
// beside it; init's output goes to --log in Docker's json-file format. With
// --ready-fd the shim closes fd N once the container is created and the
// socket listens, after writing the error there if it failed. Build with
// -tags seccomp.
package main

import (
	"flag"
	"fmt"
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
	var cfg server.Config
	readyFD := -1
	flag.StringVar(&cfg.ID, "id", "", "container id")
	flag.StringVar(&cfg.Bundle, "bundle", "", "bundle directory holding config.json")
	flag.StringVar(&cfg.StateDir, "state-dir", "", "libcontainer state root")
	flag.StringVar(&cfg.Socket, "socket", "", "API socket path")
	flag.StringVar(&cfg.LogPath, "log", "", "json-file log path")
	flag.Int64Var(&cfg.LogMaxSize, "log-max-size", 0, "rotate the log past this many bytes (0: never)")
	flag.IntVar(&cfg.LogMaxFiles, "log-max-file", 1, "log files kept when rotating")
	flag.BoolVar(&cfg.Tty, "tty", false, "give the container a pty")
	flag.BoolVar(&cfg.Stdin, "stdin", false, "keep the container's stdin open")
	flag.IntVar(&readyFD, "ready-fd", -1, "fd to close once serving (errors are written to it)")
	flag.Parse()
	if readyFD >= 0 {
		cfg.Ready = os.NewFile(uintptr(readyFD), "ready")
	}
	if cfg.ID == "" || cfg.Bundle == "" || cfg.StateDir == "" || cfg.Socket == "" || cfg.LogPath == "" {
		err := fmt.Errorf("--id, --bundle, --state-dir, --socket and --log are required")
		if cfg.Ready != nil {
			fmt.Fprintln(cfg.Ready, err)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// The daemon may die or restart; its session's signals are not ours.
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)).With("id", cfg.ID))
	if err := server.Run(cfg); err != nil {
		slog.Error("shim failed", "err", err)
		os.Exit(1)
	}
}
