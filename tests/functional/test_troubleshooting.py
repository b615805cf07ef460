# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""namespace_exec and socket_info against real runc containers and network namespaces, as root.

The lab: a container at Docker's cgroupfs path running busybox ``nc -l -p 8080``, a
container with its own user namespace, a Kubernetes-style pod (pause + app sharing
net/ipc/uts), an ``ip netns add`` namespace no process is in that holds a listening
socket made by a process of the host's namespace, and short-lived targets that are
killed between the lookup and the exec.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import PYTHON, REPO, run_playbook, task_results
from nslab import NamespaceLab, children, wait_for

sys.path.insert(0, os.path.join(REPO, 'tests'))
from lab.containers import RuncLab, docker_cgroupfs_path, random_container_id  # noqa: E402

from ansible_collections.nsops.namespaces.plugins.module_utils._nsexec import engine as nsexec  # noqa: E402
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.locator import ContainerLocator  # noqa: E402
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import (  # noqa: E402
    ContainerLookupError, Selector,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._sockets.engine import Query, socket_info  # noqa: E402
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import NS_TYPES, ProcRoot  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which('runc') is None, reason='runc is not installed')

# Holds a listening TCP socket created inside the netns at argv[1], from the host's netns.
SOCKET_HOLDER = r'''
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
home = os.open('/proc/self/ns/net', os.O_RDONLY)
target = os.open(sys.argv[1], os.O_RDONLY)
assert libc.setns(target, 0x40000000) == 0
os.system('ip link set lo up')
server = socket.socket()
server.bind(('127.0.0.1', 9090))
server.listen()
assert libc.setns(home, 0x40000000) == 0
print('ready', server.fileno(), flush=True)
time.sleep(3600)
'''


def ns_inode(pid, nstype):
    return os.stat('/proc/%d/ns/%s' % (pid, nstype)).st_ino


def own_links():
    return dict((t, os.readlink('/proc/self/ns/' + t)) for t in NS_TYPES)


def nspid(pid):
    with open('/proc/%d/status' % pid) as handle:
        for line in handle:
            if line.startswith('NSpid:'):
                return [int(x) for x in line.split()[1:]]
    return None


def pids_in_pid_namespace(inode):
    """Live (not zombie) processes of a PID namespace."""
    found = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                if os.stat('/proc/%s/ns/pid' % name).st_ino != inode:
                    continue
                with open('/proc/%s/stat' % name) as handle:
                    state = handle.read().rsplit(')', 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in ('Z', 'X'):
                found.append(int(name))
    return sorted(found)


def my_children():
    return children(os.getpid())


class Lab:
    pass


@pytest.fixture(scope='module')
def lab():
    with RuncLab() as runc, NamespaceLab() as nslab:
        setup = Lab()
        setup.runc = runc
        setup.nslab = nslab
        cid = random_container_id()
        setup.web = runc.run('web', ['nc', '-l', '-p', '8080'], cgroups_path=docker_cgroupfs_path(cid),
                             hostname='web-ctr', container_id=cid)
        uid = random_container_id()
        setup.userns = runc.run('userns', ['sleep', '100000'], cgroups_path=docker_cgroupfs_path(uid),
                                container_id=uid, extra_namespaces=['user'])
        setup.pod = runc.pod(layout='cgroupfs', name='troublepod')
        setup.netns_name, setup.netns_path = nslab.netns_add()
        setup.holder = nslab.spawn([PYTHON, '-c', SOCKET_HOLDER, setup.netns_path])
        line = setup.holder.stdout.readline().split()
        assert line and line[0] == 'ready', 'socket holder did not start'
        setup.holder_fd = int(line[1])
        wait_for(lambda: _listening(setup.web.pid, 8080), what='nc listening in the container')
        yield setup


def _listening(pid, port):
    """busybox nc listens dual-stack, on [::]:PORT."""
    with open('/proc/%d/net/tcp6' % pid) as handle:
        return any(line.split()[1].endswith(':%04X' % port) and line.split()[3] == '0A'
                   for line in handle.read().splitlines()[1:])


# ---------------------------------------------------------------------------- socket_info

def test_socket_info_by_container_shows_its_listener_and_nothing_of_the_host(lab):
    before = own_links()
    result = socket_info('/proc', Query({'container_id': lab.web.id[:12]}))
    assert own_links() == before
    web_net = 'net:[%d]' % ns_inode(lab.web.pid, 'net')
    assert [ns['ref'] for ns in result['namespaces']] == [web_net]
    assert result['namespaces'][0]['container'] == lab.web.id
    assert result['sockets'] and all(row['netns'] == web_net for row in result['sockets'])
    (listener,) = [row for row in result['sockets'] if row['listening'] and row['protocol'] == 'tcp']
    assert (listener['local_address'], listener['local_port'], listener['state']) == ('::', 8080, 'listen')
    assert listener['family'] == 'ipv6'
    assert listener['container'] == lab.web.id
    assert [(o['pid'], o['comm'], o['inner_pid'], o['container']) for o in listener['owners']] == [
        (lab.web.pid, 'nc', 1, lab.web.id)]


def test_socket_info_everywhere_labels_containers_and_reads_a_processless_netns(lab):
    result = socket_info('/proc', Query({'protocols': ['tcp'], 'state': ['listen']}))
    namespaces = dict((ns['inode'], ns) for ns in result['namespaces'])
    web = namespaces[ns_inode(lab.web.pid, 'net')]
    assert web['container'] == lab.web.id and web['read_from']['pid'] is not None
    pod = namespaces[ns_inode(lab.pod.pause.pid, 'net')]
    assert pod['container'] == lab.pod.pause.id
    assert sorted(pod['containers']) == sorted([lab.pod.pause.id, lab.pod.app.id])
    assert namespaces[os.stat('/proc/self/ns/net').st_ino]['container'] is None
    # The ip-netns namespace: no process, read through its bind mount; its listener is held
    # by a process of the host's namespace.
    netns = namespaces[os.stat(lab.netns_path).st_ino]
    assert netns['nprocs'] == 0 and netns['read_from'] == {'pid': None, 'path': lab.netns_path}
    assert netns['bind_mounts'] == [lab.netns_path]
    (row,) = [r for r in result['sockets'] if r['netns'] == netns['ref']]
    assert (row['local_address'], row['local_port']) == ('127.0.0.1', 9090)
    (owner,) = row['owners']
    assert (owner['pid'], owner['fd']) == (lab.holder.pid, lab.holder_fd)
    assert owner['netns'] == 'net:[%d]' % ns_inode(lab.holder.pid, 'net') != row['netns']


def test_socket_info_module_by_pod_and_port(lab, tmp_path):
    rc, result = run_playbook(tmp_path, '''
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: sockets of the pod
              nsops.namespaces.socket_info:
                pod_uid: "{{ pod_uid }}"
            - name: port 8080 anywhere
              nsops.namespaces.socket_info:
                port: [8080]
                protocols: [tcp]
    ''', extra_vars={'pod_uid': lab.pod.uid})
    assert rc == 0, result
    pod = task_results(result, 'sockets of the pod')
    assert pod['changed'] is False
    assert [ns['container'] for ns in pod['namespaces']] == [lab.pod.pause.id]
    anywhere = task_results(result, 'port 8080 anywhere')
    assert lab.web.id in [row['container'] for row in anywhere['sockets']]


# ---------------------------------------------------------------------------- namespace_exec

def test_namespace_exec_by_container_id_sees_the_containers_world(lab, tmp_path):
    host_links = subprocess.run(['ip', '-o', 'link'], capture_output=True, text=True, check=True).stdout
    rc, result = run_playbook(tmp_path, '''
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: hostname
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: hostname
                read_only: true
            - name: ip addr
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [ip, addr]
                read_only: true
            - name: pid 1
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid[:12] }}"
                command: [cat, /proc/1/cmdline]
                read_only: true
            - name: own pid
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [sh, -c, 'echo $$; readlink /proc/self/ns/pid; id -u']
            - name: stdin and chdir
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [sh, -c, 'pwd; cat > /tmp/probe; cat /tmp/probe']
                chdir: /tmp
                stdin: from the host
    ''', extra_vars={'cid': lab.web.id})
    assert rc == 0, result
    hostname = task_results(result, 'hostname')
    assert hostname['stdout'] == 'web-ctr' and hostname['changed'] is False
    assert hostname['pid'] == lab.web.pid and hostname['container_id'] == lab.web.id
    assert sorted(hostname['namespaces_entered']) == ['ipc', 'mnt', 'net', 'pid', 'uts']
    assert hostname['namespaces_entered']['net'] == ns_inode(lab.web.pid, 'net')
    addr = task_results(result, 'ip addr')
    assert ' lo: ' in addr['stdout'] and '127.0.0.1/8' in addr['stdout']
    container_links = [line.split(':')[1].strip() for line in addr['stdout_lines'] if line[:1].isdigit()]
    assert container_links == ['lo']
    assert len(host_links.splitlines()) > 1          # the host has more than lo
    pid1 = task_results(result, 'pid 1')
    assert pid1['stdout'].split('\x00')[:4] == ['nc', '-l', '-p', '8080']
    own = task_results(result, 'own pid')
    inner, pid_ns, uid = own['stdout_lines']
    assert own['changed'] is True
    assert int(inner) == own['command_pid'] and own['command_pid'] > 1
    assert pid_ns == 'pid:[%d]' % ns_inode(lab.web.pid, 'pid') and uid == '0'
    assert own['command_host_pid'] != own['command_pid']
    assert task_results(result, 'stdin and chdir')['stdout_lines'] == ['/tmp', 'from the host']
    # nothing of ours is left in the container
    assert pids_in_pid_namespace(ns_inode(lab.web.pid, 'pid')) == [lab.web.pid]


def test_command_pid_is_inside_the_containers_pid_namespace_while_it_runs(lab):
    target = nsexec.open_process_target(ProcRoot('/proc'), lab.web.pid)
    before = own_links()
    seen = {}

    def probe():
        # runs in the module process while the command sleeps
        deadline = time.time() + 10
        while time.time() < deadline:
            pids = [p for p in pids_in_pid_namespace(ns_inode(lab.web.pid, 'pid')) if p != lab.web.pid]
            if pids:
                seen['nspid'] = nspid(pids[0])
                return
            time.sleep(0.02)

    import threading
    thread = threading.Thread(target=probe)
    thread.start()
    try:
        completed = nsexec.run_command(target, nsexec.Command(['sleep', '1'], {'PATH': nsexec.DEFAULT_PATH}))
    finally:
        thread.join()
        target.close()
    assert completed.rc == 0 and own_links() == before
    assert seen['nspid'] == [completed.host_pid, completed.inner_pid]


def test_user_namespace_is_entered_as_its_root(lab, tmp_path):
    rc, result = run_playbook(tmp_path, '''
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: as root of the user namespace
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [sh, -c, 'id -u; id -g; cat /proc/self/uid_map; touch /tmp/made && echo made']
    ''', extra_vars={'cid': lab.userns.id})
    assert rc == 0, result
    run = task_results(result, 'as root of the user namespace')
    assert 'user' in run['namespaces_entered']
    lines = run['stdout_lines']
    assert lines[0] == '0' and lines[1] == '0' and lines[2].split() == ['0', '100000', '65536'] and lines[3] == 'made'


def test_pod_uid_alone_enters_what_the_pod_shares_with_host_tools(lab, tmp_path):
    rc, result = run_playbook(tmp_path, '''
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: pod network with the host's tools
              nsops.namespaces.namespace_exec:
                pod_uid: "{{ pod_uid }}"
                command: [sh, -c, 'hostname; readlink /proc/self/ns/mnt; ip -o link | wc -l']
                read_only: true
            - name: pod mnt is not shared
              nsops.namespaces.namespace_exec:
                pod_uid: "{{ pod_uid }}"
                namespaces: [net, mnt]
                command: 'true'
              ignore_errors: true
    ''', extra_vars={'pod_uid': lab.pod.uid})
    assert rc == 0, result
    run = task_results(result, 'pod network with the host\'s tools')
    assert sorted(run['namespaces_entered']) == ['ipc', 'net', 'uts']
    assert run['container_id'] == lab.pod.pause.id and run['pod_uid'] == lab.pod.uid
    hostname, mnt, links = run['stdout_lines']
    assert hostname == 'troublepod' and mnt == os.readlink('/proc/self/ns/mnt') and links == '1'
    refused = task_results(result, 'pod mnt is not shared')
    assert refused['failed'] and 'each have their own mnt namespace' in refused['msg']
    assert lab.pod.app.id[:12] in refused['msg'] and lab.pod.pause.id[:12] in refused['msg']


def test_processless_netns_entered_by_path(lab, tmp_path):
    rc, result = run_playbook(tmp_path, '''
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: by path
              nsops.namespaces.namespace_exec:
                namespace_files: ["{{ path }}"]
                command: [sh, -c, 'ip -o link; cat /proc/net/tcp']
                read_only: true
    ''', extra_vars={'path': lab.netns_path})
    assert rc == 0, result
    run = task_results(result, 'by path')
    assert run['namespaces_entered'] == {'net': os.stat(lab.netns_path).st_ino} and run['pid'] is None
    assert run['stdout_lines'][0].split(':')[1].strip() == 'lo'
    assert ':2382 00000000:0000 0A' in run['stdout']      # 127.0.0.1:9090 LISTEN of the holder


def test_check_mode_runs_nothing_unless_read_only(lab, tmp_path):
    play = '''
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: would write
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [touch, /tmp/checkmode-marker]
            - name: look
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [sh, -c, 'ls /tmp/checkmode-marker 2>/dev/null || echo absent']
                read_only: true
    '''
    rc, result = run_playbook(tmp_path, play, extra_vars={'cid': lab.web.id}, check=True)
    assert rc == 0, result
    would = task_results(result, 'would write')
    assert would['changed'] is True and 'not run in check mode' in would['msg'] and 'rc' not in would
    assert task_results(result, 'look')['stdout'] == 'absent'


def test_timeout_inside_a_container_leaves_nothing(lab, tmp_path):
    rc, result = run_playbook(tmp_path, '''
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: too slow
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [sh, -c, 'sleep 100 & sleep 100']
                timeout: 1
              ignore_errors: true
    ''', extra_vars={'cid': lab.web.id})
    assert rc == 0, result
    slow = task_results(result, 'too slow')
    assert slow['failed'] and slow['timed_out'] is True and slow['rc'] == -9
    assert 'did not finish within its timeout (1 s)' in slow['msg']
    # Killed with their process group; the background sleep, orphaned inside, stays a zombie
    # until the container's init reaps it (busybox nc never does: that is the container's job).
    wait_for(lambda: pids_in_pid_namespace(ns_inode(lab.web.pid, 'pid')) == [lab.web.pid],
             what='the timed-out commands to be gone')


# ---------------------------------------------------------------------------- the target exits

def _short_lived(lab, name):
    cid = random_container_id()
    return lab.runc.run(name, ['sleep', '100000'], cgroups_path=docker_cgroupfs_path(cid), container_id=cid)


def _kill_container(lab, container):
    """SIGKILL, reap (the lab adopts container inits) and delete the container."""
    lab.runc.remove(container)
    assert not container.alive()


def test_target_exits_after_lookup_before_open(lab):
    container = _short_lived(lab, 'gone-early')
    params = {'proc_root': '/proc', 'namespaces': None, 'namespace_files': None, 'pid': None, 'root': False,
              'container_id': container.id, 'pod_uid': None}
    record = ContainerLocator().locate(Selector.from_params({'id': container.id}))['containers'][0]
    _kill_container(lab, container)
    before = my_children()
    with pytest.raises(nsexec.TargetGone) as exc:
        nsexec.open_process_target(ProcRoot('/proc'), record['init_pid'], None,
                                   record['processes'][0]['starttime'])
    assert 'exited' in str(exc.value) or 'no process with PID' in str(exc.value)
    with pytest.raises((nsexec.TargetGone, ContainerLookupError)) as exc:
        nsexec.resolve_target(params)
    assert 'no running process' in str(exc.value) or 'no container' in str(exc.value)
    assert set(my_children()) <= set(before)


def test_target_exits_between_open_and_exec(lab):
    container = _short_lived(lab, 'gone-late')
    fds_before = sorted(os.listdir('/proc/self/fd'))
    children_before = my_children()
    target = nsexec.open_process_target(ProcRoot('/proc'), container.pid)
    try:
        _kill_container(lab, container)
        with pytest.raises(nsexec.TargetGone) as exc:
            nsexec.run_command(target, nsexec.Command(['hostname'], {'PATH': nsexec.DEFAULT_PATH}))
    finally:
        target.close()
    assert 'exited before the command could start' in str(exc.value)
    assert set(my_children()) <= set(children_before)
    assert sorted(os.listdir('/proc/self/fd')) == fds_before


def test_target_exits_between_open_and_exec_through_the_pid_namespace(lab):
    # Only the PID namespace is entered, and its init is gone: the fork in it fails.
    container = _short_lived(lab, 'gone-pidns')
    target = nsexec.open_process_target(ProcRoot('/proc'), container.pid, ['pid'])
    target.proc_fd, proc_fd = None, target.proc_fd    # skip the liveness check: reach the fork
    try:
        _kill_container(lab, container)
        with pytest.raises(nsexec.TargetGone) as exc:
            nsexec.run_command(target, nsexec.Command(['true'], {'PATH': nsexec.DEFAULT_PATH}))
    finally:
        target.close()
        os.close(proc_fd)
    assert 'PID namespace has no init process any more' in str(exc.value)


# ---------------------------------------------------------------------------- bad input

def test_bad_input_gives_clear_messages_and_no_traceback(lab, tmp_path):
    gone = subprocess.Popen(['true'])
    gone.wait()
    rc, result = run_playbook(tmp_path, '''
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: shell with a list
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [ip, addr]
                shell: true
              ignore_errors: true
            - name: no such pid
              nsops.namespaces.namespace_exec:
                pid: "{{ gone }}"
                command: [hostname]
              ignore_errors: true
            - name: unknown type
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                namespaces: [net, network]
                command: [hostname]
              ignore_errors: true
            - name: zero timeout
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [hostname]
                timeout: 0
              ignore_errors: true
            - name: negative timeout
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [hostname]
                timeout: -3
              ignore_errors: true
            - name: not in the container
              nsops.namespaces.namespace_exec:
                container_id: "{{ cid }}"
                command: [bash, -c, 'true']
              ignore_errors: true
            - name: unknown socket state
              nsops.namespaces.socket_info:
                state: [open]
              ignore_errors: true
    ''', extra_vars={'cid': lab.web.id, 'gone': gone.pid})
    assert rc == 0, result
    expected = {
        'shell with a list': 'shell: true runs a command line through /bin/sh -c and needs command as one string',
        'no such pid': 'no process with PID %d on this host' % gone.pid,
        'unknown type': 'value of namespaces must be one or more of: cgroup, ipc, mnt, net, pid, time, user, uts',
        'zero timeout': 'timeout must be more than 0 seconds, got 0',
        'negative timeout': 'timeout must be more than 0 seconds, got -3',
        'not in the container': "command 'bash' not found inside the target",
        'unknown socket state': 'value of state must be one or more of',
    }
    for name, message in expected.items():
        task = task_results(result, name)
        assert task['failed'] is True, name
        assert message in task['msg'], (name, task['msg'])
        assert 'Traceback' not in task.get('module_stderr', '') + task.get('exception', ''), name


# ---------------------------------------------------------------------------- the playbook

def test_troubleshoot_container_playbook_reports_and_writes_json(lab, tmp_path):
    with open(os.path.join(REPO, 'playbooks', 'troubleshoot_container.yml')) as handle:
        playbook = handle.read()
    out = tmp_path / 'out'
    diagnostics = [
        {'name': 'addresses', 'command': ['ip', 'addr']},
        {'name': 'hostname', 'command': ['hostname']},
        {'name': 'missing file', 'command': ['cat', '/etc/nsops-absent'], 'only_if_exists': '/etc/nsops-absent'},
        {'name': 'missing tool', 'command': ['nsops-no-such-tool']},
    ]
    rc, result = run_playbook(tmp_path, playbook, extra_vars={
        'container_id': lab.web.id[:12], 'troubleshoot_dir': str(out), 'troubleshoot_diagnostics': diagnostics})
    assert rc == 0, result
    report = '\n'.join(task_results(result, 'Show the report')['msg'])
    assert 'docker container %s' % lab.web.id in report
    assert '%9s  %9s  nc -l -p 8080' % (1, lab.web.pid) in report
    assert 'tcp6  [::]:8080' in report and 'nc (PID 1 inside, %d on the host)' % lab.web.pid in report
    assert 'web-ctr' in report and 'skipped: no /etc/nsops-absent in the container' in report
    assert "FAILED: command 'nsops-no-such-tool' not found inside the target" in report
    with open(str(out / ('localhost-%s.json' % lab.web.id[:12]))) as handle:
        artifact = json.load(handle)
    assert artifact['selector'] == {'container_id': lab.web.id[:12]}
    assert [c['id'] for c in artifact['containers']] == [lab.web.id]
    assert [(s['local_port'], s['owners'][0]['pid']) for s in artifact['sockets'] if s['listening']] == [
        (8080, lab.web.pid)]
    runs = dict((d['name'], d) for d in artifact['diagnostics'])
    assert runs['hostname']['stdout'] == 'web-ctr' and runs['hostname']['rc'] == 0
    assert runs['missing file']['skipped'] is True and runs['missing tool']['error']
    assert runs['addresses']['command_pid'] > 1


def test_troubleshoot_container_playbook_fails_when_no_host_runs_it(tmp_path):
    with open(os.path.join(REPO, 'playbooks', 'troubleshoot_container.yml')) as handle:
        playbook = handle.read()
    rc, result = run_playbook(tmp_path, playbook, extra_vars={'container_id': 'abcdef0123',
                                                              'troubleshoot_dir': str(tmp_path / 'out')})
    # No host runs it: the run fails and says what was searched (it used to end silently, rc 0).
    assert rc != 0, result
    failed = task_results(result, 'Fail when no host runs it')
    assert 'container_id abcdef0123 runs on no host' in failed['msg'], failed
    assert not (tmp_path / 'out').exists()
