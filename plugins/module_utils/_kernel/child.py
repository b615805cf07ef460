# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The one fork protocol: forking a child, its reports to the parent, and preparing a
child that is going to exec.

A child runs one function and leaves with ``os._exit``: no atexit handler, no flush of
the module's stdout (which carries the module's JSON result) and no ``finally`` of the
parent's stack runs twice. A child that fails in any way exits non-zero.

Children report through pipes opened with O_CLOEXEC (``os.pipe``), so a successful exec
closes the parent's copy as end of file. A report is one JSON object per line, no longer
than PIPE_BUF, so that two children writing the same pipe never interleave.
"""


import fcntl
import json
import os
import select
import signal
import time

# Writes up to PIPE_BUF bytes to a pipe are atomic.
REPORT_MAX = 4096


class ChildTimeout(Exception):
    """The child did not finish within its deadline."""


def fork_child(body, *args):
    """Fork; the child runs ``body(*args)`` and exits with the int it returns (1 when it
    raises). Returns the child's PID in the parent."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            code = body(*args)
        finally:
            os._exit(code if isinstance(code, int) else 1)
    return pid


# ---------------------------------------------------------------------------- pipes

def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_all(fd, deadline=None):
    """Everything until end of file; ChildTimeout when ``deadline`` (monotonic) passes."""
    chunks = []
    while True:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChildTimeout()
            if not select.select([fd], [], [], remaining)[0]:
                continue
        data = os.read(fd, 1 << 20)
        if not data:
            return b''.join(chunks)
        chunks.append(data)


# ---------------------------------------------------------------------------- reports

def send(fd, **message):
    """Write one report line; a report the reader can no longer take is dropped."""
    data = _encode(message)
    if len(data) > REPORT_MAX:
        data = _encode(dict((key, value[:REPORT_MAX // 4] if isinstance(value, str) else value)
                            for key, value in message.items()))
    try:
        os.write(fd, data)
    except OSError:
        pass  # the reader is gone: nobody left to tell


def _encode(message):
    return (json.dumps(message) + '\n').encode('utf-8')


class Reports:
    """Parses report lines out of the chunks read from a pipe."""

    def __init__(self):
        self._rest = b''

    def feed(self, chunk):
        """The reports completed by ``chunk``."""
        lines = (self._rest + chunk).split(b'\n')
        self._rest = lines.pop()
        return _parse(lines)

    def close(self):
        """The reports of a last line without its newline."""
        rest, self._rest = self._rest, b''
        return _parse([rest])


def _parse(lines):
    reports = []
    for line in lines:
        if not line.strip():
            continue
        try:
            report = json.loads(line.decode('utf-8', 'replace'))
        except ValueError:
            continue
        if isinstance(report, dict):
            reports.append(report)
    return reports


def iter_reports(fd, deadline):
    """Yield the reports on ``fd`` as they arrive, until end of file; ChildTimeout when
    ``deadline`` (monotonic) passes first."""
    reports = Reports()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChildTimeout()
        if not select.select([fd], [], [], remaining)[0]:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            yield from reports.close()
            return
        yield from reports.feed(chunk)


# ---------------------------------------------------------------------------- reaping

def reap(pid):
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


def kill_quietly(pid, signum=signal.SIGKILL):
    if pid:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def kill_and_reap(pid):
    """Reap a child; SIGKILL it first if it has not exited yet."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
    except OSError:
        return
    kill_quietly(pid)
    reap(pid)


# ---------------------------------------------------------------------------- before exec

def reset_signals():  # pragma: no cover - runs in the child
    """Default dispositions and an empty mask: Python ignores SIGPIPE and SIGXFSZ, and
    ignored signals survive exec."""
    for signum in signal.valid_signals():
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # reserved by libc (NPTL real-time signals)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def set_stdio(stdin_fd, stdout_fd, stderr_fd):  # pragma: no cover - runs in the child
    """Make the three fds 0, 1 and 2; they are copied above 2 first so that none is
    overwritten before it is copied."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (stdin_fd, stdout_fd, stderr_fd)]
    for number, fd in enumerate(high):
        os.dup2(fd, number)
    for fd in high:
        os.close(fd)


def close_fds_except(*keep):  # pragma: no cover - runs in the child
    """Close every fd above 2 but ``keep``: nothing of the module may leak into the
    command (a held pipe makes Ansible wait for ever)."""
    start = 3
    for fd in sorted(set(fd for fd in keep if fd is not None and fd >= 3)):
        os.closerange(start, fd)
        start = fd + 1
    try:
        end = os.sysconf('SC_OPEN_MAX')
    except (OSError, ValueError):
        end = 1 << 20
    os.closerange(start, max(start + 1, end))
