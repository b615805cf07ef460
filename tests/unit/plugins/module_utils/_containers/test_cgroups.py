# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


import errno
import os

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._containers import cgroups
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.cgroups import (
    Hierarchy,
    describe,
    hierarchies_from_mounts,
    identify,
    identify_all,
    identify_cgroup_text,
    normalize_pod_uid,
    read_procs_tree,
    unescape_systemd,
    walk_containers,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcParseError, parse_mountinfo
from ansible_collections.nsops.namespaces.tests.unit.fixtures.cgroups.fixture_tree import (
    build_host,
    load_hosts,
    load_layouts,
)

HOSTS = load_hosts()
LAYOUTS = load_layouts()
HOST_NAMES = sorted(HOSTS)
LAYOUT_NAMES = sorted(LAYOUTS)
ID = 'a' * 64


def _layout_containers():
    for layout_name in LAYOUT_NAMES:
        for spec in LAYOUTS[layout_name]['containers']:
            yield pytest.param(spec, id='%s:%s' % (layout_name, spec['expect'].get('id') or spec['expect']['name']))


def _layout_strays():
    for layout_name in LAYOUT_NAMES:
        for stray in LAYOUTS[layout_name].get('not_containers', []):
            yield pytest.param(stray['cgroup'], id='%s:%s' % (layout_name, stray['cgroup']))


# ---------------------------------------------------------------------------- hierarchies

def test_hybrid_host_has_v1_named_and_unified_hierarchies():
    hierarchies = hierarchies_from_mounts(parse_mountinfo(HOSTS['hybrid']['mountinfo']))
    assert [(h.name, h.version) for h in hierarchies] == [
        ('unified', 2), ('name=systemd', 1), ('cpu,cpuacct', 1), ('cpuset', 1), ('memory', 1)]
    assert hierarchies[0].mount_point == '/sys/fs/cgroup/unified'


def test_v1_mount_options_are_not_controllers_and_bind_mounts_count_once():
    hierarchies = hierarchies_from_mounts(parse_mountinfo(HOSTS['v1']['mountinfo']))
    assert [h.name for h in hierarchies] == ['name=systemd', 'cpu,cpuacct', 'cpuset', 'memory', 'pids']
    assert [h.mount_point for h in hierarchies if h.name == 'cpu,cpuacct'] == ['/sys/fs/cgroup/cpu,cpuacct']


def test_v2_host_has_one_unified_hierarchy_and_prefix_applies():
    hierarchies = hierarchies_from_mounts(parse_mountinfo(HOSTS['v2']['mountinfo']), mount_prefix='/host/')
    assert [(h.name, h.mount_point, h.root) for h in hierarchies] == [('unified', '/host/sys/fs/cgroup', '/')]


def test_bind_mount_of_a_subtree_prefers_the_whole_hierarchy():
    text = ('30 1 0:40 /docker/abc /mnt/sub rw - cgroup cgroup rw,memory\n'
            '31 1 0:40 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n')
    (hierarchy,) = hierarchies_from_mounts(parse_mountinfo(text))
    assert (hierarchy.mount_point, hierarchy.root) == ('/sys/fs/cgroup/memory', '/')


def test_directory_and_cgroup_path_are_inverse():
    hierarchy = Hierarchy(1, ['memory'], '/sys/fs/cgroup/memory')
    directory = hierarchy.directory('/docker/%s' % ID)
    assert directory == '/sys/fs/cgroup/memory/docker/%s' % ID
    assert hierarchy.cgroup_path(directory) == '/docker/%s' % ID
    assert hierarchy.directory('/') == '/sys/fs/cgroup/memory'
    assert hierarchy.cgroup_path('/sys/fs/cgroup/memory') == '/'


def test_subtree_mount_reaches_only_paths_below_its_root():
    hierarchy = Hierarchy(2, [], '/sys/fs/cgroup', root='/docker/%s' % ID)
    assert hierarchy.directory('/docker/%s/sub' % ID) == '/sys/fs/cgroup/sub'
    assert hierarchy.directory('/system.slice') is None
    assert hierarchy.cgroup_path('/sys/fs/cgroup/sub') == '/docker/%s/sub' % ID
    outside = Hierarchy(2, [], '/sys/fs/cgroup', root='/..')
    assert outside.directory('/kubepods') is None


def test_hierarchy_matches_its_cgroup_file_entries():
    entries = cgroups.parse_cgroup('4:cpu,cpuacct:/a\n1:name=systemd:/b\n0::/c\n')
    v1 = Hierarchy(1, ['cpuacct', 'cpu'], '/x')
    named = Hierarchy(1, ['name=systemd'], '/y')
    unified = Hierarchy(2, [], '/z')
    assert [v1.matches(e) for e in entries] == [True, False, False]
    assert cgroups.paths_by_hierarchy(entries, [v1, named, unified]) == {
        'cpu,cpuacct': '/a', 'name=systemd': '/b', 'unified': '/c'}


# ---------------------------------------------------------------------------- identity

@pytest.mark.parametrize('spec', list(_layout_containers()))
def test_every_layout_identifies_its_containers(spec):
    for suffix in ('', '/container', '/payload/system.slice/x.service'):
        identity = identify(spec['cgroup'] + suffix)
        assert identity is not None, spec['cgroup']
        assert identity.cgroup == spec['cgroup']
        assert identity.role == 'container'
        for key, value in spec['expect'].items():
            assert getattr(identity, key) == value, (key, spec['cgroup'])


@pytest.mark.parametrize('spec', [p for p in _layout_containers() if p.values[0].get('monitor')])
def test_monitors_share_the_key_of_their_container(spec):
    monitor = identify(spec['monitor']['cgroup'])
    assert monitor.role == 'monitor'
    assert monitor.key == identify(spec['cgroup']).key


@pytest.mark.parametrize('path', list(_layout_strays()) + [
    '/', '/user.slice', '/system.slice/cron.service', '/init.scope',
    '/nsopslab/0a1b2c3d/%s' % ID,                 # test lab default: no runtime's layout
    '/process_api/665cd2d42270aedb2538b260b3070241',
    '/kubepods', '/kubepods/burstable', '/kubepods/burstable/pod6d0e25a4-436e-4569-9bae-17785b801a26',
    '/kubepods.slice/kubepods-besteffort.slice',
    '/docker', '/docker/not-hex', '/docker/%s' % ID[:63],
    '/user.slice/%s' % ID,                        # a systemd slice is no containerd namespace
    '/tenant/sub/%s' % ID,                        # containerd namespaces sit at the top only
    '/machine.slice/machine-qemu\\x2d3\\x2dubuntu.scope',
    '/kubepods/burstable/podnot-a-uid/%s' % ID,
])
def test_unknown_layouts_are_not_guessed(path):
    assert identify(path) is None
    assert describe(identify(path))['runtime'] is None


def test_nested_containers_are_all_named_innermost_last():
    path = '/docker/%s/kubepods/besteffort/pod6d0e25a4-436e-4569-9bae-17785b801a26/%s' % (ID, 'b' * 64)
    outer, inner = identify_all(path)
    assert (outer.runtime, outer.id) == ('docker', ID)
    assert (inner.runtime, inner.id, inner.qos) == ('cri', 'b' * 64, 'besteffort')
    assert identify(path) == inner


def test_kubelet_cgroup_root_prefix_is_understood():
    path = ('/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/'
            'kubelet-kubepods-burstable-pod6d0e25a4_436e_4569_9bae_17785b801a26.slice/cri-containerd-%s.scope' % ID)
    identity = identify(path)
    assert (identity.pod_uid, identity.qos, identity.runtime) == (
        '6d0e25a4-436e-4569-9bae-17785b801a26', 'burstable', 'containerd')


def test_pod_uid_and_systemd_escapes_are_normalised():
    assert normalize_pod_uid('6D0E25A4_436E_4569_9BAE_17785B801A26') == '6d0e25a4-436e-4569-9bae-17785b801a26'
    assert unescape_systemd('my\\x2dbox\\x5cx') == 'my-box\\x'


def test_identity_as_dict_has_every_field():
    data = describe(identify('/system.slice/docker-%s.scope' % ID))
    assert data == {'runtime': 'docker', 'id': ID, 'name': None, 'role': 'container',
                    'cgroup': '/system.slice/docker-%s.scope' % ID, 'cgroup_driver': 'systemd',
                    'pod_uid': None, 'qos': None, 'podman_pod_id': None, 'containerd_namespace': None,
                    'rootless_uid': None}
    assert set(describe(None)) == set(data)


# ---------------------------------------------------------------------------- /proc/PID/cgroup text

@pytest.mark.parametrize('host_name', HOST_NAMES)
def test_cgroup_text_of_a_container_process(tmp_path, host_name):
    host = build_host(tmp_path, host_name, ['crio-systemd'])
    with open(os.path.join(host.proc_root, '1601', 'cgroup')) as handle:
        text = handle.read()
    identity, path = identify_cgroup_text(text)
    assert (identity.runtime, identity.id, identity.qos) == ('cri-o', host.containers[0]['expect']['id'], 'guaranteed')
    assert path == host.containers[0]['cgroup']


def test_cgroup_text_majority_wins_and_unknown_reports_the_unified_path():
    text = '3:memory:/docker/%s\n2:cpuset:/docker/%s\n1:name=systemd:/user.slice\n0::/user.slice\n' % (ID, ID)
    identity, path = identify_cgroup_text(text)
    assert identity.id == ID and path == '/docker/%s' % ID
    assert identify_cgroup_text('1:name=systemd:/init.scope\n0::/init.scope\n') == (None, '/init.scope')
    assert identify_cgroup_text('/docker/%s' % ID)[0].id == ID


def test_malformed_cgroup_text_raises_parse_error():
    with pytest.raises(ProcParseError):
        identify_cgroup_text('0::/ok\nnot a cgroup line\n')


# ---------------------------------------------------------------------------- walking

@pytest.mark.parametrize('host_name', HOST_NAMES)
def test_walk_finds_every_container_and_monitor_directory(tmp_path, host_name):
    host = build_host(tmp_path, host_name)
    hierarchies = cgroups.read_hierarchies(_cgroups_root(host), mount_prefix=host.base)
    assert len(hierarchies) == len(host.hierarchies)
    expected = set()
    for container in host.containers:
        expected.add(container['cgroup'])
    for layout in LAYOUTS.values():
        for spec in layout['containers']:
            if spec.get('monitor'):
                expected.add(spec['monitor']['cgroup'])
    for hierarchy in hierarchies:
        problems = []
        found = dict((hierarchy.cgroup_path(d), identity) for d, identity in walk_containers(hierarchy, problems))
        assert set(found) == expected
        assert problems == []
        for path, identity in found.items():
            assert identity.cgroup == path


def test_walk_of_a_missing_mount_is_quiet_and_unlistable_dirs_are_noted(tmp_path, monkeypatch):
    problems = []
    assert list(walk_containers(Hierarchy(2, [], str(tmp_path / 'nothing')), problems)) == []
    assert problems == []
    (tmp_path / 'docker' / ID).mkdir(parents=True)
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith('docker'):
            raise OSError(errno.EACCES, 'Permission denied')
        return real_scandir(path)

    monkeypatch.setattr(cgroups.os, 'scandir', scandir)
    assert list(walk_containers(Hierarchy(2, [], str(tmp_path)), problems)) == []
    assert problems == [(str(tmp_path / 'docker'), 'permission_denied')]


def test_read_procs_tree_recurses_skips_nested_and_notes_problems(tmp_path, monkeypatch):
    top = tmp_path / 'top'
    (top / 'container').mkdir(parents=True)
    (top / 'nested').mkdir()
    (top / 'bad').mkdir()
    (top / 'cgroup.procs').write_text('')
    (top / 'container' / 'cgroup.procs').write_text('10\n11\n')
    (top / 'nested' / 'cgroup.procs').write_text('20\n')
    (top / 'bad' / 'cgroup.procs').write_text('12\n')
    real_read_procs = cgroups.read_procs

    def read_procs(directory):
        if directory.endswith('bad'):
            raise OSError(errno.EACCES, 'Permission denied')
        return real_read_procs(directory)

    monkeypatch.setattr(cgroups, 'read_procs', read_procs)
    problems = []
    found = read_procs_tree(str(top), skip=set([str(top / 'nested')]), problems=problems)
    assert found == {10: str(top / 'container'), 11: str(top / 'container')}
    assert problems == [(str(top / 'bad' / 'cgroup.procs'), 'permission_denied')]


def test_read_procs_tree_of_a_vanished_cgroup_is_empty(tmp_path):
    problems = []
    assert read_procs_tree(str(tmp_path / 'gone'), problems=problems) == {}
    assert problems == [(str(tmp_path / 'gone' / 'cgroup.procs'), 'vanished')]


def test_garbage_in_cgroup_procs_is_a_parse_problem(tmp_path):
    (tmp_path / 'cgroup.procs').write_text('12\nxyz\n')
    problems = []
    assert read_procs_tree(str(tmp_path), problems=problems) == {}
    assert problems == [(str(tmp_path / 'cgroup.procs'), 'malformed')]


def _cgroups_root(host):
    from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcRoot
    return ProcRoot(host.proc_root)


# Layouts seen with the real engines (tests/functional/test_engines.py).
PODMAN_POD = 'a1' * 32
PODMAN_CTR = 'b2' * 32


def test_podman_cgroupfs_pod_member_names_the_pod():
    identity = cgroups.identify('/libpod_parent/%s/libpod-%s' % (PODMAN_POD, PODMAN_CTR))
    assert (identity.runtime, identity.id, identity.podman_pod_id) == ('podman', PODMAN_CTR, PODMAN_POD)
    alone = cgroups.identify('/libpod_parent/libpod-%s' % PODMAN_CTR)
    assert alone.podman_pod_id is None


def test_podman_cgroupfs_conmon_dirs_are_no_container():
    assert cgroups.identify('/libpod_parent/conmon') is None
    assert cgroups.identify('/libpod_parent/%s/conmon' % PODMAN_POD) is None
    assert cgroups.identify('/libpod_parent/%s' % PODMAN_POD) is None


def test_nspawn_supervisor_is_the_monitor_and_payload_the_container():
    supervisor = cgroups.identify('/machine.slice/machine-web.scope/supervisor')
    assert (supervisor.runtime, supervisor.name, supervisor.role) == ('systemd-nspawn', 'web', cgroups.MONITOR)
    assert supervisor.key == cgroups.identify('/machine.slice/machine-web.scope').key
    payload = cgroups.identify('/machine.slice/machine-web.scope/payload')
    assert (payload.role, payload.cgroup) == (cgroups.CONTAINER, '/machine.slice/machine-web.scope')
    # only directly below the scope: a cgroup named supervisor deeper inside belongs to the container
    inner = cgroups.identify('/machine.slice/machine-web.scope/payload/supervisor')
    assert inner.role == cgroups.CONTAINER
