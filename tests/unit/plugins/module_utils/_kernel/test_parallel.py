# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""map_chunks/imap_chunks: forked workers share a queue of blocks and give the same
result as a serial run, whatever fails."""


import os
import time

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import parallel


def map_chunks(func, items, workers):
    """Every worker's rows, one worker's after the other's."""
    return [row for part in parallel.imap_chunks(func, items, workers) for row in part]


def describe(items):
    return [(item, os.getpid(), {'square': item * item, 'name': 'p%d' % item}) for item in items]


def by_worker(rows):
    workers = {}
    for item, pid, _extra in rows:
        workers.setdefault(pid, []).append(item)
    return workers


def test_every_item_once_each_worker_in_increasing_order():
    items = list(range(1000))
    rows = map_chunks(describe, items, workers=3)
    assert sorted(row[0] for row in rows) == items
    assert all(row[2]['square'] == row[0] * row[0] for row in rows)
    workers = by_worker(rows)
    # Who takes what depends on timing (a fast child may drain the queue alone).
    assert 1 <= len(workers) <= 3
    assert all(taken == sorted(taken) for taken in workers.values())


def test_blocks_are_guided_and_cover_everything():
    spans = parallel.blocks(1000, 2)
    assert spans[0] == (0, 250)
    assert [start for start, _end in spans[1:]] == [end for _start, end in spans[:-1]]
    assert spans[-1][1] == 1000
    sizes = [end - start for start, end in spans]
    assert sizes == sorted(sizes, reverse=True) or sizes[-1] < parallel.MIN_BLOCK
    assert min(sizes[:-1]) >= parallel.MIN_BLOCK
    assert parallel.blocks(0, 2) == []


def test_a_slow_worker_takes_fewer_blocks():
    parent = os.getpid()

    def slow_parent(items):
        rows = []
        for item in items:
            if os.getpid() == parent:
                time.sleep(0.005)
            rows.append((item, os.getpid(), None))
        return rows

    rows = map_chunks(slow_parent, list(range(1000)), workers=2)
    assert sorted(row[0] for row in rows) == list(range(1000))
    assert len(by_worker(rows).get(parent, [])) < 500  # the child took the larger share


def test_small_inputs_stay_in_process():
    rows = map_chunks(describe, list(range(10)), workers=4)
    assert set(row[1] for row in rows) == {os.getpid()}


def test_a_failing_child_has_its_blocks_redone_in_the_parent():
    parent = os.getpid()

    def fails_in_children(items):
        rows = describe(items)
        if os.getpid() != parent:
            raise RuntimeError('boom')
        return rows

    rows = map_chunks(fails_in_children, list(range(900)), workers=2)
    assert sorted(row[0] for row in rows) == list(range(900))
    assert set(row[1] for row in rows) == {parent}


def test_unmarshalable_child_results_are_redone_in_the_parent():
    parent = os.getpid()

    def odd_in_children(items):
        rows = describe(items)
        if os.getpid() != parent:
            return [object()]
        return rows

    rows = map_chunks(odd_in_children, list(range(800)), workers=2)
    assert sorted(row[0] for row in rows) == list(range(800))


def test_worker_count_is_bounded():
    assert 1 <= parallel.worker_count() <= parallel.MAX_WORKERS


def worker_part(items):
    """One row per worker, even one that got no block."""
    return [(os.getpid(), list(items))]


def test_imap_yields_the_parents_part_first(monkeypatch):
    monkeypatch.setattr(parallel, 'MIN_ITEMS', 2)
    parts = list(parallel.imap_chunks(worker_part, list(range(300)), workers=3))
    assert parts[0][0][0] == os.getpid()
    assert len(parts) == 3 and all(part[0][0] != os.getpid() for part in parts[1:])
    assert sorted(item for part in parts for item in part[0][1]) == list(range(300))


def test_imap_closed_early_reaps_its_children(monkeypatch):
    monkeypatch.setattr(parallel, 'MIN_ITEMS', 2)
    started = []
    real_start = parallel._start

    def start(*args):
        child = real_start(*args)
        started.append(child[0])
        return child

    monkeypatch.setattr(parallel, '_start', start)
    parts = parallel.imap_chunks(worker_part, list(range(300)), workers=3)
    next(parts)
    parts.close()
    assert len(started) == 2
    for pid in started:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind
