package system

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"

	bus "github.com/berth-engine/berth/internal/events"
	"github.com/berth-engine/berth/internal/server"
)

type fakeBackend struct{ bus *bus.Bus }

func (f fakeBackend) Info(context.Context) (*system.Info, error) { return &system.Info{ID: "x"}, nil }
func (f fakeBackend) Version(context.Context) system.VersionResponse {
	return system.VersionResponse{APIVersion: "1.50"}
}
func (f fakeBackend) DiskUsage(context.Context) (*DiskUsage, error) {
	return &DiskUsage{LayersSize: 7}, nil
}
func (f fakeBackend) SubscribeEvents(ctx context.Context, since time.Time, fl bus.Filter) ([]events.Message, <-chan events.Message) {
	return f.bus.Subscribe(ctx, since, fl)
}

func newTestServer(t *testing.T) (*httptest.Server, *bus.Bus) {
	b := bus.New()
	s := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), New(fakeBackend{bus: b}))
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, b
}

func TestPingHeaders(t *testing.T) {
	ts, _ := newTestServer(t)
	for _, method := range []string{"GET", "HEAD"} {
		req, _ := http.NewRequest(method, ts.URL+"/_ping", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Api-Version") != "1.50" || h.Get("Ostype") != "linux" || h.Get("Builder-Version") == "" || h.Get("Server") == "" {
			t.Fatalf("%s /_ping: %d %v", method, resp.StatusCode, h)
		}
		if want := map[string]string{"GET": "OK", "HEAD": ""}[method]; string(body) != want {
			t.Fatalf("%s /_ping body %q, want %q", method, body, want)
		}
	}
}

func TestEventsSinceUntilFilter(t *testing.T) {
	ts, b := newTestServer(t)
	start := time.Now()
	b.Publish(events.Message{Type: events.ContainerEventType, Action: "create", Actor: events.Actor{ID: "c1"}})
	b.Publish(events.Message{Type: events.ImageEventType, Action: "pull", Actor: events.Actor{ID: "busybox"}})
	since := strconv.FormatInt(start.Add(-time.Second).Unix(), 10)
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	resp, err := http.Get(ts.URL + "/v1.50/events?since=" + since + "&until=" + until + `&filters={"type":{"container":true}}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []events.Message
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var m events.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 1 || got[0].Actor.ID != "c1" {
		t.Fatalf("events = %+v, want only container c1", got)
	}
}

func TestEventsLive(t *testing.T) {
	ts, b := newTestServer(t)
	resp, err := http.Get(ts.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	go func() {
		// Publish until the subscriber is attached; a published event
		// before subscription is not replayed without since.
		for i := 0; i < 100; i++ {
			b.Publish(events.Message{Type: events.VolumeEventType, Action: "create", Actor: events.Actor{ID: "v"}})
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var m events.Message
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Type != events.VolumeEventType || m.Scope != "local" {
		t.Fatalf("got %+v", m)
	}
}

func TestDiskUsageTypeFilter(t *testing.T) {
	ts, _ := newTestServer(t)
	resp, err := http.Get(ts.URL + "/system/df?type=volume")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var du DiskUsage
	if err := json.NewDecoder(resp.Body).Decode(&du); err != nil {
		t.Fatal(err)
	}
	if du.LayersSize != 0 {
		t.Fatalf("LayersSize %d should be dropped when images are not asked for", du.LayersSize)
	}
}

func TestParseTimestamp(t *testing.T) {
	ts, err := parseTimestamp("since", "1700000000.5")
	if err != nil || ts.UnixNano() != 1700000000500000000 {
		t.Fatalf("got %v %v", ts, err)
	}
	if _, err := parseTimestamp("since", "x"); err == nil {
		t.Fatal("want error")
	}
}
