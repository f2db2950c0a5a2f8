package container

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/cli/formatter"
)

func TestHumanAgo(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{0, "Less than a second ago"},
		{3 * time.Second, "3 seconds ago"},
		{59 * time.Second, "59 seconds ago"},
		{90 * time.Second, "About a minute ago"},
		{2 * time.Minute, "2 minutes ago"},
		{50 * time.Minute, "50 minutes ago"},
		{70 * time.Minute, "About an hour ago"},
		{5 * time.Hour, "5 hours ago"},
		{3 * 24 * time.Hour, "3 days ago"},
		{20 * 24 * time.Hour, "2 weeks ago"},
		{100 * 24 * time.Hour, "3 months ago"},
		{800 * 24 * time.Hour, "2 years ago"},
	}
	for _, tt := range tests {
		if got := HumanAgo(now.Add(-tt.ago), now); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.ago, got, tt.want)
		}
	}
}

func TestDisplayPorts(t *testing.T) {
	any4, any6 := netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::")
	tests := []struct {
		name  string
		ports []container.PortSummary
		want  string
	}{
		{"none", nil, ""},
		{"exposed only", []container.PortSummary{{PrivatePort: 80, Type: "tcp"}}, "80/tcp"},
		{
			"published on both families",
			[]container.PortSummary{{IP: any6, PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {IP: any4, PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {PrivatePort: 443, Type: "tcp"}},
			"443/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp",
		},
		{
			"ranges merge",
			[]container.PortSummary{
				{IP: any4, PrivatePort: 8001, PublicPort: 8001, Type: "tcp"}, {IP: any4, PrivatePort: 8000, PublicPort: 8000, Type: "tcp"},
				{PrivatePort: 53, Type: "udp"}, {PrivatePort: 54, Type: "udp"}, {PrivatePort: 60, Type: "udp"},
			},
			"53-54/udp, 60/udp, 0.0.0.0:8000-8001->8000-8001/tcp",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DisplayPorts(tt.ports); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPsTable(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	items := []container.Summary{
		{
			ID: strings.Repeat("a", 64), Names: []string{"/web"}, Image: "nginx:latest", ImageID: "sha256:" + strings.Repeat("b", 64),
			Command: "/docker-entrypoint.sh nginx -g 'daemon off;'", Created: now.Add(-3 * time.Second).Unix(),
			Ports: []container.PortSummary{{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"}},
			State: "running", Status: "Up 3 seconds",
		},
		{
			ID: strings.Repeat("c", 64), Names: []string{"/db", "/web/db"}, Image: "sha256:" + strings.Repeat("d", 64), ImageID: "sha256:" + strings.Repeat("d", 64),
			Command: "sh", Created: now.Add(-90 * time.Second).Unix(), State: "exited", Status: "Exited (0) 2 minutes ago",
		},
		{
			ID: strings.Repeat("e", 64), Names: []string{"/x"}, Image: "busybox@sha256:" + strings.Repeat("f", 64),
			Created: now.Add(-2 * time.Hour).Unix(), State: "created", Status: "Created",
		},
	}
	rows := make([]PsRow, 0, len(items))
	for _, s := range items {
		rows = append(rows, newPsRow(s, true, now))
	}
	var out bytes.Buffer
	if err := formatter.Write(&out, defaultPsFormat, psHeader, rows); err != nil {
		t.Fatal(err)
	}
	want := `CONTAINER ID   IMAGE          COMMAND                  CREATED              STATUS                     PORTS                  NAMES
aaaaaaaaaaaa   nginx:latest   "/docker-entrypoint.…"   3 seconds ago        Up 3 seconds               0.0.0.0:8080->80/tcp   web
cccccccccccc   dddddddddddd   "sh"                     About a minute ago   Exited (0) 2 minutes ago                          db
eeeeeeeeeeee   busybox        ""                       2 hours ago          Created                                           x
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}

	// --no-trunc keeps everything, link names included.
	full := newPsRow(items[1], false, now)
	if full.ID != items[1].ID || full.Names != "db,web/db" || full.Image != items[1].Image {
		t.Errorf("no-trunc row %+v", full)
	}
}
