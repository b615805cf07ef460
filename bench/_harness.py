# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers for the benchmarks in bench/ (Python 3.11 standard library only).

Not part of the collection (bench/ is in galaxy.yml build_ignore). Import it from a
script in this directory::

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _harness

What it offers:

* :class:`NamespaceSets` -- start N extra processes spread over M fresh namespace sets
  (each set: new pid, net, uts, ipc, mnt and cgroup namespaces with its own /proc),
  record the host PID (and starttime) of every process started, and tear it all down
  again: SIGKILL to each set's PID 1 by its recorded host PID, then wait until every
  recorded process is gone. Nothing is ever killed by name. Use it as a context
  manager; together with :func:`install_signal_handlers` the sets are also removed on
  Ctrl-C, SIGTERM, SIGHUP and exceptions, and the kernel removes them (parent-death
  signal) if the benchmark itself is SIGKILLed.
* :func:`timed_run` -- run a command, read its stdout from a pipe like a real caller,
  and return wall time plus the command's own rusage (peak RSS) from ``os.wait4``
  (started through a small ``sh`` so that our own memory does not leak into its
  ru_maxrss; see the function).
* :func:`interleave` -- run several measurements over R rounds in rotating order.
* :func:`collection_path` -- a temp dir with ``ansible_collections/nsops/namespaces``
  linked to the repository, for ``sys.path`` of a subprocess.
* :func:`real_python`, :func:`count_procs`, :func:`stats`, :func:`fmt_ms`, ...
"""

import collections
import contextlib
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Namespaces each set gets (the user and time namespaces stay the host's: unshare(1)
# with --user would map root away, and time namespaces are rare in the wild).
SET_NAMESPACES = ('pid', 'net', 'uts', 'ipc', 'mount', 'cgroup')

# PID 1 of every set: starts $2 sleeps, reports "$1" (the set index) on stdout, then
# detaches from that pipe and waits forever. dash's '&' forks synchronously, so every
# sleep's PID exists when the report is written.
_SET_SCRIPT = (
    'i=0; while [ "$i" -lt "$2" ]; do sleep infinity </dev/null >/dev/null 2>&1 & i=$((i+1)); done; '
    'echo "$1"; exec >/dev/null 2>&1 </dev/null; wait'
)


class HarnessError(RuntimeError):
    """Setting up or tearing down the processes failed."""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def require_root():
    if os.geteuid() != 0:
        raise HarnessError('run as root: creating pid/net/mnt namespaces needs CAP_SYS_ADMIN')


def real_python():
    """The interpreter binary itself (not a pyenv shim or a venv link)."""
    return os.path.realpath(sys.executable)


def count_procs(proc='/proc'):
    """Number of processes (numeric entries) in /proc."""
    return sum(1 for name in os.listdir(proc) if name.isdigit())


def read_starttime(pid, proc='/proc'):
    """starttime (field 22 of /proc/PID/stat) or None if the process is gone."""
    try:
        with open('%s/%d/stat' % (proc, pid), 'rb') as handle:
            text = handle.read()
    except OSError:
        return None
    try:
        return int(text[text.rindex(b')') + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def read_children(pid, proc='/proc'):
    """Child PIDs of a (single-threaded) process, from /proc/PID/task/PID/children."""
    with open('%s/%d/task/%d/children' % (proc, pid, pid)) as handle:
        return [int(part) for part in handle.read().split()]


def alive(pid, starttime, proc='/proc'):
    """True while the process PID started at ``starttime`` still exists (zombies count)."""
    return read_starttime(pid, proc) == starttime


# ---------------------------------------------------------------------------- signals

_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _raise_exit(signum, _frame):
    raise SystemExit(128 + signum)


def install_signal_handlers():
    """Turn SIGTERM and SIGHUP into SystemExit (SIGINT already raises KeyboardInterrupt)
    so that ``finally`` blocks and context managers clean up."""
    for signum in _SIGNALS:
        signal.signal(signum, _raise_exit)


@contextlib.contextmanager
def signals_blocked():
    """Ignore SIGINT/SIGTERM/SIGHUP for the duration (used while cleaning up)."""
    sigs = (signal.SIGINT,) + _SIGNALS
    old = dict((s, signal.getsignal(s)) for s in sigs)
    for s in sigs:
        signal.signal(s, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


# ---------------------------------------------------------------------------- namespace sets

class NamespaceSet:
    """One set: the unshare(1) holder, the set's PID 1 and its sleeps (host PIDs)."""

    __slots__ = ('index', 'size', 'popen', 'holder', 'init', 'members')

    def __init__(self, index, size, popen):
        self.index = index
        self.size = size          # processes in this set, holder included
        self.popen = popen
        self.holder = popen.pid   # unshare(1): host pid ns, the set's other namespaces
        self.init = None          # host PID of the set's PID 1 (the shell)
        self.members = []         # host PIDs of the sleeps

    @property
    def pids(self):
        return [self.holder] + ([self.init] if self.init else []) + self.members


class NamespaceSets:
    """N extra processes spread over M fresh namespace sets.

    Each set is ``unshare --pid --net --uts --ipc --mount --cgroup --fork --mount-proc
    --kill-child sh -c ...`` started with a parent-death signal (SIGKILL): the unshare(1) process (the
    holder; it lives in the set's net/uts/ipc/mnt/cgroup namespaces but in the host PID
    namespace), the shell as PID 1 of the new PID namespace, and ``size - 2`` ``sleep``
    processes. The holder counts towards N, so exactly ``procs`` processes are started
    (sizes differ by at most one when M does not divide N).

    ``pids`` maps every started host PID to its starttime once :meth:`start` returns.
    :meth:`stop` is idempotent and safe after a partial start.
    """

    def __init__(self, procs=1000, sets=100, timeout=120.0, quiet=False):
        if sets < 1 or procs < 2 * sets:
            raise HarnessError('need at least 2 processes per set (holder + PID 1): procs=%d sets=%d' % (procs, sets))
        self.procs = procs
        self.nsets = sets
        self.timeout = timeout
        self.quiet = quiet
        self.sets = []
        self.pids = {}            # host pid -> starttime
        self.baseline = None      # /proc entries before start
        self.after = None         # /proc entries after stop
        self.setup_seconds = None
        self.cleanup_seconds = None
        self.leftovers = []       # recorded PIDs still alive after stop (should be empty)
        self._ready_r = None
        self._stderr = None       # the sets' stderr: shown only when setup fails
        self._stopped = False

    def _log(self, *args):
        if not self.quiet:
            log(*args)

    def sizes(self):
        base, extra = divmod(self.procs, self.nsets)
        return [base + (1 if i < extra else 0) for i in range(self.nsets)]

    # -- start

    def start(self):
        require_root()
        for tool in ('unshare', 'sh', 'sleep'):
            if shutil.which(tool) is None:
                raise HarnessError('%s not found in PATH' % tool)
        self.baseline = count_procs()
        started = time.monotonic()
        deadline = started + self.timeout
        preexec = _die_with_parent()
        ready_r, ready_w = os.pipe()
        self._ready_r = ready_r
        self._stderr = tempfile.TemporaryFile()
        try:
            for index, size in enumerate(self.sizes()):
                argv = ['unshare']
                argv += ['--%s' % ns for ns in SET_NAMESPACES]
                argv += ['--fork', '--mount-proc', '--kill-child',
                         'sh', '-c', _SET_SCRIPT, 'nsbench-set', str(index), str(size - 2)]
                # Single-threaded here, so preexec_fn is safe.
                popen = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
                    argv, stdin=subprocess.DEVNULL, stdout=ready_w, stderr=self._stderr,
                    start_new_session=True, preexec_fn=preexec)
                self.sets.append(NamespaceSet(index, size, popen))
        finally:
            os.close(ready_w)
        try:
            self._wait_ready(ready_r, deadline)
            self._record_pids()
        except HarnessError as exc:
            raise HarnessError('%s%s' % (exc, self.stderr_tail())) from exc
        self.setup_seconds = time.monotonic() - started
        self._log('harness: started %d processes in %d namespace sets in %.2f s (baseline %d processes)'
                  % (len(self.pids), self.nsets, self.setup_seconds, self.baseline))
        return self

    def _wait_ready(self, ready_r, deadline):
        pending = set(range(self.nsets))
        buf = b''
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError('%d of %d namespace sets not ready after %.0f s' % (len(pending), self.nsets, self.timeout))
            readable = select.select([ready_r], [], [], min(left, 1.0))[0]
            if readable:
                chunk = os.read(ready_r, 65536)
                buf += chunk
                *lines, buf = buf.split(b'\n')
                for line in lines:
                    if line.strip().isdigit():
                        pending.discard(int(line))
            for index in list(pending):
                code = self.sets[index].popen.poll()
                if code is not None:
                    raise HarnessError('namespace set %d exited with %s before it was ready' % (index, code))

    def _record_pids(self):
        for nsset in self.sets:
            children = read_children(nsset.holder)
            if len(children) != 1:
                raise HarnessError('set %d: holder %d has children %r, expected its PID 1' % (nsset.index, nsset.holder, children))
            nsset.init = children[0]
            nsset.members = read_children(nsset.init)
            if len(nsset.members) != nsset.size - 2:
                raise HarnessError('set %d: PID 1 (host pid %d) has %d children, expected %d'
                                   % (nsset.index, nsset.init, len(nsset.members), nsset.size - 2))
            for pid in nsset.pids:
                starttime = read_starttime(pid)
                if starttime is None:
                    raise HarnessError('set %d: process %d vanished during setup' % (nsset.index, pid))
                self.pids[pid] = starttime
        if len(self.pids) != self.procs:
            raise HarnessError('recorded %d processes, expected %d' % (len(self.pids), self.procs))

    def stderr_tail(self, limit=2000):
        if self._stderr is None:
            return ''
        self._stderr.seek(0)
        text = self._stderr.read().decode('utf-8', 'replace')[-limit:]
        return '\n--- stderr of the namespace sets (tail) ---\n' + text if text.strip() else ''

    # -- stop

    def stop(self):
        """SIGKILL each set's PID 1 (by recorded host PID), reap, wait for every recorded PID."""
        if self._stopped:
            return
        self._stopped = True
        with signals_blocked():
            started = time.monotonic()
            deadline = started + self.timeout
            for nsset in self.sets:
                target = nsset.init
                if target is not None and alive(target, self.pids.get(target)):
                    _kill(target)
                elif nsset.popen.poll() is None:
                    # PID 1 not recorded (partial start): killing the holder kills PID 1
                    # (--kill-child), and with it the whole namespace.
                    _kill(nsset.holder)
            for nsset in self.sets:
                try:
                    nsset.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _kill(nsset.holder)
                    nsset.popen.wait()
            # Members die with their PID namespace; wait until the kernel has reaped them.
            remaining = dict(self.pids)
            while remaining and time.monotonic() < deadline:
                remaining = dict((p, s) for p, s in remaining.items() if alive(p, s))
                if remaining:
                    time.sleep(0.05)
            self.leftovers = sorted(remaining)
            if self._ready_r is not None:
                os.close(self._ready_r)
                self._ready_r = None
            if self._stderr is not None:
                # (unshare(1) 2.38 says "sigprocmask unblock failed" when its child dies of
                # SIGKILL: it cannot re-raise SIGKILL on itself. Expected; discarded.)
                self._stderr.close()
                self._stderr = None
            self.cleanup_seconds = time.monotonic() - started
            # Other sessions may start or end processes meanwhile: give the count a moment.
            self.after = count_procs()
            settle = time.monotonic() + 2
            while self.baseline is not None and self.after > self.baseline and time.monotonic() < settle:
                time.sleep(0.1)
                self.after = count_procs()
        self._log('harness: cleanup %s in %.2f s: %d recorded processes left; /proc entries %s -> %s'
                  % ('OK' if not self.leftovers else 'INCOMPLETE', self.cleanup_seconds,
                     len(self.leftovers), self.baseline, self.after))

    def cleanup_report(self):
        """One line on how the teardown went (for the benchmark's output)."""
        if self.after is None:
            return 'cleanup: not run'
        verdict = 'OK' if not self.leftovers else 'FAILED (%d recorded PIDs alive: %s)' % (
            len(self.leftovers), ' '.join(str(p) for p in self.leftovers[:20]))
        delta = self.after - self.baseline
        note = 'back to baseline' if delta <= 0 else (
            '%+d -- not ours: none of the recorded PIDs is alive (other activity on the host)' % delta)
        return ('cleanup %s: %d recorded processes ended in %.2f s; /proc entries %d before, %d after (%s)'
                % (verdict, len(self.pids), self.cleanup_seconds, self.baseline, self.after, note))

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False


PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """A preexec_fn: SIGKILL this child when we die, even if we are SIGKILLed.

    Set before exec, and checked against a parent that died in between, so there is no
    window (setpriv --pdeathsig would set it after Popen has returned). With unshare's
    --kill-child the set's PID 1, and so the whole namespace, follows."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec():
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
    return preexec


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------- measuring

RunResult = collections.namedtuple('RunResult', 'wall maxrss_kb utime stime rc stdout stderr')

PR_SET_CHILD_SUBREAPER = 36
_subreaper = False


def become_subreaper():
    """prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to us, so we
    can reap (and read the rusage of) a grandchild whose parent has exited."""
    global _subreaper  # pylint: disable=global-statement
    if not _subreaper:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), 'prctl(PR_SET_CHILD_SUBREAPER)')
        _subreaper = True


# A small shell forks a subshell that waits for one line on stdin, then execs "$@";
# the shell writes the subshell's PID to $1 and exits, so the subshell is re-parented
# to us (the subreaper) before it runs anything. See timed_run.
_LEAN_SCRIPT = 'f=$1; shift; exec 5<&0; (read go <&5 && exec "$@" <&5 5<&-) & echo $! >"$f"'


def timed_run(argv, env=None, stdin_data=None, lean=True):
    """Run ``argv``; read its stdout from a pipe to EOF; reap it with ``os.wait4``.

    Returns wall time (exec to reap), the command's own peak RSS in KiB
    (``maxrss_kb``), user/system CPU seconds, exit code, stdout bytes, stderr text.

    Why ``lean``: ru_maxrss counts the memory of the process a child was forked from,
    and subprocess spawns with vfork/posix_spawn, so a command started directly by this
    (large) Python process reports *our* peak RSS -- 75 MB for ``true`` once we have
    touched 75 MB. With ``lean`` the command is forked by a small ``sh`` (about 1 MB),
    held until that shell has exited and we (as subreaper) are its parent, and then
    released to exec; ``wait4`` gives its own rusage. The clock starts at the release,
    so the shell's start-up is not timed.
    """
    with tempfile.TemporaryFile() as err:
        if not lean:
            started = time.perf_counter()
            popen = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=err, env=env)
            pid = popen.pid
            if stdin_data is not None:
                popen.stdin.write(stdin_data)
                popen.stdin.close()
        else:
            become_subreaper()
            fd, pidfile = tempfile.mkstemp(prefix='nsbench-pid-')
            os.close(fd)
            try:
                popen = subprocess.Popen(['sh', '-c', _LEAN_SCRIPT, 'sh', pidfile] + list(argv),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env)
                if popen.wait() != 0:
                    raise HarnessError('could not start %r through sh' % (argv,))
                with open(pidfile) as handle:
                    pid = int(handle.read())
            finally:
                os.unlink(pidfile)
            started = time.perf_counter()
            try:
                popen.stdin.write(b'go\n' + (stdin_data or b''))
                popen.stdin.close()
            except BrokenPipeError:
                pass
        out = popen.stdout.read()
        popen.stdout.close()
        status, usage = os.wait4(pid, 0)[1:]
        wall = time.perf_counter() - started
        if not lean:
            popen.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode('utf-8', 'replace')
    return RunResult(wall, usage.ru_maxrss, usage.ru_utime, usage.ru_stime,
                     os.waitstatus_to_exitcode(status), out, stderr)


def spawn_overhead(runs=5):
    """Best wall time and peak RSS of ``true`` through :func:`timed_run`: the floor
    (exec + reap) included in every measurement."""
    results = [timed_run(['true']) for dummy in range(runs)]
    return min(r.wall for r in results), max(r.maxrss_kb for r in results)


def interleave(tasks, rounds, warmup=1, on_result=None):
    """Run every ``(name, callable)`` of ``tasks`` once per round, rotating the order each
    round so no task always runs first (or right after another). ``warmup`` untimed
    rounds come first. Returns ``{name: [result, ...]}`` in round order."""
    results = dict((task[0], []) for task in tasks)
    for number in range(warmup + rounds):
        shift = number % len(tasks)
        for name, func in tasks[shift:] + tasks[:shift]:
            result = func()
            if number >= warmup:
                results[name].append(result)
                if on_result:
                    on_result(name, result)
    return results


def stats(values):
    values = list(values)
    if not values:
        return None
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values), 'n': len(values)}


def fmt_ms(seconds):
    return '-' if seconds is None else '%.1f' % (seconds * 1000.0)


def fmt_mb(kib):
    return '-' if kib is None else '%.1f' % (kib / 1024.0)


@contextlib.contextmanager
def collection_path(repo=REPO):
    """A temp dir holding ``ansible_collections/nsops/namespaces`` -> the repository."""
    tmp = tempfile.mkdtemp(prefix='nsbench-coll-')
    try:
        os.makedirs(os.path.join(tmp, 'ansible_collections', 'nsops'))
        os.symlink(repo, os.path.join(tmp, 'ansible_collections', 'nsops', 'namespaces'))
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def host_summary():
    """kernel, CPUs, python version, util-linux version (for the output header)."""
    try:
        lsns = subprocess.run(['lsns', '--version'], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        lsns = 'lsns not found'
    return 'kernel %s, %d CPUs, python %s (%s), %s' % (
        os.uname().release, os.cpu_count() or 0, sys.version.split()[0], real_python(), lsns)


CALLBACK_PLUGINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins')


def read_task_times(path):
    """The task results callback_plugins/bench_task_timer.py wrote to ``path``: dicts of
    task, seconds, bytes, status and changed, in order; the file is removed."""
    with open(path) as handle:
        times = [json.loads(line) for line in handle if line.strip()]
    os.unlink(path)
    return times
