package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-engine/berth/internal/errdefs"
)

// ErrorCode returns the distribution error code of err ("MANIFEST_UNKNOWN",
// "UNAUTHORIZED"), its text in the registry client's words
// ("manifest unknown: manifest unknown") and the HTTP status; code is ""
// when err does not come from a registry's answer.
func ErrorCode(err error) (code, text string, status int) {
	var te *transport.Error
	if !errors.As(err, &te) {
		return "", "", 0
	}
	if len(te.Errors) == 0 {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return string(transport.UnauthorizedErrorCode), "unauthorized: authentication required", te.StatusCode
		case http.StatusForbidden:
			return string(transport.DeniedErrorCode), "denied: requested access to the resource is denied", te.StatusCode
		case http.StatusNotFound:
			return "NOT_FOUND", "not found", te.StatusCode
		}
		return "", fmt.Sprintf("received unexpected HTTP status: %d %s", te.StatusCode, http.StatusText(te.StatusCode)), te.StatusCode
	}
	var parts []string
	for _, d := range te.Errors {
		parts = append(parts, strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))+": "+d.Message)
	}
	return string(te.Errors[0].Code), strings.Join(parts, "; "), te.StatusCode
}

// PullError words a failed pull of named as dockerd does and classes it:
// denied access and unknown manifests or repositories are "not found"
// (docker's "pull access denied for …"), unreachable registries
// "unavailable".
func PullError(err error, named reference.Named) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code, text, status := ErrorCode(err)
	switch {
	case code == "UNAUTHORIZED" || code == "DENIED" || status == http.StatusUnauthorized:
		return errdefs.NotFoundf("pull access denied for %s, repository does not exist or may require 'docker login': %s", reference.FamiliarName(named), text)
	case code == "MANIFEST_UNKNOWN" || code == "NOT_FOUND":
		return errdefs.NotFoundf("manifest for %s not found: %s", reference.FamiliarString(named), text)
	case code == "NAME_UNKNOWN":
		return errdefs.NotFoundf("repository %s not found: %s", reference.FamiliarName(named), text)
	case code == "TOOMANYREQUESTS":
		return errdefs.Unavailable(fmt.Errorf("%s", text))
	case status != 0:
		return errdefs.Unavailable(fmt.Errorf("%s", text))
	}
	return classifyNet(err)
}

// Classify words a failed registry call (a push, a blob download) as
// dockerd does ("unauthorized: authentication required", "denied: …") and
// classes it.
func Classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code, text, status := ErrorCode(err)
	switch {
	case code == "UNAUTHORIZED" || status == http.StatusUnauthorized:
		return errdefs.Unauthorized(errors.New(text))
	case code == "DENIED" || status == http.StatusForbidden:
		return errdefs.Forbidden(errors.New(text))
	case code == "NAME_UNKNOWN" || code == "MANIFEST_UNKNOWN" || code == "BLOB_UNKNOWN":
		return errdefs.NotFound(errors.New(text))
	case code != "" || status != 0:
		return errdefs.Unavailable(errors.New(text))
	}
	return classifyNet(err)
}

// classifyNet marks transport failures (refused, reset, timed out, TLS)
// as "unavailable"; other errors keep their own class.
func classifyNet(err error) error {
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) || strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "EOF") {
		return errdefs.Unavailable(err)
	}
	return err
}
