package container

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestPortLines(t *testing.T) {
	ports := network.PortMap{
		network.MustParsePort("80/tcp"):   {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8080"}, {HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8081"}},
		network.MustParsePort("53/udp"):   {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "5353"}},
		network.MustParsePort("443/tcp"):  nil,
		network.MustParsePort("8000/tcp"): {{HostPort: "9000"}},
	}
	tests := []struct {
		name, want string
		lines      []string
		wantErr    bool
	}{
		{name: "all", lines: []string{"53/udp -> 0.0.0.0:5353", "80/tcp -> 0.0.0.0:8080", "80/tcp -> 127.0.0.1:8081", "8000/tcp -> 0.0.0.0:9000"}},
		{name: "one", want: "80", lines: []string{"0.0.0.0:8080", "127.0.0.1:8081"}},
		{name: "proto", want: "53/udp", lines: []string{"0.0.0.0:5353"}},
		{name: "exposed only", want: "443", wantErr: true},
		{name: "bad", want: "x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := portLines(ports, tt.want)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.lines) {
				t.Errorf("got %q, want %q", got, tt.lines)
			}
		})
	}
}
