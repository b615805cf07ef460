# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Entering namespaces: the target's namespace fds, setns(2) in nsenter's order, and a
function run in a child that entered them.

The module process only opens file descriptors; it never switches namespaces itself.
A target process is pinned by a directory fd of ``/proc/PID``: every namespace is
opened relative to it, so a reused PID cannot slip in between the lookup and the exec.
"""


import errno
import os
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import child
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    NS_TYPES,
    ProcParseError,
    own_namespaces,
    process_alive,
    read_self_mountinfo_at,
    read_stat_at,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.syscalls import (
    CLONE_NEWNS,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    close_quietly,
    get_nstype,
    libc,
    make_private,
    mount,
    open_ns,
    set_parent_death_signal,
    setns,
    unshare,
)

# nsenter(1)'s order. The user namespace is entered in the second pass (see enter_namespaces).
ENTER_ORDER = ('cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time')


class EnterError(Exception):
    """Opening or entering the namespaces failed; the message names the fix. ``step``
    says where (lookup, open, setns, ...)."""

    def __init__(self, msg, step=None):
        super(EnterError, self).__init__(msg)
        self.step = step


class TargetGone(EnterError):
    """The target process exited between the lookup and the exec."""


# ---------------------------------------------------------------------------- in a child

def enter_namespaces(entries):
    """setns() into each ``(type, fd)``, in nsenter's two passes.

    Pass one joins every type but user, skipping failures: as root of our own user
    namespace we hold the capabilities setns needs over the target's other namespaces
    only until we join its user namespace. Pass two joins the user namespace, then
    retries what failed (a namespace owned by the target's user namespace may need us
    to be in it first when we start unprivileged).
    """
    by_type = dict(entries)
    failed = []
    for nstype in ENTER_ORDER:
        if nstype in by_type:
            try:
                setns(by_type[nstype], nstype)
            except OSError:
                failed.append(nstype)
    if 'user' in by_type:
        _setns_or_raise(by_type['user'], 'user')
    for nstype in failed:
        _setns_or_raise(by_type[nstype], nstype)


def _setns_or_raise(fd, nstype):
    try:
        setns(fd, nstype)
    except OSError as exc:
        raise EnterError('setns into the %s namespace failed: %s%s' % (
            nstype, os.strerror(exc.errno),
            '; the module needs CAP_SYS_ADMIN (run it as root, become: true)' if exc.errno == errno.EPERM else ''),
            step='setns')


def die_with_parent(parent_pid):  # pragma: no cover - runs in the child
    """A killed module must not leave the command running.

    A parent that died before the prctl would never send the signal: check for that.
    getppid() is 0 for a parent outside our PID namespace (the entering child, seen from
    the command); after a reparenting it names the reaper instead.
    """
    set_parent_death_signal()
    if os.getppid() not in (parent_pid, 0):
        os._exit(1)


def become_namespace_root():  # pragma: no cover - runs in the child
    """In a joined user namespace, act as its root (nsenter's default); a note when UID
    or GID 0 is not mapped there.

    Our host credentials stay as they are after setns: unmapped in the namespace, they
    show as the overflow user and can create no files. UID/GID 0 of the namespace are the
    container's root; supplementary groups are dropped where the namespace allows it.
    """
    try:
        os.setgroups([])
    except OSError:
        pass  # /proc/PID/setgroups is "deny" in that namespace
    try:
        os.setgid(0)
        os.setuid(0)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return ('UID or GID 0 is not mapped in the target\'s user namespace: the command keeps '
                'the module\'s credentials, which the namespace shows as the overflow user')
    return None


def load_libc():
    """Load libc in the parent, once, rather than in every forked child."""
    libc()


def call_in_namespaces(entries, function, timeout=30.0):
    """Run ``function()`` (returning bytes) in a forked child that entered ``entries``.

    For reading files that show the reader's namespace (``/proc/self/net/*``) of a
    namespace no process is in. The module process stays where it is.
    """
    load_libc()
    read_fd, write_fd = os.pipe()
    try:
        pid = child.fork_child(_answer_in_namespaces, read_fd, write_fd, entries, function)
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        raise
    os.close(write_fd)
    try:
        data = child.read_all(read_fd, time.monotonic() + timeout)
    except child.ChildTimeout:
        raise EnterError('the child reading inside the namespace did not finish within %d seconds' % timeout)
    finally:
        os.close(read_fd)
        child.kill_and_reap(pid)
    if data[:1] != b'1':
        raise EnterError(data[1:].decode('utf-8', 'replace') or 'the child exited without an answer')
    return data[1:]


def _answer_in_namespaces(read_fd, write_fd, entries, function):  # pragma: no cover - runs in the child
    os.close(read_fd)
    try:
        enter_namespaces(entries)
        child.write_all(write_fd, b'1' + function())
        return 0
    except BaseException as exc:  # pylint: disable=broad-except
        try:
            child.write_all(write_fd, b'0' + str(exc).encode('utf-8', 'replace'))
        except OSError:
            pass
        return 1


# ---------------------------------------------------------------------------- targets

class Target:
    """Open namespace fds of what to enter, plus a handle on the target process."""

    def __init__(self):
        self.pid = None          # PID of the target below the proc root (None for files)
        self.proc_fd = None      # directory fd of /proc/PID: pins that very process
        self.root_fd = None      # /proc/PID/root
        self.entries = []        # (type, fd) to enter
        self.inodes = {}         # type -> inode of every entered namespace
        self.shared = []         # types asked for (or considered) that are already ours
        self.files = {}          # type -> path (namespace file targets)

    @property
    def types(self):
        return [entry[0] for entry in self.entries]

    def alive(self):
        """False once a process target has exited (file targets always live)."""
        return self.proc_fd is None or process_alive(self.proc_fd)

    def close(self):
        for entry in self.entries:
            close_quietly(entry[1])
        self.entries = []
        close_quietly(self.proc_fd)
        close_quietly(self.root_fd)
        self.proc_fd = self.root_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_process_target(root, pid, types=None, starttime=None):
    """Open the namespaces ``types`` (None: all that differ from ours) of PID below ``root``.

    ``starttime`` (from the lookup) makes sure the PID still names the process that was
    looked up. Raises TargetGone when it exited.
    """
    target = Target()
    target.pid = pid
    try:
        try:
            target.proc_fd = os.open(root.pid_path(pid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ESRCH):
                raise TargetGone('no process with PID %d on this host (it may have exited); check it with '
                                 '`ps -p %d`' % (pid, pid), step='lookup')
            raise EnterError('cannot open %s: %s' % (root.pid_path(pid), os.strerror(exc.errno)), step='lookup')
        if starttime is not None and _starttime(target.proc_fd) != starttime:
            raise TargetGone('the target process %d exited after it was looked up (the PID now names another '
                             'process or none)' % pid, step='lookup')
        own = own_namespaces()
        for nstype in (types if types is not None else NS_TYPES):
            try:
                fd = os.open('ns/' + nstype, os.O_RDONLY | os.O_CLOEXEC, dir_fd=target.proc_fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT and nstype == 'time' and types is None:
                    continue  # kernel before 5.6
                if not process_alive(target.proc_fd):
                    raise TargetGone('the target process %d exited before its namespaces could be opened' % pid,
                                     step='open')
                raise EnterError('cannot open the %s namespace of PID %d: %s%s' % (
                    nstype, pid, os.strerror(exc.errno),
                    '; run the module as root (CAP_SYS_PTRACE)' if exc.errno in (errno.EACCES, errno.EPERM) else ''),
                    step='open')
            _add_entry(target, own, nstype, fd)
        try:
            target.root_fd = os.open('root', os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=target.proc_fd)
        except OSError:
            target.root_fd = None  # checked when root is asked for
        if not process_alive(target.proc_fd):
            raise TargetGone('the target process %d exited while its namespaces were being opened' % pid, step='open')
    except BaseException:
        target.close()
        raise
    return target


def _starttime(proc_fd):
    try:
        return read_stat_at(proc_fd).starttime
    except (OSError, ProcParseError):
        return None


def open_file_target(paths, types=None):
    """Open namespace files (nsfs bind mounts such as /run/netns/NAME, or /proc/PID/ns/TYPE)."""
    target = Target()
    own = own_namespaces()
    try:
        for path in paths:
            try:
                fd = open_ns(path)
            except OSError as exc:
                raise EnterError('cannot open namespace file %s: %s' % (path, os.strerror(exc.errno)), step='open')
            nstype = get_nstype(fd)
            if nstype is None:
                close_quietly(fd)
                raise EnterError('%s is not a namespace file: give a bind-mounted namespace such as '
                                 '/run/netns/NAME (ip netns add) or a /proc/PID/ns/TYPE link' % path, step='open')
            if nstype in target.files:
                close_quietly(fd)
                raise EnterError('%s and %s are both %s namespaces: give at most one file per type'
                                 % (target.files[nstype], path, nstype), step='open')
            target.files[nstype] = path
            if types is not None and nstype not in types:
                close_quietly(fd)
                raise EnterError('%s is a %s namespace but namespaces is [%s]: add %s to namespaces or drop '
                                 'the file' % (path, nstype, ', '.join(types), nstype), step='open')
            _add_entry(target, own, nstype, fd)
        if types is not None:
            missing = [t for t in types if t not in target.files]
            if missing:
                raise EnterError('namespaces asks for %s but no file in namespace_files is of that type'
                                 % ', '.join(missing), step='open')
    except BaseException:
        target.close()
        raise
    return target


def _add_entry(target, own, nstype, fd):
    """Keep ``fd`` to enter, unless it is a namespace the module is in already (shared)."""
    st = os.fstat(fd)
    if own.get(nstype) == (st.st_dev, st.st_ino):
        close_quietly(fd)
        target.shared.append(nstype)
        return
    target.entries.append((nstype, fd))
    target.inodes[nstype] = st.st_ino


# ---------------------------------------------------------------------------- mount tables

def mountinfo_in_namespace(mnt_fd, proc_path='/proc', timeout=30.0):
    """The mountinfo text of the mount namespace open at ``mnt_fd`` (one no process is
    in: bind-mounted or held by an fd), read by a child that joined it, as lxkns's
    mountineer does. The child reads ``self/mountinfo`` through a directory fd of the
    proc root opened before the setns, so the namespace needs no procfs of its own.
    Paths are relative to the namespace's root. Raises EnterError (CAP_SYS_ADMIN is
    needed) or OSError."""
    proc_fd = os.open(proc_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        data = call_in_namespaces(
            [('mnt', mnt_fd)],
            lambda: read_self_mountinfo_at(proc_fd).encode('utf-8', 'surrogateescape'), timeout)
    finally:
        os.close(proc_fd)
    return data.decode('utf-8', 'surrogateescape')


# ---------------------------------------------------------------------------- entering in place

def run_entered(target, argv, env, change_root=False, own_proc=False, on_exec_error=None):
    """Enter ``target`` in this very process, run ``argv`` in a child that shares our
    stdin, stdout and stderr, and return its exit status (128 + N when signal N killed it).

    For a short-lived process whose only job is the command (the container connection's
    entrypoint on a node): entering in place saves a fork, and the child inherits the
    standard streams, so no byte of the command's input or output is copied. Only a
    child is in an entered PID namespace, hence the one fork. ``own_proc`` gives the
    child a mount namespace of its own with a procfs of the entered PID namespace on
    /proc (entering the PID namespace but not the mount namespace). ``on_exec_error``
    receives the errno when the exec fails (the child exits 127).
    """
    load_libc()
    enter_namespaces(target.entries)
    if 'user' in target.types:
        become_namespace_root()
    if not target.alive():
        raise TargetGone('the target process exited before the command could start', step='target')
    if change_root and target.root_fd is not None:
        os.fchdir(target.root_fd)
        os.chroot('.')
    os.chdir('/')
    read_fd, write_fd = os.pipe()
    pid = child.fork_child(_exec_entered, read_fd, write_fd, argv, env, own_proc, os.getpid())
    os.close(write_fd)
    failure = child.read_all(read_fd)
    os.close(read_fd)
    status = _wait_ignoring_interrupts(pid)
    if failure and on_exec_error is not None:
        on_exec_error(int(failure.decode('ascii', 'replace') or 0))
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _wait_ignoring_interrupts(pid):
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def _exec_entered(read_fd, write_fd, argv, env, own_proc, parent_pid):  # pragma: no cover - runs in the child
    os.close(read_fd)
    code = errno.EINVAL
    try:
        die_with_parent(parent_pid)
        child.reset_signals()
        if own_proc:
            unshare(CLONE_NEWNS)
            make_private('/', recursive=True)
            mount('proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC)
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        code = exc.errno or errno.EINVAL
    except BaseException:  # pylint: disable=broad-except
        pass
    try:
        child.write_all(write_fd, str(code).encode('ascii'))
    except OSError:
        pass
    return 127
