package cli

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/berth-engine/berth/internal/cli/client"
)

func TestResolveHost(t *testing.T) {
	tests := []struct {
		name    string
		flags   []string
		env     map[string]string
		tls     bool
		want    string
		wantErr bool
	}{
		{name: "default socket", want: DefaultHost},
		{name: "DOCKER_HOST", env: map[string]string{"DOCKER_HOST": "unix:///var/run/docker.sock"}, want: "unix:///var/run/docker.sock"},
		{
			name: "BERTH_HOST beats DOCKER_HOST",
			env:  map[string]string{"BERTH_HOST": "unix:///b.sock", "DOCKER_HOST": "unix:///d.sock"},
			want: "unix:///b.sock",
		},
		{
			name:  "-H beats both",
			flags: []string{"tcp://10.0.0.1:2375"},
			env:   map[string]string{"BERTH_HOST": "unix:///b.sock", "DOCKER_HOST": "unix:///d.sock"},
			want:  "tcp://10.0.0.1:2375",
		},
		{name: "bare path is a unix socket", flags: []string{"/tmp/x.sock"}, want: "unix:///tmp/x.sock"},
		{name: "host:port is tcp", flags: []string{"example.com:1234"}, want: "tcp://example.com:1234"},
		{name: "tcp without port", flags: []string{"tcp://example.com"}, want: "tcp://example.com:2375"},
		{name: "tcp without port with TLS", flags: []string{"tcp://example.com"}, tls: true, want: "tcp://example.com:2376"},
		{name: "tcp IPv6", flags: []string{"tcp://[::1]:2375"}, want: "tcp://[::1]:2375"},
		{name: "tcp with path", flags: []string{"tcp://h:1/base"}, want: "tcp://h:1/base"},
		{name: "two -H", flags: []string{"unix:///a", "unix:///b"}, wantErr: true},
		{name: "unknown scheme", flags: []string{"gopher://x"}, wantErr: true},
		{name: "empty unix path", flags: []string{"unix://"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			got, err := ResolveHost(tt.flags, getenv, tt.tls)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	daemonErr := errors.New("Error response from daemon: No such container: x")
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantMsg  string
	}{
		{name: "nil", err: nil, wantCode: 0, wantMsg: ""},
		{name: "general error", err: daemonErr, wantCode: 1, wantMsg: daemonErr.Error()},
		{name: "status error", err: StatusError{Status: "bad flag", StatusCode: 125}, wantCode: 125, wantMsg: "bad flag"},
		{name: "container exit code prints nothing", err: StatusError{StatusCode: 3}, wantCode: 3, wantMsg: ""},
		{name: "wrapped status error", err: fmt.Errorf("ctx: %w", StatusError{Status: "x", StatusCode: 126}), wantCode: 126, wantMsg: "x"},
		{name: "pointer status error", err: &StatusError{Status: "p", StatusCode: 127}, wantCode: 127, wantMsg: "p"},
		{name: "zero code means general", err: StatusError{Status: "oops"}, wantCode: 1, wantMsg: "oops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := ExitCode(tt.err)
			if code != tt.wantCode || msg != tt.wantMsg {
				t.Errorf("ExitCode() = %d, %q; want %d, %q", code, msg, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestFilterOpt(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    client.Filters
		wantErr bool
	}{
		{name: "none", want: client.Filters{}},
		{
			name: "repeated and merged",
			args: []string{"type=container", "event=start", "event=die", "label=a=b"},
			want: client.Filters{
				"type":  {"container": true},
				"event": {"start": true, "die": true},
				"label": {"a=b": true},
			},
		},
		{name: "missing =", args: []string{"type"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewFilterOpt()
			var err error
			for _, a := range tt.args {
				if err = o.Set(a); err != nil {
					break
				}
			}
			if tt.wantErr {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.Value(), tt.want) {
				t.Errorf("got %v, want %v", o.Value(), tt.want)
			}
		})
	}
}
