# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one pass over every /proc/PID: what a chunk reads, and that forked chunks add up."""


import pathlib

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import parallel

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery import process_pass

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import NS_LINKS, ProcRoot
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    BIND_NET, C_MNT, C_NET, FD_NET, INIT, ProcTree, container_host, ns_ref, scratch_dir, stat_text,
)

PIDS = [1, 2, 100, 200, 250, 260, 400, 500, 600]


@pytest.fixture
def root():
    with scratch_dir() as path:
        tree = container_host(pathlib.Path(path) / 'proc')
        yield ProcRoot(str(tree))


KDEVTMPFS_MNT = 4026531860


def full_plan(root, **kwargs):
    options = dict(fd_prefixes=('net:[', 'socket:['), bind_mounts=True, leader_details=True, command_lines=True)
    options.update(kwargs)
    return process_pass.PassPlan(root, NS_LINKS, **options)


def all_rows(result):
    """Every row with its links dict: (pid, ppid, comm, starttime, threads, links), or
    (pid, reason) for a process that could not be read."""
    return [row if len(row) == 2 else row[:5] + (link_sets[row[5]],)
            for rows, link_sets in result.test_chunks for row in rows]


def serial(func, items):
    """imap_chunks stand-in: the whole list as one chunk, in process."""
    return iter([func(items)])


def merged(plan, pids, imap=serial):
    """The merged result; ``test_chunks`` holds each worker's (rows, link sets) as the pass
    yielded them (it keeps none itself: they are merged and let go)."""
    result = None
    chunks = []
    for result, rows in process_pass.run(plan, pids, imap):
        chunks.append(rows)
    result.test_chunks = chunks
    return result


def test_rows_share_one_links_dict_per_distinct_set(root):
    rows, link_sets = process_pass.read_chunk(full_plan(root), PIDS)[:2]
    assert [row[0] for row in rows] == PIDS
    by_pid = dict((row[0], row) for row in rows)
    # 200, 250 and 260 are in the container: one set; 1, 2, 100 and 600 share the host's.
    assert by_pid[200][5] == by_pid[250][5] == by_pid[260][5]
    assert by_pid[1][5] == by_pid[2][5] == by_pid[100][5] == by_pid[600][5]
    assert len(link_sets) < len(rows)
    assert link_sets[by_pid[200][5]]['net'] == C_NET
    assert by_pid[200][1:5] == (100, 'sleep', 900, 1)


def test_results_come_back_with_links_dicts(root):
    result = merged(full_plan(root), PIDS)
    links = dict((row[0], row[5]) for row in all_rows(result))
    assert links[250] is links[260]  # shared, read-only
    assert links[1]['net'] == INIT['net'] and links[200]['mnt'] == C_MNT


def test_fd_references_only_with_prefixes(root):
    result = merged(full_plan(root), PIDS)
    assert [(pid, sorted(found)) for pid, found in result.fd_refs] == [
        (600, [(7, ns_ref('net', FD_NET)), (8, 'socket:[999]')])]
    assert merged(full_plan(root, fd_prefixes=()), PIDS).fd_refs == []


def test_mountinfo_once_per_mount_namespace_only_nsfs_text_kept(root):
    result = merged(full_plan(root), PIDS)
    assert set(result.mountinfo) == {INIT['mnt'], C_MNT}
    assert 'net:[%d]' % BIND_NET in result.mountinfo[INIT['mnt']]
    assert ' - nsfs ' in result.mountinfo[C_MNT]
    assert merged(full_plan(root, bind_mounts=False), PIDS).mountinfo == {}


def test_no_ioctls_unless_asked(root):
    # A fixture tree has no nsfs: the steps ask for relations on a live procfs only.
    assert merged(full_plan(root), PIDS).relations == {}


def test_leader_details_for_possible_leaders(root):
    details = merged(full_plan(root), PIDS).details
    # ppid 0, a parent with other links, or a parent outside the chunk: possible leaders.
    assert {1, 2, 200, 250}.issubset(details)
    assert 260 not in details  # its parent 200 is in the chunk with the same links
    assert 100 not in details and 600 not in details  # parent 1, same links
    # the raw text: one string per process until a namespace's lowest PID needs the list
    assert details[250][1] == 101 and procfs.parse_cmdline(details[250][0]) == ['nginx:', 'master', 'process']
    assert details[2] == ('', 0)
    assert merged(full_plan(root, leader_details=False), PIDS).details == {}
    # Without command lines only the owner UID is read.
    assert merged(full_plan(root, command_lines=False), PIDS).details[250] == (None, 101)
    # Split so that 260's parent is in another chunk: then 260 is a possible leader too.
    assert 260 in process_pass.read_chunk(full_plan(root), [260])[2]


def test_kernel_threads_have_no_fd_scan(root):
    flags_kthread = 0x00200000 | 0x8000
    text = stat_text(2, 'kthreadd', ppid=0, starttime=2).split(' ')
    text[8] = str(flags_kthread)  # field 9: flags
    tree_stat = pathlib.Path(root.path) / '2' / 'stat'
    tree_stat.write_text(' '.join(text))
    fd = pathlib.Path(root.path) / '2' / 'fd' / '9'
    fd.symlink_to('net:[%d]' % FD_NET)
    assert procfs.read_stat(root, 2).kernel_thread
    assert all(pid != 2 for pid, _found in merged(full_plan(root), PIDS).fd_refs)


def make_kernel_thread(root, pid):
    path = pathlib.Path(root.path) / str(pid) / 'stat'
    fields = path.read_text().split(' ')
    fields[8] = str(0x00200000 | 0x8000)  # field 9, flags: PF_KTHREAD
    path.write_text(' '.join(fields))


def test_every_kernel_thread_has_its_links_read(root):
    # kdevtmpfs has a mount namespace of its own on every host with devtmpfs: kernel
    # threads need not share kthreadd's namespaces.
    tree = ProcTree(pathlib.Path(root.path))
    tree.add_process(3, comm='kdevtmpfs', ppid=2, starttime=3, cmdline=[], ns={'mnt': KDEVTMPFS_MNT})
    for pid in (2, 3):
        make_kernel_thread(root, pid)
    rows, link_sets = process_pass.read_chunk(full_plan(root), [2, 3])[:2]
    assert rows[1][:5] == (3, 2, 'kdevtmpfs', 3, 1)
    assert link_sets[rows[0][5]]['mnt'] == INIT['mnt']
    assert link_sets[rows[1][5]]['mnt'] == KDEVTMPFS_MNT
    assert link_sets[rows[1][5]]['net'] == INIT['net']


def test_vanished_and_unreadable_processes_are_rows_with_a_reason(root):
    rows = process_pass.read_chunk(full_plan(root), [1, 999])[0]
    assert rows[1] == (999, procfs.VANISHED)


def test_forked_chunks_add_up_to_the_serial_pass(root, monkeypatch):
    monkeypatch.setattr(parallel, 'MIN_ITEMS', 2)
    plan = full_plan(root)
    alone = merged(plan, PIDS)

    def imap(func, items):
        return parallel.imap_chunks(func, items, workers=3)

    forked = merged(plan, PIDS, imap)
    assert len(forked.test_chunks) == 3 and len(alone.test_chunks) == 1
    assert sorted(all_rows(forked)) == sorted(all_rows(alone))
    assert sorted(forked.fd_refs) == sorted(alone.fd_refs)
    assert forked.mountinfo == alone.mountinfo  # from the lowest PID, as in one process
    # Chunks see other parents, so they may list more possible leaders, never fewer.
    assert set(alone.details).issubset(forked.details)
