# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r"""
name: containers
short_description: One inventory host per container, from the container facts in the fact cache
version_added: 0.1.0
description:
  - Builds one host for every container that the P(nsops.namespaces.fleet#role) role found on its
    nodes, from the fact C(fleet_node_containers) in Ansible's fact cache alone. Gather it with the role's
    C(containers) entry point (or C(fleet_gather_containers=true) in C(main)) and a fact cache that
    persists, such as C(ansible.builtin.jsonfile).
  - Each host connects with the P(nsops.namespaces.container#connection) connection, which reaches
    the node over the node's own transport and runs every command inside the container.
  - B(There is no live mode) that asks the nodes while the inventory is parsed - parsing must be
    fast and must not contact any node (every C(ansible-inventory) and every play parses it), and
    it does not need to be current - the connection re-resolves each container from the node's
    cgroups at connect time anyway, so a container that restarted since the facts were gathered is
    still reached, and one that is gone is reported unreachable by name. Re-run the role to see
    new containers.
  - Host variables - C(nsops_node) (inventory name of the node), C(nsops_container_runtime),
    C(nsops_container_id), C(nsops_container_name), C(nsops_container_pod_uid),
    C(nsops_container_pod_name) (only where the runtime's cgroups name the pod, as Podman pods do),
    C(nsops_container_qos), C(nsops_container_init_pid) (host PID of its init when the facts were
    gathered; informative only), C(nsops_container_namespaces) (type to inode),
    C(nsops_container_cgroup), C(nsops_containers_gathered_at), plus the connection's -
    C(ansible_connection), C(nsops_enter_namespaces), and the node's connection variables (see
    O(node_vars)).
  - Groups - C(containers) (every container), C(runtime_<runtime>), C(pod_<pod uid>) and
    C(node_<node>) (names made safe for Ansible, so C(-) becomes C(_)), unless O(default_groups)
    is false; then whatever O(groups) and O(keyed_groups) make, as with P(ansible.builtin.constructed#inventory).
author:
  - nsops developers (@nsops)
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description: The name of this plugin; it marks the file as a source of this plugin.
    type: str
    required: true
    choices: [nsops.namespaces.containers]
  nodes:
    description:
      - Only containers of these nodes (inventory names as in the fact cache). All cached nodes by default.
    type: list
    elements: str
    default: []
  runtimes:
    description:
      - Only containers of these runtimes (as M(nsops.namespaces.container_info) names them). All by default.
    type: list
    elements: str
    default: []
  hostname:
    description:
      - A Jinja2 expression for the inventory name of each container, over the container's fields
        C(node), C(runtime), C(id), C(short_id) (first 12 characters), C(name), C(pod_uid), C(qos).
      - Empty (the default) is C(<node>:<runtime>:<short id or name>).
    type: str
    default: ''
  enter_namespaces:
    description:
      - The connection's O(nsops.namespaces.container#connection:namespaces) for every host - V(all),
        or a list of types (V([net, pid, uts, ipc, cgroup]) is the sidecar mode). Override per host or
        group with O(compose) or group variables of C(nsops_enter_namespaces).
    type: raw
    default: all
  remote_tmp:
    description:
      - C(ansible_remote_tmp) of every host - where modules are copied when pipelining is off.
        Containers often have a read-only root and a writable C(/tmp).
    type: str
    default: /tmp
  node_vars:
    description:
      - Copy the node's connection variables (every C(ansible_*) variable of the node host, from its
        host and group variables) when the node is in the inventory already, that is from a source given
        before this one (C(-i nodes.yml -i containers.yml)). The node's C(ansible_connection) becomes
        C(nsops_node_connection) and its C(ansible_python_interpreter) C(nsops_node_python) (modules use
        it in the sidecar mode, see O(compose)).
      - Without the node in the inventory, C(ansible_host) is the node's inventory name.
    type: bool
    default: true
  default_groups:
    description:
      - Make the groups C(containers), C(runtime_<runtime>), C(pod_<uid>) and C(node_<node>).
    type: bool
    default: true
  fact_caching:
    description:
      - The fact cache plugin to read, as Ansible's C(fact_caching).
    type: str
    default: ansible.builtin.memory
    env:
      - name: ANSIBLE_CACHE_PLUGIN
    ini:
      - section: defaults
        key: fact_caching
  fact_caching_connection:
    description:
      - Its connection (the directory of C(ansible.builtin.jsonfile)), as Ansible's C(fact_caching_connection).
    type: str
    env:
      - name: ANSIBLE_CACHE_PLUGIN_CONNECTION
    ini:
      - section: defaults
        key: fact_caching_connection
  fact_caching_prefix:
    description:
      - Prefix of the cache's file names, as Ansible's C(fact_caching_prefix).
    type: str
    default: ''
    env:
      - name: ANSIBLE_CACHE_PLUGIN_PREFIX
    ini:
      - section: defaults
        key: fact_caching_prefix
  fact_caching_timeout:
    description:
      - Age in seconds after which cached facts count as expired, as Ansible's C(fact_caching_timeout).
    type: int
    default: 86400
    env:
      - name: ANSIBLE_CACHE_PLUGIN_TIMEOUT
    ini:
      - section: defaults
        key: fact_caching_timeout
"""

EXAMPLES = r"""
# containers.yml, used after the nodes' inventory: ansible-playbook -i nodes.yml -i containers.yml ...
# (ansible.cfg: fact_caching = ansible.builtin.jsonfile, fact_caching_connection = ./facts)
plugin: nsops.namespaces.containers
runtimes: [docker, cri, containerd]
# The sidecar mode for every container: the node's file system and Python
enter_namespaces: [net, pid, uts, ipc, cgroup]
compose:
  ansible_python_interpreter: nsops_node_python | default('/usr/bin/python3')
keyed_groups:
  - key: nsops_container_qos
    prefix: qos
groups:
  kube_system_node1: nsops_node == 'node1' and nsops_container_pod_uid is not none

# First gather, with the role, on the nodes (gather_facts: false; the fact cache keeps the result):
# - hosts: nodes
#   gather_facts: false
#   tasks:
#     - ansible.builtin.include_role:
#         name: nsops.namespaces.fleet
#         tasks_from: containers
#       vars:
#         fleet_become: true
"""

from ansible.errors import AnsibleParserError
from ansible.inventory.group import to_safe_group_name
from ansible.inventory.helpers import get_group_vars
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.plugins.loader import cache_loader
from ansible.utils.vars import combine_vars

FACT = 'fleet_node_containers'
CONNECTION = 'nsops.namespaces.container'
SHORT_ID = 12
# Node variables renamed so that they keep meaning the node: the container host has its own.
RENAMED_NODE_VARS = {'ansible_connection': 'nsops_node_connection', 'ansible_python_interpreter': 'nsops_node_python'}
# Node variables that describe the node, not how to reach it.
SKIPPED_NODE_VARS = ('ansible_facts', 'ansible_remote_tmp')


def default_hostname(fields):
    """``<node>:<runtime>:<short id or name>``."""
    return '%s:%s:%s' % (fields['node'], fields['runtime'], fields['short_id'] or fields['name'])


def container_fields(node, record):
    """The fields of one cached container record that name and describe its host; None if unusable."""
    if not isinstance(record, dict):
        return None
    container_id = record.get('id') or None
    name = record.get('name') or None
    runtime = record.get('runtime')
    if not runtime or not (container_id or name):
        return None
    return {
        'node': node,
        'runtime': runtime,
        'id': container_id,
        'short_id': container_id[:SHORT_ID] if container_id else None,
        'name': name,
        'pod_uid': record.get('pod_uid'),
        'pod_name': record.get('podman_pod_id') or record.get('pod_name'),
        'qos': record.get('qos'),
        'init_pid': record.get('init_pid'),
        'namespaces': record.get('namespaces') or {},
        'cgroup': record.get('cgroup'),
        'state': record.get('state'),
    }


def cached_containers(facts):
    """(gathered_at, [records]) of one node's cached facts; ([] when it has none)."""
    if not isinstance(facts, dict):
        return None, []
    fact = facts.get(FACT)
    if fact is None and isinstance(facts.get('ansible_facts'), dict):
        fact = facts['ansible_facts'].get(FACT)
    if not isinstance(fact, dict):
        return None, []
    containers = fact.get('containers')
    return fact.get('gathered_at'), containers if isinstance(containers, list) else []


def group_names(fields):
    """The default groups of a container host."""
    names = ['containers', 'runtime_%s' % fields['runtime'], 'node_%s' % fields['node']]
    if fields['pod_uid']:
        names.append('pod_%s' % fields['pod_uid'])
    if fields['pod_name']:
        names.append('pod_%s' % fields['pod_name'])
    return [to_safe_group_name(name, force=True, silent=True) for name in names]


class InventoryModule(BaseInventoryPlugin, Constructable):
    """One host per cached container."""

    NAME = 'nsops.namespaces.containers'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('.yml', '.yaml'))

    def parse(self, inventory, loader, path, cache=False):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        facts = self._fact_cache()
        wanted_nodes = set(self.get_option('nodes') or ())
        wanted_runtimes = set(self.get_option('runtimes') or ())
        strict = self.get_option('strict')
        try:
            nodes = sorted(facts.keys())
        except Exception as exc:  # pylint: disable=broad-except
            raise AnsibleParserError('cannot list the fact cache (%s): %s' % (self._cache_label(), to_native(exc)))
        for node in nodes:
            if wanted_nodes and node not in wanted_nodes:
                continue
            try:
                gathered_at, records = cached_containers(facts.get(node))
            except Exception as exc:  # pylint: disable=broad-except
                self.display.warning('nsops.namespaces.containers: cannot read the cached facts of %s: %s'
                                     % (node, to_native(exc)))
                continue
            node_vars = self._node_vars(node)
            for record in records:
                fields = container_fields(node, record)
                if fields is None or (wanted_runtimes and fields['runtime'] not in wanted_runtimes):
                    continue
                self._add_container(fields, gathered_at, node_vars, strict)

    # -- the sources -----------------------------------------------------------

    def _cache_label(self):
        return '%s at %s' % (self.get_option('fact_caching') or 'the configured fact cache',
                             self.get_option('fact_caching_connection') or 'its configured connection')

    def _fact_cache(self):
        plugin = self.get_option('fact_caching')
        connection = self.get_option('fact_caching_connection')
        # Options given directly replace the plugin's configured ones: give them all.
        kwargs = {'_prefix': self.get_option('fact_caching_prefix') or '',
                  '_timeout': self.get_option('fact_caching_timeout')}
        if connection:
            kwargs['_uri'] = connection
        try:
            cache = cache_loader.get(plugin, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            raise AnsibleParserError('cannot open the fact cache %s: %s' % (self._cache_label(), to_native(exc)))
        if cache is None:
            raise AnsibleParserError('fact cache plugin %r is not known' % plugin)
        if plugin in ('memory', 'ansible.builtin.memory'):
            self.display.warning('nsops.namespaces.containers reads the fact cache, but fact_caching is "memory", '
                                 'which keeps nothing between runs: set fact_caching (for example '
                                 'ansible.builtin.jsonfile) and fact_caching_connection')
        return cache

    def _node_vars(self, node):
        """The connection variables of the node host, when an earlier source defined it."""
        host = self.inventory.hosts.get(node)
        if not self.get_option('node_vars') or host is None:
            return {'ansible_host': node}
        variables = combine_vars(get_group_vars(host.get_groups()), host.get_vars())
        out = {}
        for key, value in variables.items():
            if key in RENAMED_NODE_VARS:
                out[RENAMED_NODE_VARS[key]] = value
            elif key.startswith('ansible_') and key not in SKIPPED_NODE_VARS:
                out[key] = value
        out.setdefault('ansible_host', node)
        return out

    # -- one host --------------------------------------------------------------

    def _host_name(self, fields):
        expression = self.get_option('hostname')
        if not expression:
            return default_hostname(fields)
        name = self._compose(expression, dict(fields))
        if not name:
            raise AnsibleParserError('hostname %r gives an empty name for container %s on %s'
                                     % (expression, fields['id'] or fields['name'], fields['node']))
        return str(name)

    def _add_container(self, fields, gathered_at, node_vars, strict):
        host = self._host_name(fields)
        self.inventory.add_host(host)
        variables = dict(node_vars)
        variables.update({
            'ansible_connection': CONNECTION,
            'ansible_remote_tmp': self.get_option('remote_tmp'),
            'nsops_enter_namespaces': self.get_option('enter_namespaces'),
            'nsops_node': fields['node'],
            'nsops_containers_gathered_at': gathered_at,
        })
        for key in ('runtime', 'id', 'name', 'pod_uid', 'pod_name', 'qos', 'init_pid', 'namespaces', 'cgroup'):
            variables['nsops_container_' + key] = fields[key]
        for key, value in variables.items():
            self.inventory.set_variable(host, key, value)
        if self.get_option('default_groups'):
            for group in group_names(fields):
                self.inventory.add_group(group)
                self.inventory.add_child(group, host)
        hostvars = combine_vars(variables, self.inventory.get_host(host).get_vars())
        self._set_composite_vars(self.get_option('compose'), hostvars, host, strict=strict)
        hostvars = combine_vars(hostvars, self.inventory.get_host(host).get_vars())
        self._add_host_to_composed_groups(self.get_option('groups'), hostvars, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, host, strict=strict)
