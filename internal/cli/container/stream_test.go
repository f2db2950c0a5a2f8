package container

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"

	"github.com/berth-engine/berth/internal/apiext"
	"github.com/berth-engine/berth/internal/cli/client"
)

func TestParseDetachKeys(t *testing.T) {
	tests := []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{in: "ctrl-p,ctrl-q", want: []byte{16, 17}},
		{in: "ctrl-a", want: []byte{1}},
		{in: "ctrl-z", want: []byte{26}},
		{in: "ctrl-@", want: []byte{0}},
		{in: "ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", want: []byte{27, 28, 29, 30, 31}},
		{in: "CTRL-P,q", want: []byte{16, 'q'}},
		{in: "a,b,c", want: []byte{'a', 'b', 'c'}},
		{in: "ctrl-", wantErr: true},
		{in: "ctrl-1", wantErr: true},
		{in: "ctrl-ab", wantErr: true},
		{in: "ab", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseDetachKeys(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q: want an error, got %v", tt.in, got)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%q: got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestStreamHijackedDetachKeys(t *testing.T) {
	tests := []struct {
		name     string
		keys     string
		input    string
		wantSent string
	}{
		{name: "default keys", input: "ls\r\x10\x11echo never", wantSent: "ls\r"},
		{name: "custom keys", keys: "ctrl-a,x", input: "pwd\r\x01x", wantSent: "pwd\r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clientConn, daemonConn := net.Pipe()
			sent := make(chan string, 1)
			go func() {
				// The daemon side: read what the user typed until the CLI
				// hangs up, and never send output.
				b, _ := io.ReadAll(daemonConn)
				sent <- string(b)
			}()
			resp := client.NewHijackedResponse(clientConn, "")
			var out bytes.Buffer
			err := streamHijacked(context.Background(), resp, streamOptions{
				In: strings.NewReader(tt.input), Out: &out, Err: &out, TTY: true, DetachKeys: tt.keys,
			})
			if !errors.Is(err, errDetached) {
				t.Fatalf("err %v, want errDetached", err)
			}
			resp.Close()
			if got := <-sent; got != tt.wantSent {
				t.Errorf("daemon got %q, want %q", got, tt.wantSent)
			}
		})
	}
}

func TestStreamHijackedDemultiplexes(t *testing.T) {
	clientConn, daemonConn := net.Pipe()
	go func() {
		_, _ = daemonConn.Write([]byte{1, 0, 0, 0, 0, 0, 0, 4})
		_, _ = daemonConn.Write([]byte("out\n"))
		_, _ = daemonConn.Write([]byte{2, 0, 0, 0, 0, 0, 0, 4})
		_, _ = daemonConn.Write([]byte("err\n"))
		_ = daemonConn.Close()
	}()
	var stdout, stderr bytes.Buffer
	err := streamHijacked(context.Background(), client.NewHijackedResponse(clientConn, ""), streamOptions{Out: &stdout, Err: &stderr})
	if err != nil || stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Errorf("err %v stdout %q stderr %q", err, stdout.String(), stderr.String())
	}
}

func TestCopyExitFramed(t *testing.T) {
	fr := func(stream byte, p string) string {
		return string([]byte{stream, 0, 0, 0, 0, 0, 0, byte(len(p))}) + p
	}
	tests := []struct {
		name, in, stdout, stderr, err string
		code                          int
		ok                            bool
	}{
		{name: "exit frame", in: fr(1, "out") + fr(2, "err") + fr(0, "in") + fr(apiext.ExitStream, "\x00\x00\x00\x07") + fr(1, "after"),
			stdout: "outin", stderr: "err", code: 7, ok: true},
		{name: "negative", in: fr(apiext.ExitStream, "\xff\xff\xff\xff"), code: -1, ok: true},
		{name: "no exit frame", in: fr(1, "out"), stdout: "out"},
		{name: "cut in a header", in: fr(1, "out") + "\x01\x00", stdout: "out"},
		{name: "cut in a frame", in: fr(1, "out") + "\x01\x00\x00\x00\x00\x00\x00\x09ab", stdout: "outab"},
		{name: "cut in the exit frame", in: fr(apiext.ExitStream, "\x00\x00\x00\x07")[:10]},
		{name: "daemon error", in: fr(1, "out") + fr(3, "boom"), stdout: "out", err: "error from daemon in stream: boom"},
		{name: "unknown stream", in: fr(9, "x"), err: "unrecognized stream: 9"},
		{name: "bad exit frame", in: fr(apiext.ExitStream, "\x00\x07"), err: "exit frame of 2 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			var exit streamExit
			err := copyExitFramed(&stdout, &stderr, strings.NewReader(tt.in), &exit)
			if (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
				t.Fatalf("err %v, want %q", err, tt.err)
			}
			if stdout.String() != tt.stdout || stderr.String() != tt.stderr || exit.code != tt.code || exit.ok != tt.ok {
				t.Errorf("stdout %q stderr %q exit %+v; want %q %q %d %v", stdout.String(), stderr.String(), exit, tt.stdout, tt.stderr, tt.code, tt.ok)
			}
		})
	}
}

// TestCopyExitFramedAsStdCopy: without an exit frame the output is what
// stdcopy.StdCopy gives.
func TestCopyExitFramedAsStdCopy(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		var in bytes.Buffer
		for j := rnd.IntN(6); j > 0; j-- {
			p := make([]byte, rnd.IntN(70000))
			for k := range p {
				p[k] = byte(rnd.IntN(256))
			}
			in.Write([]byte{byte(rnd.IntN(3)), 0, 0, 0})
			_ = binary.Write(&in, binary.BigEndian, uint32(len(p)))
			in.Write(p)
		}
		data := in.Bytes()[:rnd.IntN(in.Len()+1)] // maybe cut short
		var o1, e1, o2, e2 bytes.Buffer
		_, err1 := stdcopy.StdCopy(&o1, &e1, bytes.NewReader(data))
		var exit streamExit
		err2 := copyExitFramed(&o2, &e2, bytes.NewReader(data), &exit)
		if (err1 == nil) != (err2 == nil) || exit.ok {
			t.Fatalf("errors %v / %v, exit %+v", err1, err2, exit)
		}
		// StdCopy drops a frame cut short; copyExitFramed passes on what
		// came of it.
		if !bytes.HasPrefix(o2.Bytes(), o1.Bytes()) || !bytes.HasPrefix(e2.Bytes(), e1.Bytes()) {
			t.Fatalf("run %d: output differs from stdcopy's", i)
		}
		if len(data) == in.Len() && (!bytes.Equal(o1.Bytes(), o2.Bytes()) || !bytes.Equal(e1.Bytes(), e2.Bytes())) {
			t.Fatalf("run %d: whole stream, output differs from stdcopy's", i)
		}
	}
}
