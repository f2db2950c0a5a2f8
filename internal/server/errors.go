package server

import (
	"errors"
	"net/http"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server/httputils"
)

// statusFor is the one place where error classes become HTTP statuses.
func statusFor(err error) int {
	switch {
	case errors.As(err, new(methodNotAllowed)):
		return http.StatusMethodNotAllowed
	case errors.Is(err, httputils.ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return http.StatusBadRequest
	case errors.Is(err, errdefs.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, errdefs.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, errdefs.ErrNotImplemented):
		return http.StatusNotImplemented
	case errors.Is(err, errdefs.ErrNotModified):
		return http.StatusNotModified
	}
	return http.StatusInternalServerError
}

type errorResponse struct {
	Message string `json:"message"`
}

// writeError answers with dockerd's error body. 304 carries no body.
func writeError(w http.ResponseWriter, err error) int {
	status := statusFor(err)
	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return status
	}
	_ = httputils.WriteJSON(w, status, errorResponse{Message: err.Error()})
	return status
}
