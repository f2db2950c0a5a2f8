package imgref

import (
	// go-digest only accepts the algorithms whose hash is linked in; the
	// CLI links both through crypto/tls, so the comparison does too.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

const (
	hex64  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sha256 = "sha256:" + hex64
)

// inputs run through both parsers.
var inputs = []string{
	// plain names
	"", " ", "ubuntu", "busybox", "a", "0", "library/ubuntu", "user/app", "a/b/c/d",
	"docker.io/library/x", "docker.io/x", "docker.io/a/b", "docker.io/library/a/b",
	"index.docker.io/x", "index.docker.io/library/x", "index.docker.io/u/x",
	"registry-1.docker.io/x", "Docker.io/x", "docker.io", "docker.io/",
	"library/", "library", "/", "//", "/x", "x/", "x//y", "./x", "../x", "x/..",
	// separators
	"a.b", "a_b", "a__b", "a___b", "a-b", "a--b", "a---b", "a.-b", "a-.b", "a..b",
	"a._b", "a_.b", "a-_b", "_a", "a_", ".a", "a.", "-a", "a-", "a/-b", "a/b-",
	"a/b__c", "a/b.c.d", "foo_bar.com/x", "foo_bar.com:5000/x", "a.b_c/d",
	// uppercase
	"Foo", "foo/Bar", "FOO/bar", "Foo/bar", "foo/BAR:tag", "foo:TAG", "foo:Tag_1.2-3",
	"localhost/Foo", "localhost:5000/Foo", "example.com/Foo", "EXAMPLE.COM/foo",
	"example.com/foo:5000/Bar", "ubuntu:LATEST", "Ubuntu:latest", "UBUNTU",
	"fooK", "foo:K", "foo/K:x", "xn--kelvin/K", "foo:İ", "İ", "ſ", "foo@SHA256:" + hex64,
	// registries, ports
	"localhost", "localhost/x", "localhost:5000/x", "localhost:5000", "localhost:/x",
	"localhost:x/y", "localhost:5000/x:tag", "localhost/library/x",
	"example.com/x", "example.com:443/x/y:1", "example.com:/x", "example.com:abc/x",
	"sub.example.com/a/b/c", "a-b.c-d.e/x", "-a.com/x", "a-.com/x", "a..com/x",
	".com/x", "com./x", "127.0.0.1/x", "127.0.0.1:5000/x", "my_registry.com/x",
	"myregistry:5000/x", "myregistry/x", "MyRegistry/x", "myRegistry/x/y",
	"host:5000:6000/x", "a:1/b:2", "a:1/b:2/c",
	// IPv6
	"[::1]/x", "[::1]:5000/x", "[::1]:5000/x:tag", "[fe80::1%25eth0]/x", "[::1]",
	"[::1]:5000", "[]/x", "[::1/x", "::1/x", "[::1]x/y", "[::1]:/x", "[g::1]/x",
	"[2001:db8::1]:443/a/b", "[::1]]/x", "[[::1]]/x", "[ABCD::ef]/x",
	// tags
	"x:latest", "x:1", "x:_", "x:.", "x:-", "x:.a", "x:-a", "x:a.b-c_d", "x:", "x::",
	"x:a:b", "x:a/b", "x:a@b", "x:" + strings.Repeat("a", 128), "x:" + strings.Repeat("a", 129),
	"localhost:5000/x:" + strings.Repeat("t", 128), "x:ta g", "x:t\n",
	// digests
	"x@" + sha256, "x:tag@" + sha256, "localhost:5000/x:tag@" + sha256,
	"x@sha256:" + hex64[:63], "x@sha256:" + hex64 + "0", "x@sha256:" + strings.ToUpper(hex64),
	"x@sha384:" + hex64 + hex64[:32], "x@sha512:" + hex64 + hex64, "x@sha512:" + hex64,
	"x@md5:" + hex64[:32], "x@md5:" + hex64[:31], "x@sha256+b64:" + hex64,
	"x@Sha256:" + hex64, "x@sha-256:" + hex64, "x@sha_256:" + hex64, "x@a.b+c-d_e:" + hex64,
	"x@sha256:", "x@sha256", "x@:" + hex64, "x@", "@" + sha256, sha256, "x@@" + sha256,
	"x@sha256:" + hex64 + "@" + sha256, "x@1sha:" + hex64, "x@sha--256:" + hex64,
	"x@sha256:" + hex64 + "g", "x:tag@", "x@sha256:" + hex64 + ":tag",
	// ids
	hex64, strings.ToUpper(hex64), hex64[:63], hex64 + "a", "x/" + hex64, hex64 + ":tag",
	"docker.io/" + hex64,
	// lengths
	strings.Repeat("a", 247), strings.Repeat("a", 248), strings.Repeat("a", 255),
	strings.Repeat("a", 256), "u/" + strings.Repeat("a", 253), "u/" + strings.Repeat("a", 254),
	"example.com/" + strings.Repeat("a", 255), "example.com/" + strings.Repeat("a", 256),
	strings.Repeat("a", 300) + ":tag", strings.Repeat("a/", 100) + "a",
	// odd bytes
	"ubu\x00ntu", "ubuntu\n", "\xff", "a/\xff", "x:\xff", "ünïcödé", "a b", "a\tb",
}

type outcome struct {
	Err, ErrKind                               string
	String, Name, FamiliarName, FamiliarString string
	Domain, Path, Tag, Digest                  string
	HasTag, HasDigest, NameOnly                bool
	TagNameOnly, TagNameOnlyFamiliar           string
	TagNameOnlyDomain                          string
}

var sentinels = []struct {
	name   string
	ours   error
	theirs error
}{
	{"invalid-format", ErrReferenceInvalidFormat, reference.ErrReferenceInvalidFormat},
	{"uppercase", ErrNameContainsUppercase, reference.ErrNameContainsUppercase},
	{"empty", ErrNameEmpty, reference.ErrNameEmpty},
	{"too-long", ErrNameTooLong, reference.ErrNameTooLong},
	{"tag", ErrTagInvalidFormat, reference.ErrTagInvalidFormat},
	{"digest", ErrDigestInvalidFormat, reference.ErrDigestInvalidFormat},
}

func ours(s string) outcome {
	named, err := ParseNormalizedNamed(s)
	if err != nil {
		o := outcome{Err: err.Error()}
		for _, k := range sentinels {
			if errors.Is(err, k.ours) {
				o.ErrKind = k.name
			}
		}
		return o
	}
	o := outcome{
		String:         named.String(),
		Name:           named.Name(),
		FamiliarName:   FamiliarName(named),
		FamiliarString: FamiliarString(named),
		Domain:         Domain(named),
		Path:           Path(named),
		NameOnly:       IsNameOnly(named),
	}
	if t, ok := named.(NamedTagged); ok {
		o.HasTag, o.Tag = true, t.Tag()
	}
	if c, ok := named.(Canonical); ok {
		o.HasDigest, o.Digest = true, c.Digest().String()
	}
	tn := TagNameOnly(named)
	o.TagNameOnly, o.TagNameOnlyFamiliar, o.TagNameOnlyDomain = tn.String(), FamiliarString(tn), Domain(tn)
	return o
}

func theirs(s string) outcome {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		o := outcome{Err: err.Error()}
		for _, k := range sentinels {
			if errors.Is(err, k.theirs) {
				o.ErrKind = k.name
			}
		}
		return o
	}
	o := outcome{
		String:         named.String(),
		Name:           named.Name(),
		FamiliarName:   reference.FamiliarName(named),
		FamiliarString: reference.FamiliarString(named),
		Domain:         reference.Domain(named),
		Path:           reference.Path(named),
		NameOnly:       reference.IsNameOnly(named),
	}
	if t, ok := named.(reference.NamedTagged); ok {
		o.HasTag, o.Tag = true, t.Tag()
	}
	if c, ok := named.(reference.Canonical); ok {
		o.HasDigest, o.Digest = true, c.Digest().String()
	}
	tn := reference.TagNameOnly(named)
	o.TagNameOnly, o.TagNameOnlyFamiliar, o.TagNameOnlyDomain = tn.String(), reference.FamiliarString(tn), reference.Domain(tn)
	return o
}

// compare checks that both parsers agree on s and returns the result.
func compare(t *testing.T, s string) outcome {
	t.Helper()
	got, want := ours(s), theirs(s)
	if got != want {
		t.Errorf("ParseNormalizedNamed(%q):\n got  %+v\n want %+v", s, got, want)
	}
	return want
}

func TestSameAsDistributionReference(t *testing.T) {
	valid := 0
	for _, s := range inputs {
		if compare(t, s).Err == "" {
			valid++
		}
	}
	// Make sure the table exercises both sides.
	if valid < 40 || len(inputs)-valid < 40 {
		t.Errorf("table has %d valid and %d invalid inputs", valid, len(inputs)-valid)
	}
}

// Spot checks, so that a change in both libraries at once is noticed.
func TestKnownResults(t *testing.T) {
	for _, c := range []struct{ in, str, fam, err string }{
		{in: "ubuntu", str: "docker.io/library/ubuntu", fam: "ubuntu"},
		{in: "index.docker.io/u/app:1", str: "docker.io/u/app:1", fam: "u/app:1"},
		{in: "[::1]:5000/x@" + sha256, str: "[::1]:5000/x@" + sha256, fam: "[::1]:5000/x@" + sha256},
		{in: "Foo", err: "invalid reference format: repository name (library/Foo) must be lowercase"},
		{in: hex64, err: "invalid repository name (" + hex64 + "), cannot specify 64-byte hexadecimal strings"},
		{in: "a__b_c", str: "docker.io/library/a__b_c", fam: "a__b_c"},
		{in: "a___b", err: "invalid reference format"},
		{in: strings.Repeat("a", 256), err: "repository name must not be more than 255 characters"},
		{in: "x@sha256:abc" + hex64[:29], err: "invalid checksum digest length"},
		{in: "x@md5:" + hex64[:32], err: "unsupported digest algorithm"},
	} {
		n, err := ParseNormalizedNamed(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if n.String() != c.str || FamiliarString(n) != c.fam {
			t.Errorf("%q: %q / %q, want %q / %q", c.in, n.String(), FamiliarString(n), c.str, c.fam)
		}
	}
	n, _ := ParseNormalizedNamed("ubuntu")
	if tn := TagNameOnly(n); tn.String() != "docker.io/library/ubuntu:latest" || IsNameOnly(tn) || !IsNameOnly(n) {
		t.Errorf("TagNameOnly: %q", tn)
	}
}

// foreign is a Named from elsewhere, for the helpers' fallbacks.
type foreign string

func (f foreign) Name() string   { return string(f) }
func (f foreign) String() string { return string(f) + "!" }

func TestForeignNamed(t *testing.T) {
	for _, s := range []string{"docker.io/library/x", "example.com/a/b", "a/b", "x", "Bad_/x", "[::1]:5/x", ""} {
		f := foreign(s)
		got := fmt.Sprint(Domain(f), "|", Path(f), "|", FamiliarName(f), "|", FamiliarString(f), "|",
			IsNameOnly(f), "|", TagNameOnly(f).String(), "|", Domain(TagNameOnly(f)))
		want := fmt.Sprint(reference.Domain(f), "|", reference.Path(f), "|", reference.FamiliarName(f), "|",
			reference.FamiliarString(f), "|", reference.IsNameOnly(f), "|", reference.TagNameOnly(f).String(), "|",
			reference.Domain(reference.TagNameOnly(f)))
		if got != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range inputs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		compare(t, s)
	})
}

func BenchmarkParseNormalizedNamed(b *testing.B) {
	for b.Loop() {
		_, _ = ParseNormalizedNamed("registry.example.com:5000/team/app:1.2.3@" + sha256)
	}
}

// pieces from which TestComposed builds references: the grammar's
// characters and words, valid and not.
var pieces = []string{
	"a", "b", "z", "0", "9", "A", "Z", ".", "..", "_", "__", "___", "-", "--", "/", "//", ":", "@",
	"[", "]", "::1", "fe80::", "5000", "localhost", "docker.io", "index.docker.io", "library",
	"library/", "example.com", "sha256:", "sha512:", "md5:", "Sha256:", hex64, hex64[:32], "K", "é",
	"latest", "v1.2", " ", "\x00", "+", "x", "ubuntu", strings.Repeat("p", 120), strings.Repeat("t", 127),
}

// TestComposed compares the parsers on many strings made of grammar
// pieces, which reach corners random bytes rarely do.
func TestComposed(t *testing.T) {
	n := 300000
	if testing.Short() {
		n = 20000
	}
	state := uint64(0x9e3779b97f4a7c15)
	next := func(k int) int {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		return int(state % uint64(k))
	}
	var b strings.Builder
	valid := 0
	for i := 0; i < n; i++ {
		b.Reset()
		for j := next(9) + 1; j > 0; j-- {
			b.WriteString(pieces[next(len(pieces))])
		}
		if compare(t, b.String()).Err == "" {
			valid++
		}
		if t.Failed() {
			return
		}
	}
	if valid < n/20 {
		t.Errorf("only %d of %d composed references are valid", valid, n)
	}
	t.Logf("%d of %d composed references valid", valid, n)
}
