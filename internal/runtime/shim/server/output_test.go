package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/runtime/shim/api"
)

// collect drains s until it is closed.
func collect(s *subscriber) (stdout, stderr []byte) {
	for c := range s.ch {
		if c.stream == api.Stdout {
			stdout = append(stdout, c.data...)
		} else {
			stderr = append(stderr, c.data...)
		}
	}
	return stdout, stderr
}

func TestBroadcasterHeldUntilRelease(t *testing.T) {
	b := newBroadcaster(false)
	b.hold()
	b.write(api.Stdout, []byte("one "))
	b.write(api.Stderr, []byte("err "))
	b.write(api.Stdout, []byte("two"))
	s := b.subscribe(true, true)
	if len(s.ch) != 0 {
		t.Fatal("a held broadcaster sent output")
	}
	select {
	case <-b.whenReleased():
		t.Fatal("released before release")
	default:
	}
	b.close() // the process ends before the start
	if !b.isHeld() {
		t.Fatal("close let the output go")
	}
	if !b.release() {
		t.Fatal("release of a held broadcaster reported not held")
	}
	if b.release() {
		t.Fatal("second release reported held")
	}
	<-b.whenReleased()
	out, errOut := collect(s) // ends: the output had ended
	if string(out) != "one two" || string(errOut) != "err " {
		t.Errorf("got %q / %q", out, errOut)
	}
	if late := b.subscribe(true, true); len(late.ch) != 0 {
		t.Error("a subscriber after the end got output")
	} else if _, ok := <-late.ch; ok {
		t.Error("a subscriber after the end is not closed")
	}
}

func TestBroadcasterHeldIsBounded(t *testing.T) {
	b := newBroadcaster(false)
	b.hold()
	s := b.subscribe(true, false)
	block := bytes.Repeat([]byte("x"), 32<<10)
	for i := 0; i < maxHeldBytes/len(block); i++ {
		b.write(api.Stdout, block)
	}
	wrote := make(chan struct{})
	go func() {
		b.write(api.Stdout, []byte("last"))
		b.close()
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("a write past the bound did not wait for the release")
	case <-time.After(50 * time.Millisecond):
	}
	b.release()
	done := make(chan []byte)
	go func() { out, _ := collect(s); done <- out }()
	<-wrote
	out := <-done
	if len(out) != maxHeldBytes+4 || !bytes.HasSuffix(out, []byte("xlast")) {
		t.Errorf("got %d bytes ending %q", len(out), out[max(0, len(out)-8):])
	}
}

func TestBroadcasterHeldChunksFitAQueue(t *testing.T) {
	b := newBroadcaster(false)
	b.hold()
	s := b.subscribe(true, true)
	// Alternating streams cannot be merged: the chunk bound applies.
	wrote := make(chan struct{})
	go func() {
		for i := 0; i < 2*maxHeldChunks; i++ {
			b.write(byte(api.Stdout+i%2), []byte{'a'})
		}
		b.close()
		close(wrote)
	}()
	time.Sleep(20 * time.Millisecond)
	b.mu.Lock()
	n := len(b.pending)
	b.mu.Unlock()
	if n > maxHeldChunks {
		t.Fatalf("%d chunks held", n)
	}
	type result struct{ out, errOut []byte }
	done := make(chan result)
	go func() { o, e := collect(s); done <- result{o, e} }()
	b.release()
	<-wrote
	r := <-done
	out, errOut := r.out, r.errOut
	if len(out)+len(errOut) != 2*maxHeldChunks {
		t.Errorf("got %d + %d bytes, want %d: a subscriber was dropped", len(out), len(errOut), 2*maxHeldChunks)
	}
}
