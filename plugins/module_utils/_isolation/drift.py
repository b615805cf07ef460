# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""What a running isolated process has lost since it was started, and putting it back.

The spec hash tells whether the declaration changed; this tells whether the live state
still matches it while the process runs: a cgroup limit written by hand, the process
moved out of its cgroup, a persisted namespace unmounted. Each is repaired in place,
without a restart, as the record describes it.
"""


import os

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import cgroup_limits
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import is_mount_point


class Drift:
    """The differences found for one record."""

    def __init__(self, limits=(), directories=(), namespaces=()):
        self.limits = list(limits)            # [(file, expected, current or None)]
        self.directories = list(directories)  # cgroup directories without the process
        self.namespaces = list(namespaces)    # persisted types whose mount is gone or wrong

    def __bool__(self):
        return bool(self.limits or self.directories or self.namespaces)

    def messages(self, record):
        persisted = record.get('persisted_namespaces') or {}
        lines = ['%s reads %s, declared %s' % (path, current if current is not None else 'nothing (missing)', expected)
                 for path, expected, current in self.limits]
        lines.extend('pid %d is not in cgroup %s' % (record['pid'], directory) for directory in self.directories)
        lines.extend('persisted %s namespace %s is not mounted' % (nstype, persisted.get(nstype))
                     for nstype in self.namespaces)
        return lines

    def views(self, record):
        """(before, after) for the module's diff: what the kernel shows and what is declared."""
        persisted = record.get('persisted_namespaces') or {}
        before = {}
        after = {}
        if self.limits:
            before['cgroup_limits'] = dict((path, current) for path, _expected, current in self.limits)
            after['cgroup_limits'] = dict((path, expected) for path, expected, _current in self.limits)
        if self.directories:
            before['cgroup_member'] = dict((directory, False) for directory in self.directories)
            after['cgroup_member'] = dict((directory, True) for directory in self.directories)
        if self.namespaces:
            before['persisted_namespaces'] = dict((nstype, None) for nstype in self.namespaces)
            after['persisted_namespaces'] = dict((nstype, persisted.get(nstype)) for nstype in self.namespaces)
        return before, after


def find(record):
    """The drift of a record whose process is running (checked by the caller)."""
    placement = record.get('cgroup')
    return Drift(
        limits=cgroup_limits.limit_drift(placement),
        directories=cgroup_limits.membership_drift(placement, record['pid']),
        namespaces=[nstype for nstype, path in sorted((record.get('persisted_namespaces') or {}).items())
                    if not _mounted(path, record.get('namespaces', {}).get(nstype))],
    )


def _mounted(path, inode):
    """True when ``path`` is the nsfs bind mount of namespace ``inode``."""
    try:
        return inode is not None and os.stat(path).st_ino == inode and is_mount_point(path)
    except OSError:
        return False


def repair(store, record, drift):
    """Put back what ``drift`` lists; updates ``record`` (the caller saves it) and returns
    the messages of what actually changed."""
    done = []
    placement = record.get('cgroup')
    if placement and (drift.limits or drift.directories):
        changed = cgroup_limits.repair(placement, record['pid'], drift.limits, drift.directories)
        done.extend('%s: %s -> %s' % (path, before, after) for path, before, after in changed)
    if drift.namespaces:
        paths = store.persist(record['name'], record['pid'], drift.namespaces)
        record.setdefault('persisted_namespaces', {}).update(paths)
        done.extend('persisted %s namespace mounted again at %s' % (nstype, paths[nstype])
                    for nstype in drift.namespaces)
    return done
