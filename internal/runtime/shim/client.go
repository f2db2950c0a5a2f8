package shim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/shim/api"
)

// Client talks to one shim over its socket. It is safe for concurrent use and
// holds no state beyond the socket path: a daemon that restarts makes a new
// Client for the same socket and carries on.
type Client struct {
	socket string
	http   *http.Client
}

// Dial returns a client for the shim at socket after checking that it answers.
func Dial(ctx context.Context, socket string) (*Client, error) {
	c := NewClient(socket)
	if _, err := c.Init().State(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// NewClient returns a client for socket without contacting the shim.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns: 2,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// Socket is the path the client dials.
func (c *Client) Socket() string { return c.socket }

// Close drops idle connections; the shim keeps running.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Process is a handle on the init process (ID "") or one exec process.
type Process struct {
	c  *Client
	id string
}

// Init is the container's init process.
func (c *Client) Init() *Process { return &Process{c: c} }

// ExecProcess is a handle on an exec process made earlier by Exec.
func (c *Client) ExecProcess(id string) *Process { return &Process{c: c, id: id} }

// Exec creates an exec process; start it with Start after attaching.
func (c *Client) Exec(ctx context.Context, req ExecRequest) (*Process, error) {
	var resp ExecResponse
	if err := c.do(ctx, http.MethodPost, "/exec", nil, req, &resp); err != nil {
		return nil, err
	}
	return c.ExecProcess(resp.ID), nil
}

// Pause freezes every process of the container.
func (c *Client) Pause(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/pause", nil, nil, nil)
}

// Resume thaws a paused container.
func (c *Client) Resume(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/resume", nil, nil, nil)
}

// Update changes the running container's cgroup limits.
func (c *Client) Update(ctx context.Context, res *specs.LinuxResources) error {
	return c.do(ctx, http.MethodPost, "/update", nil, res, nil)
}

// Stats reads the container's cgroup statistics.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var s Stats
	if err := c.do(ctx, http.MethodGet, "/stats", nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Delete destroys the container (which must have exited unless force is set)
// and makes the shim exit. The exit file stays for the daemon to remove.
func (c *Client) Delete(ctx context.Context, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	return c.do(ctx, http.MethodPost, "/delete", q, nil, nil)
}

// ID is the exec ID, "" for init.
func (p *Process) ID() string { return p.id }

func (p *Process) query() url.Values {
	q := url.Values{}
	if p.id != "" {
		q.Set("exec", p.id)
	}
	return q
}

// State reports the process's state.
func (p *Process) State(ctx context.Context) (State, error) {
	var s State
	err := p.c.do(ctx, http.MethodGet, "/state", p.query(), nil, &s)
	return s, err
}

// Start starts the process: for init, the user's program runs (the container
// was created when the shim started).
func (p *Process) Start(ctx context.Context) error {
	_, err := p.StartState(ctx)
	return err
}

// StartState starts the process and returns its state once started, in one
// round trip (a shim from before that answer takes a second).
func (p *Process) StartState(ctx context.Context) (State, error) {
	var st State
	err := p.c.do(ctx, http.MethodPost, "/start", p.query(), nil, &st)
	if errors.Is(err, errNoContent) {
		return p.State(ctx)
	}
	return st, err
}

// Signal sends sig to the process.
func (p *Process) Signal(ctx context.Context, sig syscall.Signal) error {
	q := p.query()
	q.Set("sig", strconv.Itoa(int(sig)))
	return p.c.do(ctx, http.MethodPost, "/signal", q, nil, nil)
}

// Wait blocks until the process has exited and its output is written.
func (p *Process) Wait(ctx context.Context) (Exit, error) {
	var e Exit
	err := p.c.do(ctx, http.MethodGet, "/wait", p.query(), nil, &e)
	return e, err
}

// Resize sets the process's terminal size.
func (p *Process) Resize(ctx context.Context, height, width uint16) error {
	q := p.query()
	q.Set("h", strconv.Itoa(int(height)))
	q.Set("w", strconv.Itoa(int(width)))
	return p.c.do(ctx, http.MethodPost, "/resize", q, nil, nil)
}

// AttachOptions choose the streams of an attach.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
	// CloseStdin closes the process's stdin when this attacher's input ends
	// (docker's StdinOnce).
	CloseStdin bool
}

// Stream is an attach connection. Reads give the output: raw bytes for a tty
// process, otherwise frames of FrameHeader plus payload. Writes go to the
// process's stdin; CloseWrite ends this attacher's input. Reads end with
// io.EOF once the process has exited and all its output is delivered.
type Stream struct {
	net.Conn
	r *bufio.Reader
}

func (s *Stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// CloseWrite half-closes the connection, ending this attacher's input.
func (s *Stream) CloseWrite() error {
	if uc, ok := s.Conn.(*net.UnixConn); ok {
		return uc.CloseWrite()
	}
	return nil
}

// Attach connects to the process's streams. Attach before Start to see all
// output; more than one attacher may read, only one may write stdin at a time.
func (p *Process) Attach(ctx context.Context, opts AttachOptions) (*Stream, error) {
	q := attachQuery(p.query(), opts)
	s, _, err := p.c.upgrade(ctx, "/attach?"+q.Encode(), nil)
	return s, err
}

func attachQuery(q url.Values, opts AttachOptions) url.Values {
	for k, v := range map[string]bool{"stdin": opts.Stdin, "stdout": opts.Stdout, "stderr": opts.Stderr, "closeStdin": opts.CloseStdin} {
		if v {
			q.Set(k, "1")
		}
	}
	return q
}

// ErrNotSupported is a shim's answer to a route it does not have: a shim
// started by an older daemon, still running its container.
var ErrNotSupported = errors.New("not supported by this shim")

// ExecAttachStart creates an exec process, attaches to its streams and
// starts it, in one round trip. A shim without that route (an older one)
// gives ErrNotSupported: use Exec, Attach and StartState then.
func (c *Client) ExecAttachStart(ctx context.Context, req ExecRequest, opts AttachOptions) (*Process, State, *Stream, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, State{}, nil, err
	}
	s, resp, err := c.upgrade(ctx, "/exec/start?"+attachQuery(url.Values{}, opts).Encode(), b)
	if err != nil {
		return nil, State{}, nil, err
	}
	id := resp.Header.Get(api.ExecIDHeader)
	pid, perr := strconv.Atoi(resp.Header.Get(api.ExecPidHeader))
	if id == "" || perr != nil {
		s.Close()
		return nil, State{}, nil, fmt.Errorf("shim: exec start answer without its exec id and pid")
	}
	return c.ExecProcess(id), State{ID: id, Pid: pid, Status: StatusRunning}, s, nil
}

// upgrade sends a POST that the shim answers with 101 and a stream.
func (c *Client) upgrade(ctx context.Context, target string, body []byte) (*Stream, *http.Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, nil, errdefs.Unavailable(fmt.Errorf("dialing shim: %w", err))
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req := "POST " + target + " HTTP/1.1\r\nHost: shim\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
	if body != nil {
		req += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"+string(body)); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		if resp.StatusCode == http.StatusNotFound && resp.Header.Get("Content-Type") != "application/json" {
			// net/http's mux (older shims) answers unknown routes in
			// plain text; our routes answer JSON errors.
			return nil, nil, ErrNotSupported
		}
		return nil, nil, responseError(resp)
	}
	_ = conn.SetDeadline(noDeadline)
	return &Stream{Conn: conn, r: br}, resp, nil
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	u := "http://shim" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errdefs.Unavailable(fmt.Errorf("shim %s: %w", c.socket, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return responseError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if resp.StatusCode == http.StatusNoContent {
		return errNoContent
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errdefs.Unavailable(errClosed)
		}
		return fmt.Errorf("decoding shim response: %w", err)
	}
	return nil
}

// errNoContent: a call that wanted an answer got 204.
var errNoContent = errors.New("shim: no content")

// responseError turns the shim's error body back into an errdefs class, so
// the daemon's error mapping sees the same class the shim chose.
func responseError(resp *http.Response) error {
	var eb errorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &eb) != nil || eb.Message == "" {
		eb.Message = fmt.Sprintf("shim: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	err := errors.New(eb.Message)
	switch resp.StatusCode {
	case http.StatusBadRequest:
		return errdefs.InvalidParameter(err)
	case http.StatusNotFound:
		return errdefs.NotFound(err)
	case http.StatusConflict:
		return errdefs.Conflict(err)
	case http.StatusNotImplemented:
		return errdefs.NotImplemented(err)
	}
	return err
}
