# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ns_expand filter: lean facts (schema 2) back to the full records of schema 1."""


import json
import pathlib

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.filter.ns_expand import FilterModule, ns_expand
from ansible_collections.nsops.namespaces.plugins.filter.ns_report import ns_report
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    C_NET, FD_NET, assert_valid, container_host, ns_ref, scratch_dir,
)

# Every field a record of schema version 1 had.
V1_FIELDS = ('type', 'inode', 'dev', 'ref', 'nprocs', 'pid', 'ppid', 'command', 'uid', 'user', 'netnsid',
             'leaders', 'ealdorman', 'owner', 'owner_uid', 'parent', 'children', 'hidden', 'for_children',
             'loose_threads', 'fds', 'sockets', 'bind_mounts')


def _lean(command_lines):
    with scratch_dir() as path:
        tree = container_host(pathlib.Path(path) / 'proc')
        facts = discover(proc_root=tree.path, sources=('tasks', 'fds', 'bind_mounts'), command_lines=command_lines)
    assert_valid(facts)
    return json.loads(json.dumps(facts))   # as the controller gets them


@pytest.fixture(scope='module')
def lean():
    return _lean(command_lines=True)


@pytest.fixture(scope='module')
def lean_default():
    return _lean(command_lines=False)


def test_registered():
    assert FilterModule().filters() == {'ns_expand': ns_expand}


def test_every_record_gets_every_field_back(lean):
    full = ns_expand(lean)
    assert_valid(full, version=1)
    assert set(full['namespaces']) == set(lean['namespaces'])
    for key, record in full['namespaces'].items():
        assert tuple(record) == V1_FIELDS, key
        assert record['ref'] == key


def test_lowest_pid_columns_come_from_pids(lean):
    record = ns_expand(lean)['namespaces'][ns_ref('net', C_NET)]
    lowest = lean['pids'][str(record['pid'])]
    assert (record['ppid'], record['command'], record['uid']) == (lowest['ppid'], lowest['command'], lowest['uid'])
    assert record['user'] == lean['users'][str(lowest['uid'])]


def test_without_command_lines_the_command_is_the_process_name(lean, lean_default):
    full = ns_expand(lean)['namespaces']
    short = ns_expand(lean_default)['namespaces']
    assert set(full) == set(short)
    for key, record in short.items():
        lowest = lean_default['pids'].get(str(record['pid']))
        assert record['command'] == (lowest['name'] if lowest else None), key
        assert 'command' not in (lowest or {}), key
        # Everything else is the same as with command lines.
        assert dict(record, command=None) == dict(full[key], command=None), key
    assert any(record['command'] != short[key]['command'] for key, record in full.items())


def test_a_namespace_without_processes(lean):
    record = ns_expand(lean)['namespaces'][ns_ref('net', FD_NET)]
    assert (record['nprocs'], record['pid'], record['command'], record['leaders'], record['ealdorman']) == (
        0, None, None, [], None)
    assert record['fds']


def test_the_input_is_left_alone(lean):
    before = json.dumps(lean, sort_keys=True)
    ns_expand(lean)
    assert json.dumps(lean, sort_keys=True) == before


def test_the_report_is_the_same_from_either_shape(lean):
    assert ns_report(lean) == ns_report(ns_expand(lean))


@pytest.mark.parametrize('value, message', [
    (None, 'expects the namespace facts'),
    ('net:[1]', 'expects the namespace facts'),
    ({'namespaces': []}, 'expects the namespace facts'),
    ({'discovery': {'schema_version': 2}, 'namespaces': {'bogus': {}}, 'pids': {}}, 'malformed record'),
])
def test_bad_input_is_named(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ns_expand(value)
