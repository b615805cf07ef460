# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""container_info, socket_info, namespace_exec and the playbooks against real engines, as root.

One class per engine (Docker, Podman, containerd, LXC, systemd-nspawn, crun), each with a
class-scoped engine started from Debian's packages by tests/lab/engines.py and stopped
(by PID, cgroups, mounts and state removed) when the class is done, also on failure.
Every answer is compared with the engine's own: ``docker inspect``, ``podman inspect`` /
``pod inspect``, ``ctr task ls``, ``lxc-info``, the nspawn process we started, ``crun
state``. An engine that cannot start is skipped with its own error; conftest prints the
engine x capability table at the end of the run.
"""

import json
import os
import subprocess
import sys
import uuid

import pytest

from conftest import BIN_DIR, PYTHON, REPO, ansible_env

sys.path.insert(0, os.path.join(REPO, 'tests'))
from lab.engines import (  # noqa: E402
    ContainerdEngine, CrunEngine, DockerEngine, EngineUnavailable, LxcEngine, NspawnEngine, PodmanEngine, random_hex,
)

from ansible_collections.nsops.namespaces.plugins.module_utils._containers import locator  # noqa: E402
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import (  # noqa: E402
    ContainerError, Selector,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._nsexec import engine as nsexec  # noqa: E402
from ansible_collections.nsops.namespaces.plugins.module_utils._sockets import engine as sockets  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='the engines need root')


# ---------------------------------------------------------------------------- helpers

def locate(**params):
    return locator.run(locator.Request(Selector.from_params(params)))


def one(**params):
    result = locate(**params)
    assert len(result['containers']) == 1, (params, result['containers'], result['notes'])
    return result['containers'][0]


def exec_in(command, **selector):
    params = {'command': command, 'shell': False, 'pid': None, 'container_id': None, 'pod_uid': None, 'name': None,
              'runtime': None, 'namespace_files': None, 'namespaces': None, 'chdir': '/', 'root': False,
              'stdin': None, 'stdin_add_newline': True, 'env': {}, 'timeout': 30.0, 'read_only': True,
              'proc_root': '/proc'}
    params.update(selector)
    return nsexec.run(nsexec.Request.from_params(params))


def socket_info(**params):
    return sockets.run(sockets.Query.from_params(dict({'protocols': ['tcp']}, **params)))


def listener(result, port):
    rows = [row for row in result['sockets'] if row['listening'] and row['local_port'] == port]
    assert len(rows) == 1, (port, result['sockets'])
    return rows[0]


def ppid(pid):
    with open('/proc/%d/stat' % pid) as handle:
        return int(handle.read().rsplit(')', 1)[1].split()[1])


def comm(pid):
    with open('/proc/%d/comm' % pid) as handle:
        return handle.read().strip()


def nspid(pid):
    with open('/proc/%d/status' % pid) as handle:
        for line in handle:
            if line.startswith('NSpid:'):
                return [int(x) for x in line.split()[1:]]
    return None


def hostname_of(pid):
    with open('/proc/%d/root/etc/hostname' % pid) as handle:
        return handle.read().strip()


def playbook(tmp_path, name, extra):
    inventory = tmp_path / 'inventory.yml'
    inventory.write_text('all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
                         '      ansible_python_interpreter: %s\n' % PYTHON)
    extra = dict(extra, troubleshoot_dir=str(tmp_path / 'out'))
    proc = subprocess.run([os.path.join(BIN_DIR, 'ansible-playbook'), '-i', str(inventory),
                           os.path.join(REPO, 'playbooks', name), '-e', json.dumps(extra)],
                          env=ansible_env(ANSIBLE_STDOUT_CALLBACK='default'), capture_output=True, text=True,
                          timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def start(engine_class, tmp_path_factory, setup):
    engine = engine_class(str(tmp_path_factory.mktemp(engine_class.name)))
    try:
        engine.start()
        lab = setup(engine)
    except EngineUnavailable as exc:
        engine.stop()
        pytest.skip('%s cannot run here: %s' % (engine_class.name, exc))
    except BaseException:
        engine.stop()
        raise
    return engine, lab


def stop(engine):
    engine.stop()
    assert engine.leftovers() == [], engine.leftovers()


def assert_monitor(record, monitor_pid, comm_name):
    assert record['monitor_pid'] == monitor_pid, record['monitor']
    assert monitor_pid not in record['pids']
    assert comm(monitor_pid) == comm_name
    found = locate(pid=monitor_pid)
    assert [c['id'] or c['name'] for c in found['containers']] == [record['id'] or record['name']]
    assert any('is the monitor of' in note for note in found['notes']), found['notes']


class Lab(object):
    """What a fixture started, with the engine's own answers."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


# ---------------------------------------------------------------------------- Docker

@pytest.fixture(scope='class')
def docker(tmp_path_factory):
    def setup(engine):
        web = engine.run('nsops-web', ['httpd', '-f', '-p', '8080', '-h', '/www'],
                         ['--network', 'none', '--ipc', 'shareable', '--hostname', 'dockerweb'])
        peer = engine.run('nsops-peer', ['httpd', '-f', '-p', '8081', '-h', '/www'],
                          ['--network', 'container:nsops-web', '--pid', 'container:nsops-web',
                           '--ipc', 'container:nsops-web'])
        engine.docker('exec', '-d', 'nsops-web', 'sleep', '100000')
        return Lab(web=engine.inspect(web), peer=engine.inspect(peer))
    engine, lab = start(DockerEngine, tmp_path_factory, setup)
    yield engine, lab
    stop(engine)


class TestDocker(object):
    ENGINE = 'docker'

    def test_listing(self, docker):
        engine, lab = docker
        records = locate(runtime='docker')['containers']
        ours = dict((r['id'], r) for r in records if r['id'] in (lab.web['Id'], lab.peer['Id']))
        assert set(ours) == set([lab.web['Id'], lab.peer['Id']])
        for info in (lab.web, lab.peer):
            assert ours[info['Id']]['init_pid'] == info['State']['Pid']
            assert ours[info['Id']]['cgroup'] == '/docker/' + info['Id']
        top = engine.docker('top', 'nsops-web', '-eo', 'pid').stdout.split()[1:]
        assert sorted(ours[lab.web['Id']]['pids']) == sorted(int(p) for p in top)

    def test_by_id(self, docker):
        assert one(id=docker[1].web['Id'])['init_pid'] == docker[1].web['State']['Pid']

    def test_by_prefix(self, docker):
        assert one(id=docker[1].peer['Id'][:12].upper())['id'] == docker[1].peer['Id']

    def test_by_name(self, docker):
        result = locate(name='nsops-web')
        assert result['containers'] == []
        assert any('Docker, Podman, CRI-O and Kubernetes names are not part of cgroup paths' in n
                   for n in result['notes']), result['notes']

    def test_by_host_pid(self, docker):
        assert one(pid=docker[1].peer['State']['Pid'])['id'] == docker[1].peer['Id']

    def test_by_inner_pid(self, docker):
        lab = docker[1]
        result = locate(pid=1, pid_namespace_of=lab.web['Id'][:12])
        assert result['host_pid'] == lab.web['State']['Pid']
        # the peer runs in the web container's PID namespace (--pid container:): found there too
        inner = nspid(lab.peer['State']['Pid'])[-1]
        result = locate(pid=inner, pid_namespace_of=lab.web['Id'][:12])
        assert result['host_pid'] == lab.peer['State']['Pid']
        assert [c['id'] for c in result['containers']] == [lab.peer['Id']]

    def test_shared_ns(self, docker):
        lab = docker[1]
        peer = one(id=lab.peer['Id'])
        for nstype in ('net', 'pid', 'ipc'):
            assert peer['shared_with_containers'][nstype] == [lab.web['Id']]
        assert 'uts' not in peer['shared_with_containers']

    def test_monitor(self, docker):
        lab = docker[1]
        record = one(id=lab.web['Id'])
        assert_monitor(record, ppid(lab.web['State']['Pid']), 'containerd-shim')

    def test_verified(self, docker):
        assert all(r['verified'] for r in (one(id=docker[1].web['Id']), one(id=docker[1].peer['Id'])))

    def test_socket_info(self, docker):
        lab = docker[1]
        result = socket_info(container_id=lab.peer['Id'][:12])
        (ns,) = result['namespaces']
        assert ns['containers'] == sorted([lab.web['Id'], lab.peer['Id']])
        assert ns['container'] == lab.web['Id']
        for port, info in ((8080, lab.web), (8081, lab.peer)):
            (owner,) = listener(result, port)['owners']
            assert owner['pid'] == info['State']['Pid'] and owner['container'] == info['Id']

    def test_namespace_exec(self, docker):
        lab = docker[1]
        for selector in ({'container_id': lab.web['Id'][:12]}, {'container_id': lab.web['Id'], 'runtime': 'docker'},
                         {'pid': lab.web['State']['Pid']}):
            result = exec_in(['hostname'], **selector)
            assert result['stdout'] == 'dockerweb' and result['pid'] == lab.web['State']['Pid'], selector
        with pytest.raises(nsexec.NamespaceExecError) as exc:
            exec_in(['hostname'], name='nsops-web')
        assert 'not part of cgroup paths' in exc.value.msg

    def test_playbooks(self, docker, tmp_path):
        lab = docker[1]
        rc, out = playbook(tmp_path, 'locate_container.yml', {'container_id': lab.peer['Id'][:12]})
        assert rc == 0 and lab.peer['Id'] in out and 'monitor PID' in out, out
        rc, out = playbook(tmp_path, 'troubleshoot_container.yml', {'container_id': lab.web['Id'][:12]})
        assert rc == 0 and 'httpd' in out, out
        with open(str(tmp_path / 'out' / ('localhost-%s.json' % lab.web['Id'][:12]))) as handle:
            report = json.load(handle)
        assert [c['id'] for c in report['containers']] == [lab.web['Id']]
        rc, out = playbook(tmp_path, 'troubleshoot_container.yml', {'container_name': 'nsops-web'})
        assert rc != 0 and 'not part of cgroup paths' in out, out

    def test_bad_input(self, docker):
        for params, message in (({'runtime': 'dockre'}, "runtime 'dockre' is not known"),
                                ({'name': 'a/b'}, 'without slashes'),
                                ({'name': 'web', 'runtime': 'docker'}, 'carry no name in their cgroup'),
                                ({'pid': 1, 'id': 'abc'}, 'cannot be combined with id')):
            with pytest.raises(ContainerError) as exc:
                locate(**params)
            assert message in exc.value.msg
        with pytest.raises(sockets.SocketInfoError) as exc:
            socket_info(pid=1, name='web')
        assert 'cannot be combined with name' in exc.value.msg


# ---------------------------------------------------------------------------- Podman

@pytest.fixture(scope='class')
def podman(tmp_path_factory):
    def setup(engine):
        web = engine.run('nsops-pweb', ['httpd', '-f', '-p', '8090', '-h', '/www'],
                         ['--network', 'none', '--hostname', 'podmanweb'])
        pod = engine.pod_create('nsops-pod')
        app = engine.run('nsops-papp', ['httpd', '-f', '-p', '8091', '-h', '/www'], ['--pod', 'nsops-pod'])
        engine.podman('pod', 'start', 'nsops-pod')
        pod_info = engine.pod_inspect(pod)
        return Lab(web=engine.inspect(web), app=engine.inspect(app), pod=pod_info,
                   infra=engine.inspect(pod_info['InfraContainerID']))
    engine, lab = start(PodmanEngine, tmp_path_factory, setup)
    yield engine, lab
    stop(engine)


class TestPodman(object):
    ENGINE = 'podman'

    def test_listing(self, podman):
        lab = podman[1]
        records = dict((r['id'], r) for r in locate(runtime='podman')['containers'])
        for info in (lab.web, lab.app, lab.infra):
            assert records[info['Id']]['init_pid'] == info['State']['Pid']
        assert records[lab.web['Id']]['cgroup'] == '/libpod_parent/libpod-' + lab.web['Id']
        assert records[lab.app['Id']]['cgroup'] == '/libpod_parent/%s/libpod-%s' % (lab.pod['Id'], lab.app['Id'])

    def test_by_id(self, podman):
        assert one(id=podman[1].app['Id'])['init_pid'] == podman[1].app['State']['Pid']

    def test_by_prefix(self, podman):
        assert one(id=podman[1].web['Id'][:10], runtime='podman')['id'] == podman[1].web['Id']

    def test_by_name(self, podman):
        result = locate(name='nsops-pweb')
        assert result['containers'] == [] and any('podman inspect' in n for n in result['notes'])

    def test_by_host_pid(self, podman):
        assert one(pid=podman[1].app['State']['Pid'])['id'] == podman[1].app['Id']

    def test_by_inner_pid(self, podman):
        assert locate(pid=1, pid_namespace_of=podman[1].app['Id'][:12])['host_pid'] == podman[1].app['State']['Pid']

    def test_shared_ns(self, podman):
        lab = podman[1]
        app = one(id=lab.app['Id'])
        assert app['podman_pod_id'] == lab.pod['Id']
        assert one(id=lab.infra['Id'])['podman_pod_id'] == lab.pod['Id']
        for nstype in ('net', 'ipc', 'uts'):
            assert app['shared_with_containers'][nstype] == [lab.infra['Id']]
        assert one(id=lab.web['Id'])['podman_pod_id'] is None

    def test_monitor(self, podman):
        lab = podman[1]
        for info in (lab.web, lab.app):
            assert_monitor(one(id=info['Id']), info['State']['ConmonPid'], 'conmon')

    def test_verified(self, podman):
        assert all(one(id=info['Id'])['verified'] for info in (podman[1].web, podman[1].app, podman[1].infra))

    def test_socket_info(self, podman):
        lab = podman[1]
        result = socket_info(container_id=lab.app['Id'][:12])
        (ns,) = result['namespaces']
        assert ns['containers'] == sorted([lab.app['Id'], lab.infra['Id']])
        (owner,) = listener(result, 8091)['owners']
        assert owner['container'] == lab.app['Id'] and owner['pid'] == lab.app['State']['Pid']
        (owner,) = listener(socket_info(runtime='podman', container_id=lab.web['Id']), 8090)['owners']
        assert owner['container'] == lab.web['Id']

    def test_namespace_exec(self, podman):
        lab = podman[1]
        for selector in ({'container_id': lab.web['Id'][:12]}, {'runtime': 'podman', 'container_id': lab.web['Id']},
                         {'pid': lab.web['State']['Pid']}):
            assert exec_in(['hostname'], **selector)['stdout'] == 'podmanweb', selector

    def test_playbooks(self, podman, tmp_path):
        lab = podman[1]
        rc, out = playbook(tmp_path, 'locate_container.yml', {'container_id': lab.app['Id'][:12]})
        assert rc == 0 and lab.app['Id'] in out and str(lab.app['State']['ConmonPid']) in out, out
        rc, out = playbook(tmp_path, 'troubleshoot_container.yml', {'container_id': lab.app['Id'][:12]})
        assert rc == 0 and '8091' in out, out


# ---------------------------------------------------------------------------- containerd

@pytest.fixture(scope='class')
def containerd(tmp_path_factory):
    def setup(engine):
        named = engine.run('cweb', ['httpd', '-f', '-p', '8100', '-h', '/www'])
        uid = str(uuid.uuid4())
        sandbox_id, app_id = random_hex(), random_hex()
        parent = '/kubepods/besteffort/pod%s/' % uid
        sandbox = engine.run(sandbox_id, ['sleep', '100000'], namespace='k8s.io', cgroup=parent + sandbox_id)
        join = dict((t, '/proc/%d/ns/%s' % (sandbox, t)) for t in ('net', 'ipc', 'uts'))
        join['network'] = join.pop('net')
        app = engine.run(app_id, ['httpd', '-f', '-p', '8101', '-h', '/www'], namespace='k8s.io',
                         cgroup=parent + app_id, join=join)
        return Lab(named=named, uid=uid, sandbox_id=sandbox_id, sandbox=sandbox, app_id=app_id, app=app)
    engine, lab = start(ContainerdEngine, tmp_path_factory, setup)
    yield engine, lab
    stop(engine)


class TestContainerd(object):
    ENGINE = 'containerd'

    def test_listing(self, containerd):
        engine, lab = containerd
        records = dict((r['id'] or r['name'], r) for r in locate()['containers'])
        for namespace in ('default', 'k8s.io'):
            for cid, pid in engine.tasks(namespace).items():
                assert records[cid]['init_pid'] == pid
        assert records['cweb']['runtime'] == 'containerd' and records['cweb']['containerd_namespace'] == 'default'
        assert records[lab.app_id]['runtime'] == 'cri' and records[lab.app_id]['qos'] == 'besteffort'

    def test_by_id(self, containerd):
        assert one(id=containerd[1].app_id)['init_pid'] == containerd[1].app

    def test_by_prefix(self, containerd):
        assert one(id=containerd[1].sandbox_id[:8])['init_pid'] == containerd[1].sandbox

    def test_by_name(self, containerd):
        assert one(name='cweb', runtime='containerd')['init_pid'] == containerd[1].named

    def test_by_host_pid(self, containerd):
        assert one(pid=containerd[1].app)['id'] == containerd[1].app_id

    def test_by_inner_pid(self, containerd):
        assert locate(pid=1, pid_namespace_of='cweb')['host_pid'] == containerd[1].named

    def test_shared_ns(self, containerd):
        lab = containerd[1]
        records = locate(pod_uid=lab.uid)['containers']
        assert sorted(r['id'] for r in records) == sorted([lab.app_id, lab.sandbox_id])
        app = [r for r in records if r['id'] == lab.app_id][0]
        for nstype in ('net', 'ipc', 'uts'):
            assert app['shared_with_containers'][nstype] == [lab.sandbox_id]

    def test_monitor(self, containerd):
        lab = containerd[1]
        assert_monitor(one(name='cweb'), ppid(lab.named), 'containerd-shim')
        assert_monitor(one(id=lab.app_id), ppid(lab.app), 'containerd-shim')

    def test_verified(self, containerd):
        assert all(r['verified'] for r in locate(pod_uid=containerd[1].uid)['containers'] + [one(name='cweb')])

    def test_socket_info(self, containerd):
        lab = containerd[1]
        for selector in ({'pod_uid': lab.uid}, {'container_id': lab.sandbox_id[:12]}):
            result = socket_info(**selector)
            (ns,) = result['namespaces']
            assert ns['containers'] == sorted([lab.app_id, lab.sandbox_id]) and ns['pod_uid'] == lab.uid
            (owner,) = listener(result, 8101)['owners']
            assert owner['container'] == lab.app_id and owner['pid'] == lab.app
        (owner,) = listener(socket_info(name='cweb'), 8100)['owners']
        assert owner['container'] == 'cweb'

    def test_namespace_exec(self, containerd):
        lab = containerd[1]
        assert exec_in(['cat', '/proc/1/cmdline'], name='cweb')['stdout'].startswith('httpd')
        assert exec_in(['cat', '/proc/1/cmdline'], container_id=lab.app_id[:12])['stdout'].startswith('httpd')
        result = exec_in(['ip', 'link'], pod_uid=lab.uid)   # the pod's shared net/ipc/uts, host tools
        assert 'lo' in result['stdout'] and sorted(result['namespaces_entered']) == ['ipc', 'net', 'uts']

    def test_playbooks(self, containerd, tmp_path):
        lab = containerd[1]
        rc, out = playbook(tmp_path, 'locate_container.yml', {'container_name': 'cweb'})
        assert rc == 0 and 'containerd container cweb' in out, out
        rc, out = playbook(tmp_path, 'troubleshoot_container.yml', {'pod_uid': lab.uid})
        assert rc == 0 and '8101' in out, out


# ---------------------------------------------------------------------------- LXC

@pytest.fixture(scope='class')
def lxc(tmp_path_factory):
    def setup(engine):
        info = engine.create('nsops-lweb', '/bin/httpd -p 8110 -h /www')
        monitor = _pids_of_cgroup('lxc.monitor.nsops-lweb')
        return Lab(name='nsops-lweb', pid=int(info['PID']), monitor=monitor)
    engine, lab = start(LxcEngine, tmp_path_factory, setup)
    yield engine, lab
    stop(engine)


def _pids_of_cgroup(top):
    for base in ('/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/pids'):
        path = os.path.join(base, top, 'cgroup.procs')
        if os.path.exists(path):
            with open(path) as handle:
                return [int(word) for word in handle.read().split()]
    return []


class TestLxc(object):
    ENGINE = 'lxc'

    def test_listing(self, lxc):
        engine, lab = lxc
        record = [r for r in locate(runtime='lxc')['containers'] if r['name'] == lab.name][0]
        assert record['init_pid'] == int(engine.info(lab.name)['PID'])
        assert record['cgroup'] == '/lxc.payload.' + lab.name

    def test_by_id(self, lxc):
        with pytest.raises(ContainerError) as exc:
            locate(id='abc', runtime='lxc')
        assert 'select them with name' in exc.value.msg

    def test_by_name(self, lxc):
        assert one(name=lxc[1].name)['init_pid'] == lxc[1].pid

    def test_by_host_pid(self, lxc):
        assert one(pid=lxc[1].pid)['name'] == lxc[1].name

    def test_by_inner_pid(self, lxc):
        assert locate(pid=1, pid_namespace_of=lxc[1].name)['host_pid'] == lxc[1].pid

    def test_monitor(self, lxc):
        lab = lxc[1]
        (monitor,) = lab.monitor
        record = one(name=lab.name)
        assert record['monitor']['pids'] == [monitor] and record['monitor']['cgroup'] == '/lxc.monitor.' + lab.name
        assert_monitor(record, monitor, comm(monitor))

    def test_verified(self, lxc):
        assert one(name=lxc[1].name)['verified']

    def test_socket_info(self, lxc):
        result = socket_info(name=lxc[1].name)
        (ns,) = result['namespaces']
        assert ns['containers'] == [lxc[1].name]
        (owner,) = listener(result, 8110)['owners']
        assert owner['container'] == lxc[1].name

    def test_namespace_exec(self, lxc):
        lab = lxc[1]
        for selector in ({'name': lab.name}, {'name': lab.name, 'runtime': 'lxc'}, {'pid': lab.pid}):
            assert exec_in(['hostname'], **selector)['stdout'] == lab.name, selector

    def test_playbooks(self, lxc, tmp_path):
        lab = lxc[1]
        rc, out = playbook(tmp_path, 'locate_container.yml', {'container_name': lab.name})
        assert rc == 0 and 'lxc container ' + lab.name in out, out
        rc, out = playbook(tmp_path, 'troubleshoot_container.yml', {'container_name': lab.name})
        assert rc == 0 and '8110' in out, out
        rc, out = playbook(tmp_path, 'troubleshoot_container.yml', {'container_name': 'nsops-nosuch'})
        assert rc != 0 and 'nsops-nosuch' in out, out


# ---------------------------------------------------------------------------- systemd-nspawn

@pytest.fixture(scope='class')
def nspawn(tmp_path_factory):
    def setup(engine):
        supervisor, payload = engine.boot('nsops-nweb', ['/bin/httpd', '-f', '-p', '8120', '-h', '/www'])
        return Lab(name='nsops-nweb', supervisor=supervisor, payload=payload)
    engine, lab = start(NspawnEngine, tmp_path_factory, setup)
    yield engine, lab
    stop(engine)


class TestNspawn(object):
    ENGINE = 'systemd-nspawn'

    def test_listing(self, nspawn):
        record = [r for r in locate(runtime='systemd-nspawn')['containers'] if r['name'] == nspawn[1].name][0]
        assert record['pids'] == [nspawn[1].payload] and record['init_pid'] == nspawn[1].payload

    def test_by_name(self, nspawn):
        assert one(name=nspawn[1].name, runtime='systemd-nspawn')['init_pid'] == nspawn[1].payload

    def test_by_host_pid(self, nspawn):
        assert one(pid=nspawn[1].payload)['name'] == nspawn[1].name

    def test_by_inner_pid(self, nspawn):
        assert locate(pid=1, pid_namespace_of=nspawn[1].name)['host_pid'] == nspawn[1].payload

    def test_monitor(self, nspawn):
        lab = nspawn[1]
        record = one(name=lab.name)
        assert record['monitor']['cgroup'].endswith('/machine-%s.scope/supervisor' % lab.name)
        assert_monitor(record, lab.supervisor, 'systemd-nspawn')

    def test_verified(self, nspawn):
        record = one(name=nspawn[1].name)
        assert record['verified'], [p['mismatches'] for p in record['processes']]

    def test_socket_info(self, nspawn):
        result = socket_info(name=nspawn[1].name)
        (ns,) = result['namespaces']
        assert ns['containers'] == [nspawn[1].name]
        (owner,) = listener(result, 8120)['owners']
        assert owner['container'] == nspawn[1].name and owner['pid'] == nspawn[1].payload

    def test_namespace_exec(self, nspawn):
        lab = nspawn[1]
        for selector in ({'name': lab.name}, {'name': lab.name, 'runtime': 'systemd-nspawn'}, {'pid': lab.payload}):
            assert exec_in(['hostname'], **selector)['stdout'] == lab.name, selector

    def test_playbooks(self, nspawn, tmp_path):
        rc, out = playbook(tmp_path, 'locate_container.yml', {'container_name': nspawn[1].name})
        assert rc == 0 and 'systemd-nspawn container ' + nspawn[1].name in out, out
        rc, out = playbook(tmp_path, 'troubleshoot_container.yml', {'container_name': nspawn[1].name})
        assert rc == 0 and '8120' in out, out


# ---------------------------------------------------------------------------- crun

@pytest.fixture(scope='class')
def crun(tmp_path_factory):
    def setup(engine):
        uid, cid = str(uuid.uuid4()), random_hex()
        state = engine.run(cid, ['httpd', '-f', '-p', '8130', '-h', '/www'],
                           '/kubepods/besteffort/pod%s/%s' % (uid, cid))
        return Lab(uid=uid, id=cid, pid=state['pid'])
    engine, lab = start(CrunEngine, tmp_path_factory, setup)
    yield engine, lab
    stop(engine)


class TestCrun(object):
    ENGINE = 'crun'

    def test_listing(self, crun):
        engine, lab = crun
        record = one(pod_uid=lab.uid)
        assert record['id'] == lab.id and record['init_pid'] == engine.state_of(lab.id)['pid']

    def test_by_id(self, crun):
        assert one(id=crun[1].id)['init_pid'] == crun[1].pid

    def test_by_prefix(self, crun):
        assert one(id=crun[1].id[:14])['init_pid'] == crun[1].pid

    def test_by_host_pid(self, crun):
        assert one(pid=crun[1].pid)['id'] == crun[1].id

    def test_by_inner_pid(self, crun):
        assert locate(pid=1, pid_namespace_of=crun[1].id[:12])['host_pid'] == crun[1].pid

    def test_monitor(self, crun):
        # crun leaves no monitor behind: the init is reparented to PID 1 and none is reported
        record = one(id=crun[1].id)
        assert ppid(crun[1].pid) == 1 and record['monitor'] is None and record['monitor_pid'] is None

    def test_verified(self, crun):
        assert one(id=crun[1].id)['verified']

    def test_socket_info(self, crun):
        (owner,) = listener(socket_info(pod_uid=crun[1].uid), 8130)['owners']
        assert owner['container'] == crun[1].id

    def test_namespace_exec(self, crun):
        result = exec_in(['cat', '/proc/1/cmdline'], container_id=crun[1].id[:12])
        assert result['stdout'].startswith('httpd') and result['pid'] == crun[1].pid
