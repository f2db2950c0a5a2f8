package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassKeepsMessage(t *testing.T) {
	tests := []struct {
		err   error
		class error
		msg   string
	}{
		{NotFoundf("No such image: %s", "x"), ErrNotFound, "No such image: x"},
		{Conflictf("name in use"), ErrConflict, "name in use"},
		{InvalidParameter(errors.New("bad")), ErrInvalidArgument, "bad"},
		{fmt.Errorf("outer: %w", Unavailablef("down")), ErrUnavailable, "outer: down"},
	}
	for _, tc := range tests {
		t.Run(tc.msg, func(t *testing.T) {
			if !errors.Is(tc.err, tc.class) {
				t.Fatalf("errors.Is(%v, %v) = false", tc.err, tc.class)
			}
			if errors.Is(tc.err, ErrForbidden) {
				t.Fatalf("%v must not be ErrForbidden", tc.err)
			}
			if tc.err.Error() != tc.msg {
				t.Fatalf("message %q, want %q", tc.err.Error(), tc.msg)
			}
		})
	}
	if NotFound(nil) != nil {
		t.Fatal("NotFound(nil) must be nil")
	}
}
