# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


import os

import pytest

from ansible_collections.nsops.namespaces.plugins.modules import container_info
from ansible_collections.nsops.namespaces.tests.unit.fixtures.cgroups.fixture_tree import build_host

POD1 = '6d0e25a4-436e-4569-9bae-17785b801a26'


@pytest.fixture
def host(tmp_path):
    return build_host(tmp_path, 'hybrid', ['kubernetes-systemd-containerd', 'docker-cgroupfs', 'lxc'])


def test_lists_every_container_without_selectors(run_module, host):
    code, result = run_module(container_info, proc_root=host.proc_root)
    assert code == 0
    assert result['changed'] is False
    assert sorted((c['runtime'], c['id'] or c['name']) for c in result['containers']) == sorted(
        (c['expect']['runtime'], c['expect']['id'] or c['expect']['name']) for c in host.containers)
    assert 'duration' in result and result['cgroup_namespace']['initial'] is True


def test_check_mode_reports_the_same_and_changes_nothing(run_module, host):
    code, result = run_module(container_info, proc_root=host.proc_root, pod_uid=POD1, _ansible_check_mode=True)
    assert code == 0 and result['changed'] is False
    assert len(result['containers']) == 2


def test_id_prefix_selects_one(run_module, host):
    wanted = host.containers[0]['expect']['id']
    code, result = run_module(container_info, proc_root=host.proc_root, id=wanted[:8])
    assert code == 0
    (record,) = result['containers']
    assert record['id'] == wanted and record['pod_uid'] == POD1 and record['verified'] is True


def test_pid_namespace_translation_returns_host_pid(run_module, host):
    app = host.containers[1]
    code, result = run_module(container_info, proc_root=host.proc_root, pid=8, pid_namespace_of=app['expect']['id'][:12])
    assert code == 0 and result['host_pid'] == 1412


@pytest.mark.parametrize('args, message', [
    ({'id': 'nothex!'}, "id 'nothex!' is not a container ID"),
    ({'pod_uid': '1234'}, "pod_uid '1234' is not a Kubernetes pod UID"),
    ({'pid': 0}, 'pid must be a positive integer process ID (1 or more), not 0'),
    ({'pid': -3}, 'not -3'),
    ({'pid': 'abc'}, "argument 'pid' is of type"),
    ({'pid': 5, 'id': 'abc'}, 'cannot be combined with id'),
    ({'pid_namespace_of': 'abc'}, 'pid_namespace_of needs pid'),
    ({'runtime': 'rkt'}, 'value of runtime must be one of'),
    ({'runtime': 'lxc', 'id': 'abc'}, 'select them with name'),
    ({'pid': 999999}, 'no process with PID 999999'),
])
def test_bad_input_fails_with_a_message_not_a_traceback(run_module, host, args, message):
    code, result = run_module(container_info, proc_root=host.proc_root, **args)
    assert code == 1
    assert result['failed'] is True
    assert message in result['msg']
    assert 'Traceback' not in result['msg'] and 'exception' not in result


def test_ambiguous_prefix_fails_listing_candidates(run_module, tmp_path):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs', 'kubernetes-cgroupfs'])
    same = host.containers[0]['expect']['id']
    code, result = run_module(container_info, proc_root=host.proc_root, id=same[:4])
    assert code == 1
    assert 'matches 2 containers' in result['msg']
    assert result['candidates'] == [same, same]


def test_proc_root_that_is_no_proc_fails_clearly(run_module, tmp_path):
    code, result = run_module(container_info, proc_root=str(tmp_path))
    assert code == 1
    assert 'is not a proc file system' in result['msg']


def test_the_module_does_not_list_proc(run_module, host, monkeypatch):
    listed = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, 'listdir', lambda path: listed.append(str(path)) or real_listdir(path))
    code, result = run_module(container_info, proc_root=host.proc_root, id=host.containers[0]['expect']['id'])
    assert code == 0 and len(result['containers']) == 1
    assert host.proc_root not in listed
