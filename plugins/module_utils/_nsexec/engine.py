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


import errno
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
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import child
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.enter import (
    EnterError as NsExecError,
    TargetGone,
    become_namespace_root,
    die_with_parent,
    enter_namespaces,
    load_libc,
    open_file_target,
    open_process_target,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    NS_TYPES,
    ProcRoot,
    own_namespaces,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.syscalls import close_quietly

DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 86400.0 * 7     # a week: inf, nan and 1e308 cannot be waited for
DEFAULT_MAX_OUTPUT = 4 << 20  # bytes kept per stream; the rest is read and dropped
MAX_MAX_OUTPUT = 1 << 30
# After the command exited, how long to wait for the end of its output (a process it
# left in the background may hold the pipes open).
OUTPUT_GRACE = 2.0
# After a timeout kill, how long to wait for the entering child's last report.
KILL_GRACE = 5.0


class RequestError(ValueError):
    """The module options do not describe a command that can be run."""


# ---------------------------------------------------------------------------- in the children


def _entering_child(target, command, fds, parent_ends, module_pid):  # pragma: no cover - runs in the child
    """Body of the entering child: enter, fork the command, report how it ended."""
    status_fd = fds['status']
    try:
        for fd in parent_ends:
            os.close(fd)
        die_with_parent(module_pid)
        enter_namespaces(target.entries)
        if 'user' in target.types:
            note = become_namespace_root()
            if note:
                child.send(status_fd, note=note)
        if not target.alive():
            raise TargetGone('the target process exited before the command could start', step='target')
        if command.root and target.root_fd is not None:
            os.fchdir(target.root_fd)
            os.chroot('.')
        try:
            os.chdir(command.chdir)
        except OSError as exc:
            raise NsExecError('chdir to %s inside the target failed: %s' % (command.chdir, os.strerror(exc.errno)),
                              step='chdir')
        try:
            pid = child.fork_child(_command_child, command, fds, os.getpid())
        except OSError as exc:
            if exc.errno == errno.ENOMEM and 'pid' in target.types:
                raise TargetGone('the target\'s PID namespace has no init process any more (its PID 1 exited): '
                                 'the target exited before the command could start', step='fork')
            raise
        child.send(status_fd, host_pid=pid)
        for name in ('stdin', 'stdout', 'stderr'):
            close_quietly(fds[name])
        status = os.waitpid(pid, 0)[1]
        if os.WIFSIGNALED(status):
            child.send(status_fd, signal=os.WTERMSIG(status))
        else:
            child.send(status_fd, exit=os.WEXITSTATUS(status))
        return 0
    except NsExecError as exc:
        child.send(status_fd, error=exc.step or 'enter', message=str(exc), gone=isinstance(exc, TargetGone))
    except BaseException as exc:  # pylint: disable=broad-except
        child.send(status_fd, error='enter', message='%s: %s' % (type(exc).__name__, exc))
    return 1


def _command_child(command, fds, parent_pid):  # pragma: no cover - runs in the child
    """Body of the command process (a session of its own, so that a timeout kills its
    whole process group); execs or exits 127."""
    status_fd = fds['status']
    try:
        os.setsid()
        die_with_parent(parent_pid)
        child.reset_signals()
        child.set_stdio(fds['stdin'], fds['stdout'], fds['stderr'])
        child.close_fds_except(status_fd)
        child.send(status_fd, inner_pid=os.getpid())
        os.execvpe(command.argv[0], command.argv, command.env)
    except OSError as exc:
        child.send(status_fd, error='exec', errno=exc.errno, message=os.strerror(exc.errno or 0))
    except BaseException as exc:  # pylint: disable=broad-except
        child.send(status_fd, error='exec', errno=None, message='%s: %s' % (type(exc).__name__, exc))
    return 127


# ---------------------------------------------------------------------------- the command

class Command:
    """What to run and how, validated."""

    def __init__(self, argv, env, chdir='/', root=False, stdin=None, timeout=DEFAULT_TIMEOUT,
                 max_output=DEFAULT_MAX_OUTPUT):
        self.argv = argv
        self.env = env
        self.chdir = chdir
        self.root = root
        self.stdin = stdin       # bytes or None (/dev/null)
        self.timeout = timeout
        self.max_output = max_output  # bytes kept of stdout and of stderr each


class Completed:
    """What came back from a run."""

    def __init__(self):
        self.rc = None
        self.signal = None
        self.stdout = b''
        self.stderr = b''
        self.truncated = False   # more output came than max_output kept
        self.timed_out = False
        self.host_pid = None     # the command's PID in the module's PID namespace
        self.inner_pid = None    # its PID in the PID namespace it ran in
        self.notes = []
        self.error = None        # report of a failure before the exec
        self.duration = None


def run_command(target, command):
    """Run ``command`` inside ``target``; returns :class:`Completed`, raises NsExecError."""
    started = time.monotonic()
    load_libc()
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
        pid = child.fork_child(_entering_child, target, command, child_ends,
                               parent_ends + ([feeder.fd] if feeder.fd is not None else []), os.getpid())
        for fd in child_ends.values():
            close_quietly(fd)
        child_ends = {}
        try:
            completed = _supervise(pid, command, feeder, out_r, err_r, status_r)
        finally:
            child.kill_and_reap(pid)
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


class _Stream:
    """One output pipe, read as it comes: at most ``limit`` bytes are kept, the rest is
    read (so the command never blocks on a full pipe) and dropped."""

    def __init__(self, fd, limit):
        self.fd = fd
        self.limit = limit
        self.chunks = []
        self.kept = 0
        self.dropped = 0

    def take(self, chunk):
        keep = min(self.limit - self.kept, len(chunk))
        if keep:
            self.chunks.append(chunk[:keep])
            self.kept += keep
        self.dropped += len(chunk) - keep

    def data(self):
        return b''.join(self.chunks)


class _Supervisor:
    """Feeds stdin, reads output and reports, and enforces the timeout of one run.

    The loop (:meth:`run`) waits for the next event until the time of its phase runs
    out: *running* until the deadline, *finished* (the status pipe closed: both children
    are done) for OUTPUT_GRACE while output drains, *killed* for KILL_GRACE after a timeout.
    """

    def __init__(self, pid, command, feeder, out_r, err_r, status_r):
        self.pid = pid
        self.feeder = feeder
        self.status_r = status_r
        self.streams = {out_r: _Stream(out_r, command.max_output), err_r: _Stream(err_r, command.max_output)}
        self.reports = child.Reports()
        self.completed = Completed()
        self.deadline = time.monotonic() + command.timeout
        self.finished_at = None
        self.killed_at = None

    def run(self):
        with selectors.DefaultSelector() as selector:
            for fd in list(self.streams) + [self.status_r]:
                selector.register(fd, selectors.EVENT_READ)
            if self.feeder.fd is not None and self.feeder.pending:
                selector.register(self.feeder.fd, selectors.EVENT_WRITE)
            else:
                self.feeder.close()
            while selector.get_map():
                wait = self._time_left(time.monotonic())
                if wait is None:
                    break
                for key, unused_events in selector.select(max(0.01, wait)):
                    self._on_ready(selector, key.fd)
        return self._result()

    def _time_left(self, now):
        """Seconds to wait for the next event, or None when the run's time is up."""
        if self.finished_at is not None and now - self.finished_at > OUTPUT_GRACE:
            self.completed.notes.append('the command left processes in the background that keep its output open; '
                                        'output after it exited was not collected')
            return None
        if self.killed_at is None and now >= self.deadline:
            self.completed.timed_out = True
            self.killed_at = now
            _kill_command(self.pid, self.completed.host_pid)
        if self.killed_at is not None:
            left = KILL_GRACE - (now - self.killed_at)
            return None if left < 0 else left
        if self.finished_at is not None:
            return OUTPUT_GRACE - (now - self.finished_at)
        return self.deadline - now

    def _on_ready(self, selector, fd):
        if fd == self.feeder.fd:
            if self.feeder.feed():
                selector.unregister(fd)
                self.feeder.close()
            return
        chunk = os.read(fd, 65536)
        if chunk:
            if fd == self.status_r:
                _take_reports(self.reports.feed(chunk), self.completed)
            else:
                self.streams[fd].take(chunk)
            return
        selector.unregister(fd)
        if fd == self.status_r:
            self.finished_at = time.monotonic()
            if self.feeder.fd is not None:
                selector.unregister(self.feeder.fd)
                self.feeder.close()

    def _result(self):
        completed = self.completed
        _take_reports(self.reports.close(), completed)
        out, err = sorted(self.streams.values(), key=lambda stream: stream.fd)
        completed.stdout, completed.stderr = out.data(), err.data()
        completed.truncated = bool(out.dropped or err.dropped)
        if completed.timed_out and completed.signal is None and completed.rc is None:
            completed.signal = signal.SIGKILL
        if completed.signal is not None:
            completed.rc = -completed.signal
        return completed


def _supervise(pid, command, feeder, out_r, err_r, status_r):
    """Feed stdin, collect output (capped) and reports, enforce the timeout."""
    return _Supervisor(pid, command, feeder, out_r, err_r, status_r).run()


def _take_reports(reports, completed):
    """Record the children's reports in ``completed``."""
    for report in reports:
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
    if timeout is None or not 0 < timeout <= MAX_TIMEOUT:  # also refuses nan
        raise RequestError('timeout must be more than 0 seconds, got %s (at most %d): it is how long the command '
                           'may run before it is killed; leave it out for %d seconds'
                           % ('nothing' if timeout is None else '%g' % timeout, MAX_TIMEOUT, DEFAULT_TIMEOUT))
    max_output = params.get('max_output', DEFAULT_MAX_OUTPUT)
    if (isinstance(max_output, bool) or not isinstance(max_output, int)
            or not 0 <= max_output <= MAX_MAX_OUTPUT):
        raise RequestError('max_output must be a number of bytes from 0 to %d, got %r' % (MAX_MAX_OUTPUT, max_output))
    if '\0' in (params['chdir'] or ''):
        raise RequestError('chdir must not hold a NUL byte')
    if any('\0' in arg for arg in argv):
        raise RequestError('command holds a NUL byte, which no argument can carry')
    chdir = params['chdir'] or DEFAULT_CHDIR
    if not chdir.startswith('/'):
        raise RequestError('chdir must be an absolute path inside the target, got %r' % chdir)
    env = {'PATH': DEFAULT_PATH, 'HOME': '/root'}
    for key, val in (params['env'] or {}).items():
        if not key or '=' in key or '\0' in key:
            raise RequestError('env name %r is not a valid environment variable name' % (key,))
        env[key] = '' if val is None else str(val)
        if '\0' in env[key]:
            raise RequestError('env %s holds a NUL byte, which an environment cannot carry' % key)
    stdin = params['stdin']
    if stdin is not None:
        if params['stdin_add_newline'] and not stdin.endswith('\n'):
            stdin += '\n'
        stdin = stdin.encode('utf-8', 'surrogateescape')
    return Command(argv, env, chdir=chdir, root=params['root'], stdin=stdin, timeout=float(timeout),
                   max_output=max_output)


def _container_target(root, params, types):
    """Resolve container_id / pod_uid with the container locator; open the chosen init."""
    records = locate_selected(root.path, params['container_id'], params['pod_uid'], params.get('name'),
                              params.get('runtime'))
    what = selection_text(params['container_id'], params['pod_uid'], params.get('name'), params.get('runtime'))
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
                raise RequestError('the %d containers of %s share no namespace that differs from the module\'s: '
                                   'give container_id to pick one of %s' % (len(running), what, labels))
        else:
            apart = [t for t in types if t not in shared]
            if apart:
                raise RequestError(
                    'the %d containers of %s each have their own %s namespace: give container_id to pick one '
                    'of %s, or enter only what they share (namespaces: [%s])'
                    % (len(running), what, ', '.join(apart), labels, ', '.join(shared_not_ours)))
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
    if params['namespace_files'] is not None:
        if not params['namespace_files']:
            raise RequestError('namespace_files is empty: list the files of the namespaces to enter (such as '
                               '/run/netns/NAME), or give pid or container_id instead')
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
    if all(params.get(option) is None for option in ('container_id', 'pod_uid', 'name', 'runtime')):
        raise RequestError('no target: give pid, container_id, name, pod_uid, runtime or namespace_files')
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
        'truncated': completed.truncated,
        'duration': completed.duration,
    }
