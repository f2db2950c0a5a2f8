package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/integration/harness"
)

type certPair struct{ cert, key string }

// makePKI writes a CA and a server and a client certificate signed by it.
func makePKI(t *testing.T, dir string) (ca string, server, client certPair) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca = write("ca.pem", "CERTIFICATE", caDER)
	issue := func(prefix string, serial int64, usage x509.ExtKeyUsage) certPair {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: prefix},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return certPair{cert: write(prefix+"-cert.pem", "CERTIFICATE", der), key: write(prefix+"-key.pem", "EC PRIVATE KEY", kder)}
	}
	return ca, issue("server", 2, x509.ExtKeyUsageServerAuth), issue("client", 3, x509.ExtKeyUsageClientAuth)
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestTCPWithMutualTLS(t *testing.T) {
	harness.RequireRoot(t)
	pki := t.TempDir()
	ca, server, client := makePKI(t, pki)
	addr := freePort(t)
	d := harness.Start(t, harness.Options{Args: []string{
		"-H", "tcp://" + addr, "--tlsverify", "--tlscacert", ca, "--tlscert", server.cert, "--tlskey", server.key,
	}})
	// The docker CLI with the client certificate reaches the TCP socket.
	certDir := filepath.Join(pki, "clientdir")
	os.MkdirAll(certDir, 0o700)
	for src, dst := range map[string]string{ca: "ca.pem", client.cert: "cert.pem", client.key: "key.pem"} {
		data, _ := os.ReadFile(src)
		os.WriteFile(filepath.Join(certDir, dst), data, 0o600)
	}
	r := d.Docker("-H", "tcp://"+addr, "--tlsverify", "--tlscacert", ca, "--tlscert", client.cert, "--tlskey", client.key, "version", "--format", "{{.Server.APIVersion}}")
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "1.50" {
		t.Fatalf("docker over mutual TLS: %s", r)
	}
	// Without a client certificate the handshake is refused.
	r = d.Docker("-H", "tcp://"+addr, "--tls", "--tlscacert", ca, "version", "--format", "{{.Server.APIVersion}}")
	if r.ExitCode == 0 {
		t.Fatalf("TLS without a client certificate was accepted: %s", r)
	}
	// berth's own client over mutual TLS, a hijacked stream included (run
	// attaches to the container's output through the TLS connection).
	tlsArgs := []string{"-H", "tcp://" + addr, "--tlsverify", "--tlscacert", ca, "--tlscert", client.cert, "--tlskey", client.key}
	r = d.Berth(append(tlsArgs, "version", "--format", "{{.Server.APIVersion}}")...)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "1.50" {
		t.Fatalf("berth over mutual TLS: %s", r)
	}
	d.ImportBusybox()
	r = d.Berth(append(tlsArgs, "run", "--rm", "--network", "none", harness.BusyboxImage, "sh", "-c", "echo over tls; exit 4")...)
	if r.ExitCode != 4 || r.Stdout != "over tls\n" {
		t.Fatalf("berth run over mutual TLS: %s", r)
	}
	r = d.Berth("-H", "tcp://"+addr, "--tls", "--tlscacert", ca, "version", "--format", "{{.Server.APIVersion}}")
	if r.ExitCode == 0 {
		t.Fatalf("berth: TLS without a client certificate was accepted: %s", r)
	}
	// The unix socket still works alongside.
	if r = d.Docker("version", "--format", "{{.Server.APIVersion}}"); strings.TrimSpace(r.Stdout) != "1.50" {
		t.Fatalf("unix socket: %s", r)
	}
}

func TestPlainTCPNeedsExplicitFlag(t *testing.T) {
	harness.RequireRoot(t)
	addr := freePort(t)
	d := harness.New(t, harness.Options{Args: []string{"-H", "tcp://" + addr}})
	if err := d.Start(); err == nil {
		t.Fatal("berthd listened on plain TCP without --tls=false")
	}
	if !strings.Contains(d.Log(), "refusing to listen on tcp://"+addr+" without TLS") {
		t.Fatalf("message:\n%s", d.Log())
	}
	d2 := harness.New(t, harness.Options{Args: []string{"-H", "tcp://" + addr, "--tls=false"}})
	if err := d2.Start(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d2.Log(), "WITHOUT TLS") {
		t.Fatalf("no loud warning:\n%s", d2.Log())
	}
	r := d2.Docker("-H", "tcp://"+addr, "version", "--format", "{{.Server.APIVersion}}")
	if strings.TrimSpace(r.Stdout) != "1.50" {
		t.Fatalf("plain tcp: %s", r)
	}
}
