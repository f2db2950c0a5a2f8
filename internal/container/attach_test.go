package container

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// bufConn is an attach client that sends nothing and keeps what it gets.
type bufConn struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *bufConn) Read([]byte) (int, error) { return 0, io.EOF }
func (b *bufConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *bufConn) Close() error      { return nil }
func (b *bufConn) CloseWrite() error { return nil }
func (b *bufConn) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// TestAttachConnectsWhileStartWaits: an attach registered before start
// that only gets to run once start holds the container (and waits for it)
// still connects at once and gets all the output. It used to wait for the
// container's lock, so start gave up on it after 5 s and the output of a
// fast command was lost.
func TestAttachConnectsWhileStartWaits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, _, err := e.svc.Create(ctx, CreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"echo", "hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.PrepareAttach(id, AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	t0 := time.Now()
	go func() { started <- e.svc.Start(ctx, id) }()
	// Start has handed the shim over and now holds the container, waiting.
	for deadline := time.Now().Add(20 * time.Second); len(a.waiter.client) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("start never handed the attach its shim")
		}
		time.Sleep(time.Millisecond)
	}
	conn := &bufConn{}
	attached := make(chan error, 1)
	go func() { attached <- e.svc.Attach(ctx, a, conn, func(_ byte, p []byte) []byte { return p }) }()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(t0); waited >= 5*time.Second {
		t.Fatalf("start waited %v for the attach: it could not connect", waited)
	}
	select {
	case err := <-attached:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("attach did not end with the process")
	}
	var out bytes.Buffer
	if err := demux(&out, bytes.NewReader(conn.bytes())); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\n" {
		t.Fatalf("attached output %q, want %q", out.String(), "hello\n")
	}
}
