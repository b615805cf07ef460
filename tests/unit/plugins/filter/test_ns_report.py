# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ns_report filter and the text rendering in plugin_utils/_report.py."""


import pathlib

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.filter.ns_report import FilterModule, ns_report
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    BIND_NET, C_PID, INIT, UNJOINED_PID, assert_valid, container_host, scratch_dir,
)


def ns(nstype, inode, nprocs=1, pid=None, command=None, parent=None, children=(), **extra):
    record = {
        'type': nstype, 'inode': inode, 'dev': 4, 'ref': '%s:[%d]' % (nstype, inode),
        'nprocs': nprocs, 'pid': pid, 'ppid': 0 if pid else None, 'leaders': [pid] if pid else [], 'ealdorman': pid,
        'command': command, 'uid': 0 if pid else None, 'user': 'root' if pid else None, 'netnsid': None,
        'owner': None, 'owner_uid': None,
        'parent': parent, 'children': list(children), 'hidden': False, 'for_children': [],
        'loose_threads': [], 'fds': [], 'sockets': [], 'bind_mounts': [],
    }
    record.update(extra)
    return record


def small_facts():
    records = [
        ns('pid', 1, nprocs=5, pid=1, command='/sbin/init', children=['pid:[2]', 'pid:[3]']),
        ns('pid', 2, nprocs=2, pid=100, command='sleep infinity', parent='pid:[1]', children=['pid:[4]']),
        ns('pid', 4, nprocs=1, pid=150, command='sh', parent='pid:[2]'),
        ns('pid', 3, nprocs=0, parent='pid:[1]', hidden=True, for_children=[7]),
        ns('user', 10, nprocs=7, pid=1, command='/sbin/init', children=['user:[11]']),
        ns('user', 11, nprocs=2, pid=100, command='sleep infinity', parent='user:[10]', owner='user:[10]',
           owner_uid=1000),
        ns('net', 20, nprocs=6, pid=1, command='/sbin/init',
           fds=[{'pid': 9, 'fd': 3}, {'pid': 9, 'fd': 4}], loose_threads=[{'pid': 9, 'tid': 10}]),
        ns('net', 21, nprocs=0,
           bind_mounts=[{'mnt_ns': 'mnt:[30]', 'path': '/run/netns/blue'}]),
        ns('mnt', 30, nprocs=7, pid=1, command='x' * 100),
    ]
    return {
        'discovery': {
            'proc_root': '/proc', 'procfs': True, 'kernel': '6.1.0-test',
            'capabilities': {'effective': '000001ffffffffff', 'sys_admin': True, 'sys_ptrace': False},
            'initial_cgroup_namespace': True, 'initial_source': 'pid 2 (kthreadd)',
            'sources': ['processes', 'tasks', 'fds', 'bind_mounts'], 'types': ['pid', 'user'], 'processes_scanned': 7,
            'skipped': {'permission_denied': 3, 'vanished': 1, 'malformed': 0, 'error': 0},
            'malformed_entries': 0,
            'warnings': ['3 processes could not be read (permission denied) and were skipped'],
            'duration': 0.01,
        },
        'initial': {'pid': 1, 'user': 10, 'net': 20, 'mnt': 30},
        'self': {'pid': 1, 'user': 10, 'net': 20, 'mnt': 30},
        'namespaces': dict((r['ref'], r) for r in records),
        'roots': {'pid': ['pid:[1]'], 'user': ['user:[10]']},
    }


def section(text, title):
    """The lines of one section (from its title to the next blank line)."""
    lines = text.split('\n')
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start, len(lines)) if lines[i] == ''), len(lines))
    return lines[start:end]


def test_registered():
    assert FilterModule().filters() == {'ns_report': ns_report}


def test_small_facts_are_valid():
    assert_valid(small_facts())


class TestReport:

    def test_header(self):
        text = ns_report(small_facts(), 'web1')
        lines = text.split('\n')
        assert lines[0] == 'Namespaces on web1'
        assert lines[1] == ('kernel 6.1.0-test, proc_root /proc, 7 processes scanned in 0.01s, '
                            'sources: processes, tasks, fds, bind_mounts')
        assert lines[2] == 'capabilities: CAP_SYS_ADMIN yes, CAP_SYS_PTRACE no'
        assert lines[3] == 'counts: cgroup 0, ipc 0, mnt 1, net 2, pid 4, time 0, user 2, uts 0 (total 9)'
        assert lines[4] == 'skipped processes: permission_denied 3, vanished 1'

    def test_default_host(self):
        assert ns_report(small_facts()).startswith('Namespaces on this host\n')

    def test_pid_tree(self):
        lines = section(ns_report(small_facts()), 'PID namespaces')
        assert lines == [
            'PID namespaces (tree, 1 root)',
            '  pid:[1]  5 procs  pid 1  /sbin/init',
            '  \u251c\u2500 pid:[2]  2 procs  pid 100  sleep infinity',
            '  \u2502  \u2514\u2500 pid:[4]  1 procs  pid 150  sh',
            '  \u2514\u2500 pid:[3]  0 procs  [1 for_children, hidden]  -',
        ]

    def test_user_tree_with_owner_uid(self):
        lines = section(ns_report(small_facts()), 'USER namespaces')
        assert lines == [
            'USER namespaces (tree, 1 root)',
            '  user:[10]  7 procs  pid 1  /sbin/init',
            '  \u2514\u2500 user:[11]  2 procs  pid 100  owner uid 1000  sleep infinity',
        ]

    def test_several_roots(self):
        facts = small_facts()
        facts['namespaces']['pid:[2]']['parent'] = None
        facts['namespaces']['pid:[1]']['children'] = ['pid:[3]']
        facts['roots']['pid'] = ['pid:[1]', 'pid:[2]']
        lines = section(ns_report(facts), 'PID namespaces')
        assert lines[0] == 'PID namespaces (tree, 2 roots)'
        assert [line.split('  ')[1].lstrip('\u2502\u251c\u2514\u2500 ') for line in lines[1:]] == [
            'pid:[1]', 'pid:[3]', 'pid:[2]', 'pid:[4]']
        assert lines[3].startswith('  pid:[2]')          # a second root is not indented

    def test_children_missing_from_facts_are_skipped(self):
        facts = small_facts()
        facts['namespaces']['pid:[1]']['children'].append('pid:[999]')
        lines = section(ns_report(facts), 'PID namespaces')
        assert not any('999' in line for line in lines)
        assert lines[-1].startswith('  \u2514\u2500 pid:[3]')   # still the last branch

    def test_flat_tables_and_bind_mounts(self):
        lines = section(ns_report(small_facts()), 'NET namespaces')
        assert lines == [
            'NET namespaces (2)',
            '  net:[20]  6 procs  pid 1  [2 fds, 1 thread]  /sbin/init',
            '  net:[21]  0 procs  [1 bind mount]  -',
            '      bind mount /run/netns/blue (in mnt:[30])',
        ]
        assert section(ns_report(small_facts()), 'IPC namespaces') == ['IPC namespaces (0)']

    def test_long_command_is_cut(self):
        line = section(ns_report(small_facts()), 'MNT namespaces')[1]
        assert line.endswith('x' * 59 + '\u2026')

    def test_warnings(self):
        text = ns_report(small_facts())
        assert text.endswith('warnings: 1\n  - 3 processes could not be read (permission denied) and were skipped')
        facts = small_facts()
        facts['discovery']['warnings'] = []
        assert ns_report(facts).endswith('warnings: none')

    def test_no_skipped_line_when_nothing_skipped(self):
        facts = small_facts()
        facts['discovery']['skipped'] = {'permission_denied': 0, 'vanished': 0, 'malformed': 0, 'error': 0}
        assert 'skipped processes' not in ns_report(facts)

    def test_every_type_has_a_section(self):
        text = ns_report(small_facts())
        for title in ('CGROUP', 'IPC', 'MNT', 'NET', 'PID', 'TIME', 'USER', 'UTS'):
            assert '\n%s namespaces (' % title in text

    def test_discovered_fixture(self):
        with scratch_dir() as path:
            tree = container_host(pathlib.Path(path) / 'proc')
            facts = discover(proc_root=tree.path, command_lines=True)
            names_only = discover(proc_root=tree.path)
        text = ns_report(facts, 'fixture')
        # Without command lines the report shows the process names.
        assert any(line.startswith('  pid:[%d]  6 procs  pid 1  systemd' % INIT['pid'])
                   for line in section(ns_report(names_only, 'fixture'), 'PID namespaces'))
        pid_lines = section(text, 'PID namespaces')
        assert pid_lines[0] == 'PID namespaces (tree, 3 roots)'
        assert any(line.startswith('  pid:[%d]  6 procs  pid 1  /sbin/init' % INIT['pid']) for line in pid_lines)
        assert any(line.startswith('  pid:[%d]  3 procs  pid 200  sleep infinity' % C_PID) for line in pid_lines)
        assert any(line.startswith('  pid:[%d]  0 procs  [1 for_children]' % UNJOINED_PID) for line in pid_lines)
        assert '      bind mount /run/netns/blue (in mnt:[%d])' % INIT['mnt'] in text
        assert 'net:[%d]  0 procs  [1 bind mount]  -' % BIND_NET in text
        assert 'not a mounted procfs' in text


@pytest.mark.parametrize('value', [None, 'text', [], {'namespaces': {}}, {'discovery': {}}])
def test_not_facts(value):
    with pytest.raises(AnsibleFilterError, match='ansible_facts.namespaces'):
        ns_report(value)


@pytest.mark.parametrize('facts', [
    {'discovery': {}, 'namespaces': 'x'},
    {'discovery': 'x', 'namespaces': [1, 2]},
    {'discovery': {}, 'namespaces': [{'type': 5}], 'roots': 'x'},
    {'discovery': None, 'namespaces': None, 'processes': [None]},
])
def test_malformed_facts_are_a_filter_error_not_a_traceback(facts):
    try:
        ns_report(facts)
    except AnsibleFilterError:
        pass
