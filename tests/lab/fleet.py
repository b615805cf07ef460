# -*- coding: utf-8 -*-
# Copyright: contributors to nsops.namespaces
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An SSH fleet in network namespaces, for end-to-end playbook tests (PRIVATE test lab).

    with SshFleet(hosts=3, unreachable=1) as fleet:
        fleet.write_inventory(path, host_vars={"fleet-a": {...}})
        # ansible-playbook -i path ... reaches fleet-a, fleet-b, fleet-c over SSH;
        # fleet-down has an address on the bridge where no host answers.
    # here: ssh ControlPersist masters closed, every sshd killed by PID,
    # namespaces, veths and bridge deleted, the work directory removed

Each host is a named network namespace of a NetnsLab (eth0 on the lab bridge, no
default route) running Debian's ``/usr/sbin/sshd -D`` under ``unshare --uts`` with
its own hostname (the inventory name), entered with ``nsenter --net`` so that the
host's mounts (/sys/fs/cgroup in particular) stay visible as on a real machine. Root logs in with a key made for the fleet
only (``PermitRootLogin prohibit-password``, no passwords, ``StrictModes no`` since
the keys live in a temp dir). All hosts share the controller's file system and
kernel: the module interpreter is the controller's own Python.

The unreachable host gets an address in the bridge subnet that nothing holds, so
SSH fails with "No route to host" after ARP gives up (about 3 s).

Teardown runs from ``__exit__``, at interpreter exit and on ``close()``: it closes
the SSH ControlPersist masters of the fleet's control directory (``ssh -O exit``,
then SIGKILL by the PID the master reported), kills each sshd by the PID in its
pidfile (checked against its start time), then lets NetnsLab kill what is left in
the namespaces and delete them with the bridge.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

from .netns import Netns, NetnsLab, _alive, _starttime

__all__ = ["FleetHost", "SshFleet", "SshFleetError"]

SSHD = "/usr/sbin/sshd"
SSH_PORT = 22
START_TIMEOUT = 20.0
CMD_TIMEOUT = 30

_SSHD_CONFIG = """\
# sshd of fleet host {name} (test lab)
Port {port}
ListenAddress {address}
HostKey {work}/ssh_host_ed25519_key
PidFile {work}/sshd-{name}.pid
AuthorizedKeysFile {work}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
AcceptEnv LANG LC_*
MaxSessions 50
MaxStartups 50:30:100
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel ERROR
"""


class SshFleetError(RuntimeError):
    pass


@dataclass
class FleetHost:
    name: str                       # inventory name, also the hostname inside its UTS namespace
    address: str
    netns: Optional[Netns] = None   # None for the unreachable host
    sshd_pid: Optional[int] = None
    sshd_starttime: Optional[int] = None

    @property
    def reachable(self):
        return self.netns is not None


def _run(args, check=True, timeout=CMD_TIMEOUT, **kwargs):
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    proc = subprocess.run(args, check=False, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise SshFleetError("%s failed (rc=%d): %s" % (" ".join(args), proc.returncode, (proc.stderr or "").strip()))
    return proc


class SshFleet:
    """Context manager: ``hosts`` SSH hosts in network namespaces plus ``unreachable`` addresses."""

    def __init__(self, hosts=3, unreachable=1, names=None, python=None, workdir_parent=None):
        if names is None:
            names = ["fleet-%s" % chr(ord("a") + i) for i in range(hosts)]
        if len(names) != hosts:
            raise ValueError("names must list %d host names" % hosts)
        self.names = list(names)
        self.unreachable_count = unreachable
        self.python = python or os.path.realpath(sys.executable)
        self.workdir_parent = workdir_parent
        self.lab = NetnsLab(prefix="nsfleet")
        self.hosts = []                 # FleetHost, reachable ones first
        self.work = None
        self.control_dir = None         # ANSIBLE_SSH_CONTROL_PATH_DIR for ansible runs
        self.key = None
        self._procs = []                # Popen of each sshd (reaped at close)
        self._closed = False
        self._owner = os.getpid()
        atexit.register(self._atexit)

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _atexit(self):
        if os.getpid() == self._owner and not self._closed:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - best effort at interpreter exit
                pass

    def start(self):
        if not os.access(SSHD, os.X_OK):
            raise SshFleetError("%s not found: apt-get install openssh-server" % SSHD)
        self.work = tempfile.mkdtemp(prefix="nsops-fleet-", dir=self.workdir_parent)
        os.chmod(self.work, 0o700)
        self.control_dir = os.path.join(self.work, "cp")
        os.mkdir(self.control_dir, 0o700)
        # sshd's privilege separation directory (Debian makes it from its init scripts).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.key = os.path.join(self.work, "id_ed25519")
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nsops-fleet", "-f", self.key])
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nsops-fleet-host",
              "-f", os.path.join(self.work, "ssh_host_ed25519_key")])
        shutil.copyfile(self.key + ".pub", os.path.join(self.work, "authorized_keys"))
        self.lab.start()
        for name in self.names:
            self.hosts.append(self._start_host(name))
        spare = list(self.lab.subnet.hosts())[::-1]   # from .254 down: never handed out by add()
        for index in range(self.unreachable_count):
            name = "fleet-down" if self.unreachable_count == 1 else "fleet-down-%d" % index
            self.hosts.append(FleetHost(name=name, address=str(spare[index])))
        for host in self.reachable:
            self._wait_ssh(host)
        return self

    def _start_host(self, name):
        netns = self.lab.add()
        config = os.path.join(self.work, "sshd-%s.conf" % name)
        with open(config, "w") as handle:
            handle.write(_SSHD_CONFIG.format(name=name, port=SSH_PORT, address=netns.address, work=self.work))
        _run([SSHD, "-t", "-f", config])
        log = open(os.path.join(self.work, "sshd-%s.log" % name), "ab")
        try:
            # nsenter --net, not `ip netns exec`: that one also unshares the mount
            # namespace and remounts /sys, hiding /sys/fs/cgroup from the host's modules.
            # nsenter execs unshare, unshare execs sh, sh execs sshd: one PID throughout.
            proc = subprocess.Popen(["nsenter", "--net=%s" % netns.path, "unshare", "--uts", "sh", "-c",
                                     'hostname "$0" && exec "$1" -D -e -f "$2"', name, SSHD, config],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            log.close()
        self._procs.append(proc)
        self.lab.track_pid(proc.pid)
        host = FleetHost(name=name, address=netns.address, netns=netns)
        pidfile = self.pidfile(host)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SshFleetError("sshd of %s exited with %s: %s" % (name, proc.returncode, self.sshd_log(host)))
            try:
                with open(pidfile) as handle:
                    host.sshd_pid = int(handle.read().strip())
                break
            except (OSError, ValueError):
                time.sleep(0.02)
        if host.sshd_pid is None:
            raise SshFleetError("sshd of %s wrote no pidfile in %.0f s" % (name, START_TIMEOUT))
        host.sshd_starttime = _starttime(host.sshd_pid)
        if host.sshd_pid != proc.pid:
            self.lab.track_pid(host.sshd_pid)
        return host

    def _wait_ssh(self, host):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host.address, SSH_PORT), timeout=1.0) as conn:
                    if conn.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise SshFleetError("sshd of %s does not answer on %s:%d: %s"
                            % (host.name, host.address, SSH_PORT, self.sshd_log(host)))

    def close(self):
        """Close ssh masters, kill each sshd by PID, delete the namespaces and bridge.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        errors = []
        try:
            self.close_ssh_masters()
        except Exception as exc:  # noqa: BLE001 - keep cleaning
            errors.append("ssh masters: %s" % exc)
        for host in self.reachable:
            if host.sshd_pid and _alive(host.sshd_pid, host.sshd_starttime):
                try:
                    os.kill(host.sshd_pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and any(
                h.sshd_pid and _alive(h.sshd_pid, h.sshd_starttime) for h in self.reachable):
            time.sleep(0.02)
        for proc in self._procs:
            try:
                proc.wait(timeout=0.5 if proc.poll() is None else 0)
            except subprocess.TimeoutExpired:
                pass                # NetnsLab SIGKILLs it next (tracked PID)
        try:
            self.lab.cleanup()      # SIGKILLs whatever is left in the namespaces, by PID
        except Exception as exc:  # noqa: BLE001
            errors.append(str(exc))
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                errors.append("sshd %d did not exit" % proc.pid)
        if self.work:
            shutil.rmtree(self.work, ignore_errors=True)
        if errors:
            raise SshFleetError("fleet cleanup incomplete: " + "; ".join(errors))

    def close_ssh_masters(self):
        """``ssh -O exit`` every ControlPersist master in the control directory; SIGKILL stragglers by PID."""
        if not self.control_dir or not os.path.isdir(self.control_dir):
            return
        for entry in sorted(os.listdir(self.control_dir)):
            path = os.path.join(self.control_dir, entry)
            check = _run(["ssh", "-o", "ControlPath=%s" % path, "-O", "check", "fleet-master"], check=False)
            pid = None
            text = (check.stderr or "") + (check.stdout or "")
            if "pid=" in text:
                try:
                    pid = int(text.split("pid=", 1)[1].split(")", 1)[0])
                except ValueError:
                    pid = None
            started = _starttime(pid) if pid else None
            _run(["ssh", "-o", "ControlPath=%s" % path, "-O", "exit", "fleet-master"], check=False)
            deadline = time.monotonic() + 3.0
            while pid and started and _alive(pid, started) and time.monotonic() < deadline:
                time.sleep(0.02)
            if pid and started and _alive(pid, started):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.unlink(path)
            except OSError:
                pass

    # -- queries -------------------------------------------------------------

    @property
    def reachable(self):
        return [h for h in self.hosts if h.reachable]

    @property
    def unreachable(self):
        return [h for h in self.hosts if not h.reachable]

    def host(self, name):
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def pidfile(self, host):
        return os.path.join(self.work, "sshd-%s.pid" % host.name)

    def sshd_log(self, host):
        try:
            with open(os.path.join(self.work, "sshd-%s.log" % host.name), errors="replace") as handle:
                return handle.read()[-2000:]
        except OSError:
            return ""

    def leftovers(self):
        """What the fleet left behind (empty list = clean)."""
        out = list(self.lab.leftovers())
        for host in self.reachable:
            if host.sshd_pid and _alive(host.sshd_pid, host.sshd_starttime):
                out.append("sshd %d of %s" % (host.sshd_pid, host.name))
        if self.work and os.path.exists(self.work):
            out.append("work dir %s" % self.work)
        return out

    # -- ansible -------------------------------------------------------------

    def ansible_env(self):
        """Environment for ansible-* commands: ssh masters in the fleet's control dir."""
        return {"ANSIBLE_SSH_CONTROL_PATH_DIR": self.control_dir, "ANSIBLE_HOST_KEY_CHECKING": "False"}

    def connection_vars(self):
        """Group variables that connect to the fleet (root, fleet key, no known_hosts)."""
        return {
            "ansible_connection": "ansible.builtin.ssh",
            "ansible_user": "root",
            "ansible_port": SSH_PORT,
            "ansible_ssh_private_key_file": self.key,
            "ansible_ssh_common_args": ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                        "-o ConnectTimeout=5 -o LogLevel=ERROR"),
            "ansible_ssh_pipelining": True,
            "ansible_python_interpreter": self.python,
        }

    def inventory(self, host_vars=None, group_vars=None, group="fleet"):
        """An inventory dict: group ``group`` with every host (the unreachable one too)."""
        host_vars = host_vars or {}
        hosts = {}
        for host in self.hosts:
            entry = {"ansible_host": host.address}
            entry.update(host_vars.get(host.name, {}))
            hosts[host.name] = entry
        variables = self.connection_vars()
        variables.update(group_vars or {})
        return {"all": {"children": {group: {"hosts": hosts, "vars": variables}}}}

    def write_inventory(self, path, host_vars=None, group_vars=None, group="fleet"):
        import json     # YAML is a superset of JSON: no PyYAML needed here
        with open(path, "w") as handle:
            json.dump(self.inventory(host_vars, group_vars, group), handle, indent=1, sort_keys=True)
        return path
