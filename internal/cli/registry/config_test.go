package registry

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
)

func TestStoreGetErase(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	// Keys berth does not know survive a rewrite.
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"psFormat":"table {{.ID}}","auths":{"other:1":{"auth":"eDp5"}}}`), 0o600)
	if err := Store("127.0.0.1:5000", registry.AuthConfig{Username: "u", Password: "p:w"}); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	json.Unmarshal(data, &raw)
	auths := raw["auths"].(map[string]any)
	if raw["psFormat"] != "table {{.ID}}" || auths["other:1"] == nil {
		t.Fatalf("config.json lost keys: %s", data)
	}
	if got := auths["127.0.0.1:5000"].(map[string]any)["auth"]; got != base64.StdEncoding.EncodeToString([]byte("u:p:w")) {
		t.Fatalf("auth = %v", got)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "config.json")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	ac, ok, err := Get("https://127.0.0.1:5000")
	if err != nil || !ok || ac.Username != "u" || ac.Password != "p:w" {
		t.Fatalf("Get = %+v %v %v", ac, ok, err)
	}
	enc := EncodedAuth("127.0.0.1:5000/a/b:1")
	dec, err := authconfig.Decode(enc)
	if err != nil || dec.Username != "u" || dec.ServerAddress != "127.0.0.1:5000" {
		t.Fatalf("EncodedAuth = %q → %+v %v", enc, dec, err)
	}
	if EncodedAuth("busybox") != "" {
		t.Fatal("credentials for Docker Hub out of nowhere")
	}
	if found, err := Erase("127.0.0.1:5000"); !found || err != nil {
		t.Fatalf("Erase = %v %v", found, err)
	}
	if _, ok, _ := Get("127.0.0.1:5000"); ok {
		t.Fatal("still logged in after Erase")
	}
	if found, _ := Erase("127.0.0.1:5000"); found {
		t.Fatal("Erase twice found credentials")
	}
}

// TestCredentialHelper runs a fake docker-credential-test that keeps its
// secrets in a file.
func TestCredentialHelper(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	store := filepath.Join(dir, "store")
	script := `#!/bin/sh
case "$1" in
store) cat > ` + store + ` ;;
get) read url; if [ -f ` + store + ` ]; then cat ` + store + `; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) rm -f ` + store + ` ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-test"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credHelpers":{"reg.example.com":"test"}}`), 0o600)
	if _, ok, err := Get("reg.example.com"); ok || err != nil {
		t.Fatalf("Get before store = %v %v", ok, err)
	}
	if err := Store("reg.example.com", registry.AuthConfig{Username: "u", Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if strings.Contains(string(data), "secret") || strings.Contains(string(data), base64.StdEncoding.EncodeToString([]byte("u:secret"))) {
		t.Fatalf("the secret went to config.json: %s", data)
	}
	ac, ok, err := Get("reg.example.com")
	if err != nil || !ok || ac.Username != "u" || ac.Password != "secret" {
		t.Fatalf("Get = %+v %v %v", ac, ok, err)
	}
	if found, err := Erase("reg.example.com"); !found || err != nil {
		t.Fatalf("Erase = %v %v", found, err)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatal("helper erase not run")
	}
}
