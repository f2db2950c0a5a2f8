// Command berthd is the Berth daemon: it serves the Docker Engine API.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/config"
	"github.com/berth-engine/berth/internal/daemon"
	"github.com/berth-engine/berth/internal/version"
)

func main() {
	var flags *config.Flags
	var showVersion bool
	cmd := &cobra.Command{
		Use:           "berthd [OPTIONS]",
		Short:         "A self-sufficient runtime for containers (the Berth daemon)",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				fmt.Printf("Berth version %s, build %s\n", version.Version, version.GitCommit)
				return nil
			}
			cfg, err := flags.Load()
			if err != nil {
				return err
			}
			return run(cfg)
		},
	}
	flags = config.InstallFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&showVersion, "version", "v", false, "Print version information and quit")
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "berthd: %v\n", err)
		os.Exit(1)
	}
}

func newLogger(cfg *config.Config) *slog.Logger {
	level := slog.LevelInfo
	switch cfg.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	}
	if cfg.Debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func run(cfg *config.Config) error {
	log := newLogger(cfg)
	slog.SetDefault(log)
	d, err := daemon.New(cfg, log)
	if err != nil {
		return err
	}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT)
	serveErr := make(chan error, 1)
	go func() { serveErr <- d.Serve() }()
	log.Info("berthd started", "version", version.Version, "data-root", cfg.DataRoot, "exec-root", cfg.ExecRoot, "pid", os.Getpid())

	select {
	case err := <-serveErr:
		shutdown(d, cfg, log)
		return err
	case sig := <-sigc:
		log.Info("shutting down", "signal", sig.String())
		// A second signal while waiting for in-flight requests stops at once.
		go func() {
			<-sigc
			log.Warn("second signal: exiting without waiting")
			os.Exit(1)
		}()
		shutdown(d, cfg, log)
		return <-serveErr
	}
}

func shutdown(d *daemon.Daemon, cfg *config.Config, log *slog.Logger) {
	timeout := time.Duration(cfg.ShutdownTimeout) * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("berthd stopped")
}
