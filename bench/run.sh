#!/usr/bin/env bash
# run.sh — Berth vs Docker vs Podman on this machine (`make bench`, or
# `make bench-quick` for QUICK=1). Installs the engines from Debian when they
# are missing, builds Berth into a temporary directory, then hands over to
# bench.py, which starts every engine in its own temporary directories,
# measures, writes bench/results/latest.{md,json} and stops what it started.
# Never part of `make test` or CI. See bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
export PATH=$PATH:/usr/local/go/bin

if [ "$(id -u)" != 0 ]; then
	echo "bench: must run as root (it starts container engines)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/berth-bench-XXXXXX)
made_policy=
cleanup() {
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- packages: one engine's failure to install is reported, not fatal.
declare -A need=(
	[docker]="docker.io"
	[podman]="podman"
	[registry]="docker-registry"
	[busybox]="busybox-static"
)
declare -A probe=(
	[docker]="dockerd containerd runc"
	[podman]="podman conmon runc"
	[registry]="docker-registry"
	[busybox]="busybox"
)
missing=()
for k in "${!need[@]}"; do
	for b in ${probe[$k]}; do
		command -v "$b" >/dev/null || { missing+=("$k"); break; }
	done
done
engine_missing=""
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench: installing from Debian: $(for k in "${missing[@]}"; do printf '%s ' "${need[$k]}"; done)" >&2
	# Installing docker.io must not start a system dockerd on the default
	# socket: policy-rc.d tells the maintainer scripts to start nothing.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	apt-get update -qq >/dev/null 2>&1 || true
	for k in "${missing[@]}"; do
		pkg=${need[$k]}
		if ! out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" 2>&1); then
			why=$(printf '%s\n' "$out" | grep -E '^E:' | head -1 | tr ';' ',')
			echo "bench: $pkg: ${why:-apt-get install failed}" >&2
			case $k in
			docker | podman) engine_missing+="$k=apt-get install $pkg failed: ${why:-see apt};" ;;
			registry) export REGISTRY_MISSING="apt-get install $pkg failed: ${why:-see apt}" ;;
			busybox) echo "bench: no static busybox, no images" >&2; exit 1 ;;
			esac
		fi
	done
	if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; made_policy=; fi
fi
export ENGINE_MISSING=$engine_missing

# --- Berth, built into our own directory: other builds of bin/ in the same
# tree must not swap binaries under a running benchmark.
echo "bench: make build" >&2
make -C "$repo" --no-print-directory build BINDIR="$tmp/bin" >&2
export BERTH_BIN=$tmp/bin

"$repo/scripts/mkbusybox.sh" "$tmp/busybox.tar" >/dev/null
export BUSYBOX_TAR=$tmp/busybox.tar

start=$(date +%s)
rc=0
python3 "$here/bench.py" || rc=$?
echo "bench: took $(($(date +%s) - start)) s (QUICK=${QUICK:-0})" >&2
exit $rc
