// Package versions compares API versions ("1.50") component by component.
package versions

import (
	"strconv"
	"strings"
)

// compare returns -1, 0 or 1 as a is lower than, equal to or greater than
// b. Missing or non-numeric components count as 0.
func compare(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// LessThan reports whether version v is older than other.
func LessThan(v, other string) bool { return compare(v, other) < 0 }
