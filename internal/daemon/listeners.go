package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/berth-engine/berth/internal/config"
)

type listener struct {
	net.Listener
	proto, addr string
}

// listen opens every configured host. On error, listeners already opened
// are closed and their sockets removed.
func listen(cfg *config.Config, log *slog.Logger) (ls []listener, err error) {
	defer func() {
		if err != nil {
			closeListeners(ls)
			ls = nil
		}
	}()
	for _, h := range cfg.ListenHosts() {
		proto, addr, err := config.ParseHost(h)
		if err != nil {
			return ls, err
		}
		var l net.Listener
		switch proto {
		case "unix":
			l, err = listenUnix(addr, cfg.Group, log)
		case "tcp":
			l, err = listenTCP(addr, cfg, log)
		}
		if err != nil {
			return ls, err
		}
		ls = append(ls, listener{Listener: l, proto: proto, addr: addr})
	}
	return ls, nil
}

func closeListeners(ls []listener) {
	for _, l := range ls {
		l.Close()
		if l.proto == "unix" {
			os.Remove(l.addr)
		}
	}
}

// listenUnix creates the socket 0660, group-owned by group when it exists.
// A socket file left by a crashed daemon is removed; one that still answers
// belongs to a live daemon and is refused.
func listenUnix(path, group string, log *slog.Logger) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("cannot listen on %s: a file that is not a socket is in the way", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("cannot listen on %s: another daemon is serving it", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("cannot listen on %s: %w", path, err)
		}
		log.Info("removing stale socket", "path", path)
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	// Create the socket with no access for others before chmod, so there is
	// no window in which it is world-accessible.
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	gid := 0
	if group != "" {
		if g, err := user.LookupGroup(group); err == nil {
			gid, _ = strconv.Atoi(g.Gid)
		} else if group != "docker" {
			log.Warn("socket group not found; socket stays root-owned", "group", group)
		}
	}
	if err := os.Chown(path, 0, gid); err != nil {
		l.Close()
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// listenTCP listens with mutual TLS when --tlsverify is on, server-side TLS
// with --tls, and in plain text only when the user said --tls=false.
func listenTCP(addr string, cfg *config.Config, log *slog.Logger) (net.Listener, error) {
	if !cfg.TLSEnabled() {
		if !cfg.PlainTCPAllowed() {
			return nil, fmt.Errorf("refusing to listen on tcp://%s without TLS: use --tlsverify with --tlscacert, --tlscert and --tlskey, or pass --tls=false to accept an unencrypted, unauthenticated socket", addr)
		}
		log.Warn("!!! LISTENING ON TCP WITHOUT TLS: anyone who can reach " + addr + " has root on this host !!!")
		fmt.Fprintf(os.Stderr, "WARNING: API is accessible on tcp://%s without encryption or authentication. Anyone who can reach it can run containers as root on this host.\n", addr)
		return net.Listen("tcp", addr)
	}
	tc, err := serverTLS(cfg)
	if err != nil {
		return nil, err
	}
	if tc.ClientAuth != tls.RequireAndVerifyClientCert {
		log.Warn("TCP API uses TLS but does not verify clients: any client that reaches it is trusted; use --tlsverify", "addr", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return tls.NewListener(l, tc), nil
}

func serverTLS(cfg *config.Config) (*tls.Config, error) {
	if cfg.TLSCert == "" || cfg.TLSKey == "" {
		return nil, fmt.Errorf("TLS needs --tlscert and --tlskey")
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS key pair: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.TLSVerify != nil && *cfg.TLSVerify {
		if cfg.TLSCACert == "" {
			return nil, fmt.Errorf("--tlsverify needs --tlscacert")
		}
		pem, err := os.ReadFile(cfg.TLSCACert)
		if err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificates in %s", cfg.TLSCACert)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
