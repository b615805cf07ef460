# -*- coding: utf-8 -*-
# Copyright: contributors to nsops.namespaces
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named network namespaces on a private bridge (PRIVATE test lab).

    with NetnsLab() as lab:
        a = lab.add()                       # nsopslab-<token>-0, 10.213.X.2/24
        p = lab.popen(a, ["sleep", "100"])  # runs inside the netns (ip netns exec)
        lab.run(a, ["ip", "-br", "addr"])

Each namespace gets a veth pair: `eth0` inside, the host end enslaved to a
bridge in the root namespace that holds `.1` of a random /24 in 10.213.0.0/16
(checked against the host's routes).  Namespaces get no default route, so
nothing in them can reach beyond the bridge.  Teardown kills by PID every
process started through the lab or found in its namespaces, then deletes the
veths, the bridge and the namespaces, and unmounts /run/netns if a lab mounted
it and no namespace is left in it.
"""

import ipaddress
import os
import random
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass

from . import host_lock, registry_add, registry_discard, registry_items, track_live_lab, untrack_live_lab

__all__ = ["Netns", "NetnsLab", "NetnsLabError", "NETNS_DIR"]

NETNS_DIR = "/run/netns"
REGISTRY_KIND = "netns_mount"
POOL = ipaddress.ip_network("10.213.0.0/16")
CMD_TIMEOUT = 30


class NetnsLabError(RuntimeError):
    pass


@dataclass
class Netns:
    name: str          # ip netns name
    address: str       # address of eth0 inside, e.g. "10.213.7.2"
    prefixlen: int
    host_veth: str     # host end of the veth pair (on the bridge)

    @property
    def path(self):
        return os.path.join(NETNS_DIR, self.name)

    @property
    def inode(self):
        return os.stat(self.path).st_ino


def _ip(*args, check=True, namespace=None):
    cmd = ["ip"] + (["-n", namespace] if namespace else []) + list(args)
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
                          timeout=CMD_TIMEOUT)
    if check and proc.returncode != 0:
        raise NetnsLabError("%s failed (rc=%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()))
    return proc


def _is_mountpoint(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _starttime(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except FileNotFoundError:
        return None
    return int(data[data.rindex(")") + 2:].split()[19])


class NetnsLab:
    """Context manager: a bridge, named network namespaces on it, processes inside."""

    def __init__(self, prefix="nsopslab"):
        self.token = secrets.token_hex(3)
        self.prefix = "%s-%s" % (prefix, self.token)
        self.bridge = "nlb-%s" % self.token            # <= 15 chars (IFNAMSIZ)
        self.subnet = None
        self.bridge_address = None
        self.namespaces = []
        self._procs = []        # Popen objects started through popen()
        self._pids = []         # (pid, starttime) registered with track_pid()
        self._started = False
        self._closed = False
        self.owner_pid = os.getpid()

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def start(self):
        if os.geteuid() != 0:
            raise NetnsLabError("NetnsLab needs root")
        track_live_lab(self)
        self._started = True
        with host_lock():
            self.subnet = self._pick_subnet()
            self.bridge_address = str(next(self.subnet.hosts()))
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", "%s/%d" % (self.bridge_address, self.subnet.prefixlen),
                "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        return self

    def _pick_subnet(self):
        used = []
        for line in _ip("-4", "-o", "addr", "show").stdout.splitlines():
            parts = line.split()
            if "inet" in parts:
                used.append(ipaddress.ip_interface(parts[parts.index("inet") + 1]).network)
        for line in _ip("-4", "route", "show", "table", "all").stdout.splitlines():
            first = line.split()[0] if line.split() else ""
            if first[:1].isdigit():
                try:
                    net = ipaddress.ip_network(first, strict=False)
                except ValueError:
                    continue
                if net.prefixlen > 0:
                    used.append(net)
        candidates = list(POOL.subnets(new_prefix=24))
        random.shuffle(candidates)
        for net in candidates:
            if not any(net.overlaps(u) for u in used):
                return net
        raise NetnsLabError("no free /24 in %s" % POOL)

    # -- namespaces and processes ------------------------------------------

    def add(self, name=None):
        """Create a named netns with eth0 on the lab bridge; return a Netns."""
        if not self._started or self._closed:
            raise NetnsLabError("lab not started or already cleaned up")
        idx = len(self.namespaces)
        hosts = list(self.subnet.hosts())
        if idx + 1 >= len(hosts):
            raise NetnsLabError("subnet full")
        name = name or "%s-%d" % (self.prefix, idx)
        ns = Netns(name=name, address=str(hosts[idx + 1]), prefixlen=self.subnet.prefixlen,
                   host_veth="nlv%s-%d" % (self.token, idx))
        peer = "nlp%s-%d" % (self.token, idx)
        with host_lock():
            if not _is_mountpoint(NETNS_DIR):
                # `ip netns add` is about to mount /run/netns; whoever finds it
                # unused at the end unmounts it.
                registry_add(REGISTRY_KIND, [NETNS_DIR])
            _ip("netns", "add", name)
        self.namespaces.append(ns)
        _ip("link", "add", ns.host_veth, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", name)
        _ip("link", "set", peer, "name", "eth0", namespace=name)
        _ip("addr", "add", "%s/%d" % (ns.address, ns.prefixlen), "dev", "eth0", namespace=name)
        _ip("link", "set", "eth0", "up", namespace=name)
        _ip("link", "set", "lo", "up", namespace=name)
        _ip("link", "set", ns.host_veth, "master", self.bridge, "up")
        return ns

    def _name(self, ns):
        return ns.name if isinstance(ns, Netns) else str(ns)

    def popen(self, ns, args, **kwargs):
        """Start `args` inside the netns (`ip netns exec`); return the Popen.

        The Popen pid is the command's own pid (ip netns exec execs it).
        Returns once that pid is in the netns (or has exited).
        Defaults: stdin from /dev/null, new session.  Killed at cleanup.
        """
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("start_new_session", True)
        name = self._name(ns)
        proc = subprocess.Popen(["ip", "netns", "exec", name] + list(args), **kwargs)
        self._procs.append(proc)
        want = os.stat(os.path.join(NETNS_DIR, name))
        deadline = time.monotonic() + 5.0
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                st = os.stat("/proc/%d/ns/net" % proc.pid)
            except FileNotFoundError:
                break
            if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
                break
            time.sleep(0.002)
        return proc

    def run(self, ns, args, check=True, timeout=CMD_TIMEOUT, **kwargs):
        """Run `args` inside the netns to completion; return the CompletedProcess (text)."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        proc = subprocess.run(["ip", "netns", "exec", self._name(ns)] + list(args), check=False,
                              timeout=timeout, **kwargs)
        if check and proc.returncode != 0:
            raise NetnsLabError("%s in %s failed (rc=%d): %s%s" % (
                args, self._name(ns), proc.returncode, proc.stdout or "", proc.stderr or ""))
        return proc

    def track_pid(self, pid):
        """Have cleanup kill a process started some other way (e.g. from a pidfile)."""
        self._pids.append((pid, _starttime(pid)))

    def pids(self, ns):
        """PIDs of the processes whose netns is this one (`ip netns pids`)."""
        proc = _ip("netns", "pids", self._name(ns), check=False)
        return [int(p) for p in proc.stdout.split()]

    # -- teardown ------------------------------------------------------------

    def _kill_all(self):
        targets = []
        for proc in self._procs:
            if proc.poll() is None:
                targets.append((proc.pid, _starttime(proc.pid)))
        targets += self._pids
        for ns in self.namespaces:
            if os.path.exists(ns.path):
                targets += [(pid, _starttime(pid)) for pid in self.pids(ns)]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            live = [(p, st) for p, st in targets if st is not None and _starttime(p) == st]
            for pid, dummy in live:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                for proc in self._procs:
                    proc.poll()   # reap our own children
                if not any(_alive(p, st) for p, st in live):
                    break
                time.sleep(0.02)
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        """Kill processes by PID, delete veths, bridge and namespaces.  Idempotent."""
        if self._closed or not self._started:
            self._closed = True
            return
        errors = []
        try:
            self._kill_all()
        except Exception as exc:  # noqa: BLE001 - keep cleaning
            errors.append("kill: %s" % exc)
        for ns in self.namespaces:
            _ip("link", "del", ns.host_veth, check=False)   # removes the pair
            if os.path.exists(ns.path):
                proc = _ip("netns", "del", ns.name, check=False)
                if proc.returncode != 0:
                    errors.append(proc.stderr.strip())
        _ip("link", "del", self.bridge, check=False)
        with host_lock():
            if NETNS_DIR in registry_items(REGISTRY_KIND):
                try:
                    empty = not os.listdir(NETNS_DIR)
                except FileNotFoundError:
                    empty = True
                if empty:
                    if _is_mountpoint(NETNS_DIR):
                        subprocess.run(["umount", NETNS_DIR], stdin=subprocess.DEVNULL, check=False,
                                       capture_output=True, timeout=CMD_TIMEOUT)
                    if not _is_mountpoint(NETNS_DIR):
                        registry_discard(REGISTRY_KIND, [NETNS_DIR])
                        try:
                            os.rmdir(NETNS_DIR)
                        except OSError:
                            pass
        self._closed = True
        untrack_live_lab(self)
        if errors:
            raise NetnsLabError("cleanup incomplete: " + "; ".join(errors))

    def leftovers(self):
        """What this lab left behind (empty list = clean)."""
        out = []
        for proc in self._procs:
            if proc.poll() is None:
                out.append("process %d" % proc.pid)
        for pid, st in self._pids:
            if _alive(pid, st):
                out.append("process %d" % pid)
        for ns in self.namespaces:
            if os.path.exists(ns.path):
                out.append("netns %s" % ns.name)
            if os.path.exists("/sys/class/net/%s" % ns.host_veth):
                out.append("veth %s" % ns.host_veth)
        if self.bridge and os.path.exists("/sys/class/net/%s" % self.bridge):
            out.append("bridge %s" % self.bridge)
        return out


def _alive(pid, starttime):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except FileNotFoundError:
        return False
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[19]) == starttime and fields[0] not in ("Z", "X")
