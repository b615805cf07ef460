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
    """``func(list) -> list`` over interleaved chunks of ``items``, concatenated.

    ``func`` must return marshal-able data (ints, strings, tuples, lists, dicts).
    """
    workers = worker_count() if workers is None else workers
    if workers < 2 or len(items) < MIN_ITEMS:
        return func(items)
    chunks = [items[index::workers] for index in range(workers)]
    children = []
    for chunk in chunks[1:]:
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            children.append((None, None, chunk))
            continue
        if pid == 0:  # child
            status = 1
            try:
                os.close(read_end)
                _write_all(write_end, marshal.dumps(func(chunk)))
                status = 0
            finally:
                os._exit(status)  # no atexit handlers, no flushing of the module's stdout
        os.close(write_end)
        children.append((pid, read_end, chunk))
    results = func(chunks[0])
    for pid, read_end, chunk in children:
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
        results.extend(func(chunk) if part is None else part)
    return results
