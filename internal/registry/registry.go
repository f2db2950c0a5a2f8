// Package registry is Berth's distribution client: it resolves an image
// reference to the registry endpoints to try (Docker Hub mirrors first),
// builds each endpoint's HTTP transport (TLS with per-registry CA
// certificates, insecure registries, timeouts) and authenticates it (basic
// and bearer-token auth through go-containerregistry's transport), and
// speaks the distribution API calls the image service needs: manifests,
// blobs, tags, blob existence, cross-repository mounts, uploads.
//
// It is stateless apart from its configuration: nothing is stored, and
// every call takes the context that cancels it.
package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultCertsDir holds per-registry CA certificates, <dir>/<host[:port]>/*.crt,
// and client certificates (*.cert with *.key), like /etc/docker/certs.d.
const DefaultCertsDir = "/etc/berth/certs.d"

// IndexHost is the name Docker Hub references carry; the API is served by
// apiHost.
const (
	IndexHost = "docker.io"
	apiHost   = "registry-1.docker.io"
)

// Config is the daemon's registry configuration.
type Config struct {
	// Mirrors are tried first, in order, for Docker Hub images
	// ("https://mirror.example.com", "http://127.0.0.1:5000").
	Mirrors []string
	// Insecure lists registries (host[:port]) and networks (CIDR) reached
	// over plain HTTP or TLS without verification. Loopback (127.0.0.0/8,
	// ::1) is always insecure, as with dockerd.
	Insecure []string
	// CertsDir is where per-registry certificates live; "" means
	// DefaultCertsDir.
	CertsDir string
	// UserAgent is sent with every request.
	UserAgent string
	// DialTimeout bounds connecting and the TLS handshake; 0 means 30 s.
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for response headers and, while a
	// body streams, the time without any byte arriving; 0 means 60 s.
	ResponseTimeout time.Duration
}

// Service resolves endpoints and opens repositories. It is safe for
// concurrent use.
type Service struct {
	cfg          Config
	mirrors      []*url.URL
	insecureNets []*net.IPNet
	insecureHost map[string]bool
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, insecureHost: map[string]bool{}}
	if s.cfg.CertsDir == "" {
		s.cfg.CertsDir = DefaultCertsDir
	}
	if s.cfg.DialTimeout <= 0 {
		s.cfg.DialTimeout = 30 * time.Second
	}
	if s.cfg.ResponseTimeout <= 0 {
		s.cfg.ResponseTimeout = 60 * time.Second
	}
	if s.cfg.UserAgent == "" {
		s.cfg.UserAgent = "berth"
	}
	for _, m := range cfg.Mirrors {
		u, err := parseMirror(m)
		if err != nil {
			return nil, err
		}
		s.mirrors = append(s.mirrors, u)
	}
	for _, c := range []string{"127.0.0.0/8", "::1/128"} {
		_, loop, _ := net.ParseCIDR(c)
		s.insecureNets = append(s.insecureNets, loop)
	}
	for _, r := range cfg.Insecure {
		r = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(r, "http://"), "https://"), "/")
		if _, n, err := net.ParseCIDR(r); err == nil {
			s.insecureNets = append(s.insecureNets, n)
			continue
		}
		if strings.Contains(r, "/") || r == "" {
			return nil, fmt.Errorf("insecure registry %q is not a host[:port] or a CIDR", r)
		}
		s.insecureHost[r] = true
	}
	return s, nil
}

func parseMirror(m string) (*url.URL, error) {
	if !strings.Contains(m, "://") {
		m = "https://" + m
	}
	u, err := url.Parse(m)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid registry mirror %q: it must be an http or https URL", m)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return nil, fmt.Errorf("invalid registry mirror %q: a path is not supported", m)
	}
	return u, nil
}

// Endpoint is one registry host to reach a repository on.
type Endpoint struct {
	Host     string // host[:port] on the wire
	Mirror   bool   // a mirror of Docker Hub, tried before it
	Insecure bool   // plain HTTP allowed, TLS not verified
}

// Endpoints lists where named can be pulled from, in order: for Docker Hub
// images the configured mirrors, then Docker Hub itself.
func (s *Service) Endpoints(named reference.Named) []Endpoint {
	host := reference.Domain(named)
	if host != IndexHost {
		return []Endpoint{{Host: host, Insecure: s.IsInsecure(host)}}
	}
	var eps []Endpoint
	for _, m := range s.mirrors {
		eps = append(eps, Endpoint{Host: m.Host, Mirror: true, Insecure: m.Scheme == "http" || s.IsInsecure(m.Host)})
	}
	return append(eps, Endpoint{Host: apiHost, Insecure: s.IsInsecure(IndexHost)})
}

// PushEndpoint is where named is pushed: never a mirror.
func (s *Service) PushEndpoint(named reference.Named) Endpoint {
	eps := s.Endpoints(named)
	return eps[len(eps)-1]
}

// IsInsecure tells whether host (host[:port]) was configured insecure,
// by name or because its address lies in an insecure network.
func (s *Service) IsInsecure(host string) bool {
	if s.insecureHost[host] {
		return true
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if s.insecureHost[h] {
		return true
	}
	var ips []net.IP
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		ips = []net.IP{ip}
	} else if h == "localhost" {
		ips = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else if len(s.insecureNets) > 2 {
		// Only worth a lookup when networks beyond loopback are listed.
		ips, _ = net.LookupIP(h)
	}
	for _, ip := range ips {
		for _, n := range s.insecureNets {
			if n.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// registryName is go-containerregistry's name for an endpoint.
func (ep Endpoint) registryName() (name.Registry, error) {
	var opts []name.Option
	if ep.Insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.NewRegistry(ep.Host, opts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("invalid registry %q: %w", ep.Host, err)
	}
	return r, nil
}

// baseTransport is the unauthenticated transport for one endpoint: its
// TLS settings (system roots plus certs.d/<host>/*.crt, client
// certificates, no verification for insecure registries) and timeouts.
func (s *Service) baseTransport(ep Endpoint) (http.RoundTripper, error) {
	tc, err := s.tlsConfig(ep)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: s.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   s.cfg.DialTimeout,
		ResponseHeaderTimeout: s.cfg.ResponseTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		// Blobs are already compressed; transparent gzip would only hide
		// the real sizes from progress.
		DisableCompression: true,
	}
	if ep.Insecure {
		return t, nil
	}
	return tlsOnly{host: ep.Host, inner: t}, nil
}

// tlsOnly refuses plain HTTP to a registry that is not insecure.
// go-containerregistry falls back to HTTP for private (RFC 1918)
// addresses on its own; dockerd does not, and neither does Berth.
type tlsOnly struct {
	host  string
	inner http.RoundTripper
}

func (t tlsOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" && r.URL.Host == t.host {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("registry %s is reached over TLS only; add it to insecure-registries to allow plain HTTP", t.host)
	}
	return t.inner.RoundTrip(r)
}

func (s *Service) tlsConfig(ep Endpoint) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ep.Insecure {
		tc.InsecureSkipVerify = true
	}
	hostDir := ep.Host
	if ep.Host == apiHost {
		hostDir = IndexHost
	}
	dir := filepath.Join(s.cfg.CertsDir, strings.ReplaceAll(hostDir, "/", "_"))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return tc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry certificates for %s: %w", ep.Host, err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".crt"):
			if tc.RootCAs == nil {
				if tc.RootCAs, err = x509.SystemCertPool(); err != nil || tc.RootCAs == nil {
					tc.RootCAs = x509.NewCertPool()
				}
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			if !tc.RootCAs.AppendCertsFromPEM(data) {
				return nil, fmt.Errorf("registry certificates for %s: no certificate in %s", ep.Host, p)
			}
		case strings.HasSuffix(e.Name(), ".cert"):
			key := strings.TrimSuffix(p, ".cert") + ".key"
			cert, err := tls.LoadX509KeyPair(p, key)
			if err != nil {
				return nil, fmt.Errorf("registry client certificate %s: %w", p, err)
			}
			tc.Certificates = append(tc.Certificates, cert)
		case strings.HasSuffix(e.Name(), ".key"):
			if _, err := os.Stat(strings.TrimSuffix(p, ".key") + ".cert"); err != nil {
				return nil, fmt.Errorf("registry client key %s has no matching .cert", p)
			}
		}
	}
	return tc, nil
}
