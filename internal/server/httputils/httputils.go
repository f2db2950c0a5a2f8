// Package httputils holds the helpers API handlers share: the handler type,
// JSON decoding with dockerd's checks, JSON writing, and request-scoped
// values such as the negotiated API version.
package httputils

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/version"
)

// APIFunc is the handler type of every API route: it parses, calls a
// service, writes, and returns errors for the server to map to a status.
type APIFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error

type versionKey struct{}

// WithVersion stores the request's API version in ctx.
func WithVersion(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, versionKey{}, v)
}

// VersionFromContext returns the request's API version (the newest when
// the path carried none).
func VersionFromContext(ctx context.Context) string {
	if v, ok := ctx.Value(versionKey{}).(string); ok && v != "" {
		return v
	}
	return version.APIVersion
}

// MaxJSONBody bounds JSON request bodies; larger ones are refused with 413
// rather than read into memory.
const MaxJSONBody = 16 << 20

// ErrBodyTooLarge is returned for JSON bodies over MaxJSONBody.
var ErrBodyTooLarge = errors.New("request body too large")

// CheckForJSON refuses a body whose Content-Type is set to something other
// than JSON, with dockerd's wording.
func CheckForJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return errdefs.InvalidParameterf("unsupported Content-Type header (%s): must be 'application/json'", ct)
}

// ReadJSON decodes the request body into v. An empty body leaves v as is
// when allowEmpty, and is an error otherwise.
func ReadJSON(r *http.Request, v any, allowEmpty bool) error {
	if err := CheckForJSON(r); err != nil {
		return err
	}
	body := http.MaxBytesReader(nil, r.Body, MaxJSONBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return fmt.Errorf("%w: limit is %d bytes", ErrBodyTooLarge, MaxJSONBody)
		case errors.Is(err, io.EOF):
			if allowEmpty {
				return nil
			}
			return errdefs.InvalidParameterf("invalid JSON: got EOF while reading request body")
		}
		return errdefs.InvalidParameterf("invalid JSON: %v", err)
	}
	// Trailing garbage after the object is malformed input too.
	if dec.More() {
		return errdefs.InvalidParameterf("unexpected content after JSON")
	}
	return nil
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// BoolValue reads a boolean query parameter the way dockerd does: absent,
// "", "0", "no", "false" and "none" are false; anything else is true.
func BoolValue(r *http.Request, k string) bool {
	switch strings.ToLower(strings.TrimSpace(r.Form.Get(k))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// Int64Value reads an integer query parameter, def when absent.
func Int64Value(r *http.Request, k string, def int64) (int64, error) {
	s := r.Form.Get(k)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errdefs.InvalidParameterf("invalid value for %s: %q: %v", k, s, err)
	}
	return n, nil
}

// ParseForm parses the query (and form body) with a classed error.
func ParseForm(r *http.Request) error {
	if r == nil {
		return nil
	}
	if err := r.ParseForm(); err != nil && !strings.HasPrefix(err.Error(), "mime:") {
		return errdefs.InvalidParameter(err)
	}
	return nil
}

type shutdownKey struct{}

// WithShutdown stores a channel that closes when the server begins to shut
// down, so that endless streams (events, logs -f) end and let it finish.
func WithShutdown(ctx context.Context, ch <-chan struct{}) context.Context {
	return context.WithValue(ctx, shutdownKey{}, ch)
}

// ShutdownFromContext returns the server's shutdown channel (nil, which
// never fires, outside a server).
func ShutdownFromContext(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(shutdownKey{}).(<-chan struct{})
	return ch
}
