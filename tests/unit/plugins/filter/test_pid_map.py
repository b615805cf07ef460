# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pid_map filter."""


import copy
import pathlib

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import expand_facts
from ansible_collections.nsops.namespaces.plugins.filter.pid_map import FilterModule, pid_map
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    C_PID, INIT, container_host, ns_ref, scratch_dir,
)

C = ns_ref('pid', C_PID)
HOST = ns_ref('pid', INIT['pid'])


@pytest.fixture(scope='module')
def facts():
    """A copied proc tree: no hierarchy, the outermost entry is the proc root's namespace."""
    with scratch_dir() as path:
        tree = container_host(pathlib.Path(path) / 'proc')
        yield discover(proc_root=tree.path, process_table=True)


def pid_ns(inode, parent=None):
    return {'type': 'pid', 'inode': inode, 'ref': ns_ref('pid', inode),
            'parent': ns_ref('pid', parent) if parent else None}


A, B, D, E = 4026531836, 4026532010, 4026532020, 4026532030


@pytest.fixture
def nested():
    """A live-kernel shape: A (host) > B > D, and E beside B; the hierarchy is known."""
    def proc(pid, nspid, ns):
        return {'pid': pid, 'nspid': nspid, 'namespaces': {'pid': ns}}
    return {
        'discovery': {'types': ['pid']},
        'initial': {'pid': A},
        'self': {'pid': A},
        'namespaces': dict((r['ref'], r) for r in (pid_ns(A), pid_ns(B, A), pid_ns(D, B), pid_ns(E, A))),
        'processes': [
            proc(1, [1], A),
            proc(3000, [3000, 1], B),
            proc(3005, [3005, 6], B),
            proc(3010, [3010, 12, 1], D),
            proc(4000, [4000, 1], E),
            proc(4100, None, E),   # status unreadable
        ],
    }


def test_registered():
    assert FilterModule().filters() == {'pid_map': pid_map}


class TestCopiedTree:

    def test_container_to_host(self, facts):
        assert pid_map(facts, 1, C) == 200
        assert pid_map(facts, 7, C, 'initial') == 250
        assert pid_map(facts, 2, C_PID, HOST) == 260

    def test_host_to_container(self, facts):
        assert pid_map(facts, 200, 'initial', C) == 1
        assert pid_map(facts, 250, HOST, C) == 7

    def test_not_visible_in_the_target(self, facts):
        assert pid_map(facts, 100, 'initial', C) is None   # the shim is outside the container

    def test_unknown_pid(self, facts):
        assert pid_map(facts, 99, C) is None
        assert pid_map(facts, 12345, 'initial', C) is None

    def test_same_namespace(self, facts):
        assert pid_map(facts, 600, 'initial', 'initial') == 600

    def test_list_and_all(self, facts):
        assert pid_map(facts, [1, 7, '2', 99], C) == [200, 250, 260, None]
        assert pid_map(facts, 'all', C, 'initial') == {1: 200, 2: 260, 7: 250}
        assert pid_map(facts, 'all', 'initial', C) == {
            1: None, 2: None, 100: None, 200: 1, 250: 7, 260: 2, 400: None, 500: None, 600: None}

    def test_namespace_record_and_inode_text(self, facts):
        # a full record (ns_expand) names itself; a lean one does not: its key does
        record = expand_facts(facts)['namespaces'][C]
        assert pid_map(facts, 1, record, str(INIT['pid'])) == 200
        with pytest.raises(AnsibleFilterError, match='give its key'):
            pid_map(facts, 1, facts['namespaces'][C], 'initial')


class TestHierarchy:

    def test_through_every_level(self, nested):
        assert pid_map(nested, 1, ns_ref('pid', D)) == 3010
        assert pid_map(nested, 1, D, B) == 12
        assert pid_map(nested, 12, B, D) == 1
        assert pid_map(nested, 3010, A, D) == 1

    def test_sibling_namespaces_do_not_see_each_other(self, nested):
        assert pid_map(nested, 1, E, B) is None
        assert pid_map(nested, 1, B, E) is None
        assert pid_map(nested, 'all', B, D) == {1: None, 6: None, 12: 1}

    def test_unreadable_chain_is_left_out(self, nested):
        assert pid_map(nested, 4100, A, E) is None

    def test_hierarchy_without_single_entry_chains(self, nested):
        nested['processes'] = nested['processes'][1:]
        assert pid_map(nested, 1, D, A) == 3010


class TestErrors:

    @pytest.mark.parametrize('data, message', [
        ({'net': 1}, 'must be the namespace facts'),
        ('text', 'must be the namespace facts'),
        ({'discovery': {}, 'namespaces': {}}, 'no process table'),
        ({'discovery': {'types': ['net']}, 'namespaces': {}, 'processes': []}, 'add pid to types'),
    ])
    def test_bad_input(self, data, message):
        with pytest.raises(AnsibleFilterError, match=message):
            pid_map(data, 1, 'initial')

    @pytest.mark.parametrize('ns, message', [
        ('net:[4026531833]', 'is a net namespace, not a PID namespace'),
        ('pid:[12]x', 'malformed namespace reference'),
        ('pid:[4026599999]', 'is not a PID namespace of these facts'),
        (0, 'must be a PID namespace'),
        (True, 'must be a PID namespace'),
        ([1], 'must be a PID namespace'),
        ({'type': 'net', 'inode': 5}, 'of type pid'),
    ])
    def test_bad_namespace(self, facts, ns, message):
        for args, which in (((ns,), 'from_ns'), (('initial', ns), 'to_ns')):
            with pytest.raises(AnsibleFilterError) as info:
                pid_map(facts, 1, *args)
            assert str(info.value).startswith('pid_map: ' + which)
            assert message in str(info.value)

    def test_missing_initial(self, facts):
        broken = copy.deepcopy(facts)
        broken['initial'] = {}
        with pytest.raises(AnsibleFilterError, match='no initial PID namespace'):
            pid_map(broken, 1, C)

    @pytest.mark.parametrize('pid', ['one', None, 0, -4, True, [1, 'x']])
    def test_bad_pid(self, facts, pid):
        with pytest.raises(AnsibleFilterError, match='pid_map: a PID must be'):
            pid_map(facts, pid, C)

    def test_malformed_table(self, facts):
        broken = copy.deepcopy(facts)
        broken['processes'] = [{'pid': 1, 'nspid': [1]}, 'garbage']
        with pytest.raises(AnsibleFilterError, match='malformed record'):
            pid_map(broken, 1, 'initial')
        broken['processes'] = 'not a list'
        with pytest.raises(AnsibleFilterError, match='must be a list'):
            pid_map(broken, 1, 'initial')
