# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The /proc parsers and readers of module_utils/procfs.py, on fixture trees.

On real processes: tests/functional/test_procfs_live.py.
"""


import errno
import os
import pathlib

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    DENIED, MALFORMED, OTHER, VANISHED, ProcParseError, ProcRoot, classify, format_ns_ref,
    parse_cgroup, parse_cmdline, parse_mountinfo, parse_mountinfo_line, parse_ns_ref,
    parse_stat, parse_status, unescape_mount_path, unified_cgroup_path,
)
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    INIT, ProcTree, basic_host, scratch_dir, stat_text, status_text,
)

# A real line (kernel 6.x) of a shell: 52 fields, starttime 67574.
REAL_STAT = ('23102 (cat) R 23098 23098 16129 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 67574 3133440 394 '
             '18446744073709551615 94879361146880 94879361166761 140723132887264 0 0 0 0 0 0 0 0 0 17 0 0 0 '
             '0 0 0 94879361182768 94879361184384 94879844020224 140723132889827 140723132889847 '
             '140723132889847 140723132891115 0\n')


@pytest.fixture
def proc_dir():
    """Like tmp_path, but on tmpfs when there is one (fixture trees are many small files)."""
    with scratch_dir() as path:
        yield pathlib.Path(path)


# ---------------------------------------------------------------------------- parse_stat

class TestParseStat:

    def test_real_line(self):
        stat = parse_stat(REAL_STAT)
        assert (stat.pid, stat.comm, stat.state, stat.ppid, stat.starttime) == (23102, 'cat', 'R', 23098, 67574)

    def test_starttime_is_field_22(self):
        stat = parse_stat(stat_text(42, 'x', ppid=7, starttime=987654321))
        assert stat.starttime == 987654321
        assert stat.ppid == 7

    def test_kernel_thread_ppid_zero(self):
        stat = parse_stat('2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 24 0 0 '
                          '18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n')
        assert (stat.pid, stat.comm, stat.ppid, stat.starttime) == (2, 'kthreadd', 0, 24)
        assert stat.kernel_thread  # flags 2129984 has PF_KTHREAD
        assert not parse_stat(REAL_STAT).kernel_thread

    @pytest.mark.parametrize('comm', [
        'tmux: server',
        'Web Content',
        '(a) b)',
        'a) S 1 2 3',          # looks like the start of the fields
        ')',
        '(',
        '((',
        '',
        'kworker/0:1H-kblockd',
    ])
    def test_comm_with_spaces_and_parens(self, comm):
        stat = parse_stat(stat_text(300, comm, state='Z', ppid=299, starttime=4242))
        assert stat.comm == comm
        assert (stat.pid, stat.state, stat.ppid, stat.starttime) == (300, 'Z', 299, 4242)

    def test_comm_paren_b_paren(self):
        text = '5 ((a) b)) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0\n'
        assert parse_stat(text).comm == '(a) b)'

    @pytest.mark.parametrize('cut', [10, 20, 40, 60])
    def test_truncated(self, cut):
        text = REAL_STAT[:cut]
        with pytest.raises(ProcParseError):
            parse_stat(text)

    def test_fields_up_to_starttime_are_enough(self):
        # exactly 20 fields after comm: state .. starttime
        fields = ['S', '1'] + ['0'] * 17 + ['555']
        assert parse_stat('9 (x) ' + ' '.join(fields)).starttime == 555
        with pytest.raises(ProcParseError, match='truncated'):
            parse_stat('9 (x) ' + ' '.join(fields[:-1]))

    @pytest.mark.parametrize('text', [
        '',
        '\n',
        '23102 cat R 23098',
        '(cat) R 23098 23098 16129 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 67574',   # no pid
        ')cat( R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 67574',
    ])
    def test_no_comm_or_pid(self, text):
        with pytest.raises(ProcParseError):
            parse_stat(text)

    @pytest.mark.parametrize('text', [
        'x1 (cat) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 67574 0',
        '1 (cat) R ppid 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 67574 0',
        '1 (cat) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 later 0',
    ])
    def test_non_numeric(self, text):
        with pytest.raises(ProcParseError, match='non-numeric'):
            parse_stat(text)

    def test_read_stat_of_task(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(10, comm='worker', threads={11: {}})
        root = ProcRoot(tree.path)
        assert procfs.read_stat(root, 10).comm == 'worker'
        assert procfs.read_stat(root, 10, 11).pid == 11


# ---------------------------------------------------------------------------- parse_status

class TestParseStatus:

    def test_full_status(self):
        status = parse_status(status_text('nginx: worker', 3120, ppid=3119, uid=33, gid=34,
                                          nspid=[3120, 7, 1], cap_eff='000001ffffffffff'))
        assert status.name == 'nginx: worker'
        assert status.state == 'S'
        assert status.tgid == 3120
        assert status.ppid == 3119
        assert status.uids == [33, 33, 33, 33]
        assert status.gids == [34, 34, 34, 34]
        assert status.nspid == [3120, 7, 1]
        assert status.cap_eff == 0x1ffffffffff

    def test_nspid_single(self):
        assert parse_status(status_text('bash', 99)).nspid == [99]

    def test_real_uids_differ(self):
        text = 'Name:\tsu\nUid:\t1000\t0\t0\t0\nNSpid:\t5\n'
        status = parse_status(text)
        assert status.uids == [1000, 0, 0, 0]

    def test_old_kernel_without_nspid(self):
        text = 'Name:\tinit\nState:\tS (sleeping)\nPid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\n'
        status = parse_status(text)
        assert status.nspid is None
        assert status.cap_eff is None

    @pytest.mark.parametrize('value', ['12\tabc', 'x', '1 2 -', '3120\t1.5'])
    def test_non_numeric_nspid(self, value):
        with pytest.raises(ProcParseError, match='NSpid'):
            parse_status('Name:\tx\nNSpid:\t%s\n' % value)

    def test_empty_nspid(self):
        with pytest.raises(ProcParseError, match='NSpid'):
            parse_status('Name:\tx\nNSpid:\t\n')

    def test_truncated_before_name(self):
        with pytest.raises(ProcParseError, match='Name'):
            parse_status('Na')

    def test_empty(self):
        with pytest.raises(ProcParseError):
            parse_status('')

    def test_truncated_in_uid(self):
        text = status_text('bash', 5)
        cut = text.index('Uid:') + len('Uid:\t0\t0')
        with pytest.raises(ProcParseError, match='Uid'):
            parse_status(text[:cut])

    def test_truncated_in_nspid_value(self):
        text = status_text('bash', 5)
        cut = text.index('NSpid:') + len('NSpid:')
        with pytest.raises(ProcParseError, match='NSpid'):
            parse_status(text[:cut])

    def test_truncated_after_name_is_partial(self):
        text = status_text('bash', 5, uid=1000)
        status = parse_status(text[:text.index('Uid:')])
        assert status.name == 'bash'
        assert status.uids is None
        assert status.nspid is None

    def test_bad_cap_eff(self):
        with pytest.raises(ProcParseError, match='CapEff'):
            parse_status('Name:\tx\nCapEff:\tzz\n')

    def test_non_numeric_uid(self):
        with pytest.raises(ProcParseError, match='Uid'):
            parse_status('Name:\tx\nUid:\troot\t0\t0\t0\n')

    def test_lines_without_colon_are_ignored(self):
        status = parse_status('garbage line\nName:\tx\n\n  \nNSpid:\t4\n')
        assert (status.name, status.nspid) == ('x', [4])


# ---------------------------------------------------------------------------- parse_cmdline

class TestParseCmdline:

    @pytest.mark.parametrize('data, expected', [
        (b'/bin/sleep\x00infinity\x00', ['/bin/sleep', 'infinity']),
        (b'/bin/sleep\x00infinity', ['/bin/sleep', 'infinity']),    # no trailing NUL (setproctitle)
        (b'', []),                                                  # kernel thread
        (b'sshd: root@pts/0', ['sshd: root@pts/0']),                # rewritten argv
        (b'sh\x00-c\x00echo a b\x00', ['sh', '-c', 'echo a b']),
        (b'a\x00\x00b\x00', ['a', '', 'b']),
        (b'\x00', ['']),
        ('python3\x00-m\x00http.server\x00', ['python3', '-m', 'http.server']),
    ])
    def test_cases(self, data, expected):
        assert parse_cmdline(data) == expected

    def test_invalid_utf8_round_trips(self):
        args = parse_cmdline(b'prog\x00\xff\xfe\x00')
        assert args[0] == 'prog'
        assert args[1].encode('utf-8', 'surrogateescape') == b'\xff\xfe'

    def test_read_cmdline(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(7, comm='sleep', cmdline=['sleep', '1000'])
        assert procfs.read_cmdline(ProcRoot(tree.path), 7) == ['sleep', '1000']


# ---------------------------------------------------------------------------- parse_cgroup

V1 = '''12:pids:/system.slice/docker.service
11:memory:/docker/abc
10:cpu,cpuacct:/docker/abc
3:net_cls,net_prio:/
1:name=systemd:/system.slice/docker-abc.scope
'''


class TestParseCgroup:

    def test_v2(self):
        entries = parse_cgroup('0::/user.slice/user-1000.slice/session-3.scope\n')
        assert len(entries) == 1
        assert (entries[0].hierarchy_id, entries[0].controllers, entries[0].path) == (
            0, [], '/user.slice/user-1000.slice/session-3.scope')
        assert unified_cgroup_path(entries) == '/user.slice/user-1000.slice/session-3.scope'

    def test_v1(self):
        entries = parse_cgroup(V1)
        assert [e.hierarchy_id for e in entries] == [12, 11, 10, 3, 1]
        assert entries[2].controllers == ['cpu', 'cpuacct']
        assert entries[3].controllers == ['net_cls', 'net_prio']
        assert entries[4].controllers == ['name=systemd']
        assert entries[4].path == '/system.slice/docker-abc.scope'
        assert unified_cgroup_path(entries) is None

    def test_hybrid(self):
        entries = parse_cgroup(V1 + '0::/system.slice/docker-abc.scope\n')
        assert len(entries) == 6
        assert unified_cgroup_path(entries) == '/system.slice/docker-abc.scope'

    def test_path_with_colons_and_spaces(self):
        entries = parse_cgroup('0::/machine.slice/a:b c\n')
        assert entries[0].path == '/machine.slice/a:b c'

    def test_outside_cgroup_namespace_root(self):
        assert parse_cgroup('0::/../../user.slice\n')[0].path == '/../../user.slice'

    def test_empty(self):
        assert parse_cgroup('') == []
        assert unified_cgroup_path([]) is None

    def test_blank_lines_skipped(self):
        assert len(parse_cgroup('\n0::/\n\n')) == 1

    def test_repr(self):
        assert repr(parse_cgroup('4:memory:/x\n')[0]) == "CgroupEntry(4, ['memory'], '/x')"

    @pytest.mark.parametrize('text, what', [
        ('garbage\n', 'malformed'),
        ('0:/\n', 'malformed'),
        ('x::/\n', 'non-numeric'),
        ('0::relative/path\n', 'absolute'),
        ('0::\n', 'absolute'),
        ('0::/\ngarbage\n', 'malformed'),
    ])
    def test_malformed(self, text, what):
        with pytest.raises(ProcParseError, match=what):
            parse_cgroup(text)


# ---------------------------------------------------------------------------- mountinfo

class TestMountinfo:

    def test_plain_line(self):
        mount = parse_mountinfo_line('36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue')
        assert (mount.mount_id, mount.parent_id, mount.major, mount.minor) == (36, 35, 98, 0)
        assert (mount.root, mount.mount_point) == ('/mnt1', '/mnt2')
        assert mount.options == ['rw', 'noatime']
        assert mount.optional == ['master:1']
        assert (mount.fstype, mount.source) == ('ext3', '/dev/root')
        assert mount.super_options == ['rw', 'errors=continue']
        assert mount.dev == os.makedev(98, 0)

    def test_no_optional_fields(self):
        mount = parse_mountinfo_line('22 27 0:21 / /proc rw,relatime - proc proc rw')
        assert mount.optional == []
        assert mount.fstype == 'proc'

    def test_several_optional_fields(self):
        mount = parse_mountinfo_line('25 1 0:23 / /run rw shared:5 master:1 propagate_from:2 unbindable - tmpfs tmpfs rw')
        assert mount.optional == ['shared:5', 'master:1', 'propagate_from:2', 'unbindable']
        assert mount.fstype == 'tmpfs'

    def test_no_super_options(self):
        assert parse_mountinfo_line('1 0 0:1 / / rw - rootfs rootfs').super_options == []

    def test_nsfs_bind_mount(self):
        mount = parse_mountinfo_line('612 25 0:4 net:[4026532281] /run/netns/blue rw shared:5 - nsfs nsfs rw')
        assert mount.fstype == 'nsfs'
        assert parse_ns_ref(mount.root) == ('net', 4026532281)
        assert mount.mount_point == '/run/netns/blue'

    def test_octal_escapes(self):
        mount = parse_mountinfo_line(r'40 25 0:4 net:[5] /run/netns/my\040ns\011tab\134back\012nl rw - nsfs nsfs rw')
        assert mount.mount_point == '/run/netns/my ns\ttab\\back\nnl'
        src = parse_mountinfo_line(r'41 1 0:50 / /mnt/a rw - fuse.sshfs user@host:/my\040dir rw')
        assert src.source == 'user@host:/my dir'

    @pytest.mark.parametrize('text, expected', [
        (r'a\040b', 'a b'),
        (r'\134', '\\'),
        (r'\04', r'\04'),            # not three digits: left alone
        (r'\089', r'\089'),          # 8 is not octal
        ('plain', 'plain'),
    ])
    def test_unescape(self, text, expected):
        assert unescape_mount_path(text) == expected

    @pytest.mark.parametrize('line', [
        'garbage',
        '',
        '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw',   # no separator
        '36 35 98:0 /mnt1 /mnt2 rw - ext3',                                 # no source
        '36 35 98 /mnt1 /mnt2 rw - ext3 /dev/root rw',                      # no minor
        '36 35 1:2:3 /mnt1 /mnt2 rw - ext3 /dev/root rw',
        'x 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw',
        '36 y 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw',
        '36 35 - 98:0 /mnt1 rw ext3 /dev/root rw',                          # "-" too early
    ])
    def test_bad_line(self, line):
        with pytest.raises(ProcParseError):
            parse_mountinfo_line(line)

    def test_garbage_lines_counted(self):
        text = ('22 27 0:21 / /proc rw,relatime - proc proc rw\n'
                'this is garbage\n'
                '\n'
                '36 35 98:0 /mnt1 /mnt2 rw - ext3\n'
                '612 25 0:4 net:[4026532281] /run/netns/blue rw shared:5 - nsfs nsfs rw\n')
        errors = []
        mounts = parse_mountinfo(text, errors)
        assert [m.mount_point for m in mounts] == ['/proc', '/run/netns/blue']
        assert len(errors) == 2
        assert 'this is garbage' in errors[0]

    def test_garbage_raises_without_errors_list(self):
        with pytest.raises(ProcParseError):
            parse_mountinfo('this is garbage\n')

    def test_empty(self):
        assert parse_mountinfo('', []) == []

    def test_read_mountinfo(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.write('1/mountinfo', 'garbage\n22 27 0:21 / /proc rw - proc proc rw\n')
        errors = []
        mounts = procfs.read_mountinfo(ProcRoot(tree.path), 1, errors)
        assert len(mounts) == 1 and len(errors) == 1

    def test_short_reads_are_no_end_of_file(self, proc_dir, monkeypatch):
        # The kernel hands a table out a page of whole records per read(): shorter than
        # asked for, long before the end.
        tree = basic_host(proc_dir)
        lines = ['%d 27 0:21 / /run/netns/n%d rw - nsfs nsfs rw\n' % (100 + n, n) for n in range(300)]
        tree.write('1/mountinfo', ''.join(lines))
        real_read = os.read
        monkeypatch.setattr(os, 'read', lambda fd, size: real_read(fd, min(size, 4000)))
        mounts = procfs.read_mountinfo(ProcRoot(tree.path), 1)
        assert [m.mount_point for m in mounts] == ['/run/netns/n%d' % n for n in range(300)]


# ---------------------------------------------------------------------------- ns refs

class TestParseNsRef:

    @pytest.mark.parametrize('nstype', ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'])
    def test_every_type(self, nstype):
        assert parse_ns_ref('%s:[4026531833]' % nstype) == (nstype, 4026531833)

    def test_round_trip(self):
        assert format_ns_ref(*parse_ns_ref('net:[4026532281]')) == 'net:[4026532281]'

    @pytest.mark.parametrize('text', ['net:[4026531833]\n', ' net:[4026531833]', '\tnet:[4026531833] \n'])
    def test_surrounding_whitespace_is_tolerated(self, text):
        # what `readlink` prints ends with a newline
        assert parse_ns_ref(text) == ('net', 4026531833)

    @pytest.mark.parametrize('text, what', [
        ('net:', 'malformed'),            # seen in the wild: no inode
        ('net:[]', 'malformed'),
        ('net:[', 'malformed'),
        ('net:4026531833', 'malformed'),
        ('net:[abc]', 'malformed'),
        ('net:[-1]', 'malformed'),
        ('net:[12]x', 'malformed'),
        ('net: [12]', 'malformed'),
        ('net :[12]', 'malformed'),
        ('net:[1 2]', 'malformed'),
        ('NET:[12]', 'malformed'),
        ('net:[\u0661\u0662]', 'malformed'),    # Arabic-Indic digits are not inodes
        ('', 'malformed'),
        ('   ', 'malformed'),
        ('[12]', 'malformed'),
        ('socket:[12]', 'unknown namespace type'),
        ('foo:[12]', 'unknown namespace type'),
        ('pid_for_children:[12]', 'unknown namespace type'),
    ])
    def test_bad(self, text, what):
        with pytest.raises(ProcParseError, match=what) as info:
            parse_ns_ref(text)
        assert repr(text) in str(info.value)

    @pytest.mark.parametrize('value', [None, 4026531833, b'net:[4026531833]', ['net:[1]']])
    def test_not_text(self, value):
        with pytest.raises(ProcParseError, match='must be text'):
            parse_ns_ref(value)

    def test_message_shows_expected_form(self):
        with pytest.raises(ProcParseError, match=r'TYPE:\[INODE\]'):
            parse_ns_ref('net:')

    def test_huge_inode_is_a_parse_error(self):
        # Python refuses int() of more than 4300 digits with a plain ValueError; a mountinfo
        # root or a filter argument can be that long, and callers only catch ProcParseError.
        with pytest.raises(ProcParseError):
            parse_ns_ref('net:[%s]' % ('1' * 5000))


# ---------------------------------------------------------------------------- classify

class TestClassify:

    @pytest.mark.parametrize('exc, expected', [
        (ProcParseError('x'), MALFORMED),
        (OSError(errno.ENOENT, 'gone'), VANISHED),
        (OSError(errno.ESRCH, 'gone'), VANISHED),
        (OSError(errno.ENOTDIR, 'gone'), VANISHED),
        (OSError(errno.EACCES, 'no'), DENIED),
        (OSError(errno.EPERM, 'no'), DENIED),
        (OSError(errno.EIO, 'io'), OTHER),
        (OSError(errno.EINVAL, 'not a link'), OTHER),
        (ValueError('x'), OTHER),
        (KeyError('x'), OTHER),
    ])
    def test_mapping(self, exc, expected):
        assert classify(exc) == expected

    def test_real_exceptions(self, proc_dir):
        with pytest.raises(OSError) as info:
            open(str(proc_dir / 'missing'))
        assert classify(info.value) == VANISHED
        (proc_dir / 'file').write_text('x')
        with pytest.raises(OSError) as info:
            os.readlink(str(proc_dir / 'file'))
        assert classify(info.value) == OTHER


# ---------------------------------------------------------------------------- readers

class TestReaders:

    def test_proc_root_paths(self):
        root = ProcRoot('/host/proc/')
        assert root.path == '/host/proc'
        assert root.pid_path(5, 'ns', 'net') == '/host/proc/5/ns/net'
        assert root.task_path(5, 6, 'stat') == '/host/proc/5/task/6/stat'
        assert ProcRoot('/').path == '/'

    def test_list_pids_ignores_other_entries(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(10)
        assert procfs.list_pids(ProcRoot(tree.path)) == [1, 2, 10]
        (proc_dir / '1\u00b2').mkdir()  # isdigit() but not int(): a copied tree may have anything
        assert procfs.list_pids(ProcRoot(tree.path)) == [1, 2, 10]

    def test_read_members_one_link_per_process(self, proc_dir):
        tree = basic_host(proc_dir)
        tree.add_process(10, ns={'net': 4026539001})
        tree.add_process(11, ns={'net': 4026539001})
        tree.add_process(12, ns_texts={'net': 'net:[bogus'})  # malformed: no member, not unreadable
        tree.add_process(13, with_ns=False)                   # no ns directory: exited meanwhile
        members, unreadable = procfs.read_members(ProcRoot(tree.path), 'net', [4026539001, 4026539999])
        assert members == {4026539001: [10, 11], 4026539999: []}
        assert unreadable == 0
        members, dummy = procfs.read_members(ProcRoot(tree.path), 'net', [INIT['net']])
        assert members == {INIT['net']: [1, 2]}

    def test_list_tids(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(10, threads={12: {}, 11: {}})
        assert procfs.list_tids(ProcRoot(tree.path), 10) == [10, 11, 12]

    def test_is_proc_tree(self, proc_dir):
        assert not ProcRoot(str(proc_dir)).is_proc_tree()
        (proc_dir / '12').mkdir()
        assert not ProcRoot(str(proc_dir)).is_proc_tree()      # no stat
        (proc_dir / '12' / 'stat').write_text(stat_text(12, 'x'))
        assert ProcRoot(str(proc_dir)).is_proc_tree()
        assert not ProcRoot(str(proc_dir / 'missing')).is_proc_tree()

    def test_read_ns_links(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(5, ns={'net': 99}, for_children={'pid': 77})
        links = procfs.read_ns_links(ProcRoot(tree.path), 5)
        expected = dict(INIT, net=99, pid_for_children=77, time_for_children=INIT['time'])
        assert links == expected

    def test_read_ns_links_of_task(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(5, threads={6: {'net': 99}})
        links = procfs.read_ns_links(ProcRoot(tree.path), 5, 6, procfs.NS_TYPES)
        assert links['net'] == 99
        assert 'pid_for_children' not in links

    def test_old_kernel_links_left_out(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(5, ns_names=('cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts'))
        links = procfs.read_ns_links(ProcRoot(tree.path), 5)
        assert sorted(links) == ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts']

    def test_missing_link_is_left_out(self, proc_dir):
        # A zombie keeps only its pid and user links; lsns counts it there too.
        tree = ProcTree(proc_dir)
        tree.add_process(5, ns_texts={'net': None})
        links = procfs.read_ns_links(ProcRoot(tree.path), 5)
        assert 'net' not in links and 'pid' in links

    def test_no_link_at_all_is_a_vanished_process(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(5, ns_texts=dict((name, None) for name in procfs.NS_LINKS))
        with pytest.raises(OSError) as info:
            procfs.read_ns_links(ProcRoot(tree.path), 5)
        assert classify(info.value) == VANISHED

    def test_link_of_wrong_type(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(5, ns_texts={'net': 'ipc:[5]'})
        with pytest.raises(ProcParseError, match='ns/net names a ipc namespace'):
            procfs.read_ns_links(ProcRoot(tree.path), 5)

    def test_for_children_link_of_wrong_type(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(5, ns_texts={'pid_for_children': 'time:[5]'})
        with pytest.raises(ProcParseError, match='pid_for_children'):
            procfs.read_ns_links(ProcRoot(tree.path), 5)

    def test_malformed_link(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(5, ns_texts={'net': 'net:'})
        with pytest.raises(ProcParseError):
            procfs.read_ns_links(ProcRoot(tree.path), 5)

    def test_read_fd_links(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(5, fds={0: '/dev/null', 3: 'net:[42]', 4: 'socket:[1]'})
        tree.write('5/fd/notanumber', 'x')
        assert procfs.read_fd_links(ProcRoot(tree.path), 5) == {0: '/dev/null', 3: 'net:[42]', 4: 'socket:[1]'}

    def test_read_fd_links_with_prefixes(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(5, fds={0: '/dev/null', 3: 'net:[42]', 4: 'socket:[1]'})
        assert procfs.read_fd_links(ProcRoot(tree.path), 5, ('net:[',)) == {3: 'net:[42]'}

    def test_read_boot_id(self, proc_dir):
        tree = basic_host(proc_dir)
        assert procfs.read_boot_id(ProcRoot(tree.path)) == '6c4f7d43-6a5e-4f0e-9b6d-2f9bbd4c9b11'

    def test_initial_reference_pid_kthreadd(self, proc_dir):
        tree = basic_host(proc_dir)
        assert procfs.initial_reference_pid(ProcRoot(tree.path)) == 2

    def test_initial_reference_pid_no_kthreadd(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(1, comm='init', ppid=0)
        tree.add_process(2, comm='bash', ppid=1)   # a container: pid 2 is no kernel thread
        # PID 1 of a container proves nothing about the host's namespaces.
        assert procfs.initial_reference_pid(ProcRoot(tree.path)) is None

    def test_initial_reference_pid_none(self, proc_dir):
        tree = ProcTree(proc_dir)
        tree.add_process(1, comm='init', ppid=0, with_ns=False)
        tree.add_process(50, comm='bash')
        assert procfs.initial_reference_pid(ProcRoot(tree.path)) is None

    def test_own_cap_eff_is_int(self):
        assert isinstance(procfs.own_cap_eff(), int)


# ---------------------------------------------------------------------------- a proc root that is no procfs

def test_foreign_proc_root_refuses_devices_fifos_and_huge_files(tmp_path):
    pid_dir = tmp_path / '42'
    pid_dir.mkdir()
    os.symlink('/dev/zero', str(pid_dir / 'cmdline'))
    os.mkfifo(str(pid_dir / 'status'))
    (pid_dir / 'stat').write_bytes(b'')
    os.truncate(str(pid_dir / 'stat'), procfs.FOREIGN_FILE_MAX + 1)
    root = ProcRoot(str(tmp_path))
    for reader in (procfs.read_cmdline, procfs.read_status, procfs.read_stat):
        with pytest.raises(ProcParseError) as raised:
            reader(root, 42)
        assert procfs.classify(raised.value) == procfs.MALFORMED


def test_the_real_procfs_is_read_without_a_cap():
    data = procfs._read('/proc/self/mountinfo')
    assert data.endswith('\n') and procfs.read_stat(ProcRoot(), 'self').pid == os.getpid()
