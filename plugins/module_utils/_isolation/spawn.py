# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Start a detached process in new namespaces: fork, unshare, fork again, exec.

Three processes take part::

    module (parent) --fork--> setup child --unshare, fork--> workload --exec--> command

* the **setup child** starts a new session, joins the cgroup, unshares, waits while
  the parent writes its user-namespace maps (only a process outside the new user
  namespace may map arbitrary IDs), writes the time-namespace offsets (allowed only
  before the first child) and forks the workload, which so becomes PID 1 of the new
  PID namespace; it then waits until the workload has exec'd (or failed) and exits;
* the **workload** makes the mounts private, mounts a fresh /proc, sets the hostname,
  brings up loopback, enters the root directory, drops to the declared user and
  execs the command with stdio on the log file and no other fd open.

Every failure is sent to the parent as one JSON line through CLOEXEC pipes, so a
missing binary is a clear message and no process is left behind. The parent returns
as soon as the workload exec'd: nothing of the module stays attached to it.

**When the module dies** (SIGKILL) at any instant, the start stays findable: the setup
child inherits the module's per-name lock (the open file description of the flock, so
the next run waits until the setup child has exited) and, as soon as it has forked the
workload, writes ``{token, pid, starttime}`` to the claim fd the module opened before
the fork (opened then because after unshare(CLONE_NEWUSER) the setup child may no
longer open files in the state directory). The next run matches the claim's token with
its intent record and adopts or removes the workload (see converge).
"""


import json
import os
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import files
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import child
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import syscalls

# How long the parent waits for the workload to exec before giving up on it.
HANDSHAKE_TIMEOUT = 30.0


class SpawnError(Exception):
    def __init__(self, step, detail):
        super(SpawnError, self).__init__('%s: %s' % (step, detail))
        self.step = step
        self.detail = detail


class LaunchPlan:
    """Everything the two children need, resolved by the parent beforehand."""

    def __init__(self, argv, executable, env, flags, log_path):
        self.argv = argv
        self.executable = executable    # path inside ``root``
        self.env = env
        self.flags = flags              # CLONE_NEW* mask for unshare
        self.log_path = log_path
        self.uid_map = None             # text for /proc/PID/uid_map, None = leave
        self.gid_map = None
        self.time_offsets = None        # text for /proc/self/timens_offsets
        self.hostname = None
        self.make_mounts_private = False
        self.mount_proc = False
        self.detach_paths = []          # mounts the new mount namespace must not keep
        self.loopback_up = False
        self.root = None
        self.chdir = '/'
        self.uid = None
        self.gid = None
        self.clear_groups = False       # drop supplementary groups (when user/group is set)
        self.umask = 0o022
        self.cgroup_procs = []          # cgroup.procs files to join before unshare
        self.claim_fd = None            # the setup child writes the workload's identity here
        self.token = None               # ... with this token of the intent record


def _fail(fd, step, exc):
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    child.send(fd, error=detail, step=step)


# ---------------------------------------------------------------------------- parent

def spawn(plan):
    """Start the workload; return its PID (in our PID namespace) once it has exec'd."""
    try:
        # Root appends here: no symlink, no FIFO, no device, nothing that blocks.
        log_fd = files.open_log(plan.log_path)
    except OSError as exc:
        raise SpawnError('log_path', 'cannot open %s: %s (it must be a regular file, not a symlink)'
                         % (plan.log_path, exc.strerror))
    null_fd = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    report_r, report_w = os.pipe()   # children -> parent, JSON lines
    go_r, go_w = os.pipe()           # parent -> setup child: the maps are written
    try:
        setup_pid = child.fork_child(_setup_child, plan, (report_r, go_w), report_w, go_r, log_fd, null_fd)
    finally:
        for fd in (report_w, go_r, log_fd, null_fd):
            os.close(fd)
    try:
        return _await_workload(plan, setup_pid, report_r, go_w)
    finally:
        os.close(report_r)
        os.close(go_w)


def _await_workload(plan, setup_pid, report_r, go_w):
    deadline = time.monotonic() + HANDSHAKE_TIMEOUT
    workload_pid = None
    error = None
    try:
        try:
            for message in child.iter_reports(report_r, deadline):
                if message.get('waiting_for_maps'):
                    _write_id_maps(plan, setup_pid)
                    os.write(go_w, b'g')
                elif 'pid' in message:
                    workload_pid = message['pid']
                elif 'error' in message:
                    error = SpawnError(message.get('step', 'start'), message['error'])
        except child.ChildTimeout:
            raise SpawnError('handshake', 'the new process did not exec within %ds' % HANDSHAKE_TIMEOUT)
    except BaseException:
        # Nothing of a half-started process may stay behind.
        child.kill_quietly(workload_pid)
        child.kill_quietly(setup_pid)
        child.reap(setup_pid)
        raise
    child.reap(setup_pid)
    if error:
        raise error
    if workload_pid is None:
        raise SpawnError('fork', 'the setup process exited without starting the workload')
    return workload_pid


def _write_id_maps(plan, setup_pid):
    steps = []
    if plan.uid_map is not None:
        steps.append(('uid_map', plan.uid_map))
    if plan.gid_map is not None:
        # Without "deny" an unprivileged process could drop groups that deny it access.
        steps.append(('setgroups', 'deny'))
        steps.append(('gid_map', plan.gid_map))
    for name, text in steps:
        try:
            procfs.write_proc_file(setup_pid, name, text)
        except OSError as exc:
            raise SpawnError('user namespace', 'writing %s "%s" failed: %s (ranges must not overlap and each '
                                               'line is "inside outside count")'
                             % (name, text.strip().replace('\n', ', '), exc.strerror))


# ---------------------------------------------------------------------------- setup child

def _setup_child(plan, parent_ends, report_w, go_r, log_fd, null_fd):  # pragma: no cover - runs in the child
    step = 'setsid'
    try:
        for fd in parent_ends:
            os.close(fd)
        os.setsid()
        step = 'cgroup'
        for procs in plan.cgroup_procs:
            with open(procs, 'w') as handle:
                handle.write(str(os.getpid()))
        if plan.clear_groups:
            # Here, while still host root: inside a user namespace setgroups is denied.
            step = 'setgroups'
            os.setgroups([])
        step = 'unshare'
        syscalls.unshare(plan.flags)
        if plan.uid_map is not None or plan.gid_map is not None:
            step = 'user namespace'
            child.send(report_w, waiting_for_maps=True)
            if os.read(go_r, 1) != b'g':
                return 1  # the parent gave up
        if plan.time_offsets:
            step = 'time namespace offsets'
            procfs.write_proc_file('self', 'timens_offsets', plan.time_offsets)
        step = 'fork'
        exec_r, exec_w = os.pipe()  # CLOEXEC: EOF once the workload exec'd
        claimed_r, claimed_w = os.pipe()  # the workload waits here until the claim is written
        workload_pid = child.fork_child(_workload, plan, (exec_r, report_w, claimed_w), exec_w, log_fd, null_fd,
                                        claimed_r)
    except BaseException as exc:  # pylint: disable=broad-except
        _fail(report_w, step, exc)
        return 1
    os.close(exec_w)
    os.close(claimed_r)
    # The workload is still blocked: it has not mounted its /proc over the /proc of the
    # mount namespace we share with it, so its stat is readable here.
    _write_claim(plan, workload_pid)
    os.write(claimed_w, b'g')
    os.close(claimed_w)
    child.send(report_w, pid=workload_pid)
    failure = child.read_all(exec_r)
    if failure:
        os.waitpid(workload_pid, 0)  # reap it here: it never ran the command
        try:
            os.write(report_w, failure)
        except OSError:
            pass
        return 1
    return 0


def _write_claim(plan, workload_pid):  # pragma: no cover - runs in the child
    """Tell a later run which process this start made, in case the module is gone."""
    if plan.claim_fd is None:
        return
    claim = {'token': plan.token, 'pid': workload_pid}
    try:
        claim['starttime'] = procfs.read_stat(procfs.ProcRoot(), workload_pid).starttime
    except (OSError, procfs.ProcParseError):
        pass  # exited already: the claim without starttime adopts nothing
    try:
        child.write_all(plan.claim_fd, (json.dumps(claim) + '\n').encode('ascii'))
        os.fsync(plan.claim_fd)
    except OSError:
        pass


# ---------------------------------------------------------------------------- workload

def _workload(plan, parent_ends, exec_w, log_fd, null_fd, claimed_r):  # pragma: no cover - runs in the child
    """Returns only when the exec failed (the exit status of a workload that never ran)."""
    step = 'claim'
    try:
        for fd in parent_ends:
            os.close(fd)
        if os.read(claimed_r, 1) != b'g':
            return 1  # the setup child died before it could claim us: never run unclaimed
        os.close(claimed_r)
        step = 'stdio'
        # stdin from /dev/null, stdout/stderr to the log, every other inherited fd closed
        child.set_stdio(null_fd, log_fd, log_fd)
        child.close_fds_except(exec_w)
        step = 'signals'
        child.reset_signals()
        if plan.make_mounts_private:
            step = 'mount propagation'
            syscalls.make_private('/', recursive=True)
            for path in plan.detach_paths:
                syscalls.umount_detach(path)
        if plan.mount_proc:
            step = 'mount /proc'
            syscalls.mount('proc', os.path.join(plan.root or '/', 'proc'), 'proc',
                           syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC)
        if plan.hostname:
            step = 'sethostname'
            syscalls.sethostname(plan.hostname)
        if plan.loopback_up:
            step = 'loopback up'
            syscalls.loopback_up()
        if plan.root:
            step = 'chroot %s' % plan.root
            os.chdir(plan.root)
            os.chroot('.')
        step = 'chdir %s' % plan.chdir
        os.chdir(plan.chdir)
        if plan.gid is not None:
            step = 'setgid %d' % plan.gid
            os.setresgid(plan.gid, plan.gid, plan.gid)
        if plan.uid is not None:
            step = 'setuid %d' % plan.uid
            os.setresuid(plan.uid, plan.uid, plan.uid)
        os.umask(plan.umask)
        step = 'exec %s' % plan.executable
        os.execve(plan.executable, plan.argv, plan.env)
    except BaseException as exc:  # pylint: disable=broad-except
        _fail(exec_w, step, exc)
    return 127
