"""Offline test images for the benchmark: docker-archive tarballs and a
registry seeded over the distribution API, all made from the busybox rootfs
tarball of scripts/mkbusybox.sh. Standard library only."""

import gzip
import hashlib
import io
import json
import os
import platform
import tarfile
import urllib.request

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
CREATED = "2024-01-01T00:00:00Z"


def _sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _tar_member(tf, name, data):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = 1704067200
    ti.mode = 0o644
    tf.addfile(ti, io.BytesIO(data))


def _layer_with_file(path, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        d = os.path.dirname(path)
        if d:
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            ti.mtime = 1704067200
            tf.addfile(ti)
        _tar_member(tf, path, data)
    return buf.getvalue()


def _config(diff_ids, label):
    cfg = {
        "architecture": ARCH,
        "os": "linux",
        "created": CREATED,
        "config": {
            "Cmd": ["sh"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": {"bench": label},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": CREATED, "created_by": "bench layer %d" % i} for i in range(len(diff_ids))],
    }
    return json.dumps(cfg, sort_keys=True).encode()


def _write_archive(out, images):
    """images: list of (repo_tag, [layer bytes], label). Layers shared by digest."""
    written = set()
    manifest = []
    with tarfile.open(out, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for tag, layers, label in images:
            diff_ids = [_sha(l) for l in layers]
            cfg = _config(diff_ids, label)
            cfg_name = _sha(cfg)[7:] + ".json"
            names = []
            for l, d in zip(layers, diff_ids):
                name = d[7:] + "/layer.tar"
                if name not in written:
                    _tar_member(tf, name, l)
                    written.add(name)
                names.append(name)
            _tar_member(tf, cfg_name, cfg)
            manifest.append({"Config": cfg_name, "RepoTags": [tag], "Layers": names})
        _tar_member(tf, "manifest.json", json.dumps(manifest).encode())


def big_layers(busybox_tar, mib):
    with open(busybox_tar, "rb") as f:
        base = f.read()
    # Random data does not compress: push and pull move all of it.
    return [base, _layer_with_file("data/random.bin", os.urandom(mib << 20))]


def write_big_archive(out, tag, layers, label):
    _write_archive(out, [(tag, layers, label)])


def write_many_archive(out, tag_fmt, n):
    """n distinct images (own config and one small layer each)."""
    imgs = [(tag_fmt % i, [_layer_with_file("id", (b"%d\n" % i) * 64)], "many-%d" % i) for i in range(n)]
    _write_archive(out, imgs)


def seed_registry(addr, repo, tag, layers, label):
    """Upload an image (gzip layers, Docker schema 2) with plain HTTP."""
    descs = []

    def upload(blob):
        digest = _sha(blob)
        base = "http://%s/v2/%s/blobs/" % (addr, repo)
        try:
            urllib.request.urlopen(urllib.request.Request(base + digest, method="HEAD"), timeout=60)
            return digest
        except urllib.error.HTTPError:
            pass
        r = urllib.request.urlopen(urllib.request.Request(base + "uploads/", data=b"", method="POST"), timeout=60)
        loc = r.headers["Location"]
        if loc.startswith("/"):
            loc = "http://%s%s" % (addr, loc)
        sep = "&" if "?" in loc else "?"
        req = urllib.request.Request(loc + sep + "digest=" + digest, data=blob, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(req, timeout=300)
        return digest

    diff_ids = []
    for l in layers:
        diff_ids.append(_sha(l))
        gz = gzip.compress(l, compresslevel=1, mtime=0)
        descs.append({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                      "size": len(gz), "digest": upload(gz)})
    cfg = _config(diff_ids, label)
    man = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(cfg), "digest": upload(cfg)},
        "layers": descs,
    }
    req = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (addr, repo, tag),
                                 data=json.dumps(man).encode(), method="PUT",
                                 headers={"Content-Type": man["mediaType"]})
    urllib.request.urlopen(req, timeout=60)
