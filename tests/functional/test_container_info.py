# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""container_info against real runc containers (tests/lab), as root.

Containers: a plain one at Docker's cgroupfs path, one at the Kubernetes systemd-style
path, one at the cgroupfs-style path, and a pod (pause + app joining its net/ipc/uts)
with an extra process added by ``runc exec``. Each is looked up by ID, ID prefix, pod
UID, host PID and inner PID, in-process and through ansible / ansible-playbook.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from conftest import BIN_DIR, COLLECTIONS, PYTHON, REPO, ansible_env, run_playbook, task_results

sys.path.insert(0, os.path.join(REPO, 'tests'))
from lab.containers import (  # noqa: E402  (tests/ is not a package on sys.path by default)
    RuncLab,
    cgroup_hierarchies,
    docker_cgroupfs_path,
    kube_cgroupfs_path,
    kube_systemd_path,
    random_container_id,
)

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.cgroups import identify_cgroup_text  # noqa: E402
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.locator import ContainerLocator  # noqa: E402
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import (  # noqa: E402
    ContainerLookupError,
    Selector,
)

pytestmark = pytest.mark.skipif(shutil.which('runc') is None, reason='runc is not installed')


def locate(**selectors):
    return ContainerLocator().locate(Selector.from_params(selectors))


def only(result):
    assert len(result['containers']) == 1, result
    return result['containers'][0]


def nspid(pid):
    with open('/proc/%d/status' % pid) as handle:
        for line in handle:
            if line.startswith('NSpid:'):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError('no NSpid for %d' % pid)


def read_procs(directory):
    with open(os.path.join(directory, 'cgroup.procs')) as handle:
        return set(int(p) for p in handle.read().split())


def cgroup_procs(container):
    """The PIDs in the container's cgroup.procs, in every hierarchy (must all agree)."""
    found = set()
    for directory in container.cgroup_dirs().values():
        with open(os.path.join(directory, 'cgroup.procs')) as handle:
            pids = set(int(p) for p in handle.read().split())
        found = found or pids
        assert pids == found, directory
    return sorted(found)


class Lab:
    pass


@pytest.fixture(scope='module')
def lab():
    with RuncLab() as runc_lab:
        setup = Lab()
        setup.runc = runc_lab
        cid = random_container_id()
        setup.plain = runc_lab.run('plain', ['sleep', '100000'], cgroups_path=docker_cgroupfs_path(cid),
                                   container_id=cid)
        setup.kube_uid = str(uuid.uuid4())
        cid = random_container_id()
        setup.kube_systemd = runc_lab.run('ksys', ['sleep', '100000'], container_id=cid,
                                          cgroups_path=kube_systemd_path(setup.kube_uid, 'burstable', cid))
        setup.cgroupfs_uid = str(uuid.uuid4())
        cid = random_container_id()
        setup.kube_cgroupfs = runc_lab.run('kfs', ['sleep', '100000'], container_id=cid,
                                           cgroups_path=kube_cgroupfs_path(setup.cgroupfs_uid, 'guaranteed', cid))
        setup.pod = runc_lab.pod(layout='systemd', qos='besteffort')
        setup.exec_pid = runc_lab.exec(setup.pod.app, ['sleep', '99999'])
        yield setup
        leftovers_before = runc_lab.leftovers()
    assert runc_lab.leftovers() == [], leftovers_before


def _single_containers(lab):
    return [('plain', lab.plain, None, None), ('kube_systemd', lab.kube_systemd, lab.kube_uid, 'burstable'),
            ('kube_cgroupfs', lab.kube_cgroupfs, lab.cgroupfs_uid, 'guaranteed')]


# ---------------------------------------------------------------------------- in-process

def test_each_container_is_found_by_id_prefix_and_host_pid(lab):
    for label, container, pod_uid, qos in _single_containers(lab):
        by_id = only(locate(id=container.id))
        assert only(locate(id=container.id[:12]))['id'] == container.id, label
        assert only(locate(id=container.id[:5].upper()))['id'] == container.id, label
        assert only(locate(pid=container.pid))['id'] == container.id, label
        state = lab.runc.state(container)
        assert by_id['init_pid'] == state['pid'], label
        assert by_id['pids'] == cgroup_procs(container) == [state['pid']], label
        assert by_id['verified'] is True, by_id
        assert by_id['state'] == 'running'
        assert (by_id['pod_uid'], by_id['qos']) == (pod_uid, qos), label
        assert by_id['cgroup'] == container.cgroups_path
        assert set(by_id['cgroups'].values()) == set([container.cgroups_path])
        process = by_id['processes'][0]
        assert process['nspid'] == nspid(container.pid)
        assert process['inner_pid'] == nspid(container.pid)[-1] == 1
        assert process['cmdline'] == ['sleep', '100000']
        assert by_id['namespaces']['net'] == container.ns_inode('net')
        assert by_id['shared_with_containers'] == {}
        assert set(by_id['shared_with_host']) >= set(['cgroup', 'user'])
        assert 'net' not in by_id['shared_with_host']


def test_runtime_identity_of_each_layout(lab):
    assert only(locate(id=lab.plain.id))['runtime'] == 'docker'
    assert only(locate(id=lab.kube_systemd.id))['runtime'] == 'containerd'
    assert only(locate(id=lab.kube_cgroupfs.id))['runtime'] == 'cri'
    assert only(locate(pod_uid=lab.kube_uid))['id'] == lab.kube_systemd.id
    assert only(locate(pod_uid=lab.cgroupfs_uid.replace('-', '_')))['id'] == lab.kube_cgroupfs.id


def test_pod_by_uid_with_exec_process_and_shared_namespaces(lab):
    pod = lab.pod
    result = locate(pod_uid=pod.uid)
    found = dict((c['id'], c) for c in result['containers'])
    assert sorted(found) == sorted([pod.pause.id, pod.app.id])
    pause, app = found[pod.pause.id], found[pod.app.id]
    for record, container in ((pause, pod.pause), (app, pod.app)):
        assert record['pod_uid'] == pod.uid and record['qos'] == 'besteffort'
        assert record['init_pid'] == lab.runc.state(container)['pid']
        assert record['pids'] == cgroup_procs(container)
        assert record['verified'] is True
        for process in record['processes']:
            assert process['inner_pid'] == nspid(process['pid'])[-1]
    # The exec'd process is in the app container, with its own inner PID.
    assert lab.exec_pid in app['pids']
    exec_process = [p for p in app['processes'] if p['pid'] == lab.exec_pid][0]
    assert exec_process['cmdline'] == ['sleep', '99999'] and exec_process['inner_pid'] > 1
    # The app joined the pause container's net, ipc and uts namespaces, nothing else.
    assert app['shared_with_containers'] == {'ipc': [pod.pause.id], 'net': [pod.pause.id], 'uts': [pod.pause.id]}
    assert pause['shared_with_containers'] == {'ipc': [pod.app.id], 'net': [pod.app.id], 'uts': [pod.app.id]}
    for nstype in ('net', 'ipc', 'uts'):
        assert app['namespaces'][nstype] == pod.pause.ns_inode(nstype)
    for nstype in ('pid', 'mnt'):
        assert app['namespaces'][nstype] != pause['namespaces'][nstype]


def test_inner_pid_translates_to_host_pid(lab):
    app = lab.pod.app
    inner = nspid(lab.exec_pid)[-1]
    result = locate(pid=inner, pid_namespace_of=app.id[:10])
    assert result['host_pid'] == lab.exec_pid
    assert locate(pid=1, pid_namespace_of=app.id)['host_pid'] == app.pid
    for label, container, dummy, dummy2 in _single_containers(lab):
        assert locate(pid=1, pid_namespace_of=container.id)['host_pid'] == container.pid, label
    with pytest.raises(ContainerLookupError) as exc:
        locate(pid=4000000, pid_namespace_of=app.id)
    assert 'no process with PID 4000000' in str(exc.value)


def test_host_pid_of_the_exec_process_and_of_a_host_process(lab):
    assert only(locate(pid=lab.exec_pid))['id'] == lab.pod.app.id
    with open('/proc/self/cgroup') as handle:
        ours = identify_cgroup_text(handle.read())[0]
    result = locate(pid=os.getpid())
    if ours is None:
        assert result['containers'] == [] and 'is in no container cgroup' in result['notes'][0]
    else:  # the tests themselves run in a container: it must be that one
        assert [c['id'] or c['name'] for c in result['containers']] == [ours.id or ours.name]


def test_listing_all_has_every_lab_container(lab):
    result = locate()
    ids = set(c['id'] for c in result['containers'])
    assert ids >= set([lab.plain.id, lab.kube_systemd.id, lab.kube_cgroupfs.id, lab.pod.pause.id, lab.pod.app.id])
    assert result['cgroup_namespace']['initial'] is True


def test_container_that_exits_is_reported_empty_not_fatal(lab):
    cid = random_container_id()
    victim = lab.runc.run('victim', ['sleep', '100000'], cgroups_path=docker_cgroupfs_path(cid), container_id=cid)
    os.kill(victim.pid, signal.SIGKILL)  # our own container's init, by PID
    deadline = time.time() + 10
    # While the process exits the hierarchies disagree for a moment: wait until all are empty.
    while any(read_procs(d) for d in victim.cgroup_dirs().values()) and time.time() < deadline:
        time.sleep(0.05)
    record = only(locate(id=victim.id))
    assert record['state'] == 'empty' and record['pids'] == [] and record['verified'] is False
    assert any('cgroup.procs is empty' in problem for problem in record['problems'])
    lab.runc.remove(victim)


CGROUP_NS_CODE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.locator import ContainerLocator
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import Selector
locator = ContainerLocator(join_initial_cgroup_namespace=sys.argv[3] == 'join')
print(json.dumps(locator.locate(Selector.from_params({'id': sys.argv[2]}))))
"""


def _in_new_cgroup_namespace(container_id, mode):
    """Run the locator in a process moved to a fresh cgroup and unshared from the host's cgroup namespace."""
    sub = '/nsops-cgns-%d' % os.getpid()
    dirs = []
    try:
        for hierarchy in cgroup_hierarchies():
            directory = hierarchy.dir_for(sub)
            os.mkdir(directory)
            dirs.append(directory)
            for name in ('cpuset.cpus', 'cpuset.mems'):  # an empty v1 cpuset takes no process
                path = os.path.join(directory, name)
                if os.path.exists(path):
                    with open(os.path.join(os.path.dirname(directory), name)) as handle:
                        value = handle.read()
                    with open(path, 'w') as handle:
                        handle.write(value)
        moves = ' '.join('echo $$ > %s/cgroup.procs;' % d for d in dirs)
        proc = subprocess.run(['sh', '-c', moves + ' exec unshare --cgroup "$@"', 'sh', PYTHON, '-I', '-c',
                               CGROUP_NS_CODE, COLLECTIONS, container_id, mode],
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    finally:
        for directory in reversed(dirs):
            for dummy in range(50):
                try:
                    os.rmdir(directory)
                    break
                except OSError:
                    time.sleep(0.05)


def test_outside_the_initial_cgroup_namespace_it_joins_the_initial_one(lab):
    result = _in_new_cgroup_namespace(lab.plain.id, 'join')
    assert result['cgroup_namespace']['initial'] is False
    assert result['cgroup_namespace']['joined_initial'] is True
    assert 'joined the initial one' in result['notes'][0]
    record = only(result)
    assert record['cgroup'] == lab.plain.cgroups_path
    assert record['pids'] == [lab.plain.pid] and record['verified'] is True


def test_outside_the_initial_cgroup_namespace_without_joining_it_says_so(lab):
    result = _in_new_cgroup_namespace(lab.plain.id, 'stay')
    assert result['cgroup_namespace']['initial'] is False
    assert result['cgroup_namespace']['joined_initial'] is False
    assert 'cgroup paths are relative to the module' in result['notes'][0]
    # The walk still finds the container below the mounts; its paths are relative now.
    record = only(result)
    assert record['pids'] == [lab.plain.pid]
    assert record['cgroup'].endswith(lab.plain.cgroups_path)


# ---------------------------------------------------------------------------- the real module

def test_ansible_adhoc_runs_the_module(lab):
    proc = subprocess.run(
        [os.path.join(BIN_DIR, 'ansible'), 'localhost', '-m', 'nsops.namespaces.container_info',
         '-a', 'id=%s' % lab.plain.id[:12], '-e', 'ansible_python_interpreter=%s' % PYTHON],
        env=ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS='1'),
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout[proc.stdout.index('{'):])
    result = data['plays'][0]['tasks'][0]['hosts']['localhost']
    assert [c['id'] for c in result['containers']] == [lab.plain.id]
    assert result['containers'][0]['pids'] == [lab.plain.pid]


def test_playbook_by_pod_uid_inner_pid_and_bad_input(lab, tmp_path):
    rc, result = run_playbook(tmp_path, """
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: By pod UID
              nsops.namespaces.container_info:
                pod_uid: "{{ pod_uid }}"
            - name: Inner PID
              nsops.namespaces.container_info:
                pid: 1
                pid_namespace_of: "{{ app_id }}"
            - name: Check mode
              nsops.namespaces.container_info:
                id: "{{ app_id }}"
              check_mode: true
            - name: Bad id
              nsops.namespaces.container_info:
                id: not-hex
              ignore_errors: true
            - name: Contradictory
              nsops.namespaces.container_info:
                pid: 1
                id: "{{ app_id }}"
              ignore_errors: true
            - name: Negative pid
              nsops.namespaces.container_info:
                pid: -1
              ignore_errors: true
    """, extra_vars={'pod_uid': lab.pod.uid, 'app_id': lab.pod.app.id})
    assert rc == 0
    pod = task_results(result, 'By pod UID')
    assert sorted(c['id'] for c in pod['containers']) == sorted([lab.pod.pause.id, lab.pod.app.id])
    assert task_results(result, 'Inner PID')['host_pid'] == lab.pod.app.pid
    check = task_results(result, 'Check mode')
    assert check['changed'] is False and check['containers'][0]['id'] == lab.pod.app.id
    for name, message in (('Bad id', "id 'not-hex' is not a container ID"),
                          ('Contradictory', 'cannot be combined with id'),
                          ('Negative pid', 'pid must be a positive integer')):
        failed = task_results(result, name)
        assert failed['failed'] is True and message in failed['msg'], failed
        # ansible-core 2.19 adds a placeholder 'exception' to every fail_json; no real traceback.
        assert 'Traceback' not in failed.get('exception', '') + failed['msg']


def test_locate_container_playbook(lab, tmp_path):
    playbook = os.path.join(REPO, 'playbooks', 'locate_container.yml')
    inventory = tmp_path / 'inventory.yml'
    inventory.write_text('all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
                         '      ansible_python_interpreter: %s\n' % PYTHON)
    for extra in ({'container_id': lab.pod.app.id[:12]}, {'pod_uid': lab.pod.uid}):
        proc = subprocess.run(
            [os.path.join(BIN_DIR, 'ansible-playbook'), '-i', str(inventory), playbook, '-e', json.dumps(extra)],
            env=ansible_env(ANSIBLE_STDOUT_CALLBACK='default'), capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert lab.pod.app.id in proc.stdout
        assert str(lab.exec_pid) in proc.stdout
    proc = subprocess.run(
        [os.path.join(BIN_DIR, 'ansible-playbook'), '-i', str(inventory), playbook],
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK='default'), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0 and 'container_id' in proc.stdout
