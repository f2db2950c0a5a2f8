#!/usr/bin/env bash
# setup.sh — from a fresh clone: install dependencies, build, install, start
# berthd in the background and show it answering. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: run as root (berthd manages mounts, namespaces and cgroups)" >&2
	exit 1
fi
./scripts/deps.sh
make build install

sock=/run/berth/berth.sock
if [ -S "$sock" ] && berth -H "unix://$sock" version >/dev/null 2>&1; then
	echo "berthd is already running on $sock"
else
	nohup /usr/local/bin/berthd >>/var/log/berthd.log 2>&1 &
	echo "berthd started (pid $!), log in /var/log/berthd.log"
	for _ in $(seq 1 100); do
		[ -S "$sock" ] && berth -H "unix://$sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
fi
export DOCKER_HOST=unix://$sock
berth version
if command -v docker >/dev/null 2>&1; then
	docker version --format 'docker CLI {{.Client.Version}} -> {{.Server.Platform.Name}} {{.Server.Version}} (API {{.Server.APIVersion}})'
fi

# A first image, made offline (there is no Docker Hub here), and a first
# container. "localhost/" keeps any pull attempt on this machine.
img=localhost/busybox:latest
if ! berth image inspect "$img" >/dev/null 2>&1; then
	tmp=$(mktemp -d)
	./scripts/mkbusybox.sh "$tmp/busybox.tar" >/dev/null
	berth import --change 'CMD ["/bin/sh"]' "$tmp/busybox.tar" "$img"
	rm -rf "$tmp"
fi
berth run --rm "$img" echo "hello from a Berth container"
