# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Put an isolated process into a cgroup with memory, pids and cpu limits.

Works on cgroup v2, v1 and the hybrid layout (v1 controllers plus an empty cgroup2 at
``/sys/fs/cgroup/unified``): each limit goes to the hierarchy that offers its
controller, v2 first. The process joins the cgroup in the unified hierarchy and in the
v1 memory, pids and cpu hierarchies that are mounted, so ``/proc/PID/cgroup`` shows the
same path everywhere we manage.

A placement is a plain dict (it is stored in the state record)::

    {'path': 'nsops/web', 'directories': [...], 'created': [...], 'limits': {file: value}}
"""


import errno
import os
import re
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.cgroups import read_hierarchies, read_procs
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcParseError, ProcRoot

MANAGED_CONTROLLERS = ('memory', 'pids', 'cpu')

# limit option -> (controller, v2 file, v1 file)
LIMIT_FILES = {
    'memory_max': ('memory', 'memory.max', 'memory.limit_in_bytes'),
    'pids_max': ('pids', 'pids.max', 'pids.max'),
    'cpu_weight': ('cpu', 'cpu.weight', 'cpu.shares'),
}

# Matched with fullmatch: ``$`` alone would accept a trailing newline.
_SIZE_RE = re.compile(r'(?P<number>[0-9]{1,40})[ \t]*(?P<unit>[KMGT]?)(?:i?B)?', re.IGNORECASE)
_UNITS = {'': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
_COMPONENT_RE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.@:-]{0,254}')
# The kernel keeps limits as a page count in a signed long: larger values wrap or are cut
# (2**70 became nearly 0, 2**64 + 256M became 256M). 4 EiB is above any machine.
MEMORY_MAX_LIMIT = 1 << 62
PIDS_MAX_LIMIT = 4194304   # PID_MAX_LIMIT: pids.max refuses more


class CgroupError(Exception):
    """A cgroup cannot be prepared; the message names the fix."""


# ---------------------------------------------------------------------------- validation

def parse_memory_max(value):
    """``64M``, ``1G``, ``67108864`` or ``max`` -> bytes (int) or ``'max'`` (binary units)."""
    text = str(value).strip()
    if text.lower() == 'max':
        return 'max'
    match = _SIZE_RE.fullmatch(text) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not match or int(match.group('number')) == 0:
        raise CgroupError('memory_max %r is not a size: use bytes, a K/M/G/T suffix (64M) or "max"' % (value,))
    size = int(match.group('number')) * _UNITS[match.group('unit').upper()]
    if size > MEMORY_MAX_LIMIT:
        raise CgroupError('memory_max %r is more than the kernel can hold (%d bytes, 4 EiB): use "max" for no limit'
                          % (value, MEMORY_MAX_LIMIT))
    return size


def parse_pids_max(value):
    text = str(value).strip()
    if text.lower() == 'max':
        return 'max'
    if (isinstance(value, bool) or not (text.isascii() and text.isdigit()) or len(text) > 20
            or not 1 <= int(text) <= PIDS_MAX_LIMIT):
        raise CgroupError('pids_max %r must be a number of tasks from 1 to %d or "max"' % (value, PIDS_MAX_LIMIT))
    return int(text)


def check_cpu_weight(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10000:
        raise CgroupError('cpu_weight %r is out of range: use 1..10000 (100 is the kernel default)' % (value,))
    return value


def normalize_path(path):
    """``/nsops/web/`` -> ``nsops/web``; refuses ``..``, empty and odd components."""
    parts = [part for part in str(path).split('/') if part]
    if not parts or len(parts) > 16:
        raise CgroupError('cgroup %r names no cgroup: use a relative path like "nsops/web" (up to 16 levels)' % (path,))
    for part in parts:
        if part in ('.', '..') or not _COMPONENT_RE.fullmatch(part):
            raise CgroupError('cgroup %r has an invalid component %r: use letters, digits and _ . @ : - separated by /'
                              % (path, part))
    return '/'.join(parts)


def cpu_weight_to_shares(weight):
    """v2 cpu.weight -> v1 cpu.shares as systemd maps them (100 <-> 1024), clamped."""
    return max(2, min(262144, weight * 1024 // 100))


# ---------------------------------------------------------------------------- hierarchies

def cgroup_mounts(proc_root=None):
    """``(unified mount point or None, {controller: v1 mount point})`` of our mount table."""
    unified = None
    v1 = {}
    for hierarchy in read_hierarchies(proc_root or ProcRoot()):
        if hierarchy.version == 2:
            unified = unified or hierarchy.mount_point
            continue
        for controller in MANAGED_CONTROLLERS:
            if controller in hierarchy.controllers and controller not in v1:
                v1[controller] = hierarchy.mount_point
    return unified, v1


def _read_words(path):
    try:
        with open(path) as handle:
            return handle.read().split()
    except OSError:
        return []


def _write(path, value):
    with open(path, 'w') as handle:
        handle.write(str(value))


def _read_value(path):
    """A limit file's content, stripped; None when it cannot be read."""
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def plan(path, limits, proc_root=None):
    """Where the cgroup lives and which file gets each limit, without touching anything.

    ``limits`` maps limit options (LIMIT_FILES keys) to normalized values; None = unset.
    Returns ``(directories, writes, v2_enable)``: every cgroup directory to create and
    join, ``[(file, value)]`` to write, and ``[(v2 directory, controller)]`` to enable.
    """
    unified, v1 = cgroup_mounts(proc_root)
    v2_available = set(_read_words(os.path.join(unified, 'cgroup.controllers'))) if unified else set()
    hierarchies = [unified] if unified else []
    for controller in MANAGED_CONTROLLERS:
        mount = v1.get(controller)
        if mount and controller not in v2_available and mount not in hierarchies:
            hierarchies.append(mount)
    if not hierarchies:
        raise CgroupError('no cgroup hierarchy is mounted (looked for cgroup2 and v1 memory, pids, cpu in mountinfo)')
    directories = [os.path.join(mount, path) for mount in hierarchies]

    writes = []
    v2_enable = []
    for option in sorted(limits):
        value = limits[option]
        if value is None:
            continue
        controller, v2_file, v1_file = LIMIT_FILES[option]
        if controller in v2_available:
            parts = path.split('/')
            for depth in range(len(parts)):
                v2_enable.append((os.path.join(unified, *parts[:depth]), controller))
            writes.append((os.path.join(unified, path, v2_file), value))
        elif controller in v1:
            if option == 'cpu_weight':
                value = cpu_weight_to_shares(value)
            elif value == 'max':
                value = -1 if option == 'memory_max' else 'max'
            writes.append((os.path.join(v1[controller], path, v1_file), value))
        else:
            raise CgroupError('%s needs the %s controller, which no mounted cgroup hierarchy offers: '
                              'mount it or drop %s' % (option, controller, option))
    return directories, writes, v2_enable


def intended(path, limits, proc_root=None):
    """The placement :func:`prepare` is going to make, before anything is made: its
    ``created`` lists every directory that does not exist yet (an intent record keeps
    it, so a run killed while preparing leaves a list of what may need removing)."""
    directories = plan(path, limits, proc_root)[0]
    created = []
    for directory in directories:
        missing = []
        probe = directory
        while not os.path.isdir(probe):
            missing.append(probe)
            probe = os.path.dirname(probe)
        created.extend(reversed(missing))
    return {'path': path, 'directories': directories, 'created': created, 'limits': {}}


def prepare(path, limits, proc_root=None):
    """Create the cgroup in every managed hierarchy and write the limits.

    On failure everything created here is removed again before CgroupError is raised.
    """
    directories, writes, v2_enable = plan(path, limits, proc_root)
    created = []
    placement = {'path': path, 'directories': directories, 'created': created, 'limits': {}}
    try:
        for directory in directories:
            _make_dirs(directory, created)
        for directory, controller in v2_enable:
            if controller not in _read_words(os.path.join(directory, 'cgroup.subtree_control')):
                _write(os.path.join(directory, 'cgroup.subtree_control'), '+' + controller)
        for limit_file, value in writes:
            _write(limit_file, value)
            # What the kernel made of it (memory limits are rounded to pages): the value
            # drift checks compare with.
            placement['limits'][limit_file] = _read_value(limit_file) or str(value)
    except OSError as exc:
        remove(placement)
        raise CgroupError('preparing cgroup %s failed: %s: %s' % (path, exc.filename or '', exc.strerror))
    return placement


def _make_dirs(directory, created):
    missing = []
    probe = directory
    while not os.path.isdir(probe):
        missing.append(probe)
        probe = os.path.dirname(probe)
    for new in reversed(missing):
        os.mkdir(new)
        created.append(new)


# ---------------------------------------------------------------------------- drift

def limit_drift(placement):
    """``[(file, expected, current)]`` of the limits that no longer read as set
    (changed by hand; current None: the file is gone with its cgroup)."""
    drift = []
    for limit_file, expected in sorted(((placement or {}).get('limits') or {}).items()):
        current = _read_value(limit_file)
        if current != expected:
            drift.append((limit_file, expected, current))
    return drift


def membership_drift(placement, pid):
    """The cgroup directories of the placement whose ``cgroup.procs`` no longer lists
    the process (moved out by hand, or the cgroup removed)."""
    if not placement:
        return []
    return [directory for directory in placement.get('directories') or [] if not _holds(directory, pid)]


def _holds(directory, pid):
    try:
        return pid in read_procs(directory)
    except (OSError, ProcParseError):
        return False


def repair(placement, pid, limits, directories):
    """Write the expected values of ``limits`` (from :func:`limit_drift`) again and put
    the process back into ``directories``; returns ``[(what, before, after)]`` of what
    changed. A value the kernel reads back as it was (rounded alike) is no change."""
    changed = []
    try:
        for directory in directories:
            if not os.path.isdir(directory):
                os.makedirs(directory)
                placement.setdefault('created', []).append(directory)
            _write(os.path.join(directory, 'cgroup.procs'), pid)
            changed.append((os.path.join(directory, 'cgroup.procs'), 'without %d' % pid, 'with %d' % pid))
        for limit_file, expected, current in limits:
            _write(limit_file, expected)
            after = _read_value(limit_file)
            placement['limits'][limit_file] = after
            if after != current:
                changed.append((limit_file, current, after))
    except OSError as exc:
        raise CgroupError('repairing cgroup %s failed: %s: %s' % (placement['path'], exc.filename or '', exc.strerror))
    return changed


def procs_files(placement):
    """The ``cgroup.procs`` files a new process writes its PID into to join."""
    if not placement:
        return []
    return [os.path.join(directory, 'cgroup.procs') for directory in placement['directories']]


def remove(placement, timeout=2.0):
    """Remove the cgroup and the parents this placement created; returns warnings.

    Only directories the module created are removed: a cgroup that existed before
    (named in the declaration but made by someone else) stays. A cgroup stays busy for
    a moment after its last task died (the task is still being released), hence the
    retries; parents still used by others are kept.
    """
    if not placement:
        return []
    warnings = []
    created = set(placement.get('created') or [])
    suffix = '/' + placement.get('path', '')
    leaves = [d for d in placement.get('directories', []) if d.endswith(suffix) and len(d) > len(suffix)
              and d in created]
    parents = sorted((d for d in created
                      if d not in leaves and any(leaf.startswith(d + '/') for leaf in placement.get('directories', []))),
                     key=len, reverse=True)
    deadline = time.monotonic() + timeout
    for directory in leaves:
        while True:
            try:
                os.rmdir(directory)
                break
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    break
                if exc.errno == errno.EBUSY and time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                warnings.append('cgroup %s was not removed: %s' % (directory, exc.strerror))
                break
    for directory in parents:
        try:
            os.rmdir(directory)
        except OSError:
            pass  # still holds other cgroups: not ours to remove
    return warnings
