# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The isolated_process module as Ansible runs it: argument checks and result plumbing."""


import json

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import converge
from ansible_collections.nsops.namespaces.plugins.modules import isolated_process


@pytest.mark.parametrize('args, message', [
    ({'name': 'web'}, 'state is present but all of the following are missing: command'),
    ({'name': 'web', 'state': 'restarted'}, 'state is restarted but all of the following are missing: command'),
    ({'name': 'web', 'command': ['true'], 'namespaces': ['pid', 'bogus']}, 'value of namespaces must be one or more'),
    ({'name': 'web', 'command': ['true'], 'memory_max': '64M'}, "missing parameter(s) required by 'memory_max': cgroup"),
    ({'name': 'web', 'command': ['true'], 'map_root_user': True, 'uid_map': [{'inside': 0, 'outside': 0,
                                                                              'count': 1}]},
     'parameters are mutually exclusive: map_root_user|uid_map'),
    ({'name': 'web', 'state': 'gone'}, 'value of state must be one of'),
])
def test_argument_errors(args, message, run_module):
    dummy, result = run_module(isolated_process, **args)
    assert result['failed'] is True
    assert message in result['msg']


def test_isolation_errors_become_fail_json(run_module, monkeypatch):
    monkeypatch.setattr(converge, 'own_cap_eff', lambda: 0)
    dummy, result = run_module(isolated_process, name='web', command=['true'])
    assert result['failed'] is True
    assert 'needs CAP_SYS_ADMIN' in result['msg'] and 'become: true' in result['msg']


def test_hostname_without_uts(run_module, monkeypatch):
    monkeypatch.setattr(converge, 'own_cap_eff', lambda: 1 << 21)
    dummy, result = run_module(isolated_process, name='web', command=['true'], hostname='box', namespaces=['pid'])
    assert result['msg'].startswith('hostname needs a new uts namespace: add uts to namespaces')


def test_result_and_diff_plumbing(run_module, monkeypatch):
    seen = {}

    def fake_converge(params, check_mode=False):
        seen.update(params=params, check_mode=check_mode)
        return {'changed': True, 'action': 'start', 'name': 'web', 'state': 'present', 'pid': 7, 'ns_pid': 1,
                'namespaces': {}, 'log_path': '/l', 'cgroup': None, 'persisted_namespaces': {},
                'diff': {'before': {'state': 'absent'}, 'after': {'state': 'present'}},
                'warnings': ['careful']}

    monkeypatch.setattr(converge, 'converge', fake_converge)
    dummy, result = run_module(isolated_process, name='web', command=['sleep', '1'], _ansible_check_mode=True)
    assert seen['check_mode'] is True
    assert seen['params']['namespaces'] == ['pid', 'mnt', 'uts', 'ipc', 'net']
    assert seen['params']['stop_timeout'] == 10
    assert 'diff' not in result
    assert 'careful' in json.dumps(result['warnings'])  # 2.19 wraps warnings in event objects
    assert result['pid'] == 7
    dummy, result = run_module(isolated_process, name='web', command=['sleep', '1'], _ansible_diff=True)
    assert result['diff'] == {'before': {'state': 'absent'}, 'after': {'state': 'present'}}
