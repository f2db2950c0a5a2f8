#!/usr/bin/env bash
# musl-cc.sh — a C compiler for the programs Berth links statically and
# starts at every container start and exec (berth-entry, berth-shim-lean):
# musl-gcc with the system's kernel headers when Debian's musl-tools is
# installed (scripts/deps.sh installs it), else cc. glibc's static start-up
# probes the CPU with dozens of CPUID instructions, each a trap to the
# hypervisor in a VM (about 7 us apiece on the test VM: 0.4 ms per process);
# musl's probes nothing. Usable as CC for cgo.
if command -v musl-gcc >/dev/null 2>&1; then
	# Debian's musl-gcc has no kernel headers of its own: the system's
	# (linux-libc-dev, libc-independent) come after musl's.
	multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
	exec musl-gcc -idirafter /usr/include -idirafter "/usr/include/$multiarch" "$@"
fi
exec "${CC_FALLBACK:-cc}" "$@"
