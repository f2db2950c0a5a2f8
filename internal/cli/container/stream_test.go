package container

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

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
