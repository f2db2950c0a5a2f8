#!/usr/bin/env bash
# build-entry.sh OUT — compiles berth-entry (cmd/berth-entry/entry.c) into OUT,
# static, against musl when musl-gcc is installed (scripts/deps.sh installs
# musl-tools), else against the system's libc. glibc's static start-up probes
# the CPU with dozens of CPUID instructions, each a trap to the hypervisor in
# a VM (about 7 us apiece on the test VM: 0.4 ms per process); musl's probes
# nothing, and berth-entry runs at every container start and exec.
set -euo pipefail
out=${1:?usage: build-entry.sh OUT}
src="$(cd "$(dirname "$0")/.." && pwd)/cmd/berth-entry/entry.c"
flags=(-O2 -Wall -Wextra -Werror -static -s)
if [ -z "${ENTRY_CC:-}" ] && command -v musl-gcc >/dev/null 2>&1; then
	# Debian's musl-gcc has no kernel headers of its own: the system's
	# (linux-libc-dev, libc-independent) come after musl's.
	multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
	exec musl-gcc "${flags[@]}" -idirafter /usr/include -idirafter "/usr/include/$multiarch" -o "$out" "$src"
fi
exec "${ENTRY_CC:-${CC:-cc}}" "${flags[@]}" -o "$out" "$src"
