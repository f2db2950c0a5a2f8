package testsuite

import "golang.org/x/sys/unix"

var errRO error = unix.EROFS
