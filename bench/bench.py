#!/usr/bin/env python3
"""Berth, Docker and Podman side by side on this machine, in one run.

Started by bench/run.sh (which installs the engines and builds Berth). Every
engine gets its own data and state directories under one temporary directory
and its own socket. Containers run with --network none except in the bridge
figures: there Berth uses its berth0, dockerd a bridge this run creates
(benchdk0, a private subnet not routed on the host; never docker0) and podman
its default CNI network; what they leave on the host (bridges, CNI iptables
chains, CNI state) is removed at the end. Each timed figure runs the engines in turn, in blocks
of samples (the order rotating, a quiet pause when the engine changes), so
that a machine whose speed drifts affects all of them alike and no engine's
background work lands in another's samples. Everything started here is stopped by PID at the end, also on
failure or interrupt, and the temporary directory is removed.

Environment: QUICK=1 (few repetitions), REPS / REPS_SLOW / REPS_HUGE (override
counts; REPS_HUGE for the 1 GiB figures), BLOCKS (blocks per engine, default
3), SETTLE (seconds of quiet between engines, default 1.5), IDLE (seconds of
quiet before each sample of the *_idle figures, default 2),
BIG_MIB (size of the random layer, default 100), TEN_LAYER_MIB (each random
layer of the 10-layer image, default 10), ONLY (comma-separated figure
ids), ENGINES (comma-separated subset of berth,docker,podman), BERTH_BIN
(directory with berthd, berth, berth-shim), BUSYBOX_TAR, OUT (results dir).
"""

import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import images  # noqa: E402

QUICK = os.environ.get("QUICK", "") not in ("", "0")
REPS = int(os.environ.get("REPS", "3" if QUICK else "15"))
REPS_SLOW = int(os.environ.get("REPS_SLOW", "2" if QUICK else "5"))
REPS_HUGE = int(os.environ.get("REPS_HUGE", "1" if QUICK else str(REPS_SLOW)))
BLOCKS = int(os.environ.get("BLOCKS", "3"))
SETTLE = float(os.environ.get("SETTLE", "1.5"))
IDLE = float(os.environ.get("IDLE", "2"))
BIG_MIB = int(os.environ.get("BIG_MIB", "100"))
TEN_LAYER_MIB = int(os.environ.get("TEN_LAYER_MIB", "10"))  # each of the 9 random layers of the 10-layer image
GIB = 1 << 30
ONLY = [x for x in os.environ.get("ONLY", "").split(",") if x]
ENGINE_NAMES = [x for x in os.environ.get("ENGINES", "berth,docker,podman").split(",") if x]
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("OUT", os.path.join(HERE, "results"))
CMD_TIMEOUT = 300


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def first_line(text):
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Usage:", "See '", "Run '")):
            return line[:200]
    return "no output"


class CmdError(Exception):
    pass


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


class Proc:
    """A background process we started; stopped by its PID."""

    def __init__(self, argv, logpath, env=None):
        self.logf = open(logpath, "ab")
        self.logpath = logpath
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL,
                                  env=env, start_new_session=True)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=20):
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(5)
            except ProcessLookupError:
                pass
        self.logf.close()

    def tail(self, n=5):
        try:
            with open(self.logpath, errors="replace") as f:
                return " | ".join(l.strip() for l in f.readlines()[-n:])
        except OSError:
            return ""


def procs_matching(pred):
    """PIDs of processes whose (comm, cmdline) satisfy pred."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                comm = f.read().strip()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if pred(comm, cmdline):
            out.append(int(d))
    return out


def mem_kib(pid, field):
    """VmRSS from status, or Pss from smaps_rollup, in KiB (0 if gone)."""
    try:
        if field == "rss":
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        else:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        return int(line.split()[1])
    except OSError:
        pass
    return 0


def sh(*argv, check=False):
    r = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), first_line(r.stderr.decode(errors="replace"))))
    return r.stdout.decode(errors="replace")


def link_exists(name):
    return os.path.exists("/sys/class/net/" + name)


def free_subnet():
    """A private /24 that no route on the host overlaps (for benchdk0)."""
    routed = []
    kinds = ("broadcast", "local", "unreachable", "blackhole", "prohibit", "throw", "multicast", "anycast", "nat")
    for line in sh("ip", "-4", "route", "show", "table", "all").splitlines():
        w = line.split()
        if w and w[0] in kinds:
            w = w[1:]
        if not w or w[0] == "default":
            continue
        try:
            routed.append(ipaddress.ip_network(w[0], strict=False))
        except ValueError:
            pass
    for third in range(213, 250):
        n = ipaddress.ip_network("10.%d.0.0/24" % third)
        if not any(n.overlaps(r) for r in routed if r.prefixlen > 0):
            return n
    raise RuntimeError("no free 10.x.0.0/24 subnet for the docker bridge")


def nft_tables():
    return set(l.strip() for l in sh("nft", "list", "tables").splitlines() if l.strip())


class Engine:
    name = ""
    label = ""

    def __init__(self, work):
        self.work = os.path.join(work, self.name)
        os.makedirs(self.work, exist_ok=True)
        self.reason = None  # set when the engine cannot be used at all
        self.daemon = None
        self.env = dict(os.environ)
        self.version = ""

    # --- commands
    def argv(self, *args):
        return self.cli + list(args)

    def run(self, *args, check=True, timeout=CMD_TIMEOUT):
        r = subprocess.run(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, env=self.env, timeout=timeout)
        out = r.stdout.decode(errors="replace")
        if check and r.returncode != 0:
            raise CmdError("`%s` exit %d: %s" % (args[0], r.returncode,
                                                first_line(r.stderr.decode(errors="replace") + out)))
        return out

    def run_flags(self):
        return ["--network", "none"]

    def run3(self, *args, timeout=CMD_TIMEOUT):
        """(exit code, stdout, stderr) of a CLI command."""
        r = subprocess.run(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, env=self.env, timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def rm_force(self):
        return ["rm", "-f"]

    # --- memory
    def engine_pids(self, with_shims):
        raise NotImplementedError

    def mem(self, field, with_shims=True):
        return sum(mem_kib(p, field) for p in self.engine_pids(with_shims)) / 1024.0

    def stop(self):
        if hasattr(self, "cli"):
            try:
                ids = self.run("ps", "-q", check=False, timeout=60).split()
                if ids:
                    self.run(*self.rm_force(), *ids, check=False, timeout=120)
            except Exception as e:  # keep stopping
                log(self.name, "removing containers:", e)
        if self.daemon:
            self.daemon.stop()
        # Shims left behind (live-restore keeps them by design) go by PID too.
        for pid in procs_matching(lambda c, cl: self.work in cl):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Berth(Engine):
    name, label = "berth", "Berth"

    def start(self, binDir, insecure):
        w = self.work
        cfg = os.path.join(w, "daemon.json")
        with open(cfg, "w") as f:
            f.write("{}\n")
        self.sock = os.path.join(w, "berth.sock")
        argv = [os.path.join(binDir, "berthd"), "--data-root", w + "/data", "--exec-root", w + "/exec",
                "-H", "unix://" + self.sock, "--pidfile", w + "/berthd.pid", "--config-file", cfg]
        # --iptables stays on: published ports are nftables rules in Berth's
        # own table (berth-<hash of exec-root>), removed when berthd stops.
        import hashlib
        self.table = "berth-" + hashlib.sha256((w + "/exec").encode()).hexdigest()[:8]
        self.had_berth0 = link_exists("berth0")
        for r in insecure:
            argv += ["--insecure-registry", r]
        self.env["PATH"] = binDir + ":" + self.env.get("PATH", "")
        self.env["DOCKER_CONFIG"] = os.path.join(w, "client-config")
        self.daemon = Proc(argv, w + "/berthd.log", self.env)
        self.cli = [os.path.join(binDir, "berth"), "-H", "unix://" + self.sock]
        wait_for(lambda: self.daemon.alive() and self.run("version", timeout=5) is not None, 30,
                 "berthd: " + self.daemon.tail())
        self.version = self.run("version", "--format", "{{.Server.Version}}", check=False).strip()

    def stop(self):
        super().stop()
        # berthd removes these itself when it stops cleanly; on a crash, we do.
        if hasattr(self, "table") and ("table ip " + self.table) in nft_tables():
            sh("nft", "delete", "table", "ip", self.table)
        if hasattr(self, "had_berth0") and not self.had_berth0 and link_exists("berth0"):
            sh("ip", "link", "del", "berth0")

    def engine_pids(self, with_shims):
        pids = [self.daemon.pid]
        if with_shims:
            pids += procs_matching(lambda c, cl: c == "berth-shim" and self.work in cl)
        return pids


BENCH_BRIDGE = "benchdk0"


class Docker(Engine):
    name, label = "docker", "Docker"

    def stop(self):
        super().stop()
        if getattr(self, "bridge", None) and link_exists(self.bridge):
            sh("ip", "link", "del", self.bridge)

    def start(self, insecure):
        w = self.work
        cfg = os.path.join(w, "daemon.json")
        with open(cfg, "w") as f:
            json.dump({"insecure-registries": insecure}, f)
        self.sock = os.path.join(w, "docker.sock")
        # Its default bridge is one of ours (never docker0), on a private
        # subnet no route on the host overlaps; removed in stop().
        if link_exists(BENCH_BRIDGE):
            raise RuntimeError("%s already exists (another bench run?)" % BENCH_BRIDGE)
        net = free_subnet()
        self.bridge = BENCH_BRIDGE
        sh("ip", "link", "add", BENCH_BRIDGE, "type", "bridge", check=True)
        sh("ip", "addr", "add", "%s/%d" % (net[1], net.prefixlen), "dev", BENCH_BRIDGE, check=True)
        sh("ip", "link", "set", BENCH_BRIDGE, "up", check=True)
        argv = ["dockerd", "--data-root", w + "/data", "--exec-root", w + "/exec", "-H", "unix://" + self.sock,
                "--pidfile", w + "/dockerd.pid", "--config-file", cfg, "-b", BENCH_BRIDGE, "--iptables=false",
                "--ip6tables=false", "--ip-masq=false", "--storage-driver", "overlay2"]
        self.env["DOCKER_CONFIG"] = os.path.join(w, "client-config")
        self.daemon = Proc(argv, w + "/dockerd.log", self.env)
        self.cli = ["docker", "-H", "unix://" + self.sock]
        wait_for(lambda: self.daemon.alive() and self.run("version", timeout=5) is not None, 60,
                 "dockerd: " + self.daemon.tail())
        self.version = self.run("version", "--format", "{{.Server.Version}}", check=False).strip()

    def engine_pids(self, with_shims):
        # dockerd and the containerd it started; shims: containerd-shim-runc-v2
        # (runc itself exits once the container runs; its state is files).
        def match(c, cl):
            if self.work not in cl:
                return False
            return c == "containerd" or (with_shims and c.startswith("containerd-shim"))
        return [self.daemon.pid] + procs_matching(match)


class Podman(Engine):
    name, label = "podman", "Podman"

    def rm_force(self):
        # podman's rm -f waits the stop timeout (10 s for a PID 1 that ignores
        # SIGTERM) before SIGKILL; docker's kills at once. -t 0 does the same.
        return ["rm", "-f", "-t", "0"]

    def start(self, insecure):
        w = self.work
        os.makedirs(w + "/tmp", exist_ok=True)
        with open(w + "/storage.conf", "w") as f:
            f.write('[storage]\ndriver = "overlay"\ngraphroot = "%s/root"\nrunroot = "%s/run"\n' % (w, w))
        # crun refuses this host's hybrid cgroup v1/v2 layout, and root here
        # lacks CAP_SYS_RESOURCE, so podman's default rlimits (1048576) fail:
        # runc and limits within the hard ones.
        import resource

        def hard(res, cap):
            h = resource.getrlimit(res)[1]
            return cap if h == resource.RLIM_INFINITY else min(h, cap)
        nproc = hard(resource.RLIMIT_NPROC, 32768)
        nofile = hard(resource.RLIMIT_NOFILE, 20000)
        with open(w + "/containers.conf", "w") as f:
            f.write('[containers]\ndefault_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]\n' % (nofile, nofile, nproc, nproc))
            f.write('[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    'events_logfile_path = "%s/events.log"\ntmp_dir = "%s/tmp"\nvolume_path = "%s/root/volumes"\n'
                    'static_dir = "%s/root/libpod"\n' % (w, w, w, w))
            f.write('[network]\nnetwork_backend = "cni"\nnetwork_config_dir = "%s/cni"\n' % w)
        with open(w + "/registries.conf", "w") as f:
            f.write("unqualified-search-registries = []\n")
            for r in insecure:
                f.write('[[registry]]\nlocation = "%s"\ninsecure = true\n' % r)
        self.env.update(CONTAINERS_STORAGE_CONF=w + "/storage.conf", CONTAINERS_CONF=w + "/containers.conf",
                        CONTAINERS_REGISTRIES_CONF=w + "/registries.conf", REGISTRY_AUTH_FILE=w + "/auth.json")
        with open(w + "/auth.json", "w") as f:
            f.write('{"auths": {}}\n')
        self.cli = ["podman", "--root", w + "/root", "--runroot", w + "/run"]
        # Its default CNI network leaves a bridge, iptables chains and IPAM
        # state on the host: note what was there, remove the rest in stop().
        self.host_before = cni_snapshot()
        self.run("info")
        self.version = self.run("version", "--format", "{{.Client.Version}}", check=False).strip()

    def engine_pids(self, with_shims):
        # Daemonless: between commands only conmon (one per container) runs.
        if not with_shims:
            return []
        return procs_matching(lambda c, cl: c == "conmon" and self.work in cl)

    def stop(self):
        super().stop()
        try:
            self.run("system", "reset", "-f", check=False, timeout=120)  # unmounts its storage
        except Exception:
            pass
        if hasattr(self, "host_before"):
            cleanup_cni(self.host_before)


CNI_BRIDGE = "cni-podman0"
CNI_DIRS = ("/var/lib/cni", "/run/cni")


def ipt_rules(tool, table):
    return sh(tool, "-w", "-t", table, "-S").splitlines()


def cni_snapshot():
    snap = {"bridge": link_exists(CNI_BRIDGE), "dirs": {d: os.path.exists(d) for d in CNI_DIRS},
            "tables": nft_tables(), "chains": {}}
    for tool in ("iptables", "ip6tables"):
        for t in ("nat", "filter", "mangle"):
            snap["chains"][(tool, t)] = {l.split()[1] for l in ipt_rules(tool, t) if l.startswith("-N ")}
    return snap


def cleanup_cni(before):
    """Remove what podman's CNI plugins added to the host since `before`:
    CNI-* iptables chains (and the jumps to them), the bridge, IPAM state,
    and the iptables-nft tables that were not there and are now empty."""
    for (tool, t), had in before["chains"].items():
        rules = ipt_rules(tool, t)
        new = {l.split()[1] for l in rules if l.startswith("-N ")} - had
        new = {c for c in new if c.startswith("CNI-")}
        if not new:
            continue
        for l in rules:
            w = shlex.split(l)  # comments are quoted
            if w[0] == "-A" and "-j" in w and w[w.index("-j") + 1] in new and w[1] not in new:
                sh(tool, "-w", "-t", t, "-D", *w[1:])
        for c in new:
            sh(tool, "-w", "-t", t, "-F", c)
        for c in new:
            sh(tool, "-w", "-t", t, "-X", c)
    for tbl in nft_tables() - before["tables"]:
        fam, name = tbl.split()[1:3]
        if name in ("nat", "filter", "mangle"):
            tool = "iptables" if fam == "ip" else "ip6tables" if fam == "ip6" else None
            if tool and not [l for l in ipt_rules(tool, name) if l.startswith(("-A ", "-N "))]:
                sh("nft", "delete", "table", fam, name)
    if not before["bridge"] and link_exists(CNI_BRIDGE):
        sh("ip", "link", "del", CNI_BRIDGE)
    for d, had in before["dirs"].items():
        if not had:
            shutil.rmtree(d, ignore_errors=True)


class Registry:
    def __init__(self, work, name):
        self.dir = os.path.join(work, "registry-" + name)
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.proc = None

    def start(self, wipe=False):
        if self.proc:
            self.proc.stop()
        if wipe:
            shutil.rmtree(self.dir + "/storage", ignore_errors=True)
        os.makedirs(self.dir + "/storage", exist_ok=True)
        cfg = self.dir + "/config.yml"
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n"
                    "  filesystem:\n    rootdirectory: %s/storage\n  delete:\n    enabled: true\n"
                    "http:\n  addr: %s\n" % (self.dir, self.addr))
        self.proc = Proc(["docker-registry", "serve", cfg], self.dir + "/registry.log")
        import urllib.request
        wait_for(lambda: urllib.request.urlopen("http://%s/v2/" % self.addr, timeout=2).status == 200, 20,
                 "registry: " + self.proc.tail())

    def stop(self):
        if self.proc:
            self.proc.stop()


# ---------------------------------------------------------------- figures


class Figure:
    """A timed figure: per engine, setup once; per sample prepare, timed
    commands, cleanup; teardown at the end. With measure instead of cmds,
    a sample is what measure(e, i) returns, in unit (huge: 1 GiB figures,
    REPS_HUGE samples; pause: seconds of quiet before each sample, for the
    figures of a lone command on an idle machine)."""

    def __init__(self, fid, title, slow=False, setup=None, prepare=None, cmds=None, cleanup=None, teardown=None,
                 measure=None, unit="ms", huge=False, pause=0):
        self.id, self.title, self.slow, self.unit, self.huge = fid, title, slow, unit, huge
        self.pause = pause  # seconds of quiet before every sample
        self.measure = measure
        self.setup = setup or (lambda e: None)
        self.prepare = prepare or (lambda e, i: None)
        self.cmds = cmds
        self.cleanup = cleanup or (lambda e, i: None)
        self.teardown = teardown or (lambda e: None)


def timed(e, cmds):
    t0 = time.perf_counter()
    for c in cmds:
        r = subprocess.run(e.argv(*c), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, env=e.env, timeout=CMD_TIMEOUT)
        if r.returncode != 0:
            raise CmdError("`%s` exit %d: %s" % (c[0], r.returncode,
                                                first_line(r.stderr.decode(errors="replace"))))
    return time.perf_counter() - t0


def sample(fig, e, i):
    if fig.measure:
        return fig.measure(e, i)
    return timed(e, fig.cmds(e, i)) * 1000  # ms


def run_timed(fig, engines):
    reps = REPS_HUGE if fig.huge else REPS_SLOW if fig.slow else REPS
    res = {}
    live = []
    for e in engines:
        if e.reason:
            res[e.name] = {"missing": e.reason}
            continue
        try:
            t0 = time.time()
            fig.setup(e)
            log(fig.id, e.name, "setup %.1fs" % (time.time() - t0))
            # One untimed try: it warms caches and tells whether the engine can do it.
            fig.prepare(e, -1)
            try:
                sample(fig, e, -1)
            finally:
                fig.cleanup(e, -1)
            live.append(e)
            res[e.name] = {"samples": []}
        except Exception as ex:
            reason = str(ex)
            sub = fig.cmds(e, -1)[0][0] if fig.cmds else None
            if sub and not has_command(e, sub):
                reason = "no `%s` command (%s)" % (sub, reason)
            res[e.name] = {"missing": reason}
            log(fig.id, e.name, "missing:", reason)
            try:
                fig.teardown(e)
            except Exception:
                pass
    # Engines take turns in blocks of samples, the first engine changing
    # from block to block, with SETTLE seconds of quiet whenever the engine
    # changes, then one untimed warm-up sample: an engine's background work after a command (Berth keeps a
    # kernel lock warm for a second after a start or exec, dockerd and
    # containerd have their own) must not land in another engine's sample.
    nblocks = max(1, min(BLOCKS, reps))
    bounds = [reps * b // nblocks for b in range(nblocks + 1)]
    prev = engines[-1].name if engines else None
    for b in range(nblocks):
        k = b % max(1, len(live))
        for e in live[k:] + live[:k]:
            r = res[e.name]
            if "missing" in r:
                continue
            if prev != e.name:
                time.sleep(SETTLE)
                prev = e.name
                # A block starts with an untimed warm-up sample, as
                # hyperfine's --warmup: the engine's first command after
                # the pause pays for waking it (what the *_idle figures
                # measure on purpose).
                if not (fig.slow or fig.huge or fig.pause):
                    try:
                        fig.prepare(e, -2)
                        sample(fig, e, -2)
                    except Exception as ex:
                        log(fig.id, e.name, "warm-up failed:", ex)
                    finally:
                        try:
                            fig.cleanup(e, -2)
                        except Exception as ex:
                            log(fig.id, e.name, "cleanup:", ex)
            for i in range(bounds[b], bounds[b + 1]):
                if "missing" in r:
                    break
                if fig.pause:
                    time.sleep(fig.pause)
                try:
                    fig.prepare(e, i)
                    r["samples"].append(sample(fig, e, i))
                except Exception as ex:
                    r["errors"] = r.get("errors", 0) + 1
                    if r["errors"] >= 2:
                        r["missing"] = "failed while measuring: %s" % ex
                    log(fig.id, e.name, "sample failed:", ex)
                finally:
                    try:
                        fig.cleanup(e, i)
                    except Exception as ex:
                        log(fig.id, e.name, "cleanup:", ex)
    for e in live:
        try:
            fig.teardown(e)
        except Exception as ex:
            log(fig.id, e.name, "teardown:", ex)
    for r in res.values():
        if "samples" in r and "missing" not in r:
            r["samples"] = [round(s, 2) for s in r["samples"]]
    return res


def has_command(e, name):
    """Whether the CLI's --help lists the command (docker's layout)."""
    try:
        out = e.run("--help", check=False, timeout=30)
    except Exception:
        return True
    return any(l.startswith("  ") and l.split()[:1] == [name] for l in out.splitlines())


def quiet(e, *args):
    e.run(*args, check=False)


def parallel(e, argvs, n=4):
    """Run many setup commands, a few at a time (setup is not timed)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(n) as ex:
        list(ex.map(lambda a: e.run(*a), argvs))


def make_figures(ctx):
    img = ctx["base"]
    big = ctx["big_ref"]
    push_ref = ctx["push_ref"]
    figs = []

    figs.append(Figure("run_rm", "`run --rm true`",
                       cmds=lambda e, i: [["run", "--rm", *e.run_flags(), img, "true"]]))
    figs.append(Figure("run_d_rm", "`run -d` + `rm -f`",
                       cmds=lambda e, i: [["run", "-d", "--name", "b-rd-%d" % i, *e.run_flags(), img, "sleep", "1000"],
                                          [*e.rm_force(), "b-rd-%d" % i]],
                       cleanup=lambda e, i: quiet(e, *e.rm_force(), "b-rd-%d" % i)))
    figs.append(Figure("create", "`create`",
                       cmds=lambda e, i: [["create", "--name", "b-cr-%d" % i, *e.run_flags(), img, "true"]],
                       cleanup=lambda e, i: quiet(e, *e.rm_force(), "b-cr-%d" % i)))
    figs.append(Figure("start", "`start` (created container)",
                       prepare=lambda e, i: e.run("create", "--name", "b-st-%d" % i, *e.run_flags(), img, "true"),
                       cmds=lambda e, i: [["start", "b-st-%d" % i]],
                       cleanup=lambda e, i: quiet(e, *e.rm_force(), "b-st-%d" % i)))
    figs.append(Figure("exec", "`exec true`",
                       setup=lambda e: e.run("run", "-d", "--name", "b-exec", *e.run_flags(), img, "sleep", "100000"),
                       cmds=lambda e, i: [["exec", "b-exec", "true"]],
                       teardown=lambda e: quiet(e, *e.rm_force(), "b-exec")))
    # The same two commands alone, after IDLE seconds with nothing running:
    # what one command typed at a prompt costs, caches and locks cold.
    figs.append(Figure("run_rm_idle", "`run --rm true` after %g s idle" % IDLE, slow=True, pause=IDLE,
                       cmds=lambda e, i: [["run", "--rm", *e.run_flags(), img, "true"]]))
    figs.append(Figure("exec_idle", "`exec true` after %g s idle" % IDLE, slow=True, pause=IDLE,
                       setup=lambda e: e.run("run", "-d", "--name", "b-exec-idle", *e.run_flags(), img, "sleep", "100000"),
                       cmds=lambda e, i: [["exec", "b-exec-idle", "true"]],
                       teardown=lambda e: quiet(e, *e.rm_force(), "b-exec-idle")))

    def rm_big(e, i=None):
        for r in (big, push_ref):
            quiet(e, "rmi", "-f", r)
    figs.append(Figure("load", "`load` %d MiB image" % ctx["big_mib"], slow=True, prepare=rm_big,
                       cmds=lambda e, i: [["load", "-i", ctx["big_tar"]]]))

    def have_big(e):
        if e.run("images", "-q", big).strip() == "":
            e.run("load", "-i", ctx["big_tar"], timeout=600)
    out = lambda e: os.path.join(ctx["work"], "save-%s.tar" % e.name)  # noqa: E731
    figs.append(Figure("save", "`save` %d MiB image" % ctx["big_mib"], slow=True, setup=have_big,
                       cmds=lambda e, i: [["save", "-o", out(e), big]],
                       cleanup=lambda e, i: os.path.exists(out(e)) and os.remove(out(e))))

    def need_registry(e):
        if ctx["reg_reason"]:
            raise RuntimeError(ctx["reg_reason"])

    def push_setup(e):
        need_registry(e)
        have_big(e)
        e.run("tag", big, push_ref)
    figs.append(Figure("push", "`push` %d MiB image, local registry" % ctx["big_mib"], slow=True,
                       setup=push_setup,
                       prepare=lambda e, i: ctx["push_registry"].start(wipe=True),
                       cmds=lambda e, i: [["push", push_ref]],
                       teardown=lambda e: quiet(e, "rmi", push_ref)))
    figs.append(Figure("pull", "`pull` %d MiB image, local registry" % ctx["big_mib"], slow=True,
                       setup=need_registry, prepare=rm_big, cmds=lambda e, i: [["pull", big]]))
    ten = ctx["ten_ref"]
    figs.append(Figure("pull10", "`pull` 10-layer image (%d MiB), local registry" % ctx["ten_mib"], slow=True,
                       setup=need_registry, prepare=lambda e, i: quiet(e, "rmi", "-f", ten),
                       cmds=lambda e, i: [["pull", ten]], teardown=lambda e: quiet(e, "rmi", "-f", ten)))

    def pull_big(e):
        need_registry(e)
        if e.run("images", "-q", big).strip() == "":
            e.run("pull", big, timeout=600)
    figs.append(Figure("pull_present", "`pull` of an image already present", setup=pull_big,
                       cmds=lambda e, i: [["pull", big]]))

    def ctxdir(e, tag):
        d = os.path.join(ctx["work"], "build-%s-%s" % (e.name, tag))
        os.makedirs(d, exist_ok=True)
        with open(d + "/Dockerfile", "w") as f:
            f.write("FROM %s\nRUN echo %s > /stamp\nCOPY file /file\nRUN cat /file /stamp > /both\n" % (img, tag))
        with open(d + "/file", "wb") as f:
            f.write(b"x" * 4096)
        return d

    def build_argv(e, tag, d):
        return ["build", "--network", "none", "-t", "127.0.0.1:1/bench/built:" + tag, d]
    figs.append(Figure("build_first", "`build`, first (no cache)", slow=True,
                       cmds=lambda e, i: [build_argv(e, "f%d%s" % (i + 1, ctx["nonce"]),
                                                     ctxdir(e, "f%d%s" % (i + 1, ctx["nonce"])))],
                       cleanup=lambda e, i: quiet(e, "rmi", "-f", "127.0.0.1:1/bench/built:f%d%s" % (i + 1, ctx["nonce"]))))
    figs.append(Figure("build_cached", "`build`, cached",
                       setup=lambda e: e.run(*build_argv(e, "cached", ctxdir(e, "cached"))),
                       cmds=lambda e, i: [build_argv(e, "cached", ctxdir(e, "cached"))],
                       teardown=lambda e: quiet(e, "rmi", "-f", "127.0.0.1:1/bench/built:cached")))

    def stats_setup(e):
        parallel(e, [["run", "-d", "--name", "b-stats-%d" % n, *e.run_flags(), img, "sleep", "100000"]
                     for n in range(20)])
    figs.append(Figure("stats_20", "`stats --no-stream`, 20 containers", slow=True, setup=stats_setup,
                       cmds=lambda e, i: [["stats", "--no-stream"]],
                       teardown=lambda e: quiet(e, *e.rm_force(), *["b-stats-%d" % n for n in range(20)])))
    figs += cp_figures(ctx)
    figs += volume_figures(ctx)
    figs += network_figures(ctx)

    # Last, and left in place: removing 100 containers and 200 images would
    # cost minutes, and the engines' data-roots are deleted at the end anyway.
    def ps_setup(e):
        parallel(e, [["create", "--name", "b-ps-%d" % n, *e.run_flags(), img, "true"] for n in range(100)])
    figs.append(Figure("ps_100", "`ps -a`, 100 containers", setup=ps_setup,
                       cmds=lambda e, i: [["ps", "-a"]]))

    figs.append(Figure("images_200", "`images`, 200 images",
                       setup=lambda e: e.run("load", "-i", ctx["many_tar"], timeout=600),
                       cmds=lambda e, i: [["images"]]))

    return figs


def cp_figures(ctx):
    """`cp` of a 100 MiB file (random, so nothing compresses) into and out of
    a running container."""
    img = ctx["base"]
    payload = os.path.join(ctx["work"], "cp-payload")
    if not os.path.exists(payload):
        with open(payload, "wb") as f:
            for _ in range(100):
                f.write(os.urandom(1 << 20))
    out = lambda e: os.path.join(ctx["work"], "cp-out-%s" % e.name)  # noqa: E731

    def setup(e):
        e.run("run", "-d", "--name", "b-cp", *e.run_flags(), img, "sleep", "100000")
        e.run("cp", payload, "b-cp:/tmp/payload", timeout=600)

    def rm_out(e, i):
        if os.path.exists(out(e)):
            os.remove(out(e))
    teardown = lambda e: quiet(e, *e.rm_force(), "b-cp")  # noqa: E731
    return [
        Figure("cp_in", "`cp` 100 MiB file into a container", slow=True, setup=setup,
               cmds=lambda e, i: [["cp", payload, "b-cp:/tmp/in"]], teardown=teardown),
        Figure("cp_out", "`cp` 100 MiB file out of a container", slow=True, setup=setup,
               cmds=lambda e, i: [["cp", "b-cp:/tmp/payload", out(e)]], cleanup=rm_out, teardown=teardown),
    ]


TIME_RE = re.compile(r"real\s+(?:(\d+)h\s*)?(\d+)m\s*([0-9.]+)s")


USEC_RE = re.compile(r"time\.tv_sec:\s*(\d+)\s+time\.tv_usec:\s*(\d+)")


def dd_script(dd):
    """A container command timing dd alone (busybox dd prints no rate):
    busybox adjtimex (a read-only adjtimex(2)) prints the clock in µs before
    and after; `time` (10 ms steps) is the fallback."""
    return ["sh", "-c", "adjtimex 2>/dev/null; time %s; rc=$?; adjtimex 2>/dev/null; exit $rc" % " ".join(dd)]


def dd_mbps(e, *args):
    """Run a dd_script container: MB/s (10^6 bytes) of the dd alone, so
    container start-up is not in it."""
    rc, out, err = e.run3(*args, timeout=600)
    if rc != 0:
        raise CmdError("`%s` exit %d: %s" % (args[0], rc, first_line(err + out)))
    if "1024+0 records out" not in err:
        raise RuntimeError("dd did not copy 1 GiB: " + " ".join(err.split())[:200])
    ts = [int(a) + int(b) / 1e6 for a, b in USEC_RE.findall(out)]
    if len(ts) == 2:
        secs = ts[1] - ts[0]
    else:
        log(e.name, "adjtimex gave no clock in the container; timing dd with busybox time (10 ms steps)")
        m = TIME_RE.search(err)
        if not m:
            raise RuntimeError("no time summary in: " + " ".join(err.split())[:200])
        secs = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return GIB / 1e6 / max(secs, 0.01)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def volume_figures(ctx):
    """1 GiB written to and read back from a named volume (dd's own MB/s, so
    container start is not in it), and create with 10 named-volume mounts."""
    img = ctx["base"]
    vol = "b-vol"
    dd_w = ["dd", "if=/dev/zero", "of=/v/f", "bs=1M", "count=1024", "conv=fsync"]
    dd_r = ["dd", "if=/v/f", "of=/dev/null", "bs=1M"]

    def rm_file(e, i):
        e.run("run", "--rm", *e.run_flags(), "-v", vol + ":/v", img, "rm", "-f", "/v/f")
        drop_caches()
    figs = [Figure("vol_write", "write 1 GiB to a named volume (`dd conv=fsync`)", unit="MB/s", huge=True,
                   prepare=rm_file,
                   measure=lambda e, i: dd_mbps(e, "run", "--rm", *e.run_flags(), "-v", vol + ":/v", img,
                                                *dd_script(dd_w)),
                   teardown=lambda e: quiet(e, "volume", "rm", "-f", vol))]

    def have_file(e):
        e.run("run", "--rm", *e.run_flags(), "-v", vol + ":/v", img, *dd_w, timeout=600)
    figs.append(Figure("vol_read", "read 1 GiB from a named volume (page cache dropped)", unit="MB/s", huge=True,
                       setup=have_file, prepare=lambda e, i: drop_caches(),
                       measure=lambda e, i: dd_mbps(e, "run", "--rm", *e.run_flags(), "-v", vol + ":/v", img,
                                                    *dd_script(dd_r)),
                       teardown=lambda e: quiet(e, "volume", "rm", "-f", vol)))

    vols = ["b-cv%d" % n for n in range(10)]
    mounts = [a for n, v in enumerate(vols) for a in ("-v", "%s:/v%d" % (v, n))]
    figs.append(Figure("create_10vol", "`create`, 10 named-volume mounts",
                       setup=lambda e: [e.run("volume", "create", v) for v in vols],
                       cmds=lambda e, i: [["create", "--name", "b-cv-%d" % i, *e.run_flags(), *mounts, img, "true"]],
                       cleanup=lambda e, i: quiet(e, *e.rm_force(), "b-cv-%d" % i),
                       teardown=lambda e: quiet(e, "volume", "rm", "-f", *vols)))
    return figs


def tcp_listening(pid, port):
    """Whether the network namespace of pid has a TCP socket listening on port."""
    want = ":%04X" % port
    for f in ("/proc/%d/net/tcp" % pid, "/proc/%d/net/tcp6" % pid):
        try:
            with open(f) as fh:
                for line in fh.readlines()[1:]:
                    w = line.split()
                    if w[1].endswith(want) and w[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def send_gib(port):
    """Send 1 GiB to 127.0.0.1:port; done when the receiver has read it all
    and closed (its nc exits at EOF). MB/s (10^6 bytes)."""
    buf = bytes(1 << 20)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.settimeout(120)
        t0 = time.perf_counter()
        for _ in range(GIB // len(buf)):
            s.sendall(buf)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        dt = time.perf_counter() - t0
    finally:
        s.close()
    return GIB / 1e6 / dt


def network_figures(ctx):
    """On each engine's default bridge (no --network flag): run --rm, TCP
    through a published 127.0.0.1 port, start with 0 and 50 running."""
    img = ctx["base"]
    ports = {}

    def nc_up(e, i):
        name = "b-tcp-%d" % i
        ports[e.name] = free_port()
        # sleep keeps nc's stdin open, so nc closes the connection only at
        # the sender's EOF, after reading everything.
        e.run("run", "-d", "--name", name, "-p", "127.0.0.1:%d:9000" % ports[e.name], img,
              "sh", "-c", "sleep 100000 | nc -l -p 9000 >/dev/null")
        pid = int(e.run("inspect", "--format", "{{.State.Pid}}", name).strip())
        wait_for(lambda: tcp_listening(pid, 9000), 20, "nc listening in " + name)
    figs = [Figure("run_rm_bridge", "`run --rm true`, default bridge", cmds=lambda e, i: [["run", "--rm", img, "true"]]),
            Figure("tcp_publish", "TCP 1 GiB host → container, published 127.0.0.1 port", unit="MB/s", huge=True,
                   prepare=nc_up, measure=lambda e, i: send_gib(ports[e.name]),
                   cleanup=lambda e, i: quiet(e, *e.rm_force(), "b-tcp-%d" % i))]

    def start_fig(fid, title, n_running):
        names = ["b-br-%d" % n for n in range(n_running)]
        return Figure(fid, title,
                      setup=lambda e: parallel(e, [["run", "-d", "--name", c, img, "sleep", "100000"] for c in names]),
                      prepare=lambda e, i: e.run("create", "--name", "b-sb-%d" % i, img, "true"),
                      cmds=lambda e, i: [["start", "b-sb-%d" % i]],
                      cleanup=lambda e, i: quiet(e, *e.rm_force(), "b-sb-%d" % i),
                      teardown=lambda e: names and quiet(e, *e.rm_force(), *names))
    figs.append(start_fig("start_bridge", "`start`, default bridge, none running", 0))
    figs.append(start_fig("start_bridge_50", "`start`, default bridge, 50 running on it", 50))
    return figs


def memory_figures(ctx, engines, samples):
    """Idle daemon RSS, and per-container overhead with 10 running containers."""
    img = ctx["base"]
    idle, per_rss, per_pss = {}, {}, {}
    for e in engines:
        if e.reason:
            for d in (idle, per_rss, per_pss):
                d[e.name] = {"missing": e.reason}
            continue
        try:
            if isinstance(e, Podman):
                idle[e.name] = {"na": "daemonless: no engine process runs between commands"}
            else:
                idle[e.name] = {"samples": []}
            base_rss, base_pss = [], []
            for _ in range(samples):
                if "samples" in idle[e.name]:
                    idle[e.name]["samples"].append(round(e.mem("rss"), 2))
                base_rss.append(e.mem("rss"))
                base_pss.append(e.mem("pss"))
                time.sleep(0.3)
            names = ["b-mem-%d" % n for n in range(10)]
            for n in names:
                e.run("run", "-d", "--name", n, *e.run_flags(), img, "sleep", "100000")
            time.sleep(2)
            r0, p0 = statistics.median(base_rss), statistics.median(base_pss)
            per_rss[e.name] = {"samples": []}
            per_pss[e.name] = {"samples": []}
            for _ in range(samples):
                per_rss[e.name]["samples"].append(round((e.mem("rss") - r0) / 10, 2))
                per_pss[e.name]["samples"].append(round((e.mem("pss") - p0) / 10, 2))
                time.sleep(0.3)
            quiet(e, *e.rm_force(), *names)
        except Exception as ex:
            log("memory", e.name, ex)
            for d in (idle, per_rss, per_pss):
                if "samples" not in d.get(e.name, {}) or not d[e.name]["samples"]:
                    d[e.name] = {"missing": str(ex)}
    return [("idle_rss", "idle daemon RSS", "MiB", idle),
            ("per_container_rss", "per-container overhead, 10 running (RSS)", "MiB", per_rss),
            ("per_container_pss", "per-container overhead, 10 running (PSS)", "MiB", per_pss)]


# ---------------------------------------------------------------- report


def summarize(r):
    if "samples" in r and "missing" not in r and r["samples"]:
        s = r["samples"]
        r.update(min=min(s), median=statistics.median(s), max=max(s), n=len(s))
    elif "samples" in r and not r.get("samples") and "missing" not in r:
        r["missing"] = "no sample"
    return r


def fmt_num(x):
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def cell(r):
    if "median" in r:
        return "%s / **%s** / %s" % (fmt_num(r["min"]), fmt_num(r["median"]), fmt_num(r["max"]))
    if "na" in r:
        return "n/a: " + r["na"]
    return "missing: " + r.get("missing", "?").replace("|", "\\|")


def ratio(a, b):
    if "median" in a and "median" in b and b["median"] > 0:
        return round(a["median"] / b["median"], 2)
    return None


def report(rows, meta):
    lines = ["# Berth benchmark", "",
             "%s · %s · %d cores · load average before %s, after %s · QUICK=%s, %d samples (%d for slow figures)"
             % (meta["date"], meta["kernel"], meta["cores"], meta["load_before"], meta["load_after"],
                "1" if meta["quick"] else "0", meta["reps"], meta["reps_slow"]),
             "",
             "Engines: " + ", ".join("%s %s" % (k, v) for k, v in meta["versions"].items()),
             "",
             "Cells are min / **median** / max. Ratios are of medians: below 1 means Berth is faster or smaller, "
             "except in MB/s rows (throughput), where above 1 means Berth is faster.",
             "",
             "| figure | unit | Berth | Docker | Podman | Berth/Docker | Berth/Podman |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        e = row["engines"]
        rd, rp = row["ratio_docker"], row["ratio_podman"]
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            row["title"], row["unit"], cell(e.get("berth", {"missing": "not run"})),
            cell(e.get("docker", {"missing": "not run"})), cell(e.get("podman", {"missing": "not run"})),
            "%.2f" % rd if rd is not None else "–", "%.2f" % rp if rp is not None else "–"))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def main():
    bin_dir = os.environ.get("BERTH_BIN") or os.path.join(os.path.dirname(HERE), "bin")
    bb_tar = os.environ.get("BUSYBOX_TAR")
    reasons = {}
    for line in os.environ.get("ENGINE_MISSING", "").split(";"):
        if "=" in line:
            k, v = line.split("=", 1)
            reasons[k] = v
    load_before = "%.2f %.2f %.2f" % os.getloadavg()
    work = tempfile.mkdtemp(prefix="bb-", dir="/tmp")  # short: unix socket paths
    # podman keeps a blob-info cache here whatever --root says; remove it
    # only if this run made it.
    podman_cache = "/var/lib/containers"
    podman_cache_existed = os.path.exists(podman_cache)
    engines, regs = [], []
    stopping = {"now": False}

    def on_signal(sig, frame):
        if not stopping["now"]:
            raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    rows = []
    try:
        pull_reg, push_reg = Registry(work, "pull"), Registry(work, "push")
        reg_reason = os.environ.get("REGISTRY_MISSING")
        if not reg_reason and not shutil.which("docker-registry"):
            reg_reason = "docker-registry is not installed"
        if not reg_reason:
            regs = [pull_reg, push_reg]
            try:
                pull_reg.start()
                push_reg.start()
            except Exception as ex:
                reg_reason = "local registry did not start: %s" % ex
        insecure = [pull_reg.addr, push_reg.addr]
        nonce = "%x" % int(time.time())
        ctx = {"work": work, "reg_reason": reg_reason, "nonce": nonce, "big_mib": BIG_MIB, "push_registry": push_reg,
               "base": pull_reg.addr + "/bench/busybox:1", "big_ref": pull_reg.addr + "/bench/big:1",
               "push_ref": push_reg.addr + "/bench/big:1", "many_fmt": pull_reg.addr + "/bench/many:%d",
               "big_tar": os.path.join(work, "big.tar"), "many_tar": os.path.join(work, "many.tar"),
               "ten_ref": pull_reg.addr + "/bench/ten:1", "ten_mib": 9 * TEN_LAYER_MIB}
        log("making images: busybox + %d MiB random layer, 200 small images" % BIG_MIB)
        layers = images.big_layers(bb_tar, BIG_MIB)
        images.write_big_archive(ctx["big_tar"], ctx["big_ref"], layers, "big")
        if not reg_reason:
            images.seed_registry(pull_reg.addr, "bench/big", "1", layers, "big")
            ten = layers[:1] + [images._layer_with_file("data/%d.bin" % i, os.urandom(TEN_LAYER_MIB << 20)) for i in range(9)]
            images.seed_registry(pull_reg.addr, "bench/ten", "1", ten, "ten")
            del ten
        del layers
        images.write_many_archive(ctx["many_tar"], ctx["many_fmt"], 200)

        for name in ENGINE_NAMES:
            e = {"berth": Berth, "docker": Docker, "podman": Podman}[name](work)
            engines.append(e)
            if name in reasons:
                e.reason = reasons[name]
                continue
            try:
                log("starting", name)
                if name == "berth":
                    e.start(bin_dir, insecure)
                else:
                    e.start(insecure)
                e.run("import", bb_tar, ctx["base"], timeout=120)
            except Exception as ex:
                e.reason = "engine did not start: %s" % ex
                log(name, e.reason)
        time.sleep(3)  # let the daemons settle before idle memory

        mem_samples = 3 if QUICK else 10
        mem_rows = []
        if not ONLY or any(x.startswith(("idle", "per_")) for x in ONLY):
            log("memory figures")
            mem_rows = memory_figures(ctx, engines, mem_samples)
        for fig in make_figures(ctx):
            if ONLY and fig.id not in ONLY:
                continue
            log("figure", fig.id)
            rows.append({"id": fig.id, "title": fig.title, "unit": fig.unit, "engines": run_timed(fig, engines)})
        for fid, title, unit, res in mem_rows:
            rows.append({"id": fid, "title": title, "unit": unit, "engines": res})
        for row in rows:
            for r in row["engines"].values():
                summarize(r)
            eb = row["engines"].get("berth", {})
            row["ratio_docker"] = ratio(eb, row["engines"].get("docker", {}))
            row["ratio_podman"] = ratio(eb, row["engines"].get("podman", {}))
        meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "kernel": os.uname().release,
                "cores": os.cpu_count(), "load_before": load_before,
                "load_after": "%.2f %.2f %.2f" % os.getloadavg(), "quick": QUICK, "reps": REPS,
                "reps_slow": REPS_SLOW, "big_mib": BIG_MIB,
                "versions": {e.label: (e.version or "-") for e in engines},
                "method": "wall time of the whole CLI process, engines taking turns in %d blocks of samples, %g s of quiet between engines" % (BLOCKS, SETTLE)}
        md = report(rows, meta)
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, "latest.md"), "w") as f:
            f.write(md)
        with open(os.path.join(OUT, "latest.json"), "w") as f:
            json.dump({"meta": meta, "figures": rows}, f, indent=1)
        print(md)
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        stopping["now"] = True
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        log("stopping engines and registries")
        for e in engines:
            try:
                e.stop()
            except Exception as ex:
                log("stop", e.name, ex)
        for r in regs:
            r.stop()
        unmount_below(work)
        shutil.rmtree(work, ignore_errors=True)
        if not podman_cache_existed:
            shutil.rmtree(podman_cache, ignore_errors=True)


def unmount_below(path):
    with open("/proc/self/mountinfo") as f:
        mounts = [l.split()[4] for l in f]
    for m in sorted((m for m in mounts if m.startswith(path + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
