package container

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"

	"github.com/berth-engine/berth/internal/errdefs"
)

func goarch() string { return runtime.GOARCH }

// hijacked is the client's connection after the HTTP exchange: reads come
// through the server's buffered reader first.
type hijacked struct {
	net.Conn
	r *bufio.Reader
}

func (h *hijacked) Read(p []byte) (int, error) { return h.r.Read(p) }

func (h *hijacked) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// hijack takes over the connection and answers 101 (when the client asked
// to upgrade, as the docker CLI does) or 200, with the stream content type
// and the extra header lines given ("Name: value").
func hijack(w http.ResponseWriter, r *http.Request, contentType string, extra ...string) (*hijacked, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errdefs.InvalidParameterf("the connection cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	var status string
	if upgrading(r) {
		status = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + contentType + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
	} else {
		status = "HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n"
	}
	for _, h := range extra {
		status += h + "\r\n"
	}
	status += "\r\n"
	if _, err := conn.Write([]byte(status)); err != nil {
		conn.Close()
		return nil, err
	}
	return &hijacked{Conn: conn, r: brw.Reader}, nil
}

// upgrading tells whether the client asked to upgrade the connection.
func upgrading(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "tcp") || strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// errorOnStream reports an error that happened after the hijack the way
// dockerd does: as text on the (framed, unless TTY) stdout stream.
func errorOnStream(conn net.Conn, err error, tty bool) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	_, _ = conn.Write(framer(tty)(1, []byte(err.Error()+"\r\n")))
}
