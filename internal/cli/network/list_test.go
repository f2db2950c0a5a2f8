package network

import (
	"bytes"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestWriteList(t *testing.T) {
	items := []network.Summary{
		{Network: network.Network{Name: "none", ID: "c0ffee0123456789", Driver: "null", Scope: "local"}},
		{Network: network.Network{Name: "bridge", ID: "abcdef0123456789", Driver: "bridge", Scope: "local", Labels: map[string]string{"b": "2", "a": "1"}}},
	}
	tests := []struct {
		name string
		opts ListOptions
		want string
	}{
		{name: "table", want: "NETWORK ID     NAME      DRIVER    SCOPE\nabcdef012345   bridge    bridge    local\nc0ffee012345   none      null      local\n"},
		{name: "quiet", opts: ListOptions{Quiet: true}, want: "abcdef012345\nc0ffee012345\n"},
		{name: "no-trunc quiet", opts: ListOptions{Quiet: true, NoTrunc: true}, want: "abcdef0123456789\nc0ffee0123456789\n"},
		{name: "template", opts: ListOptions{Format: "{{.Name}} {{.Labels}} {{.Label \"a\"}}"}, want: "bridge a=1,b=2 1\nnone  \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteList(&buf, append([]network.Summary(nil), items...), tt.opts); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", buf.String(), tt.want)
			}
		})
	}
}

func TestIPAMConfig(t *testing.T) {
	tests := []struct {
		name    string
		opts    CreateOptions
		want    string
		wantErr bool
	}{
		{name: "none", want: "[]"},
		{name: "subnet gateway range", opts: CreateOptions{Subnets: []string{"10.1.0.0/16"}, Gateways: []string{"10.1.0.254"}, IPRanges: []string{"10.1.2.0/24"}}, want: "[{10.1.0.0/16 10.1.2.0/24 10.1.0.254 map[]}]"},
		{name: "gateway without subnet", opts: CreateOptions{Gateways: []string{"10.1.0.1"}}, wantErr: true},
		{name: "bad subnet", opts: CreateOptions{Subnets: []string{"nope"}}, wantErr: true},
		{name: "range outside", opts: CreateOptions{Subnets: []string{"10.1.0.0/16"}, IPRanges: []string{"10.2.0.0/24"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ipamConfig(tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil {
				s := "["
				for i, c := range got {
					if i > 0 {
						s += " "
					}
					s += "{" + c.Subnet.String() + " " + c.IPRange.String() + " " + c.Gateway.String() + " map[]}"
				}
				s += "]"
				if s != tt.want {
					t.Errorf("got %s, want %s", s, tt.want)
				}
			}
		})
	}
}
