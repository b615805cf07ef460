# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Namespace discovery as a pipeline of ordered steps over the /proc readers.

:func:`discover` runs the steps in :data:`STEPS` over one :class:`Discovery` state:
processes first (they name most namespaces), then the optional sources that find
namespaces no process is in (loose threads, open fds, sockets, nsfs bind mounts), then
the hierarchy and owners through nsfs ioctls, then leaders. Each step tolerates
processes that vanish or cannot be read: they are counted, never fatal.
"""


import collections
import os
import pwd
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._pids import check_pids
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.root import DiscoveryError, check_root
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import (
    HIERARCHICAL_TYPES,
    SCHEMA_VERSION,
    Namespace,
    Process,
    initial_user_ref,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import syscalls
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import parallel
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery import process_pass
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery import mounts
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    DENIED, MALFORMED, NS_TYPES, OTHER, VANISHED, FOR_CHILDREN_LINKS,
    ProcParseError, ProcRoot, classify, parse_ns_ref,
)

SOURCES = ('tasks', 'fds', 'sockets', 'bind_mounts')
DEFAULT_SOURCES = ('tasks', 'bind_mounts')

CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21

_NS_PREFIXES = tuple(t + ':[' for t in NS_TYPES)


class Discovery:
    """The state the steps share."""

    def __init__(self, proc_root='/proc', sources=DEFAULT_SOURCES, process_table=False, pids=None,
                 types=NS_TYPES, fd_links=(), mount_tables=False, command_lines=False):
        self.root = ProcRoot(proc_root)
        self.command_lines = command_lines  # the pids table gets each command line
        self.sources = tuple(s for s in SOURCES if s in sources)
        self.types = tuple(t for t in NS_TYPES if t in types)
        # Links read per process: the types asked for, their *_for_children links, and
        # mnt when bind mounts are to be found (they are read per mount namespace).
        read = set(self.types) | ({'mnt'} if 'bind_mounts' in self.sources else set())
        self.link_names = tuple(t for t in NS_TYPES if t in read) + tuple(
            link for link, nstype in sorted(FOR_CHILDREN_LINKS.items()) if nstype in read)
        # More fd link prefixes for the caller (socket_info: socket owners), read in the pass.
        self.fd_links = tuple(fd_links)
        self.process_table = process_table or bool(pids)
        self.table_pids = set(pids) if pids else None
        self.is_procfs = False
        self.dev = None
        self.processes = {}      # pid -> Process
        self.namespaces = {}     # (type, inode) -> Namespace
        self.skipped = {DENIED: 0, VANISHED: 0, MALFORMED: 0, OTHER: 0}
        self.malformed_files = 0  # lines or links that were skipped inside readable files
        self.warnings = []
        self.initial = {}
        self.initial_source = None
        self.found = None         # process_pass.PassResult of the process step
        self.want_mounts = mount_tables and 'mnt' in self.types  # option mounts: see _discovery.mounts
        self.mount_tables = None  # mounts.MountTables when asked for
        self.unsearched_mounts = {}  # mnt ref -> why its table could not be searched for bind mounts
        self.mount_texts = {}     # mnt inode -> (mountinfo text, reader, via) or the error (mounts.table_text)
        self.asked_mounts = mount_tables

    def namespace(self, nstype, inode, hidden=False):
        key = (nstype, inode)
        ns = self.namespaces.get(key)
        if ns is None:
            ns = self.namespaces[key] = Namespace(nstype, inode, self.dev, hidden)
        return ns

    def skip(self, exc):
        self.skipped[classify(exc)] += 1


# ---------------------------------------------------------------------------- steps

def check_proc_root(state):
    """Refuse a path that is not a proc tree; note whether it is a real procfs."""
    state.is_procfs = check_root(state.root)
    if state.is_procfs:
        state.dev = procfs.nsfs_dev()
    else:
        state.warnings.append('proc_root %s is not a mounted procfs (a copy or fixture tree): namespace '
                              'identities come from link text only and no ioctls are made' % state.root.path)


def pass_plan(state):
    """What the one pass over every process reads, for the steps that will run."""
    want_fds = 'fds' in state.sources
    want_sockets = 'sockets' in state.sources and state.is_procfs and 'net' in state.types
    prefixes = (_NS_PREFIXES if want_fds else ()) + (('socket:[',) if want_sockets else ())
    return process_pass.PassPlan(
        state.root, state.link_names,
        fd_prefixes=prefixes + tuple(p for p in state.fd_links if p not in prefixes),
        relations=state.is_procfs,
        bind_mounts='bind_mounts' in state.sources,
        leader_details=True,
        command_lines=state.command_lines,
        live=state.is_procfs,
        mounts=state.want_mounts)


def scan_processes(state, plan=None):
    """Every process: stat (ppid, starttime) and its namespace links, over all CPUs, and
    in the same visit what the later steps need per process (see _process_pass)."""
    processes = state.processes
    skipped = state.skipped
    # Processes with the same links (siblings, mostly) share one links dict (read-only)
    # and one list of member lists; the pass already shares them within each chunk.
    groups = {}     # tuple(links.items()) -> (links, member lists)
    # Chunks are merged as they come: the parent's own while the other workers still read.
    for found, (rows, link_sets) in process_pass.run(plan or pass_plan(state), procfs.list_pids(state.root),
                                                     parallel.imap_chunks):
        state.found = found
        chunk_groups = [None] * len(link_sets)
        for row in rows:
            if len(row) == 2:
                skipped[row[1]] += 1
                continue
            pid, ppid, comm, starttime, num_threads, index = row
            group = chunk_groups[index]
            if group is None:
                links = link_sets[index]
                key = tuple(links.items())
                group = groups.get(key)
                if group is None:
                    group = groups[key] = (links, _member_lists(state, links))
                chunk_groups[index] = group
            proc = processes[pid] = Process(pid, ppid, comm, starttime, group[0])
            proc.num_threads = num_threads
            for members in group[1]:
                members.append(pid)


def _member_lists(state, links):
    """The lists a process with these links is added to: ``pids`` of its namespaces and
    ``for_children`` of those its *_for_children links name when they differ."""
    targets = []
    for name, inode in links.items():
        if name in FOR_CHILDREN_LINKS:
            nstype = FOR_CHILDREN_LINKS[name]
            if inode != links.get(nstype):
                targets.append(state.namespace(nstype, inode).listed('for_children'))
        else:
            targets.append(state.namespace(name, inode).pids)
    return targets


def scan_tasks(state):
    """Threads whose namespaces differ from their process's (setns by one thread), and
    the namespaces their *_for_children links name."""
    root = state.root
    names = state.types + tuple(link for link, nstype in sorted(FOR_CHILDREN_LINKS.items()) if nstype in state.types)
    for pid, proc in list(state.processes.items()):
        if proc.num_threads == 1 and state.is_procfs:
            continue  # single-threaded when stat was read (a live procfs): no thread can differ
        try:
            tids = procfs.list_tids(root, pid)
        except OSError:
            continue  # exited since the process scan
        for tid in tids:
            if tid == pid:
                continue
            try:
                links = procfs.read_ns_links(root, pid, tid, names)
            except (OSError, ProcParseError) as exc:
                if classify(exc) == MALFORMED:
                    state.malformed_files += 1
                continue
            for name, inode in links.items():
                if inode == proc.links.get(name):
                    continue
                if name in FOR_CHILDREN_LINKS:
                    nstype = FOR_CHILDREN_LINKS[name]
                    if inode != links.get(nstype) and pid not in state.namespace(nstype, inode).for_children:
                        state.namespace(nstype, inode).listed('for_children').append(pid)
                else:
                    state.namespace(name, inode).listed('loose_threads').append((pid, tid))


def scan_fds(state):
    """Open fds on namespace files, and (source ``sockets``) the netns of sockets."""
    want_sockets = 'sockets' in state.sources
    holders = {}    # socket link text -> [(pid, fd)], in PID order
    for pid, found in state.found.fd_refs:
        for fd, text in found:
            if text.startswith('socket:['):
                if want_sockets:
                    holders.setdefault(text, []).append((pid, fd))
                continue
            try:
                nstype, inode = parse_ns_ref(text)
            except ProcParseError:
                state.malformed_files += 1
                continue
            if nstype in state.types:
                state.namespace(nstype, inode).listed('fds').append((pid, fd))
    if holders:
        _socket_namespaces(state, holders)


def _socket_namespaces(state, holders):
    """Ask the kernel which netns each socket lives in (pidfd_getfd + SIOCGSKNS), through
    its first holder, or the next one when that fails (it exited, or closed the fd)."""
    pending = dict((text, list(pids)) for text, pids in holders.items())
    while pending:
        by_pid = {}
        for text, left in pending.items():
            pid, fd = left.pop(0)
            by_pid.setdefault(pid, []).append((fd, text))
        failed = set()
        for pid in sorted(by_pid):
            failed.update(_ask_sockets(state, pid, by_pid[pid]))
        pending = dict((text, pending[text]) for text in failed if pending[text])


def _ask_sockets(state, pid, sockets):
    """Record the netns of each ``(fd, text)`` socket of ``pid``; the texts that failed.
    A network namespace seen here for the first time is described while its fd is open:
    a netns held only by sockets has no other way in."""
    try:
        pidfd = syscalls.pidfd_open(pid)
    except OSError:
        return [text for fd, text in sockets]
    failed = []
    try:
        for fd, text in sockets:
            sock = netns_fd = None
            try:
                sock = syscalls.pidfd_getfd(pidfd, fd)
                netns_fd = syscalls.socket_netns(sock)
                if netns_fd is None:
                    failed.append(text)
                    continue
                inode = syscalls.ns_ident(netns_fd)[1]
                state.namespace('net', inode).listed('sockets').append((pid, fd))
                if ('net', inode) not in state.found.relations:
                    _describe_quietly(netns_fd, 'net', inode, state.found.relations)
            except OSError:
                failed.append(text)
            finally:
                syscalls.close_quietly(netns_fd)
                syscalls.close_quietly(sock)
    finally:
        syscalls.close_quietly(pidfd)
    return failed


def scan_bind_mounts(state):
    """nsfs bind mounts, read from the mountinfo of every mount namespace: those of
    processes, and (a backlog, as lxkns keeps it) those only a thread, an fd or a bind
    mount holds, which may reveal more mount namespaces in turn."""
    done = set()
    while True:
        backlog = [ns for (nstype, inode), ns in list(state.namespaces.items())
                   if nstype == 'mnt' and inode not in done]
        if not backlog:
            return
        for ns in backlog:
            done.add(ns.inode)
            try:
                text = mounts.table_text(state, ns, _open_namespace)[0]
            except mounts.MountTableError as exc:
                state.unsearched_mounts[ns.ref] = str(exc)
                continue
            if ' - nsfs ' in text:
                _record_bind_mounts(state, ns.ref, text)


def _record_bind_mounts(state, mnt_ref, text):
    for line in text.splitlines():
        if ' - nsfs ' not in line:
            continue
        try:
            mount = procfs.parse_mountinfo_line(line)
            nstype, inode = parse_ns_ref(mount.root)
        except ProcParseError:
            state.malformed_files += 1
            continue
        if nstype in state.types:
            state.namespace(nstype, inode).listed('bind_mounts').append((mnt_ref, mount.mount_point))


def _describe_quietly(fd, nstype, inode, relations):
    try:
        process_pass.describe(fd, nstype, inode, relations)
    except OSError:
        pass  # the kernel refused an ioctl: this namespace stays without relations


def scan_mounts(state):
    """The mount table of every mount namespace, with visibility (option mounts)."""
    mounts.scan(state, _open_namespace)


def resolve_hierarchy(state):
    """Parents (pid, user), owning user namespaces and owner UIDs through nsfs ioctls:
    the process pass asked them for every namespace a process is in; the namespaces
    only fds, bind mounts or threads hold are asked here, the same way."""
    if not state.is_procfs:
        return
    relations = dict(state.found.relations)
    for ns in list(state.namespaces.values()):
        if (ns.type, ns.inode) in relations:
            continue
        fd = _open_namespace(state, ns)
        if fd is None:
            continue
        try:
            _describe_quietly(fd, ns.type, ns.inode, relations)
        finally:
            syscalls.close_quietly(fd)
    # Namespaces first met here (hidden ancestors and owners) are created hidden.
    for (nstype, inode), (parent, owner, owner_uid, netnsid) in relations.items():
        ns = state.namespace(nstype, inode, hidden=True)
        if parent is not None:
            ns.parent = state.namespace(nstype, parent, hidden=True)
            ns.parent.listed('children').append(ns)
        if owner is not None:
            ns.owner = state.namespace('user', owner, hidden=True)
        ns.owner_uid = owner_uid
        ns.netnsid = netnsid


def _open_paths(state, ns):
    root = state.root
    link = ns.type
    for pid in ns.pids:
        yield root.pid_path(pid, 'ns', link)
    for pid in ns.for_children:
        yield root.pid_path(pid, 'ns', link + '_for_children')
    for pid, tid in ns.loose_threads:
        yield root.task_path(pid, tid, 'ns', link)
    for pid, fd in ns.fds:
        yield root.pid_path(pid, 'fd', str(fd))
    mnt_pids = dict((m.ref, m.pids) for m in state.namespaces.values() if m.type == 'mnt') if ns.bind_mounts else {}
    for mnt_ref, path in ns.bind_mounts:
        for pid in mnt_pids.get(mnt_ref, ())[:3]:
            yield root.pid_path(pid, 'root') + path


def _open_namespace(state, ns):
    """An fd on the namespace, from the first reference that still works."""
    for path in _open_paths(state, ns):
        try:
            fd = syscalls.open_ns(path)
        except OSError:
            continue
        if syscalls.ns_ident(fd)[1] == ns.inode:
            return fd
        syscalls.close_quietly(fd)  # the pid was reused by another process
    return None


def pick_leaders(state):
    """Leaders (parent process outside the namespace) and the ealdorman (oldest leader)."""
    procs = state.processes
    namespaces = state.namespaces
    for pid, proc in procs.items():
        parent = procs.get(proc.ppid)
        parent_links = parent.links if parent is not None else {}
        if parent_links is proc.links:
            continue  # same links as its parent (shared dict): it leads nothing
        for name, inode in proc.links.items():
            if name not in FOR_CHILDREN_LINKS and parent_links.get(name) != inode:
                namespaces[(name, inode)].listed('leaders').append(pid)
    for ns in namespaces.values():
        if ns.pids:
            ns.ealdorman = min(ns.leaders or ns.pids, key=lambda p: (procs[p].starttime, p))


def describe_lowest(state):
    """lsns's columns of each namespace come from its lowest PID: the UID and user lsns
    shows (the owner of /proc/PID) and, when asked for, its command line."""
    procs = state.processes
    details = state.found.details  # read by the process pass for possible leaders
    users = {}
    for pid in set(min(ns.pids) for ns in state.namespaces.values() if ns.pids):
        proc = procs[pid]
        if pid in details:
            text, proc.owner_uid = details[pid]
            if text is not None:
                proc.cmdline = procfs.parse_cmdline(text)
        else:
            try:
                if state.command_lines:
                    proc.cmdline = procfs.read_cmdline(state.root, pid)
                proc.owner_uid = procfs.read_owner_uid(state.root, pid, state.is_procfs)
            except (OSError, ProcParseError) as exc:
                if classify(exc) == MALFORMED:
                    state.malformed_files += 1
                continue
        if proc.owner_uid not in users:
            users[proc.owner_uid] = _user_name(proc.owner_uid)
        proc.user = users[proc.owner_uid]


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError, TypeError):
        return None


def find_initial(state):
    """The initial namespaces: those of kthreadd, else of the oldest readable process."""
    pid = procfs.initial_reference_pid(state.root)
    if pid in state.processes:
        state.initial_source = 'pid %d (%s)' % (pid, state.processes[pid].comm)
    elif state.processes:
        pid = min(state.processes.values(), key=lambda p: (p.starttime, p.pid)).pid
        state.initial_source = 'pid %d (oldest readable process)' % pid
    else:
        return
    state.initial = dict((t, i) for t, i in state.processes[pid].links.items() if t in state.types)


def build_process_table(state):
    if not state.process_table:
        return
    for pid, proc in state.processes.items():
        if state.table_pids is None or pid in state.table_pids:
            _read_details(state, proc, table=True)


def _read_details(state, proc, table):
    """Command line and UID (and, for the table, NSpid and cgroup); races are fine."""
    root = state.root
    try:
        if proc.cmdline is None:
            proc.cmdline = procfs.read_cmdline(root, proc.pid)
        if not table:
            proc.uid = procfs.read_real_uid(root, proc.pid)
            return
        status = procfs.read_status(root, proc.pid)
        proc.uid = status.uids[0] if status.uids else None
        proc.nspid = status.nspid
        proc.cgroup = _cgroup_path(procfs.read_cgroup(root, proc.pid))
    except (OSError, ProcParseError) as exc:
        if classify(exc) == MALFORMED:
            state.malformed_files += 1


def _cgroup_path(entries):
    """One path per process, as lxkns picks it: the v1 cpu controller's, else the v1
    freezer's, else the v2 one, else name=systemd, else the first line's."""
    for controller in ('cpu', 'freezer'):
        for entry in entries:
            if controller in entry.controllers:
                return entry.path
    unified = procfs.unified_cgroup_path(entries)
    if unified is not None:
        return unified
    for entry in entries:
        if 'name=systemd' in entry.controllers:
            return entry.path
    return entries[0].path if entries else None


def add_warnings(state):
    denied = state.skipped[DENIED]
    if denied and procfs.own_cap_eff() >> CAP_SYS_PTRACE & 1:
        state.warnings.append(
            '%d processes could not be read even with CAP_SYS_PTRACE (not dumpable, another user '
            'namespace or a security module) and were skipped' % denied)
    elif denied:
        state.warnings.append(
            '%d processes could not be read (permission denied) and were skipped; the picture is '
            'partial and may show several roots. Run with become: true (CAP_SYS_PTRACE) to see all.' % denied)
    if state.skipped[MALFORMED] or state.malformed_files:
        state.warnings.append(
            '%d processes and %d entries had malformed /proc data and were skipped'
            % (state.skipped[MALFORMED], state.malformed_files))
    if state.unsearched_mounts:
        state.warnings.append(
            '%d mount namespaces could not be searched for nsfs bind mounts: %s' % (
                len(state.unsearched_mounts),
                '; '.join('%s: %s' % item for item in sorted(state.unsearched_mounts.items()))))
    if state.skipped[OTHER]:
        state.warnings.append('%d processes failed to read for other reasons and were skipped' % state.skipped[OTHER])


STEPS = (
    ('processes', scan_processes),
    ('tasks', scan_tasks),
    ('fds', scan_fds),
    ('bind_mounts', scan_bind_mounts),
    ('mounts', scan_mounts),
    ('hierarchy', resolve_hierarchy),
    ('leaders', pick_leaders),
    ('lowest', describe_lowest),
    ('initial', find_initial),
    ('process_table', build_process_table),
    ('warnings', add_warnings),
)

# Steps that run only when their source is asked for ('fds' also serves 'sockets').
_OPTIONAL = {'tasks': ('tasks',), 'fds': ('fds', 'sockets'), 'bind_mounts': ('bind_mounts',)}


def discover(proc_root='/proc', sources=DEFAULT_SOURCES, process_table=False, pids=None, types=NS_TYPES,
             mount_tables=False, command_lines=False):
    """Run the pipeline; returns the ``ansible_facts.namespaces`` dict.

    ``types`` limits the namespace types reported (like ``lsns -t``); fewer types mean
    fewer links read per process. ``mount_tables`` adds ``mounts``: the mount table of
    every mount namespace (needs the mnt type).
    """
    return _run(Discovery(proc_root, sources, process_table, pids, types, mount_tables=mount_tables,
                          command_lines=command_lines))


def discover_with_fd_links(proc_root, sources, types, fd_links):
    """discover() that also returns what the same pass read of every process's fds: the
    links starting with ``fd_links`` as ``(facts, fd_refs, fd_unreadable)``, with
    ``fd_refs`` as ``[(pid, [(fd, link text)])]``."""
    state = Discovery(proc_root, sources, types=types, fd_links=fd_links)
    facts = _run(state)
    return facts, state.found.fd_refs, state.found.fd_unreadable


def _run(state):
    started = time.monotonic()
    check_proc_root(state)
    for name, step in STEPS:
        wanted = _OPTIONAL.get(name)
        if wanted and not any(s in state.sources for s in wanted):
            continue
        if name == 'mounts' and not state.asked_mounts:
            continue
        step(state)
    if state.found is not None:
        # The steps are done: what the pass read for them goes before the facts are built
        # (the peak memory of a large host); fd_refs stay for discover_with_fd_links.
        state.found.release()
    facts = to_facts(state, time.monotonic() - started)
    # parent/children and owner links make cycles: without cutting them the whole model
    # would wait for the cyclic collector, and stay in memory while the result is sent.
    for ns in state.namespaces.values():
        ns.parent = ns.owner = None
        ns.children = ()
    return facts


def _self_namespaces():
    return dict((nstype, inode) for nstype, (dev, inode) in procfs.own_namespaces().items())


def to_facts(state, duration):
    cap_eff = procfs.own_cap_eff()
    own = _self_namespaces()
    initial_cgroup = state.initial.get('cgroup')
    # A mount namespace read only to find bind mounts, or an owner found by climbing,
    # is left out when its type was not asked for.
    ordered = sorted((ns for ns in state.namespaces.values() if ns.type in state.types),
                     key=lambda n: (n.type, n.inode))
    devices = collections.Counter(ns.dev for ns in ordered if ns.dev is not None)
    nsfs_dev = devices.most_common(1)[0][0] if devices else None
    initial_user = initial_user_ref(state.initial)
    pids = {}
    users = {}
    for pid in sorted(set(min(ns.pids) for ns in ordered if ns.pids)):
        proc = state.processes[pid]
        pids[str(pid)] = proc.lowest_facts(state.command_lines)
        if proc.user is not None:
            users[proc.owner_uid] = proc.user
    facts = {
        'discovery': {
            'schema_version': SCHEMA_VERSION,
            'nsfs_dev': nsfs_dev,
            'proc_root': state.root.path,
            'procfs': state.is_procfs,
            'kernel': os.uname().release,
            'capabilities': {
                'effective': '%016x' % cap_eff,
                'sys_admin': bool(cap_eff >> CAP_SYS_ADMIN & 1),
                'sys_ptrace': bool(cap_eff >> CAP_SYS_PTRACE & 1),
            },
            # Only meaningful when proc_root is a live procfs of this kernel.
            'initial_cgroup_namespace': (own.get('cgroup') == initial_cgroup)
            if state.is_procfs and initial_cgroup and own else None,
            'initial_source': state.initial_source,
            'sources': ['processes'] + list(state.sources),
            'types': list(state.types),
            'processes_scanned': len(state.processes),
            'skipped': dict(state.skipped),
            'malformed_entries': state.malformed_files,
            'warnings': list(state.warnings),
            'duration': round(duration, 4),
        },
        'initial': dict(state.initial),
        'self': own,
        'namespaces': dict((ns.ref, ns.to_facts(nsfs_dev, initial_user)) for ns in ordered),
        'pids': pids,
        'users': dict((str(uid), user) for uid, user in sorted(users.items())),
        'roots': dict((t, sorted(ns.ref for ns in ordered if ns.type == t and ns.parent is None))
                      for t in HIERARCHICAL_TYPES),
    }
    if state.mount_tables is not None:
        facts['mounts'] = mounts.to_facts(state.mount_tables)
    if state.process_table:
        facts['processes'] = [proc.to_facts(state.types) for pid, proc in sorted(state.processes.items())
                              if state.table_pids is None or pid in state.table_pids]
    return facts


# ---------------------------------------------------------------------------- module glue

class Request:
    """What namespace_facts is asked: the proc root, the sources and types, the process table."""

    def __init__(self, proc_root='/proc', sources=DEFAULT_SOURCES, types=NS_TYPES, processes=False, pids=None,
                 mounts=False, command_lines=False):
        self.mounts = mounts
        self.command_lines = command_lines
        self.proc_root = proc_root
        self.sources = sources
        self.types = types
        self.processes = processes
        self.pids = pids

    @classmethod
    def from_params(cls, params, check_mode=False):
        """The request of the module options; DiscoveryError naming every PID that is none.

        Discovery only reads, so check mode asks for the same facts.
        """
        pids = check_pids(params['pids'], error=DiscoveryError)
        return cls(params['proc_root'], params['sources'], params['types'], params['processes'], pids,
                   mounts=params.get('mounts', False), command_lines=params.get('command_lines', False))


def run(request):
    """The namespace_facts result: the facts, and their discovery warnings for the module to show."""
    facts = discover(proc_root=request.proc_root, sources=request.sources, process_table=request.processes,
                     pids=request.pids, types=request.types, mount_tables=request.mounts,
                     command_lines=request.command_lines)
    return {'changed': False, 'ansible_facts': {'namespaces': facts}, 'warnings': list(facts['discovery']['warnings'])}
