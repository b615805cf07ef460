# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the isolated_process logic that need no privileges: validation, spec
hashing, the action decision, in-root path resolution, the state store and identity."""


import json
import os
import signal
import stat

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import converge as iso
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import identity as iso_identity
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import launch as iso_launch
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import spec as iso_spec
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import store as iso_store
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.paths import resolve_in_root
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcRoot


def params(**overrides):
    base = {'name': 'web', 'state': 'present', 'command': ['sleep', 'infinity']}
    base.update(overrides)
    return base


# ---------------------------------------------------------------------------- names

@pytest.mark.parametrize('name', ['web', 'a', 'A0', 'x' * 63, 'web-1.blue_2', '0day'])
def test_good_names(name):
    assert iso_spec.check_name(name) == name


@pytest.mark.parametrize('name', ['', '..', '.', '../etc', 'a/b', '/abs', '-x', '_x', '.hidden', 'x' * 64,
                                  'sp ace', 'nul\0', u'caf\u00e9', None, 5])
def test_bad_names_refused(name):
    with pytest.raises(iso_spec.IsolationError, match='is not allowed'):
        iso_spec.check_name(name)


# ---------------------------------------------------------------------------- spec

def test_defaults():
    spec = iso_spec.build_spec(params())
    assert spec['namespaces'] == ['ipc', 'mnt', 'net', 'pid', 'uts']
    assert spec['mount_proc'] is True
    assert spec['loopback_up'] is True
    assert spec['chdir'] == '/'
    assert spec['umask'] == '0022'
    assert spec['log_path'] == '/var/log/nsops-namespaces/isolated/web.log'
    assert spec['env'] == {}
    assert set(spec) == set(iso_spec.SPEC_KEYS)


def test_mount_proc_and_loopback_follow_namespaces():
    spec = iso_spec.build_spec(params(namespaces=['pid', 'uts']))
    assert spec['mount_proc'] is False  # no mnt: never touch the host /proc
    assert spec['loopback_up'] is False


@pytest.mark.parametrize('overrides, message', [
    ({'namespaces': ['pid', 'bogus']}, 'unknown namespace type bogus: choose from cgroup, ipc'),
    ({'namespaces': []}, 'namespaces is empty'),
    ({'hostname': 'box', 'namespaces': ['pid']}, 'hostname needs a new uts namespace: add uts to namespaces'),
    ({'hostname': 'bad host'}, 'hostname .* is not valid'),
    ({'mount_proc': True, 'namespaces': ['pid']}, 'mount_proc needs a new mnt namespace'),
    ({'loopback_up': True, 'namespaces': ['pid']}, 'loopback_up needs a new net namespace'),
    ({'map_root_user': True}, 'map_root_user needs a new user namespace'),
    ({'uid_map': [{'inside': 0, 'outside': 1000, 'count': 1}]}, 'uid_map/gid_map needs a new user namespace'),
    ({'namespaces': ['user'], 'map_root_user': True, 'uid_map': [{'inside': 0, 'outside': 1, 'count': 1}]},
     'exclude each other'),
    ({'namespaces': ['user'], 'uid_map': [{'inside': 0, 'outside': 1, 'count': 0}]}, 'count >= 1'),
    ({'namespaces': ['user'], 'gid_map': [{'inside': 0}]}, 'needs integer inside, outside and count'),
    ({'monotonic_offset': 10}, 'monotonic_offset needs a new time namespace'),
    ({'memory_max': '64M'}, 'memory_max needs cgroup: name the cgroup'),
    ({'cgroup': 'a/../b'}, 'invalid component'),
    ({'cgroup': 'x', 'memory_max': 'lots'}, 'memory_max .* is not a size'),
    ({'cgroup': 'x', 'pids_max': 0}, 'pids_max .* must be a number of tasks from 1'),
    ({'cgroup': 'x', 'cpu_weight': 0}, 'cpu_weight 0 is out of range'),
    ({'umask': '999'}, 'umask .* is not an octal mode'),
    ({'chdir': 'relative'}, 'chdir .* must be an absolute path'),
    ({'root': 'srv/root'}, 'root .* must be an absolute path'),
    ({'env': {'A=B': 'x'}}, 'env name .* is not valid'),
    ({'persist_namespaces': ['user']}, 'persist_namespaces user needs a new user namespace'),
    ({'command': []}, 'command is required'),
    ({'command': None, 'state': 'restarted'}, 'command is required with state=restarted'),
    ({'name': '../x'}, 'is not allowed'),
])
def test_validation_names_the_fix(overrides, message):
    with pytest.raises(iso_spec.IsolationError, match=message):
        iso_spec.build_spec(params(**overrides))


def test_normalization():
    spec = iso_spec.build_spec(params(
        namespaces=['uts', 'pid', 'pid', 'mnt'], umask='27', cgroup='/nsops//web/', memory_max='64M',
        pids_max='max', cpu_weight=50, env={'B': 2, 'A': 'x'}, chdir='/srv/../tmp'))
    assert spec['namespaces'] == ['mnt', 'pid', 'uts']
    assert spec['umask'] == '0027'
    assert spec['cgroup'] == 'nsops/web'
    assert spec['memory_max'] == 64 * 1024 * 1024
    assert spec['pids_max'] == 'max'
    assert spec['env'] == {'A': 'x', 'B': '2'}
    assert spec['chdir'] == '/tmp'


def test_spec_hash_is_stable_and_sensitive():
    first = iso_spec.spec_hash(iso_spec.build_spec(params(namespaces=['pid', 'mnt', 'uts'], env={'A': '1', 'B': '2'})))
    same = iso_spec.spec_hash(iso_spec.build_spec(params(namespaces=['uts', 'mnt', 'pid', 'pid'], env={'B': '2', 'A': 1},
                                                         stop_signal='SIGINT', stop_timeout=3, recreate=False,
                                                         state_dir='/elsewhere')))
    assert first == same
    assert len(first) == 64
    for change in ({'hostname': 'x'}, {'command': ['sleep', '1']}, {'env': {'A': '1'}}, {'umask': '0077'}):
        overrides = dict(namespaces=['pid', 'mnt', 'uts'], env={'A': '1', 'B': '2'})
        overrides.update(change)
        assert iso_spec.spec_hash(iso_spec.build_spec(params(**overrides))) != first, change


def test_spec_hash_survives_a_json_round_trip():
    spec = iso_spec.build_spec(params(cgroup='x', memory_max='1G', uid_map=None, namespaces=['pid']))
    assert iso_spec.spec_hash(json.loads(json.dumps(spec))) == iso_spec.spec_hash(spec)


@pytest.mark.parametrize('value, number', [('SIGTERM', signal.SIGTERM), ('term', signal.SIGTERM),
                                           ('INT', signal.SIGINT), ('9', 9), (15, 15)])
def test_parse_signal(value, number):
    assert iso_spec.parse_signal(value) == number


@pytest.mark.parametrize('value', ['SIGNOPE', '0', '999', 'SIG_DFL', ''])
def test_parse_signal_refuses(value):
    with pytest.raises(iso_spec.IsolationError, match='is not a signal'):
        iso_spec.parse_signal(value)


# ---------------------------------------------------------------------------- decision

@pytest.mark.parametrize('state, record, running, same, recreate, action', [
    ('present', None, False, False, True, 'start'),
    ('present', {}, False, True, True, 'start'),          # stale record: process gone
    ('present', {}, True, True, True, 'none'),
    ('present', {}, True, False, True, 'replace'),
    ('present', {}, True, False, False, 'none'),
    ('restarted', {}, True, True, True, 'restart'),
    ('restarted', None, False, False, True, 'start'),
    ('absent', None, False, False, True, 'none'),
    ('absent', {}, False, False, True, 'stop'),            # clean up a stale record
    ('absent', {}, True, True, True, 'stop'),
])
def test_decide(state, record, running, same, recreate, action):
    if record is not None:
        record = {'spec_hash': 'h'}
    assert iso.decide(state, record, running, 'h' if same else 'other', recreate) == action


# ---------------------------------------------------------------------------- paths inside root

@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / 'bin').mkdir()
    (tmp_path / 'usr' / 'bin').mkdir(parents=True)
    (tmp_path / 'proc').mkdir()
    tool = tmp_path / 'bin' / 'busybox'
    tool.write_text(u'#!/bin/sh\n')
    tool.chmod(0o755)
    os.symlink('busybox', str(tmp_path / 'bin' / 'sh'))                # relative link
    os.symlink('/bin/busybox', str(tmp_path / 'usr' / 'bin' / 'env'))  # absolute: inside root
    data = tmp_path / 'bin' / 'data'
    data.write_text(u'x')
    data.chmod(0o644)
    (tmp_path / 'etc').mkdir()
    (tmp_path / 'etc' / 'passwd').write_text(u'root:x:0:0::/root:/bin/sh\nworker:x:1234:4321::/:/bin/sh\n')
    (tmp_path / 'etc' / 'group').write_text(u'root:x:0:\nstaff:x:50:\n')
    return str(tmp_path)


def test_resolve_in_root_keeps_absolute_links_inside(rootfs):
    assert resolve_in_root(rootfs, '/usr/bin/env') == os.path.join(rootfs, 'bin', 'busybox')
    assert resolve_in_root(rootfs, '/bin/sh') == os.path.join(rootfs, 'bin', 'busybox')
    assert resolve_in_root(rootfs, '/../../bin/sh') == os.path.join(rootfs, 'bin', 'busybox')


def test_a_symlink_loop_inside_root_is_a_clear_error(tmp_path):
    (tmp_path / 'a').symlink_to('b')
    (tmp_path / 'b').symlink_to('/a')
    with pytest.raises(iso_spec.IsolationError, match='too many symbolic links resolving /a inside'):
        iso_launch.host_path(str(tmp_path), '/a')


def test_find_executable_inside_root(rootfs):
    spec = iso_spec.build_spec(params(command=['env'], root=rootfs))
    assert iso_launch.find_executable(spec, '/usr/local/bin:/usr/bin:/bin') == '/usr/bin/env'
    spec = iso_spec.build_spec(params(command=['/bin/sh'], root=rootfs))
    assert iso_launch.find_executable(spec, '/nowhere') == '/bin/sh'


def test_find_executable_messages(rootfs):
    spec = iso_spec.build_spec(params(command=['python3'], root=rootfs))
    with pytest.raises(iso_spec.IsolationError, match='command python3 not found in PATH /usr/bin:/bin inside root'):
        iso_launch.find_executable(spec, '/usr/bin:/bin')
    spec = iso_spec.build_spec(params(command=['/bin/data'], root=rootfs))
    with pytest.raises(iso_spec.IsolationError, match='is not executable: chmod'):
        iso_launch.find_executable(spec, '/bin')
    spec = iso_spec.build_spec(params(command=['/bin/missing'], root=rootfs))
    with pytest.raises(iso_spec.IsolationError, match='command /bin/missing not found inside root'):
        iso_launch.find_executable(spec, '/bin')


def test_build_launch_resolves_users_inside_root(rootfs, tmp_path):
    store = iso_store.StateStore(str(tmp_path / 'state'))
    spec = iso_spec.build_spec(params(command=['sh'], root=rootfs, user='worker', namespaces=['pid', 'mnt']))
    plan = iso_launch.build_launch(spec, store)
    assert (plan.uid, plan.gid, plan.clear_groups) == (1234, 4321, True)
    assert plan.executable == '/bin/sh'
    assert plan.env == {'PATH': iso_spec.DEFAULT_PATH}
    assert plan.detach_paths == [store.ns_root]
    spec = iso_spec.build_spec(params(command=['sh'], root=rootfs, user='nobody-here', namespaces=['pid']))
    with pytest.raises(iso_spec.IsolationError, match='user nobody-here is not in .*etc/passwd'):
        iso_launch.build_launch(spec, store)


def test_build_launch_user_namespace_maps(rootfs, tmp_path):
    store = iso_store.StateStore(str(tmp_path / 'state'))
    id_map = [{'inside': 0, 'outside': 100000, 'count': 65536}]
    spec = iso_spec.build_spec(params(command=['sh'], root=rootfs, namespaces=['user', 'pid', 'mnt'],
                                      uid_map=id_map, gid_map=id_map, group='staff'))
    plan = iso_launch.build_launch(spec, store)
    assert plan.uid_map == plan.gid_map == '0 100000 65536\n'
    assert (plan.uid, plan.gid) == (0, 50)  # root inside unless told otherwise
    spec = iso_spec.build_spec(params(command=['sh'], root=rootfs, namespaces=['user', 'pid'], user='70000',
                                      uid_map=id_map))
    with pytest.raises(iso_spec.IsolationError, match='uid 70000 is not mapped inside the user namespace'):
        iso_launch.build_launch(spec, store)


def test_build_launch_root_checks(rootfs, tmp_path):
    store = iso_store.StateStore(str(tmp_path / 'state'))
    with pytest.raises(iso_spec.IsolationError, match='root /does/not/exist is not a directory'):
        iso_launch.build_launch(iso_spec.build_spec(params(root='/does/not/exist')), store)
    os.rmdir(os.path.join(rootfs, 'proc'))
    with pytest.raises(iso_spec.IsolationError, match='has no /proc directory to mount on'):
        iso_launch.build_launch(iso_spec.build_spec(params(command=['sh'], root=rootfs)), store)
    with pytest.raises(iso_spec.IsolationError, match='chdir /srv is not a directory inside root'):
        iso_launch.build_launch(iso_spec.build_spec(params(command=['sh'], root=rootfs, chdir='/srv', mount_proc=False)),
                                store)


def test_time_offsets_text(tmp_path):
    store = iso_store.StateStore(str(tmp_path / 'state'))
    spec = iso_spec.build_spec(params(namespaces=['time', 'pid'], monotonic_offset=86400, boottime_offset=-5))
    if not os.path.exists('/proc/self/ns/time'):
        pytest.skip('kernel without time namespaces')
    plan = iso_launch.build_launch(spec, store)
    assert plan.time_offsets == 'monotonic 86400 0\nboottime -5 0\n'


# ---------------------------------------------------------------------------- state store

NS_INODES = {'ipc': 4026532101, 'mnt': 4026532102, 'net': 4026532103, 'pid': 4026532104, 'uts': 4026532105}


def valid_record(store, name='web', **overrides):
    """A record as a start writes it (the default spec, running)."""
    spec = iso_spec.build_spec(params(name=name))
    record = {'version': iso_spec.RECORD_VERSION, 'name': name, 'phase': 'running', 'pid': 4242, 'starttime': 777,
              'ns_pid': 1, 'boot_id': 'boot-1', 'spec': spec, 'spec_hash': iso_spec.spec_hash(spec),
              'log_path': spec['log_path'], 'cgroup': None, 'persisted_namespaces': {},
              'namespaces': dict(NS_INODES), 'created': '2000-01-01T00:00:00Z'}
    record.update(overrides)
    return record


def test_store_round_trip_and_modes(tmp_path):
    store = iso_store.StateStore(str(tmp_path / 'state'))
    assert store.load('web') is None
    store.ensure()
    assert stat.S_IMODE(os.stat(store.directory).st_mode) == 0o700
    record = valid_record(store)
    with store.lock('web', 1):
        store.save(record)
        assert stat.S_IMODE(os.stat(store.record_path('web')).st_mode) == 0o600
    assert store.load('web') == record
    assert sorted(os.listdir(store.directory)) == ['web.json', 'web.lock']
    store.delete('web')
    with store.lock('web', 1):
        pass
    assert os.listdir(store.directory) == []  # nothing left of an absent name


def test_store_refuses_open_directory(tmp_path):
    directory = tmp_path / 'state'
    directory.mkdir()
    directory.chmod(0o755)
    with pytest.raises(iso_spec.IsolationError, match='must be a directory owned by uid .* with mode 0700'):
        iso_store.StateStore(str(directory)).ensure()


def test_store_refuses_relative_directory():
    with pytest.raises(iso_spec.IsolationError, match='must be an absolute path'):
        iso_store.StateStore('run/x')


@pytest.mark.parametrize('content, message', [('{not json', 'is not a valid record'),
                                              ('{"version": 99}', 'has an unknown format')])
def test_store_bad_records(tmp_path, content, message):
    store = iso_store.StateStore(str(tmp_path))
    (tmp_path / 'web.json').write_text(content)
    with pytest.raises(iso_spec.IsolationError, match=message):
        store.load('web')


def test_lock_is_exclusive(tmp_path):
    store = iso_store.StateStore(str(tmp_path))
    with store.lock('web', 1):
        with pytest.raises(iso_spec.IsolationError, match='another run is still working on web'):
            with store.lock('web', 0.1):
                pass


# ---------------------------------------------------------------------------- identity

def fake_proc(tmp_path, pid, starttime, state='S', boot_id='boot-1'):
    (tmp_path / 'sys' / 'kernel' / 'random').mkdir(parents=True, exist_ok=True)
    (tmp_path / 'sys' / 'kernel' / 'random' / 'boot_id').write_text(boot_id + '\n')
    (tmp_path / str(pid)).mkdir(exist_ok=True)
    fields = [state, '1'] + ['0'] * 17 + [str(starttime)] + ['0'] * 10
    (tmp_path / str(pid) / 'stat').write_text(u'%d (sl eep) %s\n' % (pid, ' '.join(fields)))
    (tmp_path / str(pid) / 'ns').mkdir(exist_ok=True)
    for nstype, inode in NS_INODES.items():
        link = tmp_path / str(pid) / 'ns' / nstype
        if not os.path.lexists(str(link)):
            os.symlink('%s:[%d]' % (nstype, inode), str(link))
    return ProcRoot(str(tmp_path))


def test_identity_needs_pid_starttime_boot_id_and_namespaces(tmp_path):
    proc = fake_proc(tmp_path, 4242, 777)
    record = valid_record(None)
    assert iso_identity.is_ours(record, proc, 'boot-1')
    # A stranger's true PID, starttime and boot id, but not the recorded namespaces.
    assert not iso_identity.is_ours(dict(record, namespaces=dict(NS_INODES, net=4026531840)), proc, 'boot-1')
    assert not iso_identity.is_ours(dict(record, phase='starting'), proc, 'boot-1')  # an intent has no process
    assert not iso_identity.is_ours(dict(record, starttime=778), proc, 'boot-1')   # PID reused
    assert not iso_identity.is_ours(record, proc, 'boot-2')                        # rebooted
    assert not iso_identity.is_ours(dict(record, pid=4243), proc, 'boot-1')        # gone
    assert not iso_identity.is_ours(None, proc, 'boot-1')
    fake_proc(tmp_path, 4242, 777, state='Z')
    assert not iso_identity.is_ours(record, proc, 'boot-1')                        # exited, not yet reaped


def test_require_privileges_names_the_capability(monkeypatch):
    monkeypatch.setattr(iso, 'own_cap_eff', lambda: 0)
    with pytest.raises(iso_spec.IsolationError, match=r'needs CAP_SYS_ADMIN .* become: true'):
        iso.require_privileges()
    monkeypatch.setattr(iso, 'own_cap_eff', lambda: 1 << 21)
    iso.require_privileges()


def test_check_mode_plans_without_touching(tmp_path, monkeypatch):
    monkeypatch.setattr(iso, 'own_cap_eff', lambda: 1 << 21)
    state_dir = str(tmp_path / 'state')
    result = iso.converge(params(state_dir=state_dir, log_path=str(tmp_path / 'log' / 'web.log')), check_mode=True)
    assert result['changed'] is True
    assert result['action'] == 'start'
    assert result['pid'] is None
    assert result['diff']['before'] == {'state': 'absent'}
    assert result['diff']['after']['state'] == 'present'
    assert os.listdir(str(tmp_path)) == []
    result = iso.converge(params(state='absent', state_dir=state_dir), check_mode=True)
    assert result['changed'] is False
    assert os.listdir(str(tmp_path)) == []


def test_run_answers_a_request_and_shows_the_diff_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(iso, 'own_cap_eff', lambda: 1 << 21)
    task = params(state_dir=str(tmp_path / 'state'), log_path=str(tmp_path / 'log' / 'web.log'))
    result = iso.run(iso.Request.from_params(task, check_mode=True))
    assert result['action'] == 'start' and result['warnings'] == [] and 'diff' not in result
    result = iso.run(iso.Request.from_params(task, check_mode=True, diff=True))
    assert result['diff']['before'] == {'state': 'absent'}
    assert os.listdir(str(tmp_path)) == []


def test_run_fails_with_the_isolation_error(monkeypatch):
    monkeypatch.setattr(iso, 'own_cap_eff', lambda: 0)
    with pytest.raises(iso_spec.IsolationError) as info:
        iso.run(iso.Request.from_params(params(), check_mode=True))
    assert 'needs CAP_SYS_ADMIN' in info.value.msg and info.value.result == {}


class _Status:
    def __init__(self, sig_cgt):
        self.sig_cgt = sig_cgt


@pytest.mark.parametrize('declared, caught, ignored', [
    (['pid'], 0, True),                       # PID 1 without a handler: the kernel drops it
    (['pid'], 1 << (signal.SIGTERM - 1), False),
    (['net'], 0, False),                      # not PID 1 of a namespace: default action applies
    (['pid'], None, False),                   # unknown: assume it is caught and wait
])
def test_pid1_without_handler_goes_straight_to_sigkill(monkeypatch, declared, caught, ignored):
    monkeypatch.setattr(iso_identity, 'read_status', lambda root, pid: _Status(caught))
    record = {'pid': 1, 'spec': {'namespaces': declared}}
    assert iso_identity._ignores(None, record, signal.SIGTERM) is ignored
