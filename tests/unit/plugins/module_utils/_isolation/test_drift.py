# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drift of a running isolated process from its record, on fixture files (the real
cgroups and nsfs mounts are covered by tests/functional/test_isolated_process.py)."""


import os

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import drift as drift_


def record_with(tmp_path, limit_value='32', member=True, persisted_inode=None):
    cgroup = tmp_path / 'cg' / 'web'
    cgroup.mkdir(parents=True)
    (cgroup / 'pids.max').write_text(limit_value)
    (cgroup / 'cgroup.procs').write_text(u'4242\n' if member else u'')
    persisted = tmp_path / 'ns' / 'net'
    persisted.parent.mkdir()
    persisted.write_text(u'')  # a plain file: what an unmounted persisted namespace leaves
    inode = os.stat(str(persisted)).st_ino if persisted_inode is None else persisted_inode
    return {
        'name': 'web', 'pid': 4242,
        'namespaces': {'net': inode},
        'persisted_namespaces': {'net': str(persisted)},
        'cgroup': {'path': 'web', 'directories': [str(cgroup)], 'created': [],
                   'limits': {str(cgroup / 'pids.max'): '32'}},
    }


def test_nothing_to_repair_when_everything_matches(tmp_path):
    record = record_with(tmp_path)
    record['persisted_namespaces'] = {}
    assert not drift_.find(record)


def test_each_kind_of_drift_is_found_and_described(tmp_path):
    record = record_with(tmp_path, limit_value='max', member=False, persisted_inode=1)
    drift = drift_.find(record)
    assert drift
    limit = record['cgroup']['limits'].copy().popitem()[0]
    directory = record['cgroup']['directories'][0]
    assert drift.limits == [(limit, '32', 'max')]
    assert drift.directories == [directory]
    assert drift.namespaces == ['net']
    assert drift.messages(record) == [
        '%s reads max, declared 32' % limit,
        'pid 4242 is not in cgroup %s' % directory,
        'persisted net namespace %s is not mounted' % record['persisted_namespaces']['net'],
    ]
    before, after = drift.views(record)
    assert before == {'cgroup_limits': {limit: 'max'}, 'cgroup_member': {directory: False},
                      'persisted_namespaces': {'net': None}}
    assert after == {'cgroup_limits': {limit: '32'}, 'cgroup_member': {directory: True},
                     'persisted_namespaces': {'net': record['persisted_namespaces']['net']}}


def test_a_plain_file_with_the_right_inode_is_still_not_a_mount(tmp_path):
    # Same inode number but no mount: only an nsfs bind mount counts.
    record = record_with(tmp_path)
    assert drift_.find(record).namespaces == ['net']


def test_repair_puts_limits_back_and_remounts_through_the_store(tmp_path):
    record = record_with(tmp_path, limit_value='max', persisted_inode=1)

    class Store:
        persisted = None

        def persist(self, name, pid, types):
            self.persisted = (name, pid, types)
            return dict((t, '/run/ns/%s/%s' % (name, t)) for t in types)

    store = Store()
    done = drift_.repair(store, record, drift_.find(record))
    limit = list(record['cgroup']['limits'])[0]
    assert done == ['%s: max -> 32' % limit, 'persisted net namespace mounted again at /run/ns/web/net']
    assert store.persisted == ('web', 4242, ['net'])
    assert record['persisted_namespaces'] == {'net': '/run/ns/web/net'}
    with open(limit) as handle:
        assert handle.read() == '32'
