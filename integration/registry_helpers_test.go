package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// testRegistry is Debian's CNCF Distribution registry (docker-registry)
// on a free 127.0.0.1 port with its storage in a temp dir, optionally
// with TLS (a CA made here) and htpasswd auth. It is stopped by PID at
// cleanup, even on failure.
type testRegistry struct {
	t      *testing.T
	Addr   string // 127.0.0.1:PORT
	Dir    string
	CACert string // PEM file of the CA that signed its certificate ("" without TLS)
	tls    bool
	cmd    *exec.Cmd
	done   chan struct{}
}

type registryOptions struct {
	TLS  bool
	User string // with Password: htpasswd auth
	Pass string
}

func startRegistry(t *testing.T, opts registryOptions) *testRegistry {
	t.Helper()
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Skip("docker-registry not installed (scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	r := &testRegistry{t: t, Dir: dir, Addr: freePort(t), tls: opts.TLS}
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s/storage\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", dir, r.Addr)
	if opts.TLS {
		cert, key := r.makeCerts()
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, key)
	}
	if opts.User != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(opts.Pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(opts.User+":"+string(h)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: basic-realm\n    path: %s/htpasswd\n", dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

// Start runs the registry (again, on the same port and storage) and waits
// until /v2/ answers.
func (r *testRegistry) Start() {
	r.t.Helper()
	logf, err := os.OpenFile(filepath.Join(r.Dir, "registry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", filepath.Join(r.Dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		r.t.Fatal(err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(r.done)
	}()
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	scheme := "http"
	if r.tls {
		scheme = "https"
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := hc.Get(scheme + "://" + r.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 || resp.StatusCode == 401 {
				return
			}
		}
		select {
		case <-r.done:
			r.t.Fatalf("docker-registry exited:\n%s", r.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.t.Fatalf("docker-registry did not answer within 20s:\n%s", r.Log())
}

// Kill stops the registry process with SIGKILL, as a crash would.
func (r *testRegistry) Kill() {
	if r.cmd == nil {
		return
	}
	select {
	case <-r.done:
	default:
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

func (r *testRegistry) Log() string {
	b, _ := os.ReadFile(filepath.Join(r.Dir, "registry.log"))
	return string(b)
}

// makeCerts makes a CA and a server certificate for 127.0.0.1 signed by
// it; the CA goes to r.CACert.
func (r *testRegistry) makeCerts() (certFile, keyFile string) {
	t := r.t
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(r.Dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r.CACert = write("ca.crt", "CERTIFICATE", caDER)
	return write("server.crt", "CERTIFICATE", der), write("server.key", "EC PRIVATE KEY", keyDER)
}

// installCA puts the registry's CA where berthd looks for it:
// <certsDir>/<host:port>/ca.crt.
func (r *testRegistry) installCA(t *testing.T, certsDir string) {
	t.Helper()
	d := filepath.Join(certsDir, r.Addr)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(r.CACert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "ca.crt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// faultProxy is a reverse proxy on loopback in front of a registry that
// can corrupt one blob, or send half of it and then stall until released
// (the test kills the registry meanwhile) and cut the connection.
type faultProxy struct {
	Addr     string
	upstream string
	srv      *http.Server

	mu      sync.Mutex
	target  string // blob digest to act on
	mode    string // "corrupt", "stall"
	stalled chan struct{}
	release chan struct{}
	gets    map[string]int
}

func startFaultProxy(t *testing.T, upstream string) *faultProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{Addr: l.Addr().String(), upstream: upstream, gets: map[string]int{}}
	p.srv = &http.Server{Handler: p}
	go p.srv.Serve(l)
	t.Cleanup(func() {
		p.setFault("", "")
		p.srv.Close()
	})
	return p
}

func (p *faultProxy) setFault(mode, target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release != nil {
		select {
		case <-p.release:
		default:
			close(p.release)
		}
	}
	p.mode, p.target = mode, target
	p.stalled, p.release = make(chan struct{}), make(chan struct{})
}

func (p *faultProxy) blobGets(dgst string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gets[dgst]
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u := &url.URL{Scheme: "http", Host: p.upstream, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
	req.Header = r.Header.Clone()
	req.ContentLength = r.ContentLength
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.mu.Lock()
	mode, target, stalled, release := p.mode, p.target, p.stalled, p.release
	isBlob := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
	if isBlob {
		p.gets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
	}
	p.mu.Unlock()
	for k, v := range resp.Header {
		if k == "Location" {
			// Keep uploads and redirects going through the proxy.
			for i := range v {
				v[i] = strings.Replace(v[i], p.upstream, p.Addr, 1)
			}
		}
		w.Header()[k] = v
	}
	act := isBlob && target != "" && strings.HasSuffix(r.URL.Path, target) && resp.StatusCode == http.StatusOK
	if !act {
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	switch mode {
	case "corrupt":
		body[len(body)/2] ^= 0xff
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	case "stall":
		w.WriteHeader(resp.StatusCode)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select {
		case <-stalled:
		default:
			close(stalled)
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		panic(http.ErrAbortHandler) // cut the connection mid-blob
	}
}
