# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The containers inventory: cached records to hosts, names, groups, node variables."""


import pytest

from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.nsops.namespaces.plugins.inventory import containers as plugin_module
from ansible_collections.nsops.namespaces.plugins.inventory.containers import (
    cached_containers,
    container_fields,
    default_hostname,
    group_names,
)

DOCKER_ID = '3f4e9a1c2b7d' + '0' * 52
APP_ID = 'a' * 64
POD_UID = '5f0c3f22-6b1c-4c1e-9f3e-2b7a4d1e8c90'


def record(**fields):
    base = {'runtime': 'docker', 'id': DOCKER_ID, 'name': None, 'pod_uid': None, 'qos': None,
            'podman_pod_id': None, 'init_pid': 4242, 'namespaces': {'net': 4026532999},
            'cgroup': '/docker/' + DOCKER_ID, 'state': 'running', 'processes': []}
    base.update(fields)
    return base


def cached(node, *records):
    return {'fleet_node_containers': {'node': node, 'gathered_at': '2026-12-01T23:00:00', 'containers': list(records)}}


# ---------------------------------------------------------------------------- records

def test_fields_of_a_docker_container():
    fields = container_fields('node1', record())
    assert fields['short_id'] == '3f4e9a1c2b7d'
    assert default_hostname(fields) == 'node1:docker:3f4e9a1c2b7d'
    assert group_names(fields) == ['containers', 'runtime_docker', 'node_node1']


def test_named_container_is_named_by_its_name():
    fields = container_fields('node-2', record(runtime='lxc', id=None, name='web'))
    assert default_hostname(fields) == 'node-2:lxc:web'
    assert group_names(fields) == ['containers', 'runtime_lxc', 'node_node_2']


def test_pod_groups():
    fields = container_fields('n', record(runtime='cri', id=APP_ID, pod_uid=POD_UID, qos='burstable'))
    assert 'pod_5f0c3f22_6b1c_4c1e_9f3e_2b7a4d1e8c90' in group_names(fields)
    podman = container_fields('n', record(runtime='podman', podman_pod_id='b' * 64))
    assert podman['pod_name'] == 'b' * 64 and 'pod_' + 'b' * 64 in group_names(podman)


@pytest.mark.parametrize('bad', [None, 'text', [], {'id': DOCKER_ID}, {'runtime': 'docker'},
                                 {'runtime': '', 'id': DOCKER_ID}, {'runtime': 'docker', 'id': '', 'name': ''}])
def test_unusable_records_are_skipped(bad):
    assert container_fields('n', bad) is None


@pytest.mark.parametrize('facts', [None, [], {}, {'fleet_node_containers': 'x'}, {'fleet_node_containers': {'containers': 'x'}},
                                   {'fleet_node_containers': {}}])
def test_no_containers_in_odd_facts(facts):
    assert cached_containers(facts)[1] == []


def test_containers_under_ansible_facts():
    facts = {'ansible_facts': cached('n', record())}
    assert len(cached_containers(facts)[1]) == 1


# ---------------------------------------------------------------------------- parsing

class DictCache:
    """A fact cache stand-in: node name -> facts."""

    def __init__(self, data):
        self.data = data

    def keys(self):
        return list(self.data)

    def get(self, key):
        return self.data[key]


@pytest.fixture
def parse(tmp_path, monkeypatch):
    def run(config, cache, inventory=None):
        monkeypatch.setattr(plugin_module.cache_loader, 'get', lambda name, **kwargs: DictCache(cache))
        path = tmp_path / 'containers.yml'
        path.write_text(config)
        inventory = inventory or InventoryData()
        plugin = inventory_loader.get('nsops.namespaces.containers')
        assert plugin.verify_file(str(path))
        plugin.parse(inventory, DataLoader(), str(path), cache=False)
        return inventory
    return run


def test_hosts_and_groups(parse):
    inventory = parse('plugin: nsops.namespaces.containers\n', {
        'node1': cached('node1', record(), record(runtime='cri', id=APP_ID, pod_uid=POD_UID, qos='besteffort')),
        'node2': cached('node2', record(runtime='lxc', id=None, name='web')),
        'bare': {'ansible_distribution': 'Debian'},
    })
    assert sorted(inventory.hosts) == ['node1:cri:aaaaaaaaaaaa', 'node1:docker:3f4e9a1c2b7d', 'node2:lxc:web']
    host = inventory.get_host('node1:cri:aaaaaaaaaaaa')
    variables = host.get_vars()
    assert variables['nsops_container_id'] == APP_ID
    assert variables['nsops_container_pod_uid'] == POD_UID
    assert variables['nsops_container_qos'] == 'besteffort'
    assert variables['nsops_container_init_pid'] == 4242
    assert variables['nsops_node'] == 'node1'
    assert variables['ansible_connection'] == 'nsops.namespaces.container'
    assert variables['ansible_host'] == 'node1'
    assert variables['nsops_enter_namespaces'] == 'all'
    assert sorted(g.name for g in host.get_groups() if g.name != 'all') == [
        'containers', 'node_node1', 'pod_5f0c3f22_6b1c_4c1e_9f3e_2b7a4d1e8c90', 'runtime_cri']


def test_filters_hostname_and_constructed_options(parse):
    inventory = parse(
        'plugin: nsops.namespaces.containers\n'
        'nodes: [node1]\n'
        'runtimes: [docker]\n'
        'hostname: "runtime ~ \'-\' ~ short_id"\n'
        'enter_namespaces: [net, pid]\n'
        'default_groups: false\n'
        'compose:\n  port: 8000 + 80\n'
        'groups:\n  big: nsops_container_init_pid > 4000\n'
        'keyed_groups:\n  - key: nsops_container_runtime\n    prefix: rt\n', {
            'node1': cached('node1', record(), record(runtime='cri', id=APP_ID)),
            'node2': cached('node2', record(id='b' * 64)),
        })
    assert list(inventory.hosts) == ['docker-3f4e9a1c2b7d']
    host = inventory.get_host('docker-3f4e9a1c2b7d')
    # compose templates natively on 2.19; 2.16 gives the text of the number
    assert str(host.get_vars()['port']) == '8080'
    assert host.get_vars()['nsops_enter_namespaces'] == ['net', 'pid']
    assert sorted(g.name for g in host.get_groups() if g.name != 'all') == ['big', 'rt_docker']


def test_node_variables_come_from_an_earlier_source(parse):
    inventory = InventoryData()
    inventory.add_group('nodes')
    inventory.add_host('node1', group='nodes')
    inventory.set_variable('nodes', 'ansible_user', 'root')
    inventory.set_variable('node1', 'ansible_host', '10.0.0.1')
    inventory.set_variable('node1', 'ansible_connection', 'ansible.builtin.ssh')
    inventory.set_variable('node1', 'ansible_python_interpreter', '/opt/py/bin/python3')
    inventory.set_variable('node1', 'fleet_become', True)
    parse('plugin: nsops.namespaces.containers\n', {'node1': cached('node1', record())}, inventory)
    variables = inventory.get_host('node1:docker:3f4e9a1c2b7d').get_vars()
    assert variables['ansible_host'] == '10.0.0.1'
    assert variables['ansible_user'] == 'root'
    assert variables['nsops_node_connection'] == 'ansible.builtin.ssh'
    assert variables['nsops_node_python'] == '/opt/py/bin/python3'
    assert variables['ansible_connection'] == 'nsops.namespaces.container'
    assert 'ansible_python_interpreter' not in variables
    assert 'fleet_become' not in variables


def test_empty_hostname_is_an_error(parse):
    with pytest.raises(AnsibleParserError, match='empty name'):
        parse('plugin: nsops.namespaces.containers\nhostname: "name"\n', {'n': cached('n', record())})


def test_other_files_are_not_ours(tmp_path):
    plugin = inventory_loader.get('nsops.namespaces.containers')
    path = tmp_path / 'inventory.ini'
    path.write_text('[all]\n')
    assert not plugin.verify_file(str(path))
