# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of cgroup placement planning on fixture hierarchies (v1, v2, hybrid)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils import _cgroup_limits as cg
from ansible_collections.nsops.namespaces.plugins.module_utils._procfs import ProcRoot


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
