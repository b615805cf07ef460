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

The items are cut into blocks of consecutive items, large ones first and small ones at
the end, and every worker (the parent is one) takes the next block from a shared queue
when it is done with the last: a worker that meets costly processes, or loses its CPU
for a while, simply takes fewer blocks. The queue is a pipe holding the block numbers,
four bytes each; pipe reads are serialized by the kernel, so each block goes to exactly
one worker.

Children only read /proc and send plain data back through a pipe (marshal); they never
touch the module's stdout and leave with ``os._exit``. The blocks of a child that fails
in any way are redone in the parent, so the result never depends on forking.
"""


import marshal
import os

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import child

# Below this many items a fork costs more than it saves.
MIN_ITEMS = 400
MAX_WORKERS = 4
# The smallest block: the tail a worker may still be busy with when the others are done.
MIN_BLOCK = 16

_UNIT = 4  # bytes per block number in the queue


def worker_count():
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


def blocks(count, workers, minimum=MIN_BLOCK):
    """(start, end) of consecutive blocks covering ``range(count)``: each takes a share
    of what is left ("guided" scheduling), so early blocks are big and late ones small."""
    result = []
    start = 0
    while start < count:
        size = max(minimum, (count - start) // (2 * workers))
        result.append((start, min(count, start + size)))
        start += size
    return result


def imap_chunks(func, items, workers=None):
    """Yield ``func(iterable)`` of each worker, the parent's first, while the children
    may still be at work.

    ``func`` gets an iterable of the items its worker claims, in increasing order within
    each block and from block to block, so state it keeps while iterating (what it has
    already looked at) carries across blocks. It must return marshal-able data (ints,
    strings, tuples, lists, dicts).
    """
    workers = worker_count() if workers is None else workers
    if workers < 2 or len(items) < MIN_ITEMS:
        yield func(items)
        return
    spans = blocks(len(items), workers)
    queue_r, queue_w = os.pipe()
    children = []
    try:
        try:
            child.write_all(queue_w, b''.join(index.to_bytes(_UNIT, 'little') for index in range(len(spans))))
        finally:
            os.close(queue_w)  # an empty queue then reads as end of file
        for _index in range(workers - 1):
            worker = _start(func, items, spans, queue_r)
            if worker is not None:
                children.append(worker)
        claimed = []
        part = func(_claim(items, spans, queue_r, claimed))
        done = set(claimed)
        yield part
        while children:
            pid, read_end = children.pop(0)
            result = _collect(pid, read_end)
            if result is not None:
                done.update(result[0])
                yield result[1]
        missing = [index for index in range(len(spans)) if index not in done]
        if missing:  # a child failed: its blocks are done here
            yield func(item for index in missing for item in items[spans[index][0]:spans[index][1]])
    finally:
        os.close(queue_r)
        for pid, read_end in children:  # the consumer stopped early
            _collect(pid, read_end)


def _claim(items, spans, queue_r, claimed):
    """The items of the blocks this worker takes from the queue, one block at a time."""
    while True:
        data = os.read(queue_r, _UNIT)
        if len(data) < _UNIT:
            return
        index = int.from_bytes(data, 'little')
        claimed.append(index)
        start, end = spans[index]
        yield from items[start:end]


def _start(func, items, spans, queue_r):
    """Fork a worker that sends ``marshal.dumps((claimed blocks, func(...)))``;
    (pid, read fd), or None when fork fails (the parent takes all blocks)."""
    read_end, write_end = os.pipe()
    try:
        pid = child.fork_child(_work, func, items, spans, queue_r, read_end, write_end)
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    os.close(write_end)
    return pid, read_end


def _work(func, items, spans, queue_r, read_end, write_end):  # pragma: no cover - runs in the child
    os.close(read_end)
    claimed = []
    part = func(_claim(items, spans, queue_r, claimed))
    child.write_all(write_end, marshal.dumps((claimed, part)))
    return 0


def _collect(pid, read_end):
    """(claimed blocks, result) of a child, or None if it failed."""
    try:
        data = child.read_all(read_end)
    finally:
        os.close(read_end)
        status = os.waitpid(pid, 0)[1]
    if status != 0:
        return None
    try:
        claimed, part = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    return claimed, part
