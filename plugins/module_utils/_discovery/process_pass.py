# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The one pass over every /proc/PID that discovery makes, split over forked workers.

Everything the discovery steps need from the kernel *per process* is read here, in one
visit to each PID, so that all of it runs on every CPU (see ``_parallel``) and the
fork, the path walks and the result transfer are paid once:

- ``stat`` (ppid, comm, starttime, threads) and the namespace links: always;
- command line and real UID of the processes that may lead a namespace (those whose
  parent is not a process of the same worker with the same links): the ealdormen are
  among them;
- the fd links that name a namespace or a socket: for the ``fds``/``sockets`` sources
  (not of kernel threads: they have no fds);
- the first time a worker meets a namespace: its nsfs relations (parent, owning user
  namespace, owner UID, climbing to hidden ancestors), and for a mount namespace its
  mountinfo when it holds nsfs bind mounts (always, when mount tables are asked for).

The steps in ``_discovery`` turn this plain data into the model; whatever a worker could
not read (a process gone between two reads) they read again themselves or count.
"""


from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import syscalls
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import HIERARCHICAL_TYPES
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import FOR_CHILDREN_LINKS, ProcParseError, classify


class PassPlan:
    """What the pass reads. Plain attributes: it travels to the workers by fork."""

    def __init__(self, root, link_names, fd_prefixes=(), relations=False, bind_mounts=False,
                 leader_details=False, live=False, mounts=False, command_lines=False):
        self.root = root
        self.link_names = tuple(link_names)
        self.leader_details = leader_details    # owner uid of possible leaders
        self.command_lines = command_lines      # ... and their command lines
        self.live = live                        # a live procfs: /proc/PID owners mean something
        self.fd_prefixes = tuple(fd_prefixes)   # fd link texts to keep (none: no fd scan)
        self.relations = relations              # nsfs ioctls (a live procfs only)
        self.bind_mounts = bind_mounts          # mountinfo of each mount namespace
        self.mounts = mounts                    # ... all of it, not only when it has nsfs mounts


class PassResult:
    """What the pass found, merged over the workers."""

    def __init__(self):
        self.details = {}       # pid -> (raw cmdline text or None, owner uid) of possible leaders
        self.fd_refs = []       # (pid, [(fd, link text)])
        self.fd_unreadable = 0  # processes whose fds could not be read (exited ones not counted)
        self.relations = {}     # (type, inode) -> (parent inode, owner inode, owner uid)
        self.mountinfo = {}     # mnt inode -> its nsfs lines of mountinfo ('' when none; all of it with plan.mounts)
        self._mount_readers = {}  # mnt inode -> the PID mountinfo was read from

    def add(self, part):
        """Merge one chunk's result of :func:`read_chunk`; returns its (rows, link sets)."""
        rows, link_sets, details, fd_refs, fd_unreadable, relations, mountinfo = part
        self.details.update(details)
        self.fd_refs.extend(fd_refs)
        self.fd_unreadable += fd_unreadable
        self.relations.update(relations)
        # The lowest PID's mountinfo wins, as in a serial pass: processes of one mount
        # namespace see different mountinfo when chrooted.
        for inode, (reader, text) in mountinfo.items():
            known = self._mount_readers.get(inode)
            if known is None or reader < known:
                self._mount_readers[inode] = reader
                self.mountinfo[inode] = text
        return rows, link_sets

    def release(self):
        """Drop what only the discovery steps need (leader details, relations, mountinfo)."""
        self.details = {}
        self.relations = {}
        self.mountinfo = {}
        self._mount_readers = {}

    def mount_reader(self, inode):
        """The PID whose mountinfo :attr:`mountinfo` holds for the mount namespace ``inode``."""
        return self._mount_readers.get(inode)


def run(plan, pids, imap_chunks):
    """The pass over ``pids`` through ``imap_chunks(func, items)`` (``_parallel``):
    yields ``(result so far, (rows, link sets) just merged)`` per worker."""
    result = PassResult()
    for part in imap_chunks(lambda chunk: [read_chunk(plan, chunk)], pids):
        yield result, result.add(part[0])


def read_chunk(plan, pids):
    """Read the PIDs of one worker (its chunk: an iterable, in increasing order);
    returns marshal-able data for :func:`run`.

    Rows are ``(pid, ppid, comm, starttime, num_threads, index)`` with the index of the
    process's links dict in the chunk's list of distinct link sets (siblings share one:
    fewer objects to send and merge), or ``(pid, reason)`` when it could not be read.
    """
    root = plan.root
    read_stat = procfs.read_stat
    read_ns_links = procfs.read_ns_links
    names = plan.link_names
    fd_prefixes = plan.fd_prefixes
    known = {}
    rows = []
    link_sets = []    # distinct links dicts of the chunk
    set_index = {}    # tuple(links.items()) -> index in link_sets
    fd_refs = []
    fd_unreadable = 0
    relations = {}
    mountinfo = {}
    previous = (None, None)  # (links, index) of the last process: siblings come in a row
    names_seen = {}          # one string per process name: thousands of "sleep" are one
    for pid in pids:
        try:
            stat = read_stat(root, pid)
            # Kernel threads too: they need not share kthreadd's namespaces (kdevtmpfs
            # has a mount namespace of its own).
            links = read_ns_links(root, pid, names=names, known=known)
            if stat.state == 'Z' and stat.num_threads > 1:
                links = _links_of_live_task(root, pid, names, known, links)
        except (OSError, ProcParseError) as exc:
            rows.append((pid, classify(exc)))
            continue
        new_set = False
        if links is previous[0] or links == previous[0]:
            index = previous[1]
        else:
            key = tuple(links.items())
            index = set_index.get(key)
            new_set = index is None
            if new_set:
                index = set_index[key] = len(link_sets)
                link_sets.append(links)
            previous = (links, index)
        comm = names_seen.setdefault(stat.comm, stat.comm)
        rows.append((pid, stat.ppid, comm, stat.starttime, stat.num_threads, index))
        if fd_prefixes and not stat.kernel_thread:
            found = _fd_references(root, pid, fd_prefixes)
            if found is None:
                fd_unreadable += 1
            elif found:
                fd_refs.append((pid, found))
        if new_set:  # else these namespaces were looked at with an earlier process
            _first_visit(plan, pid, links, relations, mountinfo)
    details = _leader_details(root, rows, plan.live, plan.command_lines) if plan.leader_details else {}
    return rows, link_sets, details, fd_refs, fd_unreadable, relations, mountinfo


def _links_of_live_task(root, pid, names, known, leader_links):
    """The links of a process whose thread-group leader is a zombie while other threads
    live: the leader keeps only its pid and user links, a live thread has them all."""
    for tid in procfs.list_tids(root, pid):
        if tid == pid:
            continue
        try:
            return procfs.read_ns_links(root, pid, tid, names, known)
        except (OSError, ProcParseError):
            continue  # exited meanwhile: the next thread
    return leader_links


def _first_visit(plan, pid, links, relations, mountinfo):
    """What is read once per namespace, through the first process met in it: nsfs
    relations and the mountinfo of a mount namespace."""
    for name, inode in links.items():
        nstype = FOR_CHILDREN_LINKS.get(name, name)
        if (plan.bind_mounts or plan.mounts) and nstype == 'mnt' and inode not in mountinfo:
            text = _mountinfo(plan.root, pid, plan.mounts)
            if text is not None:
                mountinfo[inode] = (pid, text)
        if plan.relations and (nstype, inode) not in relations:
            _describe_link(plan.root, pid, name, nstype, inode, relations)


def _leader_details(root, rows, live, command_lines):
    """pid -> (raw cmdline text, owner uid) of each process that may lead a namespace: its
    parent is not in this chunk, or has other links. The text is None unless
    ``command_lines``. Unreadable ones are left to the caller."""
    index_of = dict((row[0], row[5]) for row in rows if len(row) > 2)  # this worker's
    details = {}
    for row in rows:
        if len(row) == 2 or index_of.get(row[1]) == row[5]:
            continue
        pid = row[0]
        try:
            cmdline = procfs.read_cmdline_text(root, pid) if command_lines else None
            uid = procfs.read_owner_uid(root, pid, live)
        except (OSError, ProcParseError):
            continue
        details[pid] = (cmdline, uid)
    return details


def _fd_references(root, pid, prefixes):
    """[(fd, link text)] of the fds whose link starts with one of ``prefixes``; None
    when they cannot be read (another user's without CAP_SYS_PTRACE), [] when it exited."""
    try:
        return list(procfs.read_fd_links(root, pid, prefixes).items())
    except OSError as exc:
        return [] if classify(exc) == procfs.VANISHED else None


def _mountinfo(root, pid, keep_all=False):
    """The process's mountinfo (``keep_all``), else only its nsfs lines ('' if none: a
    mount namespace holds a few bind mounts, and its whole table need not stay in
    memory); None if unreadable."""
    try:
        text = root.read_text(str(pid), 'mountinfo')
    except OSError:
        return None
    if keep_all:
        return text
    if ' - nsfs ' not in text:
        return ''
    return ''.join(line + '\n' for line in text.splitlines() if ' - nsfs ' in line)


def _describe_link(root, pid, name, nstype, inode, relations):
    """Open /proc/PID/ns/NAME and record its relations, unless it is gone or reused
    (then the next process of the namespace is tried)."""
    try:
        fd = syscalls.open_ns(root.pid_path(pid, 'ns', name))
    except OSError:
        return
    try:
        if syscalls.ns_ident(fd)[1] == inode:  # else the PID now belongs to another process
            describe(fd, nstype, inode, relations)
    except OSError:
        pass
    finally:
        syscalls.close_quietly(fd)


def describe(fd, nstype, inode, relations):
    """Record ``(parent, owner, owner uid, netnsid)`` of the namespace open at ``fd`` and
    of every ancestor and owner reached from it that is not recorded yet."""
    parent = owner = owner_uid = netnsid = None
    if nstype in HIERARCHICAL_TYPES:
        parent = _follow(syscalls.get_parent(fd), nstype, relations)
    if nstype == 'user':
        owner = parent
        owner_uid = syscalls.get_owner_uid(fd)
    else:
        owner = _follow(syscalls.get_userns(fd), 'user', relations)
    if nstype == 'net':
        try:
            netnsid = syscalls.netns_id(fd)
        except OSError:
            netnsid = None
    relations[(nstype, inode)] = (parent, owner, owner_uid, netnsid)


def _follow(fd, nstype, relations):
    """The inode of the namespace at ``fd`` (None for no fd), described if it is new."""
    if fd is None:
        return None
    try:
        inode = syscalls.ns_ident(fd)[1]
        if (nstype, inode) not in relations:
            describe(fd, nstype, inode, relations)
        return inode
    finally:
        syscalls.close_quietly(fd)
