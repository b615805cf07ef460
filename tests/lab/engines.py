# -*- coding: utf-8 -*-
# Copyright: contributors to nsops.namespaces
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real container engines for tests: Docker, Podman, containerd, LXC, systemd-nspawn, crun.

PRIVATE to the tests of this repository.  Each engine runs from Debian's packages
(tools/env.sh installs them) with every bit of state below one test directory:

    with DockerEngine(workdir) as docker:         # dockerd started by us, cgroupfs driver
        cid = docker.run("web", ["httpd", "-f", "-p", "8080", "-h", "/www"])
        docker.inspect(cid)["State"]["Pid"]

``start()`` raises :class:`EngineUnavailable` carrying the engine's own error text
when the engine cannot run here (tests turn that into ``pytest.skip``).  ``stop()``
- also called by ``__exit__`` and at interpreter exit - removes the containers,
stops the daemon by its PID, kills by PID whatever is left in the cgroups the
engine created, removes those cgroups bottom-up in every hierarchy (only the ones
that did not exist before it started), unmounts what the engine mounted below the
test directory and deletes that directory.

Facts relied on (Debian 12, see ../shared/GUIDE.md 5b): dockerd and containerd put
their shims in the caller's cgroup; Podman with the cgroupfs manager uses
``/libpod_parent``; LXC ``/lxc.payload.NAME`` and ``/lxc.monitor.NAME``; nspawn,
started inside ``/machine.slice/machine-NAME.scope``, makes ``payload`` and
``supervisor`` below it on name=systemd and unified; crun refuses hybrid hosts while
cgroup2 owns a controller, which a v1 mount of that controller takes back.
"""

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

from . import track_live_lab, untrack_live_lab
from .containers import _proc_stat, _rmdir_cgroup, cgroup_hierarchies

__all__ = ["EngineUnavailable", "ENGINES", "DockerEngine", "PodmanEngine", "ContainerdEngine", "LxcEngine",
           "NspawnEngine", "CrunEngine", "build_rootfs", "random_hex"]

CMD_TIMEOUT = 120
DOCKER = "/usr/bin/docker"   # another docker client may come first in PATH
BUSYBOX = "/bin/busybox"


class EngineUnavailable(RuntimeError):
    """The engine cannot start here; the message is the engine's own error."""


def random_hex(n=64):
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:n]


def build_rootfs(dest, port_page="hello from nsops\n"):
    """A busybox root file system: the static binary, applet links, passwd, /www, os-release."""
    if not os.path.exists(BUSYBOX):
        raise EngineUnavailable("%s is missing: apt-get install busybox-static" % BUSYBOX)
    for sub in ("bin", "etc", "www", "usr/lib", "proc", "sys", "dev", "tmp", "root", "run", "var/run"):
        os.makedirs(os.path.join(dest, sub), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(dest, "bin", "busybox"))
    listing = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in listing:
        link = os.path.join(dest, "bin", applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    files = {
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
        "etc/group": "root:x:0:\n",
        "www/index.html": port_page,
        "usr/lib/os-release": "ID=busybox\nNAME=busybox\n",
    }
    for rel, text in files.items():
        with open(os.path.join(dest, rel), "w") as handle:
            handle.write(text)
    return dest


def _tail(text, limit=1500):
    text = (text or "").strip()
    return text[-limit:]


def _alive(pid, starttime):
    stat = _proc_stat(pid)
    return bool(stat) and stat[1] == starttime and stat[0] not in ("Z", "X")


def _cgroup_dirs_below(top):
    """Every directory below (and including) ``top``, deepest first."""
    found = []
    for current, dirs, _files in os.walk(top):
        found.append(current)
    return sorted(found, key=lambda path: path.count("/"), reverse=True)


class Engine:
    """One engine: its test directory, daemon processes and the cgroups it creates."""

    name = "engine"
    cgroup_tops = ()          # top-level cgroup directory names the engine creates
    commands = ()             # binaries it needs

    def __init__(self, workdir=None):
        self.parent = workdir
        self.dir = None
        self.rootfs = None
        self.processes = []   # (pid, starttime, Popen or None) to stop, in order
        self.tops = list(self.cgroup_tops)
        self.before = {}      # hierarchy mount point -> cgroup dirs below self.tops before they were used
        self.containers = []  # what the tests started, engine specific
        self.stopped = False
        self.owner_pid = os.getpid()
        self.errors = []      # what stop() could not do

    # -- lifecycle --------------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        for command in self.commands:
            if not shutil.which(command) and not os.path.exists(command):
                raise EngineUnavailable("%s: %s not installed (tools/env.sh installs the Debian packages)"
                                        % (self.name, command))
        self.dir = tempfile.mkdtemp(prefix="nsops-%s-" % self.name, dir=self.parent)
        self.before = self._snapshot()
        track_live_lab(self)
        try:
            self.rootfs = build_rootfs(os.path.join(self.dir, "rootfs"))
            self._start()
        except EngineUnavailable:
            self.stop()
            raise
        except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
            self.stop()
            raise EngineUnavailable("%s: %s" % (self.name, exc))
        return self

    def _start(self):
        raise NotImplementedError

    def _remove_containers(self):
        """Engine-specific removal of every container (best effort)."""

    def cleanup(self):
        self.stop()

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        untrack_live_lab(self)
        for step in (self._remove_containers, self._stop_processes, self._kill_cgroup_members,
                     self._remove_cgroups, self._unmount, self._after_stop, self._remove_dir):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - every step must run
                self.errors.append("%s: %s" % (step.__name__, exc))

    def _after_stop(self):
        """Engine-specific restoring of host state (crun's hugetlb mount)."""

    # -- helpers ----------------------------------------------------------------

    def cmd(self, argv, check=True, timeout=CMD_TIMEOUT, env=None, stdin=subprocess.DEVNULL):
        proc = subprocess.run(argv, stdin=stdin, capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)
        if check and proc.returncode != 0:
            raise EngineUnavailable("%s: `%s` failed (rc=%d): %s" % (
                self.name, " ".join(argv), proc.returncode, _tail(proc.stderr + proc.stdout)))
        return proc

    def spawn(self, argv, log_name, env=None, preexec_fn=None):
        """Start a long-running engine process; stopped by PID in stop()."""
        log = open(os.path.join(self.dir, log_name), "wb")  # pylint: disable=consider-using-with
        try:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, preexec_fn=preexec_fn, start_new_session=True)
        finally:
            log.close()
        stat = _proc_stat(popen.pid)
        self.processes.append((popen.pid, stat[1] if stat else None, popen))
        return popen

    def log(self, log_name):
        try:
            with open(os.path.join(self.dir, log_name), errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def wait_for(self, check, what, popen=None, log_name=None, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if popen is not None and popen.poll() is not None:
                raise EngineUnavailable("%s exited (rc=%s) before %s: %s" % (
                    self.name, popen.returncode, what, _tail(self.log(log_name))))
            time.sleep(0.1)
        raise EngineUnavailable("%s: timed out waiting for %s: %s" % (self.name, what, _tail(self.log(log_name))))

    def _snapshot(self, tops=None):
        seen = {}
        for hierarchy in cgroup_hierarchies():
            dirs = set()
            for top in self.tops if tops is None else tops:
                # the top and its parents as they were: a parent made by us is removed at stop
                parts = top.split("/")
                for depth in range(1, len(parts) + 1):
                    path = os.path.join(hierarchy.mountpoint, *parts[:depth])
                    if os.path.isdir(path):
                        dirs.update(_cgroup_dirs_below(path) if depth == len(parts) else [path])
            seen[hierarchy.mountpoint] = dirs
        return seen

    def add_top(self, top):
        """Own the cgroups that appear below ``top`` (a relative cgroup path) from now on."""
        for point, dirs in self._snapshot([top]).items():
            self.before.setdefault(point, set()).update(dirs)
        self.tops.append(top)

    def created_cgroups(self):
        """Cgroup directories below self.tops that appeared since they were added, deepest first."""
        made = set()
        for hierarchy in cgroup_hierarchies():
            old = self.before.get(hierarchy.mountpoint, set())
            for top in self.tops:
                path = os.path.join(hierarchy.mountpoint, top)
                if os.path.isdir(path):
                    made.update(d for d in _cgroup_dirs_below(path) if d not in old)
        return sorted(made, key=lambda path: path.count("/"), reverse=True)

    def created_parents(self):
        """Parents of self.tops that did not exist before (shared with others: removed only when unused)."""
        made = set()
        for hierarchy in cgroup_hierarchies():
            old = self.before.get(hierarchy.mountpoint, set())
            for top in self.tops:
                parts = top.split("/")
                for depth in range(1, len(parts)):
                    path = os.path.join(hierarchy.mountpoint, *parts[:depth])
                    if os.path.isdir(path) and path not in old:
                        made.add(path)
        return sorted(made, key=lambda path: path.count("/"), reverse=True)

    def _stop_processes(self):
        for pid, starttime, popen in reversed(self.processes):
            if starttime is None or not _alive(pid, starttime):
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _alive(pid, starttime) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid, starttime):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for pid, starttime, popen in self.processes:
            if popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=10)

    def _kill_cgroup_members(self):
        """Processes left in cgroups the engine made are its own: SIGKILL them by PID."""
        for _round in range(50):
            left = []
            for directory in self.created_cgroups():
                with contextlib.suppress(OSError):
                    with open(os.path.join(directory, "cgroup.procs")) as handle:
                        left.extend(int(word) for word in handle.read().split())
            live = [pid for pid in set(left) if _proc_stat(pid) and _proc_stat(pid)[0] not in ("Z", "X")]
            if not live:
                return
            for pid in live:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)

    def _remove_cgroups(self):
        left = [d for d in self.created_cgroups() if not _rmdir_cgroup(d)]
        for parent in self.created_parents():
            _rmdir_quiet(parent)   # another lab may be using it: then it stays for that lab
        if left:
            raise OSError("cgroups still in use: %s" % ", ".join(left))

    def _unmount(self, below=None):
        below = below or self.dir
        if not below:
            return
        for _round in range(3):
            mounts = []
            with open("/proc/self/mountinfo") as handle:
                for line in handle:
                    point = line.split()[4].replace("\\040", " ")
                    if point == below or point.startswith(below + "/"):
                        mounts.append(point)
            if not mounts:
                return
            for point in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", point], capture_output=True, check=False, timeout=CMD_TIMEOUT)

    def _remove_dir(self):
        if self.dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
            if os.path.isdir(self.dir):
                raise OSError("%s could not be removed" % self.dir)

    def leftovers(self):
        """Cgroups and mounts that stop() could not remove (empty when clean)."""
        left = list(self.errors) + self.created_cgroups()
        if self.dir and os.path.exists(self.dir):
            left.append(self.dir)
        return left


# ------------------------------------------------------------------------------ Docker

class DockerEngine(Engine):
    """dockerd with the cgroupfs driver, no iptables/bridge, state in the test dir."""

    name = "docker"
    cgroup_tops = ("docker",)
    commands = ("/usr/sbin/dockerd", DOCKER)

    def _start(self):
        self.sock = os.path.join(self.dir, "docker.sock")
        argv = ["/usr/sbin/dockerd", "--data-root", os.path.join(self.dir, "data"),
                "--exec-root", os.path.join(self.dir, "exec"), "--pidfile", os.path.join(self.dir, "docker.pid"),
                "-H", "unix://" + self.sock, "--iptables=false", "--ip-forward=false", "--ip-masq=false",
                "--bridge=none", "--exec-opt", "native.cgroupdriver=cgroupfs", "--storage-driver", "vfs"]
        popen = self.spawn(argv, "dockerd.log")
        self.wait_for(lambda: os.path.exists(self.sock) and self.docker("version", check=False).returncode == 0,
                      "the API socket", popen, "dockerd.log")
        tar = subprocess.Popen(["tar", "-C", self.rootfs, "-c", "."], stdout=subprocess.PIPE)
        try:
            self.cmd([DOCKER, "-H", "unix://" + self.sock, "import", "-", "nsops-busybox"], stdin=tar.stdout)
        finally:
            tar.stdout.close()
            tar.wait()

    def docker(self, *args, check=True):
        return self.cmd([DOCKER, "-H", "unix://" + self.sock] + list(args), check=check)

    def run(self, name, args, options=()):
        cid = self.docker("run", "-d", "--name", name, *options, "nsops-busybox", *args).stdout.strip()
        self.containers.append(cid)
        return cid

    def inspect(self, ref):
        return json.loads(self.docker("inspect", ref).stdout)[0]

    def _remove_containers(self):
        if self.containers:
            self.docker("rm", "-f", *self.containers, check=False)


# ------------------------------------------------------------------------------ Podman

class PodmanEngine(Engine):
    """Podman (no daemon): cgroupfs manager, runc, file events, own root/runroot/tmpdir."""

    name = "podman"
    cgroup_tops = ("libpod_parent",)
    commands = ("podman", "conmon", "runc")

    def _start(self):
        conf = os.path.join(self.dir, "containers.conf")
        with open(conf, "w") as handle:
            handle.write('[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                         'events_logfile_path = "%s/events.log"\n[containers]\n'
                         'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' % self.dir)
        self.env = dict(os.environ, CONTAINERS_CONF=conf)
        # Podman refuses a runroot longer than 50 characters: a short one beside the test dir.
        self.runroot = tempfile.mkdtemp(prefix="nsops-podman-")
        self.base = ["podman", "--root", os.path.join(self.dir, "root"), "--runroot", self.runroot,
                     "--tmpdir", os.path.join(self.dir, "tmp"), "--storage-driver", "vfs"]
        tar = subprocess.Popen(["tar", "-C", self.rootfs, "-c", "."], stdout=subprocess.PIPE)
        try:
            self.cmd(self.base + ["import", "-", "nsops-busybox"], env=self.env, stdin=tar.stdout)
        finally:
            tar.stdout.close()
            tar.wait()

    def podman(self, *args, check=True):
        return self.cmd(self.base + list(args), env=self.env, check=check)

    def run(self, name, args, options=()):
        cid = self.podman("run", "-d", "--name", name, *options, "nsops-busybox", *args).stdout.strip()
        self.containers.append(cid)
        return cid

    def pod_create(self, name):
        return self.podman("pod", "create", "--name", name, "--network", "none").stdout.strip()

    def inspect(self, ref):
        return json.loads(self.podman("inspect", ref).stdout)[0]

    def pod_inspect(self, ref):
        data = json.loads(self.podman("pod", "inspect", ref).stdout)
        return data[0] if isinstance(data, list) else data

    def _remove_containers(self):
        if getattr(self, "base", None):
            self.podman("pod", "rm", "-f", "-t", "0", "--all", check=False)
            self.podman("rm", "-f", "-t", "0", "--all", check=False)

    def _after_stop(self):
        runroot = getattr(self, "runroot", None)
        if runroot:
            self._unmount(runroot)
            shutil.rmtree(runroot, ignore_errors=True)
            if os.path.exists(runroot):
                raise OSError("%s could not be removed" % runroot)


# ------------------------------------------------------------------------------ containerd

class ContainerdEngine(Engine):
    """containerd with its own root, state and sockets, the CRI plugin disabled; driven by ctr."""

    name = "containerd"
    cgroup_tops = ("default",)
    commands = ("containerd", "ctr", "containerd-shim-runc-v2")

    def _start(self):
        self.sock = os.path.join(self.dir, "containerd.sock")
        conf = os.path.join(self.dir, "config.toml")
        with open(conf, "w") as handle:
            handle.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                         'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                         '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n'
                         '[debug]\n  address = "%s/debug.sock"\n'
                         % (self.dir, self.dir, self.sock, self.sock, self.dir))
        popen = self.spawn(["containerd", "--config", conf], "containerd.log")
        self.wait_for(lambda: os.path.exists(self.sock) and self.ctr("version", check=False).returncode == 0,
                      "the API socket", popen, "containerd.log")

    def ctr(self, *args, namespace="default", check=True):
        return self.cmd(["ctr", "-a", self.sock, "-n", namespace] + list(args), check=check)

    def run(self, cid, args, namespace="default", cgroup=None, join=None):
        """``ctr run -d`` on a private copy of the rootfs; returns the task PID (ctr task ls)."""
        rootfs = os.path.join(self.dir, "rootfs-" + cid[:16])
        shutil.copytree(self.rootfs, rootfs, symlinks=True)
        argv = ["run", "-d", "--env", "PATH=/bin"]
        if cgroup:
            self.add_top(cgroup.strip("/"))
            argv += ["--cgroup", cgroup]
        for nstype, path in (join or {}).items():
            argv += ["--with-ns", "%s:%s" % (nstype, path)]
        self.ctr(*(argv + ["--rootfs", rootfs, cid] + list(args)), namespace=namespace)
        self.containers.append((namespace, cid))
        return self.task_pid(cid, namespace)

    def tasks(self, namespace="default"):
        rows = self.ctr("task", "ls", namespace=namespace).stdout.splitlines()[1:]
        return dict((row.split()[0], int(row.split()[1])) for row in rows if row.split())

    def task_pid(self, cid, namespace="default"):
        return self.tasks(namespace)[cid]

    def _remove_containers(self):
        for namespace, cid in reversed(self.containers):
            self.ctr("task", "kill", "-s", "KILL", cid, namespace=namespace, check=False)
        for namespace, cid in reversed(self.containers):
            for _try in range(50):
                if self.ctr("task", "delete", cid, namespace=namespace, check=False).returncode == 0:
                    break
                if self.ctr("task", "ls", "-q", namespace=namespace, check=False).stdout.split().count(cid) == 0:
                    break
                time.sleep(0.1)
            self.ctr("container", "rm", cid, namespace=namespace, check=False)


# ------------------------------------------------------------------------------ LXC

class LxcEngine(Engine):
    """LXC 5 with the busybox template, an empty network, a private lxcpath."""

    name = "lxc"
    commands = ("lxc-create", "lxc-start", "lxc-stop", "lxc-info")

    cgroup_tops = ("lxc.pivot",)

    def lxc(self, command, name, *args, check=True):
        return self.cmd([command, "-P", self.dir, "-n", name] + list(args), check=check)

    def _start(self):
        self.conf = os.path.join(self.dir, "lxc.conf")
        with open(self.conf, "w") as handle:
            handle.write("lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n")

    def create(self, name, service):
        """Create and start ``name``; rcS runs ``service`` (a shell command line) in the background."""
        for top in ("lxc.payload." + name, "lxc.monitor." + name):
            for hierarchy in cgroup_hierarchies():
                if os.path.isdir(os.path.join(hierarchy.mountpoint, top)):
                    raise EngineUnavailable("lxc: cgroup %s already exists: another container %s runs" % (top, name))
        self.add_top("lxc.payload." + name)
        self.add_top("lxc.monitor." + name)
        self.lxc("lxc-create", name, "-t", "busybox", "-f", self.conf)
        self.containers.append(name)
        rootfs = os.path.join(self.dir, name, "rootfs")
        os.makedirs(os.path.join(rootfs, "www"), exist_ok=True)
        with open(os.path.join(rootfs, "www", "index.html"), "w") as handle:
            handle.write("hello from lxc\n")
        with open(os.path.join(rootfs, "etc", "init.d", "rcS"), "w") as handle:
            handle.write("#!/bin/sh\n/bin/mount -a\n%s\n" % service)
        self.lxc("lxc-start", name, "-d", "-l", "INFO", "-o", os.path.join(self.dir, name + ".log"))
        self.wait_for(lambda: self.info(name).get("State") == "RUNNING" and self.info(name).get("PID"),
                      "container %s to run" % name, log_name=name + ".log")
        return self.info(name)

    def info(self, name):
        out = self.lxc("lxc-info", name, check=False).stdout
        pairs = (line.split(":", 1) for line in out.splitlines() if ":" in line)
        return dict((key.strip(), value.strip()) for key, value in pairs if value.strip())

    def _remove_containers(self):
        for name in self.containers:
            self.lxc("lxc-stop", name, "-k", check=False)
            self.lxc("lxc-destroy", name, "-f", check=False)


# ------------------------------------------------------------------------------ systemd-nspawn

def _enter_cgroup_dirs(dirs):
    """preexec_fn: move the child (the future nspawn supervisor) into ``dirs``."""
    def enter():
        for directory in dirs:
            with open(os.path.join(directory, "cgroup.procs"), "w") as handle:
                handle.write(str(os.getpid()))
    return enter


class NspawnEngine(Engine):
    """systemd-nspawn in /machine.slice/machine-NAME.scope, as systemd would place it."""

    name = "systemd-nspawn"
    commands = ("systemd-nspawn",)

    def _start(self):
        self.machines = {}

    def boot(self, name, args):
        """Run ``args`` as PID 1 of machine ``name``; returns (supervisor PID, payload PID)."""
        scope = "/machine.slice/machine-%s.scope" % name
        self.add_top(scope.strip("/"))
        dirs = []
        for hierarchy in cgroup_hierarchies():
            if hierarchy.controllers == ("cpuset",):
                continue   # systemd creates no cpuset cgroups on v1: the machine stays at /
            directory = hierarchy.dir_for(scope)
            if directory is None:
                continue
            os.makedirs(directory, exist_ok=True)
            dirs.append(directory)
        rootfs = os.path.join(self.dir, "machine-" + name)
        shutil.copytree(self.rootfs, rootfs, symlinks=True)
        argv = ["systemd-nspawn", "--register=no", "--keep-unit", "--private-network", "-q", "-M", name,
                "-D", rootfs] + list(args)
        popen = self.spawn(argv, name + ".log", preexec_fn=_enter_cgroup_dirs(dirs))
        payload = [None]

        def started():
            children = _children(popen.pid)
            payload[0] = children[0] if children else None
            return payload[0] is not None and _comm(payload[0]) != "systemd-nspawn"
        self.wait_for(started, "machine %s to start" % name, popen, name + ".log")
        self.machines[name] = (popen.pid, payload[0])
        return popen.pid, payload[0]


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as handle:
            return [int(word) for word in handle.read().split()]
    except OSError:
        return []


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as handle:
            return handle.read().strip()
    except OSError:
        return None


# ------------------------------------------------------------------------------ crun

def _v1_hierarchy_id(controller):
    """Hierarchy ID of a controller in /proc/cgroups: 0 when it is on cgroup2 (or absent)."""
    with open("/proc/cgroups") as handle:
        for line in handle:
            fields = line.split()
            if fields and fields[0] == controller:
                return int(fields[1])
    return 0


def _v2_controllers():
    for hierarchy in cgroup_hierarchies():
        if hierarchy.version == 2:
            try:
                with open(os.path.join(hierarchy.mountpoint, "cgroup.controllers")) as handle:
                    return hierarchy.mountpoint, handle.read().split()
            except OSError:
                return hierarchy.mountpoint, []
    return None, []


class CrunEngine(Engine):
    """crun with its own --root; on a hybrid host the controllers cgroup2 owns get a v1 mount first."""

    name = "crun"
    commands = ("crun", "runc")

    def _start(self):
        self.state = os.path.join(self.dir, "state")
        self.mounted = []
        v2_mount, owned = _v2_controllers()
        has_v1 = any(h.version == 1 for h in cgroup_hierarchies())
        if has_v1 and v2_mount and owned:
            for controller in owned:
                point = os.path.join(os.path.dirname(v2_mount.rstrip("/")), controller)
                os.makedirs(point, exist_ok=True)
                self.cmd(["mount", "-t", "cgroup", "-o", controller, "nsops-" + controller, point])
                self.mounted.append(point)

    def crun(self, *args, check=True):
        return self.cmd(["crun", "--root", self.state] + list(args), check=check)

    def run(self, cid, args, cgroups_path):
        bundle = os.path.join(self.dir, "bundle-" + cid[:16])
        os.makedirs(bundle)
        shutil.copytree(self.rootfs, os.path.join(bundle, "rootfs"), symlinks=True)
        self.cmd(["runc", "spec", "-b", bundle])
        path = os.path.join(bundle, "config.json")
        with open(path) as handle:
            config = json.load(handle)
        config["process"]["terminal"] = False
        config["process"]["args"] = list(args)
        config["root"]["readonly"] = False
        config["linux"]["cgroupsPath"] = cgroups_path
        self.add_top(cgroups_path.strip("/"))
        with open(path, "w") as handle:
            json.dump(config, handle)
        # The container inherits crun's stdio: a log file, or `run -d` would wait on our pipe.
        with open(os.path.join(self.dir, cid[:16] + ".log"), "wb") as log:
            proc = subprocess.run(["crun", "--root", self.state, "run", "-d", "--bundle", bundle, cid],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=CMD_TIMEOUT, check=False)
        self.containers.append(cid)
        if proc.returncode != 0:
            raise EngineUnavailable("crun: `crun run` failed (rc=%d): %s" % (
                proc.returncode, _tail(self.log(cid[:16] + ".log"))))
        return self.state_of(cid)

    def state_of(self, cid):
        return json.loads(self.crun("state", cid).stdout)

    def _remove_containers(self):
        for cid in self.containers:
            self.crun("delete", "-f", cid, check=False)

    def _after_stop(self):
        """Give the controllers back to cgroup2: unmount the v1 mounts, only when they have no children.

        A hierarchy unmounted while a removed child cgroup is still dying is not destroyed
        but lingers, keeping the controller from cgroup2: mount it again, wait, unmount
        again, until /proc/cgroups shows the controller back on the unified hierarchy.
        """
        for point in reversed(getattr(self, "mounted", [])):
            controller = os.path.basename(point)
            busy = [name for name in os.listdir(point) if os.path.isdir(os.path.join(point, name))]
            if busy:
                raise OSError("%s still has child cgroups %s: left mounted" % (point, ", ".join(busy)))
            for _round in range(20):
                self.cmd(["umount", point], check=False)
                time.sleep(0.5)
                if _v1_hierarchy_id(controller) == 0:
                    break
                self.cmd(["mount", "-t", "cgroup", "-o", controller, "nsops-" + controller, point], check=False)
            with contextlib.suppress(OSError):
                os.rmdir(point)
            if _v1_hierarchy_id(controller) != 0:
                raise OSError("the v1 %s hierarchy lingers after unmounting it: cgroup2 did not get it back"
                              % controller)
        self.mounted = []


ENGINES = {
    "docker": DockerEngine,
    "podman": PodmanEngine,
    "containerd": ContainerdEngine,
    "lxc": LxcEngine,
    "systemd-nspawn": NspawnEngine,
    "crun": CrunEngine,
}


def _rmdir_quiet(path):
    try:
        os.rmdir(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.EBUSY, errno.ENOTEMPTY):
            raise
