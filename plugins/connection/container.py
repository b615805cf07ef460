# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r"""
name: container
short_description: Run tasks inside a container's namespaces, over the node's own connection
version_added: 0.1.0
description:
  - Makes a container on a node an Ansible host without any container engine API. Every command
    goes to the node over the node's own transport (V(ansible.builtin.ssh) with the usual
    C(ansible_*) variables, or V(ansible.builtin.local)) and runs there inside the container's
    namespaces.
  - Each command re-resolves the container on the node from the cgroup file system, by
    O(container_id) or O(container_name) (with O(runtime) and O(pod_uid) when given), so a restarted
    container is found under its new PID. The init process found is opened through a pinned
    C(/proc/PID) and checked against the start time the lookup read, so a PID recycled by another
    process is never entered. A container that is gone makes the host B(unreachable) with a
    message naming it.
  - Entering uses the collection's own namespace code (no C(nsenter) binary on the node). A small
    entrypoint (Python standard library, 3.8 or later) and the module_utils it needs travel as one
    zip, unpacked on the node under C(~/.ansible/nsops-namespaces/) of the node user (of root with
    O(node_become)) in a directory named by its content hash (so Python keeps its compiled
    modules); a command costs one Python start on the node besides the transport.
  - Two modes, O(namespaces). V(all) enters every namespace of the container, mount included, and
    changes root to the container's - modules run with the B(container's) Python
    (C(ansible_python_interpreter) as the container has it) and files are copied into and out of
    the container's own file system. A list such as V([net, pid, uts, ipc, cgroup]) is the
    B(sidecar) mode - the container's network, processes and hostname with the B(node's) file
    system and Python, so modules work against distroless containers (C(wait_for), C(uri),
    C(command) of C(ss -tlnp), C(slurp) of C(/proc/1/environ)). When the PID namespace is entered
    without the mount namespace, commands get a private C(/proc) of the container's PID namespace.
  - V(ansible.builtin.raw) works in both modes (through C(/bin/sh) of the container in V(all) mode,
    of the node in the sidecar mode).
  - Entering needs root on the node. Connect as root, or set O(node_become) for passwordless
    C(sudo) there. The task keyword C(become) applies inside the container, where the commands
    already run as the container's root.
  - Hosts for this connection are usually made by the P(nsops.namespaces.containers#inventory)
    inventory plugin, which fills every variable below from the facts the
    P(nsops.namespaces.fleet#role) role cached.
author:
  - nsops developers (@nsops)
notes:
  - Options for the node's transport that are not listed here (for example C(ansible_ssh_executable)
    or C(ANSIBLE_SSH_CONTROL_PATH_DIR)) come from that transport's own configuration (C(ansible.cfg)
    and environment).
options:
  container_id:
    description:
      - ID (or a unique prefix) of the container as its cgroup names it.
    type: str
    vars:
      - name: nsops_container_id
  container_name:
    description:
      - Name of a container whose runtime names its cgroup after it (LXC, systemd-nspawn, containerd).
    type: str
    vars:
      - name: nsops_container_name
  pod_uid:
    description:
      - Kubernetes pod UID of the container; narrows the lookup.
    type: str
    vars:
      - name: nsops_container_pod_uid
  runtime:
    description:
      - Runtime of the container as M(nsops.namespaces.container_info) names it; narrows the lookup.
    type: str
    vars:
      - name: nsops_container_runtime
  namespaces:
    description:
      - V(all) - every namespace of the container, mount namespace and root directory included.
      - A list of namespace types (C(cgroup), C(ipc), C(mnt), C(net), C(pid), C(time), C(user), C(uts)) -
        only those; V([net, pid, uts, ipc, cgroup]) is the sidecar mode (node's file system and Python).
    type: raw
    default: all
    vars:
      - name: nsops_enter_namespaces
  node_name:
    description:
      - Inventory name of the node, for messages.
    type: str
    vars:
      - name: nsops_node
  host_label:
    description:
      - How messages name the container host.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
  node_connection:
    description:
      - Connection plugin that reaches the node.
    type: str
    default: ansible.builtin.ssh
    vars:
      - name: nsops_node_connection
  node_python:
    description:
      - Python 3.8 or later on the node that runs the entrypoint.
    type: str
    default: /usr/bin/python3
    vars:
      - name: nsops_node_python
  payload_dir:
    description:
      - Directory on the node that keeps the connection's payload (made with mode C(0700) when missing).
      - Empty is C(~/.ansible/nsops-namespaces) of the user the entrypoint runs as on the node.
    type: str
    default: ''
    vars:
      - name: nsops_node_payload_dir
  node_become:
    description:
      - Run the entrypoint on the node with passwordless C(sudo) (C(sudo -n)) as O(node_become_user).
      - Needed when O(remote_user) is not root; without root on the node no container can be entered.
    type: bool
    default: false
    vars:
      - name: nsops_node_become
  node_become_user:
    description:
      - User to become on the node.
    type: str
    default: root
    vars:
      - name: nsops_node_become_user
  node_become_exe:
    description:
      - The C(sudo) command on the node.
    type: str
    default: sudo
    vars:
      - name: nsops_node_become_exe
  host:
    description:
      - Address of the node, handed to the node's connection.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_ssh_host
  remote_user:
    description:
      - User on the node, handed to the node's connection.
    type: str
    vars:
      - name: ansible_user
      - name: ansible_ssh_user
  port:
    description:
      - Port of the node's SSH server, handed to the node's connection.
    type: int
    vars:
      - name: ansible_port
      - name: ansible_ssh_port
  private_key_file:
    description:
      - Key for the node, handed to the node's connection.
    type: str
    vars:
      - name: ansible_private_key_file
      - name: ansible_ssh_private_key_file
  password:
    description:
      - Password for the node, handed to the node's connection.
    type: str
    vars:
      - name: ansible_password
      - name: ansible_ssh_pass
      - name: ansible_ssh_password
  ssh_args:
    description:
      - Handed to the node's SSH connection (its O(ansible.builtin.ssh#connection:ssh_args)).
    type: str
    vars:
      - name: ansible_ssh_args
  ssh_common_args:
    description:
      - Handed to the node's SSH connection (its O(ansible.builtin.ssh#connection:ssh_common_args)).
    type: str
    vars:
      - name: ansible_ssh_common_args
  ssh_extra_args:
    description:
      - Handed to the node's SSH connection (its O(ansible.builtin.ssh#connection:ssh_extra_args)).
    type: str
    vars:
      - name: ansible_ssh_extra_args
  host_key_checking:
    description:
      - Handed to the node's SSH connection (its O(ansible.builtin.ssh#connection:host_key_checking)).
    type: bool
    vars:
      - name: ansible_host_key_checking
      - name: ansible_ssh_host_key_checking
  timeout:
    description:
      - Handed to the node's SSH connection (its O(ansible.builtin.ssh#connection:timeout)).
    type: int
    vars:
      - name: ansible_ssh_timeout
  pipelining:
    description:
      - Send modules over the command's stdin instead of copying them into the container first
        (one command per task). Works in both modes.
    type: bool
    default: false
    env:
      - name: ANSIBLE_PIPELINING
    ini:
      - section: defaults
        key: pipelining
      - section: connection
        key: pipelining
    vars:
      - name: ansible_pipelining
      - name: ansible_ssh_pipelining
"""

EXAMPLES = r"""
# An inventory host by hand (the nsops.namespaces.containers inventory plugin makes these for you)
# web-1:
#   ansible_connection: nsops.namespaces.container
#   ansible_host: node1.example.com
#   ansible_user: root
#   nsops_node: node1
#   nsops_container_id: 3f4e9a1c2b7d
#   nsops_container_runtime: docker
#   nsops_enter_namespaces: [net, pid, uts, ipc, cgroup]
#   ansible_python_interpreter: /usr/bin/python3   # the node's, in the sidecar mode

- name: Check a distroless container's listener with the node's tools (sidecar mode)
  hosts: runtime_docker
  gather_facts: false
  vars:
    nsops_enter_namespaces: [net, pid, uts, ipc, cgroup]
  tasks:
    - name: Wait for the service port inside the container's network namespace
      ansible.builtin.wait_for:
        host: 127.0.0.1
        port: 8080
        timeout: 10

    - name: Listening sockets as the container sees them
      ansible.builtin.command: ss -tlnp
      changed_when: false

- name: Read a file with the container's own Python (all namespaces)
  hosts: runtime_cri
  gather_facts: false
  tasks:
    - name: The container's resolv.conf
      ansible.builtin.slurp:
        src: /etc/resolv.conf

    - name: The container's hostname, no Python needed
      ansible.builtin.raw: hostname
      changed_when: false
"""

import ast
import base64
import hashlib
import io
import json
import os
import shlex
import zipfile

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.plugins.loader import connection_loader
from ansible.utils.display import Display

display = Display()

# Must match plugins/module_utils/_connection/entrypoint.py.
ERROR_MARKER = b'NSOPS-CONTAINER-ERROR '
ERROR_STATUS = 85
# The node has no copy of this payload yet (the shell script's own exit status).
PAYLOAD_MISSING = b'NSOPS-PAYLOAD-MISSING'
PAYLOAD_MISSING_STATUS = 86
PAYLOAD_DIR = '.ansible/nsops-namespaces'
NAMESPACE_TYPES = ('cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts')
SIDECAR = ['net', 'pid', 'uts', 'ipc', 'cgroup']

# Options handed to the node's connection plugin as they are, when set.
FORWARDED = ('host', 'remote_user', 'port', 'private_key_file', 'password', 'ssh_args', 'ssh_common_args',
             'ssh_extra_args', 'host_key_checking', 'timeout')

# The node side; the module_utils it imports are found by following its imports.
ENTRYPOINT = '_connection/entrypoint.py'
PACKAGE = 'ansible_collections/nsops/namespaces/plugins/module_utils'
MAIN = (b'from ansible_collections.nsops.namespaces.plugins.module_utils._connection.entrypoint import main\n'
        b'raise SystemExit(main())\n')
# Fixed member times make the zip, and so its hash, the same on every controller.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_payload_cache = {}


def payload_modules(module_utils_dir, start=ENTRYPOINT):
    """The files below module_utils that ``start`` imports, directly or not, with the
    ``__init__.py`` of their packages (imports inside functions count too)."""
    prefix = PACKAGE.replace('/', '.')
    found = set()
    pending = [start]
    while pending:
        relative = pending.pop()
        if relative in found:
            continue
        found.add(relative)
        parts = relative.split('/')[:-1]
        for depth in range(1, len(parts) + 1):
            pending.append('/'.join(parts[:depth] + ['__init__.py']))
        with open(os.path.join(module_utils_dir, relative), 'rb') as handle:
            tree = ast.parse(handle.read(), relative)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not (node.module or '').startswith(prefix):
                continue
            package = node.module[len(prefix):].strip('.').replace('.', '/')
            for candidate in [package + '.py'] + [(package + '/' if package else '') + alias.name + '.py'
                                                  for alias in node.names]:
                if candidate != '.py' and os.path.isfile(os.path.join(module_utils_dir, candidate)):
                    pending.append(candidate)
    return sorted(found)


def build_payload(module_utils_dir=None):
    """(zip bytes, sha256 hex) of the entrypoint and its module_utils, built once per process."""
    module_utils_dir = module_utils_dir or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                        'module_utils')
    if module_utils_dir in _payload_cache:
        return _payload_cache[module_utils_dir]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        def add(name, data):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
        add('__main__.py', MAIN)
        parts = PACKAGE.split('/')
        for depth in range(1, len(parts) + 1):
            add('/'.join(parts[:depth]) + '/__init__.py', b'')
        for relative in payload_modules(module_utils_dir):
            with open(os.path.join(module_utils_dir, relative), 'rb') as handle:
                add(PACKAGE + '/' + relative, handle.read())
    data = buffer.getvalue()
    _payload_cache[module_utils_dir] = (data, hashlib.sha256(data).hexdigest())
    return _payload_cache[module_utils_dir]


def parse_namespaces(value):
    """'all' or a sorted list of namespace types; AnsibleError naming the fix otherwise."""
    if value is None or value == 'all' or value == ['all']:
        return 'all'
    if isinstance(value, str):
        value = [part.strip() for part in value.split(',') if part.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise AnsibleError('namespaces (nsops_enter_namespaces) must be "all" or a list of namespace types '
                           'such as [net, pid, uts, ipc, cgroup], not %r' % (value,))
    types = []
    for item in value:
        name = 'mnt' if item == 'mount' else 'net' if item == 'network' else item
        if name not in NAMESPACE_TYPES:
            raise AnsibleError('namespaces (nsops_enter_namespaces) names %r, which is no namespace type: use '
                               '"all" or a list of %s' % (item, ', '.join(NAMESPACE_TYPES)))
        if name not in types:
            types.append(name)
    return sorted(types)


def parse_error(stderr):
    """The entrypoint's error report ({kind, msg}) in ``stderr``, or None."""
    for line in reversed(stderr.splitlines()):
        if line.startswith(ERROR_MARKER):
            try:
                report = json.loads(to_text(line[len(ERROR_MARKER):], errors='surrogate_or_replace'))
            except ValueError:
                return None
            if isinstance(report, dict):
                return report
    return None


def missing_python(stderr):
    """True when the shell said that the interpreter of a module is not there."""
    text = to_text(stderr, errors='surrogate_or_replace')
    return 'python' in text and ('not found' in text or 'No such file' in text)


class Connection(ConnectionBase):
    """Every command through the node's connection, inside the container's namespaces."""

    transport = 'nsops.namespaces.container'
    has_pipelining = True
    has_tty = False

    def __init__(self, play_context, *args, **kwargs):
        super(Connection, self).__init__(play_context, *args, **kwargs)
        self._node_kwargs = dict((key, kwargs[key]) for key in ('task_uuid', 'ansible_playbook_pid') if key in kwargs)
        self._node = None

    # -- the node ------------------------------------------------------------

    def _node_connection(self):
        if self._node is not None:
            return self._node
        name = self.get_option('node_connection')
        node = connection_loader.get(name, self._play_context, shell=self._shell, **self._node_kwargs)
        if node is None:
            raise AnsibleError('nsops_node_connection %r is not a connection plugin' % name)
        known = set(node.get_option_names()) if hasattr(node, 'get_option_names') else set()
        direct = {}
        for option in FORWARDED:
            value = self.get_option(option)
            if value is not None and (not known or option in known):
                direct[option] = value
        node.set_options(direct=direct)
        self._node = node
        return node

    def _connect(self):
        if not self._connected:
            self._node_connection()._connect()
            self._connected = True
        return self

    def close(self):
        if self._node is not None:
            self._node.close()
        self._connected = False

    def reset(self):
        if self._node is not None:
            self._node.reset()

    # -- requests --------------------------------------------------------------

    @property
    def label(self):
        return self.get_option('host_label') or self.get_option('container_id') or self.get_option('container_name')

    @property
    def node_label(self):
        return self.get_option('node_name') or self.get_option('host')

    def _request(self, op, **fields):
        selector = dict((key, self.get_option(option)) for key, option in (
            ('id', 'container_id'), ('name', 'container_name'), ('pod_uid', 'pod_uid'), ('runtime', 'runtime')))
        if not (selector['id'] or selector['name']):
            raise AnsibleError('host %s names no container: set nsops_container_id or nsops_container_name (the '
                               'nsops.namespaces.containers inventory plugin sets them)' % self.label)
        request = {'op': op, 'selector': selector, 'label': self.label,
                   'namespaces': parse_namespaces(self.get_option('namespaces'))}
        request.update(fields)
        return request

    def _node_command(self, request, drain):
        """The shell command line that runs the cached payload on the node for ``request``."""
        dummy, digest = build_payload()
        payload = '%s/container-%s' % (self._payload_dir(), digest)
        # A command whose stdin is given must read it up when it stops early: the transport
        # is still writing it.
        missing = '{ %secho %s >&2; exit %d; }' % ('cat >/dev/null; ' if drain else '',
                                                   to_native(PAYLOAD_MISSING), PAYLOAD_MISSING_STATUS)
        # -I -S: the standard library only, no site start-up, nothing from the node user's environment.
        script = 'P=%s; [ -r "$P/__main__.py" ] || %s; exec %s -I -S "$P" %s' % (
            payload, missing, shlex.quote(self.get_option('node_python')),
            shlex.quote(json.dumps(request, separators=(',', ':'))))
        return self._privileged('/bin/sh -c %s' % shlex.quote(script))

    def _payload_dir(self):
        """The payload directory as a shell word (the default expands $HOME on the node)."""
        configured = self.get_option('payload_dir')
        return shlex.quote(configured) if configured else '"${HOME:-/root}"/%s' % PAYLOAD_DIR

    def _privileged(self, command):
        if not self.get_option('node_become'):
            return command
        return '%s -n -H -u %s -- %s' % (shlex.quote(self.get_option('node_become_exe')),
                                         shlex.quote(self.get_option('node_become_user')), command)

    def _upload_payload(self):
        """Unpack the payload into its directory on the node.

        Unpacked, not run as a zip: Python then keeps the compiled modules in __pycache__
        beside them, where a zip would be compiled again by every command. The directory
        appears whole, by one rename, and is never replaced: uploads racing from parallel
        tasks leave the first one in place (a later one lands inside it and is removed).
        """
        data, digest = build_payload()
        python = shlex.quote(self.get_option('node_python'))
        script = ('umask 077 && D=%s && F="$D/container-%s" && mkdir -p "$D" && T="$D/.upload.$$" && '
                  'base64 -d > "$T.zip" && %s -I -m zipfile -e "$T.zip" "$T" && rm -f "$T.zip" && '
                  '{ mv "$T" "$F" 2>/dev/null; rm -rf "$T" "$F/.upload.$$"; }'
                  % (self._payload_dir(), digest, python))
        display.vvv('nsops container: caching the connection payload %s on node %s' % (digest[:12], self.node_label),
                    host=self.label)
        rc, stdout, stderr = self._node_connection().exec_command(
            self._privileged('/bin/sh -c %s' % shlex.quote(script)), in_data=base64.b64encode(data), sudoable=False)
        if rc != 0:
            self._fail_privilege(stderr)
            raise AnsibleConnectionFailure('cannot cache the connection payload on node %s (rc %d): %s'
                                           % (self.node_label, rc, to_native(stderr).strip()))

    def _fail_privilege(self, stderr):
        text = to_native(stderr)
        if self.get_option('node_become') and ('password is required' in text or 'not in the sudoers' in text
                                               or 'may not run sudo' in text):
            raise AnsibleConnectionFailure('nsops_node_become is set but %s on node %s cannot become %s without a '
                                           'password: %s' % (self.get_option('node_become_exe'), self.node_label,
                                                             self.get_option('node_become_user'), text.strip()))

    def _run(self, request, in_data=None):
        """(rc, stdout, stderr) of the entrypoint on the node; our own failures raised."""
        node = self._node_connection()
        command = self._node_command(request, drain=in_data is not None)
        rc, stdout, stderr = node.exec_command(command, in_data=in_data, sudoable=False)
        if rc == PAYLOAD_MISSING_STATUS and PAYLOAD_MISSING in stderr:
            self._upload_payload()
            rc, stdout, stderr = node.exec_command(command, in_data=in_data, sudoable=False)
        if rc == ERROR_STATUS:
            report = parse_error(stderr)
            if report is not None:
                self._raise(report)
        if rc != 0:
            self._fail_privilege(stderr)
        return rc, stdout, stderr

    def _raise(self, report):
        msg = '%s (node %s): %s' % (self.label, self.node_label, report.get('msg'))
        if report.get('kind') in ('gone', 'privilege'):
            raise AnsibleConnectionFailure(msg)
        raise AnsibleError(msg)

    # -- the connection interface ----------------------------------------------

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        display.vvv('EXEC in container %s: %s' % (self.label, cmd), host=self.label)
        request = self._request('exec', command=to_text(cmd, errors='surrogate_or_strict'))
        rc, stdout, stderr = self._run(request, in_data=in_data)
        if rc == 127 and request['namespaces'] == 'all' and missing_python(stderr):
            raise AnsibleError(
                '%s (node %s): the container has no Python for modules at the interpreter Ansible chose (%s). '
                'namespaces: all runs modules with the container\'s own Python; set ansible_python_interpreter '
                'to a Python inside the container, or use the sidecar mode (nsops_enter_namespaces: '
                '[net, pid, uts, ipc, cgroup]) to run modules with the node\'s Python, or use raw'
                % (self.label, self.node_label, to_native(stderr).strip()))
        return rc, stdout, stderr

    def put_file(self, in_path, out_path):
        super(Connection, self).put_file(in_path, out_path)
        display.vvv('PUT %s TO %s in container %s' % (in_path, out_path, self.label), host=self.label)
        if not os.path.exists(to_bytes(in_path, errors='surrogate_or_strict')):
            raise AnsibleFileNotFound('file or module does not exist: %s' % to_native(in_path))
        with open(to_bytes(in_path, errors='surrogate_or_strict'), 'rb') as handle:
            data = handle.read()
        request = self._request('put', path=to_text(out_path), empty=not data)
        rc, stdout, stderr = self._run(request, in_data=data or None)
        if rc != 0:
            raise AnsibleError('failed to copy %s to %s in %s (rc %d): %s'
                               % (in_path, out_path, self.label, rc, to_native(stderr).strip()))

    def fetch_file(self, in_path, out_path):
        super(Connection, self).fetch_file(in_path, out_path)
        display.vvv('FETCH %s TO %s from container %s' % (in_path, out_path, self.label), host=self.label)
        rc, stdout, stderr = self._run(self._request('fetch', path=to_text(in_path)))
        if rc != 0:
            raise AnsibleError('failed to fetch %s from %s (rc %d): %s'
                               % (in_path, self.label, rc, to_native(stderr).strip()))
        with open(to_bytes(out_path, errors='surrogate_or_strict'), 'wb') as handle:
            handle.write(stdout)
