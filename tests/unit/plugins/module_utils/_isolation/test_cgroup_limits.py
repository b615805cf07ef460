# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of cgroup placement planning on fixture hierarchies (v1, v2, hybrid)."""


import os

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import cgroup_limits as cg
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcRoot


@pytest.mark.parametrize('value, expected', [('64M', 64 << 20), ('64MiB', 64 << 20), ('1g', 1 << 30),
                                             (4096, 4096), ('512K', 512 << 10), ('max', 'max'), ('MAX', 'max')])
def test_parse_memory_max(value, expected):
    assert cg.parse_memory_max(value) == expected


@pytest.mark.parametrize('value', ['', '0', '-1', '1.5G', 'lots', '12P'])
def test_parse_memory_max_refuses(value):
    with pytest.raises(cg.CgroupError, match='is not a size'):
        cg.parse_memory_max(value)


@pytest.mark.parametrize('value, expected', [(64, 64), ('64', 64), ('max', 'max')])
def test_parse_pids_max(value, expected):
    assert cg.parse_pids_max(value) == expected


@pytest.mark.parametrize('weight, shares', [(100, 1024), (1, 10), (10000, 102400), (50, 512)])
def test_cpu_weight_to_shares(weight, shares):
    assert cg.cpu_weight_to_shares(weight) == shares


@pytest.mark.parametrize('path, expected', [('nsops/web', 'nsops/web'), ('/nsops//web/', 'nsops/web'),
                                            ('web.scope', 'web.scope')])
def test_normalize_path(path, expected):
    assert cg.normalize_path(path) == expected


@pytest.mark.parametrize('path', ['', '/', 'a/../b', './a', 'a b', 'a/.'])
def test_normalize_path_refuses(path):
    with pytest.raises(cg.CgroupError):
        cg.normalize_path(path)


def fixture_host(tmp_path, layout):
    """A proc root whose self/mountinfo describes cgroup mounts below tmp_path/cg."""
    lines = []
    mounts = {}
    for number, (fstype, options) in enumerate(layout):
        name = 'unified' if fstype == 'cgroup2' else options.replace(',', '_')
        mount_point = tmp_path / 'cg' / name
        mount_point.mkdir(parents=True)
        super_options = 'rw,' + options if options else 'rw'
        fields = (30 + number, 30 + number, mount_point, fstype, fstype, super_options)
        lines.append('%d 1 0:%d / %s rw - %s %s %s' % fields)
        mounts[name] = str(mount_point)
    (tmp_path / 'self').mkdir()
    (tmp_path / 'self' / 'mountinfo').write_text(u'\n'.join(lines) + '\n')
    return ProcRoot(str(tmp_path)), mounts


HYBRID = [('cgroup', 'cpu,cpuacct'), ('cgroup', 'memory'), ('cgroup', 'pids'), ('cgroup2', '')]


def test_plan_hybrid_uses_v1_for_limits(tmp_path):
    proc, mounts = fixture_host(tmp_path, HYBRID)
    directories, writes, enable = cg.plan('nsops/web', {'memory_max': 64 << 20, 'pids_max': 'max',
                                                        'cpu_weight': 50}, proc)
    assert directories == [os.path.join(mounts[m], 'nsops/web') for m in ('unified', 'memory', 'pids', 'cpu_cpuacct')]
    assert sorted(writes) == sorted([
        (os.path.join(mounts['memory'], 'nsops/web/memory.limit_in_bytes'), 64 << 20),
        (os.path.join(mounts['pids'], 'nsops/web/pids.max'), 'max'),
        (os.path.join(mounts['cpu_cpuacct'], 'nsops/web/cpu.shares'), 512),
    ])
    assert enable == []


def test_plan_v2_enables_controllers_along_the_path(tmp_path):
    proc, mounts = fixture_host(tmp_path, [('cgroup2', '')])
    with open(os.path.join(mounts['unified'], 'cgroup.controllers'), 'w') as handle:
        handle.write('cpuset cpu io memory pids\n')
    directories, writes, enable = cg.plan('nsops/web', {'memory_max': 'max', 'cpu_weight': 50}, proc)
    assert directories == [os.path.join(mounts['unified'], 'nsops/web')]
    assert sorted(writes) == [(os.path.join(mounts['unified'], 'nsops/web/cpu.weight'), 50),
                              (os.path.join(mounts['unified'], 'nsops/web/memory.max'), 'max')]
    assert sorted(enable) == sorted([(mounts['unified'], 'cpu'), (os.path.join(mounts['unified'], 'nsops'), 'cpu'),
                                     (mounts['unified'], 'memory'),
                                     (os.path.join(mounts['unified'], 'nsops'), 'memory')])


def test_plan_v1_memory_max_unlimited(tmp_path):
    proc, mounts = fixture_host(tmp_path, HYBRID)
    writes = cg.plan('web', {'memory_max': 'max'}, proc)[1]
    assert writes == [(os.path.join(mounts['memory'], 'web/memory.limit_in_bytes'), -1)]


def test_plan_missing_controller_names_the_fix(tmp_path):
    proc = fixture_host(tmp_path, [('cgroup2', '')])[0]
    with pytest.raises(cg.CgroupError, match='pids_max needs the pids controller, .* mount it or drop pids_max'):
        cg.plan('web', {'pids_max': 10}, proc)


def test_prepare_and_remove_on_fixture(tmp_path):
    proc, mounts = fixture_host(tmp_path, HYBRID)
    placement = cg.prepare('nsops/web', {'memory_max': 1 << 20, 'pids_max': None, 'cpu_weight': None}, proc)
    limit = os.path.join(mounts['memory'], 'nsops/web/memory.limit_in_bytes')
    with open(limit) as handle:
        assert handle.read() == str(1 << 20)
    assert placement['limits'] == {limit: str(1 << 20)}
    assert cg.procs_files(placement)[0] == os.path.join(mounts['unified'], 'nsops/web/cgroup.procs')
    # A real cgroupfs has no files to delete first; a fixture tree does.
    os.unlink(limit)
    assert cg.remove(placement) == []
    for mount in mounts.values():
        assert os.listdir(mount) == []


def test_remove_ignores_paths_a_record_should_not_hold(tmp_path):
    keep = tmp_path / 'keep'
    keep.mkdir()
    placement = {'path': 'nsops/web', 'directories': [str(keep)], 'created': [str(tmp_path)]}
    assert cg.remove(placement) == []
    assert keep.is_dir()


# ---------------------------------------------------------------------------- drift

def placed(tmp_path, pid=4242):
    """A prepared fixture placement with its process listed in every cgroup.procs."""
    proc, mounts = fixture_host(tmp_path, HYBRID)
    placement = cg.prepare('nsops/web', {'memory_max': 1 << 20, 'pids_max': 32, 'cpu_weight': None}, proc)
    for procs in cg.procs_files(placement):
        with open(procs, 'w') as handle:
            handle.write('%d\n' % pid)
    return placement, mounts


def test_no_drift_right_after_prepare(tmp_path):
    placement = placed(tmp_path)[0]
    assert cg.limit_drift(placement) == []
    assert cg.membership_drift(placement, 4242) == []
    assert cg.limit_drift(None) == [] and cg.membership_drift(None, 4242) == []


def test_limit_written_by_hand_is_drift_and_repaired(tmp_path):
    placement, mounts = placed(tmp_path)
    limit = os.path.join(mounts['pids'], 'nsops/web/pids.max')
    with open(limit, 'w') as handle:
        handle.write('max\n')
    drift = cg.limit_drift(placement)
    assert drift == [(limit, '32', 'max')]
    assert cg.repair(placement, 4242, drift, []) == [(limit, 'max', '32')]
    with open(limit) as handle:
        assert handle.read() == '32'
    assert cg.limit_drift(placement) == []


def test_a_value_the_kernel_reads_back_alike_is_no_change(tmp_path):
    placement, mounts = placed(tmp_path)
    limit = os.path.join(mounts['memory'], 'nsops/web/memory.limit_in_bytes')
    placement['limits'][limit] = '1048577'  # an old record: the value as written, not as read back
    with open(limit, 'w') as handle:
        handle.write('1048577')  # a fixture file keeps it as is: "the kernel" rounds nothing here
    assert cg.limit_drift(placement) == []
    placement['limits'][limit] = '1048577'
    with open(limit, 'w') as handle:
        handle.write('1048576')
    drift = cg.limit_drift(placement)
    assert drift == [(limit, '1048577', '1048576')]
    assert cg.repair(placement, 4242, drift, []) == [(limit, '1048576', '1048577')]


def test_process_moved_out_is_put_back(tmp_path):
    placement, mounts = placed(tmp_path)
    procs = os.path.join(mounts['memory'], 'nsops/web/cgroup.procs')
    with open(procs, 'w') as handle:
        handle.write('')
    assert cg.membership_drift(placement, 4242) == [os.path.dirname(procs)]
    assert cg.repair(placement, 4242, [], [os.path.dirname(procs)]) == [(procs, 'without 4242', 'with 4242')]
    assert cg.membership_drift(placement, 4242) == []


def test_removed_cgroup_is_drift_of_limits_and_membership(tmp_path):
    placement, mounts = placed(tmp_path)
    directory = os.path.join(mounts['pids'], 'nsops/web')
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)
    limit = os.path.join(directory, 'pids.max')
    assert cg.limit_drift(placement) == [(limit, '32', None)]
    assert cg.membership_drift(placement, 4242) == [directory]
    changed = cg.repair(placement, 4242, cg.limit_drift(placement), [directory])
    assert (limit, None, '32') in changed and os.path.isdir(directory)


def test_repair_failure_names_the_cgroup(tmp_path):
    placement = placed(tmp_path)[0]
    blocker = tmp_path / 'not-a-directory'
    blocker.write_text(u'')
    with pytest.raises(cg.CgroupError, match='repairing cgroup nsops/web failed: .*not-a-directory/pids.max'):
        cg.repair(placement, 4242, [(str(blocker / 'pids.max'), '32', None)], [])
