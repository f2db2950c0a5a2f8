package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/berth-engine/berth/internal/runtime/shim/api"
)

// jsonLog writes Docker's json-file format: one object per line. Each line is
// written with one write(2), so a reader (docker logs -f) never sees half a
// record, and nothing is buffered in the shim.
type jsonLog struct {
	mu       sync.Mutex
	f        *os.File
	path     string
	size     int64
	maxSize  int64 // bytes; 0: no rotation
	maxFiles int
}

func openJSONLog(path string, maxSize int64, maxFiles int) (*jsonLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	l := &jsonLog{f: f, path: path, maxSize: maxSize, maxFiles: maxFiles}
	if fi, err := f.Stat(); err == nil {
		l.size = fi.Size()
	}
	return l, nil
}

// rotateLocked implements json-file's max-size/max-file: the current file
// becomes path.1, older ones shift up, the oldest beyond max-file goes.
func (l *jsonLog) rotateLocked() {
	if l.maxFiles <= 1 {
		// One file: start it again.
		if err := l.f.Truncate(0); err == nil {
			_, _ = l.f.Seek(0, 0)
			l.size = 0
		}
		return
	}
	_ = os.Remove(fmt.Sprintf("%s.%d", l.path, l.maxFiles-1))
	for i := l.maxFiles - 2; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return
	}
	l.f.Close()
	l.f, l.size = f, 0
}

type logRecord struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

func (l *jsonLog) write(stream string, line []byte) {
	b, err := json.Marshal(logRecord{Log: string(line), Stream: stream, Time: time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxSize > 0 && l.size > 0 && l.size+int64(len(b)) > l.maxSize {
		l.rotateLocked()
	}
	n, _ := l.f.Write(b)
	l.size += int64(n)
}

// lineSplitter cuts a stream into log records at newlines, as dockerd does,
// with a cap so a process that never writes a newline still gets logged.
type lineSplitter struct {
	log    *jsonLog
	stream string
	buf    []byte
}

const maxLogLine = 16 << 10

func (s *lineSplitter) write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.buf = append(s.buf, p...)
			if len(s.buf) >= maxLogLine {
				s.flush()
			}
			return
		}
		s.buf = append(s.buf, p[:i+1]...)
		p = p[i+1:]
		s.flush()
	}
}

func (s *lineSplitter) flush() {
	if len(s.buf) > 0 {
		s.log.write(s.stream, s.buf)
		s.buf = s.buf[:0]
	}
}

// broadcaster hands one process's output to every attacher. A slow attacher
// is dropped rather than allowed to block the container's writes (which
// would stall the process and its log).
//
// A held broadcaster keeps the output instead of sending it, until release:
// init runs from the moment its shim has created it, but the daemon connects
// the attachers of a `run` after that, and they must see the output from its
// first byte. The log is written at once either way. What is kept is
// bounded: past maxHeld bytes or chunks, write waits for the release, and the
// process's pipe fills behind it as it would with nobody reading.
type broadcaster struct {
	mu     sync.Mutex
	tty    bool
	subs   map[*subscriber]struct{}
	ended  bool // the process's output has ended (close)
	closed bool // and the attachers have been told

	held     bool
	pending  []chunk
	size     int        // bytes in pending
	room     *sync.Cond // broadcast at release
	released chan struct{}
}

type subscriber struct {
	streams uint8 // bit 1<<api.Stdout, 1<<api.Stderr
	ch      chan chunk
}

type chunk struct {
	stream byte
	data   []byte
}

const (
	subscriberQueue = 512
	// maxHeldBytes and maxHeldChunks bound what a held broadcaster keeps;
	// the chunks fit in a new subscriber's queue with room to spare.
	maxHeldBytes  = 1 << 20
	maxHeldChunks = subscriberQueue / 2
)

func newBroadcaster(tty bool) *broadcaster {
	b := &broadcaster{tty: tty, subs: map[*subscriber]struct{}{}, released: make(chan struct{})}
	b.room = sync.NewCond(&b.mu)
	close(b.released)
	return b
}

// hold makes b keep the output until release; it is called before the
// process starts.
func (b *broadcaster) hold() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = true
	b.released = make(chan struct{})
}

// release sends what was kept to the attachers subscribed by now, and
// everything after it as it comes. It reports whether b was held.
func (b *broadcaster) release() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.held {
		return false
	}
	b.held = false
	for _, c := range b.pending {
		b.sendLocked(c)
	}
	b.pending, b.size = nil, 0
	if b.ended {
		b.closeLocked()
	}
	b.room.Broadcast()
	close(b.released)
	return true
}

// whenReleased is closed once b is not held.
func (b *broadcaster) whenReleased() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.released
}

// isHeld reports whether b still keeps its output.
func (b *broadcaster) isHeld() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

func (b *broadcaster) write(stream byte, p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.held && b.size > 0 && (b.size+len(p) > maxHeldBytes || len(b.pending) >= maxHeldChunks) {
		b.room.Wait()
	}
	if b.held {
		b.size += len(p)
		if n := len(b.pending); n > 0 && b.pending[n-1].stream == stream {
			b.pending[n-1].data = append(b.pending[n-1].data, p...)
			return
		}
		b.pending = append(b.pending, chunk{stream, append([]byte(nil), p...)})
		return
	}
	if len(b.subs) == 0 {
		return
	}
	b.sendLocked(chunk{stream, append([]byte(nil), p...)})
}

func (b *broadcaster) sendLocked(c chunk) {
	for s := range b.subs {
		if s.streams&(1<<c.stream) == 0 {
			continue
		}
		select {
		case s.ch <- c:
		default:
			delete(b.subs, s)
			close(s.ch)
		}
	}
}

// close ends every attacher's output once the process's output is done
// (for a held broadcaster, once it is released).
func (b *broadcaster) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ended = true
	if !b.held {
		b.closeLocked()
	}
}

func (b *broadcaster) closeLocked() {
	b.closed = true
	for s := range b.subs {
		close(s.ch)
	}
	clear(b.subs)
}

// subscribe returns a channel that carries output and is closed when the
// process's output ends (at once if it already has).
func (b *broadcaster) subscribe(stdout, stderr bool) *subscriber {
	s := &subscriber{ch: make(chan chunk, subscriberQueue)}
	if stdout {
		s.streams |= 1 << api.Stdout
	}
	if stderr {
		s.streams |= 1 << api.Stderr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(s.ch)
		return s
	}
	b.subs[s] = struct{}{}
	return s
}

func (b *broadcaster) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// serve copies s's output to conn, framed unless the process has a tty.
func (b *broadcaster) serve(s *subscriber, conn net.Conn) {
	for c := range s.ch {
		var err error
		if b.tty {
			_, err = conn.Write(c.data)
		} else {
			h := api.FrameHeader(c.stream, len(c.data))
			_, err = (&net.Buffers{h[:], c.data}).WriteTo(conn)
		}
		if err != nil {
			b.unsubscribe(s)
			for range s.ch {
			}
			return
		}
	}
}

// pump reads one output stream until EOF (or EIO from a pty master whose
// slave side is gone) and feeds the log and the attachers.
func pump(r io.Reader, stream byte, log *lineSplitter, b *broadcaster) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if log != nil {
				log.write(buf[:n])
			}
			b.write(stream, buf[:n])
		}
		if err != nil {
			break
		}
	}
	if log != nil {
		log.flush()
	}
}
