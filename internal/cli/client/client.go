// Package client is the berth CLI's Docker Engine API client: one request
// helper and thin methods named (with their option and result types) after
// those of github.com/moby/moby/client the CLI used, so commands read the
// same. It speaks the same wire protocol (paths, queries, headers, bodies,
// version negotiation, error texts; wire_test.go holds the two side by
// side) but links only net/http, the API types, containerd's error classes
// and the CLI's reference parser, which keeps every CLI start cheap: no
// tracing, no regular expressions compiled at start.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errhttp"

	"github.com/berth-engine/berth/internal/cli/client/versions"
)

// maxAPIVersion is the newest API version the client speaks: that of the
// github.com/moby/moby/api types it encodes (v1.56.x in go.mod). Version
// negotiation settles on the lower of it and the daemon's.
const maxAPIVersion = "1.56"

// minAPIVersion is the oldest API version negotiation settles on.
const minAPIVersion = "1.40"

// defaultHost is used when no WithHost option is given.
const defaultHost = "unix:///var/run/docker.sock"

// dummyHost is the Host header of requests over a unix socket, where the
// URL's host is the socket path.
const dummyHost = "api.moby.localhost"

// dialTimeout bounds connecting to the daemon.
const dialTimeout = 10 * time.Second

// Client talks to one daemon. It is safe for concurrent use.
type Client struct {
	host      string // as configured, for error messages
	proto     string // unix, tcp, ...
	addr      string // socket path or host:port
	basePath  string // a tcp host's path prefix
	scheme    string // http or https
	userAgent string
	http      *http.Client
	transport *http.Transport // nil when the caller's client has another RoundTripper

	mu         sync.Mutex
	version    string
	negotiated bool
	// pingErr is a failed Negotiate's error, which the next negotiation
	// returns instead of pinging again.
	pingErr error
}

// Opt configures a Client in New.
type Opt func(*Client) error

// New returns a client for the options' host, defaultHost otherwise.
// Unless the API version is pinned (WithAPIVersionFromEnv), the first
// request negotiates it with the daemon.
func New(opts ...Opt) (*Client, error) {
	c := &Client{host: defaultHost, version: maxAPIVersion}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	u, err := parseHost(c.host)
	if err != nil {
		return nil, err
	}
	c.proto, c.addr, c.basePath = u.Scheme, u.Host, u.Path
	if c.http == nil {
		c.http = &http.Client{
			Transport:     &http.Transport{MaxIdleConns: 6, IdleConnTimeout: 30 * time.Second},
			CheckRedirect: CheckRedirect,
		}
	}
	if tr, ok := c.http.Transport.(*http.Transport); ok {
		c.transport = tr
		if err := c.configureTransport(tr); err != nil {
			return nil, err
		}
	}
	c.scheme = "http"
	if c.transport != nil && c.transport.TLSClientConfig != nil {
		c.scheme = "https"
	}
	return c, nil
}

// WithHost sets the daemon address: unix:///path or tcp://host:port[/path].
func WithHost(host string) Opt {
	return func(c *Client) error {
		if _, err := parseHost(host); err != nil {
			return err
		}
		c.host = host
		return nil
	}
}

// WithHTTPClient makes requests through (a copy of) hc, e.g. one whose
// transport carries a TLS configuration. Its transport's dialer is set for
// the host.
func WithHTTPClient(hc *http.Client) Opt {
	return func(c *Client) error {
		if hc != nil {
			cp := *hc
			if tr, ok := cp.Transport.(*http.Transport); ok {
				cp.Transport = tr.Clone()
			}
			c.http = &cp
		}
		return nil
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Opt {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// WithAPIVersionFromEnv pins the API version to $DOCKER_API_VERSION when it
// is set, which turns negotiation off.
func WithAPIVersionFromEnv() Opt {
	return func(c *Client) error {
		v := strings.TrimSpace(os.Getenv("DOCKER_API_VERSION"))
		if strings.TrimPrefix(v, "v") == "" {
			return nil
		}
		pinned, err := parseAPIVersion(strings.TrimPrefix(v, "v"))
		if err != nil {
			return fmt.Errorf("invalid API version (%s): %w", v, err)
		}
		c.version, c.negotiated = pinned, true
		return nil
	}
}

// errRedirect is returned by CheckRedirect for a redirected non-GET request.
var errRedirect = errors.New("unexpected redirect in response")

// CheckRedirect is the http.Client redirect policy of the Engine API: a GET
// gets the redirect response itself, anything else fails.
func CheckRedirect(_ *http.Request, via []*http.Request) error {
	if via[0].Method == http.MethodGet {
		return http.ErrUseLastResponse
	}
	return errRedirect
}

// Close releases idle connections.
func (c *Client) Close() error {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
	return nil
}

// ClientVersion is the API version requests use: the pinned or negotiated
// one, maxAPIVersion before negotiation.
func (c *Client) ClientVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

func parseHost(host string) (*url.URL, error) {
	proto, addr, ok := strings.Cut(host, "://")
	if !ok || addr == "" {
		return nil, fmt.Errorf("unable to parse docker host `%s`", host)
	}
	var basePath string
	if proto == "tcp" {
		u, err := url.Parse("tcp://" + addr)
		if err != nil {
			return nil, err
		}
		addr, basePath = u.Host, u.Path
	}
	return &url.URL{Scheme: proto, Host: addr, Path: basePath}, nil
}

func (c *Client) configureTransport(tr *http.Transport) error {
	if tr.MaxIdleConns == 0 {
		tr.MaxIdleConns, tr.IdleConnTimeout = 6, 30*time.Second
	}
	switch c.proto {
	case "unix":
		if len(c.addr) > len(syscall.RawSockaddrUnix{}.Path) {
			return fmt.Errorf("unix socket path %q is too long", c.addr)
		}
		tr.DisableCompression = true
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: dialTimeout}).DialContext(ctx, "unix", c.addr)
		}
	case "npipe":
		return errors.New("protocol not available")
	default:
		tr.Proxy = http.ProxyFromEnvironment
		tr.DialContext = (&net.Dialer{Timeout: dialTimeout}).DialContext
	}
	return nil
}

// parseAPIVersion reads "<major>.<minor>".
func parseAPIVersion(v string) (string, error) {
	major, minor, ok := strings.Cut(v, ".")
	if !ok {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("must be formatted <major>.<minor>")
	}
	a, err := strconv.Atoi(major)
	if err != nil {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("invalid major version: must be formatted <major>.<minor>")
	}
	b, err := strconv.Atoi(minor)
	if err != nil {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("invalid minor version: must be formatted <major>.<minor>")
	}
	return fmt.Sprintf("%d.%d", a, b), nil
}

// apiVersion returns the version for the next request, negotiating it
// first if needed: HEAD /_ping (GET when HEAD fails) and the lower of the
// daemon's API-Version and maxAPIVersion. When the daemon cannot be pinged
// (the error is returned), refuses the ping, or is older than
// minAPIVersion, the version stays maxAPIVersion and the next request
// tries again; the request itself then fails with the daemon's or the
// connection's own words.
func (c *Client) apiVersion(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.negotiated {
		return c.version, nil
	}
	if err := c.pingErr; err != nil {
		c.pingErr = nil
		return c.version, err
	}
	return c.negotiateLocked(ctx)
}

// Negotiate settles the API version now, for a caller that has other work
// to do before its first request (see cli.CLI.Preconnect). Its failure is
// kept for the first request, which then goes on as it would after its own
// failed ping, without a second one.
func (c *Client) Negotiate(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.negotiated || c.pingErr != nil {
		return
	}
	_, c.pingErr = c.negotiateLocked(ctx)
}

func (c *Client) negotiateLocked(ctx context.Context) (string, error) {
	resp, err := c.send(ctx, http.MethodHead, path.Join(c.basePath, "/_ping"))
	if err != nil || resp.StatusCode != http.StatusOK {
		closeBody(resp)
		if resp, err = c.send(ctx, http.MethodGet, path.Join(c.basePath, "/_ping")); err != nil {
			return c.version, err
		}
		if err := checkResponse(resp); err != nil {
			closeBody(resp)
			return c.version, err
		}
	}
	closeBody(resp)
	if h := resp.Header.Get("Api-Version"); h != "" {
		sv, err := parseAPIVersion(h)
		if err != nil {
			return c.version, err
		}
		if versions.LessThan(sv, minAPIVersion) {
			return c.version, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("API version %s is not supported by this client: the minimum supported API version is %s", sv, minAPIVersion))
		}
		if versions.LessThan(sv, c.version) {
			c.version = sv
		}
	}
	c.negotiated = true
	return c.version, nil
}

// requiresVersion fails when the daemon's API is older than a feature.
func (c *Client) requiresVersion(ctx context.Context, min, feature string) error {
	v, err := c.apiVersion(ctx)
	if err != nil {
		return err
	}
	if versions.LessThan(v, min) {
		return fmt.Errorf("%q requires API version %s, but the Docker daemon API version is %s", feature, min, v)
	}
	return nil
}

// newRequest builds a request for the versioned API path p. body is nil
// (none), an io.Reader (sent as is) or a value sent as JSON.
func (c *Client) newRequest(ctx context.Context, method, p string, query url.Values, body any, hdr http.Header) (*http.Request, error) {
	v, _ := c.apiVersion(ctx) // a failed negotiation shows in the request's own error
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		r = b
	default:
		js, err := encodeBody(b)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(js)
		hdr = hdr.Clone()
		if hdr == nil {
			hdr = http.Header{}
		}
		hdr.Set("Content-Type", "application/json")
	}
	return c.buildRequest(ctx, method, path.Join(c.basePath, "/v"+v, p), query, r, hdr)
}

// buildRequest makes a request for the API path p. The URL's host is the
// address (a unix socket's path, which the transport's dialer ignores), so
// it is set after parsing.
func (c *Client) buildRequest(ctx context.Context, method, p string, query url.Values, body io.Reader, hdr http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, (&url.URL{Path: p, RawQuery: query.Encode()}).String(), body)
	if err != nil {
		return nil, err
	}
	req.URL.Scheme, req.URL.Host = c.scheme, c.addr
	for k, v := range hdr {
		req.Header[http.CanonicalHeaderKey(k)] = v
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.proto == "unix" || c.proto == "npipe" {
		req.Host = dummyHost
	}
	return req, nil
}

// send performs an unversioned request (the ping) and returns the response
// whatever its status.
func (c *Client) send(ctx context.Context, method, p string) (*http.Response, error) {
	req, err := c.buildRequest(ctx, method, p, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connectError(err)
	}
	return resp, nil
}

// do sends a request to the versioned API and turns a non-2xx/3xx response
// into the daemon's error. The caller closes the body.
func (c *Client) do(ctx context.Context, method, p string, query url.Values, body any, hdr http.Header) (*http.Response, error) {
	req, err := c.newRequest(ctx, method, p, query, body, hdr)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connectError(err)
	}
	if err := checkResponse(resp); err != nil {
		closeBody(resp)
		return nil, err
	}
	return resp, nil
}

// call sends a request and discards the response.
func (c *Client) call(ctx context.Context, method, p string, query url.Values, body any) error {
	resp, err := c.do(ctx, method, p, query, body, nil)
	closeBody(resp)
	return err
}

// callJSON sends a request and decodes the response into out.
func (c *Client) callJSON(ctx context.Context, method, p string, query url.Values, body any, out any) error {
	resp, err := c.do(ctx, method, p, query, body, nil)
	if err != nil {
		return err
	}
	defer closeBody(resp)
	return json.NewDecoder(resp.Body).Decode(out)
}

// getRaw GETs p, decodes it into out and also returns the body as
// received (inspect prints it).
func (c *Client) getRaw(ctx context.Context, p string, query url.Values, out any) (json.RawMessage, error) {
	resp, err := c.do(ctx, http.MethodGet, p, query, nil, nil)
	if err != nil {
		return nil, err
	}
	defer closeBody(resp)
	var buf bytes.Buffer
	if err := json.NewDecoder(io.TeeReader(resp.Body, &buf)).Decode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// stream sends a request and hands over the response body.
func (c *Client) stream(ctx context.Context, method, p string, query url.Values, body any, hdr http.Header) (io.ReadCloser, error) {
	resp, err := c.do(ctx, method, p, query, body, hdr)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// closeBody drains a little of what is left (so the connection can be
// reused for a short reply) and closes the body.
func closeBody(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	if resp.ContentLength != 0 && resp.Request != nil && resp.Request.Method != http.MethodHead {
		_, _ = io.CopyN(io.Discard, resp.Body, 512)
	}
	_ = resp.Body.Close()
}

// errBodyMax bounds how much of an error response is read.
const errBodyMax = 1 << 20

// checkResponse returns the daemon's error for a status of 400 or more:
// "Error response from daemon: <message>", classified for
// github.com/containerd/errdefs by the status code.
func checkResponse(resp *http.Response) error {
	if resp.StatusCode < http.StatusBadRequest {
		return nil
	}
	err := responseError(resp)
	return &httpError{err: err, class: errhttp.ToNative(resp.StatusCode)}
}

func responseError(resp *http.Response) error {
	status := resp.Status
	if status == "" {
		status = http.StatusText(resp.StatusCode)
	}
	var route string
	if resp.Request != nil {
		route = " for API route and version " + resp.Request.URL.String() + ","
	}
	var body []byte
	if resp.Body != nil && (resp.Request == nil || resp.Request.Method != http.MethodHead) {
		lr := &io.LimitedReader{R: resp.Body, N: errBodyMax}
		var err error
		if body, err = io.ReadAll(lr); err != nil {
			return err
		}
		if lr.N == 0 {
			if route != "" {
				return fmt.Errorf("request returned %s with a message (> %d bytes)%s check if the server supports the requested API version", status, errBodyMax, route)
			}
			return fmt.Errorf("request returned %s with a message (> %d bytes); check if the server supports the requested API version", status, errBodyMax)
		}
	}
	if len(body) == 0 {
		if route != "" {
			return fmt.Errorf("request returned %s%s check if the server supports the requested API version", status, route)
		}
		return fmt.Errorf("request returned %s; check if the server supports the requested API version", status)
	}
	msg := strings.TrimSpace(string(body))
	if resp.Header.Get("Content-Type") == "application/json" {
		var e struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			return fmt.Errorf("error reading JSON: %w", err)
		}
		if e.Message == "" {
			return fmt.Errorf("Error response from daemon: API returned a %d (%s) but provided no error-message", resp.StatusCode, http.StatusText(resp.StatusCode))
		}
		msg = strings.TrimSpace(e.Message)
	}
	return errors.New("Error response from daemon: " + msg)
}

// httpError is a daemon error whose class (errdefs.IsNotFound, ...) comes
// from the HTTP status.
type httpError struct {
	err   error
	class error
}

func (e *httpError) Error() string        { return e.err.Error() }
func (e *httpError) Unwrap() error        { return e.err }
func (e *httpError) Is(target error) bool { return errors.Is(e.class, target) }

// connectError words a failure to reach the daemon as docker does.
func (c *Client) connectError(err error) error {
	msg := err.Error()
	if c.scheme != "https" && strings.Contains(msg, "malformed HTTP response") {
		return fmt.Errorf("%w.\n* Are you trying to connect to a TLS-enabled daemon without TLS?", err)
	}
	if c.scheme == "https" && (strings.Contains(msg, "handshake failure") || strings.Contains(msg, "bad certificate")) {
		return fmt.Errorf("the server probably has client authentication (--tlsverify) enabled; check your TLS client certification settings: %w", err)
	}
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("permission denied while trying to connect to the docker API at %v", c.host)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("failed to connect to the docker API at %v; check if the path is correct and if the daemon is running: %w", c.host, errors.Unwrap(err))
	case errors.As(err, &dnsErr):
		return fmt.Errorf("failed to connect to the docker API at %v: %w", c.host, dnsErr)
	case errors.As(err, &netErr) && (netErr.Timeout() || strings.Contains(netErr.Error(), "connection refused") || strings.Contains(netErr.Error(), "dial unix")):
		return fmt.Errorf("Cannot connect to the Docker daemon at %s. Is the docker daemon running?", c.host)
	}
	return fmt.Errorf("error during connect: %w", err)
}

// trimID rejects an empty object name before it becomes a wrong path.
func trimID(kind, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("invalid " + kind + " name or ID: value is empty")
	}
	return id, nil
}
