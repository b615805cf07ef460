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
)

# Namespace types that form a hierarchy (NS_GET_PARENT works on them).
HIERARCHICAL_TYPES = ('pid', 'user')


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
        self.pids = []            # member processes (ns link of the process itself)
        self.for_children = []    # processes whose *_for_children link names it
        self.loose_threads = []   # (pid, tid) of threads in it whose process is not
        self.fds = []             # (pid, fd) holding it open
        self.sockets = []         # (pid, fd) of sockets created in it (net only)
        self.bind_mounts = []     # (mount namespace ref, mount point)
        self.parent = None        # Namespace (pid and user only)
        self.children = []
        self.owner = None         # owning user Namespace (for a user ns: its parent)
        self.owner_uid = None
        self.hidden = hidden      # found only by climbing parents/owners
        self.leaders = []
        self.ealdorman = None
        self.netnsid = None       # its id in the module's network namespace (net only)

    def to_facts(self, processes):
        """The facts dict of this namespace; ``processes`` maps pid -> Process."""
        # pid, ppid, command, uid and user describe the lowest PID, as lsns shows them.
        lowest = processes[min(self.pids)] if self.pids else None
        # Most reference lists are empty: skip sorting and building those.
        return {
            'type': self.type,
            'inode': self.inode,
            'dev': self.dev,
            'ref': self.ref,
            'nprocs': len(self.pids),
            'pid': lowest.pid if lowest else None,
            'ppid': lowest.ppid if lowest else None,
            'command': lowest.command if lowest else None,
            'uid': lowest.owner_uid if lowest else None,
            'user': lowest.user if lowest else None,
            'netnsid': self.netnsid,
            'leaders': sorted(self.leaders) if self.leaders else [],
            'ealdorman': self.ealdorman,
            'owner': self.owner.ref if self.owner else None,
            'owner_uid': self.owner_uid,
            'parent': self.parent.ref if self.parent else None,
            'children': sorted(child.ref for child in self.children) if self.children else [],
            'hidden': self.hidden,
            'for_children': sorted(self.for_children) if self.for_children else [],
            'loose_threads': [{'pid': pid, 'tid': tid} for pid, tid in sorted(self.loose_threads)]
            if self.loose_threads else [],
            'fds': [{'pid': pid, 'fd': fd} for pid, fd in sorted(self.fds)] if self.fds else [],
            'sockets': [{'pid': pid, 'fd': fd} for pid, fd in sorted(self.sockets)] if self.sockets else [],
            'bind_mounts': [{'mnt_ns': mnt, 'path': path} for mnt, path in sorted(self.bind_mounts)]
            if self.bind_mounts else [],
        }


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
