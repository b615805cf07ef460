# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Spread a /proc scan over the CPUs with fork(): reading /proc is syscall-bound, and
a second process halves the wall time on a 2-CPU host, where threads would queue on
the GIL for the Python half of the work.

Children only read /proc and send plain data back through a pipe (marshal); they never
touch the module's stdout and leave with ``os._exit``. A child that fails in any way
just has its share redone in the parent, so the result never depends on forking.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import marshal
import os

# Below this many items a fork costs more than it saves.
MIN_ITEMS = 400
MAX_WORKERS = 4


def worker_count():
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


def _read_all(fd):
    chunks = []
    while True:
        data = os.read(fd, 1 << 20)
        if not data:
            return b''.join(chunks)
        chunks.append(data)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def map_chunks(func, items, workers=None):
    """``func(list) -> list`` over consecutive chunks of ``items``, concatenated in order.

    Consecutive, not interleaved: the processes of one container or namespace set have
    neighbouring PIDs, so per-namespace work in ``func`` is mostly done by one worker.
    ``func`` must return marshal-able data (ints, strings, tuples, lists, dicts).
    """
    results = []
    for part in imap_chunks(func, items, workers):
        results.extend(part)
    return results


def imap_chunks(func, items, workers=None):
    """Like :func:`map_chunks`, but yields each chunk's list as soon as it is there: the
    parent's own chunk first, while the children are still at work."""
    workers = worker_count() if workers is None else workers
    if workers < 2 or len(items) < MIN_ITEMS:
        yield func(items)
        return
    count = len(items)
    chunks = [items[count * index // workers:count * (index + 1) // workers] for index in range(workers)]
    children = []
    try:
        for chunk in chunks[1:]:
            children.append(_start(func, chunk))
        yield func(chunks[0])
        while children:
            pid, read_end, chunk = children.pop(0)
            yield _collect(func, pid, read_end, chunk)
    finally:
        for pid, read_end, _chunk in children:  # the consumer stopped early
            _collect(None, pid, read_end, None)


def _start(func, chunk):
    """Fork a child that sends ``marshal.dumps(func(chunk))``; (pid, read fd, chunk)."""
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None, None, chunk
    if pid == 0:  # child
        status = 1
        try:
            os.close(read_end)
            _write_all(write_end, marshal.dumps(func(chunk)))
            status = 0
        finally:
            os._exit(status)  # no atexit handlers, no flushing of the module's stdout
    os.close(write_end)
    return pid, read_end, chunk


def _collect(func, pid, read_end, chunk):
    """The child's result, or ``func(chunk)`` redone here if the child failed."""
    data = None
    if pid is not None:
        try:
            data = _read_all(read_end)
        finally:
            os.close(read_end)
            status = os.waitpid(pid, 0)[1]
        if status != 0:
            data = None
    try:
        part = marshal.loads(data) if data is not None else None
    except (EOFError, ValueError, TypeError):
        part = None
    if part is None and func is not None:
        return func(chunk)
    return part
