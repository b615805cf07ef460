# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ns_compare filter."""


import pathlib

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.filter.ns_compare import FilterModule, ns_compare
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    C_IPC, C_MNT, C_NET, C_PID, C_UTS, INIT, container_host, scratch_dir,
)

ALL = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']


@pytest.fixture(scope='module')
def facts():
    with scratch_dir() as path:
        tree = container_host(pathlib.Path(path) / 'proc')
        yield discover(proc_root=tree.path, process_table=True)


@pytest.fixture(scope='module')
def facts_two_pids():
    with scratch_dir() as path:
        tree = container_host(pathlib.Path(path) / 'proc')
        yield discover(proc_root=tree.path, pids=[1, 250])


def refs(mapping):
    return dict((t, '%s:[%d]' % (t, i)) for t, i in mapping.items())


def test_registered():
    assert FilterModule().filters() == {'ns_compare': ns_compare}


class TestWithFacts:

    def test_host_vs_container(self, facts):
        result = ns_compare(facts, 1, 200)
        assert result['different'] == ['ipc', 'mnt', 'net', 'pid', 'uts']
        assert result['shared'] == ['cgroup', 'time', 'user']
        assert result['unknown'] == []
        assert result['left'] == refs(INIT)
        assert result['right'] == refs(dict(INIT, net=C_NET, pid=C_PID, mnt=C_MNT, uts=C_UTS, ipc=C_IPC))

    def test_two_container_processes_share_all(self, facts):
        result = ns_compare(facts, 200, 260)
        assert result['shared'] == ALL
        assert result['different'] == []

    def test_same_process(self, facts):
        assert ns_compare(facts, 1, 1)['shared'] == ALL

    def test_pid_for_children_is_no_membership(self, facts):
        # pid 400 only has pid_for_children elsewhere: it still shares its pid ns with pid 1
        result = ns_compare(facts, 1, 400)
        assert result['shared'] == ALL

    def test_pids_as_text(self, facts):
        assert ns_compare(facts, '1', '200') == ns_compare(facts, 1, 200)

    def test_facts_gathered_with_pids(self, facts_two_pids):
        result = ns_compare(facts_two_pids, 250, 1)
        assert result['different'] == ['ipc', 'mnt', 'net', 'pid', 'uts']
        assert result['left']['net'] == 'net:[%d]' % C_NET

    def test_missing_pid(self, facts_two_pids):
        with pytest.raises(AnsibleFilterError) as info:
            ns_compare(facts_two_pids, 1, 200)
        assert 'PID 200 is not in the process table' in str(info.value)
        assert 'pids option' in str(info.value)

    def test_missing_process_table(self):
        with scratch_dir() as path:
            tree = container_host(pathlib.Path(path) / 'proc')
            no_table = discover(proc_root=tree.path)
        with pytest.raises(AnsibleFilterError) as info:
            ns_compare(no_table, 1, 200)
        message = str(info.value)
        assert 'no process table' in message
        assert 'processes: true' in message and 'pids: [1, ...]' in message

    def test_only_one_pid(self, facts):
        with pytest.raises(AnsibleFilterError, match='give two PIDs'):
            ns_compare(facts, 1)

    @pytest.mark.parametrize('pid', ['abc', None, 'net:[1]', 1.5j])
    def test_bad_pid(self, facts, pid):
        with pytest.raises(AnsibleFilterError, match='PID must be an integer'):
            ns_compare(facts, pid, 1)

    def test_unreadable_types_are_unknown(self, facts):
        trimmed = dict(facts)
        trimmed['processes'] = [dict(p) for p in facts['processes']]
        for proc in trimmed['processes']:
            if proc['pid'] == 200:
                proc['namespaces'] = dict((t, i) for t, i in proc['namespaces'].items() if t not in ('time', 'user'))
        result = ns_compare(trimmed, 1, 200)
        assert result['unknown'] == ['time', 'user']
        assert 'time' not in result['right']


class TestWithMappings:

    def test_two_mappings(self):
        result = ns_compare({'net': 4026531833, 'pid': 4026531836}, {'net': 4026532281, 'pid': 4026531836})
        assert (result['shared'], result['different'], result['unknown']) == (['pid'], ['net'], [])
        assert result['left'] == {'net': 'net:[4026531833]', 'pid': 'pid:[4026531836]'}
        assert result['right'] == {'net': 'net:[4026532281]', 'pid': 'pid:[4026531836]'}

    def test_ref_strings(self):
        result = ns_compare({'net': 'net:[4026531833]', 'uts': 'uts:[4026531838]'},
                            {'net': 4026531833, 'uts': 'uts:[4026532999]'})
        assert (result['shared'], result['different']) == (['net'], ['uts'])

    def test_digit_strings(self):
        result = ns_compare({'net': '4026531833'}, {'net': 4026531833})
        assert result['shared'] == ['net']

    def test_only_one_side_is_unknown(self):
        result = ns_compare({'net': 1, 'ipc': 2}, {'net': 1, 'time': 3})
        assert result['shared'] == ['net']
        assert result['unknown'] == ['ipc', 'time']

    def test_non_type_keys_ignored(self):
        result = ns_compare({'net': 1, 'pid_for_children': 5, 'name': 'x'}, {'net': 1, 'pid_for_children': 6})
        assert result == {'shared': ['net'], 'different': [], 'unknown': [], 'left': {'net': 'net:[1]'},
                          'right': {'net': 'net:[1]'}}

    def test_process_records(self, facts):
        by_pid = dict((p['pid'], p) for p in facts['processes'])
        result = ns_compare(by_pid[1]['namespaces'], by_pid[250]['namespaces'])
        assert result['different'] == ['ipc', 'mnt', 'net', 'pid', 'uts']

    def test_ref_of_another_type(self):
        with pytest.raises(AnsibleFilterError) as info:
            ns_compare({'net': 'ipc:[5]'}, {'net': 5})
        assert 'input.net names a ipc namespace' in str(info.value)

    @pytest.mark.parametrize('value', ['net:', 'net:[x]', 'bogus'])
    def test_malformed_ref(self, value):
        with pytest.raises(AnsibleFilterError) as info:
            ns_compare({'net': 1}, {'net': value})
        assert str(info.value).startswith('ns_compare: argument.net: ')
        assert repr(value) in str(info.value)

    @pytest.mark.parametrize('value', [None, [1], {'a': 1}, 1.5j])
    def test_not_an_inode(self, value):
        with pytest.raises(AnsibleFilterError, match='must be an inode number'):
            ns_compare({'net': value}, {'net': 1})

    @pytest.mark.parametrize('left, right, what', [
        ('net:[1]', {'net': 1}, 'input must be a mapping'),
        ([1, 2], {'net': 1}, 'input must be a mapping'),
        ({'net': 1}, 'net:[1]', 'argument must be a mapping'),
        ({'net': 1}, 5, 'argument must be a mapping'),
    ])
    def test_not_mappings(self, left, right, what):
        with pytest.raises(AnsibleFilterError, match=what):
            ns_compare(left, right)

    def test_pids_need_facts(self):
        with pytest.raises(AnsibleFilterError, match='PIDs need the namespace facts'):
            ns_compare({'net': 1}, 1, 2)

    def test_huge_ref_is_a_filter_error(self):
        with pytest.raises(AnsibleFilterError):
            ns_compare({'net': 'net:[%s]' % ('1' * 5000)}, {'net': 1})


@pytest.mark.parametrize('facts', [
    {'discovery': {}, 'namespaces': [], 'processes': [1, 2]},
    {'discovery': {}, 'namespaces': [], 'processes': 'pid'},
    {'discovery': {}, 'namespaces': [], 'processes': [None]},
])
def test_malformed_process_tables_are_a_filter_error(facts):
    with pytest.raises(AnsibleFilterError, match='processes in the facts must be a list'):
        ns_compare(facts, 1, 2)


def test_inodes_above_64_bits_are_refused():
    with pytest.raises(AnsibleFilterError):
        ns_compare({'net': 1 << 64}, {'net': 1})
    with pytest.raises(AnsibleFilterError):
        ns_compare({'net': 'net:[18446744073709551616]'}, {'net': 1})
