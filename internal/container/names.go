package container

import (
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"regexp"

	"github.com/berth-engine/berth/internal/errdefs"
)

// validName is dockerd's rule for container names.
var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

func checkName(name string) error {
	if !validName.MatchString(name) {
		return errdefs.InvalidParameterf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

// Generated names pair an adjective with a name from the history of
// computing and science, like docker's; the lists are our own.
var (
	adjectives = []string{"able", "agile", "amber", "ample", "azure", "bold", "brave", "brisk", "calm", "candid",
		"clever", "cosmic", "crisp", "deft", "eager", "early", "fair", "fervent", "fond", "gentle", "glad",
		"grand", "happy", "hardy", "keen", "kind", "lively", "loyal", "lucid", "merry", "mellow", "modest",
		"nimble", "noble", "patient", "plucky", "polite", "proud", "quiet", "rapid", "ready", "serene",
		"sharp", "silent", "smart", "steady", "sunny", "swift", "tender", "tidy", "vivid", "warm", "wise", "witty", "zen"}
	surnames = []string{"agnesi", "babbage", "backus", "bartik", "boole", "cerf", "church", "codd", "curie",
		"dijkstra", "easley", "engelbart", "euler", "fermat", "feynman", "gauss", "goldberg", "hamilton",
		"hopper", "hypatia", "jackson", "johnson", "kahan", "knuth", "lamarr", "lamport", "liskov",
		"lovelace", "mccarthy", "meitner", "minsky", "napier", "neumann", "noether", "pascal", "perlman",
		"ritchie", "shannon", "sammet", "tesla", "thompson", "torvalds", "turing", "wilkes", "wing", "wozniak"}
)

func pick(list []string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	return list[n.Int64()]
}

func (s *Service) generateName() string {
	for i := 0; i < 10; i++ {
		name := pick(adjectives) + "_" + pick(surnames)
		if i > 5 {
			n, _ := rand.Int(rand.Reader, big.NewInt(100))
			name += n.String()
		}
		if !s.store.nameTaken(name) {
			return name
		}
	}
	return "berth_" + newID()[:12]
}

// newID returns 64 random hex digits, as container IDs are.
func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
