# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""socket_info through its main(): results on a fixture host, check mode and bad input."""


import os
import sys

import pytest

from ansible_collections.nsops.namespaces.plugins.modules import socket_info
from ansible_collections.nsops.namespaces.tests.unit.fixtures.cgroups.fixture_tree import build_host

TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
# 0.0.0.0:8080 LISTEN inode 900001 (little-endian text)
LISTEN_8080 = '   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 900001 1 0 100 0 0 10 0\n'


@pytest.fixture
def host(tmp_path):
    if sys.byteorder != 'little':
        pytest.skip('fixture tables are written for a little-endian host')
    fixture = build_host(str(tmp_path), 'hybrid', ['docker-cgroupfs'])
    net = os.path.join(fixture.proc_root, '1001', 'net')
    os.makedirs(net)
    with open(os.path.join(net, 'tcp'), 'w') as handle:
        handle.write(TCP_HEADER + LISTEN_8080)
    fd_dir = os.path.join(fixture.proc_root, '1001', 'fd')
    os.makedirs(fd_dir)
    os.symlink('socket:[900001]', os.path.join(fd_dir, '3'))
    return fixture


def test_listening_socket_of_a_container(run_module, host):
    container = host.containers[0]['expect']['id']
    code, result = run_module(socket_info, proc_root=host.proc_root, container_id=container[:10], state=['listen'])
    assert code == 0 and result['changed'] is False
    (row,) = result['sockets']
    assert (row['protocol'], row['local_port'], row['container']) == ('tcp', 8080, container)
    assert [(o['pid'], o['fd'], o['inner_pid']) for o in row['owners']] == [(1001, 3, 1)]
    assert [ns['container'] for ns in result['namespaces']] == [container]


def test_check_mode_is_the_same(run_module, host):
    code, result = run_module(socket_info, proc_root=host.proc_root, port=[8080], _ansible_check_mode=True)
    assert code == 0 and result['changed'] is False and [r['local_port'] for r in result['sockets']] == [8080]


@pytest.mark.parametrize('args, message', [
    ({'state': ['listening']}, 'value of state must be one or more of'),
    ({'protocols': ['sctp']}, 'value of protocols must be one or more of'),
    ({'pid': -1}, 'pid must be a positive integer process ID (1 or more), not -1'),
    ({'pid': 1, 'container_id': 'abc'}, 'parameters are mutually exclusive: pid|container_id'),
    ({'port': [65536]}, 'port must be between 0 and 65535'),
    ({'pod_uid': 'nope'}, "pod_uid 'nope' is not a Kubernetes pod UID"),
    ({'container_id': 'abcdef'}, 'no container with container_id abcdef on this host'),
    ({'pid': 4194304}, 'no process with PID 4194304 on this host'),
    ({'proc_root': '/etc'}, '/etc is not a procfs'),
])
def test_bad_input_fails_with_a_message_not_a_traceback(run_module, host, args, message):
    args.setdefault('proc_root', host.proc_root)
    code, result = run_module(socket_info, **args)
    assert code == 1 and result['failed'] is True
    assert message in result['msg']
