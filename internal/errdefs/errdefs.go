// Package errdefs defines Berth's error classes. Errors are classified where
// they arise (wrapped with one of the classes below) and translated to an HTTP
// status exactly once, in the API server.
package errdefs

import (
	"errors"
	"fmt"
)

// The error classes. Test with errors.Is(err, errdefs.ErrNotFound).
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrUnauthorized    = errors.New("unauthorized")
	ErrForbidden       = errors.New("forbidden")
	ErrUnavailable     = errors.New("unavailable")
	ErrNotImplemented  = errors.New("not implemented")
	ErrNotModified     = errors.New("not modified")
)

// classed carries a class without adding the class name to the message, so
// that clients print exactly the text the source wrote ("No such image: x").
type classed struct {
	class error
	err   error
}

func (c *classed) Error() string { return c.err.Error() }
func (c *classed) Unwrap() []error {
	return []error{c.err, c.class}
}

func wrap(class, err error) error {
	if err == nil {
		return nil
	}
	return &classed{class: class, err: err}
}

// NotFound marks err as ErrNotFound; the message stays err's own.
func NotFound(err error) error { return wrap(ErrNotFound, err) }

// Conflict marks err as ErrConflict.
func Conflict(err error) error { return wrap(ErrConflict, err) }

// InvalidParameter marks err as ErrInvalidArgument.
func InvalidParameter(err error) error { return wrap(ErrInvalidArgument, err) }

// Unauthorized marks err as ErrUnauthorized.
func Unauthorized(err error) error { return wrap(ErrUnauthorized, err) }

// Forbidden marks err as ErrForbidden.
func Forbidden(err error) error { return wrap(ErrForbidden, err) }

// Unavailable marks err as ErrUnavailable.
func Unavailable(err error) error { return wrap(ErrUnavailable, err) }

// NotImplemented marks err as ErrNotImplemented.
func NotImplemented(err error) error { return wrap(ErrNotImplemented, err) }

// NotModified marks err as ErrNotModified.
func NotModified(err error) error { return wrap(ErrNotModified, err) }

// NotFoundf formats a message and marks it ErrNotFound.
func NotFoundf(format string, a ...any) error { return NotFound(fmt.Errorf(format, a...)) }

// Conflictf formats a message and marks it ErrConflict.
func Conflictf(format string, a ...any) error { return Conflict(fmt.Errorf(format, a...)) }

// InvalidParameterf formats a message and marks it ErrInvalidArgument.
func InvalidParameterf(format string, a ...any) error {
	return InvalidParameter(fmt.Errorf(format, a...))
}

// NotImplementedf formats a message and marks it ErrNotImplemented.
func NotImplementedf(format string, a ...any) error {
	return NotImplemented(fmt.Errorf(format, a...))
}

// Unavailablef formats a message and marks it ErrUnavailable.
func Unavailablef(format string, a ...any) error { return Unavailable(fmt.Errorf(format, a...)) }

// Forbiddenf formats a message and marks it ErrForbidden.
func Forbiddenf(format string, a ...any) error { return Forbidden(fmt.Errorf(format, a...)) }
