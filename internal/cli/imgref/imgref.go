// Package imgref parses image references the way the docker CLI does
// ("ubuntu" → "docker.io/library/ubuntu", "ubuntu:22.04", "ghcr.io/o/r@sha256:…"),
// with the same results and error texts as github.com/distribution/reference
// v0.6.0 for the parts the berth CLI uses.
//
// It is a hand-written scanner: there are no regular expressions and no
// package-level work at start-up, which matters for a CLI that is started
// once per command.
package imgref

import (
	"errors"
	"strings"
)

// pathMaxLength is the longest repository path (the name without its
// domain) that is accepted.
const pathMaxLength = 255

const (
	defaultDomain = "docker.io"
	legacyDomain  = "index.docker.io"
	officialRepo  = "library/"
	defaultTag    = "latest"
	localhostName = "localhost"
)

// Errors with the texts docker prints. ParseNormalizedNamed reports a bad
// tag or digest syntax as ErrReferenceInvalidFormat, as docker does;
// ErrTagInvalidFormat and ErrDigestInvalidFormat are for callers that check
// a tag or a digest on its own.
var (
	ErrReferenceInvalidFormat = errors.New("invalid reference format")
	ErrTagInvalidFormat       = errors.New("invalid tag format")
	ErrDigestInvalidFormat    = errors.New("invalid digest format")
	ErrNameContainsUppercase  = errors.New("repository name must be lowercase")
	ErrNameEmpty              = errors.New("repository name must have at least one component")
	ErrNameTooLong            = errors.New("repository name must not be more than 255 characters")
)

// Errors of the digest check (texts of github.com/opencontainers/go-digest).
var (
	errChecksumFormat    = errors.New("invalid checksum digest format")
	errChecksumLength    = errors.New("invalid checksum digest length")
	errDigestUnsupported = errors.New("unsupported digest algorithm")
)

// Digest is a content digest such as "sha256:0123…".
type Digest string

// String returns the digest as written.
func (d Digest) String() string { return string(d) }

// Reference is any parsed reference.
type Reference interface {
	String() string
}

// Named is a reference with a repository name.
type Named interface {
	Reference
	Name() string
}

// Tagged is a reference with a tag.
type Tagged interface {
	Reference
	Tag() string
}

// NamedTagged is a named reference with a tag.
type NamedTagged interface {
	Named
	Tag() string
}

// Canonical is a named reference with a digest.
type Canonical interface {
	Named
	Digest() Digest
}

// domainPather is implemented by every Named this package returns.
type domainPather interface {
	Named
	Domain() string
	Path() string
}

// familiarizer is implemented by every Named this package returns.
type familiarizer interface {
	familiar() Named
}

// repo is a bare repository name.
type repo struct {
	domain, path string
}

func (r repo) Name() string {
	if r.domain == "" {
		return r.path
	}
	return r.domain + "/" + r.path
}
func (r repo) String() string  { return r.Name() }
func (r repo) Domain() string  { return r.domain }
func (r repo) Path() string    { return r.path }
func (r repo) familiar() Named { return shorten(r) }

// tagged is name:tag.
type tagged struct {
	repo
	tag string
}

func (t tagged) String() string  { return t.Name() + ":" + t.tag }
func (t tagged) Tag() string     { return t.tag }
func (t tagged) familiar() Named { return tagged{repo: shorten(t.repo), tag: t.tag} }

// digested is name@digest.
type digested struct {
	repo
	digest Digest
}

func (d digested) String() string  { return d.Name() + "@" + string(d.digest) }
func (d digested) Digest() Digest  { return d.digest }
func (d digested) familiar() Named { return digested{repo: shorten(d.repo), digest: d.digest} }

// full is name:tag@digest.
type full struct {
	repo
	tag    string
	digest Digest
}

func (f full) String() string  { return f.Name() + ":" + f.tag + "@" + string(f.digest) }
func (f full) Tag() string     { return f.tag }
func (f full) Digest() Digest  { return f.digest }
func (f full) familiar() Named { return full{repo: shorten(f.repo), tag: f.tag, digest: f.digest} }

// shorten drops "docker.io/" and, for a single-level name under it,
// "library/".
func shorten(r repo) repo {
	if r.domain != defaultDomain {
		return r
	}
	r.domain = ""
	if rest, ok := strings.CutPrefix(r.path, officialRepo); ok && strings.IndexByte(rest, '/') < 0 {
		r.path = rest
	}
	return r
}

// ParseNormalizedNamed parses a name as typed on docker's command line and
// returns it in canonical form: "ubuntu" becomes "docker.io/library/ubuntu".
// No default tag is added (see TagNameOnly).
func ParseNormalizedNamed(s string) (Named, error) {
	if isIdentifier(s) {
		return nil, errors.New("invalid repository name (" + s + "), cannot specify 64-byte hexadecimal strings")
	}
	domain, rest := splitDockerDomain(s)
	remote := rest
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		remote = rest[:i]
	}
	if strings.ToLower(remote) != remote {
		return nil, errors.New("invalid reference format: repository name (" + remote + ") must be lowercase")
	}
	return parse(domain + "/" + rest)
}

// splitDockerDomain decides whether the first component of s is a registry
// and applies the Docker Hub defaults.
func splitDockerDomain(s string) (domain, rest string) {
	first, after, ok := strings.Cut(s, "/")
	if !ok {
		return defaultDomain, officialRepo + s
	}
	switch {
	case first == localhostName:
		domain, rest = first, after
	case first == legacyDomain:
		domain, rest = defaultDomain, after
	case strings.ContainsAny(first, ".:"), strings.ToLower(first) != first:
		domain, rest = first, after
	default:
		domain, rest = defaultDomain, s
	}
	if domain == defaultDomain && strings.IndexByte(rest, '/') < 0 {
		rest = officialRepo + rest
	}
	return domain, rest
}

// parse parses a complete reference "[domain/]path[:tag][@digest]" without
// any normalisation. Every caller passes a non-empty name.
func parse(s string) (Named, error) {
	p, ok := scan(s)
	if !ok {
		if s == "" {
			return nil, ErrNameEmpty
		}
		if _, ok := scan(strings.ToLower(s)); ok {
			return nil, ErrNameContainsUppercase
		}
		return nil, ErrReferenceInvalidFormat
	}
	if len(p.path) > pathMaxLength {
		return nil, ErrNameTooLong
	}
	if p.digest != "" {
		if err := checkDigest(p.digest); err != nil {
			return nil, err
		}
	}
	r := repo{domain: p.domain, path: p.path}
	switch {
	case p.tag == "" && p.digest == "":
		return r, nil
	case p.digest == "":
		return tagged{repo: r, tag: p.tag}, nil
	case p.tag == "":
		return digested{repo: r, digest: Digest(p.digest)}, nil
	default:
		return full{repo: r, tag: p.tag, digest: Digest(p.digest)}, nil
	}
}

// parts are the pieces of a syntactically valid reference.
type parts struct {
	domain, path, tag, digest string
}

// scan checks the reference grammar and splits s into its parts.
func scan(s string) (parts, bool) {
	var p parts
	rest := s
	if at := strings.IndexByte(s, '@'); at >= 0 {
		rest, p.digest = s[:at], s[at+1:]
		if !isDigestSyntax(p.digest) {
			return p, false
		}
	}
	// A tag follows the last ':' unless that ':' belongs to the domain
	// (a port or an IPv6 address), in which case a '/' comes after it.
	name := rest
	if c := strings.LastIndexByte(rest, ':'); c >= 0 && c > strings.LastIndexByte(rest, '/') {
		name, p.tag = rest[:c], rest[c+1:]
		if !isTag(p.tag) {
			return p, false
		}
	}
	var ok bool
	p.domain, p.path, ok = splitName(name)
	return p, ok
}

// splitName checks "[domain/]path" and splits it. A first component that
// is a valid domain is taken as the domain; otherwise the whole name must
// be a path.
func splitName(name string) (domain, path string, ok bool) {
	first, rest, hasSlash := strings.Cut(name, "/")
	if !hasSlash {
		return "", name, isPathComponent(name)
	}
	if !isPath(rest) {
		return "", "", false
	}
	if isDomain(first) {
		return first, rest, true
	}
	if isPathComponent(first) {
		return "", name, true
	}
	return "", "", false
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
func isAlpha(c byte) bool      { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool      { return isAlpha(c) || isDigit(c) }
func isWord(c byte) bool       { return isAlnum(c) || c == '_' }
func isLowerHex(c byte) bool   { return isDigit(c) || 'a' <= c && c <= 'f' }
func isHex(c byte) bool        { return isLowerHex(c) || 'A' <= c && c <= 'F' }

// isPath: path components joined by single '/'.
func isPath(s string) bool {
	for {
		c, rest, more := strings.Cut(s, "/")
		if !isPathComponent(c) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// isPathComponent: runs of [a-z0-9] separated by ".", "_", "__" or one or
// more "-".
func isPathComponent(s string) bool {
	i := 0
	for {
		start := i
		for i < len(s) && isLowerAlnum(s[i]) {
			i++
		}
		if i == start {
			return false // empty, leading or doubled separator
		}
		if i == len(s) {
			return true
		}
		start = i
		for i < len(s) && !isLowerAlnum(s[i]) {
			i++
		}
		if !isSeparator(s[start:i]) {
			return false
		}
	}
}

func isSeparator(sep string) bool {
	switch sep {
	case ".", "_", "__":
		return true
	}
	for i := 0; i < len(sep); i++ {
		if sep[i] != '-' {
			return false
		}
	}
	return sep != ""
}

// isDomain: host[:port], host being dot-separated labels or "[ipv6]".
func isDomain(s string) bool {
	host, port := s, ""
	hasPort := false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host = s[:end+1]
		if tail := s[end+1:]; tail != "" {
			if tail[0] != ':' {
				return false
			}
			port, hasPort = tail[1:], true
		}
		if !isIPv6(host[1 : len(host)-1]) {
			return false
		}
	} else {
		if c := strings.IndexByte(s, ':'); c >= 0 {
			host, port, hasPort = s[:c], s[c+1:], true
		}
		if !isHostname(host) {
			return false
		}
	}
	if hasPort {
		if port == "" {
			return false
		}
		for i := 0; i < len(port); i++ {
			if !isDigit(port[i]) {
				return false
			}
		}
	}
	return true
}

func isIPv6(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) && s[i] != ':' {
			return false
		}
	}
	return true
}

// isHostname: labels of [A-Za-z0-9-] that neither start nor end with '-'.
func isHostname(s string) bool {
	for {
		label, rest, more := strings.Cut(s, ".")
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if !isAlnum(label[i]) && label[i] != '-' {
				return false
			}
		}
		if !more {
			return true
		}
		s = rest
	}
}

// isTag: a word character then up to 127 word characters, '.' or '-'.
func isTag(s string) bool {
	if s == "" || len(s) > 128 || !isWord(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWord(s[i]) && s[i] != '.' && s[i] != '-' {
			return false
		}
	}
	return true
}

// isDigestSyntax is the reference grammar's digest: an algorithm of
// letter-led alphanumeric components joined by one of "-_+.", a ':', and
// at least 32 hex digits.
func isDigestSyntax(s string) bool {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok || len(enc) < 32 {
		return false
	}
	for i := 0; i < len(enc); i++ {
		if !isHex(enc[i]) {
			return false
		}
	}
	return components(alg, isAlpha, isAlnum)
}

// components reports whether s is one or more components (first byte
// satisfying head, the rest tail) joined by single characters of "-_+.".
func components(s string, head, tail func(byte) bool) bool {
	i := 0
	for {
		if i == len(s) || !head(s[i]) {
			return false
		}
		i++
		for i < len(s) && tail(s[i]) {
			i++
		}
		if i == len(s) {
			return true
		}
		switch s[i] {
		case '-', '_', '+', '.':
			i++
		default:
			return false
		}
	}
}

// checkDigest validates a digest as go-digest does: sha256, sha384 and
// sha512 with the exact lower-case hex length; anything else is either
// unsupported or malformed.
func checkDigest(s string) error {
	i := strings.IndexByte(s, ':')
	if i <= 0 || i+1 == len(s) {
		return errChecksumFormat
	}
	alg, enc := s[:i], s[i+1:]
	var n int
	switch alg {
	case "sha256":
		n = 64
	case "sha384":
		n = 96
	case "sha512":
		n = 128
	default:
		if !isOCIDigestSyntax(alg, enc) {
			return errChecksumFormat
		}
		return errDigestUnsupported
	}
	if len(enc) != n {
		return errChecksumLength
	}
	for j := 0; j < len(enc); j++ {
		if !isLowerHex(enc[j]) {
			return errChecksumFormat
		}
	}
	return nil
}

// isOCIDigestSyntax is go-digest's general digest grammar.
func isOCIDigestSyntax(alg, enc string) bool {
	if enc == "" {
		return false
	}
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if !isAlnum(c) && c != '=' && c != '_' && c != '-' {
			return false
		}
	}
	return components(alg, isLowerAlnum, isLowerAlnum)
}

// isIdentifier: exactly 64 lower-case hex digits (an image id).
func isIdentifier(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

// Domain returns the registry part of a name ("docker.io", "ghcr.io",
// "localhost:5000"), or "" if it has none.
func Domain(named Named) string {
	if r, ok := named.(domainPather); ok {
		return r.Domain()
	}
	d, _ := splitForeign(named.Name())
	return d
}

// Path returns the name without its registry part.
func Path(named Named) string {
	if r, ok := named.(domainPather); ok {
		return r.Path()
	}
	_, p := splitForeign(named.Name())
	return p
}

func splitForeign(name string) (domain, path string) {
	if d, p, ok := splitName(name); ok {
		return d, p
	}
	return "", name
}

// FamiliarName returns the name as docker shows it: without "docker.io/"
// and, for official images, without "library/".
func FamiliarName(ref Named) string {
	if f, ok := ref.(familiarizer); ok {
		return f.familiar().Name()
	}
	return ref.Name()
}

// FamiliarString returns the whole reference (with tag and digest) as
// docker shows it.
func FamiliarString(ref Reference) string {
	if f, ok := ref.(familiarizer); ok {
		return f.familiar().String()
	}
	return ref.String()
}

// IsNameOnly reports whether ref has neither a tag nor a digest.
func IsNameOnly(ref Named) bool {
	if _, ok := ref.(NamedTagged); ok {
		return false
	}
	if _, ok := ref.(Canonical); ok {
		return false
	}
	return true
}

// TagNameOnly adds the tag "latest" to a reference that has neither a tag
// nor a digest, and returns other references unchanged.
func TagNameOnly(ref Named) Named {
	if !IsNameOnly(ref) {
		return ref
	}
	var r repo
	if dp, ok := ref.(domainPather); ok {
		r = repo{domain: dp.Domain(), path: dp.Path()}
	} else {
		r = repo{path: ref.Name()}
	}
	return tagged{repo: r, tag: defaultTag}
}
