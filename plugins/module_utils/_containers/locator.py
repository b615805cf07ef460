# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Locate containers from the cgroup file system and /proc: the engine of container_info.

The lookup never asks a container engine and never scans every process:

1. walk the directories of every mounted cgroup hierarchy and keep those whose name
   follows a runtime's convention (:func:`._cgroups.walk_containers`);
2. filter them by the selector (ID or prefix, name, pod UID, runtime, a host PID's own
   ``/proc/PID/cgroup``);
3. read ``cgroup.procs`` of each chosen directory recursively, then each PID's
   ``stat``, ``status`` (NSpid), ``cmdline``, ``cgroup`` and namespace links;
4. check each PID's own cgroup against the container's (``verified``) and compare
   namespaces with the host's and with the other containers' (pod sandboxes).

Processes that exit and files that cannot be read on the way are reported in the
result, never raised: the host keeps changing while we look.
"""


import os
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.cgroups import (
    CONTAINER,
    MONITOR,
    identify,
    paths_by_hierarchy,
    read_hierarchies,
    read_procs,
    read_procs_tree,
    walk_containers,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import (
    ID_PREFIX_RE,
    ContainerError,
    ContainerLookupError,
    Selector,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    DENIED,
    NS_TYPES,
    VANISHED,
    ProcParseError,
    ProcRoot,
    classify,
    initial_reference_pid,
    read_ns_inode,
    read_cgroup,
    read_cmdline,
    read_ns_links,
    read_stat,
    read_status,
)


# ---------------------------------------------------------------------------- the walk

class _Found:
    """One container as found by the walk: its identity and a directory per hierarchy."""

    def __init__(self, identity):
        self.identity = identity
        self.dirs = {}           # hierarchy name -> directory
        self.monitor = None      # identity of its conmon / LXC monitor
        self.monitor_dirs = {}

    @property
    def key(self):
        return self.identity.key

    @property
    def label(self):
        return self.identity.id or self.identity.name

    def add(self, hierarchy, directory, identity):
        if identity.role == MONITOR:
            self.monitor = self.monitor or identity
            self.monitor_dirs.setdefault(hierarchy.name, directory)
        else:
            if self.identity.role == MONITOR:
                self.identity = identity
            self.dirs.setdefault(hierarchy.name, directory)


def _primary(names, hierarchies):
    """The hierarchy whose path a container reports first: v2, else the first v1 mount."""
    ordered = sorted(hierarchies, key=lambda h: h.version != 2)
    for hierarchy in ordered:
        if hierarchy.name in names:
            return hierarchy
    return None


# ---------------------------------------------------------------------------- the locator

class ContainerLocator:
    """Find containers below a proc root and its cgroup mounts.

    ``mount_prefix`` is put in front of the cgroup mount points read from mountinfo;
    by default it is empty for ``/proc`` and the parent of any other proc root (a
    host's ``/host/proc`` -> ``/host/sys/fs/cgroup/...``).
    """

    def __init__(self, proc_root='/proc', mount_prefix=None, join_initial_cgroup_namespace=False):
        self.root = ProcRoot(proc_root)
        if mount_prefix is None:
            mount_prefix = '' if self.root.path == '/proc' else os.path.dirname(self.root.path)
        self.mount_prefix = mount_prefix
        self.join_initial_cgroup_namespace = join_initial_cgroup_namespace
        self.hierarchies = []
        self.container_dirs = {}   # hierarchy name -> every container and monitor directory in it
        self.notes = []
        self.problems = []
        self.last_found = {}

    # -- entry point --------------------------------------------------------

    def locate(self, selector):
        started = time.time()
        cgroup_namespace = self._cgroup_namespace()
        self.hierarchies = read_hierarchies(self.root, self.mount_prefix)
        if not self.hierarchies:
            self.notes.append('no cgroup file system is mounted in the mount namespace of the module: '
                              'no container can be found')
        found = self._walk()
        self.last_found = found
        host_ns = self._host_namespaces()

        host_pid = None
        if selector.pid is not None and selector.pid_namespace_of is not None:
            chosen, host_pid = self._translate(found, selector)
        elif selector.pid is not None:
            chosen = self._by_host_pid(found, selector.pid)
        else:
            chosen = self._filter(found, selector)

        records = [self._record(item) for item in chosen]
        self._shared(records, found, host_ns)
        result = {
            'containers': records,
            'cgroup_namespace': cgroup_namespace,
            'hierarchies': [hierarchy.as_dict() for hierarchy in self.hierarchies],
            'notes': self.notes + ['%s: %s' % problem for problem in self.problems],
            'duration': round(time.time() - started, 6),
        }
        if selector.pid_namespace_of is not None:
            result['host_pid'] = host_pid
        return result

    # -- cgroup namespace ---------------------------------------------------

    def _cgroup_namespace(self):
        """Are cgroup paths absolute? If not and allowed, join the initial cgroup namespace."""
        info = {'initial': None, 'inode': None, 'initial_inode': None, 'joined_initial': False}
        try:
            info['inode'] = read_ns_inode(self.root, 'self', 'cgroup')
        except (OSError, ProcParseError):
            self.notes.append('cannot read the cgroup namespace of the module process: cgroup paths are '
                              'as the module sees them')
            return info
        reference = initial_reference_pid(self.root)
        if reference is not None:
            try:
                info['initial_inode'] = read_ns_inode(self.root, reference, 'cgroup')
            except (OSError, ProcParseError):
                info['initial_inode'] = None
        if info['initial_inode'] is None:
            self.notes.append('the initial cgroup namespace is not visible (no kthreadd in %s): cgroup paths '
                              'are relative to the cgroup namespace of the module (cgroup:[%s]) and may be '
                              'shorter than on the host' % (self.root.path, info['inode']))
            return info
        if info['initial_inode'] == info['inode']:
            info['initial'] = True
            return info
        info['initial'] = False
        if self.join_initial_cgroup_namespace and self.root.path == '/proc':
            joined, error = _join_cgroup_namespace(self.root.pid_path(reference, 'ns', 'cgroup'))
            if joined:
                info['joined_initial'] = True
                self.notes.append('the module ran in cgroup namespace cgroup:[%s] and joined the initial one '
                                  'cgroup:[%s]: cgroup paths are as on the host'
                                  % (info['inode'], info['initial_inode']))
                return info
            self.notes.append('the module runs in cgroup namespace cgroup:[%s], not the initial '
                              'cgroup:[%s], and could not join it (%s; needs CAP_SYS_ADMIN): cgroup paths '
                              'are relative to the module\'s cgroup namespace'
                              % (info['inode'], info['initial_inode'], error))
        else:
            self.notes.append('the module runs in cgroup namespace cgroup:[%s], not the initial cgroup:[%s]: '
                              'cgroup paths are relative to the module\'s cgroup namespace'
                              % (info['inode'], info['initial_inode']))
        return info

    # -- walking ------------------------------------------------------------

    def _walk(self):
        """``{key: _Found}`` for every container cgroup in every hierarchy."""
        found = {}
        problems = []
        self.container_dirs = dict((hierarchy.name, set()) for hierarchy in self.hierarchies)
        for hierarchy in self.hierarchies:
            for directory, identity in walk_containers(hierarchy, problems):
                item = found.get(identity.key)
                if item is None:
                    item = found[identity.key] = _Found(identity)
                item.add(hierarchy, directory, identity)
                self.container_dirs[hierarchy.name].add(directory)
        self.problems.extend(problems)
        return found

    # -- selecting ----------------------------------------------------------

    def _filter(self, found, selector):
        items = [item for item in found.values() if item.identity.role == CONTAINER]
        if selector.runtime is not None:
            items = [item for item in items if item.identity.runtime == selector.runtime]
        if selector.pod_uid is not None:
            items = [item for item in items if item.identity.pod_uid == selector.pod_uid]
        if selector.name is not None:
            items = [item for item in items if item.identity.name == selector.name]
        if selector.id is not None:
            items = [item for item in items if item.identity.id and item.identity.id.startswith(selector.id)]
            if len(items) > 1 and len(selector.id) < 64:
                raise _ambiguous('id', selector.id, items)
        if not items and selector_text(selector):
            self.notes.append(no_match_hint(selector, found))
        return sorted(items, key=_sort_key)

    def _by_host_pid(self, found, pid):
        try:
            entries = read_cgroup(self.root, pid)
        except (OSError, ProcParseError) as exc:
            reason = classify(exc)
            if reason == VANISHED:
                raise ContainerLookupError('no process with PID %d on this host (it may have exited); check the '
                                           'PID with `ps -p %d`' % (pid, pid))
            raise ContainerLookupError('cannot read /proc/%d/cgroup (%s): run the module as root' % (pid, reason))
        identities = [identify(entry.path) for entry in entries]
        # A monitor cgroup (LXC monitor, nspawn supervisor) in one hierarchy beats the container's in another.
        monitor_keys = [identity.key for identity in identities if identity is not None and identity.role == MONITOR]
        keys = monitor_keys or [identity.key for identity in identities if identity is not None]
        if not keys:
            item = self._monitored_by(found, pid)
            if item is not None:
                return [item]
            self.notes.append('PID %d is in no container cgroup: its cgroup paths (%s) match no known runtime '
                              'layout' % (pid, ', '.join(sorted(set(entry.path for entry in entries)))))
            return []
        key = max(set(keys), key=keys.count)
        if len(set(keys)) > 1:
            self.notes.append('PID %d is in cgroups of different containers in different hierarchies; '
                              'using %s %s, named by most of them' % (pid, key[0], key[1]))
        item = found.get(key)
        if item is None:
            # The walk could not reach it (a hierarchy mounted elsewhere): use the PID's own paths.
            item = self._found_from_entries(entries, key)
        if item is not None and monitor_keys:
            self.notes.append('PID %d is the monitor of %s container %s (its %s), not one of its processes'
                              % (pid, key[0], key[1], _MONITOR_NAMES.get(key[0], 'monitor')))
        return [item] if item is not None else []

    def _monitored_by(self, found, pid):
        """The container whose init PID ``pid`` is the parent of (a shim or conmon outside its cgroups)."""
        for item in sorted(found.values(), key=_sort_key):
            if item.identity.role != CONTAINER:
                continue
            for directory in item.dirs.values():
                try:
                    members = read_procs(directory)
                except (OSError, ProcParseError):
                    continue
                for member in members[:1]:
                    try:
                        parent = read_stat(self.root, member).ppid
                        monitor = parent == pid and _is_monitor_command(read_stat(self.root, pid).comm)
                    except (OSError, ProcParseError):
                        continue
                    if monitor:
                        self.notes.append('PID %d is the monitor of %s container %s (its %s, the parent of its '
                                          'init), not one of its processes'
                                          % (pid, item.identity.runtime, item.label,
                                             _MONITOR_NAMES.get(item.identity.runtime, 'monitor')))
                        return item
                break
        return None

    def _found_from_entries(self, entries, key):
        item = None
        for hierarchy in self.hierarchies:
            for entry in entries:
                if not hierarchy.matches(entry):
                    continue
                identity = identify(entry.path)
                if identity is None or identity.key != key:
                    continue
                directory = hierarchy.directory(identity.cgroup)
                if directory is None or not os.path.isdir(directory):
                    continue
                if item is None:
                    item = _Found(identity)
                item.add(hierarchy, directory, identity)
        return item

    def _translate(self, found, selector):
        """PID as seen in a container's PID namespace -> (container, host PID)."""
        wanted = selector.pid_namespace_of
        items = [item for item in found.values() if item.identity.role == CONTAINER]
        if ID_PREFIX_RE.match(wanted.lower()):
            by_id = [item for item in items if item.identity.id and item.identity.id.startswith(wanted.lower())]
            if len(by_id) > 1 and len(wanted) < 64:
                raise _ambiguous('pid_namespace_of', wanted, by_id)
            by_name = [item for item in items if item.identity.name == wanted]
            matches = by_id or by_name
        else:
            matches = [item for item in items if item.identity.name == wanted]
        if not matches:
            self.notes.append('no container %s on this host' % wanted)
            return [], None
        if len(matches) > 1:
            raise _ambiguous('pid_namespace_of', wanted, matches)
        item = matches[0]
        record = self._record(item)
        ns_inode = record['namespaces'].get('pid')
        init = [process for process in record['processes'] if process['pid'] == record['init_pid']]
        # Inner PIDs count at the depth of the container's own PID namespace in NSpid.
        level = len(init[0]['nspid']) - 1 if init else None
        # With a shared PID namespace (a pod's shareProcessNamespace, `docker run --pid container:A`)
        # the process may be in another container: any container whose PID namespace is this one.
        candidates = [item] + [other for other in sorted(items, key=_sort_key) if other is not item and ns_inode
                               and (self._representative_namespaces(other) or {}).get('pid') == ns_inode]
        seen_inner = []
        for candidate in candidates:
            candidate_record = record if candidate is item else self._record(candidate)
            if candidate_record['namespaces'].get('pid') != ns_inode:
                continue
            for process in candidate_record['processes']:
                inner = _pid_at_level(process['nspid'], level)
                if inner is None:
                    continue
                seen_inner.append(inner)
                if inner == selector.pid:
                    return [candidate], process['pid']
        raise ContainerLookupError(
            'no process with PID %d in the PID namespace of container %s; PIDs there: %s'
            % (selector.pid, item.label, ', '.join(str(p) for p in sorted(set(seen_inner))) or 'none'),
            container=item.label)

    # -- one container ------------------------------------------------------

    def _record(self, item):
        identity = item.identity
        record = dict((key, value) for key, value in identity.as_dict().items() if key not in ('role', 'cgroup'))
        problems = []
        monitor_processes = self._processes(item, item.monitor_dirs, problems)[0] if item.monitor else []
        monitor_pids = set(process['pid'] for process in monitor_processes)
        processes, vanished = self._processes(item, item.dirs, problems, exclude=monitor_pids)
        primary = _primary(item.dirs, self.hierarchies)
        record['cgroup'] = primary.cgroup_path(item.dirs[primary.name]) if primary else identity.cgroup
        record['cgroups'] = self._cgroup_paths(item.dirs)
        record['processes'] = processes
        record['pids'] = [process['pid'] for process in processes]
        record['vanished_pids'] = sorted(vanished)

        init = _init_process(processes)
        record['init_pid'] = init['pid'] if init else None
        record['namespaces'] = {}
        if init is not None:
            try:
                links = read_ns_links(self.root, init['pid'], names=NS_TYPES)
                record['namespaces'] = dict((name, links[name]) for name in NS_TYPES if name in links)
            except (OSError, ProcParseError) as exc:
                problems.append('namespaces of init PID %d: %s' % (init['pid'], classify(exc)))

        record['monitor'] = None
        if item.monitor is not None:
            mprimary = _primary(item.monitor_dirs, self.hierarchies)
            record['monitor'] = {
                'cgroup': mprimary.cgroup_path(item.monitor_dirs[mprimary.name]) if mprimary else None,
                'cgroups': self._cgroup_paths(item.monitor_dirs),
                'pids': [process['pid'] for process in monitor_processes],
                'processes': monitor_processes,
                'source': 'cgroup',
            }
        elif init is not None and init['ppid'] and init['ppid'] not in record['pids']:
            # No monitor cgroup (containerd-shim, conmon under cgroupfs): the parent of the init.
            parent = self._process(init['ppid'], item, {}, problems)
            if (parent is not None and parent['pid'] != 1 and not parent['cgroup_member']
                    and _is_monitor_command(parent['comm'])):
                parent.pop('cgroup_member', None)
                record['monitor'] = {
                    'cgroup': parent['cgroup'],
                    'cgroups': dict((h.name, path) for h, path in
                                    ((h, self._own_path(parent['pid'], h)) for h in self.hierarchies) if path),
                    'pids': [parent['pid']],
                    'processes': [parent],
                    'source': 'parent',
                }
        record['monitor_pid'] = None
        if record['monitor'] is not None and record['monitor']['pids']:
            pids = record['monitor']['pids']
            parent = init['ppid'] if init else None
            record['monitor_pid'] = parent if parent in pids else pids[0]
        for process in processes + monitor_processes:
            process.pop('cgroup_member', None)

        if not item.dirs:
            record['state'] = 'monitor_only'
            problems.append('only the monitor cgroup exists: the container is being created or has exited')
        elif not processes:
            record['state'] = 'empty'
            problems.append('cgroup.procs is empty: the container has no process (stopped, exited during '
                            'the lookup, or being created)')
        else:
            record['state'] = 'running'
        if vanished:
            problems.append('PIDs %s exited during the lookup' % ', '.join(str(p) for p in sorted(vanished)))
        record['verified'] = bool(processes) and all(process['verified'] for process in processes)
        record['problems'] = problems
        return record

    def _cgroup_paths(self, dirs):
        by_name = dict((h.name, h) for h in self.hierarchies)
        return dict((name, by_name[name].cgroup_path(directory)) for name, directory in dirs.items())

    def _own_path(self, pid, hierarchy):
        try:
            return paths_by_hierarchy(read_cgroup(self.root, pid), [hierarchy]).get(hierarchy.name)
        except (OSError, ProcParseError):
            return None

    def _processes(self, item, dirs, problems, exclude=()):
        """Read the PIDs below ``dirs`` and describe each: ``(processes, PIDs that exited)``.

        ``exclude`` are the monitor's PIDs: on v1 hierarchies where nspawn makes no
        ``supervisor`` cgroup, its supervisor shares the scope with the container.
        """
        pids = {}
        vanished = []
        read_problems = []
        for name, directory in dirs.items():
            # Nested containers (another runtime inside this one) keep their own PIDs.
            skip = self.container_dirs.get(name, set()) - set([directory])
            for pid, where in read_procs_tree(directory, skip, read_problems).items():
                pids.setdefault(pid, {})[name] = where
        for path, reason in read_problems:
            problems.append('%s: %s' % (path, reason))
        processes = []
        for pid in sorted(set(pids) - set(exclude)):
            process = self._process(pid, item, dirs, problems)
            if process is None:
                vanished.append(pid)
            else:
                processes.append(process)
        return processes, vanished

    def _process(self, pid, item, dirs, problems):
        try:
            stat = read_stat(self.root, pid)
            status = read_status(self.root, pid)
            cmdline = read_cmdline(self.root, pid)
            entries = read_cgroup(self.root, pid)
        except (OSError, ProcParseError) as exc:
            reason = classify(exc)
            if reason == VANISHED:
                return None
            problems.append('PID %d: %s' % (pid, reason if reason != DENIED else 'permission denied'))
            return {'pid': pid, 'inner_pid': None, 'nspid': [], 'ppid': None, 'comm': None, 'state': None,
                    'cmdline': [], 'starttime': None, 'cgroup': None, 'verified': False,
                    'mismatches': ['cannot read /proc/%d (%s)' % (pid, reason)], 'cgroup_member': False}
        if stat.state in ('Z', 'X'):
            problems.append('PID %d is a zombie (exited, not yet reaped)' % pid)
        own_paths = paths_by_hierarchy(entries, self.hierarchies)
        mismatches = self._verify(item, dirs, own_paths)
        primary = _primary(own_paths, self.hierarchies)
        nspid = status.nspid or [pid]
        return {
            'pid': pid,
            'inner_pid': nspid[-1],
            'nspid': nspid,
            'ppid': stat.ppid,
            'comm': stat.comm,
            'state': stat.state,
            'cmdline': cmdline,
            'starttime': stat.starttime,
            'cgroup': own_paths.get(primary.name) if primary else None,
            'verified': not mismatches,
            'mismatches': mismatches,
            # in a cgroup of this container (or its monitor's) in any hierarchy
            'cgroup_member': any(identity is not None and identity.key == item.key
                                 for identity in (identify(path) for path in own_paths.values())),
        }

    def _verify(self, item, dirs, own_paths):
        """Why a PID's own /proc/PID/cgroup disagrees with the container's cgroups (empty: it agrees)."""
        mismatches = []
        by_name = dict((h.name, h) for h in self.hierarchies)
        for name, directory in sorted(dirs.items()):
            expected = by_name[name].cgroup_path(directory)
            actual = own_paths.get(name)
            if actual is None:
                mismatches.append('%s: the process has no cgroup in this hierarchy' % name)
            elif actual != expected and not actual.startswith(expected.rstrip('/') + '/'):
                mismatches.append('%s: the process is in %s, not below %s' % (name, actual, expected))
            else:
                identity = identify(actual)
                if identity is None or identity.key != item.key:
                    mismatches.append('%s: %s belongs to another container' % (name, actual))
        # On v1 each controller has its own tree; cpuset decides where the process may run. systemd
        # makes no cpuset cgroups on v1 (nspawn machines, the systemd driver): there the process stays
        # in the hierarchy's root, and only another container's cpuset disagrees.
        cpuset = by_name.get('cpuset')
        if cpuset is not None and 'cpuset' not in dirs and 'cpuset' in own_paths:
            identity = identify(own_paths['cpuset'])
            if identity is not None and identity.key != item.key:
                mismatches.append('cpuset: the process is in %s, the cpuset of another container'
                                  % own_paths['cpuset'])
            elif identity is None and item.identity.cgroup_driver != 'systemd':
                mismatches.append('cpuset: the process is in %s, outside the container' % own_paths['cpuset'])
        return mismatches

    # -- namespaces shared with the host and other containers ----------------

    def _host_namespaces(self):
        reference = initial_reference_pid(self.root)
        if reference is None:
            self.notes.append('no process of the initial namespaces is readable: sharing with the host is '
                              'not reported')
            return None
        try:
            return read_ns_links(self.root, reference, names=NS_TYPES)
        except (OSError, ProcParseError) as exc:
            self.notes.append('namespaces of PID %d (the host reference): %s' % (reference, classify(exc)))
            return None

    def _shared(self, records, found, host_ns):
        """Fill ``shared_with_host`` and ``shared_with_containers`` of each record."""
        by_label = dict((record['id'] or record['name'], record) for record in records)
        others = {}
        for item in found.values():
            if item.identity.role != CONTAINER:
                continue
            record = by_label.get(item.label)
            if record is not None:
                others[item.label] = record['namespaces']
                continue
            namespaces = self._representative_namespaces(item)
            if namespaces:
                others[item.label] = namespaces
        for record in records:
            label = record['id'] or record['name']
            namespaces = record['namespaces']
            if host_ns is None:
                record['shared_with_host'] = None
            else:
                record['shared_with_host'] = sorted(t for t, inode in namespaces.items() if host_ns.get(t) == inode)
            shared = {}
            for nstype, inode in sorted(namespaces.items()):
                if host_ns is not None and host_ns.get(nstype) == inode:
                    continue  # everybody shares the host's; only container-made namespaces are telling
                peers = sorted(other for other, their in others.items()
                               if other != label and their.get(nstype) == inode)
                if peers:
                    shared[nstype] = peers
            record['shared_with_containers'] = shared

    def _representative_namespaces(self, item):
        """Namespaces of one process of a container we were not asked about (cheap: no recursion first)."""
        for directory in item.dirs.values():
            try:
                pids = read_procs(directory) or sorted(read_procs_tree(directory))
            except (OSError, ProcParseError):
                continue
            for pid in pids:
                try:
                    return read_ns_links(self.root, pid, names=NS_TYPES)
                except (OSError, ProcParseError):
                    continue
        return None


def _join_cgroup_namespace(path):
    """setns() into the cgroup namespace at ``path``; (joined, error text)."""
    from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.syscalls import open_ns, setns
    try:
        fd = open_ns(path)
    except OSError as exc:
        return False, str(exc)
    try:
        setns(fd, 'cgroup')
    except OSError as exc:
        return False, str(exc)
    finally:
        os.close(fd)
    return True, None


def _pid_at_level(nspid, level):
    if level is None or len(nspid) <= level:
        return None
    return nspid[level]


def _init_process(processes):
    """The container's init: PID 1 of its own PID namespace, else its oldest top-level process."""
    readable = [p for p in processes if p['starttime'] is not None]
    ones = [p for p in readable if len(p['nspid']) > 1 and p['nspid'][-1] == 1]
    if ones:
        return min(ones, key=lambda p: (p['starttime'], p['pid']))
    pids = set(p['pid'] for p in readable)
    top = [p for p in readable if p['ppid'] not in pids] or readable
    return min(top, key=lambda p: (p['starttime'], p['pid'])) if top else None


def _sort_key(item):
    identity = item.identity
    return (identity.runtime, identity.pod_uid or '', identity.id or '', identity.name or '')


def _ambiguous(option, value, items):
    candidates = sorted('%s (%s%s)' % (item.label, item.identity.runtime,
                                       ', pod %s' % item.identity.pod_uid if item.identity.pod_uid else '')
                        for item in items)
    return ContainerLookupError(
        '%s %r matches %d containers: %s; give more characters of the ID'
        % (option, value, len(items), '; '.join(candidates)),
        candidates=sorted(item.label for item in items))


# ---------------------------------------------------------------------------- lookups for other modules

def locate_selected(proc_root, container_id=None, pod_uid=None, name=None, runtime=None, everything=False):
    """The records of the containers that the container_id, pod_uid, name and runtime options select.

    namespace_exec and socket_info name containers by these options: a malformed one
    raises SelectorError, one that matches no container ContainerLookupError. With
    ``everything`` the result is ``(selected, every container on the host)`` from the
    same walk, for callers that attribute processes to containers.
    """
    selector = Selector.from_params({'id': container_id, 'pod_uid': pod_uid, 'name': name, 'runtime': runtime})
    locator = ContainerLocator(proc_root, join_initial_cgroup_namespace=False)
    result = locator.locate(selector if not everything else Selector())
    selected = result['containers']
    if everything:
        selected = [record for record in selected if _selected(record, selector)]
        if not selected:
            found = locator.last_found
            result['notes'].append(no_match_hint(selector, found))
    if not selected:
        raise ContainerLookupError('no container with %s on this host%s; list them with '
                                   'nsops.namespaces.container_info' % (
                                       selector_text(selector),
                                       (' (' + '; '.join(result['notes']) + ')') if result['notes'] else ''))
    if everything:
        if selector.id is not None and len(selector.id) < 64 and len(selected) > 1 and not (
                selector.pod_uid or selector.name or selector.runtime):
            raise ContainerLookupError(
                'id %r matches %d containers: %s; give more characters of the ID'
                % (selector.id, len(selected), '; '.join(sorted(r['id'] for r in selected))),
                candidates=sorted(r['id'] for r in selected))
        return selected, result['containers']
    return selected


def _selected(record, selector):
    return ((selector.runtime is None or record['runtime'] == selector.runtime)
            and (selector.pod_uid is None or record['pod_uid'] == selector.pod_uid)
            and (selector.name is None or record['name'] == selector.name)
            and (selector.id is None or bool(record['id'] and record['id'].startswith(selector.id))))


# Commands (/proc/PID/comm, 15 characters) of the monitors that run outside the container's cgroups.
_MONITOR_COMMANDS = ('containerd-shim', 'docker-containe', 'conmon')


def _is_monitor_command(comm):
    return bool(comm) and comm.startswith(_MONITOR_COMMANDS)


_MONITOR_NAMES = {
    'docker': 'containerd-shim',
    'containerd': 'containerd-shim',
    'cri': 'containerd-shim',
    'podman': 'conmon',
    'cri-o': 'conmon',
    'lxc': 'LXC monitor',
    'systemd-nspawn': 'systemd-nspawn supervisor',
}


def selector_text(selector):
    """The selector as a message names it: ``name web and runtime lxc``."""
    return ' and '.join('%s %s' % (option, value) for option, value in (
        ('container_id', selector.id), ('name', selector.name), ('pod_uid', selector.pod_uid),
        ('runtime', selector.runtime)) if value)


def no_match_hint(selector, found):
    """Why a selector may match no container: what was searched and what the cgroups can name."""
    containers = [item for item in found.values() if item.identity.role == CONTAINER]
    runtimes = sorted(set(item.identity.runtime for item in containers))
    hint = 'no container with %s among the %d containers in the cgroup tree (%s)' % (
        selector_text(selector), len(containers), ', '.join(runtimes) or 'no runtime')
    if selector.name is not None:
        hint += ('; only LXC, systemd-nspawn and containerd (ctr, default namespace) name cgroups after the '
                 'container: Docker, Podman, CRI-O and Kubernetes names are not part of cgroup paths, select '
                 'those by id (`docker inspect -f {{.Id}} %s`, `podman inspect -f {{.Id}} %s`)'
                 % (selector.name, selector.name))
    elif selector.id is not None:
        hint += ('; LXC, systemd-nspawn and named containerd containers have no ID in their cgroup: select '
                 'them by name')
    return hint


# ---------------------------------------------------------------------------- module glue

class Request:
    """What container_info is asked: the validated selector and the proc root to look below."""

    def __init__(self, selector, proc_root='/proc'):
        self.selector = selector
        self.proc_root = proc_root

    @classmethod
    def from_params(cls, params, check_mode=False):
        """The request of the module options; SelectorError when they are malformed.

        The lookup only reads, so check mode asks for the same answer.
        """
        return cls(Selector.from_params(params), params.get('proc_root') or '/proc')


def run(request):
    """The container_info result; ContainerError (or a subclass) when there is no answer."""
    root = ProcRoot(request.proc_root)
    if not root.is_proc_tree():
        raise ContainerError('proc_root %s is not a proc file system (no PID directories with a stat file): '
                             'point it at /proc or at a host\'s proc mounted elsewhere' % root.path)
    result = ContainerLocator(root.path, join_initial_cgroup_namespace=True).locate(request.selector)
    result.update(changed=False, warnings=[])
    return result
