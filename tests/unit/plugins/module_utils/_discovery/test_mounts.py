# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mount tables (option mounts): visibility as lxkns computes it, and the discovery step."""


import pathlib

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery import mounts
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import Discovery, discover
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import enter
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import parse_mountinfo, parse_propagation
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    BASE_MOUNTINFO, C_MNT, INIT, assert_valid, container_host, ns_ref, scratch_dir,
)

LOOSE_MNT = 4026532900   # only thread 701 of pid 700 is in it
FD_MNT = 4026532901      # only held open by fd 5 of pid 710


@pytest.fixture
def proc_dir():
    with scratch_dir() as path:
        yield pathlib.Path(path)


def line(mount_id, parent_id, path, fstype='tmpfs', optional='', root='/', source=None):
    escaped = path.replace(' ', '\\040')
    opt = optional + ' ' if optional else ''
    return '%d %d 0:%d %s %s rw,relatime %s- %s %s rw\n' % (
        mount_id, parent_id, mount_id, root, escaped, opt, fstype, source or fstype)


def hidden(text):
    return sorted(mounts.hidden_mount_ids(parse_mountinfo(text)))


# ---------------------------------------------------------------------------- visibility

class TestVisibility:

    def test_plain_tree_hides_nothing(self):
        text = line(1, 0, '/', 'ext4') + line(2, 1, '/proc', 'proc') + line(3, 1, '/run') + line(4, 3, '/run/lock')
        assert hidden(text) == []

    def test_in_place_overmount_hides_the_lower_mount(self):
        # mount -t tmpfs x /mnt; mount -t tmpfs y /mnt
        text = line(1, 0, '/', 'ext4') + line(10, 1, '/mnt') + line(11, 10, '/mnt')
        assert hidden(text) == [10]

    def test_in_place_overmount_hides_the_lower_mounts_children(self):
        # /mnt/a lives on the lower /mnt; then /mnt is mounted over
        text = line(1, 0, '/', 'ext4') + line(10, 1, '/mnt') + line(12, 10, '/mnt/a') + line(11, 10, '/mnt')
        assert hidden(text) == [10, 12]

    def test_a_stack_of_overmounts_leaves_only_the_top(self):
        text = line(1, 0, '/', 'ext4') + line(10, 1, '/mnt') + line(11, 10, '/mnt') + line(12, 11, '/mnt')
        assert hidden(text) == [10, 11]

    def test_mount_at_a_prefix_hides_the_deeper_sibling(self):
        # /mnt/a/b first, then /mnt/a over the place it lives in: both children of /
        text = line(1, 0, '/', 'ext4') + line(20, 1, '/mnt/a/b') + line(21, 20, '/mnt/a/b/c') + line(22, 1, '/mnt/a')
        assert hidden(text) == [20, 21]

    def test_similar_names_are_no_prefix(self):
        text = line(1, 0, '/', 'ext4') + line(20, 1, '/mnt/ab') + line(22, 1, '/mnt/a')
        assert hidden(text) == []

    def test_children_of_the_overmount_stay_visible(self):
        text = line(1, 0, '/', 'ext4') + line(10, 1, '/mnt') + line(11, 10, '/mnt') + line(12, 11, '/mnt/x')
        assert hidden(text) == [10]

    def test_overmounted_root(self):
        # a container that mounts a new root over its /
        text = line(1, 0, '/', 'ext4') + line(2, 1, '/proc', 'proc') + line(3, 1, '/')
        assert hidden(text) == [1, 2]

    def test_spaces_in_paths(self):
        text = line(1, 0, '/', 'ext4') + line(10, 1, '/my dir') + line(11, 10, '/my dir')
        assert hidden(text) == [10]

    def test_table_without_a_root_mount(self):
        # read through a chrooted process: the mount holding its root is not listed
        text = line(30, 7, '/data') + line(31, 30, '/data') + line(32, 7, '/logs')
        assert hidden(text) == [30]

    def test_deep_stack_needs_no_recursion(self):
        text = line(1, 0, '/', 'ext4') + ''.join(line(i, i - 1, '/mnt') for i in range(2, 3002))
        assert hidden(text) == list(range(2, 3001))

    def test_parent_cycle_terminates(self):
        text = line(1, 2, '/a') + line(2, 1, '/a')
        assert mounts.hidden_mount_ids(parse_mountinfo(text)) <= {1, 2}

    def test_empty_table(self):
        assert hidden('') == []


class TestPropagation:

    @pytest.mark.parametrize('fields, mode, shared, master, propagate_from', [
        ([], 'private', None, None, None),
        (['shared:5'], 'shared', 5, None, None),
        (['master:1'], 'private,slave', None, 1, None),
        (['shared:5', 'master:1'], 'shared,slave', 5, 1, None),
        (['master:3', 'propagate_from:2'], 'private,slave', None, 3, 2),
        (['unbindable'], 'private,unbindable', None, None, None),
    ])
    def test_fields(self, fields, mode, shared, master, propagate_from):
        result = parse_propagation(fields)
        assert (result['mode'], result['shared'], result['master'], result['propagate_from']) == (
            mode, shared, master, propagate_from)
        assert result['unbindable'] == ('unbindable' in fields)

    def test_unknown_tags_are_kept(self):
        assert parse_propagation(['shared:x', 'future:7'])['other'] == ['shared:x', 'future:7']
        assert parse_propagation(['shared:x'])['mode'] == 'private'

    def test_mountinfo_property(self):
        mount = parse_mountinfo('25 1 0:23 / /run rw shared:5 master:1 - tmpfs tmpfs rw\n')[0]
        assert mount.propagation['mode'] == 'shared,slave'


class TestMountFacts:

    def test_record(self):
        text = '25 1 0:23 /sub /run\\040dir rw,nosuid shared:5 master:1 - tmpfs my\\040src rw,size=1k\n'
        assert mounts.mount_facts(parse_mountinfo(text)) == [{
            'mount_id': 25, 'parent_id': 1, 'dev': '0:23', 'root': '/sub', 'mount_point': '/run dir',
            'fstype': 'tmpfs', 'source': 'my src', 'options': ['rw', 'nosuid'], 'super_options': ['rw', 'size=1k'],
            'optional': ['shared:5', 'master:1'], 'propagation': 'shared,slave', 'peer_group': 5, 'master': 1,
            'propagate_from': None, 'hidden': False,
        }]


# ---------------------------------------------------------------------------- the step

def run(tree, **kwargs):
    facts = discover(proc_root=str(tree), **kwargs)
    assert_valid(facts)
    return facts


@pytest.fixture
def host(proc_dir):
    return container_host(proc_dir / 'proc')


class TestStep:

    def test_off_by_default(self, host):
        assert 'mounts' not in run(host)

    def test_every_mount_namespace(self, host):
        facts = run(host, mount_tables=True)
        tables = facts['mounts']
        assert sorted(tables) == [ns_ref('mnt', INIT['mnt']), ns_ref('mnt', C_MNT)]
        host_table = tables[ns_ref('mnt', INIT['mnt'])]
        assert (host_table['pid'], host_table['via']) == (1, 'process')
        assert [m['mount_point'] for m in host_table['mounts']] == [
            '/proc', '/', '/sys', '/run', '/run/netns/blue', '/run/netns/my ns']
        run_mount = host_table['mounts'][3]
        assert (run_mount['propagation'], run_mount['peer_group'], run_mount['master']) == ('shared,slave', 5, 1)
        container = tables[ns_ref('mnt', C_MNT)]
        assert container['pid'] == 200
        assert [(m['mount_id'], m['fstype'], m['hidden']) for m in container['mounts']] == [
            (700, 'overlay', False), (701, 'proc', False), (702, 'nsfs', False)]
        assert not [w for w in facts['discovery']['warnings'] if 'mount table' in w]

    def test_without_bind_mounts_source(self, host):
        facts = run(host, mount_tables=True, sources=[])
        assert len(facts['mounts'][ns_ref('mnt', C_MNT)]['mounts']) == 3

    def test_overmount_in_a_namespace(self, host):
        host.write('200/mountinfo', line(700, 650, '/', 'overlay') + line(703, 700, '/tmp') + line(704, 703, '/tmp'))
        facts = run(host, mount_tables=True, sources=[])
        table = facts['mounts'][ns_ref('mnt', C_MNT)]['mounts']
        assert [(m['mount_id'], m['hidden']) for m in table] == [(700, False), (703, True), (704, False)]

    def test_next_member_when_the_first_is_gone(self, host):
        host.remove('200/mountinfo')
        facts = run(host, mount_tables=True, sources=[])
        assert facts['mounts'][ns_ref('mnt', C_MNT)]['pid'] == 250

    def test_needs_the_mnt_type(self, host):
        facts = run(host, mount_tables=True, types=['net'])
        assert facts['mounts'] == {}
        assert any('needs the mnt type' in w for w in facts['discovery']['warnings'])

    def test_loose_thread_and_fd_only_namespaces(self, host):
        host.add_process(700, comm='setns', threads={701: {'mnt': LOOSE_MNT}})
        host.write('700/task/701/mountinfo', line(1, 0, '/', 'ext4') + line(5, 1, '/srv'))
        host.add_process(710, comm='holder', fds={5: ns_ref('mnt', FD_MNT)})
        facts = run(host, mount_tables=True, sources=('tasks', 'fds', 'bind_mounts'))
        loose = facts['mounts'][ns_ref('mnt', LOOSE_MNT)]
        assert (loose['pid'], loose['via'], len(loose['mounts'])) == (700, 'thread 701', 2)
        # A fixture tree is no procfs: an fd-only namespace cannot be joined; said, not hidden.
        assert ns_ref('mnt', FD_MNT) not in facts['mounts']
        warning = [w for w in facts['discovery']['warnings'] if 'mount tables of 1 mount namespaces' in w]
        assert warning and ns_ref('mnt', FD_MNT) in warning[0] and 'no live procfs' in warning[0]

    def test_malformed_lines_are_counted(self, host):
        host.write('200/mountinfo', line(700, 650, '/', 'overlay') + 'garbage line\n')
        facts = run(host, mount_tables=True, sources=[])
        assert len(facts['mounts'][ns_ref('mnt', C_MNT)]['mounts']) == 1
        assert facts['discovery']['malformed_entries'] == 1


class TestJoining:
    """A namespace no process is in is read by a child that joins it (faked here)."""

    def _state(self, host, ns_inode):
        state = Discovery(str(host), sources=[], mount_tables=True)
        state.is_procfs = True
        state.namespace('mnt', ns_inode).listed('fds').append((710, 5))
        return state

    def test_setns(self, host, monkeypatch):
        calls = []
        monkeypatch.setattr(enter, 'mountinfo_in_namespace', lambda fd, path: calls.append((fd, path)) or BASE_MOUNTINFO)
        monkeypatch.setattr(mounts.syscalls, 'close_quietly', lambda fd: calls.append(('closed', fd)))
        state = self._state(host, FD_MNT)
        mounts.scan(state, lambda st, ns: 99)
        table = state.mount_tables.tables[ns_ref('mnt', FD_MNT)]
        assert (table['pid'], table['via'], len(table['mounts'])) == (None, 'setns', 4)
        assert calls == [(99, str(host)), ('closed', 99)]

    def test_join_refused(self, host, monkeypatch):
        def refuse(fd, path):
            raise enter.EnterError('setns into the mnt namespace failed: Operation not permitted')
        monkeypatch.setattr(enter, 'mountinfo_in_namespace', refuse)
        monkeypatch.setattr(mounts.syscalls, 'close_quietly', lambda fd: None)
        state = self._state(host, FD_MNT)
        mounts.scan(state, lambda st, ns: 99)
        assert state.mount_tables.tables == {}
        assert 'Operation not permitted' in state.mount_tables.unreadable[ns_ref('mnt', FD_MNT)]
        assert 'could not be read' in state.warnings[-1]

    def test_no_reference_opens(self, host):
        state = self._state(host, FD_MNT)
        mounts.scan(state, lambda st, ns: None)
        assert 'could be opened' in state.mount_tables.unreadable[ns_ref('mnt', FD_MNT)]
