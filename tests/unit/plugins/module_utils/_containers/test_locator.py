# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


import errno
import os
import shutil

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._containers import cgroups

from ansible_collections.nsops.namespaces.plugins.module_utils._containers import locator
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.locator import ContainerLocator
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import (
    ContainerError,
    ContainerLookupError,
    Selector,
)
from ansible_collections.nsops.namespaces.tests.unit.fixtures.cgroups.fixture_tree import (
    HOST_NS,
    build_host,
    load_hosts,
    load_layouts,
)

HOST_NAMES = sorted(load_hosts())
LAYOUTS = load_layouts()
LAYOUT_NAMES = sorted(LAYOUTS)
POD1 = '6d0e25a4-436e-4569-9bae-17785b801a26'


def locate(host, **selectors):
    return ContainerLocator(host.proc_root).locate(Selector.from_params(selectors))


def by_key(result):
    return dict(((c['runtime'], c['id'] or c['name']), c) for c in result['containers'])


def key_of(container):
    expect = container['expect']
    return (expect['runtime'], expect['id'] or expect['name'])


# ---------------------------------------------------------------------------- every layout, every host

@pytest.mark.parametrize('layout_name', LAYOUT_NAMES)
@pytest.mark.parametrize('host_name', HOST_NAMES)
def test_listing_reports_each_layout_exactly(tmp_path, host_name, layout_name):
    host = build_host(tmp_path, host_name, [layout_name])
    result = locate(host)
    found = by_key(result)
    assert sorted(found) == sorted(key_of(c) for c in host.containers)
    all_pids = set()
    for expected in host.containers:
        record = found[key_of(expected)]
        for field, value in expected['expect'].items():
            assert record[field] == value, field
        assert record['pids'] == sorted(expected['pids'])
        assert dict((p['pid'], p['inner_pid']) for p in record['processes']) == expected['inner']
        assert record['verified'] is True, record['processes']
        assert record['state'] == 'running'
        assert record['problems'] == []
        ones = [pid for pid, inner in expected['inner'].items() if inner == 1]
        assert record['init_pid'] == min(ones or expected['pids'])  # fixture: lower PID = started earlier
        assert record['namespaces'] == expected['namespaces']
        assert record['shared_with_host'] == ['cgroup', 'time', 'user']
        assert set(record['cgroups']) == set(h.name for h in host.hierarchies)
        assert set(record['cgroups'].values()) == set([expected['cgroup']])
        assert record['cgroup'] == expected['cgroup']
        if expected['monitor_pids']:
            assert record['monitor']['pids'] == expected['monitor_pids']
        else:
            assert record['monitor'] is None
        all_pids.update(record['pids'])
    assert not all_pids & set(host.not_container_pids)
    assert result['cgroup_namespace']['initial'] is True
    assert [h['name'] for h in result['hierarchies']] == [h.name for h in host.hierarchies]


@pytest.mark.parametrize('host_name', HOST_NAMES)
def test_all_layouts_together_on_one_host(tmp_path, host_name):
    host = build_host(tmp_path, host_name)
    result = locate(host)
    assert sorted(by_key(result)) == sorted(key_of(c) for c in host.containers)
    assert result['notes'] == []


@pytest.mark.parametrize('host_name', HOST_NAMES)
def test_pod_app_shares_net_ipc_uts_with_its_pause_container(tmp_path, host_name):
    host = build_host(tmp_path, host_name, ['kubernetes-systemd-containerd'])
    pause, app = host.containers
    result = locate(host, pod_uid=POD1)
    found = dict((c['id'], c) for c in result['containers'])
    pause_id, app_id = pause['expect']['id'], app['expect']['id']
    assert found[app_id]['shared_with_containers'] == {'ipc': [pause_id], 'net': [pause_id], 'uts': [pause_id]}
    assert found[pause_id]['shared_with_containers'] == {'ipc': [app_id], 'net': [app_id], 'uts': [app_id]}
    # Sharing is found even when only one of them was asked for.
    (only_app,) = locate(host, id=app_id[:12])['containers']
    assert only_app['shared_with_containers']['net'] == [pause_id]


def test_nested_container_keeps_its_processes(tmp_path):
    host = build_host(tmp_path, 'v2', ['kind-nested'])
    found = by_key(locate(host))
    node, inner = host.containers
    assert found[key_of(node)]['pids'] == node['pids']
    assert found[key_of(inner)]['pids'] == inner['pids']
    assert found[key_of(inner)]['processes'][0]['nspid'] == [2411, 90, 1]


# ---------------------------------------------------------------------------- selectors

def test_id_full_prefix_and_upper_case(tmp_path):
    host = build_host(tmp_path, 'hybrid', ['docker-systemd'])
    full = host.containers[0]['expect']['id']
    for value in (full, full[:12], full[:3].upper()):
        (record,) = locate(host, id=value)['containers']
        assert record['id'] == full


def test_ambiguous_prefix_lists_the_candidates(tmp_path):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs', 'kubernetes-cgroupfs'])
    same = host.containers[0]['expect']['id']  # docker and a Kubernetes container share this ID here
    with pytest.raises(ContainerLookupError) as exc:
        locate(host, id=same[:6])
    assert 'matches 2 containers' in str(exc.value)
    assert '(docker)' in str(exc.value) and '(cri, pod' in str(exc.value)
    assert exc.value.result['candidates'] == [same, same]
    # A selector that tells them apart settles it.
    assert [c['runtime'] for c in locate(host, id=same[:6], runtime='docker')['containers']] == ['docker']


def test_no_match_is_an_empty_list_not_an_error(tmp_path):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs'])
    assert locate(host, id='0123')['containers'] == []
    assert locate(host, pod_uid=POD1)['containers'] == []


def test_pod_uid_accepts_the_systemd_spelling(tmp_path):
    host = build_host(tmp_path, 'v1', ['kubernetes-systemd-containerd', 'docker-cgroupfs'])
    result = locate(host, pod_uid=POD1.replace('-', '_').upper())
    assert sorted(c['id'] for c in result['containers']) == sorted(c['expect']['id'] for c in host.containers[:2])


def test_runtime_and_name(tmp_path):
    host = build_host(tmp_path, 'v2', ['lxc', 'systemd-nspawn', 'podman-systemd'])
    assert sorted(c['name'] for c in locate(host, runtime='lxc')['containers']) == ['old1', 'web1']
    (box,) = locate(host, name='build-box')['containers']
    assert box['runtime'] == 'systemd-nspawn' and box['pids'] == [2201, 2202]
    assert len(locate(host, runtime='podman')['containers']) == 2


def test_host_pid_finds_its_container_also_from_the_monitor(tmp_path):
    host = build_host(tmp_path, 'hybrid', ['crio-systemd', 'docker-cgroupfs'])
    crio = [c for c in host.containers if c['expect']['runtime'] == 'cri-o'][0]
    for pid in (1601, 1600):
        (record,) = locate(host, pid=pid)['containers']
        assert record['id'] == crio['expect']['id']
        assert record['monitor']['pids'] == [1600]


def test_host_pid_outside_containers_gives_a_note(tmp_path):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs'])
    result = locate(host, pid=900)
    assert result['containers'] == []
    assert 'PID 900 is in no container cgroup' in result['notes'][0]
    with pytest.raises(ContainerLookupError) as exc:
        locate(host, pid=4242)
    assert 'no process with PID 4242' in str(exc.value)


@pytest.mark.parametrize('host_name', HOST_NAMES)
def test_inner_pid_translates_to_the_host_pid(tmp_path, host_name):
    host = build_host(tmp_path, host_name, ['docker-cgroupfs'])
    cid = host.containers[0]['expect']['id']
    result = locate(host, pid=29, pid_namespace_of=cid[:10])
    assert result['host_pid'] == 1002
    assert [c['id'] for c in result['containers']] == [cid]
    assert locate(host, pid=1, pid_namespace_of=cid)['host_pid'] == 1001
    with pytest.raises(ContainerLookupError) as exc:
        locate(host, pid=5, pid_namespace_of=cid)
    assert 'PIDs there: 1, 29' in str(exc.value)


def test_inner_pid_of_a_named_container_and_of_an_absent_one(tmp_path):
    host = build_host(tmp_path, 'v2', ['systemd-nspawn'])
    assert locate(host, pid=31, pid_namespace_of='build-box')['host_pid'] == 2202
    result = locate(host, pid=1, pid_namespace_of='abcdef')
    assert result['host_pid'] is None and result['containers'] == []


def test_inner_pid_in_a_pod_sharing_its_pid_namespace_is_found_in_the_sibling(tmp_path):
    host = build_host(tmp_path, 'hybrid', ['kubernetes-shared-pid-namespace'])
    sandbox, app = host.containers
    result = locate(host, pid=7, pid_namespace_of=sandbox['expect']['id'])
    assert result['host_pid'] == 2511
    assert [c['id'] for c in result['containers']] == [app['expect']['id']]
    (record,) = locate(host, id=app['expect']['id'])['containers']
    assert record['shared_with_containers'] == dict(
        (nstype, [sandbox['expect']['id']]) for nstype in ('ipc', 'net', 'pid', 'uts'))
    # No process is PID 1 of its own namespace here: the oldest top-level one is the init.
    assert record['init_pid'] == 2511


def test_inner_pid_never_comes_from_another_pid_namespace(tmp_path):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs', 'docker-systemd', 'kind-nested'])
    systemd_id = [c for c in host.containers if c['expect'].get('cgroup_driver') == 'systemd'][0]['expect']['id']
    assert locate(host, pid=1, pid_namespace_of=systemd_id)['host_pid'] == 1101
    # The kind node's PID namespace holds the nested container's processes too, but they are in
    # another container's cgroup and a PID namespace of their own: not translated.
    node = [c for c in host.containers if c['label'] == 'node'][0]['expect']['id']
    with pytest.raises(ContainerLookupError) as exc:
        locate(host, pid=90, pid_namespace_of=node)
    assert 'PIDs there: 1' in str(exc.value)


@pytest.mark.parametrize('selectors', [{'id': '5274f7b8'}, {'pod_uid': POD1}, {}, {'pid': 1001},
                                       {'pid': 1, 'pid_namespace_of': '5274f7b8'}])
def test_lookup_walks_cgroups_and_never_lists_every_process(tmp_path, monkeypatch, selectors):
    host = build_host(tmp_path, 'hybrid', ['docker-cgroupfs', 'kubernetes-systemd-containerd'])
    listed = []
    for module in (os, cgroups.os, locator.os):
        real_listdir, real_scandir = module.listdir, module.scandir
        monkeypatch.setattr(module, 'listdir', lambda path, real=real_listdir: listed.append(str(path)) or real(path))
        monkeypatch.setattr(module, 'scandir', lambda path, real=real_scandir: listed.append(str(path)) or real(path))
    result = locate(host, **selectors)
    assert result['containers']
    assert host.proc_root not in listed and host.proc_root + '/' not in listed
    assert not [path for path in listed if path.startswith(host.proc_root + '/')]


# ---------------------------------------------------------------------------- races and unreadable files

def test_vanished_pid_is_reported_not_fatal(tmp_path):
    host = build_host(tmp_path, 'hybrid', ['docker-cgroupfs'])
    shutil.rmtree(os.path.join(host.proc_root, '1002'))
    (record,) = locate(host)['containers']
    assert record['pids'] == [1001]
    assert record['vanished_pids'] == [1002]
    assert record['verified'] is True
    assert 'PIDs 1002 exited during the lookup' in record['problems']


def test_empty_cgroup_procs_is_an_empty_container(tmp_path):
    host = build_host(tmp_path, 'v1', ['docker-systemd'])
    for hierarchy in host.hierarchies:
        open(os.path.join(host.cgroup_dir(hierarchy, host.containers[0]['cgroup']), 'cgroup.procs'), 'w').close()
    (record,) = locate(host)['containers']
    assert (record['state'], record['pids'], record['init_pid'], record['verified']) == ('empty', [], None, False)
    assert record['namespaces'] == {} and record['shared_with_containers'] == {}
    assert 'cgroup.procs is empty' in record['problems'][0]


def test_unreadable_cgroup_procs_is_a_problem_not_a_failure(tmp_path, monkeypatch):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs'])
    real_read_procs = cgroups.read_procs

    def read_procs(directory):
        if directory.endswith(host.containers[0]['expect']['id']):
            raise OSError(errno.EACCES, 'Permission denied')
        return real_read_procs(directory)

    monkeypatch.setattr(cgroups, 'read_procs', read_procs)
    (record,) = locate(host)['containers']
    assert record['state'] == 'empty'
    assert any(problem.endswith('cgroup.procs: permission_denied') for problem in record['problems'])


def test_unreadable_process_is_reported_unverified(tmp_path, monkeypatch):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs'])
    real_read_status = locator.read_status

    def read_status(root, pid):
        if pid == 1002:
            raise OSError(errno.EACCES, 'Permission denied')
        return real_read_status(root, pid)

    monkeypatch.setattr(locator, 'read_status', read_status)
    (record,) = locate(host)['containers']
    assert record['pids'] == [1001, 1002]
    assert record['verified'] is False
    assert 'PID 1002: permission denied' in record['problems']


def test_pid_reused_by_a_process_elsewhere_is_not_verified(tmp_path):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs'])
    with open(os.path.join(host.proc_root, '1002', 'cgroup'), 'w') as handle:
        handle.write('0::/system.slice/cron.service\n')
    (record,) = locate(host)['containers']
    process = [p for p in record['processes'] if p['pid'] == 1002][0]
    assert process['verified'] is False
    assert process['mismatches'] == ['unified: the process is in /system.slice/cron.service, not below %s'
                                     % host.containers[0]['cgroup']]
    assert record['verified'] is False


def test_v1_cpuset_outside_the_container_is_a_mismatch(tmp_path):
    host = build_host(tmp_path, 'v1', ['docker-cgroupfs'])
    path = host.containers[0]['cgroup']
    # The process is in the container everywhere except cpuset, whose directory runc did not make.
    cpuset = [h for h in host.hierarchies if h.name == 'cpuset'][0]
    shutil.rmtree(host.cgroup_dir(cpuset, path))
    with open(os.path.join(host.proc_root, '1001', 'cgroup')) as handle:
        text = handle.read()
    with open(os.path.join(host.proc_root, '1001', 'cgroup'), 'w') as handle:
        handle.write(text.replace(':cpuset:%s' % path, ':cpuset:/'))
    (record,) = locate(host)['containers']
    mismatches = dict((p['pid'], p['mismatches']) for p in record['processes'])
    assert mismatches[1001] == ['cpuset: the process is in /, outside the container']
    assert mismatches[1002] == []
    assert 'cpuset' not in record['cgroups']


def test_zombie_is_listed_with_a_problem(tmp_path):
    host = build_host(tmp_path, 'v2', ['docker-systemd'])
    stat_path = os.path.join(host.proc_root, '1101', 'stat')
    with open(stat_path) as handle:
        text = handle.read()
    with open(stat_path, 'w') as handle:
        handle.write(text.replace(') S ', ') Z '))
    (record,) = locate(host)['containers']
    assert record['processes'][0]['state'] == 'Z'
    assert 'PID 1101 is a zombie (exited, not yet reaped)' in record['problems']


def test_no_cgroup_mounts_is_a_note(tmp_path):
    host = build_host(tmp_path, 'v2', [])
    with open(os.path.join(host.proc_root, 'self', 'mountinfo'), 'w') as handle:
        handle.write('30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n')
    result = locate(host)
    assert result['containers'] == [] and result['hierarchies'] == []
    assert 'no cgroup file system is mounted' in result['notes'][0]


# ---------------------------------------------------------------------------- cgroup namespace

def _relink(path, text):
    os.unlink(path)
    os.symlink(text, path)


def test_outside_the_initial_cgroup_namespace_is_noted(tmp_path):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs'])
    _relink(os.path.join(host.proc_root, 'self', 'ns', 'cgroup'), 'cgroup:[4026532999]')
    result = locate(host)
    assert result['cgroup_namespace'] == {'initial': False, 'inode': 4026532999,
                                          'initial_inode': HOST_NS['cgroup'], 'joined_initial': False}
    assert 'not the initial cgroup:[%d]' % HOST_NS['cgroup'] in result['notes'][0]


def test_without_kthreadd_the_namespace_is_unknown(tmp_path):
    host = build_host(tmp_path, 'v2', ['docker-cgroupfs'])
    shutil.rmtree(os.path.join(host.proc_root, '2'))
    result = locate(host)
    assert result['cgroup_namespace']['initial'] is None
    assert 'the initial cgroup namespace is not visible' in result['notes'][0]
    assert len(result['containers']) == 1


def test_join_is_tried_only_on_the_real_proc(tmp_path, monkeypatch):
    host = build_host(tmp_path, 'v2', [])
    _relink(os.path.join(host.proc_root, 'self', 'ns', 'cgroup'), 'cgroup:[4026532999]')
    calls = []
    monkeypatch.setattr(locator, '_join_cgroup_namespace', lambda path: calls.append(path) or (True, None))
    ContainerLocator(host.proc_root, join_initial_cgroup_namespace=True).locate(Selector())
    assert calls == []


# ---------------------------------------------------------------------------- lookups for other modules

def test_selected_containers_are_found_by_id_prefix_and_pod(tmp_path):
    host = build_host(tmp_path, 'hybrid', ['kubernetes-systemd-containerd', 'docker-cgroupfs'])
    docker = [c['expect'] for c in host.containers if c['expect']['runtime'] == 'docker'][0]
    (record,) = locator.locate_selected(host.proc_root, container_id=docker['id'][:10])
    assert record['id'] == docker['id']
    assert len(locator.locate_selected(host.proc_root, pod_uid=POD1)) == 2


def test_no_selected_container_names_the_options_and_the_fix(tmp_path):
    host = build_host(tmp_path, 'hybrid', ['docker-cgroupfs'])
    with pytest.raises(ContainerLookupError) as exc:
        locator.locate_selected(host.proc_root, container_id='abcdef', pod_uid=POD1)
    assert str(exc.value) == ('no container with container_id abcdef and pod_uid %s on this host (no container '
                              'with container_id abcdef and pod_uid %s among the 1 containers in the cgroup tree '
                              '(docker); LXC, systemd-nspawn and named containerd containers have no ID in their '
                              'cgroup: select them by name); list them with nsops.namespaces.container_info'
                              % (POD1, POD1))


def test_no_selected_container_says_what_the_locator_noticed(tmp_path):
    host = build_host(tmp_path, 'v2', [])
    with open(os.path.join(host.proc_root, 'self', 'mountinfo'), 'w') as handle:
        handle.write('30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n')
    with pytest.raises(ContainerLookupError) as exc:
        locator.locate_selected(host.proc_root, pod_uid=POD1)
    assert str(exc.value).startswith('no container with pod_uid %s on this host (no cgroup file system is '
                                     'mounted' % POD1)
    assert str(exc.value).endswith('); list them with nsops.namespaces.container_info')


# ---------------------------------------------------------------------------- module contract

def test_run_answers_a_request_with_the_module_result(tmp_path):
    host = build_host(tmp_path, 'hybrid', ['docker-cgroupfs'])
    result = locator.run(locator.Request.from_params({'proc_root': host.proc_root}, check_mode=True))
    assert result['changed'] is False and result['warnings'] == []
    assert [c['id'] for c in result['containers']] == [host.containers[0]['expect']['id']]


def test_run_fails_with_the_one_container_error(tmp_path):
    with pytest.raises(ContainerError, match='is not a proc file system') as exc:
        locator.run(locator.Request.from_params({'proc_root': str(tmp_path)}))
    assert exc.value.result == {}
    with pytest.raises(ContainerError, match="id 'xyz' is not a container ID"):
        locator.Request.from_params({'id': 'xyz'})
