package dns

import (
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

type table map[string][]netip.Addr

func (t table) LookupA(name string) ([]netip.Addr, bool) {
	a, ok := t[name]
	return a, ok
}

func (t table) LookupPTR(addr netip.Addr) (string, bool) {
	for n, as := range t {
		for _, a := range as {
			if a == addr {
				return n, true
			}
		}
	}
	return "", netip.MustParsePrefix("10.9.0.0/16").Contains(addr)
}

// fakeUpstream answers every A query with 192.0.2.77 (a documentation
// address: nothing is ever sent to it) on loopback.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if r.Question[0].Qtype == mdns.TypeA {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 5}, A: net.IPv4(192, 0, 2, 77)})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestServer(t *testing.T) {
	up := fakeUpstream(t)
	lk := table{"web": {netip.MustParseAddr("10.9.0.2")}, "db": {netip.MustParseAddr("10.9.0.3"), netip.MustParseAddr("10.9.1.3")}}
	s, err := Start(Options{Addr: "127.0.0.1:0", Upstreams: []string{up}, Lookup: lk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	addr := s.udp.PacketConn.LocalAddr().String()
	tcpAddr := s.tcp.Listener.Addr().String()

	tests := []struct {
		name    string
		q       string
		qtype   uint16
		tcp     bool
		rcode   int
		answers []string
	}{
		{name: "known", q: "web.", qtype: mdns.TypeA, answers: []string{"10.9.0.2"}},
		{name: "case", q: "WEB.", qtype: mdns.TypeA, answers: []string{"10.9.0.2"}},
		{name: "two networks", q: "db.", qtype: mdns.TypeA, answers: []string{"10.9.0.3", "10.9.1.3"}},
		{name: "known AAAA is empty", q: "web.", qtype: mdns.TypeAAAA},
		{name: "forwarded", q: "example.test.", qtype: mdns.TypeA, answers: []string{"192.0.2.77"}},
		{name: "tcp", q: "web.", qtype: mdns.TypeA, tcp: true, answers: []string{"10.9.0.2"}},
		{name: "ptr", q: "2.0.9.10.in-addr.arpa.", qtype: mdns.TypePTR, answers: []string{"web."}},
		{name: "ptr unknown in subnet", q: "9.0.9.10.in-addr.arpa.", qtype: mdns.TypePTR, rcode: mdns.RcodeNameError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(mdns.Msg)
			m.SetQuestion(tt.q, tt.qtype)
			c := &mdns.Client{Timeout: 2 * time.Second}
			target := addr
			if tt.tcp {
				c.Net, target = "tcp", tcpAddr
			}
			resp, _, err := c.Exchange(m, target)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Rcode != tt.rcode {
				t.Fatalf("rcode = %d, want %d", resp.Rcode, tt.rcode)
			}
			var got []string
			for _, rr := range resp.Answer {
				switch v := rr.(type) {
				case *mdns.A:
					got = append(got, v.A.String())
				case *mdns.PTR:
					got = append(got, v.Ptr)
				}
			}
			if len(got) != len(tt.answers) {
				t.Fatalf("answers = %v, want %v", got, tt.answers)
			}
			for i := range got {
				if got[i] != tt.answers[i] {
					t.Errorf("answers = %v, want %v", got, tt.answers)
				}
			}
		})
	}
}

func TestNoUpstream(t *testing.T) {
	s, err := Start(Options{Addr: "127.0.0.1:0", Lookup: table{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	m := new(mdns.Msg)
	m.SetQuestion("elsewhere.test.", mdns.TypeA)
	resp, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, s.udp.PacketConn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("rcode = %d, want SERVFAIL", resp.Rcode)
	}
}
