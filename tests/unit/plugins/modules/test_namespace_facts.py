# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The namespace_facts module, driven through ansible.module_utils.testing.patch_module_args."""


import json
import os
import pathlib

import pytest

from ansible_collections.nsops.namespaces.plugins.modules import namespace_facts
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    C_NET, INIT, assert_valid, container_host, ns_ref, scratch_dir,
)


@pytest.fixture
def proc_root():
    with scratch_dir() as path:
        yield str(container_host(pathlib.Path(path) / 'proc'))


def warning_texts(result):
    texts = []
    for warning in result.get('warnings') or []:
        texts.append(warning if isinstance(warning, str) else warning['event']['msg'])
    return texts


def without_duration(facts):
    facts = json.loads(json.dumps(facts))
    del facts['discovery']['duration']
    return facts


class TestSuccess:

    def test_default_run_on_fixture(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root)
        assert 'failed' not in result, result.get('msg')
        assert code == 0
        assert result['changed'] is False
        facts = result['ansible_facts']['namespaces']
        assert_valid(facts)
        assert facts['discovery']['proc_root'] == proc_root
        assert facts['discovery']['sources'] == ['processes', 'tasks', 'bind_mounts']
        assert facts['namespaces'][ns_ref('net', C_NET)]['nprocs'] == 3
        assert facts['initial'] == INIT
        assert 'processes' not in facts
        # the discovery warnings are module warnings too
        assert any('not a mounted procfs' in w and proc_root in w for w in warning_texts(result))

    def test_check_mode_is_identical(self, run_module, proc_root):
        dummy, normal = run_module(namespace_facts, proc_root=proc_root)
        code, checked = run_module(namespace_facts, proc_root=proc_root, _ansible_check_mode=True)
        assert code == 0
        assert checked['changed'] is False
        assert without_duration(checked['ansible_facts']['namespaces']) == without_duration(normal['ansible_facts']['namespaces'])

    def test_process_table(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root, processes=True)
        assert code == 0
        facts = result['ansible_facts']['namespaces']
        assert_valid(facts)
        assert [p['pid'] for p in facts['processes']] == [1, 2, 100, 200, 250, 260, 400, 500, 600]

    def test_pids_turn_on_the_table(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root, pids=[200, '250'])
        assert code == 0
        facts = result['ansible_facts']['namespaces']
        assert [p['pid'] for p in facts['processes']] == [200, 250]
        assert facts['processes'][0]['nspid'] == [200, 1]

    def test_mounts_option(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root)
        assert 'mounts' not in result['ansible_facts']['namespaces']
        code, result = run_module(namespace_facts, proc_root=proc_root, mounts=True)
        assert code == 0
        facts = result['ansible_facts']['namespaces']
        assert_valid(facts)
        assert sorted(facts['mounts']) == [ns_ref('mnt', INIT['mnt']), 'mnt:[4026532102]']
        assert [m['mount_point'] for m in facts['mounts']['mnt:[4026532102]']['mounts']] == ['/', '/proc', '/var/run/uts0']

    def test_sources_option(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root, sources=['fds'])
        assert code == 0
        assert result['ansible_facts']['namespaces']['discovery']['sources'] == ['processes', 'fds']

    def test_empty_sources(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root, sources=[])
        assert code == 0
        assert result['ansible_facts']['namespaces']['discovery']['sources'] == ['processes']

    def test_invalid_utf8_in_proc_files(self, run_module):
        with scratch_dir() as path:
            tree = container_host(pathlib.Path(path) / 'proc')
            tree.add_process(700, comm='odd', ppid=1, starttime=3, ns={'uts': 4026539500},
                             cmdline=b'\xff\xfe\x00--flag\x00')
            code, result = run_module(namespace_facts, proc_root=tree.path, command_lines=True)
        assert code == 0
        facts = result['ansible_facts']['namespaces']
        record = facts['namespaces'][ns_ref('uts', 4026539500)]
        assert facts['pids'][str(record['pid'])]['command'].endswith(' --flag')
        assert facts['pids'][str(record['pid'])]['name'] == 'odd'

    @pytest.mark.skipif(not os.path.exists('/proc/self/ns/net'), reason='needs Linux /proc')
    def test_real_proc(self, run_module):
        code, result = run_module(namespace_facts)
        assert code == 0
        facts = result['ansible_facts']['namespaces']
        assert_valid(facts)
        assert facts['discovery']['proc_root'] == '/proc'
        assert facts['discovery']['procfs'] is True
        assert ns_ref('net', facts['self']['net']) in facts['namespaces']


class TestFailures:

    def test_wrong_element_type(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root, pids=['x'])
        assert code == 1
        assert result['failed'] is True
        assert 'pids' in result['msg'] and 'int' in result['msg']
        assert 'ansible_facts' not in result

    def test_wrong_type(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root, processes='maybe')
        assert code == 1
        assert result['failed'] is True
        assert 'processes' in result['msg']

    def test_unknown_option(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root, bogus=1)
        assert code == 1
        assert result['failed'] is True
        assert 'Unsupported parameters' in result['msg'] and 'bogus' in result['msg']

    def test_bad_source_choice(self, run_module, proc_root):
        code, result = run_module(namespace_facts, proc_root=proc_root, sources=['tasks', 'nope'])
        assert code == 1
        assert 'sources' in result['msg'] and 'nope' in result['msg']

    def test_proc_root_not_procfs(self, run_module):
        with scratch_dir() as path:
            code, result = run_module(namespace_facts, proc_root=path)
        assert code == 1
        assert result['failed'] is True
        assert path in result['msg']
        assert 'not a procfs' in result['msg']

    def test_proc_root_missing(self, run_module):
        with scratch_dir() as path:
            missing = os.path.join(path, 'host', 'proc')
            code, result = run_module(namespace_facts, proc_root=missing)
        assert code == 1
        assert missing in result['msg']

    @pytest.mark.parametrize('pids, shown', [([0], '0'), ([5, -3], '-3'), ([0, -1], '0, -1')])
    def test_non_positive_pids(self, run_module, proc_root, pids, shown):
        code, result = run_module(namespace_facts, proc_root=proc_root, pids=pids)
        assert code == 1
        assert result['failed'] is True
        assert 'pids must be positive' in result['msg']
        assert result['msg'].endswith(shown)
        assert 'ansible_facts' not in result
