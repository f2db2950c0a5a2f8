package versions

import (
	"testing"

	mobyversions "github.com/moby/moby/client/pkg/versions"
)

func TestLessThan(t *testing.T) {
	for _, p := range [][2]string{
		{"1.50", "1.52"}, {"1.52", "1.50"}, {"1.50", "1.50"}, {"1.9", "1.10"}, {"1.10", "1.9"},
		{"1", "1.0"}, {"1.0.1", "1.0"}, {"", "1.40"}, {"x.1", "0.2"}, {"2.0", "1.99"},
	} {
		if got, want := LessThan(p[0], p[1]), mobyversions.LessThan(p[0], p[1]); got != want {
			t.Errorf("LessThan(%q, %q) = %v, want %v", p[0], p[1], got, want)
		}
	}
	if !LessThan("1.9", "1.10") || LessThan("1.10", "1.10") {
		t.Error("numeric comparison")
	}
}
