# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The container connection's controller side: options, the node command, errors, the payload.

The node is a stand-in that runs the node command with this machine's /bin/sh, so the
shell script, the payload upload and the entrypoint itself run for real; no container is
involved (the lookup of a made-up ID fails as a gone container does).
"""


import base64
import io
import json
import os
import subprocess
import sys
import zipfile

import pytest

from ansible.errors import AnsibleConnectionFailure, AnsibleError

from ansible_collections.nsops.namespaces.plugins.connection import container
from ansible_collections.nsops.namespaces.plugins.connection.container import (
    Connection,
    build_payload,
    missing_python,
    parse_error,
    parse_namespaces,
)

RANDOM_ID = 'f' * 64


class LocalNode:
    """A node connection that runs each command with /bin/sh here and records it."""

    def __init__(self):
        self.commands = []
        self.closed = False

    def _connect(self):
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.commands.append((cmd, in_data))
        proc = subprocess.run(['/bin/sh', '-c', cmd], input=in_data or b'', capture_output=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def close(self):
        self.closed = True


def connection(tmp_path, **options):
    """A Connection whose options are a dict and whose node is LocalNode."""
    values = {
        'container_id': RANDOM_ID, 'container_name': None, 'pod_uid': None, 'runtime': 'docker',
        'namespaces': 'all', 'node_name': 'node1', 'host_label': 'node1:docker:ffffffffffff',
        'node_python': sys.executable, 'node_become': False, 'node_become_user': 'root',
        'node_become_exe': 'sudo', 'payload_dir': str(tmp_path / 'payload'), 'host': 'node1',
    }
    values.update(options)
    conn = Connection.__new__(Connection)
    conn.get_option = values.get
    conn._node = LocalNode()
    conn._connected = True
    return conn


# ---------------------------------------------------------------------------- options

@pytest.mark.parametrize('value', [None, 'all', ['all']])
def test_namespaces_all(value):
    assert parse_namespaces(value) == 'all'


@pytest.mark.parametrize('value, expected', [
    (['net', 'pid', 'uts', 'ipc', 'cgroup'], ['cgroup', 'ipc', 'net', 'pid', 'uts']),
    ('net, pid', ['net', 'pid']),
    (['network', 'mount', 'net'], ['mnt', 'net']),
])
def test_namespaces_list(value, expected):
    assert parse_namespaces(value) == expected


@pytest.mark.parametrize('value', [[], 'bogus', ['net', 'nett'], 42, {'net': 1}])
def test_namespaces_bad(value):
    with pytest.raises(AnsibleError, match='namespaces'):
        parse_namespaces(value)


def test_parse_error():
    stderr = b'noise\nNSOPS-CONTAINER-ERROR {"kind": "gone", "msg": "container x is gone"}\n'
    assert parse_error(stderr) == {'kind': 'gone', 'msg': 'container x is gone'}
    assert parse_error(b'NSOPS-CONTAINER-ERROR {not json\n') is None
    assert parse_error(b'plain failure\n') is None


def test_missing_python():
    assert missing_python(b'/bin/sh: /usr/bin/python3: not found\n')
    assert missing_python(b"sh: 1: exec: python3.11: No such file or directory\n")
    assert not missing_python(b'cat: /x: No such file or directory\n')


# ---------------------------------------------------------------------------- the payload

def test_payload_is_deterministic_and_complete(tmp_path):
    data, digest = build_payload()
    container._payload_cache.clear()
    again, digest_again = build_payload()
    assert (data, digest) == (again, digest_again)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert '__main__.py' in names
    assert 'ansible_collections/nsops/namespaces/plugins/module_utils/_connection/entrypoint.py' in names
    assert 'ansible_collections/__init__.py' in names


def test_payload_runs_with_nothing_but_the_stdlib(tmp_path):
    """Every import of the entrypoint is in the zip: a bad request comes back as its own error."""
    path = tmp_path / 'payload.zip'
    path.write_bytes(build_payload()[0])
    proc = subprocess.run([sys.executable, '-I', '-S', str(path), '{"op": "dance"}'], capture_output=True, check=False)
    assert proc.returncode == 85, proc.stderr
    assert parse_error(proc.stderr)['kind'] == 'request'


# ---------------------------------------------------------------------------- the node command

def test_node_command_quotes_the_request(tmp_path):
    conn = connection(tmp_path)
    command = conn._node_command(conn._request('exec', command="echo 'it''s' \"$HOME\""), drain=False)
    assert command.startswith('/bin/sh -c ')
    assert 'cat >/dev/null' not in command
    assert 'cat >/dev/null' in conn._node_command(conn._request('exec', command='true'), drain=True)


def test_node_become_wraps_the_command(tmp_path):
    conn = connection(tmp_path, node_become=True, node_become_user='admin', node_become_exe='/usr/bin/sudo')
    assert conn._node_command(conn._request('exec', command='true'), drain=False).startswith(
        '/usr/bin/sudo -n -H -u admin -- /bin/sh -c ')


def test_request_needs_a_container(tmp_path):
    conn = connection(tmp_path, container_id=None, container_name=None)
    with pytest.raises(AnsibleError, match='names no container'):
        conn._request('exec', command='true')


@pytest.mark.skipif(os.geteuid() != 0, reason='the entrypoint checks for root first')
def test_payload_is_cached_once_and_a_missing_container_is_unreachable(tmp_path):
    conn = connection(tmp_path)
    with pytest.raises(AnsibleConnectionFailure) as failure:
        conn.exec_command('hostname')
    message = str(failure.value)
    assert 'node1:docker:ffffffffffff' in message and 'not on this node any more' in message
    assert 'Traceback' not in message
    cached = os.listdir(str(tmp_path / 'payload'))
    assert cached == ['container-%s' % build_payload()[1]]
    assert os.path.exists(str(tmp_path / 'payload' / cached[0] / '__main__.py'))
    # The first try found no payload, the upload sent it, the retry ran it.
    assert len(conn._node.commands) == 3
    assert base64.b64decode(conn._node.commands[1][1]) == build_payload()[0]
    conn._node.commands = []
    with pytest.raises(AnsibleConnectionFailure):
        conn.exec_command('hostname')
    assert len(conn._node.commands) == 1


def test_stdin_is_drained_when_the_payload_is_missing(tmp_path):
    """With stdin given, the node reads it all before it asks for the payload."""
    conn = connection(tmp_path, container_name='x', container_id=None)
    command = conn._node_command(conn._request('exec', command='true'), drain=True)
    rc, dummy, stderr = conn._node.exec_command(command, in_data=b'x' * (1 << 20))
    assert rc == 86 and b'NSOPS-PAYLOAD-MISSING' in stderr


class ReportingNode(LocalNode):
    """A node whose entrypoint answers with a fixed report."""

    def __init__(self, rc, stderr):
        super(ReportingNode, self).__init__()
        self.answer = (rc, b'', stderr)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.commands.append((cmd, in_data))
        return self.answer


@pytest.mark.parametrize('kind, error', [('gone', AnsibleConnectionFailure), ('privilege', AnsibleConnectionFailure),
                                         ('enter', AnsibleError), ('shell', AnsibleError)])
def test_entrypoint_reports(tmp_path, kind, error):
    conn = connection(tmp_path)
    conn._node = ReportingNode(85, b'NSOPS-CONTAINER-ERROR ' + json.dumps({'kind': kind, 'msg': 'why'}).encode())
    with pytest.raises(error, match=r'node1:docker:ffffffffffff \(node node1\): why'):
        conn.exec_command('true')


def test_missing_python_in_all_mode_suggests_the_sidecar(tmp_path):
    conn = connection(tmp_path)
    conn._node = ReportingNode(127, b'/bin/sh: /usr/bin/python3: not found\n')
    with pytest.raises(AnsibleError, match='sidecar mode'):
        conn.exec_command("/bin/sh -c '/usr/bin/python3 && sleep 0'")
    conn = connection(tmp_path, namespaces=['net', 'pid'])
    conn._node = ReportingNode(127, b'/bin/sh: /usr/bin/python3: not found\n')
    assert conn.exec_command("/bin/sh -c '/usr/bin/python3 && sleep 0'")[0] == 127


def test_password_sudo_is_named(tmp_path):
    conn = connection(tmp_path, node_become=True)
    conn._node = ReportingNode(1, b'sudo: a password is required\n')
    with pytest.raises(AnsibleConnectionFailure, match='without a password'):
        conn.exec_command('true')


def test_put_and_fetch_in_the_sidecar_mode_use_the_node_file_system(tmp_path, monkeypatch):
    """Sidecar file transfers enter nothing: the entrypoint copies on the node's file system."""
    if os.geteuid() != 0:
        pytest.skip('the entrypoint checks for root first')
    conn = connection(tmp_path, namespaces=['net'])
    source = tmp_path / 'source'
    source.write_bytes(b'\x00binary\xffdata')
    # No container has this ID: the sidecar put still looks nothing up.
    conn.put_file(str(source), str(tmp_path / 'copied'))
    assert (tmp_path / 'copied').read_bytes() == b'\x00binary\xffdata'
    conn.fetch_file(str(tmp_path / 'copied'), str(tmp_path / 'fetched'))
    assert (tmp_path / 'fetched').read_bytes() == b'\x00binary\xffdata'
    empty = tmp_path / 'empty'
    empty.write_bytes(b'')
    conn.put_file(str(empty), str(tmp_path / 'copied'))
    assert (tmp_path / 'copied').read_bytes() == b''


def test_close_closes_the_node(tmp_path):
    conn = connection(tmp_path)
    node = conn._node
    conn.close()
    assert node.closed and not conn._connected


def test_a_second_upload_leaves_the_first_in_place(tmp_path):
    """Parallel tasks may upload at once: the directory appears whole and is never replaced."""
    conn = connection(tmp_path)
    conn._upload_payload()
    directory = tmp_path / 'payload' / ('container-%s' % build_payload()[1])
    marker = directory / '__pycache__'
    marker.mkdir()
    conn._upload_payload()
    assert marker.is_dir()
    assert sorted(os.listdir(str(tmp_path / 'payload'))) == [directory.name]
    assert not [name for name in os.listdir(str(directory)) if name.startswith('.upload')]


def test_payload_follows_the_entrypoint_imports(tmp_path):
    """Every form of import of a collection module_utils is followed, inside functions too."""
    prefix = 'ansible_collections.nsops.namespaces.plugins.module_utils'
    files = {
        '_connection/__init__.py': '',
        '_connection/entrypoint.py': 'from %s._a.one import thing\nfrom %s import _top as top\n' % (prefix, prefix),
        '_a/__init__.py': '',
        '_a/one.py': 'import os\n\ndef later():\n    from %s._a import two\n' % prefix,
        '_a/two.py': 'from ansible.module_utils.basic import AnsibleModule\n',
        '_a/unused.py': '',
        '_top.py': '',
    }
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert container.payload_modules(str(tmp_path)) == [
        '_a/__init__.py', '_a/one.py', '_a/two.py', '_connection/__init__.py', '_connection/entrypoint.py', '_top.py']
