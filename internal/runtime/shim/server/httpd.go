package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// A small HTTP/1.1 server for the shim's socket, in place of net/http's: the
// shim binary is also every container's and every exec's init process, and
// net/http brings TLS, HTTP/2 and their packages' initialisation (about a
// millisecond of each such start on the test VM). The only client is the
// daemon's (net/http), which sends requests with a Content-Length or none,
// one at a time per connection; attach upgrades the connection (hijack).

// maxBody bounds a request body (exec requests, resource updates).
const maxBody = 4 << 20

// request is one parsed request.
type request struct {
	method string
	path   string
	query  url.Values
	header map[string]string // lower-case names
	body   []byte
	ctx    context.Context
}

// Query returns the query parameters.
func (r *request) Query() url.Values { return r.query }

// Body returns the request body.
func (r *request) Body() io.Reader { return bytes.NewReader(r.body) }

// Context ends when the client goes away while a long-polling handler runs
// (see httpd.longPoll); otherwise it never ends.
func (r *request) Context() context.Context { return r.ctx }

// response is what a handler answers: a status and a body, written with a
// Content-Length once the handler returns, unless the handler hijacked the
// connection.
type response struct {
	status   int
	ctype    string
	body     bytes.Buffer
	conn     net.Conn
	rw       *bufio.ReadWriter
	hijacked bool
	onHijack func()
}

// WriteHeader sets the status.
func (w *response) WriteHeader(status int) { w.status = status }

// SetContentType sets the Content-Type of the body.
func (w *response) SetContentType(ctype string) { w.ctype = ctype }

// Write appends to the body.
func (w *response) Write(b []byte) (int, error) { return w.body.Write(b) }

// Hijack hands the connection to the handler, which then writes the response
// itself; bytes the client sent after the request are in the reader.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter) {
	if !w.hijacked {
		w.hijacked = true
		w.onHijack()
	}
	return w.conn, w.rw
}

var statusText = map[int]string{
	200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
	409: "Conflict", 411: "Length Required", 413: "Request Entity Too Large", 500: "Internal Server Error",
}

// httpd serves handler on a listener until shutdown.
type httpd struct {
	handler func(w *response, r *request)
	// longPoll names the routes ("METHOD /path") whose handlers wait: a
	// goroutine watches their connection and cancels the request's context
	// when the client goes; the connection is closed after the answer.
	longPoll map[string]bool

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]bool // open connections, true while a request is being handled
	closing bool
	active  sync.WaitGroup
}

var errServerClosed = errors.New("server closed")

func newHTTPD(handler func(w *response, r *request), longPoll ...string) *httpd {
	h := &httpd{handler: handler, longPoll: map[string]bool{}, conns: map[net.Conn]bool{}}
	for _, lp := range longPoll {
		h.longPoll[lp] = true
	}
	return h
}

// serve accepts connections until shutdown, then returns errServerClosed.
func (h *httpd) serve(ln net.Listener) error {
	h.mu.Lock()
	h.ln = ln
	h.mu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			h.mu.Lock()
			closing := h.closing
			h.mu.Unlock()
			if closing {
				return errServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		h.mu.Lock()
		if h.closing {
			h.mu.Unlock()
			conn.Close()
			continue
		}
		h.conns[conn] = false
		h.mu.Unlock()
		go h.serveConn(conn)
	}
}

// shutdown stops accepting, closes idle connections, and waits for the
// requests being handled to be answered (until ctx ends). Hijacked
// connections are their handlers'.
func (h *httpd) shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closing = true
	if h.ln != nil {
		h.ln.Close()
	}
	for c, busy := range h.conns {
		if !busy {
			c.Close()
			delete(h.conns, c)
		}
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.active.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// setBusy marks conn as handling a request (or not); it reports false when
// the server is closing and conn should be closed instead.
func (h *httpd) setBusy(conn net.Conn, busy bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !busy {
		if h.closing {
			delete(h.conns, conn)
			return false
		}
		h.conns[conn] = false
		return true
	}
	if _, ok := h.conns[conn]; !ok {
		return false
	}
	h.conns[conn] = true
	h.active.Add(1)
	return true
}

func (h *httpd) forget(conn net.Conn) {
	h.mu.Lock()
	delete(h.conns, conn)
	h.mu.Unlock()
}

func (h *httpd) serveConn(conn net.Conn) {
	br := bufio.NewReader(conn)
	bw := bufio.NewWriter(conn)
	for {
		r, err := readRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				status := 400
				var se statusError
				if errors.As(err, &se) {
					status = int(se)
				}
				writeResponse(bw, status, "text/plain; charset=utf-8", []byte(err.Error()+"\n"), true)
			}
			h.forget(conn)
			conn.Close()
			return
		}
		if !h.setBusy(conn, true) {
			conn.Close()
			return
		}
		keep, hijacked := h.handle(conn, br, bw, r)
		if hijacked {
			// The handler owns the connection; shutdown leaves it alone
			// (Hijack counted the request done).
			return
		}
		h.active.Done()
		if !keep || !h.setBusy(conn, false) {
			h.forget(conn)
			conn.Close()
			return
		}
	}
}

// handle runs the handler for r and answers; it reports whether the
// connection stays open for another request, and whether it was hijacked.
func (h *httpd) handle(conn net.Conn, br *bufio.Reader, bw *bufio.Writer, r *request) (keep, hijacked bool) {
	keep = !strings.EqualFold(r.header["connection"], "close")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.ctx = ctx
	var watched chan struct{}
	if h.longPoll[r.method+" "+r.path] {
		// The client sends nothing more while it waits: a read that returns
		// means it has gone. The connection is not reused afterwards.
		keep = false
		watched = make(chan struct{})
		go func() {
			defer close(watched)
			var b [1]byte
			if _, err := br.Read(b[:]); err != nil {
				cancel()
			}
		}()
	}
	w := &response{status: 200, conn: conn, rw: bufio.NewReadWriter(br, bw), onHijack: func() {
		h.forget(conn)
		h.active.Done()
	}}
	h.handler(w, r)
	if w.hijacked {
		return false, true
	}
	var body []byte
	if w.status != 204 {
		body = w.body.Bytes()
	}
	err := writeResponse(bw, w.status, w.ctype, body, !keep)
	if watched != nil {
		conn.Close()
		<-watched
	}
	return keep && err == nil, false
}

func writeResponse(bw *bufio.Writer, status int, ctype string, body []byte, closing bool) error {
	text := statusText[status]
	if text == "" {
		text = "Status " + strconv.Itoa(status)
	}
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", status, text)
	if status != 204 {
		if ctype != "" {
			fmt.Fprintf(bw, "Content-Type: %s\r\n", ctype)
		}
		fmt.Fprintf(bw, "Content-Length: %d\r\n", len(body))
	}
	if closing {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(body)
	return bw.Flush()
}

// statusError is a request the server refuses with that status.
type statusError int

func (e statusError) Error() string { return statusText[int(e)] }

// readRequest reads one request: line, headers, and a body of
// Content-Length bytes.
func readRequest(br *bufio.Reader) (*request, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !strings.HasPrefix(proto, "HTTP/1.") || method == "" || !strings.HasPrefix(target, "/") {
		return nil, fmt.Errorf("malformed request line %q", line)
	}
	r := &request{method: method, header: map[string]string{}}
	path, rawQuery, _ := strings.Cut(target, "?")
	if r.path, err = url.PathUnescape(path); err != nil {
		return nil, err
	}
	if r.query, err = url.ParseQuery(rawQuery); err != nil {
		return nil, err
	}
	for n := 0; ; n++ {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		if n > 100 {
			return nil, errors.New("too many header lines")
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", line)
		}
		r.header[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if te := r.header["transfer-encoding"]; te != "" && !strings.EqualFold(te, "identity") {
		return nil, statusError(411)
	}
	if cl := r.header["content-length"]; cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad Content-Length %q", cl)
		}
		if n > maxBody {
			return nil, statusError(413)
		}
		r.body = make([]byte, n)
		if _, err := io.ReadFull(br, r.body); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// readLine reads a CRLF- (or LF-) terminated line of at most 8 KiB.
func readLine(br *bufio.Reader) (string, error) {
	var line []byte
	for {
		part, isPrefix, err := br.ReadLine()
		if err != nil {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		line = append(line, part...)
		if len(line) > 8<<10 {
			return "", errors.New("line too long")
		}
		if !isPrefix {
			return string(line), nil
		}
	}
}
