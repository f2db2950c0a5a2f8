// Package network is Berth's network service: the networks (the default
// bridge "bridge", "host", "none" and user-defined bridge networks), their
// address management, each container's sandbox (a persistent network
// namespace with one endpoint per connected network), published ports,
// isolation and the embedded DNS of user-defined networks. Kernel work is
// delegated to bridge/ (links, namespaces), portmap/ (nftables) and dns/;
// this package decides what should exist and persists it in bbolt so that
// a restarted daemon finds its networks, endpoints and addresses again.
package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	bolt "go.etcd.io/bbolt"

	bus "github.com/berth-engine/berth/internal/events"
	"github.com/berth-engine/berth/internal/network/dns"
	"github.com/berth-engine/berth/internal/network/ipam"
	"github.com/berth-engine/berth/internal/network/portmap"
)

// Names of the predefined networks and of the default bridge's interface.
const (
	DefaultBridgeName = "bridge"
	HostName          = "host"
	NoneName          = "none"
	DefaultBridgeIf   = "berth0"
	defaultMTU        = 1500
	defaultExecRoot   = "/run/berth"
)

// Config wires the service.
type Config struct {
	ExecRoot string // netns/ below it holds the containers' namespace files
	DB       *bolt.DB
	// Bip is --bip: the default bridge's gateway address and prefix.
	Bip string
	// Firewall enables nftables rules (--iptables); without it, ports are
	// not published and networks are not isolated.
	Firewall   bool
	ResolvConf string // the host's resolv.conf; /etc/resolv.conf when empty
	// DefaultBridgeIf names the default bridge's interface; berth0 when
	// empty. Tests use their own so they never touch a daemon's.
	DefaultBridgeIf string
	// Table names Berth's nftables table; derived from ExecRoot when empty.
	Table string
	// NetnsSysctls are set in every network namespace the service makes
	// for a container (Docker's defaults for a container's own namespace).
	NetnsSysctls map[string]string
	Events       *bus.Bus
	Log          *slog.Logger
}

// Containers is what the service needs to know about containers: the API's
// connect and disconnect name them by reference.
type Containers interface {
	// ResolveContainer returns a container's full ID and name.
	ResolveContainer(ref string) (id, name string, err error)
}

// Network is a network's persisted record.
type Network struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Driver     string            `json:"driver"` // bridge, host, null
	Created    time.Time         `json:"created"`
	Subnet     netip.Prefix      `json:"subnet,omitzero"`
	IPRange    netip.Prefix      `json:"ipRange,omitzero"`
	Gateway    netip.Addr        `json:"gateway,omitzero"`
	IPAMDriver string            `json:"ipamDriver,omitempty"`
	IPAMOpts   map[string]string `json:"ipamOptions,omitempty"`
	Internal   bool              `json:"internal,omitempty"`
	Attachable bool              `json:"attachable,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Bridge     string            `json:"bridge,omitempty"` // interface name
	MTU        int               `json:"mtu,omitempty"`
	ICC        bool              `json:"icc"`
	Masquerade bool              `json:"masquerade"`
	// Predefined networks (bridge, host, none) cannot be removed.
	Predefined bool `json:"predefined,omitempty"`
}

// userDefined reports whether the network gets embedded DNS, aliases and
// static addresses (docker's rule: every bridge network but the default).
func (n *Network) userDefined() bool { return n.Driver == "bridge" && !n.Predefined }

// Service manages networks and container sandboxes.
type Service struct {
	cfg   Config
	table string // Berth's nftables table

	mu         sync.RWMutex
	networks   map[string]*Network // by ID
	pools      map[string]*ipam.Pool
	sandboxes  map[string]*Sandbox // by container ID
	resolvers  map[string]*dns.Server
	containers Containers
	reserved   map[portKey]string // published host ports -> container ID
	// applied is the rule set the table holds (nil: unknown, apply it).
	// Replacing the table re-registers its hooks, which waits for an RCU
	// grace period; a container start or stop that changes no rule (no
	// published port) skips that.
	applied *portmap.Ruleset
	// drains are host veths being deleted in the background.
	drains []*drain

	dns atomic.Pointer[dnsView]
}

var (
	bucketRoot      = []byte("network")
	bucketNetworks  = []byte("networks")
	bucketSandboxes = []byte("sandboxes")
)

// New loads the stored networks and sandboxes, creates the predefined
// networks on first start, brings their bridges back, releases what
// containers that died with the host left behind, and rebuilds the
// firewall rules of the endpoints that are still alive.
func New(cfg Config) (*Service, error) {
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if cfg.DefaultBridgeIf == "" {
		cfg.DefaultBridgeIf = DefaultBridgeIf
	}
	if cfg.Table == "" {
		cfg.Table = tableName(cfg.ExecRoot)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg: cfg, table: cfg.Table,
		networks: map[string]*Network{}, pools: map[string]*ipam.Pool{},
		sandboxes: map[string]*Sandbox{}, resolvers: map[string]*dns.Server{},
		reserved: map[portKey]string{},
	}
	if err := os.MkdirAll(s.netnsDir(), 0o700); err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	if err := s.restore(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// tableName gives each daemon its own nftables table: the default
// exec-root uses "berth"; another one (a second daemon, a test) gets a
// suffix so that daemons never rewrite each other's rules.
func tableName(execRoot string) string {
	if execRoot == "" || filepath.Clean(execRoot) == defaultExecRoot {
		return portmap.DefaultTable
	}
	sum := sha256.Sum256([]byte(filepath.Clean(execRoot)))
	return portmap.DefaultTable + "-" + hex.EncodeToString(sum[:4])
}

// SetContainers wires the container lookup (the container service is
// built after this one).
func (s *Service) SetContainers(c Containers) {
	s.mu.Lock()
	s.containers = c
	s.mu.Unlock()
}

func (s *Service) netnsDir() string { return filepath.Join(s.cfg.ExecRoot, "netns") }

func (s *Service) load() error {
	return s.cfg.DB.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		nb, err := root.CreateBucketIfNotExists(bucketNetworks)
		if err != nil {
			return err
		}
		sb, err := root.CreateBucketIfNotExists(bucketSandboxes)
		if err != nil {
			return err
		}
		if err := nb.ForEach(func(k, v []byte) error {
			n := &Network{}
			if err := json.Unmarshal(v, n); err != nil {
				return fmt.Errorf("network record %s: %w", k, err)
			}
			s.networks[n.ID] = n
			return nil
		}); err != nil {
			return err
		}
		return sb.ForEach(func(k, v []byte) error {
			sbx := &Sandbox{}
			if err := json.Unmarshal(v, sbx); err != nil {
				return fmt.Errorf("sandbox record %s: %w", k, err)
			}
			s.sandboxes[sbx.ContainerID] = sbx
			return nil
		})
	})
}

func (s *Service) saveNetwork(n *Network) error {
	data, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return s.cfg.DB.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketNetworks).Put([]byte(n.ID), data)
	})
}

func (s *Service) deleteNetworkRecord(id string) error {
	return s.cfg.DB.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketNetworks).Delete([]byte(id))
	})
}

func (s *Service) saveSandbox(sb *Sandbox) error {
	data, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	return s.cfg.DB.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketSandboxes).Put([]byte(sb.ContainerID), data)
	})
}

func (s *Service) deleteSandboxRecord(id string) error {
	return s.cfg.DB.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketSandboxes).Delete([]byte(id))
	})
}

// Close stops the embedded DNS servers. Containers keep their network;
// when none is connected, the bridges and the nftables table are removed
// so that a daemon with nothing running leaves the host as it found it
// (they are recreated at the next start).
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range s.resolvers {
		r.Close()
		delete(s.resolvers, id)
	}
	s.reapDrainsLocked(true)
	for _, sb := range s.sandboxes {
		if sb.Netns != "" {
			return
		}
	}
	s.teardownLocked()
}

func (s *Service) event(n *Network, action events.Action, attrs map[string]string) {
	if s.cfg.Events == nil {
		return
	}
	a := map[string]string{"name": n.Name, "type": n.Driver}
	for k, v := range attrs {
		a[k] = v
	}
	s.cfg.Events.Publish(events.Message{Type: events.NetworkEventType, Action: action, Actor: events.Actor{ID: n.ID, Attributes: a}})
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// findLocked resolves a network by full ID, exact name, then unique ID
// prefix, like dockerd.
func (s *Service) findLocked(ref string) (*Network, error) {
	if n, ok := s.networks[ref]; ok {
		return n, nil
	}
	for _, n := range s.networks {
		if n.Name == ref {
			return n, nil
		}
	}
	var found *Network
	for id, n := range s.networks {
		if len(ref) > 0 && len(ref) <= len(id) && id[:len(ref)] == ref {
			if found != nil {
				return nil, ambiguous(ref)
			}
			found = n
		}
	}
	if found == nil {
		return nil, notFound(ref)
	}
	return found, nil
}

func (s *Service) byNameLocked(name string) *Network {
	for _, n := range s.networks {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// portKey identifies a published host port.
type portKey struct {
	IP    netip.Addr
	Port  uint16
	Proto string
}

// EndpointSettingsOf is a nil-safe accessor used by request handling.
func endpointConfig(nc *network.NetworkingConfig, name string) *network.EndpointSettings {
	if nc == nil || nc.EndpointsConfig == nil {
		return nil
	}
	return nc.EndpointsConfig[name]
}
