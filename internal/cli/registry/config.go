// Package registry holds `berth login` and `berth logout`, and the
// credentials store they share with the docker CLI: config.json under
// $DOCKER_CONFIG (or ~/.docker), its "auths" section, and credential
// helpers (docker-credential-<name>) when "credsStore" or "credHelpers"
// name one. Pull and push read credentials through EncodedAuth.
package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-engine/berth/internal/cli/imgref"
)

// IndexServer is the key docker stores Docker Hub credentials under.
const IndexServer = "https://index.docker.io/v1/"

// ConfigDir is $DOCKER_CONFIG, else ~/.docker.
func ConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".docker"
	}
	return filepath.Join(home, ".docker")
}

// configFile is config.json, kept as raw JSON so that keys Berth does not
// know (psFormat, proxies, plugins…) survive a rewrite.
type configFile struct {
	path string
	raw  map[string]json.RawMessage
}

type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

func loadConfig() (*configFile, error) {
	c := &configFile{path: filepath.Join(ConfigDir(), "config.json"), raw: map[string]json.RawMessage{}}
	data, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(data, &c.raw); err != nil {
		return nil, fmt.Errorf("loading config file %s: %w", c.path, err)
	}
	return c, nil
}

func (c *configFile) auths() map[string]authEntry {
	m := map[string]authEntry{}
	_ = json.Unmarshal(c.raw["auths"], &m)
	return m
}

func (c *configFile) setAuths(m map[string]authEntry) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.raw["auths"] = data
	return nil
}

// helper names the credential helper for server, "" for the file itself.
func (c *configFile) helper(server string) string {
	var helpers map[string]string
	_ = json.Unmarshal(c.raw["credHelpers"], &helpers)
	if h := helpers[hostOf(server)]; h != "" {
		return h
	}
	if h := helpers[server]; h != "" {
		return h
	}
	var store string
	_ = json.Unmarshal(c.raw["credsStore"], &store)
	return store
}

// save writes config.json through a temp file and rename, 0600.
func (c *configFile) save() error {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c.raw, "", "\t")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".config.json-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Keep a symlinked config.json (dotfile managers) a symlink.
	target := c.path
	if p, err := filepath.EvalSymlinks(c.path); err == nil {
		target = p
	}
	return os.Rename(tmp.Name(), target)
}

// Get returns the stored credentials for server (a registry host or
// Docker Hub's IndexServer); ok is false when there are none.
func Get(server string) (registry.AuthConfig, bool, error) {
	c, err := loadConfig()
	if err != nil {
		return registry.AuthConfig{}, false, err
	}
	if h := c.helper(server); h != "" {
		return helperGet(h, server)
	}
	auths := c.auths()
	for _, k := range keysFor(server) {
		e, ok := auths[k]
		if !ok {
			continue
		}
		ac := registry.AuthConfig{ServerAddress: k, IdentityToken: e.IdentityToken}
		if e.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return ac, false, fmt.Errorf("invalid auth for %s in %s: %w", k, c.path, err)
			}
			ac.Username, ac.Password, _ = strings.Cut(string(dec), ":")
		}
		return ac, true, nil
	}
	return registry.AuthConfig{}, false, nil
}

// Store saves credentials for server, in its helper if one is configured.
func Store(server string, ac registry.AuthConfig) error {
	c, err := loadConfig()
	if err != nil {
		return err
	}
	auths := c.auths()
	if h := c.helper(server); h != "" {
		secret := ac.Password
		user := ac.Username
		if ac.IdentityToken != "" {
			user, secret = "<token>", ac.IdentityToken
		}
		if err := helperStore(h, server, user, secret); err != nil {
			return err
		}
		// docker keeps an empty entry so `docker info` lists the server.
		auths[server] = authEntry{}
	} else {
		e := authEntry{IdentityToken: ac.IdentityToken}
		if ac.IdentityToken == "" {
			e.Auth = base64.StdEncoding.EncodeToString([]byte(ac.Username + ":" + ac.Password))
		}
		auths[server] = e
	}
	if err := c.setAuths(auths); err != nil {
		return err
	}
	return c.save()
}

// Erase removes the credentials for server; found is false when there
// were none.
func Erase(server string) (found bool, err error) {
	c, err := loadConfig()
	if err != nil {
		return false, err
	}
	auths := c.auths()
	if h := c.helper(server); h != "" {
		if err := helperErase(h, server); err == nil {
			found = true
		}
	}
	for _, k := range keysFor(server) {
		if _, ok := auths[k]; ok {
			delete(auths, k)
			found = true
		}
	}
	if !found {
		return false, nil
	}
	if err := c.setAuths(auths); err != nil {
		return false, err
	}
	return true, c.save()
}

// keysFor are the config.json keys credentials for server may be under.
func keysFor(server string) []string {
	h := hostOf(server)
	if h == "docker.io" {
		return []string{IndexServer, "docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1"}
	}
	return []string{server, h, "https://" + h, "http://" + h, "https://" + h + "/v2/", "http://" + h + "/v2/", "https://" + h + "/v1/"}
}

// hostOf reduces a server address to its host[:port]; Docker Hub's
// addresses become "docker.io".
func hostOf(server string) string {
	s := server
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "", "index.docker.io", "registry-1.docker.io", "docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return s
}

// ServerFor is the credentials key for an image reference's registry.
func ServerFor(ref string) string {
	named, err := imgref.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	if d := imgref.Domain(named); d != "docker.io" {
		return d
	}
	return IndexServer
}

// EncodedAuth is the X-Registry-Auth value for ref's registry from the
// stored credentials, or "" when there are none.
func EncodedAuth(ref string) string {
	server := ServerFor(ref)
	if server == "" {
		return ""
	}
	ac, ok, err := Get(server)
	if err != nil || !ok {
		return ""
	}
	ac.ServerAddress = server
	enc, err := authconfig.Encode(ac)
	if err != nil {
		return ""
	}
	return enc
}

// Credential helpers: docker-credential-<name> get|store|erase, with the
// server URL or a JSON record on stdin, as docker-credential-helpers
// defines.

type helperCreds struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

func runHelper(name, action string, in []byte) ([]byte, error) {
	cmd := exec.Command("docker-credential-"+name, action)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String() + errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("error %s credentials - err: %v, out: `%s`", map[string]string{"get": "getting", "store": "storing", "erase": "erasing"}[action], err, msg)
	}
	return out.Bytes(), nil
}

func helperGet(name, server string) (registry.AuthConfig, bool, error) {
	out, err := runHelper(name, "get", []byte(server))
	if err != nil {
		if strings.Contains(err.Error(), "credentials not found") {
			return registry.AuthConfig{}, false, nil
		}
		return registry.AuthConfig{}, false, err
	}
	var c helperCreds
	if err := json.Unmarshal(out, &c); err != nil {
		return registry.AuthConfig{}, false, fmt.Errorf("credential helper %s: %w", name, err)
	}
	ac := registry.AuthConfig{ServerAddress: server, Username: c.Username, Password: c.Secret}
	if c.Username == "<token>" {
		ac = registry.AuthConfig{ServerAddress: server, IdentityToken: c.Secret}
	}
	return ac, true, nil
}

func helperStore(name, server, user, secret string) error {
	in, _ := json.Marshal(helperCreds{ServerURL: server, Username: user, Secret: secret})
	_, err := runHelper(name, "store", in)
	return err
}

func helperErase(name, server string) error {
	_, err := runHelper(name, "erase", []byte(server))
	return err
}
