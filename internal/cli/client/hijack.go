package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// HijackedResponse is the raw connection of an attach or exec after the
// HTTP upgrade: write stdin to Conn, read the output from Reader.
type HijackedResponse struct {
	mediaType string
	Conn      net.Conn
	Reader    *bufio.Reader
}

// NewHijackedResponse wraps conn, whose output is of mediaType (the
// response's Content-Type, "" when unknown).
func NewHijackedResponse(conn net.Conn, mediaType string) HijackedResponse {
	return HijackedResponse{Conn: conn, Reader: bufio.NewReader(conn), mediaType: mediaType}
}

// Close closes the connection.
func (h *HijackedResponse) Close() {
	_ = h.Conn.Close()
}

// MediaType is the output's media type, if the daemon named one.
func (h *HijackedResponse) MediaType() (string, bool) {
	return h.mediaType, h.mediaType != ""
}

// closeWriter is a connection whose sending side can be shut alone.
type closeWriter interface {
	CloseWrite() error
}

// CloseWrite tells the daemon stdin ended, keeping the output open.
func (h *HijackedResponse) CloseWrite() error {
	if cw, ok := h.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}

// postHijacked POSTs to p asking to upgrade the connection to a raw stream
// and returns it once the daemon answers 101 (or 200, as some older daemons
// do). http.Client cannot hand a connection over, so this dials and speaks
// HTTP/1.1 itself.
func (c *Client) postHijacked(ctx context.Context, p string, query url.Values, body any, hdr http.Header) (HijackedResponse, error) {
	req, err := c.newRequest(ctx, http.MethodPost, p, query, body, hdr)
	if err != nil {
		return HijackedResponse{}, err
	}
	hr, resp, err := c.upgrade(ctx, req)
	if err != nil {
		return HijackedResponse{}, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		hr.Close()
		return HijackedResponse{}, fmt.Errorf("unable to upgrade to tcp, received %d", resp.StatusCode)
	}
	return hr, nil
}

// upgrade sends req on a connection of its own, asking to upgrade it, and
// returns the connection with the daemon's answer, whatever its status:
// after a 101 (or 200) the stream follows the headers; otherwise the
// caller reads the answer's body and closes the connection.
func (c *Client) upgrade(ctx context.Context, req *http.Request) (_ HijackedResponse, _ *http.Response, retErr error) {
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")

	conn, err := c.dialRaw(ctx)
	if err != nil {
		return HijackedResponse{}, nil, fmt.Errorf("cannot connect to the Docker daemon. Is 'docker daemon' running on this host?: %w", err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetKeepAlive(true)
		_ = tc.SetKeepAlivePeriod(30 * time.Second)
	}
	// Cancelling ctx aborts the exchange by closing the connection.
	aborted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = conn.Close()
		close(aborted)
	})
	defer func() {
		if !stop() {
			<-aborted
			retErr = ctx.Err()
		}
		if retErr != nil {
			_ = conn.Close()
		}
	}()

	if err := req.Write(conn); err != nil {
		return HijackedResponse{}, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return HijackedResponse{}, nil, err
	}
	// What the daemon sent right after the headers is already in br: read
	// through it, on Conn too.
	hc := &hijackedConn{Conn: conn, r: br}
	return HijackedResponse{Conn: hc, Reader: br, mediaType: resp.Header.Get("Content-Type")}, resp, nil
}

// dialRaw connects to the daemon as the transport would, TLS included.
func (c *Client) dialRaw(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout}
	switch {
	case c.proto == "unix":
		return d.DialContext(ctx, "unix", c.addr)
	case c.transport != nil && c.transport.TLSClientConfig != nil:
		return (&tls.Dialer{NetDialer: d, Config: c.transport.TLSClientConfig}).DialContext(ctx, "tcp", c.addr)
	default:
		return d.DialContext(ctx, "tcp", c.addr)
	}
}

// hijackedConn reads through the buffer that holds what followed the
// response headers.
type hijackedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *hijackedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (c *hijackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}
