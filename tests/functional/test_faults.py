# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults and hostile input, on the real kernel, as root: nothing lost, nothing
duplicated, nobody let in.

* **SIGKILL across the start window**: the isolated_process engine runs in a forked
  child (the module process minus the interpreter start) and is killed at evenly spaced
  instants from 0 to past the end of a normal start, for a plain, a cgroup and a
  persisted-namespace declaration. After each kill one normal run must leave exactly one
  workload and zero orphans, a check-mode run must then see nothing to do, and
  ``state: absent`` must leave no process, mount, cgroup or file of the name.
* 10 concurrent runs start one process.
* A tampered state directory and tampered records are refused before anything is
  read, signalled, removed or written.
* Every bad value of issue 13 fails with a clear message (no traceback, no hang).

Each test ends what it started by PID (the workloads by recorded PID and starttime),
unmounts below its temporary directory and removes its cgroups, also on failure.
The figures are printed (``pytest -s`` shows them; they also go to the report).
"""

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, '.collections')
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import converge  # noqa: E402
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import spec as iso_spec
from ansible_collections.nsops.namespaces.plugins.module_utils._nsexec import engine as nsexec  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='fault tests create namespaces and need root')

KILL_STEPS = 40          # per declaration, evenly spaced across the start window
NS_TYPES = ('cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts')


# ---------------------------------------------------------------------------- kernel views

def proc_state(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return None


def alive(pid):
    return proc_state(pid) not in (None, 'Z', 'X')


def starttime(pid):
    with open('/proc/%d/stat' % pid) as handle:
        return int(handle.read().rsplit(')', 1)[1].split()[19])


def wait_dead(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


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
    return sorted(found)


def mounts_below(path):
    with open('/proc/self/mountinfo') as handle:
        return [line.split(' ')[4] for line in handle if line.split(' ')[4].startswith(path + '/')
                or line.split(' ')[4] == path]


def cgroup_mount_points():
    result = []
    with open('/proc/self/mountinfo') as handle:
        for line in handle:
            fields = line.split(' ')
            if fields[fields.index('-') + 1] in ('cgroup', 'cgroup2'):
                result.append(fields[4])
    return result


def cgroups_named(path):
    return [os.path.join(m, path) for m in cgroup_mount_points() if os.path.isdir(os.path.join(m, path))]


# ---------------------------------------------------------------------------- the lab

class FaultLab:
    """A temporary state and log directory, a cgroup parent and the processes started."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix='nsops-faults-')
        os.chmod(self.tmp, 0o755)
        self.state_dir = os.path.join(self.tmp, 'state')
        self.log_dir = os.path.join(self.tmp, 'log')
        self.cgroup_parent = 'nsops-faults-%d' % os.getpid()
        self.counter = 0
        self.names = set()
        self.pids = set()       # (pid, starttime) of processes this lab made outside records

    def name(self, label):
        self.counter += 1
        name = 'flt%d-%s-%d' % (os.getpid(), label, self.counter)
        self.names.add(name)
        return name

    def params(self, name, **overrides):
        self.counter += 1
        params = {
            'name': name, 'state': 'present',
            'command': ['sleep', str(10 ** 9 + os.getpid() * 1000 + self.counter)],
            'state_dir': self.state_dir, 'log_path': os.path.join(self.log_dir, name + '.log'),
            'stop_timeout': 0.2,
        }
        params.update(overrides)
        return params

    def run(self, params, check_mode=False):
        """One normal run of the engine, in this process."""
        return converge.converge(params, check_mode=check_mode)

    def record(self, name):
        try:
            with open(os.path.join(self.state_dir, name + '.json')) as handle:
                return json.load(handle)
        except OSError:
            return None

    def forked(self, params):
        """The engine in a child process (the module without the interpreter start)."""
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 2
            try:
                converge.converge(params)
                code = 0
            except iso_spec.IsolationError:
                code = 1
            finally:
                os._exit(code)
        return pid

    def cleanup(self):
        for name in sorted(self.names):
            record = self.record(name)
            if record and isinstance(record.get('pid'), int) and alive(record['pid']) \
                    and starttime(record['pid']) == record.get('starttime'):
                os.kill(record['pid'], signal.SIGKILL)
                wait_dead(record['pid'])
        for pid, start in sorted(self.pids):
            if alive(pid) and starttime(pid) == start:
                os.kill(pid, signal.SIGKILL)
                wait_dead(pid)
        for mount_point in sorted(mounts_below(self.tmp), key=len, reverse=True):
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
    lab = FaultLab()
    try:
        yield lab
    finally:
        lab.cleanup()


def leftovers(lab, name, params):
    """What is left of a name after state: absent: processes, mounts, cgroups, files."""
    left = {'processes': pids_with_cmdline(params['command']),
            'mounts': mounts_below(lab.state_dir),
            'cgroups': cgroups_named(params['cgroup']) if params.get('cgroup') else [],
            'files': sorted(f for f in os.listdir(lab.state_dir) if f.startswith(name) or f.startswith('.' + name))
            if os.path.isdir(lab.state_dir) else []}
    return dict((key, value) for key, value in left.items() if value)


# ---------------------------------------------------------------------------- SIGKILL across the start

DECLARATIONS = {
    'plain': {},
    'cgroup': {'cgroup': None, 'memory_max': '64M', 'pids_max': 16},
    'persisted': {'persist_namespaces': ['net', 'uts', 'mnt']},
}


def declaration(lab, kind):
    name = lab.name(kind)
    extra = dict(DECLARATIONS[kind])
    if 'cgroup' in extra:
        extra['cgroup'] = '%s/%s' % (lab.cgroup_parent, name)
    return name, lab.params(name, **extra)


def start_window(lab, params):
    """Seconds from fork to the end of a normal start (the median of three)."""
    durations = []
    for dummy in range(3):
        began = time.monotonic()
        pid = lab.forked(params)
        code = os.waitpid(pid, 0)[1]
        durations.append(time.monotonic() - began)
        assert os.WEXITSTATUS(code) == 0
        lab.run(dict(params, state='absent'))
    return sorted(durations)[1]


def kill_sweep(lab, kind, steps=KILL_STEPS):
    """Kill the engine at ``steps`` instants across the start; returns the figures."""
    name, params = declaration(lab, kind)
    window = start_window(lab, params) * 1.2
    figures = {'kills': 0, 'workloads_after_run': set(), 'orphans': 0, 'leaked_mounts': 0, 'leaked_cgroups': 0,
               'leaked_files': 0, 'adopted': 0, 'removed': 0, 'complete': 0, 'untouched': 0,
               'step_ms': window / steps * 1000}
    absent = dict(params, state='absent')
    for step in range(steps):
        pid = lab.forked(params)
        time.sleep(window * step / steps)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        figures['kills'] += 1

        result = lab.run(params)
        warnings = ' '.join(result.get('warnings') or [])
        if result['action'] == 'adopt' or 'was adopted' in warnings:
            figures['adopted'] += 1
        elif 'was removed' in warnings:
            figures['removed'] += 1
        elif result['action'] == 'none':
            figures['complete'] += 1
        else:
            figures['untouched'] += 1
        running = pids_with_cmdline(params['command'])
        figures['workloads_after_run'].add(len(running))
        figures['orphans'] += len([p for p in running if p != result['pid']])
        assert running == [result['pid']], (step, result, running)
        again = lab.run(params, check_mode=True)
        assert again['action'] == 'none', (step, again)

        lab.run(absent)
        assert wait_dead(result['pid'])
        left = leftovers(lab, name, params)
        figures['leaked_mounts'] += len(left.get('mounts', []))
        figures['leaked_cgroups'] += len(left.get('cgroups', []))
        figures['leaked_files'] += len(left.get('files', []))
        figures['orphans'] += len(left.get('processes', []))
        assert not left, (step, left)
    return figures


def test_sigkill_across_the_start_window(lab, capsys):
    totals = {}
    lines = []
    for kind in DECLARATIONS:
        figures = kill_sweep(lab, kind)
        totals[kind] = figures
        lines.append('%-9s %d kills every %.1f ms: %d adopted, %d removed, %d already complete, %d before the intent '
                     '-> %s workload after one run, %d orphans, %d leaked mounts, %d leaked cgroups, %d leaked files'
                     % (kind, figures['kills'], figures['step_ms'], figures['adopted'], figures['removed'],
                        figures['complete'], figures['untouched'],
                        '/'.join(str(n) for n in sorted(figures['workloads_after_run'])), figures['orphans'],
                        figures['leaked_mounts'], figures['leaked_cgroups'], figures['leaked_files']))
    kills = sum(f['kills'] for f in totals.values())
    orphans = sum(f['orphans'] for f in totals.values())
    mounts = sum(f['leaked_mounts'] for f in totals.values())
    workloads = set().union(*(f['workloads_after_run'] for f in totals.values()))
    lines.append('%d kills across the start window -> %s workload, %d orphans, %d leaked mounts'
                 % (kills, '/'.join(str(n) for n in sorted(workloads)), orphans, mounts))
    with capsys.disabled():
        print('\n' + '\n'.join('[faults] ' + line for line in lines))
    assert workloads == {1} and orphans == 0 and mounts == 0
    # The sweep must really cross the window: some kills land inside the start.
    assert sum(f['adopted'] + f['removed'] for f in totals.values()) >= len(DECLARATIONS)


def test_ten_concurrent_runs_start_one(lab, capsys):
    name, params = declaration(lab, 'cgroup')
    children = [lab.forked(params) for dummy in range(10)]
    codes = [os.WEXITSTATUS(os.waitpid(pid, 0)[1]) for pid in children]
    running = pids_with_cmdline(params['command'])
    record = lab.record(name)
    with capsys.disabled():
        print('\n[faults] 10 concurrent runs -> exit codes %s, %d workload' % (sorted(set(codes)), len(running)))
    assert codes == [0] * 10
    assert running == [record['pid']]
    lab.run(dict(params, state='absent'))
    assert not leftovers(lab, name, params)


# ---------------------------------------------------------------------------- tampering

def write_record(lab, name, record):
    os.makedirs(lab.state_dir, mode=0o700, exist_ok=True)
    with open(os.path.join(lab.state_dir, name + '.json'), 'w') as handle:
        json.dump(record, handle)


def genuine_record(lab, name, params, **fields):
    spec = iso_spec.build_spec(params)
    record = {'version': 1, 'name': name, 'phase': 'running', 'spec': spec, 'spec_hash': iso_spec.spec_hash(spec),
              'boot_id': open('/proc/sys/kernel/random/boot_id').read().strip(), 'log_path': spec['log_path'],
              'pid': 4194304, 'starttime': 1, 'namespaces': dict((t, 4026530000 + i) for i, t in enumerate(NS_TYPES)),
              'ns_pid': 1, 'cgroup': None, 'persisted_namespaces': {}, 'created': '2000-01-01T00:00:00Z'}
    record.update(fields)
    return record


@pytest.fixture
def stranger(lab):
    proc = subprocess.Popen(['sleep', '1000'], start_new_session=True)
    lab.pids.add((proc.pid, starttime(proc.pid)))
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_state_dir_others_can_write_is_refused_in_check_mode_too(lab):
    name = lab.name('opendir')
    params = lab.params(name)
    os.makedirs(lab.state_dir, mode=0o700, exist_ok=True)
    for mode, owner in ((0o755, 0), (0o700, 65534)):
        os.chmod(lab.state_dir, mode)
        os.chown(lab.state_dir, owner, -1)
        try:
            for check in (True, False):
                for state in ('present', 'absent'):
                    with pytest.raises(iso_spec.IsolationError, match='must be a directory owned by uid 0 with mode'):
                        lab.run(dict(params, state=state), check_mode=check)
        finally:
            os.chown(lab.state_dir, 0, -1)
            os.chmod(lab.state_dir, 0o700)
    link = os.path.join(lab.tmp, 'state-link')
    os.symlink(lab.state_dir, link)
    with pytest.raises(iso_spec.IsolationError, match='must be a directory owned'):
        lab.run(dict(params, state_dir=link), check_mode=True)


def test_forged_records_are_refused(lab, stranger):
    name = lab.name('forged')
    params = lab.params(name)
    victim = os.path.join(lab.tmp, 'victim')
    open(victim, 'w').close()
    secret = os.path.join(lab.tmp, 'secret')
    with open(secret, 'w') as handle:
        handle.write('TOP-SECRET')
    os.chmod(secret, 0o600)
    real = genuine_record(lab, name, params)
    forged = [
        (dict(real, name='../victim'), 'is not its file name'),
        ({'version': 1, 'name': name}, 'missing or wrong spec'),
        (dict(real, pid=None), 'missing or wrong pid'),
        (dict(real, cgroup={'path': 'x', 'directories': ['/etc'], 'created': ['/etc'], 'limits': {}}),
         'its cgroup is not the cgroup of its spec'),
        (genuine_record(lab, name, dict(params, cgroup='%s/f' % lab.cgroup_parent), cgroup={
            'path': '%s/f' % lab.cgroup_parent, 'directories': ['/etc'], 'created': ['/etc'], 'limits': {}}),
         'directories are not below the mounted cgroup hierarchies'),
        (genuine_record(lab, name, dict(params, cgroup='%s/f' % lab.cgroup_parent), cgroup={
            'path': '%s/f' % lab.cgroup_parent, 'directories': [], 'created': [], 'limits': {secret: '1'}}),
         'limits are not limit files of its cgroup'),
        (dict(real, persisted_namespaces={'net': victim}), 'persisted_namespaces are not the paths'),
        (dict(real, spec=dict(real['spec'], hostname='box\n')), 'spec is not valid'),
        (dict(real, log_path=secret), 'log_path differs from its spec'),
    ]
    for record, message in forged:
        write_record(lab, name, record)
        for check in (True, False):
            for state in ('present', 'absent'):
                with pytest.raises(iso_spec.IsolationError, match=message) as raised:
                    lab.run(dict(params, state=state), check_mode=check)
                assert 'TOP-SECRET' not in str(raised.value)
        assert os.path.exists(victim) and os.path.exists('/etc/passwd')
    # A stranger's true PID, starttime and boot id: its namespaces are not the recorded ones.
    write_record(lab, name, dict(real, pid=stranger.pid, starttime=starttime(stranger.pid),
                                 namespaces=dict((t, 4026531000 + i) for i, t in enumerate(NS_TYPES))))
    assert lab.run(dict(params, state='absent'))['action'] == 'stop'
    time.sleep(0.1)
    assert stranger.poll() is None
    assert lab.record(name) is None


def test_records_that_are_not_regular_files_do_not_hang(lab):
    name = lab.name('fifo')
    params = lab.params(name)
    os.makedirs(lab.state_dir, mode=0o700, exist_ok=True)
    path = os.path.join(lab.state_dir, name + '.json')
    os.mkfifo(path, 0o600)
    try:
        began = time.monotonic()
        with pytest.raises(iso_spec.IsolationError, match='is not a regular file'):
            lab.run(params, check_mode=True)
        assert time.monotonic() - began < 5
    finally:
        os.unlink(path)
    with open(path, 'w') as handle:
        handle.write(' ' * (2 << 20))
    try:
        with pytest.raises(iso_spec.IsolationError, match='larger than'):
            lab.run(params, check_mode=True)
    finally:
        os.unlink(path)


def test_forged_claim_adopts_nothing(lab, stranger):
    name = lab.name('claim')
    params = lab.params(name)
    intent = genuine_record(lab, name, params, phase='starting', token='a' * 16)
    for key in ('namespaces', 'ns_pid'):
        intent.pop(key)
    write_record(lab, name, intent)
    with open(os.path.join(lab.state_dir, name + '.start'), 'w') as handle:
        json.dump({'token': 'a' * 16, 'pid': stranger.pid, 'starttime': starttime(stranger.pid)}, handle)
    # The stranger shares our namespaces: no fresh namespace, no adoption, no signal.
    result = lab.run(params)
    assert result['action'] == 'start' and result['pid'] != stranger.pid
    assert 'was removed' in ' '.join(result['warnings'])
    assert stranger.poll() is None
    lab.run(dict(params, state='absent'))
    assert stranger.poll() is None and not leftovers(lab, name, params)


# ---------------------------------------------------------------------------- bad values

BAD_VALUES = [
    ({'name': 'web\n'}, 'is not allowed'),
    ({'hostname': 'box\n'}, 'hostname .* is not valid'),
    ({'umask': '022\n'}, 'is not an octal mode'),
    ({'cgroup': 'nsops/web\n'}, 'invalid component'),
    ({'cgroup': 'nsops/x', 'memory_max': 2 ** 70}, 'more than the kernel can hold'),
    ({'cgroup': 'nsops/x', 'memory_max': str(2 ** 64 + (256 << 20))}, 'more than the kernel can hold'),
    ({'cgroup': 'nsops/x', 'pids_max': 2 ** 40}, 'pids_max .* must be a number of tasks'),
    ({'stop_timeout': 1e308}, 'stop_timeout .* is out of range'),
    ({'stop_timeout': float('inf')}, 'stop_timeout .* is out of range'),
    ({'stop_timeout': float('nan')}, 'stop_timeout .* is out of range'),
    ({'log_path': '/tmp/a\0b'}, 'log_path .* without NUL'),
    ({'state_dir': '/tmp/a\0b'}, 'state_dir .* without NUL'),
    ({'user': 'root\0'}, 'is not a user or group name'),
    ({'env': {'A': 'x\0y'}}, 'holds a NUL byte'),
    ({'namespaces': ['time'], 'monotonic_offset': 2 ** 70}, 'monotonic_offset .* is out of range'),
    ({'namespaces': ['user'], 'uid_map': [{'inside': 0, 'outside': 2 ** 40, 'count': 1}]}, 'range must end'),
]


@pytest.mark.parametrize('overrides, message', BAD_VALUES)
def test_bad_values_fail_clearly(lab, overrides, message):
    name = lab.name('bad')
    params = dict(lab.params(name), **overrides)
    for check in (True, False):
        with pytest.raises(iso_spec.IsolationError, match=message):
            lab.run(params, check_mode=check)
    assert pids_with_cmdline(params['command']) == []


@pytest.mark.parametrize('kind', ['fifo', 'dev_full', 'directory'])
def test_log_path_must_be_a_regular_file(lab, kind):
    name = lab.name('log' + kind)
    if kind == 'fifo':
        path = os.path.join(lab.tmp, name + '.fifo')
        os.mkfifo(path)
    elif kind == 'dev_full':
        path = '/dev/full'
    else:
        path = os.path.join(lab.tmp, name + '.d')
        os.mkdir(path)
    params = lab.params(name, log_path=path)
    began = time.monotonic()
    for check in (True, False):
        with pytest.raises(iso_spec.IsolationError, match='not a regular file'):
            lab.run(params, check_mode=check)
    assert time.monotonic() - began < 5
    # The lock is free again: another run is not kept waiting.
    lab.run(dict(params, log_path=os.path.join(lab.log_dir, name + '.log'), state='absent'))
    assert pids_with_cmdline(params['command']) == []


def test_log_parent_symlink_of_another_user_is_not_followed(lab):
    name = lab.name('loglink')
    target = os.path.join(lab.tmp, 'elsewhere')
    os.mkdir(target)
    link = os.path.join(lab.tmp, 'userlink')
    os.symlink(target, link)
    os.lchown(link, 65534, 65534)
    params = lab.params(name, log_path=os.path.join(link, 'x', name + '.log'))
    with pytest.raises(iso_spec.IsolationError, match='symlink owned by uid 65534'):
        lab.run(params)
    assert os.listdir(target) == [] and pids_with_cmdline(params['command']) == []


def test_directories_are_created_with_their_mode_whatever_the_umask(lab):
    name = lab.name('umask')
    base = os.path.join(lab.tmp, 'umask')
    params = lab.params(name, state_dir=os.path.join(base, 'a', 'state'), log_path=os.path.join(base, 'b', 'c', 'x.log'))
    old = os.umask(0)
    try:
        result = lab.run(params)
    finally:
        os.umask(old)
    try:
        modes = dict((path, stat.S_IMODE(os.stat(os.path.join(base, path)).st_mode))
                     for path in ('a', 'a/state', 'b', 'b/c', 'b/c/x.log'))
        assert modes == {'a': 0o700, 'a/state': 0o700, 'b': 0o750, 'b/c': 0o750, 'b/c/x.log': 0o640}
    finally:
        lab.run(dict(params, state='absent'))
    assert wait_dead(result['pid'])


def test_a_cgroup_the_module_did_not_create_stays(lab):
    name = lab.name('precg')
    cgroup = '%s/%s' % (lab.cgroup_parent, name)
    made = []
    for mount_point in cgroup_mount_points():
        path = os.path.join(mount_point, cgroup)
        if os.path.isdir(mount_point) and os.access(mount_point, os.W_OK):
            try:
                os.makedirs(path)
                made.append(path)
            except OSError as exc:
                assert exc.errno in (errno.EROFS, errno.EPERM, errno.EEXIST), exc
    params = lab.params(name, cgroup=cgroup, pids_max=8)
    result = lab.run(params)
    assert set(made) & set(result['cgroup']['directories'])
    lab.run(dict(params, state='absent'))
    assert wait_dead(result['pid'])
    assert all(os.path.isdir(path) for path in made)


def test_persisted_namespaces_settle_on_a_big_mount_table(lab):
    """Over 4 KB of mountinfo (the first read() returns one page): reruns change nothing."""
    extra = os.path.join(lab.tmp, 'mounts')
    made = []
    try:
        while len(open('/proc/self/mountinfo').read()) < 12288:
            path = os.path.join(extra, 'm%03d-%s' % (len(made), 'x' * 60))
            os.makedirs(path)
            subprocess.check_call(['mount', '-t', 'tmpfs', '-o', 'size=4k', 'none', path])
            made.append(path)
        name = lab.name('bigmnt')
        params = lab.params(name, persist_namespaces=['net', 'uts'])
        first = lab.run(params)
        ns_root = os.path.join(lab.state_dir, 'ns')
        before = mounts_below(ns_root)
        for dummy in range(3):
            assert lab.run(params)['action'] == 'none'
        assert mounts_below(ns_root) == before and before.count(ns_root) == 1
        lab.run(dict(params, state='absent'))
        assert wait_dead(first['pid']) and mounts_below(ns_root) == []
    finally:
        for path in reversed(made):
            subprocess.call(['umount', path])


# ---------------------------------------------------------------------------- namespace_exec

def nsexec_params(**overrides):
    params = {'command': ['true'], 'shell': False, 'pid': None, 'container_id': None, 'pod_uid': None,
              'namespace_files': None, 'namespaces': None, 'chdir': '/', 'root': False, 'stdin': None,
              'stdin_add_newline': True, 'env': {}, 'timeout': 60.0, 'read_only': True, 'proc_root': '/proc',
              'max_output': nsexec.DEFAULT_MAX_OUTPUT}
    params.update(overrides)
    return params


@pytest.mark.parametrize('overrides, message', [
    ({'namespace_files': []}, 'namespace_files is empty'),
    ({'pid': os.getpid(), 'timeout': float('inf')}, 'timeout must be'),
    ({'pid': os.getpid(), 'timeout': float('nan')}, 'timeout must be'),
    ({'pid': os.getpid(), 'timeout': 1e308}, 'timeout must be'),
    ({'pid': os.getpid(), 'max_output': -1}, 'max_output must be'),
])
def test_namespace_exec_bad_values(overrides, message):
    with pytest.raises(nsexec.NamespaceExecError, match=message):
        nsexec.run(nsexec.Request.from_params(nsexec_params(**overrides)))


def test_namespace_exec_output_is_capped_and_read_as_it_comes(capsys):
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.monotonic()
    result = nsexec.run(nsexec.Request.from_params(nsexec_params(
        pid=os.getpid(), command='head -c 200000000 /dev/zero | tr "\\0" x; echo err >&2', shell=True,
        max_output=1 << 20)))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    with capsys.disabled():
        print('\n[faults] namespace_exec: 200 MB of stdout -> %d bytes kept, truncated %s, peak RSS grew %d KiB, %.1f s'
              % (len(result['stdout']), result['truncated'], grown, time.monotonic() - began))
    assert result['truncated'] is True and len(result['stdout']) == 1 << 20 and result['stderr'] == 'err'
    assert grown < 64 << 10
