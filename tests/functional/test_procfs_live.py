# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The /proc readers of module_utils/_kernel/procfs.py on real processes of the running kernel.

The parsers and readers on fixture trees: tests/unit/plugins/module_utils/_kernel/test_procfs.py.
"""

import fcntl
import os
import signal
import subprocess
import time

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcRoot


@pytest.fixture
def start_process():
    """``start(argv, **popen_kwargs)`` -> Popen; each process is killed by PID at teardown, also after a failure."""
    started = []

    def start(argv, **kwargs):
        proc = subprocess.Popen(argv, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        # Not reaped while poll() says it runs, so the PID is still ours to kill.
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)


@pytest.mark.parametrize('with_gap', [False, True])
def test_read_fd_links_of_real_processes(with_gap, monkeypatch, start_process):
    # fds 0..2 only: read without listing (Linux 6.2+); plus one fd >= 100: a gap, listed.
    keep = os.open('/dev/null', os.O_RDONLY)
    extra = fcntl.fcntl(keep, fcntl.F_DUPFD, 100) if with_gap else None
    try:
        child = start_process(['sleep', '60'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, pass_fds=(extra,) if with_gap else ())
    finally:
        os.close(keep)
        if extra is not None:
            os.close(extra)
    expected = {0: '/dev/null', 1: '/dev/null', 2: '/dev/null'}
    if with_gap:
        expected[extra] = '/dev/null'
    # Until sleep has run (exec, then locale files opened and closed) its fds change:
    # wait for sleep itself, asleep, with only our fds, seen twice in a row.
    deadline = time.monotonic() + 10
    stable = 0
    while stable < 2:
        assert time.monotonic() < deadline, os.listdir('/proc/%d/fd' % child.pid)
        time.sleep(0.02)
        settled = (procfs.read_stat(ProcRoot('/proc'), child.pid).comm == 'sleep'
                   and procfs.read_stat(ProcRoot('/proc'), child.pid).state == 'S'
                   and sorted(int(n) for n in os.listdir('/proc/%d/fd' % child.pid)) == sorted(expected))
        stable = stable + 1 if settled else 0
    if not with_gap and os.stat('/proc/self/fd').st_size > 0:  # the kernel reports fd counts

        def no_listing(path):
            raise AssertionError('listed %s although fds 0..2 are all there is' % path)

        monkeypatch.setattr(os, 'listdir', no_listing)
    assert procfs.read_fd_links(ProcRoot('/proc'), child.pid) == expected
