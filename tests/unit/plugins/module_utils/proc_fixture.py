# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build fake /proc trees for unit tests, and validate facts against the JSON Schema.

A fixture tree looks like a copied /proc: ``<pid>/stat``, ``status``, ``cmdline``,
``cgroup``, ``mountinfo`` are files; ``ns/<type>``, ``task/<tid>/ns/<type>`` and
``fd/<n>`` are symlinks to text such as ``net:[4026531833]`` that point nowhere
(dangling, as ``cp -a`` of /proc leaves them); ``os.readlink`` reads them all.

Tests import it as
``ansible_collections.nsops.namespaces.tests.unit.plugins.module_utils.proc_fixture``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os
import shutil
import tempfile

NS_TYPES = ('cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts')

# Made-up inodes of the "initial" namespaces of a fixture host (not the real ones).
INIT = {
    'cgroup': 4026530001,
    'ipc': 4026530002,
    'mnt': 4026530003,
    'net': 4026530004,
    'pid': 4026530005,
    'time': 4026530006,
    'user': 4026530007,
    'uts': 4026530008,
}

_HERE = os.path.dirname(os.path.abspath(__file__))
# tests/unit/plugins/module_utils -> collection root
COLLECTION_ROOT = os.path.abspath(os.path.join(_HERE, '..', '..', '..', '..'))
SCHEMA_PATH = os.path.join(COLLECTION_ROOT, 'meta', 'schemas', 'namespace_facts.json')


def load_schema():
    with open(SCHEMA_PATH) as handle:
        return json.load(handle)


_VALIDATOR = None


def validator():
    """A Draft 2020-12 validator of meta/schemas/namespace_facts.json (cached)."""
    global _VALIDATOR  # pylint: disable=global-statement
    if _VALIDATOR is None:
        import jsonschema  # pylint: disable=import-outside-toplevel
        schema = load_schema()
        jsonschema.Draft202012Validator.check_schema(schema)
        _VALIDATOR = jsonschema.Draft202012Validator(schema)
    return _VALIDATOR


def schema_errors(facts):
    """Readable list of every schema violation of ``facts`` (empty when valid)."""
    return ['%s: %s' % ('/'.join(str(p) for p in error.absolute_path) or '<root>', error.message)
            for error in sorted(validator().iter_errors(facts), key=lambda e: list(e.absolute_path))]


def assert_valid(facts):
    errors = schema_errors(facts)
    assert not errors, 'facts do not match meta/schemas/namespace_facts.json:\n' + '\n'.join(errors)


# ---------------------------------------------------------------------------- scratch space

def _fast_tmp_base():
    """/dev/shm when usable: building trees there is ~40 times faster than on a disk /tmp."""
    for candidate in ('/dev/shm',):
        if os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None


@contextlib.contextmanager
def scratch_dir(prefix='nsops-proc-'):
    """A fresh directory (on tmpfs when possible), removed afterwards."""
    path = tempfile.mkdtemp(prefix=prefix, dir=_fast_tmp_base())
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------- texts

def stat_text(pid, comm, state='S', ppid=1, starttime=100, num_threads=1):
    """A full 52-field /proc/PID/stat line; ``starttime`` is field 22."""
    after = [state, ppid, pid, pid, 0, -1, 4194560, 1000, 0, 0, 0, 5, 3, 0, 0, 20, 0,
             num_threads, 0, starttime, 10000000, 500, 18446744073709551615]
    after += [0] * (52 - 2 - len(after))
    return '%d (%s) %s\n' % (pid, comm, ' '.join(str(x) for x in after))


def status_text(name, pid, ppid=1, uid=0, gid=0, nspid=None, cap_eff='0000000000000000',
                state='S (sleeping)', threads=1):
    nspid = nspid if nspid is not None else [pid]
    chain = '\t'.join(str(p) for p in nspid)
    lines = [
        'Name:\t%s' % name,
        'Umask:\t0022',
        'State:\t%s' % state,
        'Tgid:\t%d' % pid,
        'Ngid:\t0',
        'Pid:\t%d' % pid,
        'PPid:\t%d' % ppid,
        'TracerPid:\t0',
        'Uid:\t%d\t%d\t%d\t%d' % (uid, uid, uid, uid),
        'Gid:\t%d\t%d\t%d\t%d' % (gid, gid, gid, gid),
        'FDSize:\t64',
        'Groups:\t ',
        'NStgid:\t%s' % chain,
        'NSpid:\t%s' % chain,
        'NSpgid:\t%s' % chain,
        'NSsid:\t%s' % chain,
        'Kthread:\t0',
        'VmPeak:\t    3060 kB',
        'Threads:\t%d' % threads,
        'SigQ:\t1/96365',
        'CapInh:\t0000000000000000',
        'CapPrm:\t%s' % cap_eff,
        'CapEff:\t%s' % cap_eff,
        'CapBnd:\t000001ffffffffff',
        'CapAmb:\t0000000000000000',
        'NoNewPrivs:\t0',
        'Seccomp:\t0',
        'Cpus_allowed_list:\t0-1',
        'voluntary_ctxt_switches:\t10',
        'nonvoluntary_ctxt_switches:\t1',
    ]
    return '\n'.join(lines) + '\n'


def cgroup_v2_text(path='/'):
    return '0::%s\n' % path


def cgroup_v1_text(path='/', systemd_path=None):
    systemd_path = path if systemd_path is None else systemd_path
    return ''.join([
        '12:pids:%s\n' % path,
        '11:memory:%s\n' % path,
        '10:cpu,cpuacct:%s\n' % path,
        '1:name=systemd:%s\n' % systemd_path,
    ])


def cgroup_hybrid_text(v1_path='/', v2_path='/'):
    return cgroup_v1_text(v1_path) + '0::%s\n' % v2_path


BASE_MOUNTINFO = ''.join([
    '22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n',
    '1 0 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n',
    '23 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n',
    '25 1 0:23 / /run rw,nosuid,nodev shared:5 master:1 - tmpfs tmpfs rw,size=1000k,mode=755\n',
])


def nsfs_mount_line(mount_id, nstype, inode, path, parent_id=25, optional='shared:5'):
    """A mountinfo line of an nsfs bind mount (what ``ip netns add`` leaves)."""
    escaped = path.replace('\\', '\\134').replace(' ', '\\040').replace('\t', '\\011').replace('\n', '\\012')
    opt = (optional + ' ') if optional else ''
    return '%d %d 0:4 %s:[%d] %s rw %s- nsfs nsfs rw\n' % (mount_id, parent_id, nstype, inode, escaped, opt)


def ns_ref(nstype, inode):
    return '%s:[%d]' % (nstype, inode)


# ---------------------------------------------------------------------------- the tree

class ProcTree:
    """A fake proc root below ``path``; every ``add_*`` returns self for chaining."""

    def __init__(self, path):
        self.path = str(path)
        if not os.path.isdir(self.path):
            os.makedirs(self.path)

    def __str__(self):
        return self.path

    def __fspath__(self):
        return self.path

    def p(self, *parts):
        return os.path.join(self.path, *[str(x) for x in parts])

    def write(self, rel, data):
        """Write a file (text or bytes) below the root, making parent directories."""
        path = self.p(*rel.split('/'))
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent)
        mode = 'wb' if isinstance(data, bytes) else 'w'
        kwargs = {} if isinstance(data, bytes) else {'encoding': 'utf-8', 'errors': 'surrogateescape', 'newline': ''}
        with open(path, mode, **kwargs) as handle:
            handle.write(data)
        return self

    def link(self, rel, target):
        """A symlink below the root whose text is ``target`` (dangling)."""
        path = self.p(*rel.split('/'))
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(target, path)
        return self

    def remove(self, rel):
        path = self.p(*rel.split('/'))
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        return self

    def ns_dir(self, base, ns=None, for_children=None, texts=None, names=None):
        """Write ``base/ns/*`` links: ``ns`` type -> inode over INIT; ``texts`` raw overrides."""
        inodes = dict(INIT)
        inodes.update(ns or {})
        links = dict((t, ns_ref(t, i)) for t, i in inodes.items())
        for_children = dict(for_children or {})
        links['pid_for_children'] = ns_ref('pid', for_children.get('pid', inodes['pid']))
        links['time_for_children'] = ns_ref('time', for_children.get('time', inodes['time']))
        links.update(texts or {})
        os.makedirs(self.p(*base.split('/'), 'ns'))
        for name, text in sorted(links.items()):
            if names is not None and name not in names:
                continue
            if text is None:
                continue
            self.link('%s/ns/%s' % (base, name), text)
        return self

    def add_process(self, pid, comm='sleep', ppid=1, starttime=None, ns=None, for_children=None,
                    cmdline=None, uid=0, nspid=None, cgroup=None, mountinfo=None, threads=None,
                    fds=None, stat=None, status=None, ns_texts=None, ns_names=None, with_ns=True):
        """One process directory.

        ``ns``: type -> inode overriding INIT. ``for_children``: {'pid'|'time': inode}.
        ``cmdline``: list of args, or bytes as is (default ``[comm]``; ``[]`` = kernel thread).
        ``threads``: {tid: ns dict} extra threads (task/<tid>/ns). ``fds``: {n: link text}.
        ``stat``/``status``/``cgroup``/``mountinfo``: raw text overrides.
        ``ns_texts``: {link name: raw text or None to leave out}. ``ns_names``: only these links.
        ``with_ns=False``: no ns directory at all.
        """
        base = str(pid)
        starttime = pid * 10 if starttime is None else starttime
        self.write(base + '/stat', stat if stat is not None else stat_text(
            pid, comm, ppid=ppid, starttime=starttime, num_threads=1 + len(threads or {})))
        self.write(base + '/status', status if status is not None else status_text(
            comm, pid, ppid=ppid, uid=uid, nspid=nspid, threads=1 + len(threads or {})))
        if cmdline is None:
            cmdline = [comm]
        if isinstance(cmdline, bytes):
            data = cmdline
        else:
            data = b''.join(a.encode('utf-8', 'surrogateescape') + b'\0' for a in cmdline)
        self.write(base + '/cmdline', data)
        self.write(base + '/cgroup', cgroup if cgroup is not None else cgroup_v2_text('/'))
        self.write(base + '/mountinfo', mountinfo if mountinfo is not None else BASE_MOUNTINFO)
        if with_ns:
            self.ns_dir(base, ns, for_children, ns_texts, ns_names)
            # the main thread, as the kernel lists it
            self.ns_dir('%s/task/%s' % (base, pid), ns, for_children, ns_texts, ns_names)
        self.write('%s/task/%s/stat' % (base, pid), stat if stat is not None else stat_text(pid, comm, ppid=ppid, starttime=starttime))
        for tid, tns in sorted((threads or {}).items()):
            merged = dict(ns or {})
            merged.update(tns or {})
            self.ns_dir('%s/task/%s' % (base, tid), merged, for_children)
            self.write('%s/task/%s/stat' % (base, tid), stat_text(tid, comm, ppid=ppid, starttime=starttime))
        os.makedirs(self.p(base, 'fd'))
        fds = {0: '/dev/null', 1: 'pipe:[12345]', 2: 'pipe:[12345]'} if fds is None else fds
        for number, target in sorted(fds.items()):
            self.link('%s/fd/%s' % (base, number), target)
        return self

    def add_extras(self):
        """Non-PID entries a real /proc has."""
        self.link('self', '1')
        self.link('thread-self', '1/task/1')
        self.write('sys/kernel/random/boot_id', '6c4f7d43-6a5e-4f0e-9b6d-2f9bbd4c9b11\n')
        self.write('uptime', '1000.00 1900.00\n')
        return self


def basic_host(path):
    """pid 1 (init) and pid 2 (kthreadd), both in the initial namespaces."""
    tree = ProcTree(path)
    tree.add_process(1, comm='systemd', ppid=0, starttime=1, cmdline=['/sbin/init', 'splash'])
    tree.add_process(2, comm='kthreadd', ppid=0, starttime=2, cmdline=[])
    tree.add_extras()
    return tree


# ---------------------------------------------------------------------------- a busy host

# Made-up inodes of the namespaces of the container host below.
C_NET, C_PID, C_MNT, C_UTS, C_IPC = 4026532100, 4026532101, 4026532102, 4026532103, 4026532104
UNJOINED_PID = 4026532200      # pid_for_children of pid 400, nobody in it yet
LOOSE_NET = 4026532300         # only thread 501 of pid 500 is in it
FD_NET = 4026532400            # only held open by fd 7 of pid 600
BIND_NET = 4026532500          # bind-mounted at /run/netns/blue (initial mount ns)
BIND_SPACE_NET = 4026532501    # bind-mounted at "/run/netns/my ns"
C_BIND_UTS = 4026532600        # bind-mounted inside the container's mount ns
CONTAINER_NS = {'net': C_NET, 'pid': C_PID, 'mnt': C_MNT, 'uts': C_UTS, 'ipc': C_IPC}


def container_host(path):
    """A host with a container, an unjoined pid_for_children, a loose thread, an fd and bind mounts.

    ====  =========  =====  =====  ===============================================
    pid   comm       ppid   start  what
    ====  =========  =====  =====  ===============================================
    1     systemd    0      1      init; its mountinfo has two nsfs bind mounts
    2     kthreadd   0      2      kernel thread (empty cmdline)
    100   shim       1      100    containerd shim, v2 cgroup
    200   sleep      100    900    container init, NSpid 200 1, nsfs bind mount of a uts ns
    250   nginx      100    600    joined the container later (runc exec): a leader too
    260   worker     200    50     child of 200 inside the container (not a leader)
    400   unshare    1      400    pid_for_children names UNJOINED_PID
    500   agent      1      500    thread 501 is in LOOSE_NET, thread 502 is not
    600   holder     1      610    fd 7 holds FD_NET open, fd 8 is a socket
    ====  =========  =====  =====  ===============================================
    """
    tree = ProcTree(path)
    tree.add_process(1, comm='systemd', ppid=0, starttime=1, cmdline=['/sbin/init', 'splash'],
                     cgroup=cgroup_v2_text('/init.scope'),
                     mountinfo=BASE_MOUNTINFO
                     + nsfs_mount_line(600, 'net', BIND_NET, '/run/netns/blue')
                     + nsfs_mount_line(601, 'net', BIND_SPACE_NET, '/run/netns/my ns'))
    tree.add_process(2, comm='kthreadd', ppid=0, starttime=2, cmdline=[])
    tree.add_process(100, comm='containerd-shim', ppid=1, starttime=100,
                     cmdline=['/usr/bin/containerd-shim-runc-v2', '-namespace', 'moby'],
                     cgroup=cgroup_v2_text('/system.slice/containerd.service'))
    container_mounts = ('700 650 0:90 / / rw,relatime - overlay overlay rw,lowerdir=/l\n'
                        '701 700 0:91 / /proc rw,nosuid - proc proc rw\n'
                        + nsfs_mount_line(702, 'uts', C_BIND_UTS, '/var/run/uts0', parent_id=700, optional=''))
    scope = '/system.slice/docker-abc.scope'
    tree.add_process(200, comm='sleep', ppid=100, starttime=900, ns=CONTAINER_NS, nspid=[200, 1],
                     cmdline=['sleep', 'infinity'], cgroup=cgroup_v2_text(scope), mountinfo=container_mounts,
                     uid=0)
    tree.add_process(250, comm='nginx', ppid=100, starttime=600, ns=CONTAINER_NS, nspid=[250, 7],
                     cmdline=['nginx:', 'master', 'process'], cgroup=cgroup_v2_text(scope),
                     mountinfo=container_mounts, uid=101)
    tree.add_process(260, comm='worker', ppid=200, starttime=50, ns=CONTAINER_NS, nspid=[260, 2],
                     cmdline=['worker'], cgroup=cgroup_v2_text(scope), mountinfo=container_mounts, uid=101)
    tree.add_process(400, comm='unshare', ppid=1, starttime=400, for_children={'pid': UNJOINED_PID},
                     cmdline=['unshare', '--pid', 'sh'])
    tree.add_process(500, comm='agent', ppid=1, starttime=500, threads={501: {'net': LOOSE_NET}, 502: {}},
                     cmdline=['/usr/bin/agent'])
    tree.add_process(600, comm='holder', ppid=1, starttime=610, cmdline=['holder'],
                     fds={0: '/dev/null', 1: 'pipe:[77]', 7: ns_ref('net', FD_NET), 8: 'socket:[999]',
                          9: 'anon_inode:[eventfd]'})
    tree.add_extras()
    return tree
