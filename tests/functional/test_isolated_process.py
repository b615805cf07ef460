# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""isolated_process on real namespaces, driven through ansible-playbook, as root.

Every test works below its own state directory, cgroup parent and names, reads the
kernel's view (/proc, nsenter, cgroup files, mountinfo) to check the module, and
ends every process it caused by PID. A session-wide safety net stops whatever a
failed test left: processes of records (only when PID and starttime match), mounts
below the temporary directory and cgroups below the test's cgroup parent.

ansible-playbook is taken from $NSOPS_ANSIBLE_BIN_DIR or the repository's .venv/bin;
the collection is found through a temporary collections directory linking to the
repository, so no prepared checkout is needed.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NS_TYPES = ('cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts')
DEFAULT_DECLARED = {'pid', 'mnt', 'uts', 'ipc', 'net'}
RUN_TIMEOUT = 180

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='isolated_process tests need root')


def ansible_bin_dir():
    for candidate in (os.environ.get('NSOPS_ANSIBLE_BIN_DIR'), os.path.join(REPO, '.venv', 'bin')):
        if candidate and os.access(os.path.join(candidate, 'ansible-playbook'), os.X_OK):
            return candidate
    pytest.skip('no ansible-playbook: set NSOPS_ANSIBLE_BIN_DIR or run tools/env.sh')


# ---------------------------------------------------------------------------- kernel views

def ns_ident(pid, nstype):
    info = os.stat('/proc/%s/ns/%s' % (pid, nstype))
    return info.st_dev, info.st_ino


def starttime(pid):
    with open('/proc/%d/stat' % pid) as handle:
        return int(handle.read().rsplit(')', 1)[1].split()[19])


def alive(pid):
    """Running and not a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] not in ('Z', 'X')
    except OSError:
        return False


def wait_dead(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def status_field(pid, key):
    with open('/proc/%d/status' % pid) as handle:
        for line in handle:
            if line.startswith(key + ':'):
                return line.split(':', 1)[1].split()
    return None


def nsenter(pid, flags, *argv):
    return subprocess.run(['nsenter', '-t', str(pid)] + list(flags) + list(argv), check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=30).stdout


def mount_points():
    with open('/proc/self/mountinfo') as handle:
        return [line.split(' ')[4] for line in handle]


def pids_with_cmdline(argv):
    wanted = ('\0'.join(argv) + '\0').encode()
    found = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/%s/cmdline' % name, 'rb') as handle:
                    if handle.read() == wanted and alive(int(name)):
                        found.append(int(name))
            except OSError:
                continue
    return found


def cgroup_mount_points():
    result = []
    with open('/proc/self/mountinfo') as handle:
        for line in handle:
            fields = line.split(' ')
            fstype = fields[fields.index('-') + 1]
            if fstype in ('cgroup', 'cgroup2'):
                result.append(fields[4])
    return result


# ---------------------------------------------------------------------------- the lab

class Lab:
    """A temporary state directory, inventory and collection link, and a playbook runner."""

    def __init__(self):
        self.bin_dir = ansible_bin_dir()
        self.tmp = tempfile.mkdtemp(prefix='nsops-iso-')
        os.chmod(self.tmp, 0o755)
        self.tag = 'ft%d' % os.getpid()
        self.state_dir = os.path.join(self.tmp, 'state')
        self.log_dir = os.path.join(self.tmp, 'log')
        self.cgroup_parent = 'nsops-test-%s' % self.tag
        self.counter = 0
        self.names = set()
        collections = os.path.join(self.tmp, 'collections', 'ansible_collections', 'nsops')
        os.makedirs(collections)
        os.symlink(REPO, os.path.join(collections, 'namespaces'))
        self.inventory = os.path.join(self.tmp, 'inventory.json')
        with open(self.inventory, 'w') as handle:
            # An explicit interpreter: `python3` may be a pyenv shim that needs a shell env.
            json.dump({'all': {'hosts': {'localhost': {
                'ansible_connection': 'local',
                'ansible_python_interpreter': os.path.realpath(sys.executable)}}}}, handle)
        self.env = dict(os.environ)
        self.env.update({
            'ANSIBLE_CONFIG': os.path.join(REPO, 'ansible.cfg'),
            'ANSIBLE_COLLECTIONS_PATH': os.path.join(self.tmp, 'collections'),
            'ANSIBLE_LOCAL_TEMP': os.path.join(self.tmp, 'ansible-local'),
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_DEPRECATION_WARNINGS': 'false',
        })

    def name(self, label):
        self.counter += 1
        name = '%s-%s-%d' % (self.tag, label, self.counter)
        self.names.add(name)
        return name

    def marker(self):
        """A unique `sleep` argument so a test can find its processes by command line."""
        self.counter += 1
        return str(10 ** 8 + os.getpid() * 1000 + self.counter)

    def args(self, name, **overrides):
        args = {
            'name': name,
            'command': ['sleep', self.marker()],
            'state_dir': self.state_dir,
            'log_path': os.path.join(self.log_dir, name + '.log'),
            'stop_timeout': 0.5,  # `sleep` as PID 1 ignores SIGTERM: do not wait long for it
        }
        args.update(overrides)
        return args

    def playbook(self, steps):
        """A playbook (JSON is YAML) running the module once per step and saving the results.

        ``steps`` is a list of ``(module args, check mode)``; one ansible-playbook run
        for several steps keeps the suite fast (check mode is a task keyword).
        """
        self.counter += 1
        result_file = os.path.join(self.tmp, 'result-%d.json' % self.counter)
        path = os.path.join(self.tmp, 'play-%d.json' % self.counter)
        tasks = []
        for number, (args, check) in enumerate(steps):
            tasks.append({'name': 'Step %d' % number, 'nsops.namespaces.isolated_process': args,
                          'register': 'iso_%d' % number, 'ignore_errors': True, 'check_mode': check, 'diff': True})
        results = ', '.join('iso_%d' % number for number in range(len(steps)))
        tasks.append({'name': 'Hand the results to the test', 'check_mode': False,
                      'ansible.builtin.copy': {'content': '{{ [%s] | to_json }}' % results, 'dest': result_file,
                                               'mode': '0600'}})
        play = [{'name': 'isolated_process under test', 'hosts': 'localhost', 'gather_facts': False,
                 'tasks': tasks}]
        with open(path, 'w') as handle:
            json.dump(play, handle)
        return path, result_file

    def command(self, playbook):
        return [os.path.join(self.bin_dir, 'ansible-playbook'), '-i', self.inventory, playbook]

    def run_steps(self, steps, wrapper=()):
        playbook, result_file = self.playbook(steps)
        proc = subprocess.run(list(wrapper) + self.command(playbook), env=self.env, check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              timeout=RUN_TIMEOUT)
        assert proc.returncode == 0, proc.stdout
        with open(result_file) as handle:
            return json.load(handle)

    def run(self, args, check=False, wrapper=()):
        return self.run_steps([(args, check)], wrapper)[0]

    def ok_steps(self, steps):
        results = self.run_steps(steps)
        for result in results:
            assert not result.get('failed'), result.get('msg')
        return results

    def ok(self, args, check=False):
        return self.ok_steps([(args, check)])[0]

    def record(self, name):
        try:
            with open(os.path.join(self.state_dir, name + '.json')) as handle:
                return json.load(handle)
        except OSError:
            return None

    def cleanup(self):
        """Safety net: end what tests left, by PID and only when it is still ours."""
        for name in sorted(self.names):
            record = self.record(name)
            if record and alive(record['pid']) and starttime(record['pid']) == record['starttime']:
                os.kill(record['pid'], signal.SIGKILL)
                wait_dead(record['pid'])
        for mount_point in sorted(mount_points(), key=len, reverse=True):
            if mount_point.startswith(self.tmp + '/'):
                subprocess.call(['umount', '-l', mount_point])
        for mount_point in cgroup_mount_points():
            top = os.path.join(mount_point, self.cgroup_parent)
            for directory in sorted((entry[0] for entry in os.walk(top)), key=len, reverse=True):
                try:
                    os.rmdir(directory)
                except OSError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope='module')
def lab():
    lab = Lab()
    try:
        yield lab
    finally:
        lab.cleanup()


def absent(lab, name):
    result = lab.ok({'name': name, 'state': 'absent', 'state_dir': lab.state_dir, 'stop_timeout': 0.5})
    assert lab.record(name) is None
    return result


# ---------------------------------------------------------------------------- must show

def test_present_is_idempotent_isolated_and_limited(lab):
    name = lab.name('web')
    args = lab.args(name, hostname='sandbox', cgroup=lab.cgroup_parent + '/' + name, memory_max='64M',
                    pids_max=32, cpu_weight=50, persist_namespaces=['net', 'uts'])

    predicted = lab.ok(args, check=True)
    assert predicted['changed'] is True and predicted['action'] == 'start' and predicted['pid'] is None
    assert lab.record(name) is None and not os.path.exists(lab.state_dir)  # check mode touched nothing
    assert pids_with_cmdline(args['command']) == []

    started, again_check, again = lab.ok_steps([(args, False), (args, True), (args, False)])
    assert started['changed'] is True and started['action'] == 'start'
    pid = started['pid']
    assert started['diff']['before'] == {'state': 'absent'}
    assert started['diff']['after']['hostname'] == 'sandbox'
    for result in (again_check, again):
        assert result['changed'] is False and result['action'] == 'none'
        assert result['pid'] == pid
    assert pids_with_cmdline(args['command']) == [pid]

    # New namespaces exactly for the declared types.
    differs = set(t for t in NS_TYPES if ns_ident(pid, t) != ns_ident('self', t))
    assert differs == DEFAULT_DECLARED
    assert started['namespaces'] == dict((t, ns_ident(pid, t)[1]) for t in NS_TYPES)

    # PID 1 inside, the declared hostname, and a /proc showing only its own namespace.
    assert status_field(pid, 'NSpid')[-1] == '1' and started['ns_pid'] == 1
    assert nsenter(pid, ['-u'], 'hostname').strip() == 'sandbox'
    assert sorted(n for n in nsenter(pid, ['-m'], 'ls', '/proc').split() if n.isdigit()) == ['1']
    assert 'UP' in nsenter(pid, ['-n'], 'ip', '-o', 'link', 'show', 'lo').split('<')[1].split('>')[0].split(',')

    # Detached: only stdio, on /dev/null and the log; a session of its own.
    fds = dict((fd, os.readlink('/proc/%d/fd/%s' % (pid, fd))) for fd in os.listdir('/proc/%d/fd' % pid))
    assert fds == {'0': '/dev/null', '1': args['log_path'], '2': args['log_path']}
    assert os.getsid(pid) != os.getsid(0)

    # cgroup limits in effect, read back from the kernel's files.
    cgroup = started['cgroup']
    with open('/proc/%d/cgroup' % pid) as handle:
        membership = handle.read()
    for directory in cgroup['directories']:
        assert os.path.isdir(directory)
        assert ':/%s\n' % cgroup['path'] in membership
    expected = {'memory.max': str(64 << 20), 'memory.limit_in_bytes': str(64 << 20), 'pids.max': '32',
                'cpu.weight': '50', 'cpu.shares': '512'}
    seen = set()
    for limit_file in cgroup['limits']:
        with open(limit_file) as handle:
            assert handle.read().strip() == expected[os.path.basename(limit_file)], limit_file
        seen.add(os.path.basename(limit_file).split('.')[0])
    assert seen == {'memory', 'pids', 'cpu'}

    # Persisted namespaces: nsfs bind mounts of exactly its namespaces, in a root-only dir.
    assert sorted(started['persisted_namespaces']) == ['net', 'uts']
    for nstype, path in started['persisted_namespaces'].items():
        assert path in mount_points()
        assert ns_ident(pid, nstype) == (os.stat(path).st_dev, os.stat(path).st_ino)
    assert oct(os.stat(lab.state_dir).st_mode & 0o777) == oct(0o700)
    assert lab.record(name)['starttime'] == starttime(pid)

    absent(lab, name)
    assert wait_dead(pid)


def test_spec_change_replaces_with_diff_and_restarted_gives_new_pid(lab):
    name = lab.name('change')
    args = lab.args(name, hostname='first')
    changed = dict(args, hostname='second')
    first, predicted = lab.ok_steps([(args, False), (changed, True)])
    assert predicted['changed'] is True and predicted['action'] == 'replace'
    assert alive(first['pid'])

    replaced, kept = lab.ok_steps([(changed, False), (dict(changed, hostname='third', recreate=False), False)])
    assert replaced['changed'] is True and replaced['action'] == 'replace'
    assert replaced['diff']['before']['hostname'] == 'first'
    assert replaced['diff']['after']['hostname'] == 'second'
    assert replaced['pid'] != first['pid'] and wait_dead(first['pid'])
    assert nsenter(replaced['pid'], ['-u'], 'hostname').strip() == 'second'
    assert kept['changed'] is False and kept['pid'] == replaced['pid']
    assert 'recreate: false keeps it' in json.dumps(kept.get('warnings'))

    predicted, restarted = lab.ok_steps([(dict(changed, state='restarted'), True),
                                         (dict(changed, state='restarted'), False)])
    assert predicted['changed'] is True and predicted['action'] == 'restart'
    assert restarted['changed'] is True and restarted['action'] == 'restart'
    assert restarted['pid'] != replaced['pid'] and wait_dead(replaced['pid'])
    assert alive(restarted['pid'])
    absent(lab, name)
    assert wait_dead(restarted['pid'])


def test_absent_removes_everything(lab):
    name = lab.name('gone')
    args = lab.args(name, cgroup=lab.cgroup_parent + '/' + name, pids_max=8, persist_namespaces=['net', 'mnt', 'pid'])
    started = lab.ok(args)
    pid = started['pid']

    predicted = lab.ok({'name': name, 'state': 'absent', 'state_dir': lab.state_dir}, check=True)
    assert predicted['changed'] is True and predicted['action'] == 'stop'
    assert alive(pid) and lab.record(name)

    absent_args = {'name': name, 'state': 'absent', 'state_dir': lab.state_dir, 'stop_timeout': 0.5}
    removed, again = lab.ok_steps([(absent_args, False), (absent_args, False)])
    assert removed['changed'] is True
    assert removed['diff']['before']['state'] == 'present' and removed['diff']['after'] == {'state': 'absent'}
    assert wait_dead(pid)
    assert not [m for m in mount_points() if m.startswith(lab.state_dir)]
    assert os.listdir(lab.state_dir) == []      # record, lock and ns/ gone
    for directory in started['cgroup']['directories']:
        assert not os.path.exists(directory)
    assert os.path.exists(args['log_path'])       # logs are kept
    assert again['changed'] is False and again['action'] == 'none'


def read_file(path):
    with open(path) as handle:
        return handle.read().strip()


def write_file(path, value):
    with open(path, 'w') as handle:
        handle.write(value)


def test_hand_edits_are_put_back_without_a_restart(lab):
    name = lab.name('drift')
    args = lab.args(name, cgroup=lab.cgroup_parent + '/' + name, memory_max='64M', pids_max=32,
                    persist_namespaces=['net'])
    started = lab.ok(args)
    pid = started['pid']
    placement = started['cgroup']
    pids_file = [f for f in placement['limits'] if f.endswith('/pids.max')][0]
    memory_file = [f for f in placement['limits'] if os.path.basename(f).startswith('memory.')][0]
    moved_from = os.path.dirname(pids_file)
    persisted = started['persisted_namespaces']['net']

    # By hand: two limits rewritten, the process moved to the root of the pids
    # hierarchy, the persisted netns unmounted.
    write_file(pids_file, 'max')
    write_file(memory_file, str(1 << 30))
    write_file(os.path.join(os.path.dirname(os.path.dirname(moved_from)), 'cgroup.procs'), str(pid))
    subprocess.run(['umount', persisted], check=True)
    assert str(pid) not in read_file(os.path.join(moved_from, 'cgroup.procs')).split()

    predicted = lab.ok(args, check=True)
    assert predicted['changed'] is True and predicted['action'] == 'repair' and predicted['pid'] == pid
    assert len(predicted['drift']) == 4, predicted['drift']
    live = predicted['diff']['before']['live']
    assert live['cgroup_limits'] == {pids_file: 'max', memory_file: str(1 << 30)}
    assert live['cgroup_member'] == {moved_from: False}
    assert live['persisted_namespaces'] == {'net': None}
    assert predicted['diff']['after']['live']['cgroup_limits'] == {pids_file: '32', memory_file: str(64 << 20)}
    assert read_file(pids_file) == 'max' and persisted not in mount_points()  # check mode touched nothing

    repaired, again = lab.ok_steps([(args, False), (args, False)])
    assert repaired['changed'] is True and repaired['action'] == 'repair'
    assert repaired['pid'] == pid and alive(pid) and lab.record(name)['starttime'] == starttime(pid)
    assert read_file(pids_file) == '32' and read_file(memory_file) == str(64 << 20)
    for directory in placement['directories']:
        assert str(pid) in read_file(os.path.join(directory, 'cgroup.procs')).split(), directory
    assert persisted in mount_points()
    assert (os.stat(persisted).st_dev, os.stat(persisted).st_ino) == ns_ident(pid, 'net')
    assert again['changed'] is False and again['action'] == 'none' and again['drift'] == []

    absent(lab, name)
    assert wait_dead(pid)


def test_killed_process_is_recreated(lab):
    name = lab.name('kill')
    args = lab.args(name)
    first = lab.ok(args)['pid']
    os.kill(first, signal.SIGKILL)
    assert wait_dead(first)

    predicted, again = lab.ok_steps([(args, True), (args, False)])
    assert predicted['changed'] is True and predicted['action'] == 'start'
    assert again['changed'] is True and again['pid'] != first
    assert again['diff']['before']['state'] == 'stopped'
    assert pids_with_cmdline(args['command']) == [again['pid']]
    absent(lab, name)


def valid_record(name, args, **fields):
    """A record as a start writes it, for the declaration ``args``."""
    from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import spec as iso_spec
    spec = iso_spec.build_spec(args)
    record = {'version': 1, 'name': name, 'phase': 'running', 'spec': spec, 'spec_hash': 'old',
              'namespaces': dict((t, 1) for t in NS_TYPES), 'ns_pid': 1, 'cgroup': None, 'persisted_namespaces': {},
              'log_path': spec['log_path'], 'created': '2000-01-01T00:00:00Z'}
    record.update(fields)
    return record


def test_stranger_with_the_recorded_pid_is_untouched(lab):
    name = lab.name('stranger')
    args = lab.args(name)
    stranger = subprocess.Popen(['sleep', lab.marker()], start_new_session=True)
    try:
        boot_id = open('/proc/sys/kernel/random/boot_id').read().strip()
        os.makedirs(lab.state_dir, mode=0o700, exist_ok=True)
        # The record of an earlier process whose PID the stranger now has.
        record = valid_record(name, args, pid=stranger.pid, starttime=starttime(stranger.pid) - 1, boot_id=boot_id)
        with open(os.path.join(lab.state_dir, name + '.json'), 'w') as handle:
            json.dump(record, handle)

        result = lab.ok(args)
        assert result['changed'] is True and result['action'] == 'start'
        assert result['pid'] != stranger.pid
        time.sleep(0.2)
        assert stranger.poll() is None and alive(stranger.pid)   # never signalled
        absent(lab, name)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_concurrent_runs_start_one_process(lab):
    name = lab.name('race')
    args = lab.args(name)
    runs = []
    for dummy in range(2):
        playbook, result_file = lab.playbook([(args, False)])
        proc = subprocess.Popen(lab.command(playbook), env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True)
        runs.append((proc, result_file))
    results = []
    for proc, result_file in runs:
        output = proc.communicate(timeout=RUN_TIMEOUT)[0]
        assert proc.returncode == 0, output
        with open(result_file) as handle:
            results.extend(json.load(handle))
    assert not any(r.get('failed') for r in results), results
    assert sorted(r['changed'] for r in results) == [False, True]
    assert results[0]['pid'] == results[1]['pid']
    assert pids_with_cmdline(args['command']) == [results[0]['pid']]
    absent(lab, name)


# ---------------------------------------------------------------------------- failures

def assert_nothing_left(lab, name, args=None):
    if '/' not in name:
        assert lab.record(name) is None
        assert not os.path.exists(os.path.join(lab.state_dir, name + '.lock'))
    if args and args.get('command'):
        assert pids_with_cmdline(args['command']) == []
    if args and args.get('cgroup'):
        for mount_point in cgroup_mount_points():
            assert not os.path.exists(os.path.join(mount_point, args['cgroup']))


def test_invalid_declarations_fail_clearly(lab):
    cases = [
        ({'command': ['nsops-no-such-binary']}, 'command nsops-no-such-binary not found in PATH'),
        ({'namespaces': ['pid', 'nope']}, 'value of namespaces must be one or more of'),
        ({'hostname': 'box', 'namespaces': ['pid', 'mnt']}, 'hostname needs a new uts namespace: add uts to namespaces'),
        ({'name': '../escape'}, 'is not allowed'),
    ]
    steps = []
    for overrides, message in cases:
        args = lab.args(lab.name('bad'))
        args.update(overrides)
        steps.extend([(args, True), (args, False)])
    results = lab.run_steps(steps)
    for number, (args, check) in enumerate(steps):
        result, message = results[number], cases[number // 2][1]
        assert result.get('failed') is True, (args, check)
        assert message in result['msg'], (result['msg'], check)
        assert_nothing_left(lab, args['name'], args)


def test_root_without_the_binary(lab):
    name = lab.name('noroot')
    rootfs = os.path.join(lab.tmp, 'empty-root')
    os.makedirs(os.path.join(rootfs, 'proc'))
    result = lab.run(lab.args(name, root=rootfs))
    assert result.get('failed') is True
    assert 'not found in PATH' in result['msg'] and 'inside root %s' % rootfs in result['msg']
    assert_nothing_left(lab, name)


def test_exec_failure_in_the_child_leaves_nothing(lab):
    name = lab.name('noexec')
    script = os.path.join(lab.tmp, 'not-a-program')
    with open(script, 'w') as handle:
        handle.write('no shebang, no ELF\n')
    os.chmod(script, 0o755)
    args = lab.args(name, command=[script, lab.marker()], cgroup=lab.cgroup_parent + '/' + name, pids_max=4)
    result = lab.run(args)
    assert result.get('failed') is True
    assert 'starting %s failed at exec %s: Exec format error' % (name, script) in result['msg']
    assert_nothing_left(lab, name, args)


def test_unprivileged_run_names_the_capability(lab):
    name = lab.name('unpriv')
    result = lab.run(lab.args(name), wrapper=['setpriv', '--bounding-set', '-sys_admin', '--'])
    assert result.get('failed') is True
    assert 'needs CAP_SYS_ADMIN' in result['msg'] and 'become: true' in result['msg']
    assert_nothing_left(lab, name)


# ---------------------------------------------------------------------------- more namespaces

@pytest.fixture(scope='module')
def busybox_root():
    cache = os.path.join(REPO, '.build', 'lab-cache')
    rootfs = os.path.join(cache, 'rootfs')
    if not os.path.exists(os.path.join(rootfs, 'bin', 'busybox')):
        proc = subprocess.run(['sh', os.path.join(REPO, 'tools', 'fetch-busybox.sh'), cache], check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        if proc.returncode != 0:
            pytest.skip('no busybox rootfs: %s' % proc.stdout[-500:])
    return rootfs


def test_user_time_namespaces_in_a_root_filesystem(lab, busybox_root):
    name = lab.name('box')
    id_map = [{'inside': 0, 'outside': 200000, 'count': 65536}]
    args = lab.args(name, command=['sleep', lab.marker()], root=busybox_root, hostname='box',
                    namespaces=['user', 'pid', 'mnt', 'uts', 'ipc', 'net', 'time', 'cgroup'],
                    uid_map=id_map, gid_map=id_map, boottime_offset=86400, persist_namespaces=['user', 'time'])
    started, again = lab.ok_steps([(args, False), (args, False)])
    pid = started['pid']
    assert again['changed'] is False and again['pid'] == pid

    differs = set(t for t in NS_TYPES if ns_ident(pid, t) != ns_ident('self', t))
    assert differs == set(args['namespaces'])
    with open('/proc/%d/uid_map' % pid) as handle:
        assert handle.read().split() == ['0', '200000', '65536']
    with open('/proc/%d/setgroups' % pid) as handle:
        assert handle.read().strip() == 'deny'
    assert status_field(pid, 'Uid') == ['200000'] * 4   # root inside, an unprivileged uid outside
    assert os.readlink('/proc/%d/root' % pid) == busybox_root
    assert nsenter(pid, ['-u'], 'hostname').strip() == 'box'
    assert sorted(n for n in nsenter(pid, ['-m'], 'ls', os.path.join(busybox_root, 'proc')).split()
                  if n.isdigit()) == ['1']
    host_uptime = float(open('/proc/uptime').read().split()[0])
    inside_uptime = float(nsenter(pid, ['-T'], 'cat', '/proc/uptime').split()[0])
    assert 86400 - 5 < inside_uptime - host_uptime < 86400 + 5
    absent(lab, name)
    assert wait_dead(pid)
    assert not [m for m in mount_points() if m.startswith(lab.state_dir)]


def test_namespace_facts_sees_created_and_persisted_namespaces(lab):
    if not os.path.exists(os.path.join(REPO, 'plugins', 'modules', 'namespace_facts.py')):
        pytest.skip('namespace_facts is not in this checkout yet')
    name = lab.name('facts')
    started = lab.ok(lab.args(name, persist_namespaces=['net']))
    net_inode = started['namespaces']['net']
    persisted = started['persisted_namespaces']['net']
    playbook, result_file = lab.playbook([({}, False)])
    with open(playbook) as handle:
        play = json.load(handle)
    play[0]['tasks'][0] = {'name': 'Gather namespace facts', 'nsops.namespaces.namespace_facts': {},
                           'register': 'iso_0'}
    with open(playbook, 'w') as handle:
        json.dump(play, handle)
    proc = subprocess.run(lab.command(playbook), env=lab.env, check=False, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stdout
    with open(result_file) as handle:
        facts = json.load(handle)[0]['ansible_facts']['namespaces']
    from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import expand_facts  # pylint: disable=import-outside-toplevel
    facts = expand_facts(facts)
    records = [ns for ns in facts['namespaces'].values() if ns['type'] == 'net' and ns['inode'] == net_inode]
    assert len(records) == 1, 'net:[%d] not in namespace_facts' % net_inode
    assert started['pid'] in records[0]['leaders'] or records[0]['pid'] == started['pid']
    assert persisted in json.dumps(records[0].get('bind_mounts'))
    for nstype in DEFAULT_DECLARED:
        inode = started['namespaces'][nstype]
        assert any(ns['type'] == nstype and ns['inode'] == inode for ns in facts['namespaces'].values()), nstype
    absent(lab, name)


def test_example_playbook_serves_from_its_own_network_namespace(lab):
    www = os.path.join(lab.tmp, 'www')
    name = lab.name('pbweb')
    extra = ['-e', 'isolated_name=%s' % name, '-e', 'isolated_state_dir=%s' % lab.state_dir,
             '-e', 'isolated_www=%s' % www, '-e', 'isolated_port=18080',
             '-e', 'isolated_log_path=%s' % os.path.join(lab.log_dir, name + '.log'),
             '-e', 'isolated_cgroup=%s/%s' % (lab.cgroup_parent, name)]
    base = [os.path.join(lab.bin_dir, 'ansible-playbook'), '-i', lab.inventory,
            os.path.join(REPO, 'playbooks', 'ensure_isolated.yml')] + extra
    try:
        proc = subprocess.run(base, env=lab.env, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=RUN_TIMEOUT)
        assert proc.returncode == 0, proc.stdout
        assert 'hello from an isolated process' in proc.stdout
        pid = lab.record(name)['pid']
        # Not reachable from the host: it listens on its own loopback.
        with pytest.raises(OSError):
            socket.create_connection(('127.0.0.1', 18080), 1).close()
    finally:
        proc = subprocess.run(base + ['-e', 'isolated_state=absent'], env=lab.env, check=False,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=RUN_TIMEOUT)
        assert proc.returncode == 0, proc.stdout
    assert wait_dead(pid)
    assert lab.record(name) is None
    with open(os.path.join(lab.log_dir, name + '.log')) as handle:
        assert 'Keyboard interrupt received' in handle.read()  # stop_signal SIGINT reached the server
