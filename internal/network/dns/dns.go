// Package dns is the embedded DNS server of user-defined networks: one
// resolver per container, listening on 127.0.0.11:53 inside the
// container's network namespace but served by the daemon. Names the
// network service knows (container names, aliases) are answered from its
// table; everything else is forwarded, from the host's namespace, to the
// upstream resolvers.
package dns

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/berth-engine/berth/internal/network/bridge"
)

// Address is where containers find the resolver.
const Address = "127.0.0.11"

// Lookup answers for the container a server belongs to. Known reports that
// the name is Berth's to answer (so an empty answer is final and the name
// is never forwarded).
type Lookup interface {
	LookupA(name string) (addrs []netip.Addr, known bool)
	// LookupPTR returns the name of addr; known is true for any address
	// in the container's networks, found or not.
	LookupPTR(addr netip.Addr) (name string, known bool)
}

// Server is one container's resolver.
type Server struct {
	lookup    Lookup
	upstreams []string // host:port
	ttl       uint32
	udp, tcp  *mdns.Server
	wg        sync.WaitGroup
}

// Options configure a server.
type Options struct {
	Netns     string   // namespace file to listen in; "" listens in the caller's namespace (tests)
	Addr      string   // listen address; Address:53 when empty
	Upstreams []string // "ip" or "ip:port" of resolvers to forward to
	Lookup    Lookup
}

// Start listens (UDP and TCP) inside the namespace and serves until Close.
func Start(o Options) (*Server, error) {
	addr := o.Addr
	if addr == "" {
		addr = net.JoinHostPort(Address, "53")
	}
	pc, l, err := listenIn(o.Netns, addr)
	if err != nil {
		return nil, err
	}
	s := &Server{lookup: o.Lookup, ttl: 600}
	for _, u := range o.Upstreams {
		if _, _, err := net.SplitHostPort(u); err != nil {
			u = net.JoinHostPort(u, "53")
		}
		s.upstreams = append(s.upstreams, u)
	}
	// Shutdown refuses a server that has not started yet, which would
	// leave Close waiting forever: Start returns only once both serve.
	var started sync.WaitGroup
	started.Add(2)
	s.udp = &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(s.serve), NotifyStartedFunc: started.Done}
	s.tcp = &mdns.Server{Listener: l, Handler: mdns.HandlerFunc(s.serve), NotifyStartedFunc: started.Done}
	for _, srv := range []*mdns.Server{s.udp, s.tcp} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = srv.ActivateAndServe()
		}()
	}
	started.Wait()
	return s, nil
}

// Close stops serving and closes the sockets.
func (s *Server) Close() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
	s.wg.Wait()
}

// listenIn opens the sockets inside the namespace at path. A socket keeps
// the namespace it was created in, so only the creation needs the thread
// switched; serving and forwarding run on ordinary goroutines, and
// forwarded queries leave from the host's namespace.
func listenIn(path, addr string) (net.PacketConn, net.Listener, error) {
	if path == "" {
		return listen(addr)
	}
	var (
		pc net.PacketConn
		l  net.Listener
	)
	err := bridge.InNetns(path, func() (err error) {
		pc, l, err = listen(addr)
		return err
	})
	if err != nil {
		if pc != nil {
			// Listening worked but the thread could not return.
			pc.Close()
			l.Close()
		}
		return nil, nil, err
	}
	return pc, l, nil
}

func listen(addr string) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded DNS: %w", err)
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		pc.Close()
		return nil, nil, fmt.Errorf("embedded DNS: %w", err)
	}
	return pc, l, nil
}

func (s *Server) serve(w mdns.ResponseWriter, req *mdns.Msg) {
	if len(req.Question) != 1 {
		resp := new(mdns.Msg)
		resp.SetRcode(req, mdns.RcodeFormatError)
		_ = w.WriteMsg(resp)
		return
	}
	q := req.Question[0]
	if resp := s.answer(req, q); resp != nil {
		_ = w.WriteMsg(resp)
		return
	}
	_, isTCP := w.RemoteAddr().(*net.TCPAddr)
	_ = w.WriteMsg(s.forward(req, isTCP))
}

// answer resolves q locally, or returns nil when it is not Berth's name.
func (s *Server) answer(req *mdns.Msg, q mdns.Question) *mdns.Msg {
	resp := new(mdns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	resp.RecursionAvailable = true
	switch q.Qtype {
	case mdns.TypeA, mdns.TypeAAAA, mdns.TypeANY:
		name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
		addrs, known := s.lookup.LookupA(name)
		if !known {
			return nil
		}
		if q.Qtype == mdns.TypeAAAA {
			return resp // the name exists, IPv4 only: NOERROR, no data
		}
		for _, a := range addrs {
			resp.Answer = append(resp.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: s.ttl},
				A:   a.AsSlice(),
			})
		}
		return resp
	case mdns.TypePTR:
		addr, ok := ptrAddr(q.Name)
		if !ok {
			return nil
		}
		name, known := s.lookup.LookupPTR(addr)
		if !known {
			return nil
		}
		if name == "" {
			resp.SetRcode(req, mdns.RcodeNameError)
			resp.Authoritative = true
			return resp
		}
		resp.Answer = append(resp.Answer, &mdns.PTR{
			Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: s.ttl},
			Ptr: mdns.Fqdn(name),
		})
		return resp
	}
	return nil
}

// forward asks the upstreams in turn; a truncated UDP answer is retried
// over TCP. With no upstream answering the client gets SERVFAIL.
func (s *Server) forward(req *mdns.Msg, isTCP bool) *mdns.Msg {
	for _, u := range s.upstreams {
		proto := "udp"
		if isTCP {
			proto = "tcp"
		}
		c := &mdns.Client{Net: proto, Timeout: 3 * time.Second}
		resp, _, err := c.Exchange(req, u)
		if err == nil && resp.Truncated && proto == "udp" {
			c.Net = "tcp"
			resp, _, err = c.Exchange(req, u)
		}
		if err == nil {
			return resp
		}
	}
	resp := new(mdns.Msg)
	resp.SetRcode(req, mdns.RcodeServerFailure)
	return resp
}

// ptrAddr parses an in-addr.arpa name.
func ptrAddr(name string) (netip.Addr, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0])
	return a, err == nil
}
