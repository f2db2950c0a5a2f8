#!/usr/bin/env bash
# build-entry.sh OUT — compiles berth-entry (cmd/berth-entry/entry.c) into OUT,
# static, with scripts/musl-cc.sh (musl where it is installed).
set -euo pipefail
out=${1:?usage: build-entry.sh OUT}
dir="$(cd "$(dirname "$0")/.." && pwd)"
exec "$dir/scripts/musl-cc.sh" -O2 -Wall -Wextra -Werror -static -s -o "$out" "$dir/cmd/berth-entry/entry.c"
