#!/usr/bin/env bash
# deps.sh — install everything Berth needs to build and test on a fresh
# Debian machine of this project's kind: apt packages and Go modules.
# Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH=$PATH:/usr/local/go/bin
pkgs=(
	busybox-static   # offline test images (scripts/mkbusybox.sh)
	libseccomp-dev   # berth-shim links libseccomp (seccomp build tag)
	pkg-config       # finds libseccomp for cgo
	gcc              # cgo for berth-shim and libcontainer's nsenter
	libc6-dev        # libc headers for cgo, and libc.a: berth-shim is linked statically
	musl-tools       # berth-entry is built against musl (scripts/build-entry.sh)
	iproute2         # tests inspect bridges and veths
	nftables         # tests inspect Berth's nft tables
	docker-registry  # CNCF distribution registry for registry tests on 127.0.0.1
	skopeo           # archive compatibility tests: docker-archive/oci-archive by containers/image
	umoci            # archive compatibility tests: OCI layouts unpacked and changed by umoci
	tar
	curl
	jq
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian registry package starts a service on :5000 of its own; tests
# run their own instances on other ports, so keep the packaged one stopped.
if command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

go mod download
echo "deps: ok"
