# -*- coding: utf-8 -*-
# Copyright: contributors to nsops.namespaces
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Proves the test lab works: real runc containers, Kubernetes cgroup layouts,
pods, exec, network namespaces, and that teardown leaves nothing behind.

Run as root:  python3 -m pytest tests/lab -q
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest

from . import host_lock, registry_items
from .containers import (
    REGISTRY_KIND, LabError, RuncLab, cgroup_hierarchies, docker_cgroupfs_path,
    docker_systemd_path, ensure_rootfs, kube_cgroupfs_path, kube_pod_cgroup,
    kube_systemd_path, proc_cgroups, random_container_id, sweep,
)
from .netns import NetnsLab

IS_ROOT = os.geteuid() == 0
RUNC = shutil.which("runc")

needs_root = pytest.mark.skipif(not IS_ROOT, reason="the lab needs root (runc, cgroups, netns)")
needs_runc = pytest.mark.skipif(not RUNC, reason="runc not installed (apt-get install runc)")

HEX64 = re.compile(r"^[0-9a-f]{64}$")
UID = "0d5c1a8e-3f4b-4c2a-9e1d-7a6b5c4d3e2f"


def _rootfs_or_skip():
    try:
        return ensure_rootfs()
    except LabError as exc:
        pytest.skip("cannot build the busybox rootfs (needs Debian apt): %s" % exc)


@pytest.fixture
def lab():
    _rootfs_or_skip()
    with RuncLab() as the_lab:
        yield the_lab
    assert the_lab.leftovers() == []


def _nspid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no NSpid")


def _procs(directory):
    with open(os.path.join(directory, "cgroup.procs")) as f:
        return {int(p) for p in f.read().split()}


def _hierarchy(version, controller=None):
    for h in cgroup_hierarchies():
        if h.version == version and (controller is None or controller in h.controllers):
            return h
    pytest.skip("no cgroup v%d %s hierarchy mounted" % (version, controller or ""))


# --------------------------------------------------------------------------
# pure helpers (no root needed)
# --------------------------------------------------------------------------

def test_random_container_id():
    ids = {random_container_id() for dummy in range(50)}
    assert len(ids) == 50
    assert all(HEX64.match(i) for i in ids)


@pytest.mark.parametrize("qos, expected", [
    ("burstable", "/kubepods.slice/kubepods-burstable.slice/"
                  "kubepods-burstable-pod0d5c1a8e_3f4b_4c2a_9e1d_7a6b5c4d3e2f.slice/cri-containerd-ID.scope"),
    ("besteffort", "/kubepods.slice/kubepods-besteffort.slice/"
                   "kubepods-besteffort-pod0d5c1a8e_3f4b_4c2a_9e1d_7a6b5c4d3e2f.slice/cri-containerd-ID.scope"),
    ("guaranteed", "/kubepods.slice/kubepods-pod0d5c1a8e_3f4b_4c2a_9e1d_7a6b5c4d3e2f.slice/"
                   "cri-containerd-ID.scope"),
])
def test_kube_systemd_path(qos, expected):
    assert kube_systemd_path(UID, qos, "ID") == expected


def test_kube_systemd_path_crio_prefix():
    assert kube_systemd_path(UID, "guaranteed", "ID", runtime_prefix="crio").endswith("/crio-ID.scope")


@pytest.mark.parametrize("qos, expected", [
    ("burstable", "/kubepods/burstable/pod%s/ID" % UID),
    ("besteffort", "/kubepods/besteffort/pod%s/ID" % UID),
    ("guaranteed", "/kubepods/pod%s/ID" % UID),
])
def test_kube_cgroupfs_path(qos, expected):
    assert kube_cgroupfs_path(UID, qos, "ID") == expected


def test_path_helpers_reject_bad_input():
    with pytest.raises(ValueError):
        kube_pod_cgroup(UID, "gold", "systemd")
    with pytest.raises(ValueError):
        kube_pod_cgroup(UID, "burstable", "hybrid")
    assert docker_cgroupfs_path("ID") == "/docker/ID"
    assert docker_systemd_path("ID") == "/system.slice/docker-ID.scope"


def test_cgroup_hierarchies_match_proc_self_cgroup():
    keys = {h.key for h in cgroup_hierarchies()}
    assert keys, "no cgroup hierarchy mounted"
    # Every hierarchy this process is in (that is mounted) is found, with the same key.
    mine = set(proc_cgroups("self"))
    assert keys <= mine


# --------------------------------------------------------------------------
# containers
# --------------------------------------------------------------------------

@needs_root
@needs_runc
def test_plain_container(lab):
    c = lab.run("plain", ["sleep", "1000"])
    assert HEX64.match(c.id)
    state = lab.state(c)
    assert state["status"] == "running"
    assert c.pid == state["pid"]
    assert _nspid(c.pid)[-1] == 1
    assert c.start_seconds < 5
    for key, path in proc_cgroups(c.pid).items():
        assert path == c.cgroups_path, key
    for h in (_hierarchy(1, "memory"), _hierarchy(2)):
        assert c.pid in _procs(h.dir_for(c.cgroups_path)), h.mountpoint
    assert lab.exec_output(c, ["hostname"]).stdout.strip() == "plain"


@needs_root
@needs_runc
def test_run_options(lab):
    c = lab.run("opts", ["sleep", "1000"], hostname="box", env={"NSOPS_X": "42"},
                extra_namespaces=["cgroup"])
    out = lab.exec_output(c, ["sh", "-c", "hostname; echo $NSOPS_X; cat /proc/self/cgroup"]).stdout
    lines = out.splitlines()
    assert lines[:2] == ["box", "42"]
    # In its own cgroup namespace the container sees itself at the root.
    assert all(line.endswith(":/") for line in lines[2:])
    assert c.ns_inode("cgroup") != os.stat("/proc/self/ns/cgroup").st_ino
    h = lab.run("hostnet", ["sleep", "1000"], host_namespaces=["net"])
    assert h.ns_inode("net") == os.stat("/proc/self/ns/net").st_ino


@needs_root
@needs_runc
def test_user_namespace(lab):
    c = lab.run("userns", ["sleep", "1000"], extra_namespaces=["user"])
    with open("/proc/%d/uid_map" % c.pid) as f:
        assert f.read().split() == ["0", "100000", "65536"]
    assert os.stat("/proc/%d" % c.pid).st_uid == 100000


@needs_root
@needs_runc
@pytest.mark.parametrize("layout", ["systemd", "cgroupfs"])
@pytest.mark.parametrize("qos", ["guaranteed", "burstable", "besteffort"])
def test_kube_layouts_in_proc_cgroup(lab, layout, qos):
    uid = str(uuid.uuid4())
    cid = random_container_id()
    if layout == "systemd":
        path = kube_systemd_path(uid, qos, cid)
    else:
        path = kube_cgroupfs_path(uid, qos, cid)
    c = lab.run("kube", ["sleep", "1000"], cgroups_path=path, container_id=cid)
    cgroups = proc_cgroups(c.pid)
    # runc's cgroupfs driver uses the absolute path literally in every hierarchy,
    # v1 and v2 alike (not nested under the caller's cgroup).
    for h in cgroup_hierarchies():
        assert cgroups[h.key] == path, h.key
        assert os.path.isdir(h.dir_for(path))


@needs_root
@needs_runc
@pytest.mark.parametrize("layout", ["systemd", "cgroupfs"])
def test_pod_shares_net_ipc_uts(lab, layout):
    pod = lab.pod(qos="burstable", layout=layout)
    pause, app = pod.pause, pod.app
    for t in ("net", "ipc", "uts"):
        assert app.ns_inode(t) == pause.ns_inode(t), t
    for t in ("pid", "mnt"):
        assert app.ns_inode(t) != pause.ns_inode(t), t
    assert app.ns_inode("net") != os.stat("/proc/self/ns/net").st_ino
    for c in pod.containers:
        path = proc_cgroups(c.pid)[_hierarchy(1, "memory").key]
        assert path == c.cgroups_path
        assert path.startswith(pod.cgroup_parent + "/")
    assert lab.exec_output(app, ["hostname"]).stdout.strip() == pause.name[:-len("-pause")]


@needs_root
@needs_runc
def test_exec_adds_process_in_same_cgroup(lab):
    c = lab.run("exec", ["sleep", "1000"], cgroups_path=kube_systemd_path(
        str(uuid.uuid4()), "besteffort", random_container_id()))
    pid = lab.exec(c, ["sleep", "999"])
    assert pid != c.pid
    assert proc_cgroups(pid) == proc_cgroups(c.pid)
    for h in (_hierarchy(1, "memory"), _hierarchy(2)):
        assert {c.pid, pid} <= _procs(h.dir_for(c.cgroups_path))
    nspid = _nspid(pid)
    assert nspid[0] == pid
    assert 1 < nspid[-1] < 100
    assert os.stat("/proc/%d/ns/pid" % pid).st_ino == c.ns_inode("pid")


@needs_root
@needs_runc
def test_teardown_leaves_nothing():
    _rootfs_or_skip()
    lab = RuncLab()
    with lab:
        plain = lab.run("plain", ["sleep", "1000"])
        pods = [lab.pod(qos="burstable", layout="systemd"),
                lab.pod(qos="guaranteed", layout="cgroupfs")]
        extra = lab.exec(pods[0].app, ["sleep", "999"])
        containers = [plain] + [c for p in pods for c in p.containers]
        pids = [c.pid for c in containers] + [extra]
        hierarchies = cgroup_hierarchies()
        leaves = [h.dir_for(c.cgroups_path) for h in hierarchies for c in containers]
        pod_dirs = [h.dir_for(p.cgroup_parent) for h in hierarchies for p in pods]
        tops = [h.dir_for(top) for h in hierarchies
                for top in ("/kubepods.slice", "/kubepods", "/nsopslab/" + lab.token)]
        assert all(os.path.isdir(d) for d in leaves + pod_dirs + tops)
        tmpdir = lab.tmpdir
        t0 = time.monotonic()
    teardown = time.monotonic() - t0
    assert lab.leftovers() == []
    for pid in pids:
        # Reaped by the lab (it adopts runc's detached children), not just zombies.
        assert not os.path.exists("/proc/%d" % pid), pid
    for d in leaves + pod_dirs:
        assert not os.path.exists(d), d
    for d in tops:
        # Gone, unless another lab running right now still has cgroups under it.
        assert not os.path.exists(d) or any(e.is_dir() for e in os.scandir(d)), d
    assert not os.path.exists(tmpdir)
    with host_lock():
        assert not registry_items(REGISTRY_KIND) & set(leaves + pod_dirs)
    assert teardown < 10
    lab.cleanup()   # idempotent


@needs_root
@needs_runc
def test_failed_run_is_cleaned_up():
    _rootfs_or_skip()
    with RuncLab() as lab:
        path = kube_cgroupfs_path(str(uuid.uuid4()), "besteffort", random_container_id())
        with pytest.raises(LabError, match="nonexistent"):
            lab.run("broken", ["/nonexistent"], cgroups_path=path)
        pod_dir = path.rsplit("/", 1)[0]
    assert lab.leftovers() == []
    for h in cgroup_hierarchies():
        assert not os.path.exists(h.dir_for(pod_dir))


@needs_root
@needs_runc
def test_parallel_labs_share_parents():
    """Two labs under /kubepods.slice: the one that ends last removes the shared parents."""
    _rootfs_or_skip()
    memory = _hierarchy(1, "memory")
    a, b = RuncLab().start(), RuncLab().start()
    try:
        pa = a.pod(qos="burstable", layout="systemd")
        pb = b.pod(qos="burstable", layout="systemd")
        shared = memory.dir_for("/kubepods.slice/kubepods-burstable.slice")
        a.cleanup()
        assert not os.path.exists(memory.dir_for(pa.cgroup_parent))
        assert os.path.isdir(shared)            # b still uses it
        assert pb.app.alive() and pb.pause.alive()
    finally:
        a.cleanup()
        b.cleanup()
    assert not os.path.exists(memory.dir_for(pb.cgroup_parent))
    assert not os.path.exists(shared) or any(e.is_dir() for e in os.scandir(shared))
    assert a.leftovers() == [] and b.leftovers() == []


@needs_root
def test_fetch_busybox_is_cached():
    rootfs = _rootfs_or_skip()
    assert os.path.islink(rootfs / "bin" / "sh")
    assert os.readlink(rootfs / "bin" / "sh") == "busybox"
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        assert (rootfs / d).is_dir()
    script = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fetch-busybox.sh")
    t0 = time.monotonic()
    proc = subprocess.run(["sh", script, str(rootfs.parent)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout == ""
    assert time.monotonic() - t0 < 2


# --------------------------------------------------------------------------
# network namespaces
# --------------------------------------------------------------------------

ECHO_SERVER = (
    "import socket, sys\n"
    "s = socket.create_server((sys.argv[1], 7777))\n"
    "while True:\n"
    "    c, _ = s.accept(); c.sendall(b'hi ' + sys.argv[1].encode()); c.close()\n"
)
CLIENT = ("import socket, sys\n"
          "print(socket.create_connection((sys.argv[1], 7777), timeout=3).recv(64).decode())\n")


def _dead(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def _connect(address, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, 7777), timeout=1) as s:
                return s.recv(64).decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@needs_root
@pytest.mark.skipif(not shutil.which("ip"), reason="iproute2 not installed")
def test_netns_lab():
    with NetnsLab() as lab:
        a, b, c = lab.add(), lab.add(), lab.add()
        assert len({a.inode, b.inode, c.inode, os.stat("/proc/self/ns/net").st_ino}) == 4
        assert lab.subnet.is_private
        server = lab.popen(a, ["python3", "-c", ECHO_SERVER, a.address])
        assert os.stat("/proc/%d/ns/net" % server.pid).st_ino == a.inode
        assert _connect(a.address) == "hi " + a.address       # from the root namespace
        out = lab.run(b, ["python3", "-c", CLIENT, a.address]).stdout.strip()
        assert out == "hi " + a.address                       # namespace to namespace
        routes = lab.run(c, ["ip", "-4", "route"]).stdout
        assert "default" not in routes and str(lab.subnet) in routes
        # A daemon started behind the lab's back is found by `ip netns pids`.
        subprocess.run(["ip", "netns", "exec", c.name, "sh", "-c", "sleep 300 >/dev/null 2>&1 &"],
                       check=True)
        deadline = time.monotonic() + 3
        while not lab.pids(c) and time.monotonic() < deadline:
            time.sleep(0.02)
        daemon = lab.pids(c)
        assert len(daemon) == 1
        names = [n.name for n in lab.namespaces]
    assert lab.leftovers() == []
    assert server.returncode is not None
    assert _dead(daemon[0])     # killed by PID (reaped later by the host's PID 1)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(n in listed for n in names)
    assert not os.path.exists("/sys/class/net/" + lab.bridge)


# --------------------------------------------------------------------------
# crash safety
# --------------------------------------------------------------------------

CHILD = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from lab.containers import RuncLab, cgroup_hierarchies
lab = RuncLab().start()
pod = lab.pod(layout=sys.argv[2])
dirs = [h.dir_for(p) for h in cgroup_hierarchies()
        for p in [pod.cgroup_parent] + [c.cgroups_path for c in pod.containers]]
print(json.dumps({"pids": [c.pid for c in pod.containers], "dirs": dirs, "tmp": lab.tmpdir}),
      flush=True)
if sys.argv[3] == "hang":
    time.sleep(600)
"""


def _child_lab(mode, layout):
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, tests_dir, layout, mode],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    info = json.loads(proc.stdout.readline())
    return proc, info


def _all_gone(info, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_dead(p) for p in info["pids"]) and not any(map(os.path.exists, info["dirs"])):
            return True
        time.sleep(0.05)
    return False


@needs_root
@needs_runc
def test_atexit_cleans_up_a_forgotten_lab():
    _rootfs_or_skip()
    proc, info = _child_lab("exit", "systemd")
    assert proc.wait(timeout=30) == 0
    assert _all_gone(info)
    assert not os.path.exists(info["tmp"])


@needs_root
@needs_runc
def test_sweep_after_sigkill():
    _rootfs_or_skip()
    proc, info = _child_lab("hang", "cgroupfs")
    assert not any(_dead(p) for p in info["pids"])
    os.kill(proc.pid, 9)            # our own child, by PID
    proc.wait(timeout=10)
    assert os.path.exists(info["tmp"])         # no cleanup ran
    sweep()
    assert _all_gone(info)
    assert not os.path.exists(info["tmp"])
