# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one fork protocol: exit codes, report lines, reading to the end, deadlines."""


import json
import os
import time

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import child


def wait_status(pid):
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_child_exits_with_what_its_body_returns_and_1_when_it_raises():
    assert wait_status(child.fork_child(lambda: 7)) == 7

    def boom():
        raise RuntimeError('no traceback reaches the module output')
    assert wait_status(child.fork_child(boom)) == 1
    assert wait_status(child.fork_child(lambda: 'not an int')) == 1


def test_reports_cross_chunk_boundaries_and_skip_garbage():
    reports = child.Reports()
    assert reports.feed(b'{"a": 1}\n{"b"') == [{'a': 1}]
    assert reports.feed(b': 2}\nnot json\n[1, 2]\n\n') == [{'b': 2}]
    assert reports.feed(b'{"c": 3}') == []
    assert reports.close() == [{'c': 3}]
    assert reports.close() == []


def test_a_long_report_is_shortened_to_stay_one_atomic_write():
    read_fd, write_fd = os.pipe()
    try:
        child.send(write_fd, error='exec', message='x' * 100000)
        data = os.read(read_fd, 1 << 20)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert len(data) <= child.REPORT_MAX and data.endswith(b'\n')
    report = json.loads(data)
    assert report['error'] == 'exec' and report['message'].startswith('xxx')


def test_send_to_a_closed_reader_is_dropped_quietly():
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        child.send(write_fd, note='nobody listens')
    finally:
        os.close(write_fd)


def test_read_all_reads_past_pipe_sized_chunks_and_iter_reports_until_eof():
    read_fd, write_fd = os.pipe()

    def body():
        os.close(read_fd)
        child.write_all(write_fd, b'y' * (1 << 20))
        return 0
    pid = child.fork_child(body)
    os.close(write_fd)
    try:
        assert child.read_all(read_fd) == b'y' * (1 << 20)
    finally:
        os.close(read_fd)
        child.reap(pid)

    read_fd, write_fd = os.pipe()

    def reporter():
        os.close(read_fd)
        for number in range(3):
            child.send(write_fd, n=number)
        return 0
    pid = child.fork_child(reporter)
    os.close(write_fd)
    try:
        assert [r['n'] for r in child.iter_reports(read_fd, time.monotonic() + 30)] == [0, 1, 2]
    finally:
        os.close(read_fd)
        child.reap(pid)


def test_a_deadline_ends_the_wait_and_kill_and_reap_leaves_no_zombie():
    read_fd, write_fd = os.pipe()

    def sleeper():
        os.close(read_fd)
        time.sleep(60)
        return 0
    pid = child.fork_child(sleeper)
    os.close(write_fd)
    try:
        with pytest.raises(child.ChildTimeout):
            child.read_all(read_fd, time.monotonic() + 0.2)
        with pytest.raises(child.ChildTimeout):
            list(child.iter_reports(read_fd, time.monotonic() + 0.2))
    finally:
        os.close(read_fd)
        child.kill_and_reap(pid)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
