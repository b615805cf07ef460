# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The discovery result model: namespace and process records and their facts dicts.

The facts shape is published as JSON Schema in
``meta/schemas/namespace_facts.json``; keep both in step.
"""


from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    FOR_CHILDREN_LINKS,
    NS_TYPES,
    format_ns_ref,
    parse_ns_ref,
)

# Namespace types that form a hierarchy (NS_GET_PARENT works on them).
HIERARCHICAL_TYPES = ('pid', 'user')

# Version of the facts shape, in ``discovery.schema_version``. 2: records keyed by
# ``TYPE:[INODE]`` hold only what the key does not say and what is not empty; lsns's
# columns of a namespace's lowest PID are in the ``pids`` table. expand_facts() gives
# the shape of version 1 (every field in every record).
SCHEMA_VERSION = 2

# The lists at the end of a version 1 record, in its order.
_V1_LISTS = ('for_children', 'loose_threads', 'fds', 'sockets')


class Namespace:
    """One namespace, identified by (dev, inode) on nsfs."""

    __slots__ = ('type', 'inode', 'ref', 'dev', 'pids', 'for_children', 'loose_threads', 'fds',
                 'sockets', 'bind_mounts', 'parent', 'children', 'owner', 'owner_uid',
                 'hidden', 'leaders', 'ealdorman', 'netnsid')

    def __init__(self, nstype, inode, dev=None, hidden=False):
        self.type = nstype
        self.inode = inode
        self.ref = format_ns_ref(nstype, inode)
        self.dev = dev
        # The lists below but pids stay the shared empty tuple until something is added
        # (listed()): most namespaces have none, and a busy host has thousands.
        self.pids = []            # member processes (ns link of the process itself)
        self.for_children = ()    # processes whose *_for_children link names it
        self.loose_threads = ()   # (pid, tid) of threads in it whose process is not
        self.fds = ()             # (pid, fd) holding it open
        self.sockets = ()         # (pid, fd) of sockets created in it (net only)
        self.bind_mounts = ()     # (mount namespace ref, mount point)
        self.parent = None        # Namespace (pid and user only)
        self.children = ()
        self.owner = None         # owning user Namespace (for a user ns: its parent)
        self.owner_uid = None
        self.hidden = hidden      # found only by climbing parents/owners
        self.leaders = ()
        self.ealdorman = None
        self.netnsid = None       # its id in the module's network namespace (net only)

    def listed(self, field):
        """The list of ``field`` (for_children, loose_threads, fds, sockets, bind_mounts,
        children or leaders), made on first use."""
        values = getattr(self, field)
        if values == ():
            values = []
            setattr(self, field, values)
        return values

    def to_facts(self, nsfs_dev=None, initial_user=None):
        """The lean facts record of this namespace (see :data:`SCHEMA_VERSION`).

        The key (``TYPE:[INODE]``) says the type and inode, ``discovery.nsfs_dev`` the
        device; ``pid`` points into the ``pids`` table for lsns's columns. A field is
        left out when it holds nothing: empty lists, a false ``hidden``, ``leaders``
        that are just ``[pid]`` and an ``ealdorman`` that is ``pid``. ``owner`` is left out
        when it is ``initial_user`` (the ref of the initial user namespace: the owner of
        nearly every namespace) and, for a user namespace, when it is its parent (always);
        an owner the kernel did not tell (a copied tree) is ``None``.
        """
        record = {'nprocs': len(self.pids)}
        if self.dev != nsfs_dev:
            record['dev'] = self.dev
        if self.pids:
            lowest = min(self.pids)
            record['pid'] = lowest
            leaders = sorted(self.leaders)
            if leaders != [lowest]:
                record['leaders'] = leaders
            if self.ealdorman != lowest:
                record['ealdorman'] = self.ealdorman
        else:
            if self.leaders:
                record['leaders'] = sorted(self.leaders)
            if self.ealdorman is not None:
                record['ealdorman'] = self.ealdorman
        owner = self.owner.ref if self.owner is not None else None
        if self.type == 'user':
            parent = self.parent.ref if self.parent is not None else None
            if owner != parent:
                record['owner'] = owner
        elif owner is None or owner != initial_user:
            record['owner'] = owner
        if self.owner_uid is not None:
            record['owner_uid'] = self.owner_uid
        if self.parent is not None:
            record['parent'] = self.parent.ref
        if self.children:
            record['children'] = sorted(child.ref for child in self.children)
        if self.netnsid is not None:
            record['netnsid'] = self.netnsid
        if self.hidden:
            record['hidden'] = True
        if self.for_children:
            record['for_children'] = sorted(self.for_children)
        if self.loose_threads:
            record['loose_threads'] = [{'pid': pid, 'tid': tid} for pid, tid in sorted(self.loose_threads)]
        if self.fds:
            record['fds'] = [{'pid': pid, 'fd': fd} for pid, fd in sorted(self.fds)]
        if self.sockets:
            record['sockets'] = [{'pid': pid, 'fd': fd} for pid, fd in sorted(self.sockets)]
        if self.bind_mounts:
            # path -> mount namespaces: a bind mount under /run/netns shows in every copy of
            # the mount table (each unshare --mount), and the path need not repeat in each.
            by_path = {}
            for mnt, path in sorted(self.bind_mounts):
                by_path.setdefault(path, []).append(mnt)
            record['bind_mounts'] = by_path
        return record


class Process:
    """One process: what the discovery read of it."""

    __slots__ = ('pid', 'ppid', 'comm', 'starttime', 'links', 'uid', 'owner_uid', 'user', 'cmdline', 'nspid',
                 'cgroup', 'num_threads')

    def __init__(self, pid, ppid, comm, starttime, links):
        self.pid = pid
        self.ppid = ppid
        self.comm = comm
        self.starttime = starttime
        self.links = links        # ns link name -> inode
        self.uid = None           # real UID, for the process table
        self.owner_uid = None     # as lsns shows it (see procfs.read_owner_uid), for lowest PIDs
        self.user = None          # its name
        self.cmdline = None
        self.nspid = None
        self.cgroup = None
        self.num_threads = None   # from stat; 1 lets the task scan skip the process

    @property
    def command(self):
        """As lsns shows it: the command line, or the name of a kernel thread."""
        if self.cmdline:
            return ' '.join(self.cmdline)
        return self.comm

    def lowest_facts(self, command_lines=False):
        """The ``pids`` entry of a process that is the lowest PID of a namespace: lsns's
        PPID and UID columns, the process name and, when asked for, lsns's COMMAND (the
        user name of the UID is in the facts' ``users``)."""
        entry = {'ppid': self.ppid, 'name': self.comm, 'uid': self.owner_uid}
        if command_lines:
            entry['command'] = self.command
        return entry

    def to_facts(self, types=NS_TYPES):
        """The process table row; ``types``: the namespace types asked for (the links read
        for other reasons, mnt for bind mounts, are left out)."""
        return {
            'pid': self.pid,
            'ppid': self.ppid,
            'name': self.comm,
            'cmdline': self.cmdline or [],
            'starttime': self.starttime,
            'uid': self.uid,
            'nspid': self.nspid,
            'namespaces': dict((name, inode) for name, inode in self.links.items() if name in types),
            'for_children': dict((name, inode) for name, inode in self.links.items()
                                 if name in FOR_CHILDREN_LINKS and FOR_CHILDREN_LINKS[name] in types),
            'cgroup': self.cgroup,
        }


def _owner(nstype, record, initial_user):
    """The owner a schema 2 record leaves out: a user namespace's parent, else the initial
    user namespace; an explicit ``None`` stays unknown."""
    if 'owner' in record:
        return record['owner']
    if nstype == 'user':
        return record.get('parent')
    return initial_user


def expand_record(ref, record, pids, nsfs_dev, initial_user=None, users=None):
    """A schema 2 record as version 1 had it: type, inode, dev, ref, lsns's columns of
    the lowest PID from ``pids`` and ``users`` (the facts' tables), and every empty field.

    ``command`` is the command line when the facts have it (option ``command_lines``),
    else the process name."""
    nstype, inode = parse_ns_ref(ref)
    lowest = record.get('pid')
    info = (pids.get(str(lowest)) if lowest is not None else None) or {}
    uid = info.get('uid')
    full = {
        'type': nstype,
        'inode': inode,
        'dev': record.get('dev', nsfs_dev),
        'ref': ref,
        'nprocs': record.get('nprocs', 0),
        'pid': lowest,
        'ppid': info.get('ppid'),
        'command': info['command'] if 'command' in info else info.get('name'),
        'uid': uid,
        'user': (users or {}).get(str(uid)) if uid is not None else None,
        'netnsid': record.get('netnsid'),
        'leaders': list(record['leaders']) if 'leaders' in record else ([lowest] if lowest is not None else []),
        'ealdorman': record['ealdorman'] if 'ealdorman' in record else lowest,
        'owner': _owner(nstype, record, initial_user),
        'owner_uid': record.get('owner_uid'),
        'parent': record.get('parent'),
        'children': list(record.get('children') or []),
        'hidden': bool(record.get('hidden', False)),
    }
    for name in _V1_LISTS:
        full[name] = list(record.get(name) or [])
    full['bind_mounts'] = sorted(({'mnt_ns': mnt, 'path': path}
                                  for path, refs in (record.get('bind_mounts') or {}).items() for mnt in refs),
                                 key=lambda mount: (mount['mnt_ns'], mount['path']))
    return full


def initial_user_ref(initial):
    """``user:[INODE]`` of the initial user namespace from the facts' ``initial``, or None."""
    inode = initial.get('user')
    return format_ns_ref('user', inode) if inode else None


def expand_facts(facts):
    """The facts in the shape of schema version 1: a shallow copy whose ``namespaces``
    records carry every field. Facts that already have that shape come back as they are."""
    discovery = facts.get('discovery') or {}
    if discovery.get('schema_version', 1) < 2:
        return facts
    pids = facts.get('pids') or {}
    nsfs_dev = discovery.get('nsfs_dev')
    initial_user = initial_user_ref(facts.get('initial') or {})
    users = facts.get('users') or {}
    expanded = dict(facts)
    expanded['namespaces'] = dict((ref, expand_record(ref, record, pids, nsfs_dev, initial_user, users))
                                  for ref, record in (facts.get('namespaces') or {}).items())
    expanded['discovery'] = dict(discovery, schema_version=1)
    expanded.pop('pids', None)
    expanded.pop('users', None)
    return expanded
