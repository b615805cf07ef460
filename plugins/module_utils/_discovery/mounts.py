# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""What is mounted where: the mount table of every mount namespace (option ``mounts``)
and which of its mount points are hidden, as lxkns's ``mounts`` package computes it.

The mount table of a namespace comes, in this order, from the mountinfo the process pass
read (the lowest PID of the namespace), from another member process, from a thread that
is in it while its process is not (``/proc/PID/task/TID/mountinfo``), and for a namespace
no task is in (bind-mounted, held by an fd) from a child that joins it (as lxkns's
mountineer does; needs CAP_SYS_ADMIN). Paths are relative to the root of the process
they were read through, as the kernel writes them.

Visibility (lxkns ``mounts.NewMountPathMap``/``determineVisibility``): the mounts form a
tree by mount and parent ID; the children of each mount are ordered by the length of
their mount path (stable). A mount whose first child has its own path is overmounted in
place: it is hidden, and so is every other child subtree of it. Otherwise a child whose
path lies below a sibling's path (``sibling + '/'`` prefix) is hidden with its subtree:
the sibling was mounted over the place it lives in. Hidden subtrees are not looked into
further; visible children are, recursively.
"""


from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import syscalls
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcParseError


def hidden_mount_ids(mounts):
    """The mount IDs of ``mounts`` (MountInfo, in mountinfo order) that are hidden by an
    overmount, in place or higher up the path, as lxkns computes it."""
    by_id = {}
    for mount in mounts:
        by_id.setdefault(mount.mount_id, mount)
    children = dict((mount_id, []) for mount_id in by_id)
    roots = []
    for mount in by_id.values():
        if mount.parent_id in by_id and mount.parent_id != mount.mount_id:
            children[mount.parent_id].append(mount)
        else:
            roots.append(mount)  # the namespace root: its parent is outside the table
    for kids in children.values():
        kids.sort(key=lambda m: len(m.mount_point))  # stable: table order among equals
    hidden = set()
    # lxkns starts from the first mount at "/"; a table read through a chrooted process
    # may have none, so every mount whose parent is not in the table is a start.
    roots.sort(key=lambda m: m.mount_point != '/')
    pending = list(reversed(roots))
    seen = set()
    while pending:
        mount = pending.pop()
        if mount.mount_id in seen:
            continue  # a parent cycle: the kernel never writes one, a fixture might
        seen.add(mount.mount_id)
        kids = children[mount.mount_id]
        if not kids:
            continue
        if kids[0].mount_point == mount.mount_point:
            # Overmounted in place: this mount and all its other children are hidden.
            hidden.add(mount.mount_id)
            for kid in kids[1:]:
                _hide_subtree(kid, children, hidden)
            pending.append(kids[0])
            continue
        for index, kid in enumerate(kids):
            prefix = kid.mount_point + '/'  # as lxkns: a child at "/" hides no sibling
            for later in kids[index + 1:]:
                if later.mount_point.startswith(prefix) and later.mount_id not in hidden:
                    _hide_subtree(later, children, hidden)
        pending.extend(kid for kid in reversed(kids) if kid.mount_id not in hidden)
    return hidden


def _hide_subtree(mount, children, hidden):
    stack = [mount]
    while stack:
        mount = stack.pop()
        if mount.mount_id in hidden:
            continue
        hidden.add(mount.mount_id)
        stack.extend(children.get(mount.mount_id, ()))


def mount_facts(mounts):
    """The facts records of one mount table, in mountinfo order, with ``hidden``."""
    hidden = hidden_mount_ids(mounts)
    records = []
    for mount in mounts:
        propagation = mount.propagation
        records.append({
            'mount_id': mount.mount_id,
            'parent_id': mount.parent_id,
            'dev': '%d:%d' % (mount.major, mount.minor),
            'root': mount.root,
            'mount_point': mount.mount_point,
            'fstype': mount.fstype,
            'source': mount.source,
            'options': list(mount.options),
            'super_options': list(mount.super_options),
            'optional': list(mount.optional),
            'propagation': propagation['mode'],
            'peer_group': propagation['shared'],
            'master': propagation['master'],
            'propagate_from': propagation['propagate_from'],
            'hidden': mount.mount_id in hidden,
        })
    return records


# ---------------------------------------------------------------------------- the step

class MountTables:
    """What the step found: ``tables`` (mnt ref -> facts dict) and how many namespaces'
    tables could not be read (``unreadable``, refs with a reason)."""

    def __init__(self):
        self.tables = {}
        self.unreadable = {}


def scan(state, open_namespace):
    """Read and describe the mount table of every mount namespace found so far.

    ``open_namespace(state, ns)`` returns an fd on a namespace from its references, or
    None (the pipeline's helper). Sets ``state.mount_tables``.
    """
    found = MountTables()
    state.mount_tables = found
    if 'mnt' not in state.types:
        state.warnings.append('mounts: true needs the mnt type in types: no mount tables were read')
        return
    for (nstype, inode), ns in sorted(state.namespaces.items()):
        if nstype != 'mnt':
            continue
        try:
            text, reader, via = table_text(state, ns, open_namespace)
        except MountTableError as exc:
            found.unreadable[ns.ref] = str(exc)
            continue
        errors = []
        mounts = procfs.parse_mountinfo(text, errors)
        state.malformed_files += len(errors)
        found.tables[ns.ref] = {'pid': reader, 'via': via, 'mounts': mount_facts(mounts)}
    if found.unreadable:
        state.warnings.append(
            'the mount tables of %d mount namespaces could not be read and are missing from mounts: %s'
            % (len(found.unreadable), '; '.join('%s: %s' % item for item in sorted(found.unreadable.items()))))


class MountTableError(Exception):
    """No reference of a mount namespace gave its mount table."""


def table_text(state, ns, open_namespace):
    """``(mountinfo text, reader pid or None, via)`` of the mount namespace ``ns``: read
    by the process pass, through a member process or thread, or by a child that joins
    it. Read once per discovery (the bind-mount step and this one share it);
    MountTableError when no reference works."""
    cache = state.mount_texts
    if ns.inode not in cache:
        try:
            cache[ns.inode] = _read_table(state, ns, open_namespace)
        except MountTableError as exc:
            cache[ns.inode] = exc
    found = cache[ns.inode]
    if isinstance(found, MountTableError):
        raise found
    return found


def _read_table(state, ns, open_namespace):
    root = state.root
    found = state.found
    text = found.mountinfo.get(ns.inode) if found is not None else None
    if text is not None:
        return text, found.mount_reader(ns.inode), 'process'
    for pid in sorted(ns.pids):
        try:
            return root.read_text(str(pid), 'mountinfo'), pid, 'process'
        except OSError:
            continue  # exited: the next member
    for pid, tid in sorted(ns.loose_threads):
        try:
            return root.read_text(str(pid), 'task', str(tid), 'mountinfo'), pid, 'thread %d' % tid
        except OSError:
            continue
    if not state.is_procfs:
        raise MountTableError('no process is in it and %s is no live procfs to join it through' % root.path)
    fd = open_namespace(state, ns)
    if fd is None:
        raise MountTableError('no process is in it and none of its references (fds, bind mounts) could be opened')
    # Imported here: joining a namespace is the rare case, and each task compiles what it imports.
    from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import enter  # pylint: disable=import-outside-toplevel
    try:
        return enter.mountinfo_in_namespace(fd, root.path), None, 'setns'
    except (enter.EnterError, OSError, ProcParseError) as exc:
        raise MountTableError('joining it to read its mount table failed: %s' % exc)
    finally:
        syscalls.close_quietly(fd)


def to_facts(mount_tables):
    """The ``mounts`` facts: mnt ref -> {pid, via, mounts}."""
    return dict(sorted(mount_tables.tables.items()))
