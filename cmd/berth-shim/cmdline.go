package main

import (
	"os"
	"unsafe"
)

// setCmdline makes args the process's command line after argv[0] (what ps
// and /proc/PID/cmdline show) by writing them over the memory of the original
// arguments, as setproctitle(3) does: a spare shim starts with a padding
// argument for this, so that its command line names its container as a
// directly started shim's does. Arguments that do not fit are cut. Go's
// os.Args strings point into that memory: os.Args[0] keeps its bytes (runc
// uses it), the others must not be used afterwards. Without the kernel's
// layout (contiguous, NUL-terminated) it does nothing.
func setCmdline(args []string) {
	if len(os.Args) < 2 {
		return
	}
	start := unsafe.StringData(os.Args[0])
	next := uintptr(unsafe.Pointer(start))
	for _, a := range os.Args {
		if len(a) == 0 || uintptr(unsafe.Pointer(unsafe.StringData(a))) != next {
			return
		}
		next += uintptr(len(a)) + 1
	}
	area := unsafe.Slice(start, next-uintptr(unsafe.Pointer(start)))
	rest := area[len(os.Args[0])+1:]
	var b []byte
	for _, a := range args {
		b = append(append(b, a...), 0)
	}
	if len(b) > len(rest) {
		b = b[:len(rest)]
		b[len(b)-1] = 0
	}
	copy(rest, b)
	clear(rest[len(b):])
}
