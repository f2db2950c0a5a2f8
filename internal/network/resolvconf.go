package network

import (
	"bufio"
	"bytes"
	"os"
	"strings"
)

// ResolvConf is what Berth reads from a resolv.conf.
type ResolvConf struct {
	Nameservers []string
	Search      []string
	Options     []string
}

// ReadResolvConf parses path; a missing or unreadable file is empty.
func ReadResolvConf(path string) ResolvConf {
	var rc ResolvConf
	data, err := os.ReadFile(path)
	if err != nil {
		return rc
	}
	return ParseResolvConf(data)
}

// ParseResolvConf parses resolv.conf content; the last search or domain
// line wins, as in the libc resolver.
func ParseResolvConf(data []byte) ResolvConf {
	var rc ResolvConf
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			rc.Nameservers = append(rc.Nameservers, f[1])
		case "search", "domain":
			rc.Search = f[1:]
		case "options":
			rc.Options = append(rc.Options, f[1:]...)
		}
	}
	return rc
}
