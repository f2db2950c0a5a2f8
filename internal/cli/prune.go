package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
)

// Confirm prints warning and docker's y/N question, and reads the answer;
// the prune commands ask it unless -f.
func Confirm(in io.Reader, out io.Writer, warning string) bool {
	fmt.Fprintf(out, "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// PrintDeleted prints a prune report's list under its title ("Deleted
// Containers:"), as docker does, nothing when the list is empty.
func PrintDeleted(out io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintln(out, title)
	for _, it := range items {
		fmt.Fprintln(out, it)
	}
	fmt.Fprintln(out)
}

// ImageDeletions words an image prune's deletions as docker prints them
// ("untagged: …", "deleted: sha256:…"), for PrintDeleted.
func ImageDeletions(items []image.DeleteResponse) []string {
	var out []string
	for _, d := range items {
		if d.Untagged != "" {
			out = append(out, "untagged: "+d.Untagged)
		}
		if d.Deleted != "" {
			out = append(out, "deleted: "+d.Deleted)
		}
	}
	return out
}

// PrintReclaimed prints docker's closing prune line.
func PrintReclaimed(out io.Writer, bytes uint64) {
	fmt.Fprintf(out, "Total reclaimed space: %s\n", units.HumanSize(float64(bytes)))
}
