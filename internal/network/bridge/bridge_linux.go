// Package bridge is the kernel side of Berth's bridge networks: Linux
// bridges, veth pairs between a bridge and a container's network
// namespace, persistent namespace files, and the sysctls that routing to
// containers needs. It holds no state; the network service decides.
package bridge

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Bridge describes a bridge interface and the gateway address it holds.
type Bridge struct {
	Name    string
	Gateway netip.Prefix // gateway address with the subnet's prefix length
	MTU     int
}

// Ensure creates the bridge if missing, gives it the gateway address (and
// drops any other IPv4 address a previous configuration left), and brings
// it up. Loopback-bound published ports need route_localnet on it.
func Ensure(b Bridge) error {
	link, err := netlink.LinkByName(b.Name)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		attrs := netlink.NewLinkAttrs()
		attrs.Name = b.Name
		if b.MTU > 0 {
			attrs.MTU = b.MTU
		}
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return fmt.Errorf("create bridge %s: %w", b.Name, err)
		}
		if link, err = netlink.LinkByName(b.Name); err != nil {
			return err
		}
	case err != nil:
		return err
	case link.Type() != "bridge":
		return fmt.Errorf("interface %s exists and is not a bridge", b.Name)
	}
	if b.MTU > 0 && link.Attrs().MTU != b.MTU {
		if err := netlink.LinkSetMTU(link, b.MTU); err != nil {
			return err
		}
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	have := false
	for _, a := range addrs {
		if prefixOf(a.IPNet) == b.Gateway {
			have = true
			continue
		}
		_ = netlink.AddrDel(link, &a)
	}
	if !have {
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(b.Gateway)}); err != nil {
			return fmt.Errorf("address %s on %s: %w", b.Gateway, b.Name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	return SetSysctl("net/ipv4/conf/"+b.Name+"/route_localnet", "1")
}

// Delete removes the bridge; a missing one is not an error.
func Delete(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return err
	}
	return netlink.LinkDel(link)
}

// Exists reports whether an interface of that name exists.
func Exists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// Endpoint is one container interface on a bridge.
type Endpoint struct {
	Bridge   string
	HostVeth string // the host end, attached to the bridge
	Netns    string // path of the container's namespace file
	IfName   string // name inside the container: eth0, eth1…
	Addr     netip.Prefix
	MAC      net.HardwareAddr
	Gateway  netip.Addr // default route; zero for none (internal networks, extra interfaces)
	MTU      int
	Isolated bool // bridge port isolation: no traffic to other isolated ports (ICC off)
}

// Attach creates a veth pair whose container end is born inside the
// namespace with its final name (no clash with the host's eth0), addresses
// it, and plugs the host end into the bridge.
func Attach(ep Endpoint) (retErr error) {
	br, err := netlink.LinkByName(ep.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", ep.Bridge, err)
	}
	ns, err := netns.GetFromPath(ep.Netns)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", ep.Netns, err)
	}
	defer ns.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = ep.HostVeth
	attrs.MasterIndex = br.Attrs().Index
	if ep.MTU > 0 {
		attrs.MTU = ep.MTU
	}
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: ep.IfName, PeerHardwareAddr: ep.MAC, PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
	}
	defer func() {
		if retErr != nil {
			_ = DeleteLink(ep.HostVeth)
		}
	}()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	inner, err := h.LinkByName(ep.IfName)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(inner, &netlink.Addr{IPNet: ipNet(ep.Addr)}); err != nil {
		return fmt.Errorf("address %s: %w", ep.Addr, err)
	}
	if err := h.LinkSetUp(inner); err != nil {
		return err
	}
	if ep.Gateway.IsValid() {
		route := &netlink.Route{LinkIndex: inner.Attrs().Index, Gw: ep.Gateway.AsSlice(), Scope: netlink.SCOPE_UNIVERSE}
		if err := h.RouteAdd(route); err != nil {
			return fmt.Errorf("default route via %s: %w", ep.Gateway, err)
		}
	}
	host, err := netlink.LinkByName(ep.HostVeth)
	if err != nil {
		return err
	}
	// Hairpin lets a container reach its own published port through the
	// host's address: the DNAT'd packet goes back out the port it came in.
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return err
	}
	if ep.Isolated {
		if err := netlink.LinkSetIsolated(host, true); err != nil {
			return err
		}
	}
	return netlink.LinkSetUp(host)
}

// DeleteLink removes an interface from the host namespace (a veth takes
// its peer with it); a missing one is not an error.
func DeleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return err
	}
	return netlink.LinkDel(link)
}

// Links lists the host's interface names that start with prefix, for
// clean-up of what a crash left.
func Links(prefix string) []string {
	links, err := netlink.LinkList()
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, prefix) {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// LinkMaster returns the name of the bridge an interface is plugged into.
func LinkMaster(name string) string {
	l, err := netlink.LinkByName(name)
	if err != nil || l.Attrs().MasterIndex == 0 {
		return ""
	}
	m, err := netlink.LinkByIndex(l.Attrs().MasterIndex)
	if err != nil {
		return ""
	}
	return m.Attrs().Name
}

// RoutedSubnets lists the IPv4 destinations routed on the host, except
// default routes and routes through the interfaces in skip (Berth's own
// bridges), so new networks avoid what another engine or the LAN uses.
func RoutedSubnets(skip map[string]bool) []netip.Prefix {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		p := prefixOf(r.Dst)
		if p.Bits() == 0 {
			continue
		}
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && skip[l.Attrs().Name] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// CreateNetns makes a new network namespace and keeps it alive with a bind
// mount on path, as `ip netns add` does, so the namespace outlives the
// container's processes and a restarted daemon can find it. Loopback is
// brought up inside, and sysctls (names as "net.ipv4.x") are set there.
func CreateNetns(path string, sysctls map[string]string) (retErr error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	defer func() {
		if retErr != nil {
			_ = os.Remove(path)
		}
	}()
	errc := make(chan error, 1)
	// A dedicated thread: it switches namespace, and if it cannot switch
	// back it must die with its goroutine instead of serving other code.
	go func() {
		runtime.LockOSThread()
		origin, err := netns.Get()
		if err != nil {
			errc <- err
			runtime.UnlockOSThread()
			return
		}
		defer origin.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare network namespace: %w", err)
			runtime.UnlockOSThread()
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		mountErr := unix.Mount(src, path, "none", unix.MS_BIND, "")
		// /proc/sys/net is the namespace of the thread that opens it.
		for k, v := range sysctls {
			if mountErr != nil {
				break
			}
			if err := os.WriteFile(filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/")), []byte(v), 0); err != nil {
				mountErr = fmt.Errorf("sysctl %s: %w", k, err)
			}
		}
		if err := netns.Set(origin); err != nil {
			errc <- errors.Join(mountErr, fmt.Errorf("return to the host namespace: %w", err))
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		errc <- mountErr
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("create network namespace %s: %w", path, err)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		_ = DeleteNetns(path)
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		_ = DeleteNetns(path)
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		_ = DeleteNetns(path)
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

// InNetns runs fn on a thread inside the network namespace at path (what
// fn opens, binds or reads under /proc/sys/net is that namespace's) and
// returns fn's error. A thread that cannot return to the daemon's namespace
// is not reused: it dies with its goroutine.
func InNetns(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		origin, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer origin.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(origin); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("return to the host namespace: %w", err))
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// DeleteNetns unmounts and removes a namespace file; the namespace goes
// away once nothing else holds it. A missing file is not an error.
func DeleteNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// NetnsAlive reports whether path is a mounted namespace file.
func NetnsAlive(path string) bool {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return false
	}
	defer ns.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(ns), &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// DeleteInNetns removes interface name inside the namespace at path
// (disconnecting a running container from one network).
func DeleteInNetns(path, name string) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return nil
	}
	return h.LinkDel(l)
}

// SetSysctl writes value to /proc/sys/<key> when it differs.
func SetSysctl(key, value string) error {
	p := filepath.Join("/proc/sys", key)
	if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	return os.WriteFile(p, []byte(value), 0o644)
}

// MACFor derives a MAC from an IPv4 address as dockerd does (02:42 and the
// four address bytes): an address reused later gets the same MAC, so stale
// ARP entries on peers stay right.
func MACFor(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}

func prefixOf(n *net.IPNet) netip.Prefix {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}
