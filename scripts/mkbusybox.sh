#!/usr/bin/env bash
# mkbusybox.sh OUT.tar — make a busybox root filesystem tarball offline, from
# Debian's busybox-static, for `berth import` / `docker import` and tests.
# There is no Docker Hub here: every test image starts from this.
set -euo pipefail

out=${1:?usage: mkbusybox.sh OUT.tar}
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || bb=/usr/bin/busybox
if [ ! -x "$bb" ] || ldd "$bb" >/dev/null 2>&1; then
	echo "mkbusybox: need a static busybox (apt-get install busybox-static)" >&2
	exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,var/log,dev,proc,sys}
chmod 755 "$root"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cp "$bb" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
# One symlink per applet, where busybox itself would install it; run inside
# the new root so that one process makes them all.
chroot "$root" /bin/busybox --install -s
cat > "$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
P
cat > "$root/etc/group" <<'G'
root:x:0:
daemon:x:1:
wheel:x:10:root
nogroup:x:65534:
G
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
# Fixed times and owners make the tarball (and so the image) reproducible.
tar --sort=name --mtime='2024-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner \
	-C "$root" -cf "$out" .
echo "$out"
