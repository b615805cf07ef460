# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Run a command inside the namespaces of a target: the engine of namespace_exec.

The module process only opens file descriptors; it never switches namespaces. Three
processes take part::

    module --fork--> entering child --setns x N, fork--> command --exec--> argv

* the module resolves the target (a PID, a container through the container locator,
  or namespace files), opens ``/proc/PID`` as a directory fd (it pins that very
  process: a reused PID cannot slip in) and every namespace relative to it;
* the **entering child** joins all namespaces with setns(2), in two passes as
  nsenter(1) does (every type but user first, while we still hold our capabilities
  over them; then the user namespace; then whatever failed before), becomes root of an
  entered user namespace, checks that the target still lives, changes root and
  directory, and forks: only a child of a process that joined a PID namespace is in
  it. It waits for the command and reports its exit status;
* the **command** starts a session of its own (so that a timeout kills its whole
  process group), takes the pipes as stdin/stdout/stderr, closes every other fd and
  execs the argv, searched in the PATH of the entered mount namespace.

Both children report through a CLOEXEC pipe, one JSON object per line, so a failed
setns, a vanished target or a command that is not found come back as clear messages
and no process is left behind.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import errno
import fcntl
import json
import os
import selectors
import shlex
import signal
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.locator import locate_selected
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import (
    ContainerError,
    check_pid,
    selection_text,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.syscalls import (
    close_quietly,
    get_nstype,
    libc,
    open_ns,
    setns,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    NS_TYPES,
    ProcParseError,
    ProcRoot,
    parse_stat,
)

# nsenter(1)'s order. The user namespace is entered in the second pass (see enter_namespaces).
ENTER_ORDER = ('cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time')

DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
DEFAULT_TIMEOUT = 60.0
# After the command exited, how long to wait for the end of its output (a process it
# left in the background may hold the pipes open).
OUTPUT_GRACE = 2.0
# After a timeout kill, how long to wait for the entering child's last report.
KILL_GRACE = 5.0

PR_SET_PDEATHSIG = 1


class NsExecError(Exception):
    """Entering the namespaces or starting the command failed; the message names the fix."""

    def __init__(self, msg, step=None):
        super(NsExecError, self).__init__(msg)
        self.step = step


class TargetGone(NsExecError):
    """The target process exited between the lookup and the exec."""


class RequestError(ValueError):
    """The module options do not describe a command that can be run."""


# ---------------------------------------------------------------------------- in the children

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
        raise NsExecError('setns into the %s namespace failed: %s%s' % (
            nstype, os.strerror(exc.errno),
            '; the module needs CAP_SYS_ADMIN (run it as root, become: true)' if exc.errno == errno.EPERM else ''),
            step='setns')


def _set_pdeathsig(parent_pid):
    """Die with the parent: a killed module must not leave the command running.

    A parent that died before the prctl would never send the signal: check for that.
    getppid() is 0 for a parent outside our PID namespace (the entering child, seen from
    the command); after a reparenting it names the reaper instead.
    """
    libc().prctl(ctypes.c_int(PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0),
                 ctypes.c_ulong(0), ctypes.c_ulong(0))
    if os.getppid() not in (parent_pid, 0):
        os._exit(1)


def _report(fd, **message):
    """One JSON line on the status pipe (short enough to be written atomically)."""
    data = (json.dumps(message) + '\n').encode('utf-8')
    try:
        os.write(fd, data[:4000])
    except OSError:
        pass


def _become_namespace_root(status_fd):
    """In a joined user namespace, act as its root (nsenter's default).

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
        _report(status_fd, note='UID or GID 0 is not mapped in the target\'s user namespace: the command keeps '
                                'the module\'s credentials, which the namespace shows as the overflow user')


def process_alive(proc_fd):
    """True while the process behind a ``/proc/PID`` directory fd exists and is no zombie."""
    try:
        fd = os.open('stat', os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)
    except OSError:
        return False
    try:
        text = os.read(fd, 4096).decode('utf-8', 'surrogateescape')
    except OSError:
        return False
    finally:
        os.close(fd)
    try:
        return parse_stat(text).state not in ('Z', 'X', 'x')
    except ProcParseError:
        return False


def _entering_child(target, command, fds, module_pid):
    """Body of the entering child; never returns."""
    status_fd = fds['status']
    code = 1
    try:
        _set_pdeathsig(module_pid)
        enter_namespaces(target.entries)
        if 'user' in target.types:
            _become_namespace_root(status_fd)
        if target.proc_fd is not None and not process_alive(target.proc_fd):
            raise TargetGone('the target process exited before the command could start', step='target')
        if command.root and target.root_fd is not None:
            os.fchdir(target.root_fd)
            os.chroot('.')
        try:
            os.chdir(command.chdir)
        except OSError as exc:
            raise NsExecError('chdir to %s inside the target failed: %s' % (command.chdir, os.strerror(exc.errno)),
                              step='chdir')
        parent_pid = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            if exc.errno == errno.ENOMEM and 'pid' in target.types:
                raise TargetGone('the target\'s PID namespace has no init process any more (its PID 1 exited): '
                                 'the target exited before the command could start', step='fork')
            raise
        if pid == 0:
            _command_child(command, fds, parent_pid)
        _report(status_fd, host_pid=pid)
        for name in ('stdin', 'stdout', 'stderr'):
            close_quietly(fds[name])
        status = os.waitpid(pid, 0)[1]
        if os.WIFSIGNALED(status):
            _report(status_fd, signal=os.WTERMSIG(status))
        else:
            _report(status_fd, exit=os.WEXITSTATUS(status))
        code = 0
    except NsExecError as exc:
        _report(status_fd, error=exc.step or 'enter', message=str(exc), gone=isinstance(exc, TargetGone))
    except BaseException as exc:  # pylint: disable=broad-except
        _report(status_fd, error='enter', message='%s: %s' % (type(exc).__name__, exc))
    finally:
        os._exit(code)


def _command_child(command, fds, parent_pid):
    """Body of the command process; execs or exits 127."""
    status_fd = fds['status']
    try:
        os.setsid()
        _set_pdeathsig(parent_pid)
        # Python ignores these; the command must get the default behaviour back.
        for signum in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(signum, signal.SIG_DFL)
        high = [fcntl.fcntl(fds[name], fcntl.F_DUPFD, 10) for name in ('stdin', 'stdout', 'stderr')]
        for number, fd in enumerate(high):
            os.dup2(fd, number)
        os.closerange(3, status_fd)
        os.closerange(status_fd + 1, max(status_fd + 2, os.sysconf('SC_OPEN_MAX')))
        _report(status_fd, inner_pid=os.getpid())
        os.execvpe(command.argv[0], command.argv, command.env)
    except OSError as exc:
        _report(status_fd, error='exec', errno=exc.errno, message=os.strerror(exc.errno or 0))
    except BaseException as exc:  # pylint: disable=broad-except
        _report(status_fd, error='exec', errno=None, message='%s: %s' % (type(exc).__name__, exc))
    finally:
        os._exit(127)


# ---------------------------------------------------------------------------- a function in namespaces

def call_in_namespaces(entries, function, timeout=30.0):
    """Run ``function()`` (returning bytes) in a forked child that entered ``entries``.

    For reading files that show the reader's namespace (``/proc/self/net/*``) of a
    namespace no process is in. The module process stays where it is.
    """
    libc()  # load it once here, not in every child
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            enter_namespaces(entries)
            _write_all(write_fd, b'1' + function())
            code = 0
        except BaseException as exc:  # pylint: disable=broad-except
            try:
                _write_all(write_fd, b'0' + str(exc).encode('utf-8', 'replace'))
            except OSError:
                pass
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(read_fd, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NsExecError('the child reading inside the namespace did not finish within %d seconds' % timeout)
                if not selector.select(left):
                    continue
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_fd)
        _kill_and_reap(pid)
    data = b''.join(chunks)
    if data[:1] != b'1':
        raise NsExecError(data[1:].decode('utf-8', 'replace') or 'the child exited without an answer')
    return data[1:]


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _kill_and_reap(pid):
    """Reap a child; SIGKILL it first if it has not exited yet."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


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


def own_namespaces():
    """type -> (dev, inode) of the module's own namespaces (always the real /proc)."""
    own = {}
    for nstype in NS_TYPES:
        try:
            st = os.stat('/proc/self/ns/' + nstype)
        except OSError:
            continue
        own[nstype] = (st.st_dev, st.st_ino)
    return own


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
            raise NsExecError('cannot open %s: %s' % (root.pid_path(pid), os.strerror(exc.errno)), step='lookup')
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
                raise NsExecError('cannot open the %s namespace of PID %d: %s%s' % (
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
        fd = os.open('stat', os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)
        try:
            text = os.read(fd, 4096).decode('utf-8', 'surrogateescape')
        finally:
            os.close(fd)
        return parse_stat(text).starttime
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
                raise NsExecError('cannot open namespace file %s: %s' % (path, os.strerror(exc.errno)), step='open')
            nstype = get_nstype(fd)
            if nstype is None:
                close_quietly(fd)
                raise NsExecError('%s is not a namespace file: give a bind-mounted namespace such as '
                                  '/run/netns/NAME (ip netns add) or a /proc/PID/ns/TYPE link' % path, step='open')
            if nstype in target.files:
                close_quietly(fd)
                raise NsExecError('%s and %s are both %s namespaces: give at most one file per type'
                                  % (target.files[nstype], path, nstype), step='open')
            target.files[nstype] = path
            if types is not None and nstype not in types:
                close_quietly(fd)
                raise NsExecError('%s is a %s namespace but namespaces is [%s]: add %s to namespaces or drop '
                                  'the file' % (path, nstype, ', '.join(types), nstype), step='open')
            _add_entry(target, own, nstype, fd)
        if types is not None:
            missing = [t for t in types if t not in target.files]
            if missing:
                raise NsExecError('namespaces asks for %s but no file in namespace_files is of that type'
                                  % ', '.join(missing), step='open')
    except BaseException:
        target.close()
        raise
    return target


# ---------------------------------------------------------------------------- the command

class Command:
    """What to run and how, validated."""

    def __init__(self, argv, env, chdir='/', root=False, stdin=None, timeout=DEFAULT_TIMEOUT):
        self.argv = argv
        self.env = env
        self.chdir = chdir
        self.root = root
        self.stdin = stdin       # bytes or None (/dev/null)
        self.timeout = timeout


class Completed:
    """What came back from a run."""

    def __init__(self):
        self.rc = None
        self.signal = None
        self.stdout = b''
        self.stderr = b''
        self.timed_out = False
        self.host_pid = None     # the command's PID in the module's PID namespace
        self.inner_pid = None    # its PID in the PID namespace it ran in
        self.notes = []
        self.error = None        # report of a failure before the exec
        self.duration = None


def run_command(target, command):
    """Run ``command`` inside ``target``; returns :class:`Completed`, raises NsExecError."""
    started = time.monotonic()
    libc()  # load it once here, not in every child
    child_ends = {}          # given to the children; closed here after the fork
    parent_ends = []         # read ends kept here
    feeder = _StdinFeeder(None, None)
    try:
        if command.stdin is None:
            child_ends['stdin'] = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        else:
            child_ends['stdin'], stdin_w = os.pipe()
            feeder = _StdinFeeder(stdin_w, command.stdin)
        out_r, child_ends['stdout'] = os.pipe()
        err_r, child_ends['stderr'] = os.pipe()
        status_r, child_ends['status'] = os.pipe()
        parent_ends += [out_r, err_r, status_r]
        module_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                feeder.close()
                for fd in parent_ends:
                    os.close(fd)
            finally:
                _entering_child(target, command, child_ends, module_pid)
        for fd in child_ends.values():
            close_quietly(fd)
        child_ends = {}
        try:
            completed = _supervise(pid, command, feeder, out_r, err_r, status_r)
        finally:
            _kill_and_reap(pid)
    finally:
        feeder.close()
        for fd in list(child_ends.values()) + parent_ends:
            close_quietly(fd)
    completed.duration = round(time.monotonic() - started, 4)
    if completed.error is not None:
        raise _error_from_report(completed.error, command)
    return completed


def _error_from_report(report, command):
    step = report.get('error')
    if step == 'exec':
        if report.get('errno') in (errno.ENOENT, errno.ENOTDIR):
            return NsExecError(
                'command %r not found inside the target: %s (searched PATH=%s in the target\'s mount namespace); '
                'give the full path, or check what the target has with command: ls /bin /usr/bin'
                % (command.argv[0], report.get('message'), command.env.get('PATH', '')), step='exec')
        return NsExecError('cannot execute %r inside the target: %s' % (command.argv[0], report.get('message')),
                           step='exec')
    if report.get('gone'):
        return TargetGone(report.get('message'), step=step)
    return NsExecError(report.get('message') or 'entering the namespaces failed', step=step)


class _StdinFeeder:
    """The write end of the command's stdin: fed without blocking, closed exactly once."""

    def __init__(self, fd, data):
        self.fd = fd
        self.pending = bytearray(data or b'')
        if fd is not None:
            os.set_blocking(fd, False)

    def feed(self):
        """Write what the pipe takes; True when everything is written (or the reader is gone)."""
        try:
            written = os.write(self.fd, self.pending[:65536])
            del self.pending[:written]
        except BlockingIOError:
            return False
        except OSError:
            self.pending = bytearray()  # EPIPE: the command closed its stdin
        return not self.pending

    def close(self):
        if self.fd is not None:
            close_quietly(self.fd)
            self.fd = None


def _supervise(pid, command, feeder, out_r, err_r, status_r):
    """Feed stdin, collect output and reports, enforce the timeout."""
    completed = Completed()
    buffers = {out_r: [], err_r: [], status_r: []}
    deadline = time.monotonic() + command.timeout
    finished_at = None       # when the status pipe closed: both children are done
    killed_at = None
    with selectors.DefaultSelector() as selector:
        for fd in (out_r, err_r, status_r):
            selector.register(fd, selectors.EVENT_READ)
        if feeder.fd is not None and feeder.pending:
            selector.register(feeder.fd, selectors.EVENT_WRITE)
        else:
            feeder.close()
        while selector.get_map():
            now = time.monotonic()
            if finished_at is not None and now - finished_at > OUTPUT_GRACE:
                completed.notes.append('the command left processes in the background that keep its output open; '
                                       'output after it exited was not collected')
                break
            if killed_at is None and now >= deadline:
                completed.timed_out = True
                killed_at = now
                _kill_command(pid, completed.host_pid)
            if killed_at is not None and now - killed_at > KILL_GRACE:
                break
            if killed_at is not None:
                wait = KILL_GRACE - (now - killed_at)
            elif finished_at is not None:
                wait = OUTPUT_GRACE - (now - finished_at)
            else:
                wait = deadline - now
            for key, unused_events in selector.select(max(0.01, wait)):
                fd = key.fd
                if fd == feeder.fd:
                    if feeder.feed():
                        selector.unregister(fd)
                        feeder.close()
                    continue
                chunk = os.read(fd, 65536)
                if chunk:
                    buffers[fd].append(chunk)
                    if fd == status_r:
                        _take_reports(buffers[status_r], completed)
                    continue
                selector.unregister(fd)
                if fd == status_r:
                    finished_at = time.monotonic()
                    if feeder.fd is not None:
                        selector.unregister(feeder.fd)
                        feeder.close()
    _take_reports(buffers[status_r], completed, final=True)
    completed.stdout = b''.join(buffers[out_r])
    completed.stderr = b''.join(buffers[err_r])
    if completed.timed_out and completed.signal is None and completed.rc is None:
        completed.signal = signal.SIGKILL
    if completed.signal is not None:
        completed.rc = -completed.signal
    return completed


def _take_reports(chunks, completed, final=False):
    """Parse complete JSON lines from the status pipe into ``completed``."""
    data = b''.join(chunks)
    lines = data.split(b'\n')
    rest = lines.pop() if not final else b''
    del chunks[:]
    if rest:
        chunks.append(rest)
    for line in lines:
        if not line.strip():
            continue
        try:
            report = json.loads(line.decode('utf-8', 'replace'))
        except ValueError:
            continue
        if 'host_pid' in report:
            completed.host_pid = report['host_pid']
        elif 'inner_pid' in report:
            completed.inner_pid = report['inner_pid']
        elif 'exit' in report:
            completed.rc = report['exit']
        elif 'signal' in report:
            completed.signal = report['signal']
        elif 'note' in report:
            completed.notes.append(report['note'])
        elif 'error' in report and completed.error is None:
            completed.error = report


def _kill_command(entering_pid, command_pid):
    """SIGKILL the command's process group (it is a session leader) and the entering child."""
    if command_pid is not None:
        for kill in (os.killpg, os.kill):
            try:
                kill(command_pid, signal.SIGKILL)
            except OSError:
                pass
    else:
        try:
            os.kill(entering_pid, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------------------- module glue

# Defaults of namespace_exec's argument_spec, with DEFAULT_TIMEOUT.
DEFAULT_CHDIR = '/'


def build_command(params):
    """The :class:`Command` described by the module options; RequestError if they cannot be run."""
    value = params['command']
    shell = params['shell']
    if isinstance(value, (list, tuple)):
        if shell:
            raise RequestError('shell: true runs a command line through /bin/sh -c and needs command as one '
                               'string, but command is a list. Drop shell to run the list as argv without a '
                               'shell, or write command as a string')
        bad = [item for item in value if isinstance(item, (dict, list, tuple)) or item is None]
        if bad:
            raise RequestError('command is a list, so every item must be a string (one argument each); '
                               'got %r' % (bad[0],))
        argv = [str(item) for item in value]
    elif isinstance(value, str):
        if shell:
            argv = ['/bin/sh', '-c', value]
        else:
            try:
                argv = shlex.split(value)
            except ValueError as exc:
                raise RequestError('command %r cannot be split into arguments (%s): fix the quoting, or give '
                                   'command as a list' % (value, exc))
    else:
        raise RequestError('command must be a string or a list of arguments, not %s' % type(value).__name__)
    if not argv or not argv[0]:
        raise RequestError('command is empty: give the program to run and its arguments, e.g. [ip, addr]')

    timeout = params['timeout']
    if timeout is None or timeout <= 0:
        raise RequestError('timeout must be more than 0 seconds, got %s: it is how long the command may run '
                           'before it is killed; leave it out for %d seconds'
                           % ('nothing' if timeout is None else '%g' % timeout, DEFAULT_TIMEOUT))
    chdir = params['chdir'] or DEFAULT_CHDIR
    if not chdir.startswith('/'):
        raise RequestError('chdir must be an absolute path inside the target, got %r' % chdir)
    env = {'PATH': DEFAULT_PATH, 'HOME': '/root'}
    for key, val in (params['env'] or {}).items():
        if not key or '=' in key or '\0' in key:
            raise RequestError('env name %r is not a valid environment variable name' % (key,))
        env[key] = '' if val is None else str(val)
    stdin = params['stdin']
    if stdin is not None:
        if params['stdin_add_newline'] and not stdin.endswith('\n'):
            stdin += '\n'
        stdin = stdin.encode('utf-8', 'surrogateescape')
    return Command(argv, env, chdir=chdir, root=params['root'], stdin=stdin, timeout=float(timeout))


def _container_target(root, params, types):
    """Resolve container_id / pod_uid with the container locator; open the chosen init."""
    records = locate_selected(root.path, params['container_id'], params['pod_uid'])
    what = selection_text(params['container_id'], params['pod_uid'])
    running = [r for r in records if r['state'] == 'running' and r['init_pid'] is not None]
    if not running:
        raise TargetGone('%s has no running process (state: %s): it is stopped or exiting' % (
            what, ', '.join(sorted(set(r['state'] for r in records)))), step='lookup')
    if len(running) > 1:
        # Only a pod selects several: enter what its containers share.
        shared = [t for t in NS_TYPES if len(set(r['namespaces'].get(t) for r in running)) == 1
                  and running[0]['namespaces'].get(t) is not None]
        labels = ', '.join('%s (%s)' % ((r['id'] or r['name'])[:12], ' '.join(r['processes'][0]['cmdline'])[:40]
                                        if r['processes'] else 'no process') for r in running)
        own = own_namespaces()
        shared_not_ours = [t for t in shared if own.get(t, (None, None))[1] != running[0]['namespaces'][t]]
        if types is None:
            types = shared_not_ours
            if not types:
                raise RequestError('the %d containers of pod %s share no namespace that differs from the module\'s: '
                                   'give container_id to pick one of %s' % (len(running), params['pod_uid'], labels))
        else:
            apart = [t for t in types if t not in shared]
            if apart:
                raise RequestError(
                    'the %d containers of pod %s each have their own %s namespace: give container_id to pick one '
                    'of %s, or enter only what they share (namespaces: [%s])'
                    % (len(running), params['pod_uid'], ', '.join(apart), labels, ', '.join(shared_not_ours)))
    record = min(running, key=_record_start)
    init = [p for p in record['processes'] if p['pid'] == record['init_pid']]
    starttime = init[0]['starttime'] if init else None
    target = open_process_target(root, record['init_pid'], types, starttime)
    return target, record


def _record_start(record):
    starts = [p['starttime'] for p in record['processes'] if p.get('starttime') is not None]
    return (min(starts) if starts else float('inf'), record['id'] or record['name'] or '')


def resolve_target(params):
    """(Target, container record or None) for the module options."""
    root = ProcRoot(params['proc_root'])
    types = params['namespaces']
    if types is not None and not types:
        raise RequestError('namespaces is empty: leave it out to enter every namespace of the target that '
                           'differs from the module\'s, or list the types to enter')
    if params['namespace_files']:
        if params['root']:
            raise RequestError('root changes to the root directory of a target process; with namespace_files '
                               'there is none. Drop root, or give pid or container_id')
        return open_file_target(params['namespace_files'], types), None
    if params['pid'] is not None:
        pid = check_pid(params['pid'], error=RequestError)
        if not root.is_proc_tree():
            raise RequestError('proc_root %s is not a proc file system: point it at /proc or a host\'s proc '
                               'mounted elsewhere' % root.path)
        return open_process_target(root, pid, types), None
    return _container_target(root, params, types)


def _text(data):
    return data.decode('utf-8', 'replace').rstrip('\r\n')


class NamespaceExecError(Exception):
    """namespace_exec fails: ``msg`` says why, ``result`` holds the fields known so far (rc, stdout, ...).

    ``warnings`` are what the command's run noticed before it failed.
    """

    def __init__(self, msg, warnings=(), **result):
        super(NamespaceExecError, self).__init__(msg)
        self.msg = msg
        self.warnings = list(warnings)
        self.result = result


class Request:
    """What namespace_exec is asked: the validated command, the target options and check mode."""

    def __init__(self, command, params, check_mode=False):
        self.command = command
        self.params = params
        self.check_mode = check_mode
        self.read_only = params['read_only']

    @classmethod
    def from_params(cls, params, check_mode=False):
        """The request of the module options; NamespaceExecError when the command cannot be run."""
        try:
            command = build_command(params)
        except RequestError as exc:
            raise NamespaceExecError(str(exc))
        return cls(command, params, check_mode)


def run(request):
    """Run the command inside its target: the namespace_exec result, or NamespaceExecError.

    A command that times out or returns non-zero fails, as ansible.builtin.command does,
    with everything it returned in the error's result.
    """
    command = request.command
    try:
        target, record = resolve_target(request.params)
    except (RequestError, ContainerError, NsExecError) as exc:
        raise NamespaceExecError(str(exc))
    with target:
        if command.root and target.root_fd is None:
            raise NamespaceExecError('cannot open the root directory of PID %s (/proc/PID/root): run the module as '
                                     'root, or drop root' % target.pid)
        result = _target_result(command, target, record)
        if request.check_mode and not request.read_only:
            result.update(changed=True, warnings=[], msg='not run in check mode: the command may change the target; '
                                                         'set read_only: true for commands that change nothing')
            return result
        try:
            completed = run_command(target, command)
        except NsExecError as exc:
            raise NamespaceExecError(str(exc), **result)
    result.update(_completed_result(completed))
    result['changed'] = not request.read_only
    if completed.timed_out:
        raise NamespaceExecError('the command did not finish within its timeout (%g s) and was killed with its '
                                 'process group; raise timeout if it needs longer' % command.timeout,
                                 warnings=completed.notes, **result)
    if completed.rc != 0:
        raise NamespaceExecError('non-zero return code' if completed.signal is None
                                 else 'the command was killed by signal %d' % completed.signal,
                                 warnings=completed.notes, **result)
    result['warnings'] = list(completed.notes)
    return result


def _target_result(command, target, record):
    """The result fields known once the target is open."""
    return {
        'cmd': command.argv,
        'pid': target.pid,
        'container_id': (record['id'] or record['name']) if record else None,
        'pod_uid': record['pod_uid'] if record else None,
        'namespaces_entered': dict(target.inodes),
        'namespaces_shared': sorted(target.shared),
    }


def _completed_result(completed):
    """The result fields of a command that ran."""
    stdout, stderr = _text(completed.stdout), _text(completed.stderr)
    return {
        'rc': completed.rc,
        'stdout': stdout,
        'stderr': stderr,
        'stdout_lines': stdout.splitlines(),
        'stderr_lines': stderr.splitlines(),
        'command_pid': completed.inner_pid,
        'command_host_pid': completed.host_pid,
        'timed_out': completed.timed_out,
        'duration': completed.duration,
    }


def _add_entry(target, own, nstype, fd):
    """Keep ``fd`` to enter, unless it is a namespace the module is in already (shared)."""
    st = os.fstat(fd)
    if own.get(nstype) == (st.st_dev, st.st_ino):
        close_quietly(fd)
        target.shared.append(nstype)
        return
    target.entries.append((nstype, fd))
    target.inodes[nstype] = st.st_ino
