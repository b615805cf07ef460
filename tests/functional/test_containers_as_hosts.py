# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Containers as Ansible hosts end to end over a real SSH fleet (issue 15).

Three SSH nodes in network namespaces (tests/lab/fleet.py) and real runc containers
(tests/lab/containers.py): a busybox web server under the Docker cgroup layout, a
container under the Kubernetes cgroupfs layout with the host's /usr bound in (so it has
a Python), and one that is removed before the plays; plus a real Podman and a real
Docker container (tests/lab/engines.py), skipped where the engine cannot run. The nodes share this machine's
kernel, so every node sees every container: each container is a host once per node.

- the fleet role's containers entry point caches every container of each node;
- the nsops.namespaces.containers inventory, from the fact cache alone, groups them by
  runtime, pod and node;
- through the nsops.namespaces.container connection: raw hostname and the container's
  PID 1 in both modes, copy/slurp/fetch inside the container (all namespaces, the
  container's Python), wait_for on the web server's port (sidecar mode, the node's Python);
- the web container is restarted between gathering and the plays (and the Docker one
  by `docker restart`) and is still reached;
  the removed one is unreachable with its name in the message;
- bad input: an unknown container, a node user without privilege, a container without
  Python in the all mode (the message points at the sidecar mode).

Containers, sshd, ssh masters, namespaces and temp dirs are removed by PID at the end,
also when a test fails.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from conftest import BIN_DIR, PYTHON, REPO, ansible_env

from lab.containers import RuncLab, docker_cgroupfs_path, kube_cgroupfs_path, random_container_id
from lab.engines import DockerEngine, EngineUnavailable, PodmanEngine
from lab.fleet import SshFleet

NODES = ('fleet-a', 'fleet-b', 'fleet-c')
WEB_PORT = 8080
PODMAN_PORT = 8090
DOCKER_PORT = 8095
SIDECAR = ['net', 'pid', 'uts', 'ipc', 'cgroup']
HOST_PYTHON = '/usr/bin/python3'
WEB_ARGS = ['sh', '-c', 'mkdir -p /tmp/www && echo web > /tmp/www/index.html && exec httpd -f -p %d -h /tmp/www'
            % WEB_PORT]
# The host's /usr (and the merged-/usr library links) read-only in the container: its Python.
PYTHON_MOUNTS = [{'destination': path, 'type': 'bind', 'source': path, 'options': ['rbind', 'ro']}
                 for path in ('/usr', '/lib', '/lib64')]

pytestmark = [
    pytest.mark.skipif(not os.path.exists('/usr/sbin/sshd'), reason='needs openssh-server (tools/env.sh installs it)'),
    pytest.mark.skipif(shutil.which('runc') is None, reason='needs runc (tools/env.sh installs it)'),
    pytest.mark.skipif(not os.access(HOST_PYTHON, os.X_OK), reason='needs the Debian python3 for the container'),
]


class World:
    """What the module's tests share: lab, fleet, containers, inventories and the fact cache."""

    def __init__(self, lab, fleet, work):
        self.lab = lab
        self.fleet = fleet
        self.work = work
        self.facts = os.path.join(work, 'facts')
        self.nodes_inventory = os.path.join(work, 'nodes.json')
        self.containers_inventory = os.path.join(work, 'containers.yml')
        self.web = self.py = self.gone = None
        self.podman = None          # (engine, container ID), or None when Podman cannot run here
        self.podman_skip = None
        self.docker = None          # likewise for Docker
        self.docker_skip = None
        self.pod_uid = None
        self.web_pid_at_gather = None

    def env(self):
        env = ansible_env(**self.fleet.ansible_env())
        env.update({'ANSIBLE_CACHE_PLUGIN': 'ansible.builtin.jsonfile', 'ANSIBLE_CACHE_PLUGIN_CONNECTION': self.facts,
                    'ANSIBLE_PIPELINING': 'True'})
        return env

    def run(self, args, timeout=300):
        proc = subprocess.run([os.path.join(BIN_DIR, args[0])] + list(args[1:]), cwd=self.work, env=self.env(),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        return proc

    def playbook(self, name, text, inventories=None):
        path = os.path.join(self.work, name)
        with open(path, 'w') as handle:
            handle.write(text)
        args = ['ansible-playbook', '--forks', '6']
        for inventory in inventories or (self.nodes_inventory, self.containers_inventory):
            args += ['-i', inventory]
        proc = self.run(args + [path])
        try:
            result = json.loads(proc.stdout[proc.stdout.index('{'):])
        except ValueError:
            raise AssertionError('ansible-playbook printed no JSON (rc %d):\n%s\n%s'
                                 % (proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
        return proc.returncode, result

    def host(self, node, container, runtime='podman'):
        if isinstance(container, str):
            return '%s:%s:%s' % (node, runtime, container[:12])
        return '%s:%s:%s' % (node, 'cri' if container is self.py else 'docker', container.id[:12])


def results(result, task_name):
    """{host: result} of the task with this name."""
    found = {}
    for play in result['plays']:
        for task in play['tasks']:
            if task['task']['name'] == task_name:
                found.update(task['hosts'])
    return found


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('containers_as_hosts'))
    os.mkdir(os.path.join(work, 'podman'))
    podman = PodmanEngine(os.path.join(work, 'podman'))
    # containerd's sockets below it must stay short (unix socket paths are limited).
    docker_parent = tempfile.mkdtemp(prefix='nsd-')
    docker = DockerEngine(docker_parent)
    try:
        with RuncLab() as lab:
            with SshFleet(hosts=3, unreachable=0, names=list(NODES), python=PYTHON, workdir_parent=work) as fleet:
                world = World(lab, fleet, work)
                _start_containers(world)
                world.podman, world.podman_skip = _start_web(podman, PODMAN_PORT, 'podman-box')
                world.docker, world.docker_skip = _start_web(docker, DOCKER_PORT, 'docker-box')
                _write_inventories(world)
                _gather(world)
                yield world
            assert not fleet.leftovers(), fleet.leftovers()
        assert not lab.leftovers(), lab.leftovers()
    finally:
        podman.stop()
        docker.stop()
        shutil.rmtree(docker_parent, ignore_errors=True)
    assert podman.leftovers() == [], podman.leftovers()
    assert docker.leftovers() == [], docker.leftovers()


def _start_web(engine, port, hostname):
    """(engine, container id) of a busybox httpd container, or (None, why it cannot run)."""
    try:
        engine.start()
        cid = engine.run('nsops-hostweb', ['httpd', '-f', '-p', str(port), '-h', '/www'],
                         ['--network', 'none', '--hostname', hostname])
    except EngineUnavailable as exc:
        return None, '%s cannot run here: %s' % (hostname.split('-')[0], exc)
    return (engine, cid), None


def _start_containers(world):
    lab = world.lab
    web_id = random_container_id()
    world.web = lab.run('web', WEB_ARGS, cgroups_path=docker_cgroupfs_path(web_id), container_id=web_id,
                        hostname='web-box')
    gone_id = random_container_id()
    world.gone = lab.run('gone', ['sleep', '100000'], cgroups_path=docker_cgroupfs_path(gone_id),
                         container_id=gone_id, hostname='gone-box')
    world.pod_uid = str(uuid.uuid4())
    py_id = random_container_id()
    world.py = lab.run('py', ['sleep', '100000'], cgroups_path=kube_cgroupfs_path(world.pod_uid, 'besteffort', py_id),
                       container_id=py_id, hostname='py-box',
                       rootfs=lab.private_rootfs('py', ['lib', 'lib64']), mounts=PYTHON_MOUNTS)


def _write_inventories(world):
    world.fleet.write_inventory(world.nodes_inventory, group='nodes')
    ids = [world.web.id, world.gone.id, world.py.id]
    engine_ids = [engine[1] for engine in (world.podman, world.docker) if engine]
    with open(world.containers_inventory, 'w') as handle:
        # Only this test's containers (other tests may run containers on this machine meanwhile).
        handle.write('plugin: nsops.namespaces.containers\n'
                     'groups:\n  lab: nsops_container_id in %s\n  engines: nsops_container_id in %s\n'
                     'compose:\n  ansible_python_interpreter: "\'%s\'"\n'
                     # The payload cache goes away with the fleet's work dir.
                     '  nsops_node_payload_dir: "\'%s/payload\'"\n'
                     % (json.dumps(ids), json.dumps(engine_ids), HOST_PYTHON, world.fleet.work))


def _gather(world):
    rc, result = world.playbook('gather.yml', (
        '- name: Cache the containers of every node\n'
        '  hosts: nodes\n'
        '  gather_facts: false\n'
        '  tasks:\n'
        '    - name: Gather containers\n'
        '      ansible.builtin.include_role:\n'
        '        name: nsops.namespaces.fleet\n'
        '        tasks_from: containers\n'), inventories=[world.nodes_inventory])
    assert rc == 0, json.dumps(result)[-3000:]
    world.web_pid_at_gather = world.web.pid


def plain(value):
    """ansible-inventory's JSON without its marks of untrusted strings."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


@pytest.fixture(scope='module')
def inventory(world):
    proc = world.run(['ansible-inventory', '-i', world.nodes_inventory, '-i', world.containers_inventory, '--list'])
    assert proc.returncode == 0, proc.stderr
    return plain(json.loads(proc.stdout))


@pytest.fixture(scope='module')
def plays(world, inventory):
    """The web container restarted and the gone one removed after gathering, then the plays."""
    old_pid = world.web.pid
    world.lab.remove(world.web)
    world.web = world.lab.run('web-restarted', WEB_ARGS, cgroups_path=world.web.cgroups_path, container_id=world.web.id,
                              hostname='web-box')
    assert world.web.pid != old_pid
    world.lab.remove(world.gone)
    fetched = os.path.join(world.work, 'fetched')
    rc, result = world.playbook('play.yml', '''
- name: The container with a Python, every namespace
  hosts: runtime_cri:&lab
  gather_facts: false
  tasks:
    - name: Container hostname
      ansible.builtin.raw: hostname
      changed_when: false
    - name: Container PID 1
      ansible.builtin.command: cat /proc/1/cmdline
      changed_when: false
    - name: Copy into the container
      ansible.builtin.copy:
        content: "copied into {{ inventory_hostname }}\\n"
        dest: "/tmp/copied-{{ nsops_node }}.txt"
        mode: "0644"
    - name: Slurp from the container
      ansible.builtin.slurp:
        src: "/tmp/copied-{{ nsops_node }}.txt"
    - name: Fetch from the container
      ansible.builtin.fetch:
        src: "/tmp/copied-{{ nsops_node }}.txt"
        dest: "%(fetched)s/{{ nsops_node }}.txt"
        flat: true

- name: The restarted distroless-style web container, sidecar mode
  hosts: runtime_docker:&lab
  gather_facts: false
  vars:
    nsops_enter_namespaces: %(sidecar)s
  tasks:
    - name: Container hostname
      ansible.builtin.raw: hostname
      changed_when: false
    - name: Web port inside the container
      ansible.builtin.wait_for:
        host: 127.0.0.1
        port: %(port)d
        timeout: 10
    - name: Container PID 1
      ansible.builtin.command: cat /proc/1/cmdline
      changed_when: false
''' % {'fetched': fetched, 'sidecar': json.dumps(SIDECAR), 'port': WEB_PORT})
    return rc, result, fetched


# ---------------------------------------------------------------------------- inventory

def test_inventory_groups_containers_by_runtime_pod_and_node(world, inventory):
    lab_hosts = set(inventory['lab']['hosts'])
    expected = set(world.host(node, c) for node in NODES for c in (world.web, world.gone, world.py))
    if world.podman:
        assert set(world.host(node, world.podman[1]) for node in NODES) <= set(inventory['runtime_podman']['hosts'])
    if world.docker:
        assert set(world.host(node, world.docker[1], 'docker') for node in NODES) <= set(
            inventory['runtime_docker']['hosts'])
    assert lab_hosts == expected
    assert set(world.host(n, c) for n in NODES for c in (world.web, world.gone)) <= set(
        inventory['runtime_docker']['hosts'])
    assert set(inventory['pod_' + world.pod_uid.replace('-', '_')]['hosts']) == set(
        world.host(n, world.py) for n in NODES)
    for node in NODES:
        assert set(world.host(node, c) for c in (world.web, world.py)) <= set(
            inventory['node_' + node.replace('-', '_')]['hosts'])
    hostvars = inventory['_meta']['hostvars'][world.host('fleet-b', world.py)]
    assert hostvars['nsops_node'] == 'fleet-b'
    assert hostvars['nsops_container_id'] == world.py.id
    assert hostvars['nsops_container_runtime'] == 'cri'
    assert hostvars['nsops_container_pod_uid'] == world.pod_uid
    assert hostvars['nsops_container_qos'] == 'besteffort'
    assert hostvars['nsops_container_init_pid'] == world.py.pid
    assert hostvars['nsops_container_namespaces']['net'] == world.py.ns_inode('net')
    assert hostvars['ansible_connection'] == 'nsops.namespaces.container'
    assert hostvars['ansible_host'] == world.fleet.host('fleet-b').address
    assert hostvars['ansible_ssh_private_key_file'] == world.fleet.key


def test_inventory_reads_only_the_fact_cache(world):
    """Without the nodes in the inventory the hosts still come (addressed by node name)."""
    proc = world.run(['ansible-inventory', '-i', world.containers_inventory, '--list'])
    assert proc.returncode == 0, proc.stderr
    hostvars = plain(json.loads(proc.stdout))['_meta']['hostvars'][world.host('fleet-a', world.web)]
    assert hostvars['ansible_host'] == 'fleet-a'
    assert hostvars['nsops_container_init_pid'] == world.web_pid_at_gather


# ---------------------------------------------------------------------------- all namespaces

def test_all_mode_hostname_pid1_and_files(world, plays):
    rc, result, fetched = plays
    hosts = [world.host(node, world.py) for node in NODES]
    for host in hosts:
        assert results(result, 'Container hostname')[host]['stdout'].strip() == 'py-box'
        assert results(result, 'Container PID 1')[host]['stdout'].split('\x00')[0] == 'sleep'
        assert results(result, 'Copy into the container')[host]['changed'] is True
        slurped = results(result, 'Slurp from the container')[host]
        assert 'copied into %s' % host in base64.b64decode(slurped['content']).decode()
    for node in NODES:
        # The file is in the container's own /tmp (a tmpfs of its mount namespace), not the node's.
        assert not os.path.exists('/tmp/copied-%s.txt' % node)
        inside = world.lab.exec_output(world.py, ['cat', '/tmp/copied-%s.txt' % node]).stdout
        assert inside == 'copied into %s\n' % world.host(node, world.py)
        with open(os.path.join(fetched, '%s.txt' % node)) as handle:
            assert handle.read() == inside


# ---------------------------------------------------------------------------- sidecar mode

def test_sidecar_mode_restarted_container_is_reached(world, plays):
    rc, result, fetched = plays
    for node in NODES:
        host = world.host(node, world.web)
        assert results(result, 'Container hostname')[host]['stdout'].strip() == 'web-box'
        assert results(result, 'Web port inside the container')[host]['state'] == 'started'
        pid1 = results(result, 'Container PID 1')[host]['stdout'].split('\x00')
        # The container's own PID 1 (sh exec'd httpd), through the private /proc of its PID namespace.
        assert pid1[:3] == ['httpd', '-f', '-p']


def test_removed_container_is_unreachable_by_name(world, plays):
    rc, result, fetched = plays
    assert rc != 0
    for node in NODES:
        host = world.host(node, world.gone)
        outcome = results(result, 'Container hostname')[host]
        assert outcome.get('unreachable') is True, outcome
        assert host in outcome['msg'] and world.gone.id in outcome['msg'], outcome['msg']
        assert 'not on this node any more' in outcome['msg']


# ---------------------------------------------------------------------------- bad input

def test_bad_input_messages(world, plays):
    nobody_home = tempfile.mkdtemp(prefix='nsops-nobody-')
    try:
        os.chmod(nobody_home, 0o777)
        fake_sudo = os.path.join(nobody_home, 'sudo-as-nobody')
        with open(fake_sudo, 'w') as handle:
            # A become that lands on a user without privilege on the node.
            handle.write('#!/bin/sh\nwhile [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done; shift\n'
                         'exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"\n')
        os.chmod(fake_sudo, 0o755)
        node = world.fleet.host('fleet-a')
        common = dict(world.fleet.connection_vars(), ansible_host=node.address,
                      ansible_connection='nsops.namespaces.container', nsops_node='fleet-a',
                      ansible_python_interpreter=HOST_PYTHON, ansible_remote_tmp='/tmp',
                      nsops_node_payload_dir=os.path.join(world.fleet.work, 'payload'))
        hosts = {
            'unknown': dict(common, nsops_container_id=random_container_id()),
            'unprivileged': dict(common, nsops_container_id=world.web.id, nsops_node_become=True,
                                 nsops_node_become_exe=fake_sudo, nsops_node_python=HOST_PYTHON,
                                 nsops_node_payload_dir=os.path.join(nobody_home, 'payload')),
            'no-python': dict(common, nsops_container_id=world.web.id),
        }
        inventory = os.path.join(world.work, 'bad.json')
        with open(inventory, 'w') as handle:
            json.dump({'all': {'hosts': hosts}}, handle)
        rc, result = world.playbook('bad.yml', '''
- name: Bad input
  hosts: all
  gather_facts: false
  tasks:
    - name: A module in the container
      ansible.builtin.command: hostname
      changed_when: false
''', inventories=[inventory])
    finally:
        shutil.rmtree(nobody_home, ignore_errors=True)
    outcome = results(result, 'A module in the container')
    assert outcome['unknown'].get('unreachable') is True
    assert 'unknown' in outcome['unknown']['msg'] and 'not on this node any more' in outcome['unknown']['msg']
    assert 'Traceback' not in outcome['unknown']['msg']
    assert outcome['unprivileged'].get('unreachable') is True
    assert 'entering a container needs root' in outcome['unprivileged']['msg'], outcome['unprivileged']['msg']
    assert outcome['no-python'].get('failed') is True
    assert 'no Python' in outcome['no-python']['msg'] and 'sidecar' in outcome['no-python']['msg'], \
        outcome['no-python']['msg']


# ---------------------------------------------------------------------------- the shipped playbook

def test_container_diagnostics_playbook(world, plays):
    proc = world.run(['ansible-playbook', '-i', world.nodes_inventory, '-i', world.containers_inventory,
                      os.path.join(REPO, 'playbooks', 'container_diagnostics.yml'),
                      '-e', 'container_diagnostics_hosts=runtime_docker:&lab:&node_fleet_a'])
    result = json.loads(proc.stdout[proc.stdout.index('{'):])
    # The removed container is still in the cached inventory: unreachable, the rest reported.
    assert result['stats'][world.host('fleet-a', world.gone)]['unreachable'] == 1
    assert result['stats'][world.host('fleet-a', world.web)]['failures'] == 0, json.dumps(result)[-3000:]
    report = results(result, 'Report')[world.host('fleet-a', world.web)]['msg']
    assert 'hostname: web-box' in report
    assert any(line.startswith('PID 1: httpd -f -p %d' % WEB_PORT) for line in report if isinstance(line, str))
    assert ':%d' % WEB_PORT in json.dumps(report)


# ---------------------------------------------------------------------------- a real engine

def test_podman_container_in_both_modes(world, plays):
    if world.podman is None:
        pytest.skip(world.podman_skip)
    host = world.host('fleet-c', world.podman[1])
    rc, result = world.playbook('podman.yml', '''
- name: A Podman container, every namespace
  hosts: runtime_podman:&engines:&node_fleet_c
  gather_facts: false
  tasks:
    - name: Podman hostname
      ansible.builtin.raw: hostname; cat /proc/1/cmdline
      changed_when: false

- name: The same container, sidecar mode
  hosts: runtime_podman:&engines:&node_fleet_c
  gather_facts: false
  vars:
    nsops_enter_namespaces: %s
  tasks:
    - name: Podman port
      ansible.builtin.wait_for:
        host: 127.0.0.1
        port: %d
        timeout: 10
''' % (json.dumps(SIDECAR), PODMAN_PORT))
    assert rc == 0, json.dumps(result)[-3000:]
    assert results(result, 'Podman hostname')[host]['stdout'].startswith('podman-box\nhttpd')
    assert results(result, 'Podman port')[host]['state'] == 'started'


def test_docker_container_restarted_by_docker_is_reached(world, plays):
    if world.docker is None:
        pytest.skip(world.docker_skip)
    engine, cid = world.docker
    before = engine.inspect(cid)['State']['Pid']
    engine.docker('restart', '-t', '0', cid)
    after = engine.inspect(cid)['State']['Pid']
    assert after != before
    host = world.host('fleet-b', cid, 'docker')
    rc, result = world.playbook('docker.yml', '''
- name: A Docker container restarted since the facts were gathered, sidecar mode
  hosts: runtime_docker:&engines:&node_fleet_b
  gather_facts: false
  vars:
    nsops_enter_namespaces: %s
    ansible_python_interpreter: "{{ nsops_node_python }}"
  tasks:
    - name: Docker hostname
      ansible.builtin.raw: hostname
      changed_when: false
    - name: Docker port
      ansible.builtin.wait_for:
        host: 127.0.0.1
        port: %d
        timeout: 10
    - name: Docker listeners
      ansible.builtin.command:
        argv: [ss, -Htlnp]
      changed_when: false
''' % (json.dumps(SIDECAR), DOCKER_PORT))
    assert rc == 0, json.dumps(result)[-3000:]
    assert results(result, 'Docker hostname')[host]['stdout'].strip() == 'docker-box'
    assert results(result, 'Docker port')[host]['state'] == 'started'
    assert ':%d' % DOCKER_PORT in results(result, 'Docker listeners')[host]['stdout']
    assert 'pid=1,' in results(result, 'Docker listeners')[host]['stdout']


def test_local_node_transport(world, plays):
    """The node's transport may be local: the controller is the node."""
    inventory = os.path.join(world.work, 'local.json')
    with open(inventory, 'w') as handle:
        json.dump({'all': {'hosts': {'web-here': {
            'ansible_connection': 'nsops.namespaces.container', 'nsops_node_connection': 'ansible.builtin.local',
            'nsops_container_id': world.web.id, 'nsops_container_runtime': 'docker', 'nsops_node': 'localhost',
            'nsops_node_python': PYTHON, 'ansible_python_interpreter': PYTHON, 'ansible_remote_tmp': '/tmp',
            'nsops_node_payload_dir': os.path.join(world.fleet.work, 'payload'),
            'nsops_enter_namespaces': SIDECAR}}}}, handle)
    rc, result = world.playbook('local.yml', '''
- name: Over the local transport
  hosts: all
  gather_facts: false
  tasks:
    - name: Local hostname
      ansible.builtin.raw: hostname
      changed_when: false
    - name: Local PID 1
      ansible.builtin.slurp:
        src: /proc/1/cmdline
''', inventories=[inventory])
    assert rc == 0, json.dumps(result)[-3000:]
    assert results(result, 'Local hostname')['web-here']['stdout'].strip() == 'web-box'
    pid1 = base64.b64decode(results(result, 'Local PID 1')['web-here']['content']).split(b'\0')
    assert pid1[0] == b'httpd'
