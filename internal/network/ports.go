package network

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Ephemeral host ports come from the kernel's default local port range,
// as with dockerd.
const (
	ephemeralFirst = 32768
	ephemeralLast  = 60999
)

// publishLocked maps a starting container's ports (-p and, with -P, every
// exposed port) to its address on its first non-internal network.
func (s *Service) publishLocked(sb *Sandbox) error {
	var target *Endpoint
	var hostDefault netip.Addr
	for _, a := range sb.Attachments {
		ep := sb.Endpoints[a.NetworkID]
		n := s.networks[a.NetworkID]
		if ep != nil && n != nil && !n.Internal {
			target = ep
			if v, ok := n.Options[optHostBindV4]; ok {
				hostDefault, _ = netip.ParseAddr(v)
			}
			break
		}
	}
	if target == nil {
		return nil
	}
	if !hostDefault.IsValid() {
		hostDefault = netip.IPv4Unspecified()
	}
	type req struct {
		port network.Port
		b    network.PortBinding
	}
	var reqs []req
	for _, p := range sb.Exposed {
		bindings, ok := sb.Bindings[p]
		if ok && len(bindings) > 0 {
			for _, b := range bindings {
				reqs = append(reqs, req{p, b})
			}
			continue
		}
		if sb.PublishAll {
			reqs = append(reqs, req{p, network.PortBinding{}})
		}
	}
	for _, r := range reqs {
		hostIP := r.b.HostIP
		if !hostIP.IsValid() {
			hostIP = hostDefault
		}
		if hostIP.Is6() {
			if hostIP.IsUnspecified() {
				continue // IPv6 publishing is not supported; [::] is skipped
			}
			return errdefs.InvalidParameterf("publishing on IPv6 address %s is not supported", hostIP)
		}
		proto := string(r.port.Proto())
		port, err := s.pickHostPort(sb.ContainerID, hostIP, proto, r.b.HostPort)
		if err != nil {
			return err
		}
		sb.Ports = append(sb.Ports, PortMapping{Proto: proto, HostIP: hostIP, HostPort: port, ContainerPort: r.port.Num(), ContainerIP: target.IP})
	}
	return nil
}

// pickHostPort reserves a host port: the one asked for, the first free one
// of a range, or an ephemeral one. A port is free when no container has it
// on an overlapping address and the host can bind it.
func (s *Service) pickHostPort(owner string, ip netip.Addr, proto, spec string) (uint16, error) {
	first, last := uint16(0), uint16(0)
	switch {
	case spec == "":
		first, last = ephemeralFirst, ephemeralLast
	default:
		lo, hi, isRange := strings.Cut(spec, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return 0, errdefs.InvalidParameterf("invalid host port %q", spec)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return 0, errdefs.InvalidParameterf("invalid host port range %q", spec)
			}
		}
		first, last = uint16(a), uint16(b)
	}
	if first == 0 {
		first, last = ephemeralFirst, ephemeralLast
	}
	var lastErr error
	for p := uint32(first); p <= uint32(last); p++ {
		port := uint16(p)
		if s.portTakenLocked(ip, port, proto) {
			lastErr = errdefs.Conflictf("Bind for %s failed: port is already allocated", net.JoinHostPort(ip.String(), strconv.Itoa(int(port))))
			continue
		}
		if err := probeBind(ip, port, proto); err != nil {
			lastErr = errdefs.Conflictf("failed to bind host port %s/%s: address already in use", net.JoinHostPort(ip.String(), strconv.Itoa(int(port))), proto)
			continue
		}
		s.reserved[portKey{IP: ip, Port: port, Proto: proto}] = owner
		return port, nil
	}
	if lastErr == nil || spec == "" {
		return 0, errdefs.Unavailablef("no free host port for %s/%s", ip, proto)
	}
	return 0, lastErr
}

// portTakenLocked reports a clash with a published port: same port and
// protocol on the same address, or either side bound to every address.
func (s *Service) portTakenLocked(ip netip.Addr, port uint16, proto string) bool {
	for k := range s.reserved {
		if k.Port == port && k.Proto == proto && (k.IP == ip || k.IP.IsUnspecified() || ip.IsUnspecified()) {
			return true
		}
	}
	return false
}

// probeBind checks that no host process holds the port. NAT would steal
// its traffic silently otherwise; dockerd refuses such a port too.
func probeBind(ip netip.Addr, port uint16, proto string) error {
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
	switch proto {
	case "udp":
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return err
		}
		return c.Close()
	case "sctp":
		return nil
	default:
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			return err
		}
		return l.Close()
	}
}

func (s *Service) releasePortsLocked(sb *Sandbox) {
	for k, owner := range s.reserved {
		if owner == sb.ContainerID {
			delete(s.reserved, k)
		}
	}
}

// reservePortsLocked replays a live sandbox's ports after a restart.
func (s *Service) reservePortsLocked(sb *Sandbox) {
	for _, m := range sb.Ports {
		s.reserved[portKey{IP: m.HostIP, Port: m.HostPort, Proto: m.Proto}] = sb.ContainerID
	}
}

// String renders a mapping like docker port does.
func (m PortMapping) String() string {
	return fmt.Sprintf("%d/%s -> %s", m.ContainerPort, m.Proto, net.JoinHostPort(m.HostIP.String(), strconv.Itoa(int(m.HostPort))))
}
