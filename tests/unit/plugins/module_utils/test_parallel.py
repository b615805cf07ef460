# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""map_chunks: forked children give the same result as a serial run, whatever fails."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils import _parallel


def describe(items):
    return [(item, os.getpid(), {'square': item * item, 'name': 'p%d' % item}) for item in items]


def test_forked_chunks_cover_every_item_once():
    items = list(range(1000))
    rows = _parallel.map_chunks(describe, items, workers=3)
    assert [row[0] for row in rows] == items  # consecutive chunks, in order
    assert all(row[2]['square'] == row[0] * row[0] for row in rows)
    assert len(set(row[1] for row in rows)) == 3  # the parent and two children did the work
    # Each worker got one consecutive run of items.
    runs = [row[1] for index, row in enumerate(rows) if index == 0 or rows[index - 1][1] != row[1]]
    assert len(runs) == 3


def test_small_inputs_stay_in_process():
    rows = _parallel.map_chunks(describe, list(range(10)), workers=4)
    assert set(row[1] for row in rows) == {os.getpid()}


def test_a_failing_child_has_its_share_redone_in_the_parent():
    parent = os.getpid()

    def fails_in_children(items):
        if os.getpid() != parent:
            raise RuntimeError('boom')
        return describe(items)

    rows = _parallel.map_chunks(fails_in_children, list(range(900)), workers=2)
    assert sorted(row[0] for row in rows) == list(range(900))
    assert set(row[1] for row in rows) == {parent}


def test_unmarshalable_child_results_are_redone_in_the_parent():
    parent = os.getpid()

    def odd_in_children(items):
        if os.getpid() != parent:
            return [object()]
        return describe(items)

    rows = _parallel.map_chunks(odd_in_children, list(range(800)), workers=2)
    assert sorted(row[0] for row in rows) == list(range(800))


def test_worker_count_is_bounded():
    assert 1 <= _parallel.worker_count() <= _parallel.MAX_WORKERS


def test_imap_yields_the_parents_chunk_before_collecting_children(monkeypatch):
    monkeypatch.setattr(_parallel, 'MIN_ITEMS', 2)
    parts = _parallel.imap_chunks(describe, list(range(30)), workers=3)
    first = next(parts)
    assert [row[0] for row in first] == list(range(10))
    assert set(row[1] for row in first) == {os.getpid()}
    rest = list(parts)
    assert [row[0] for part in rest for row in part] == list(range(10, 30))


def test_imap_closed_early_reaps_its_children(monkeypatch):
    monkeypatch.setattr(_parallel, 'MIN_ITEMS', 2)
    started = []
    real_start = _parallel._start

    def start(func, chunk):
        child = real_start(func, chunk)
        started.append(child[0])
        return child

    monkeypatch.setattr(_parallel, '_start', start)
    parts = _parallel.imap_chunks(describe, list(range(30)), workers=3)
    next(parts)
    parts.close()
    assert len(started) == 2
    for pid in started:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind
