# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""namespace_exec through its main(): options, check mode, changed, and clear failures."""


import os

import pytest

from ansible_collections.nsops.namespaces.plugins.modules import namespace_exec
from ansible_collections.nsops.namespaces.tests.unit.fixtures.cgroups.fixture_tree import build_host

POD1 = '6d0e25a4-436e-4569-9bae-17785b801a26'


def test_runs_in_a_target_sharing_everything(run_module):
    code, result = run_module(namespace_exec, pid=os.getpid(), command=['sh', '-c', 'echo hello; echo $$'])
    assert code == 0
    assert result['changed'] is True and result['rc'] == 0
    assert result['stdout_lines'][0] == 'hello' and int(result['stdout_lines'][1]) == result['command_host_pid']
    assert result['pid'] == os.getpid() and result['namespaces_entered'] == {}
    assert 'net' in result['namespaces_shared'] and result['container_id'] is None
    assert result['cmd'] == ['sh', '-c', 'echo hello; echo $$'] and result['timed_out'] is False


def test_read_only_is_not_changed(run_module):
    code, result = run_module(namespace_exec, pid=os.getpid(), command='true', read_only=True)
    assert code == 0 and result['changed'] is False


def test_check_mode_runs_nothing_unless_read_only(run_module, tmp_path):
    marker = tmp_path / 'ran'
    code, result = run_module(namespace_exec, pid=os.getpid(), command=['touch', str(marker)], _ansible_check_mode=True)
    assert code == 0 and result['changed'] is True and 'not run in check mode' in result['msg']
    assert 'rc' not in result and not marker.exists()
    code, result = run_module(namespace_exec, pid=os.getpid(), command=['touch', str(marker)], read_only=True,
                              _ansible_check_mode=True)
    assert code == 0 and result['changed'] is False and result['rc'] == 0 and marker.exists()


def test_non_zero_rc_fails_like_command(run_module):
    code, result = run_module(namespace_exec, pid=os.getpid(), command='sh -c "echo bad >&2; exit 7"', read_only=True)
    assert code == 1 and result['failed'] is True and result['rc'] == 7
    assert result['msg'] == 'non-zero return code' and result['stderr'] == 'bad'


def test_timeout_fails_with_timed_out(run_module):
    code, result = run_module(namespace_exec, pid=os.getpid(), command=['sleep', '30'], timeout=0.3)
    assert code == 1 and result['timed_out'] is True and result['rc'] == -9
    assert 'did not finish within its timeout (0.3 s)' in result['msg']


def test_stdin_and_shell(run_module):
    code, result = run_module(namespace_exec, pid=os.getpid(), command='tr a-z A-Z | rev', shell=True, stdin='abc')
    assert code == 0 and result['stdout'] == 'CBA'


@pytest.mark.parametrize('args, message', [
    ({'pid': 1, 'command': ['ip', 'addr'], 'shell': True}, 'shell: true runs a command line through /bin/sh -c'),
    ({'pid': 4194304, 'command': 'true'}, 'no process with PID 4194304 on this host'),
    ({'pid': 0, 'command': 'true'}, 'pid must be a positive integer process ID (1 or more), not 0'),
    ({'pid': 1, 'command': 'true', 'namespaces': ['network']}, 'value of namespaces must be one or more of'),
    ({'pid': 1, 'command': 'true', 'namespaces': []}, 'namespaces is empty'),
    ({'pid': 1, 'command': 'true', 'timeout': 0}, 'timeout must be more than 0 seconds'),
    ({'pid': 1, 'command': 'true', 'timeout': -5}, 'timeout must be more than 0 seconds, got -5'),
    ({'pid': 1, 'command': 'true', 'chdir': 'relative'}, 'chdir must be an absolute path'),
    ({'command': 'true'}, 'one of the following is required: pid, container_id, pod_uid, name, runtime, namespace_files'),
    ({'pid': 1, 'container_id': 'abc', 'command': 'true'}, 'parameters are mutually exclusive: pid|container_id'),
    ({'namespace_files': ['/proc/self/ns/net'], 'root': True, 'command': 'true'}, 'with namespace_files there is none'),
    ({'namespace_files': ['/etc/hostname'], 'command': 'true'}, '/etc/hostname is not a namespace file'),
    ({'container_id': 'xyz!', 'command': 'true'}, "id 'xyz!' is not a container ID"),
    ({'pid': os.getpid(), 'command': ['no-such-command-nsops']}, "command 'no-such-command-nsops' not found"),
])
def test_bad_input_fails_with_a_message_not_a_traceback(run_module, args, message):
    code, result = run_module(namespace_exec, **args)
    assert code == 1 and result['failed'] is True
    assert message in result['msg']


# ---------------------------------------------------------------------------- containers (fixture host)

@pytest.fixture
def host(tmp_path):
    return build_host(str(tmp_path), 'hybrid', ['docker-cgroupfs', 'kubernetes-systemd-containerd'])


def test_unknown_container_is_a_clear_error(run_module, host):
    code, result = run_module(namespace_exec, proc_root=host.proc_root, container_id='abcdef', command='true')
    assert code == 1 and 'no container with container_id abcdef on this host' in result['msg']


def test_pod_with_a_type_its_containers_do_not_share_lists_them(run_module, host):
    code, result = run_module(namespace_exec, proc_root=host.proc_root, pod_uid=POD1, namespaces=['net', 'mnt'],
                              command='true')
    assert code == 1
    assert 'each have their own mnt namespace: give container_id to pick one of' in result['msg']
    assert '(/pause)' in result['msg'] and '(python3 app.py)' in result['msg']
    assert 'ipc, net' in result['msg'] and 'uts]' in result['msg']


def test_container_resolves_to_its_init_and_opens_its_namespaces(run_module, host):
    # The fixture's namespace links are text only: opening them fails, and says so.
    docker = host.containers[0]
    code, result = run_module(namespace_exec, proc_root=host.proc_root, container_id=docker['expect']['id'][:12],
                              namespaces=['net'], command='true')
    assert code == 1 and 'cannot open the net namespace of PID 1001' in result['msg']
