# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""discover() on fixture /proc trees (and once on the real /proc)."""


import errno
import json
import os
import pathlib
import sys
import types

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery import pipeline
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import expand_facts

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.root import ProcRootError
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    BASE_MOUNTINFO, BIND_NET, BIND_SPACE_NET, C_BIND_UTS, C_IPC, C_MNT, C_NET, C_PID, C_UTS, FD_NET,
    INIT, LOOSE_NET, NS_TYPES, UNJOINED_PID, ProcTree, assert_valid, basic_host, cgroup_hybrid_text,
    cgroup_v1_text, container_host, load_schema, nsfs_mount_line, ns_ref, schema_errors, scratch_dir,
    stat_text, status_text,
)


@pytest.fixture
def proc_dir():
    """Like tmp_path, but on tmpfs when there is one (fixture trees are many small files)."""
    with scratch_dir() as path:
        yield pathlib.Path(path)


def ref(nstype, inode):
    return ns_ref(nstype, inode)


# The fixture hosts hold namespaces that only an open fd reveals: read fds unless a test
# asks for other sources (the module's defaults leave fds out).
FIXTURE_SOURCES = ('tasks', 'fds', 'bind_mounts')


def run(tree, **kwargs):
    """discover() on a fixture tree (FIXTURE_SOURCES unless given), in the full shape of schema version 1 (expand_facts):
    the lean result must match the schema of version 2 and its expansion that of
    version 1, so every test below also checks that each old field is still derivable."""
    kwargs.setdefault('sources', FIXTURE_SOURCES)
    kwargs.setdefault('command_lines', True)
    facts = discover(proc_root=str(tree), **kwargs)
    assert_valid(facts)
    expanded = expand_facts(facts)
    assert_valid(expanded, version=1)
    return expanded


@pytest.fixture
def host(proc_dir):
    return container_host(proc_dir / 'proc')


@pytest.fixture
def host_facts(host):
    return run(host)


# ---------------------------------------------------------------------------- the schema

def test_schema_is_valid_draft_2020_12():
    import jsonschema
    schema = load_schema()
    assert schema['$schema'] == 'https://json-schema.org/draft/2020-12/schema'
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_rejects_a_broken_record(host_facts):
    """The validator used everywhere here does catch mistakes."""
    broken = dict(host_facts)
    broken['namespaces'] = dict(host_facts['namespaces'])
    record = dict(broken['namespaces'][ref('net', C_NET)])
    record['nprocs'] = -1
    del record['leaders']
    broken['namespaces'][ref('net', C_NET)] = record
    errors = schema_errors(broken)
    assert any('nprocs' in e for e in errors)
    assert any('leaders' in e for e in errors)


# ---------------------------------------------------------------------------- the lean shape

class TestLeanShape:
    """Schema version 2: records hold nothing their key, discovery or pids already say."""

    @pytest.fixture
    def lean(self, host):
        facts = discover(proc_root=str(host))
        assert_valid(facts)
        return facts

    def test_version_and_device(self, lean):
        assert lean['discovery']['schema_version'] == 2
        assert 'nsfs_dev' in lean['discovery']

    def test_no_field_the_key_says_and_no_empty_field(self, lean):
        for key, record in lean['namespaces'].items():
            for said in ('type', 'inode', 'ref', 'command', 'ppid', 'uid', 'user'):
                assert said not in record, (key, said)
            for name, value in record.items():
                empty = value is None or value is False or value == [] or value == {}
                # null: no leader could be picked (ealdorman), the kernel did not tell (owner)
                assert not empty or name in ('ealdorman', 'owner'), (key, name, value)

    def test_lowest_pid_columns_are_in_pids_once(self, lean):
        lowest = set(record['pid'] for record in lean['namespaces'].values() if 'pid' in record)
        assert set(lean['pids']) == set(str(pid) for pid in lowest)
        assert lean['pids']['1']['ppid'] == 0

    def test_names_by_default_command_lines_when_asked(self, host, lean):
        for entry in lean['pids'].values():
            assert set(entry) == {'ppid', 'name', 'uid'}
        assert lean['pids']['1']['name'] == 'systemd'
        assert lean['users'] == {'0': 'root'} or set(lean['users']) >= {'0'}
        with_lines = discover(proc_root=str(host), command_lines=True)
        assert_valid(with_lines)
        assert with_lines['pids']['1']['command'] == '/sbin/init splash'
        assert dict((pid, dict(entry, command=None)) for pid, entry in with_lines['pids'].items()) == dict(
            (pid, dict(entry, command=None)) for pid, entry in lean['pids'].items())

    def test_leaders_only_when_they_say_more_than_pid(self, lean):
        for record in lean['namespaces'].values():
            if 'leaders' in record:
                assert record['leaders'] != [record.get('pid')]
            if 'ealdorman' in record:
                assert record['ealdorman'] != record.get('pid')

    def test_expansion_restores_version_1(self, lean):
        full = expand_facts(lean)
        assert_valid(full, version=1)
        assert 'pids' not in full and 'users' not in full and full['discovery']['schema_version'] == 1
        for key, record in full['namespaces'].items():
            assert record['ref'] == key and ref(record['type'], record['inode']) == key
            if record['pid'] is not None:
                lowest = lean['pids'][str(record['pid'])]
                assert record['command'] == lowest['name']  # no command lines asked for
                assert record['user'] == lean['users'].get(str(lowest['uid']))
        # already full: unchanged
        assert expand_facts(full) is full

    def test_expansion_survives_a_json_round_trip(self, lean):
        assert expand_facts(json.loads(json.dumps(lean))) == json.loads(json.dumps(expand_facts(lean)))


# ---------------------------------------------------------------------------- namespaces

class TestContainerHost:

    def test_every_namespace_found(self, host_facts):
        expected = set(ref(t, i) for t, i in INIT.items())
        expected |= set(ref(t, i) for t, i in
                        [('net', C_NET), ('pid', C_PID), ('mnt', C_MNT), ('uts', C_UTS), ('ipc', C_IPC),
                         ('pid', UNJOINED_PID), ('net', LOOSE_NET), ('net', FD_NET), ('net', BIND_NET),
                         ('net', BIND_SPACE_NET), ('uts', C_BIND_UTS)])
        assert set(host_facts['namespaces']) == expected

    def test_records_are_keyed_by_ref(self, host_facts):
        for key, record in host_facts['namespaces'].items():
            assert record['ref'] == key == '%s:[%d]' % (record['type'], record['inode'])

    def test_initial_namespaces(self, host_facts):
        net = host_facts['namespaces'][ref('net', INIT['net'])]
        assert net['nprocs'] == 6                      # 1 2 100 400 500 600
        assert net['pid'] == 1
        assert net['leaders'] == [1, 2]                # parents outside: none (ppid 0)
        assert net['ealdorman'] == 1                   # starttime 1 < 2
        assert net['command'] == '/sbin/init splash'
        assert net['uid'] == 0
        assert net['dev'] is None                      # fixture: no nsfs device
        assert (net['owner'], net['parent'], net['children'], net['hidden']) == (None, None, [], False)
        user = host_facts['namespaces'][ref('user', INIT['user'])]
        assert user['nprocs'] == 9                     # nobody left the initial user ns

    def test_container_namespaces(self, host_facts):
        for nstype, inode in [('net', C_NET), ('pid', C_PID), ('mnt', C_MNT), ('uts', C_UTS), ('ipc', C_IPC)]:
            record = host_facts['namespaces'][ref(nstype, inode)]
            assert record['nprocs'] == 3, nstype
            assert record['pid'] == 200, nstype        # lowest pid, as lsns
            assert record['leaders'] == [200, 250], nstype   # 260's parent 200 is inside
            # oldest *leader* by starttime (250 at 600), not the oldest member (260 at 50)
            assert record['ealdorman'] == 250, nstype
            # pid, ppid, command, uid and user all describe the lowest PID, as in lsns
            assert (record['ppid'], record['command'], record['uid']) == (100, 'sleep infinity', 0), nstype

    def test_pid_for_children_names_an_unjoined_namespace(self, host_facts):
        record = host_facts['namespaces'][ref('pid', UNJOINED_PID)]
        assert record['for_children'] == [400]
        assert record['nprocs'] == 0
        assert record['pid'] is None
        assert record['leaders'] == []
        assert record['ealdorman'] is None
        assert record['command'] is None
        # the processes whose pid_for_children is their own pid ns are not listed anywhere
        assert host_facts['namespaces'][ref('pid', INIT['pid'])]['for_children'] == []
        assert host_facts['namespaces'][ref('pid', C_PID)]['for_children'] == []

    def test_time_for_children(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(30, comm='unshare', for_children={'time': 4026533000})
        facts = run(tree)
        assert facts['namespaces'][ref('time', 4026533000)]['for_children'] == [30]
        assert facts['namespaces'][ref('time', 4026533000)]['nprocs'] == 0

    def test_loose_thread(self, host_facts):
        record = host_facts['namespaces'][ref('net', LOOSE_NET)]
        assert record['loose_threads'] == [{'pid': 500, 'tid': 501}]
        assert record['nprocs'] == 0
        # the process itself stays in the initial net ns, and threads agreeing with it are not loose
        assert all(r['loose_threads'] == [] for k, r in host_facts['namespaces'].items() if k != ref('net', LOOSE_NET))

    def test_fd_on_namespace(self, host_facts):
        record = host_facts['namespaces'][ref('net', FD_NET)]
        assert record['fds'] == [{'pid': 600, 'fd': 7}]
        assert record['nprocs'] == 0
        # the socket is no namespace reference and sockets are not scanned on a fixture
        assert all(r['sockets'] == [] for r in host_facts['namespaces'].values())

    def test_bind_mounts(self, host_facts):
        init_mnt = ref('mnt', INIT['mnt'])
        assert host_facts['namespaces'][ref('net', BIND_NET)]['bind_mounts'] == [
            {'mnt_ns': init_mnt, 'path': '/run/netns/blue'}]
        # \040 in mountinfo is a space
        assert host_facts['namespaces'][ref('net', BIND_SPACE_NET)]['bind_mounts'] == [
            {'mnt_ns': init_mnt, 'path': '/run/netns/my ns'}]
        # found in the container's mount namespace, not only in the module's own
        assert host_facts['namespaces'][ref('uts', C_BIND_UTS)]['bind_mounts'] == [
            {'mnt_ns': ref('mnt', C_MNT), 'path': '/var/run/uts0'}]
        assert host_facts['namespaces'][ref('net', BIND_NET)]['nprocs'] == 0

    def test_roots_without_hierarchy(self, host_facts):
        # no ioctls on a fixture: every pid and user namespace is a root
        assert host_facts['roots'] == {
            'pid': sorted([ref('pid', INIT['pid']), ref('pid', C_PID), ref('pid', UNJOINED_PID)]),
            'user': [ref('user', INIT['user'])],
        }

    def test_initial_from_kthreadd(self, host_facts):
        assert host_facts['initial'] == INIT
        assert host_facts['discovery']['initial_source'] == 'pid 2 (kthreadd)'

    def test_discovery_block(self, host, host_facts):
        disc = host_facts['discovery']
        assert disc['proc_root'] == str(host)
        assert disc['procfs'] is False
        assert disc['processes_scanned'] == 9
        assert disc['skipped'] == {'permission_denied': 0, 'vanished': 0, 'malformed': 0, 'error': 0}
        assert disc['malformed_entries'] == 0
        assert disc['sources'] == ['processes', 'tasks', 'fds', 'bind_mounts']
        assert disc['duration'] >= 0

    def test_fixture_warning_names_path(self, host, host_facts):
        warnings = host_facts['discovery']['warnings']
        assert len(warnings) == 1
        assert 'not a mounted procfs' in warnings[0]
        assert str(host) in warnings[0]

    def test_self_is_the_modules_own(self, host_facts):
        assert set(host_facts['self']) <= set(NS_TYPES)
        if os.path.exists('/proc/self/ns/net'):
            assert host_facts['self']['net'] == int(os.readlink('/proc/self/ns/net').split('[')[1][:-1])

    def test_default_sources_leave_fds_out(self, host):
        facts = discover(proc_root=str(host))
        assert facts['discovery']['sources'] == ['processes', 'tasks', 'bind_mounts']
        assert ref('net', FD_NET) not in facts['namespaces']

    def test_no_process_table_by_default(self, host_facts):
        assert 'processes' not in host_facts

    def test_trailing_slash_and_relative_proc_root(self, host, monkeypatch):
        facts = run(str(host) + '/')
        assert facts['discovery']['proc_root'] == str(host)
        monkeypatch.chdir(os.path.dirname(str(host)))
        facts = discover(proc_root='proc')
        assert facts['discovery']['proc_root'] == str(host)
        assert facts['discovery']['processes_scanned'] == 9


class TestSources:

    def test_processes_only(self, host):
        facts = run(host, sources=[])
        assert facts['discovery']['sources'] == ['processes']
        refs = set(facts['namespaces'])
        for gone in (ref('net', LOOSE_NET), ref('net', FD_NET), ref('net', BIND_NET), ref('uts', C_BIND_UTS)):
            assert gone not in refs
        # pid_for_children is part of the process links, not a source
        assert ref('pid', UNJOINED_PID) in refs

    @pytest.mark.parametrize('source, found', [
        ('tasks', ('net', LOOSE_NET)),
        ('fds', ('net', FD_NET)),
        ('bind_mounts', ('net', BIND_NET)),
    ])
    def test_each_source_alone(self, host, source, found):
        facts = run(host, sources=[source])
        assert facts['discovery']['sources'] == ['processes', source]
        assert ref(*found) in facts['namespaces']
        others = {('net', LOOSE_NET), ('net', FD_NET), ('net', BIND_NET)} - {found}
        for other in others:
            assert ref(*other) not in facts['namespaces']

    def test_sockets_on_a_fixture(self, host):
        facts = run(host, sources=['sockets'])
        assert facts['discovery']['sources'] == ['processes', 'sockets']
        assert all(r['sockets'] == [] for r in facts['namespaces'].values())

    def test_sources_are_ordered_and_unique(self, host):
        facts = run(host, sources=['bind_mounts', 'tasks', 'tasks'])
        assert facts['discovery']['sources'] == ['processes', 'tasks', 'bind_mounts']

    def test_bind_mounts_from_next_process_when_first_unreadable(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.remove('1/mountinfo')
        tree.write('2/mountinfo', BASE_MOUNTINFO + nsfs_mount_line(600, 'ipc', 4026539999, '/run/ipc0'))
        facts = run(tree)
        assert facts['namespaces'][ref('ipc', 4026539999)]['bind_mounts'] == [
            {'mnt_ns': ref('mnt', INIT['mnt']), 'path': '/run/ipc0'}]

    def test_each_mount_namespace_read_once(self, host):
        facts = run(host)
        # three container processes share the mount ns: the bind mount is listed once
        assert len(facts['namespaces'][ref('uts', C_BIND_UTS)]['bind_mounts']) == 1


class TestProcessTable:

    def test_table(self, host):
        facts = run(host, process_table=True)
        table = facts['processes']
        assert [p['pid'] for p in table] == [1, 2, 100, 200, 250, 260, 400, 500, 600]
        proc = table[3]
        assert proc == {
            'pid': 200,
            'ppid': 100,
            'name': 'sleep',
            'cmdline': ['sleep', 'infinity'],
            'starttime': 900,
            'uid': 0,
            'nspid': [200, 1],
            'namespaces': dict(INIT, net=C_NET, pid=C_PID, mnt=C_MNT, uts=C_UTS, ipc=C_IPC),
            'for_children': {'pid_for_children': C_PID, 'time_for_children': INIT['time']},
            'cgroup': '/system.slice/docker-abc.scope',
        }
        kthreadd = table[1]
        assert kthreadd['cmdline'] == [] and kthreadd['name'] == 'kthreadd'
        assert table[6]['for_children']['pid_for_children'] == UNJOINED_PID

    def test_pids_filter(self, host):
        facts = run(host, pids=[250, 99999])
        assert [p['pid'] for p in facts['processes']] == [250]
        assert facts['processes'][0]['nspid'] == [250, 7]
        assert facts['processes'][0]['uid'] == 101
        # discovery still scans every process
        assert facts['discovery']['processes_scanned'] == 9
        assert facts['namespaces'][ref('net', INIT['net'])]['nprocs'] == 6

    def test_pids_filter_with_table_flag(self, host):
        facts = run(host, process_table=True, pids=[1])
        assert [p['pid'] for p in facts['processes']] == [1]

    def test_the_table_has_only_the_types_asked_for(self, host):
        # mnt links are read for bind mounts; they are not asked for here.
        facts = run(host, process_table=True, types=('net', 'pid'), sources=('tasks', 'fds', 'bind_mounts'))
        assert all(set(p['namespaces']) == {'net', 'pid'} for p in facts['processes'])
        assert all(set(p['for_children']) == {'pid_for_children'} for p in facts['processes'])

    def test_unknown_pids_give_empty_table(self, host):
        facts = run(host, pids=[424242])
        assert facts['processes'] == []

    @pytest.mark.parametrize('text, expected', [
        (cgroup_v1_text('/docker/abc', systemd_path='/system.slice/docker-abc.scope'), '/docker/abc'),
        ('12:pids:/first\n11:memory:/second\n1:name=systemd:/third\n', '/third'),
        ('12:pids:/first\n11:memory:/second\n', '/first'),
        ('12:pids:/first\n3:freezer:/frozen\n0::/v2\n', '/frozen'),
        (cgroup_hybrid_text('/v1/path', '/v2/path'), '/v1/path'),
        ('0::/only/v2\n', '/only/v2'),
        ('', None),
    ])
    def test_cgroup_path_choice(self, proc_dir, text, expected):
        tree = basic_host(proc_dir)
        tree.add_process(10, cgroup=text)
        facts = run(tree, pids=[10])
        assert facts['processes'][0]['cgroup'] == expected


class TestLeaders:

    def test_ealdorman_tie_on_starttime_takes_lower_pid(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(40, ppid=1, starttime=700, ns={'uts': 77}, cmdline=['b'])
        tree.add_process(30, ppid=1, starttime=700, ns={'uts': 77}, cmdline=['a'])
        record = run(tree)['namespaces'][ref('uts', 77)]
        assert record['leaders'] == [30, 40]
        assert (record['ealdorman'], record['command']) == (30, 'a')

    def test_parent_unreadable_makes_a_leader(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(30, ppid=1, starttime=700, ns={'uts': 77}, with_ns=False)   # skipped
        tree.add_process(31, ppid=30, starttime=800, ns={'uts': 77})
        facts = run(tree)
        assert facts['namespaces'][ref('uts', 77)]['leaders'] == [31]
        assert facts['discovery']['skipped']['vanished'] == 1

    def test_kernel_thread_command_is_its_name(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(50, comm='kworker/0:1', ppid=2, starttime=5, cmdline=[], ns={'uts': 78})
        record = run(tree)['namespaces'][ref('uts', 78)]
        assert record['command'] == 'kworker/0:1'

    def test_ealdorman_uid(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(60, ppid=1, starttime=9, ns={'user': 79}, uid=1000)
        assert run(tree)['namespaces'][ref('user', 79)]['uid'] == 1000

    def test_oldest_readable_process_when_no_kthreadd(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(1, comm='init', ppid=0, with_ns=False)      # unreadable
        tree.add_process(7, comm='late', ppid=1, starttime=500, ns={'net': 11})
        tree.add_process(9, comm='early', ppid=1, starttime=100, ns={'net': 12})
        facts = run(tree)
        assert facts['discovery']['initial_source'] == 'pid 9 (oldest readable process)'
        assert facts['initial']['net'] == 12

    def test_no_readable_process(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(1, comm='init', ppid=0, ns_texts={'net': 'net:'})
        facts = run(tree)
        assert facts['namespaces'] == {}
        assert facts['initial'] == {}
        assert facts['discovery']['initial_source'] is None
        assert facts['roots'] == {'pid': [], 'user': []}


class TestThreadsAndZombies:

    def test_a_threads_pid_for_children_names_its_namespace(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(70, ppid=1, starttime=70, threads={71: {}})
        os.unlink(os.path.join(tree.path, '70', 'task', '71', 'ns', 'pid_for_children'))
        tree.link('70/task/71/ns/pid_for_children', 'pid:[4026599999]')
        facts = run(tree)
        record = facts['namespaces'][ref('pid', 4026599999)]
        assert (record['nprocs'], record['for_children']) == (0, [70])
        assert not any(ns['loose_threads'] for ns in facts['namespaces'].values())

    def test_a_mount_namespace_only_a_thread_is_in_is_searched_for_bind_mounts(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(75, ppid=1, starttime=75, threads={76: {'mnt': 4026599001}})
        tree.write('75/task/76/mountinfo', BASE_MOUNTINFO + nsfs_mount_line(700, 'net', 4026599002, '/run/netns/t'))
        facts = run(tree)
        assert facts['namespaces'][ref('mnt', 4026599001)]['loose_threads'] == [{'pid': 75, 'tid': 76}]
        assert facts['namespaces'][ref('net', 4026599002)]['bind_mounts'] == [
            {'mnt_ns': ref('mnt', 4026599001), 'path': '/run/netns/t'}]

    def test_a_mount_namespace_that_cannot_be_searched_is_said(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(77, ppid=1, starttime=77, fds={0: '/dev/null', 5: 'mnt:[4026599003]'})
        facts = run(tree)
        assert facts['namespaces'][ref('mnt', 4026599003)]['fds'] == [{'pid': 77, 'fd': 5}]
        assert any(w.startswith('1 mount namespaces could not be searched for nsfs bind mounts: mnt:[4026599003]')
                   for w in facts['discovery']['warnings']), facts['discovery']['warnings']

    def test_a_zombie_leader_with_live_threads_is_where_its_threads_are(self, proc_dir):
        # A zombie thread-group leader keeps only its pid and user links.
        tree = basic_host(proc_dir)
        tree.add_process(80, comm='worker', ppid=1, starttime=80, ns={'net': 88, 'uts': 89}, threads={81: {}},
                         stat=stat_text(80, 'worker', state='Z', ppid=1, starttime=80, num_threads=2),
                         ns_names=('pid', 'user'))
        tree.add_process(90, ppid=80, starttime=90, ns={'net': 88, 'uts': 89})
        facts = run(tree)
        for nstype, inode in (('net', 88), ('uts', 89)):
            record = facts['namespaces'][ref(nstype, inode)]
            assert (record['nprocs'], record['leaders'], record['loose_threads']) == (2, [80], []), nstype
        assert not any(ns['loose_threads'] for ns in facts['namespaces'].values())


# ---------------------------------------------------------------------------- proc_root

class TestProcRoot:

    def test_empty_directory(self, proc_dir):
        with pytest.raises(ProcRootError) as info:
            discover(proc_root=str(proc_dir))
        assert str(proc_dir) in str(info.value)
        assert 'not a procfs' in str(info.value)

    def test_missing_directory(self, proc_dir):
        path = str(proc_dir / 'nope')
        with pytest.raises(ProcRootError) as info:
            discover(proc_root=path)
        assert path in str(info.value)
        assert 'not a directory' in str(info.value)

    def test_a_file(self, proc_dir):
        path = proc_dir / 'file'
        path.write_text('x')
        with pytest.raises(ProcRootError, match=str(path)):
            discover(proc_root=str(path))

    def test_pid_dirs_without_stat(self, proc_dir):
        (proc_dir / '1').mkdir()
        (proc_dir / '2').mkdir()
        (proc_dir / 'self').mkdir()
        with pytest.raises(ProcRootError, match='not a procfs'):
            discover(proc_root=str(proc_dir))

    def test_etc_is_not_proc(self):
        with pytest.raises(ProcRootError, match='/etc'):
            discover(proc_root='/etc')


# ---------------------------------------------------------------------------- module contract

MODULE_PARAMS = {'proc_root': '/proc', 'sources': list(pipeline.DEFAULT_SOURCES), 'types': list(NS_TYPES),
                 'processes': False, 'pids': []}


class TestModuleContract:

    def test_run_returns_facts_and_their_warnings(self, proc_dir):
        basic_host(proc_dir)
        request = pipeline.Request.from_params(dict(MODULE_PARAMS, proc_root=str(proc_dir), pids=[1]), True)
        result = pipeline.run(request)
        facts = result['ansible_facts']['namespaces']
        assert result['changed'] is False and result['warnings'] == facts['discovery']['warnings']
        assert any('not a mounted procfs' in warning for warning in result['warnings'])
        assert [proc['pid'] for proc in facts['processes']] == [1]

    def test_bad_pids_and_bad_proc_root_are_the_one_discovery_error(self, proc_dir):
        with pytest.raises(pipeline.DiscoveryError) as info:
            pipeline.Request.from_params(dict(MODULE_PARAMS, pids=[4, 0, -2]))
        assert info.value.msg == 'pids must be positive integer process IDs (1 or more); got 0, -2'
        with pytest.raises(pipeline.DiscoveryError, match='not a procfs'):
            pipeline.run(pipeline.Request.from_params(dict(MODULE_PARAMS, proc_root=str(proc_dir))))


# ---------------------------------------------------------------------------- malformed trees

class TestMalformed:
    """Each problem is counted, never a traceback; the output still matches the schema."""

    def test_truncated_status_of_ealdorman(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, ppid=1, starttime=20, ns={'uts': 90}, cmdline=['x'], status='Na')
        facts = run(tree, pids=[20])
        record = facts['namespaces'][ref('uts', 90)]
        assert (record['ealdorman'], record['command'], record['uid']) == (20, 'x', None)
        assert facts['processes'][0]['uid'] is None and facts['processes'][0]['nspid'] is None
        assert facts['discovery']['malformed_entries'] >= 1
        assert facts['discovery']['skipped']['malformed'] == 0     # the process itself is fine
        assert any('malformed' in w for w in facts['discovery']['warnings'])

    def test_ns_link_without_inode(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, ns_texts={'net': 'net:'})
        facts = run(tree)
        assert facts['discovery']['skipped']['malformed'] == 1
        assert facts['discovery']['processes_scanned'] == 2
        assert facts['namespaces'][ref('net', INIT['net'])]['nprocs'] == 2
        assert any('1 processes and 0 entries had malformed' in w for w in facts['discovery']['warnings'])

    @pytest.mark.parametrize('text', ['net:[abc]', 'bogus:[1]', 'ipc:[5]', '', 'net:[]'])
    def test_bad_ns_link_texts(self, proc_dir, text):
        tree = basic_host(proc_dir)
        if text:
            tree.add_process(20, ns_texts={'net': text})
        else:
            tree.add_process(20, ns_texts={'net': None})
            tree.write('20/ns/net', '')               # a regular file, as a bad copy leaves it
        facts = run(tree)
        assert sum(facts['discovery']['skipped'].values()) == 1
        assert facts['discovery']['processes_scanned'] == 2
        assert facts['discovery']['warnings'][1:]      # counted in a warning

    def test_garbage_mountinfo(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.write('1/mountinfo',
                   'total garbage\n'
                   + BASE_MOUNTINFO
                   + '40 x 0:4 net:[555] /run/netns/bad rw - nsfs nsfs rw\n'        # bad parent id
                   + '41 25 0:4 / /run/netns/noref rw - nsfs nsfs rw\n'             # root is no ns ref
                   + '42 25 0:4 net: /run/netns/noinode rw - nsfs nsfs rw\n'        # no inode
                   + nsfs_mount_line(43, 'net', 556, '/run/netns/good'))
        facts = run(tree)
        assert ref('net', 555) not in facts['namespaces']
        assert facts['namespaces'][ref('net', 556)]['bind_mounts'] == [
            {'mnt_ns': ref('mnt', INIT['mnt']), 'path': '/run/netns/good'}]
        assert facts['discovery']['malformed_entries'] == 3
        assert facts['discovery']['skipped']['malformed'] == 0

    def test_non_numeric_nspid(self, proc_dir):
        tree = basic_host(proc_dir)
        bad = status_text('sleep', 20).replace('NSpid:\t20', 'NSpid:\t20\tabc')
        tree.add_process(20, status=bad)
        facts = run(tree, pids=[20])
        assert facts['processes'][0]['pid'] == 20
        assert facts['processes'][0]['nspid'] is None
        assert facts['discovery']['malformed_entries'] == 1
        assert facts['discovery']['processes_scanned'] == 3

    @pytest.mark.parametrize('stat', [
        '20 (sleep) S 1 20 20',                     # missing fields
        '20 (sleep)',
        '20 sleep S 1',
        '',                                          # empty file
        'x (sleep) S 1 20 20 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 10 0',
    ])
    def test_bad_stat(self, proc_dir, stat):
        tree = basic_host(proc_dir)
        tree.add_process(20, stat=stat)
        facts = run(tree)
        assert facts['discovery']['skipped']['malformed'] == 1
        assert facts['discovery']['processes_scanned'] == 2

    def test_empty_files(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, ppid=1, starttime=3, ns={'uts': 91}, status='', cmdline=b'', cgroup='', mountinfo='')
        facts = run(tree, pids=[20])
        record = facts['namespaces'][ref('uts', 91)]
        assert record['command'] == 'sleep'            # empty cmdline: the name
        assert record['uid'] is None
        proc = facts['processes'][0]
        assert (proc['cmdline'], proc['uid'], proc['nspid'], proc['cgroup']) == ([], None, None, None)
        assert facts['discovery']['malformed_entries'] >= 1

    def test_missing_files(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, ppid=1, starttime=3, ns={'uts': 92})
        for name in ('status', 'cmdline', 'cgroup', 'mountinfo', 'fd'):
            tree.remove('20/' + name)
        tree.remove('20/task')
        facts = run(tree, pids=[20])
        assert facts['namespaces'][ref('uts', 92)]['command'] == 'sleep'
        assert facts['processes'][0]['uid'] is None
        assert facts['discovery']['processes_scanned'] == 3

    def test_pid_dir_without_ns(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, with_ns=False)
        facts = run(tree)
        assert facts['discovery']['processes_scanned'] == 2
        assert sum(facts['discovery']['skipped'].values()) == 1
        assert facts['discovery']['skipped']['vanished'] == 1     # ENOENT: as if it exited

    def test_pid_entry_is_a_file(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.write('30', 'not a directory')
        facts = run(tree)
        assert facts['discovery']['processes_scanned'] == 2
        assert facts['discovery']['skipped']['vanished'] == 1

    def test_old_kernel_without_time_and_for_children(self, proc_dir):
        tree = ProcTree(proc_dir)
        names = ('cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts')
        tree.add_process(1, comm='init', ppid=0, ns_names=names)
        tree.add_process(2, comm='kthreadd', ppid=0, cmdline=[], ns_names=names)
        facts = run(tree, process_table=True)
        assert facts['discovery']['skipped']['vanished'] == 0
        assert not any(r['type'] == 'time' for r in facts['namespaces'].values())
        assert facts['processes'][0]['for_children'] == {}

    def test_malformed_thread_link(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, threads={21: {}})
        tree.link('20/task/21/ns/net', 'net:')
        facts = run(tree)
        assert facts['discovery']['malformed_entries'] == 1
        assert facts['discovery']['processes_scanned'] == 3

    def test_thread_vanished(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, threads={21: {}})
        tree.remove('20/task/21/ns')
        facts = run(tree)
        assert facts['discovery']['malformed_entries'] == 0
        assert facts['discovery']['processes_scanned'] == 3

    def test_malformed_fd_link(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, fds={3: 'net:[x]', 4: 'net:[4026539000]', 5: 'mnt:'})
        facts = run(tree)
        assert facts['namespaces'][ref('net', 4026539000)]['fds'] == [{'pid': 20, 'fd': 4}]
        # "mnt:" does not start with "mnt:[" and is no namespace reference at all
        assert facts['discovery']['malformed_entries'] == 1

    def test_fd_link_of_a_type_other_than_the_prefix(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, fds={3: 'user:[4026539001]'})
        facts = run(tree)
        assert facts['namespaces'][ref('user', 4026539001)]['fds'] == [{'pid': 20, 'fd': 3}]

    def test_permission_denied_counted_and_explained(self, proc_dir, monkeypatch):
        tree = basic_host(proc_dir)
        tree.add_process(20)
        tree.add_process(21)
        real = procfs.read_ns_links

        def deny(root, pid, tid=None, names=procfs.NS_LINKS, known=None):
            if pid in (20, 21):
                raise OSError(errno.EACCES, 'Permission denied')
            return real(root, pid, tid, names, known)

        monkeypatch.setattr(procfs, 'read_ns_links', deny)
        monkeypatch.setattr(procfs, 'own_cap_eff', lambda: 0)
        facts = run(tree)
        assert facts['discovery']['skipped']['permission_denied'] == 2
        assert any('2 processes could not be read (permission denied)' in w and 'become' in w
                   for w in facts['discovery']['warnings'])
        monkeypatch.setattr(procfs, 'own_cap_eff', lambda: 1 << 19)
        facts = run(tree)
        assert any('even with CAP_SYS_PTRACE' in w for w in facts['discovery']['warnings'])

    def test_other_errors_counted(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, ns_texts={'net': None})
        tree.write('20/ns/net', 'net:[1]')    # regular file: readlink gives EINVAL
        facts = run(tree)
        assert facts['discovery']['skipped']['error'] == 1
        assert any('other reasons' in w for w in facts['discovery']['warnings'])

    def test_invalid_utf8_everywhere(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, comm='x', ppid=1, starttime=3, ns={'uts': 93}, cmdline=b'\xff\xfeprog\x00arg\x00',
                         cgroup='0::/caf\udce9\n')
        tree.write('20/stat', stat_text(20, 'x').replace('(x)', '(\udcff\udcfe)'))
        facts = run(tree, pids=[20])
        record = facts['namespaces'][ref('uts', 93)]
        assert record['command'].startswith('\udcff\udcfeprog')
        assert facts['processes'][0]['cgroup'] == '/caf\udce9'


# ---------------------------------------------------------------------------- hostile trees

class TestRobustness:
    """Inputs that a copied or hostile tree can hold: no traceback, output matches the schema."""

    def test_non_ascii_digit_entries_are_not_pids(self, proc_dir):
        # str.isdigit() is true for '²' and '١', but int('²') raises ValueError
        tree = basic_host(proc_dir)
        os.mkdir(tree.p('\u00b2'))
        facts = run(tree)
        assert facts['discovery']['processes_scanned'] == 2

    def test_non_ascii_digit_task_entries(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, threads={21: {}})
        os.mkdir(tree.p('20', 'task', '\u00b3'))
        facts = run(tree)
        assert facts['discovery']['processes_scanned'] == 3

    def test_huge_inode_in_bind_mount_root(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.write('1/mountinfo', BASE_MOUNTINFO + '40 25 0:4 net:[%s] /run/netns/x rw - nsfs nsfs rw\n' % ('9' * 5000))
        facts = run(tree)
        assert facts['discovery']['malformed_entries'] == 1

    def test_bind_mount_with_empty_mount_point(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.write('1/mountinfo', BASE_MOUNTINFO + '40 25 0:4 net:[4026539100]  rw - nsfs nsfs rw\n')
        run(tree)

    def test_inode_zero_in_ns_link(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, ns={'net': 0})
        run(tree)

    def test_negative_ppid_in_stat(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, stat=stat_text(20, 'x', ppid=-5))
        run(tree, pids=[20])

    def test_negative_starttime_in_stat(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, stat=stat_text(20, 'x', starttime=-5))
        run(tree, pids=[20])

    def test_negative_uid_in_status(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, ppid=1, starttime=3, ns={'uts': 94}, status=status_text('x', 20, uid=-1))
        run(tree)

    def test_zero_in_nspid(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(20, nspid=[20, 0])
        run(tree, pids=[20])

    def test_duration_is_never_negative(self, host, monkeypatch):
        # the wall clock can step backwards (NTP) between start and end of a scan
        wall = iter([1000.0, 990.0, 980.0, 970.0])        # steps back
        steady = iter([5.0, 5.5, 6.0, 6.5])                # monotonic clocks only go forward
        monkeypatch.setattr(pipeline, 'time', types.SimpleNamespace(
            time=lambda: next(wall), monotonic=lambda: next(steady), perf_counter=lambda: next(steady)))
        facts = discover(proc_root=str(host))
        assert facts['discovery']['duration'] >= 0

    def test_initial_cgroup_namespace_unknown_for_a_copied_tree(self, host_facts):
        # 'self' is the module's own (real /proc/self); 'initial' comes from the fixture tree.
        # Comparing them says nothing: the fact must be null (unknown), not false.
        assert host_facts['discovery']['initial_cgroup_namespace'] is None


# ---------------------------------------------------------------------------- the real /proc

@pytest.mark.skipif(not sys.platform.startswith('linux') or not os.path.exists('/proc/self/ns/net'),
                    reason='needs Linux /proc')
def test_real_proc():
    """One scan of the real /proc (a busy host has thousands of processes: scan once)."""
    lean = discover(proc_root='/proc', process_table=True)
    assert_valid(lean)
    facts = expand_facts(lean)
    assert_valid(facts, version=1)
    disc = facts['discovery']
    assert disc['procfs'] is True
    assert disc['processes_scanned'] >= 1
    assert not any('not a mounted procfs' in w for w in disc['warnings'])

    own_net = ref('net', facts['self']['net'])
    assert own_net in facts['namespaces']
    assert isinstance(facts['namespaces'][own_net]['dev'], int)
    # NS_GET_USERNS works on our own namespaces: every type but user has an owner
    assert facts['namespaces'][own_net]['owner'] is not None
    if lean['initial'].get('user') == lean['self'].get('user'):
        # owned by the initial user namespace: the lean record leaves it out
        assert 'owner' not in lean['namespaces'][own_net]
        assert facts['namespaces'][own_net]['owner'] == ref('user', lean['initial']['user'])

    me = [p for p in facts['processes'] if p['pid'] == os.getpid()]
    assert me, 'the test process itself is in the process table'
    assert me[0]['namespaces']['net'] == facts['self']['net']
    assert me[0]['nspid'] and me[0]['nspid'][-1] == os.getpid()

    # our own user and pid namespaces are in the trees that start at a root
    assert facts['roots']['user'] and facts['roots']['pid']
    for nstype in ('user', 'pid'):
        seen = set()
        todo = list(facts['roots'][nstype])
        while todo:
            current = todo.pop()
            seen.add(current)
            todo.extend(facts['namespaces'][current]['children'])
        assert ref(nstype, facts['self'][nstype]) in seen
