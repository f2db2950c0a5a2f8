// Package portmap programs Berth's packet filtering and NAT: published
// ports (DNAT), masquerading of containers' outbound traffic and of
// loopback clients, isolation between networks, and internal networks. All
// of it lives in one nftables table of Berth's own (family ip), rebuilt
// whole in one atomic transaction from the state the network service
// describes, so a crash can never leave half a rule set and no other
// table (another engine's, the host firewall's) is ever read or flushed.
package portmap

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// DefaultTable is the name of Berth's table.
const DefaultTable = "berth"

// Network is a bridge network as the rules see it.
type Network struct {
	Bridge     string
	Subnet     netip.Prefix
	Internal   bool // no traffic leaves the subnet
	Masquerade bool // outbound traffic is NATed to the host's address
}

// Mapping is one published port.
type Mapping struct {
	Proto         string     // "tcp" or "udp"
	HostIP        netip.Addr // unspecified (0.0.0.0) or invalid: every local address
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerPort uint16
}

// Ruleset is everything the table holds.
type Ruleset struct {
	Networks []Network
	Mappings []Mapping
}

// Sort puts the mappings in a fixed order, so that two rule sets built from
// the same state compare Equal.
func (rs *Ruleset) Sort() {
	slices.SortFunc(rs.Mappings, func(a, b Mapping) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), a.HostIP.Compare(b.HostIP), cmp.Compare(a.HostPort, b.HostPort),
			a.ContainerIP.Compare(b.ContainerIP), cmp.Compare(a.ContainerPort, b.ContainerPort))
	})
}

// Equal reports whether rs and o describe the same rules (in the same
// order: Sort both first).
func (rs *Ruleset) Equal(o Ruleset) bool {
	return slices.Equal(rs.Networks, o.Networks) && slices.Equal(rs.Mappings, o.Mappings)
}

// ipsDstNAT is IPS_DST_NAT from the kernel's conntrack status bits.
const ipsDstNAT = 1 << 5

// Apply replaces the table's content with rs in one transaction.
func Apply(table string, rs Ruleset) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	// Add-then-delete makes the delete valid whether or not the table
	// exists; the whole batch is one transaction, so readers see the old
	// rules or the new ones, never none.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)

	ports := c.AddChain(&nftables.Chain{Name: "ports", Table: t})
	accept := nftables.ChainPolicyAccept
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	in := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})

	// Only traffic addressed to the host itself is published-port
	// traffic; a container talking to port 80 of a remote host is not.
	toLocal := []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: ports.Name},
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: toLocal})
	c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: toLocal})

	for _, m := range rs.Mappings {
		if !m.ContainerIP.Is4() {
			return fmt.Errorf("mapping to %s: only IPv4 is supported", m.ContainerIP)
		}
		proto, err := protoNum(m.Proto)
		if err != nil {
			return err
		}
		var e []expr.Any
		if m.HostIP.IsValid() && !m.HostIP.IsUnspecified() {
			if !m.HostIP.Is4() {
				return fmt.Errorf("host address %s: only IPv4 is supported", m.HostIP)
			}
			e = append(e, matchAddr(16, netip.PrefixFrom(m.HostIP, 32))...)
		}
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(m.HostPort)},
			&expr.Immediate{Register: 1, Data: m.ContainerIP.AsSlice()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(m.ContainerPort)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		)
		c.AddRule(&nftables.Rule{Table: t, Chain: ports, Exprs: e})
	}

	// Forwarded traffic to a published port may cross networks: let it
	// through before the isolation rules below.
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: append(ctDNAT(), &expr.Verdict{Kind: expr.VerdictAccept})})

	for _, n := range rs.Networks {
		if !n.Subnet.Addr().Is4() {
			return fmt.Errorf("network %s: only IPv4 is supported", n.Bridge)
		}
		// Loopback clients of a port published on 127.0.0.1 reach the
		// container with a source the container can answer.
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(
			matchAddr(12, netip.MustParsePrefix("127.0.0.0/8")),
			ifname(expr.MetaKeyOIFNAME, n.Bridge, expr.CmpOpEq),
			[]expr.Any{&expr.Masq{}})})
		// Hairpin: a container reaching a published port of its own
		// network through the host gets replies through the host too.
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(
			matchAddr(12, n.Subnet),
			ifname(expr.MetaKeyOIFNAME, n.Bridge, expr.CmpOpEq),
			ctDNAT(),
			[]expr.Any{&expr.Masq{}})})
		if n.Masquerade && !n.Internal {
			c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(
				matchAddr(12, n.Subnet),
				ifname(expr.MetaKeyOIFNAME, n.Bridge, expr.CmpOpNeq),
				[]expr.Any{&expr.Masq{}})})
		}
		if n.Internal {
			// Internal networks: nothing leaves the subnet, nothing from
			// outside it comes in, and the host is reachable only on the
			// network's own gateway address.
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(
				ifname(expr.MetaKeyIIFNAME, n.Bridge, expr.CmpOpEq), matchAddrNeq(16, n.Subnet), drop())})
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(
				ifname(expr.MetaKeyOIFNAME, n.Bridge, expr.CmpOpEq), matchAddrNeq(12, n.Subnet), drop())})
			c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: concat(
				ifname(expr.MetaKeyIIFNAME, n.Bridge, expr.CmpOpEq), matchAddrNeq(16, n.Subnet), drop())})
		}
		// Isolation: no forwarding from this network into another one.
		for _, o := range rs.Networks {
			if o.Bridge == n.Bridge {
				continue
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(
				ifname(expr.MetaKeyIIFNAME, n.Bridge, expr.CmpOpEq),
				ifname(expr.MetaKeyOIFNAME, o.Bridge, expr.CmpOpEq), drop())})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", table, err)
	}
	return nil
}

// Delete removes the table; a missing table is not an error.
func Delete(table string) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	return c.Flush()
}

// Exists reports whether the table is present.
func Exists(table string) bool {
	c, err := nftables.New()
	if err != nil {
		return false
	}
	_, err = c.ListTableOfFamily(table, nftables.TableFamilyIPv4)
	return err == nil
}

// RuleCount counts the rules of one chain (for tests and diagnostics).
func RuleCount(table, chain string) (int, error) {
	c, err := nftables.New()
	if err != nil {
		return 0, err
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	rules, err := c.GetRules(t, &nftables.Chain{Name: chain, Table: t})
	return len(rules), err
}

func protoNum(p string) (byte, error) {
	switch strings.ToLower(p) {
	case "tcp", "":
		return unix.IPPROTO_TCP, nil
	case "udp":
		return unix.IPPROTO_UDP, nil
	case "sctp":
		return unix.IPPROTO_SCTP, nil
	}
	return 0, errors.New("unsupported protocol " + p)
}

// matchAddr matches the IPv4 header's address at offset (12 source, 16
// destination) against p.
func matchAddr(offset uint32, p netip.Prefix) []expr.Any {
	return addrExprs(offset, p, expr.CmpOpEq)
}

func matchAddrNeq(offset uint32, p netip.Prefix) []expr.Any {
	return addrExprs(offset, p, expr.CmpOpNeq)
}

func addrExprs(offset uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

func ifname(key expr.MetaKey, name string, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte(name + "\x00")},
	}
}

func ctDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func drop() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
