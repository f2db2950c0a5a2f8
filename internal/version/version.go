// Package version holds Berth's version and the Docker Engine API versions
// it speaks; the daemon and the CLI both report them.
package version

// Set at build time with -ldflags "-X github.com/berth-engine/berth/internal/version.Version=…".
var (
	Version   = "0.1.0-dev"
	GitCommit = "unknown"
	BuildTime = ""
)

const (
	// APIVersion is the newest Docker Engine API version berthd serves
	// (what the docker CLI 28.2 speaks).
	APIVersion = "1.50"
	// MinAPIVersion is the oldest API version berthd accepts.
	MinAPIVersion = "1.24"
)
