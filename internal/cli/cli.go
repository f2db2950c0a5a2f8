// Package cli owns what every berth command shares: the global flags, the
// connection to the daemon, and how errors become exit codes. Commands live
// in sub-packages (one file per command) and reach the daemon only through
// internal/cli/client.
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/berth-engine/berth/internal/cli/client"
	"github.com/berth-engine/berth/internal/version"
)

// DefaultHost is where berthd listens unless told otherwise.
const DefaultHost = "unix:///run/berth/berth.sock"

// Ports docker uses when a tcp:// host names none.
const (
	defaultHTTPPort  = "2375"
	defaultHTTPSPort = "2376"
)

// GlobalOptions are the flags accepted before any command, as docker has them.
type GlobalOptions struct {
	Hosts     []string
	Debug     bool
	LogLevel  string
	TLS       bool
	TLSVerify bool
	TLSCACert string
	TLSCert   string
	TLSKey    string
}

// CLI carries the streams and the (lazily built) API client to commands.
// Commands take it instead of reaching for os.Stdout so tests can run them
// in-process.
type CLI struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer

	Options GlobalOptions
	// Getenv is swapped in tests; nil means os.Getenv.
	Getenv func(string) string

	client *client.Client
}

// New returns a CLI wired to the process's standard streams.
func New() *CLI {
	return &CLI{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
}

func (c *CLI) getenv(k string) string {
	if c.Getenv != nil {
		return c.Getenv(k)
	}
	return os.Getenv(k)
}

// AddGlobalFlags registers docker's global flags on fs, defaulting the TLS
// file paths the way docker does so `--tlsverify` alone works with
// ~/.docker/{ca,cert,key}.pem or $DOCKER_CERT_PATH.
func (c *CLI) AddGlobalFlags(fs *pflag.FlagSet) {
	certDir := c.getenv("DOCKER_CERT_PATH")
	if certDir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			certDir = filepath.Join(home, ".docker")
		}
	}
	o := &c.Options
	fs.StringSliceVarP(&o.Hosts, "host", "H", nil, "Daemon socket to connect to")
	fs.BoolVarP(&o.Debug, "debug", "D", false, "Enable debug mode")
	fs.StringVarP(&o.LogLevel, "log-level", "l", "info", `Set the logging level ("debug", "info", "warn", "error", "fatal")`)
	fs.BoolVar(&o.TLS, "tls", c.getenv("DOCKER_TLS") != "", "Use TLS; implied by --tlsverify")
	fs.BoolVar(&o.TLSVerify, "tlsverify", c.getenv("DOCKER_TLS_VERIFY") != "", "Use TLS and verify the remote")
	fs.StringVar(&o.TLSCACert, "tlscacert", filepath.Join(certDir, "ca.pem"), "Trust certs signed only by this CA")
	fs.StringVar(&o.TLSCert, "tlscert", filepath.Join(certDir, "cert.pem"), "Path to TLS certificate file")
	fs.StringVar(&o.TLSKey, "tlskey", filepath.Join(certDir, "key.pem"), "Path to TLS key file")
}

// SetupLogging applies -D and --log-level to the default slog logger.
func (c *CLI) SetupLogging() error {
	level := slog.LevelInfo
	switch strings.ToLower(c.Options.LogLevel) {
	case "debug", "trace":
		level = slog.LevelDebug
	case "info", "":
	case "warn", "warning":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	default:
		return fmt.Errorf("unable to parse logging level: %s", c.Options.LogLevel)
	}
	if c.Options.Debug {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(c.Err, &slog.HandlerOptions{Level: level})))
	return nil
}

// Host returns the daemon address after -H, $BERTH_HOST and $DOCKER_HOST
// are considered, normalised to a full URL.
func (c *CLI) Host() (string, error) {
	return ResolveHost(c.Options.Hosts, c.getenv, c.tlsEnabled())
}

// ResolveHost picks the daemon address: -H wins, then BERTH_HOST, then
// DOCKER_HOST (so an existing docker setup keeps working), then berthd's
// default socket.
func ResolveHost(flagHosts []string, getenv func(string) string, useTLS bool) (string, error) {
	var h string
	switch {
	case len(flagHosts) > 1:
		return "", fmt.Errorf("specify only one -H")
	case len(flagHosts) == 1:
		h = flagHosts[0]
	case getenv("BERTH_HOST") != "":
		h = getenv("BERTH_HOST")
	case getenv("DOCKER_HOST") != "":
		h = getenv("DOCKER_HOST")
	default:
		return DefaultHost, nil
	}
	return normalizeHost(strings.TrimSpace(h), useTLS)
}

// normalizeHost accepts the short forms docker accepts ("/path/sock",
// "host:port", "tcp://host") and returns a URL the client can dial.
func normalizeHost(h string, useTLS bool) (string, error) {
	if h == "" {
		return DefaultHost, nil
	}
	proto, addr, ok := strings.Cut(h, "://")
	if !ok {
		if strings.HasPrefix(h, "/") {
			proto, addr = "unix", h
		} else {
			proto, addr = "tcp", h
		}
	}
	switch proto {
	case "unix", "npipe", "fd":
		if addr == "" {
			return "", fmt.Errorf("invalid bind address format: %s", h)
		}
		return proto + "://" + addr, nil
	case "tcp", "http", "https":
		host, path, _ := strings.Cut(addr, "/")
		if host == "" {
			host = "127.0.0.1"
		}
		if !strings.Contains(strings.TrimPrefix(host, "["), "]:") && strings.Count(host, ":") != 1 {
			port := defaultHTTPPort
			if useTLS || proto == "https" {
				port = defaultHTTPSPort
			}
			host += ":" + port
		} else if strings.HasSuffix(host, ":") {
			return "", fmt.Errorf("invalid bind address format: %s", h)
		}
		if path != "" {
			host += "/" + path
		}
		return "tcp://" + host, nil
	case "ssh":
		return "", fmt.Errorf("ssh:// hosts are not supported by berth yet: %s", h)
	default:
		return "", fmt.Errorf("invalid bind address format: %s", h)
	}
}

func (c *CLI) tlsEnabled() bool {
	return c.Options.TLS || c.Options.TLSVerify
}

// Client returns the API client, building it on first use so commands that
// never talk to the daemon (completion, --help) do not fail on a bad -H.
func (c *CLI) Client() (*client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	host, err := c.Host()
	if err != nil {
		return nil, err
	}
	opts := []client.Opt{
		client.WithUserAgent("Berth-Client/" + version.Version + " (" + runtime.GOOS + ")"),
	}
	if c.tlsEnabled() {
		cfg, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		// The transport must exist before WithHost configures its dialer.
		opts = append(opts, client.WithHTTPClient(&http.Client{
			Transport: &http.Transport{
				TLSClientConfig:     cfg,
				MaxIdleConns:        6,
				IdleConnTimeout:     30 * time.Second,
				TLSHandshakeTimeout: 10 * time.Second,
			},
			CheckRedirect: client.CheckRedirect,
		}))
	}
	// API version negotiation is the client's default; DOCKER_API_VERSION
	// pins a version for debugging, as with docker.
	opts = append(opts, client.WithHost(host), client.WithAPIVersionFromEnv())
	cl, err := client.New(opts...)
	if err != nil {
		return nil, err
	}
	c.client = cl
	return cl, nil
}

// Preconnect builds the client from the environment and starts its API
// version negotiation (the ping that every command's first request waits
// for) in the background, so that its round trip overlaps building and
// parsing the command. The caller makes sure no global flag is on the
// command line: the client is then the one Client returns after parsing.
// Only for a unix socket, where connecting succeeds or fails at once, and
// without TLS.
func (c *CLI) Preconnect() {
	if c.client != nil || c.getenv("DOCKER_TLS") != "" || c.getenv("DOCKER_TLS_VERIFY") != "" {
		return
	}
	host, err := c.Host()
	if err != nil || !strings.HasPrefix(host, "unix://") {
		return
	}
	cl, err := c.Client()
	if err != nil {
		return
	}
	go cl.Negotiate(context.Background())
}

// SetClient lets tests inject a client pointed at a fake daemon.
func (c *CLI) SetClient(cl *client.Client) { c.client = cl }

// Close releases the client's idle connections.
func (c *CLI) Close() error {
	if c.client != nil {
		return c.client.Close()
	}
	return nil
}

// tlsConfig follows docker: with --tlsverify the CA must verify the server;
// with only --tls the server is not verified. Certificate files that do not
// exist are skipped, because the defaults under ~/.docker usually don't.
func (c *CLI) tlsConfig() (*tls.Config, error) {
	o := c.Options
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !o.TLSVerify} //nolint:gosec // --tls without --tlsverify means exactly this
	if o.TLSVerify && fileExists(o.TLSCACert) {
		pem, err := os.ReadFile(o.TLSCACert)
		if err != nil {
			return nil, fmt.Errorf("could not read CA certificate %q: %w", o.TLSCACert, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("failed to append certificates from PEM file: %q", o.TLSCACert)
		}
		cfg.RootCAs = pool
	}
	if fileExists(o.TLSCert) && fileExists(o.TLSKey) {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("could not load X509 key pair: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return p != "" && err == nil
}
