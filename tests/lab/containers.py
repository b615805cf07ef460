# -*- coding: utf-8 -*-
# Copyright: contributors to nsops.namespaces
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real OCI containers for tests: runc + a busybox rootfs (PRIVATE test lab).

    with RuncLab() as lab:
        c = lab.run("web", ["sleep", "1000"],
                    cgroups_path=kube_systemd_path(uid, "burstable", random_container_id()))
        pid = lab.exec(c, ["sleep", "1000"])
        pod = lab.pod(layout="cgroupfs", qos="besteffort")

Facts this relies on (checked on Debian 12, runc 1.1.5, cgroup v1 hybrid):
- runc's cgroupfs driver takes an absolute ``linux.cgroupsPath`` literally in
  every hierarchy, relative to the hierarchy root (not to the caller's cgroup),
  so both Kubernetes layouts (``/kubepods.slice/...scope`` and
  ``/kubepods/<qos>/pod<uid>/<id>``) come out exactly as on a node.
  ``--systemd-cgroup`` needs a running systemd and is not used.
- runc creates missing parent cgroups but removes only the leaf; the lab
  removes the parents it created, in every mounted hierarchy, bottom-up.
- With ``process.terminal=false`` the container inherits runc's stdio; it is
  pointed at a per-container log file so nothing waits on a pipe.
"""

import contextlib
import errno
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from . import host_lock, registry_add, registry_discard, registry_items, track_live_lab, untrack_live_lab

__all__ = [
    "REPO", "DEFAULT_CACHE", "LabError", "Hierarchy", "Container", "Pod", "RuncLab",
    "cgroup_hierarchies", "proc_cgroups", "random_container_id",
    "kube_systemd_path", "kube_cgroupfs_path", "kube_pod_cgroup",
    "docker_cgroupfs_path", "docker_systemd_path", "ensure_rootfs", "sweep", "sweep_registered_cgroups",
]

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = REPO / ".build" / "lab-cache"
FETCH_SCRIPT = REPO / "tools" / "fetch-busybox.sh"
REGISTRY_KIND = "cgroup_dirs"
CMD_TIMEOUT = 60

# OCI namespace type names; /proc/P/ns names differ for two of them.
OCI_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup")
_ALIASES = {"net": "network", "mnt": "mount"}
PROC_NAME = {"network": "net", "mount": "mnt"}
QOS_CLASSES = ("guaranteed", "burstable", "besteffort")

# Mount options of a cgroup v1 mount that are not controllers.
_V1_NON_CONTROLLER_OPTS = {
    "rw", "ro", "nosuid", "nodev", "noexec", "relatime", "noatime", "strictatime",
    "clone_children", "noprefix", "xattr", "cpuset_v2_mode", "favordynmods", "none",
}


class LabError(RuntimeError):
    """A lab operation failed; the message carries the runc output."""


# --------------------------------------------------------------------------
# cgroup hierarchies and paths
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy (deduplicated by superblock)."""

    mountpoint: str
    root: str            # path of the hierarchy mounted there ("/" on the host)
    version: int         # 1 or 2
    controllers: tuple   # v1: ("memory",) / ("cpu", "cpuacct") / ("name=systemd",); v2: ()
    dev: str             # "major:minor" of the superblock

    @property
    def key(self):
        """Key as in /proc/P/cgroup: "memory", "cpu,cpuacct", "name=systemd", "" (v2)."""
        return ",".join(self.controllers)

    def dir_for(self, cgroup_path):
        """Directory of an absolute cgroup path in this hierarchy, or None if not visible."""
        root = self.root.rstrip("/")
        if root and not (cgroup_path == root or cgroup_path.startswith(root + "/")):
            return None
        rel = cgroup_path[len(root):].strip("/")
        return os.path.join(self.mountpoint, rel) if rel else self.mountpoint


def _unescape_mountinfo(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 3 < len(text) and text[i + 1:i + 4].isdigit():
            out.append(chr(int(text[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def cgroup_hierarchies(mountinfo="/proc/self/mountinfo"):
    """Mounted cgroup (v1) and cgroup2 hierarchies, one per superblock."""
    seen, result = set(), []
    with open(mountinfo) as f:
        for line in f:
            left, dummy, right = line.rstrip("\n").partition(" - ")
            lf, rf = left.split(), right.split()
            if len(lf) < 5 or len(rf) < 3 or rf[0] not in ("cgroup", "cgroup2"):
                continue
            dev, root, mountpoint = lf[2], _unescape_mountinfo(lf[3]), _unescape_mountinfo(lf[4])
            if dev in seen:
                continue
            seen.add(dev)
            if rf[0] == "cgroup2":
                result.append(Hierarchy(mountpoint, root, 2, (), dev))
                continue
            ctrls = []
            for opt in rf[2].split(","):
                if opt in _V1_NON_CONTROLLER_OPTS or opt.startswith("release_agent="):
                    continue
                ctrls.append(opt)
            named = [c for c in ctrls if c.startswith("name=")]
            # mountinfo lists controllers in the kernel's order, as /proc/P/cgroup does.
            plain = [c for c in ctrls if not c.startswith("name=")]
            result.append(Hierarchy(mountpoint, root, 1, tuple(plain + named), dev))
    return result


def proc_cgroups(pid):
    """/proc/P/cgroup as {key: path}; key as Hierarchy.key ("" for cgroup2)."""
    result = {}
    with open("/proc/%s/cgroup" % pid) as f:
        for line in f:
            dummy, ctrls, path = line.rstrip("\n").split(":", 2)
            result[ctrls] = path
    return result


def random_container_id():
    """A container id as containerd/docker make them: 64 lowercase hex digits."""
    return secrets.token_hex(32)


def _check_qos(qos):
    if qos not in QOS_CLASSES:
        raise ValueError("qos must be one of %s, not %r" % (", ".join(QOS_CLASSES), qos))


def kube_pod_cgroup(pod_uid, qos, layout):
    """cgroup of a Kubernetes pod ("systemd" or "cgroupfs" kubelet driver)."""
    _check_qos(qos)
    if layout == "systemd":
        uid_ = pod_uid.replace("-", "_")
        if qos == "guaranteed":
            return "/kubepods.slice/kubepods-pod%s.slice" % uid_
        return "/kubepods.slice/kubepods-{q}.slice/kubepods-{q}-pod{u}.slice".format(q=qos, u=uid_)
    if layout == "cgroupfs":
        if qos == "guaranteed":
            return "/kubepods/pod%s" % pod_uid
        return "/kubepods/%s/pod%s" % (qos, pod_uid)
    raise ValueError("layout must be 'systemd' or 'cgroupfs', not %r" % (layout,))


def kube_systemd_path(pod_uid, qos, container_id, runtime_prefix="cri-containerd"):
    """/kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/<prefix>-<id>.scope"""
    return "%s/%s-%s.scope" % (kube_pod_cgroup(pod_uid, qos, "systemd"), runtime_prefix, container_id)


def kube_cgroupfs_path(pod_uid, qos, container_id):
    """/kubepods[/<qos>]/pod<uid>/<id> (Guaranteed pods directly under /kubepods)."""
    return "%s/%s" % (kube_pod_cgroup(pod_uid, qos, "cgroupfs"), container_id)


def docker_cgroupfs_path(container_id):
    return "/docker/%s" % container_id


def docker_systemd_path(container_id):
    return "/system.slice/docker-%s.scope" % container_id


def _ancestors(cgroup_path):
    """"/a/b/c" -> ["/a", "/a/b", "/a/b/c"]."""
    parts = [p for p in cgroup_path.split("/") if p]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _dir_in_use(path):
    """True if a cgroup directory has child cgroups or member processes."""
    try:
        with os.scandir(path) as it:
            if any(e.is_dir(follow_symlinks=False) for e in it):
                return True
        with open(os.path.join(path, "cgroup.procs")) as f:
            return bool(f.read().strip())
    except FileNotFoundError:
        return False


def _rmdir_cgroup(path, timeout=5.0):
    """Remove one cgroup directory.  True if gone, False if in use by someone.

    A just-removed child or a just-killed process keeps the parent busy for a
    moment (css offlining is asynchronous), so EBUSY on an otherwise unused
    directory is retried.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                raise
            if _dir_in_use(path) and not _only_dead_members(path):
                return False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


def _only_dead_members(path):
    """True if a leaf cgroup lists only dead (zombie or gone) processes: wait, do not give up."""
    try:
        with os.scandir(path) as it:
            if any(e.is_dir(follow_symlinks=False) for e in it):
                return False
        with open(os.path.join(path, "cgroup.procs")) as f:
            pids = [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return True
    return all(_proc_state(p) in (None, "Z", "X") for p in pids)


def sweep_registered_cgroups():
    """Remove every registered lab cgroup directory that is no longer in use.

    Returns the directories still present (in use).
    """
    with host_lock():
        dirs = registry_items(REGISTRY_KIND)
        gone = set()
        for d in sorted(dirs, key=lambda p: p.count("/"), reverse=True):
            if not os.path.isdir(d) or (not _dir_in_use(d) and _rmdir_cgroup(d, timeout=1.0)):
                gone.add(d)
        registry_discard(REGISTRY_KIND, gone)
        return sorted(dirs - gone)


def sweep(tmp_parent=None, runc=None):
    """Clean up after lab processes that died without cleanup (SIGKILL, crash).

    Kills and deletes the containers of every lab temp dir whose owner process
    is gone, removes those temp dirs, then the unused registered cgroup dirs.
    Returns a list of what is still left (cgroup dirs in use by live labs).
    """
    runc = runc or shutil.which("runc")
    parent = tmp_parent or tempfile.gettempdir()
    for entry in os.listdir(parent):
        lab_dir = os.path.join(parent, entry)
        if not entry.startswith("nsopslab-") or not os.path.isfile(os.path.join(lab_dir, "owner")):
            continue
        with open(os.path.join(lab_dir, "owner")) as f:
            pid, starttime = (int(x) for x in f.read().split())
        if _alive(pid, starttime):
            continue
        root = os.path.join(lab_dir, "runc")
        if runc and os.path.isdir(root):
            ids = subprocess.run([runc, "--root", root, "list", "-q"], stdin=subprocess.DEVNULL, check=False,
                                 capture_output=True, text=True, timeout=CMD_TIMEOUT).stdout.split()
            for cid in ids:
                for args in (["kill", cid, "KILL"], ["delete", "-f", cid]):
                    subprocess.run([runc, "--root", root] + args, stdin=subprocess.DEVNULL, check=False,
                                   capture_output=True, timeout=CMD_TIMEOUT)
        shutil.rmtree(lab_dir, ignore_errors=True)
    return sweep_registered_cgroups()


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------

def _proc_stat(pid):
    """(state, starttime) of a pid, or None if it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[19])


def _proc_state(pid):
    st = _proc_stat(pid)
    return st[0] if st else None


def _alive(pid, starttime):
    """True if the process (pid, starttime) exists and is not a zombie."""
    st = _proc_stat(pid)
    return bool(st) and st[1] == starttime and st[0] not in ("Z", "X")


def _reap(pid, starttime):
    """waitpid() a zombie that is exactly our process (pid and starttime match)."""
    st = _proc_stat(pid)
    if st and st[1] == starttime and st[0] == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass   # not our child: the host's PID 1 reaps it


def _wait_gone(pid, starttime, timeout):
    """Wait until a process is dead (reaping it if it is our child).  True if dead."""
    deadline = time.monotonic() + timeout
    while _alive(pid, starttime):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    _reap(pid, starttime)
    return True


_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_SUBREAPER_LOCK = threading.Lock()


@contextlib.contextmanager
def _subreaper():
    """Be a child subreaper while runc runs, so its detached children become ours.

    `runc run -d` and `runc exec -d` exit and leave the container process an
    orphan.  Adopting it (instead of the host's PID 1, which on some hosts
    reaps only about once a second) lets cleanup reap it at once.  The flag is
    restored right after, so other orphans of this process are not adopted.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        yield
        return
    with _SUBREAPER_LOCK:
        old = ctypes.c_int(0)
        libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(old), 0, 0, 0)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        try:
            yield
        finally:
            libc.prctl(_PR_SET_CHILD_SUBREAPER, old.value, 0, 0, 0)


def _kill_exact(pid, starttime, sig=signal.SIGKILL):
    """Signal a process only if it is still the one we started (pid reuse safe)."""
    if _alive(pid, starttime):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------
# rootfs
# --------------------------------------------------------------------------

def ensure_rootfs(cache_dir=None):
    """Path of the cached busybox rootfs, building it with tools/fetch-busybox.sh if needed."""
    cache = Path(cache_dir or os.environ.get("NSOPS_LAB_CACHE") or DEFAULT_CACHE)
    rootfs = cache / "rootfs"
    if not (rootfs / "bin" / "busybox").exists():
        proc = subprocess.run(["sh", str(FETCH_SCRIPT), str(cache)], stdin=subprocess.DEVNULL, check=False,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not (rootfs / "bin" / "busybox").exists():
            raise LabError("fetch-busybox.sh failed (rc=%s): %s%s"
                           % (proc.returncode, proc.stdout, proc.stderr))
    return rootfs


# --------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------

@dataclass
class Container:
    """A container started by RuncLab.run()."""

    id: str                       # runc id = the 64-hex id used in cgroup paths
    name: str                     # label (also the default hostname)
    bundle: str                   # bundle directory (config.json)
    cgroups_path: str             # absolute cgroup path, same in every hierarchy
    log: str                      # stdout/stderr of the container and of runc
    pid: Optional[int] = None     # host pid of the container's init (runc state)
    starttime: Optional[int] = None
    joined: Dict[str, str] = field(default_factory=dict)   # OCI type -> ns path joined
    exec_pids: List[tuple] = field(default_factory=list)   # [(pid, starttime)]
    start_seconds: float = 0.0
    removed: bool = False

    def ns_path(self, ns_type):
        """/proc/<pid>/ns/<type>; accepts OCI or /proc names (network/net, mount/mnt)."""
        t = _ALIASES.get(ns_type, ns_type)
        return "/proc/%d/ns/%s" % (self.pid, PROC_NAME.get(t, t))

    def ns_inode(self, ns_type):
        return os.stat(self.ns_path(ns_type)).st_ino

    def cgroup_dirs(self):
        """{hierarchy key: directory of this container's cgroup}."""
        out = {}
        for h in cgroup_hierarchies():
            d = h.dir_for(self.cgroups_path)
            if d:
                out[h.key] = d
        return out

    def alive(self):
        return self.pid is not None and _alive(self.pid, self.starttime)


@dataclass
class Pod:
    """A Kubernetes-shaped pod: pause container + app container sharing net/ipc/uts."""

    uid: str
    qos: str
    layout: str           # "systemd" or "cgroupfs"
    cgroup_parent: str    # the pod's cgroup
    pause: Container
    app: Container

    @property
    def containers(self):
        return [self.pause, self.app]


# --------------------------------------------------------------------------
# the lab
# --------------------------------------------------------------------------


PAUSE_ARGS = ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"]


class RuncLab:
    """Context manager owning a private runc root, bundles and the cgroups it creates."""

    def __init__(self, cache_dir=None, runc=None, tmp_parent=None, readonly_rootfs=True):
        self.cache_dir = cache_dir
        self.runc = runc or shutil.which("runc")
        self.tmp_parent = tmp_parent
        self.readonly_rootfs = readonly_rootfs
        self.token = secrets.token_hex(4)
        self.tmpdir = None
        self.state_root = None
        self.rootfs = None
        self.containers = []       # every Container ever started (also removed ones)
        self.created_dirs = set()  # cgroup directories this lab saw appear
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
            raise LabError("RuncLab needs root")
        if not self.runc:
            raise LabError("runc not found (apt-get install runc)")
        self.owner_pid = os.getpid()
        self.rootfs = str(ensure_rootfs(self.cache_dir))
        self.tmpdir = tempfile.mkdtemp(prefix="nsopslab-%s-" % self.token, dir=self.tmp_parent)
        self.state_root = os.path.join(self.tmpdir, "runc")
        os.makedirs(os.path.join(self.tmpdir, "bundles"))
        with open(os.path.join(self.tmpdir, "owner"), "w") as f:   # for sweep()
            f.write("%d %d\n" % (os.getpid(), _proc_stat(os.getpid())[1]))
        track_live_lab(self)
        return self

    def _runc(self, *args, check=True, timeout=CMD_TIMEOUT, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        if "stdout" not in kw and "stderr" not in kw:
            kw["capture_output"] = True
        proc = subprocess.run([self.runc, "--root", self.state_root] + list(args), check=False,
                              text=True, timeout=timeout, **kw)
        if check and proc.returncode != 0:
            raise LabError("runc %s failed (rc=%d): %s%s" % (
                " ".join(args), proc.returncode, proc.stdout or "", proc.stderr or ""))
        return proc

    def state(self, container):
        """`runc state` as a dict, or None if runc does not know the container."""
        proc = self._runc("state", container.id, check=False)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout)

    # -- creating ----------------------------------------------------------

    def default_cgroups_path(self, container_id):
        return "/nsopslab/%s/%s" % (self.token, container_id)

    def run(self, name, args, cgroups_path=None, hostname=None, join=None, env=None,
            extra_namespaces=(), host_namespaces=(), container_id=None, rootfs=None, mounts=()):
        """Start a detached container running `args` (a list) and return it.

        cgroups_path: absolute cgroup path (default /nsopslab/<lab token>/<id>).
        hostname: default `name` (ignored when the UTS namespace is joined).
        join: {type: path} namespaces to join instead of creating them, e.g.
            {"net": "/proc/123/ns/net"}; "net"/"mnt" or OCI names.
        env: {NAME: value} added to the process environment.
        extra_namespaces: namespaces to create besides runc's defaults
            (pid, network, mount, ipc, uts): "cgroup" and/or "user"
            (user maps container 0-65535 to host 100000-165535).
        host_namespaces: default namespaces not to create (stay in the host's).
        container_id: default random 64-hex id.
        rootfs: root directory instead of the shared busybox rootfs (see private_rootfs).
        mounts: OCI mounts added to the spec, e.g. a read-only bind of the host's /usr.
        """
        if self.tmpdir is None or self._closed:
            raise LabError("lab not started or already cleaned up")
        if not isinstance(args, (list, tuple)) or not args or not all(isinstance(a, str) for a in args):
            raise ValueError("args must be a non-empty list of strings")
        cid = container_id or random_container_id()
        cgroups_path = cgroups_path or self.default_cgroups_path(cid)
        if not cgroups_path.startswith("/"):
            raise ValueError("cgroups_path must be absolute: %r" % cgroups_path)
        join = {_ALIASES.get(k, k): v for k, v in (join or {}).items()}
        extra = [_ALIASES.get(t, t) for t in extra_namespaces]
        drop = [_ALIASES.get(t, t) for t in host_namespaces]
        for t in list(join) + extra + drop:
            if t not in OCI_TYPES:
                raise ValueError("unknown namespace type %r" % t)

        bundle = os.path.join(self.tmpdir, "bundles", "%s-%s" % (name, cid[:12]))
        os.makedirs(bundle)
        log = os.path.join(bundle, "output.log")
        container = Container(id=cid, name=name, bundle=bundle, cgroups_path=cgroups_path,
                              log=log, joined=dict(join))
        self.containers.append(container)   # cleanup knows it even if run fails

        self._runc("spec", "--bundle", bundle)
        cfg_path = os.path.join(bundle, "config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        proc = cfg["process"]
        proc["terminal"] = False
        proc["args"] = list(args)
        proc["env"] = list(proc.get("env", [])) + ["%s=%s" % kv for kv in (env or {}).items()]
        cfg["root"] = {"path": rootfs or self.rootfs, "readonly": self.readonly_rootfs}
        cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                              "options": ["nosuid", "nodev", "mode=1777", "size=16m"]})
        cfg["mounts"].extend(dict(m) for m in mounts)
        linux = cfg["linux"]
        linux["cgroupsPath"] = cgroups_path
        nss = [n for n in linux.get("namespaces", []) if n["type"] not in drop]
        have = {n["type"] for n in nss}
        for t in extra:
            if t not in have:
                nss.append({"type": t})
                have.add(t)
        for t, path in join.items():
            nss = [n for n in nss if n["type"] != t] + [{"type": t, "path": path}]
        linux["namespaces"] = nss
        types = {n["type"] for n in nss}
        if "user" in types and "user" not in join:
            linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
            linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        if "network" not in types or "network" in join:
            # sysfs can only be mounted by the owner of the netns; bind the host's instead.
            for m in cfg["mounts"]:
                if m["destination"] == "/sys":
                    m.update({"type": "bind", "source": "/sys",
                              "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
        if "uts" in types and "uts" not in join:
            cfg["hostname"] = hostname or name
        else:
            cfg.pop("hostname", None)
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=1)

        t0 = time.monotonic()
        with host_lock():
            before = self._existing_dirs(cgroups_path)
            try:
                with open(log, "ab") as out, _subreaper():
                    self._runc("run", "-d", "--bundle", bundle, cid, stdout=out, stderr=out)
            except LabError as exc:
                raise LabError("%s\n--- %s:\n%s" % (exc, log, _tail(log))) from None
            finally:
                new = self._existing_dirs(cgroups_path) - before
                self.created_dirs |= new
                registry_add(REGISTRY_KIND, new)
        st = self.state(container)
        if not st or not st.get("pid"):
            raise LabError("runc state %s: no pid (%r)\n%s" % (cid, st, _tail(log)))
        container.pid = int(st["pid"])
        stat = _proc_stat(container.pid)
        container.starttime = stat[1] if stat else None
        container.start_seconds = time.monotonic() - t0
        if st.get("status") != "running":
            raise LabError("container %s is %s\n%s" % (name, st.get("status"), _tail(log)))
        return container

    def private_rootfs(self, name, directories=()):
        """A copy of the busybox rootfs under the lab's temp dir (removed with it), with
        ``directories`` made as mount points; for containers that need binds the shared
        rootfs must not get."""
        path = os.path.join(self.tmpdir, "rootfs-%s" % name)
        shutil.copytree(self.rootfs, path, symlinks=True)
        for directory in directories:
            os.makedirs(os.path.join(path, directory.lstrip("/")), exist_ok=True)
        return path

    def exec(self, container, args, env=None):
        """`runc exec -d` a process into a running container; return its host pid."""
        pidfile = os.path.join(container.bundle, "exec-%s.pid" % secrets.token_hex(4))
        extra = []
        for kv in (env or {}).items():
            extra += ["--env", "%s=%s" % kv]
        with open(container.log, "ab") as out, _subreaper():
            self._runc("exec", "-d", "--pid-file", pidfile, *extra, container.id, *args,
                       stdout=out, stderr=out)
        with open(pidfile) as f:
            pid = int(f.read().strip())
        stat = _proc_stat(pid)
        container.exec_pids.append((pid, stat[1] if stat else None))
        return pid

    def exec_output(self, container, args, timeout=30, check=True):
        """Run a command in a container, wait for it, return the CompletedProcess."""
        proc = subprocess.run([self.runc, "--root", self.state_root, "exec", container.id] + list(args), check=False,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise LabError("exec %s in %s failed (rc=%d): %s%s" % (
                args, container.name, proc.returncode, proc.stdout, proc.stderr))
        return proc

    def pod(self, pod_uid=None, qos="burstable", layout="systemd", app_args=None,
            runtime_prefix="cri-containerd", name=None):
        """A pause container plus an app container joining its net, ipc and uts namespaces.

        Both live under the pod's cgroup (see kube_pod_cgroup); each keeps its own
        pid and mount namespace, as with containerd's default (no shareProcessNamespace).
        """
        pod_uid = pod_uid or str(uuid.uuid4())
        name = name or "pod-%s" % pod_uid[:8]
        parent = kube_pod_cgroup(pod_uid, qos, layout)

        def path(cid):
            if layout == "systemd":
                return kube_systemd_path(pod_uid, qos, cid, runtime_prefix)
            return kube_cgroupfs_path(pod_uid, qos, cid)

        pause_id = random_container_id()
        pause = self.run(name + "-pause", PAUSE_ARGS, cgroups_path=path(pause_id),
                         hostname=name, container_id=pause_id)
        app_id = random_container_id()
        join = {t: "/proc/%d/ns/%s" % (pause.pid, t) for t in ("net", "ipc", "uts")}
        app = self.run(name + "-app", app_args or ["sleep", "1000000"], cgroups_path=path(app_id),
                       join=join, container_id=app_id)
        return Pod(uid=pod_uid, qos=qos, layout=layout, cgroup_parent=parent, pause=pause, app=app)

    # -- removing ----------------------------------------------------------

    def _existing_dirs(self, cgroups_path):
        out = set()
        for h in cgroup_hierarchies():
            for p in _ancestors(cgroups_path):
                d = h.dir_for(p)
                if d and os.path.isdir(d):
                    out.add(d)
        return out

    def _stop_all(self, containers):
        """Kill and delete containers (processes only, not their cgroup dirs).

        Signals everything first and waits once: a killed init lingers until
        every process of its PID namespace is reaped, and here the reaper of
        `runc exec` orphans is the host's PID 1, which reaps about once a second.
        """
        todo = [c for c in containers if not c.removed]
        for c in todo:
            for pid, st in c.exec_pids:
                _kill_exact(pid, st)
            self._runc("kill", c.id, "KILL", check=False, timeout=15)
            if c.pid is not None:
                _kill_exact(c.pid, c.starttime)   # in case runc lost track of it
        deadline = time.monotonic() + 10.0
        for c in todo:
            for pid, st in c.exec_pids + [(c.pid, c.starttime)]:
                if pid is not None:
                    _wait_gone(pid, st, max(0.0, deadline - time.monotonic()))
        for c in todo:
            self._runc("delete", "-f", c.id, check=False, timeout=30)
            # A process that entered the container cgroup some other way: kill by PID.
            for d in c.cgroup_dirs().values():
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids = [int(p) for p in f.read().split()]
                except FileNotFoundError:
                    continue
                for pid in pids:
                    st = _proc_stat(pid)
                    if st and st[0] not in ("Z", "X"):
                        _kill_exact(pid, st[1])
                        _wait_gone(pid, st[1], 2.0)
            c.removed = True

    def _remove_dirs(self, cgroups_paths):
        """Remove the lab-made cgroup dirs of these paths, bottom-up, in every hierarchy."""
        with host_lock():
            registered = registry_items(REGISTRY_KIND)
            candidates = set()
            for h in cgroup_hierarchies():
                for cp in cgroups_paths:
                    for p in _ancestors(cp):
                        d = h.dir_for(p)
                        if d and (d in self.created_dirs or d in registered):
                            candidates.add(d)
            gone = set()
            for d in sorted(candidates, key=lambda p: p.count("/"), reverse=True):
                if _rmdir_cgroup(d):
                    gone.add(d)
            registry_discard(REGISTRY_KIND, gone)
            # What another lab still uses stays registered; that lab removes it.
            self.created_dirs -= gone

    def remove(self, container):
        """Stop one container and remove its cgroup dirs (parents only if unused)."""
        self._stop_all([container])
        self._remove_dirs([container.cgroups_path])

    def cleanup(self):
        """Kill and delete all containers, remove lab cgroups and temp dirs.  Idempotent."""
        errors = []
        try:
            self._stop_all(list(reversed(self.containers)))
        except Exception as exc:  # noqa: BLE001 - keep cleaning
            errors.append("stop: %s" % exc)
            for c in reversed(self.containers):
                try:
                    self._stop_all([c])
                except Exception as exc2:  # noqa: BLE001
                    errors.append("stop %s: %s" % (c.name, exc2))
        try:
            if self.containers:
                self._remove_dirs([c.cgroups_path for c in self.containers])
        except Exception as exc:  # noqa: BLE001
            errors.append("cgroups: %s" % exc)
        if self.tmpdir and os.path.exists(self.tmpdir):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self._closed = True
        untrack_live_lab(self)
        if errors:
            raise LabError("cleanup incomplete: " + "; ".join(errors))

    def leftovers(self):
        """What this lab left behind: list of human-readable strings (empty = clean).

        Counts container and exec processes still alive, cgroup dirs of the
        containers (leaves) and lab-created parents that still exist with no
        child cgroups (a parent with children is in use by another lab), and
        the temp dir.
        """
        out = []
        for c in self.containers:
            if c.pid is not None and _alive(c.pid, c.starttime):
                out.append("process %d of container %s" % (c.pid, c.name))
            for pid, st in c.exec_pids:
                if _alive(pid, st):
                    out.append("exec process %d in %s" % (pid, c.name))
            for d in c.cgroup_dirs().values():
                if os.path.isdir(d):
                    out.append("cgroup dir %s" % d)
        for d in sorted(self.created_dirs):
            if os.path.isdir(d) and not _dir_in_use(d):
                out.append("cgroup dir %s" % d)
        if self.tmpdir and os.path.exists(self.tmpdir):
            out.append("temp dir %s" % self.tmpdir)
        return sorted(set(out))


def _tail(path, limit=4000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-limit:]
    except OSError:
        return ""


if __name__ == "__main__":  # pragma: no cover - maintenance helper
    import sys
    if sys.argv[1:] == ["sweep"]:
        left = sweep()
        print("\n".join("in use: " + d for d in left) if left else "nothing left")
    else:
        print("usage: python3 -m tests.lab.containers sweep", file=sys.stderr)
        sys.exit(2)
