# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The state store: a root-only directory with one JSON record per name (written
atomically), a lock file per name (so concurrent runs cannot start two) and, below
``ns/``, the bind mounts of persisted namespaces. Records are untrusted input: they are
validated before anything acts on them.
"""

import contextlib
import errno
import fcntl
import json
import os
import stat
import tempfile
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import cgroup_limits
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import files
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import syscalls
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    NS_TYPES,
    ProcParseError,
    is_mount_point,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.spec import (
    IsolationError,
    LOCK_GRACE,
    RECORD_VERSION,
    SPEC_KEYS,
    build_spec,
    check_path,
)


class StateStore:
    """``<dir>/<name>.json`` records, ``<dir>/<name>.lock`` locks, ``<dir>/<name>.start``
    claims of a start in progress, ``<dir>/ns/<name>/<type>`` mounts."""

    def __init__(self, directory):
        self.directory = check_path('state_dir', directory)
        self.ns_root = os.path.join(self.directory, 'ns')

    def record_path(self, name):
        return os.path.join(self.directory, name + '.json')

    def claim_path(self, name):
        return os.path.join(self.directory, name + '.start')

    def persisted_path(self, name, nstype):
        return os.path.join(self.ns_root, name, nstype)

    def check(self):
        """Refuse a state directory that others could write (its records would be forged);
        a missing one is fine: there is nothing in it to trust."""
        try:
            info = os.lstat(self.directory)
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise IsolationError('state_dir %s must be a directory owned by uid %d with mode 0700 (it is %s%04o, uid '
                                 '%d): fix it with chown/chmod or choose another state_dir'
                                 % (self.directory, os.geteuid(), '' if stat.S_ISDIR(info.st_mode) else 'not a '
                                    'directory, mode ', stat.S_IMODE(info.st_mode), info.st_uid))
        return True

    def ensure(self):
        """Create the directory (and missing parents) root-only, or refuse one that others could write."""
        try:
            files.make_dirs(self.directory, 0o700)
        except OSError as exc:
            raise IsolationError('state_dir %s cannot be created: %s' % (self.directory, exc.strerror))
        self.check()

    def load(self, name):
        """The record of ``name``, validated as untrusted input, or None."""
        path = self.record_path(name)
        try:
            data = files.read_small_file(path, RECORD_MAX)
        except OSError as exc:
            raise IsolationError('cannot read %s: %s' % (path, exc.strerror))
        if data is None:
            return None
        try:
            record = json.loads(data.decode('utf-8'))
        except ValueError:
            raise IsolationError('%s is not a valid record: inspect it, stop its process by hand and delete it' % path)
        if not isinstance(record, dict) or record.get('version') != RECORD_VERSION:
            raise IsolationError('%s has an unknown format: inspect it, stop its process by hand and delete it' % path)
        problem = record_problem(record, name, self)
        if problem:
            raise IsolationError('%s is not a valid record (%s): inspect it, stop its process by hand and delete it'
                                 % (path, problem))
        return record

    def save(self, record):
        # '~' is in no name: a sweep of one name's leftovers never touches another's.
        fd, temp = tempfile.mkstemp(prefix='.%s~' % record['name'], suffix='.tmp', dir=self.directory)
        try:
            with os.fdopen(fd, 'w') as handle:
                json.dump(record, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.record_path(record['name']))
        except BaseException:
            _unlink_quietly(temp)
            raise

    def delete(self, name):
        _unlink_quietly(self.record_path(name))

    def sweep(self, name):
        """Remove the temporary files of a save that a killed run left (lock held)."""
        prefix = '.%s~' % name
        for entry in os.listdir(self.directory):
            if entry.startswith(prefix) and entry.endswith('.tmp'):
                _unlink_quietly(os.path.join(self.directory, entry))

    def open_claim(self, name):
        """A new, empty claim file for a start; the setup child writes to the returned fd."""
        path = self.claim_path(name)
        _unlink_quietly(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)
        return fd

    def load_claim(self, name):
        """``{token, pid, starttime}`` the setup child of a start wrote, or None."""
        try:
            data = files.read_small_file(self.claim_path(name), 4096)
            claim = json.loads((data or b'').decode('ascii'))
        except (OSError, ValueError):
            return None
        if (not isinstance(claim, dict) or not isinstance(claim.get('token'), str)
                or not _is_int(claim.get('pid'), 1) or not _is_int(claim.get('starttime'), 0)):
            return None
        return claim

    def delete_claim(self, name):
        _unlink_quietly(self.claim_path(name))

    def lock_path(self, name):
        return os.path.join(self.directory, name + '.lock')

    @contextlib.contextmanager
    def lock(self, name, timeout):
        """Exclusive per-name lock, held for a whole run.

        A setup child forked while it is held inherits it (the same open file
        description): a run whose module was killed keeps the name locked until its
        setup child has exited, so the next run sees the claim complete.

        The lock file is deleted once nothing is left of the name, so a waiter may end
        up holding a deleted file: it then locks the new one instead.
        """
        path = self.lock_path(name)
        deadline = time.monotonic() + timeout
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise IsolationError('%s is not a regular file: remove it' % path)
                _flock(fd, max(0.0, deadline - time.monotonic()), 'another run is still working on %s' % name)
                if _same_file(fd, path):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        try:
            yield fd
        finally:
            if not os.path.exists(self.record_path(name)):
                _unlink_quietly(path)  # still locked: nobody else can be using it
            os.close(fd)

    @contextlib.contextmanager
    def _ns_lock(self):
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            _flock(fd, LOCK_GRACE, 'another run keeps %s locked' % self.ns_root)
            yield
        finally:
            os.close(fd)

    def persist(self, name, pid, types):
        """Bind-mount /proc/PID/ns/TYPE onto ns/<name>/TYPE; returns {type: path}.

        ns/ is a private mount of its own (bound onto itself, as ``ip netns`` does
        with /run/netns): bind mounts of mount namespaces are refused on shared mounts
        and would propagate into other namespaces. Whether ns/ is already a mount point
        is read from the whole mountinfo (read to its end: a table over 4 KB comes in
        several reads), so reruns never stack a second self-bind.
        """
        if not types:
            return {}
        paths = {}
        with self._ns_lock():
            files.make_dirs(self.ns_root, 0o700)
            if not is_mount_point(self.ns_root):
                syscalls.bind_mount(self.ns_root, self.ns_root)
            syscalls.make_private(self.ns_root)
            directory = os.path.join(self.ns_root, name)
            files.make_dirs(directory, 0o700)
            for nstype in types:
                path = self.persisted_path(name, nstype)
                while syscalls.umount_detach(path):
                    pass  # a leftover of an earlier process
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
                syscalls.bind_mount('/proc/%d/ns/%s' % (pid, nstype), path)
                paths[nstype] = path
        return paths

    def release(self, name, types):
        """Unmount and delete persisted namespaces; the last one out unmounts ns/.

        Paths are derived from name and type, never taken from a record.
        """
        warnings = []
        directory = os.path.join(self.ns_root, name)
        if not os.path.isdir(directory):
            return warnings
        paths = dict((nstype, self.persisted_path(name, nstype)) for nstype in types if nstype in NS_TYPES)
        with self._ns_lock():
            for path in sorted(paths.values()):
                try:
                    while syscalls.umount_detach(path):
                        pass
                    _unlink_quietly(path)
                except OSError as exc:
                    warnings.append('persisted namespace %s was not removed: %s' % (path, exc.strerror))
            _rmdir_quietly(os.path.join(self.ns_root, name))
            if os.path.isdir(self.ns_root) and not os.listdir(self.ns_root):
                try:
                    while syscalls.umount_detach(self.ns_root):
                        pass
                except OSError as exc:
                    warnings.append('%s was not unmounted: %s' % (self.ns_root, exc.strerror))
                _rmdir_quietly(self.ns_root)
        return warnings


# ---------------------------------------------------------------------------- records (untrusted input)

RECORD_MAX = 1 << 20
PHASES = ('starting', 'running')


def _is_int(value, minimum):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def record_problem(record, name, store):
    """Why ``record`` (read from ``<name>.json``) cannot be trusted, or None.

    A record steers what root signals, unmounts, removes and writes, so every field is
    checked: the name is the file's, the spec is one build_spec accepts, the cgroup
    directories lie below the mounted cgroup hierarchies at the spec's cgroup path,
    limit files are the limit files of those directories and persisted namespaces are
    the paths derived from name and type.
    """
    for key, kind in (('name', str), ('spec', dict), ('spec_hash', str), ('boot_id', str), ('log_path', str)):
        if not isinstance(record.get(key), kind):
            return 'missing or wrong %s' % key
    if record['name'] != name:
        return 'its name %r is not its file name %r' % (record['name'], name)
    phase = record.get('phase', 'running')
    if phase not in PHASES:
        return 'unknown phase %r' % (phase,)
    spec = record['spec']
    try:
        checked = build_spec(dict(spec, name=name))
    except (IsolationError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return 'its spec is not valid: %s' % (exc.msg if isinstance(exc, IsolationError) else exc)
    if sorted(spec) != sorted(SPEC_KEYS) or checked['cgroup'] != spec['cgroup']:
        return 'its spec has other keys than a spec'
    if record['log_path'] != spec['log_path']:
        return 'log_path differs from its spec'
    if phase == 'starting':
        if not isinstance(record.get('token'), str):
            return 'missing token of the start'
    else:
        for key, minimum in (('pid', 1), ('starttime', 0), ('ns_pid', 1)):
            if not _is_int(record.get(key), minimum):
                return 'missing or wrong %s' % key
        namespaces = record.get('namespaces')
        if not isinstance(namespaces, dict) or any(not _is_int(namespaces.get(t), 1) for t in spec['namespaces']):
            return 'the inodes of its namespaces are missing'
    persisted = record.get('persisted_namespaces') or {}
    if not isinstance(persisted, dict) or any(t not in spec['persist_namespaces'] or path != store.persisted_path(
            name, t) for t, path in persisted.items()):
        return 'persisted_namespaces are not the paths of its name in the state directory'
    return _placement_problem(record.get('cgroup'), spec['cgroup'])


def _placement_problem(placement, cgroup):
    if placement is None:
        return None
    if not isinstance(placement, dict) or cgroup is None or placement.get('path') != cgroup:
        return 'its cgroup is not the cgroup of its spec'
    try:
        unified, v1 = cgroup_limits.cgroup_mounts()
    except (OSError, ProcParseError):
        return 'the cgroup mounts cannot be read'
    mounts = set([unified] if unified else []) | set(v1.values())
    parts = cgroup.split('/')
    leaves = set(os.path.join(mount, cgroup) for mount in mounts)
    prefixes = set(os.path.join(mount, *parts[:depth]) for mount in mounts for depth in range(1, len(parts) + 1))
    limit_files = set(os.path.join(leaf, name) for leaf in leaves for entry in cgroup_limits.LIMIT_FILES.values()
                      for name in entry[1:])
    directories, created, limits = placement.get('directories'), placement.get('created'), placement.get('limits')
    if not isinstance(directories, list) or not set(directories) <= leaves:
        return 'its cgroup directories are not below the mounted cgroup hierarchies'
    if not isinstance(created, list) or not set(created) <= prefixes:
        return 'its created cgroups are not below the mounted cgroup hierarchies'
    if not isinstance(limits, dict) or not set(limits) <= limit_files or not all(
            isinstance(value, str) for value in limits.values()):
        return 'its cgroup limits are not limit files of its cgroup'
    return None


def _flock(fd, timeout, busy_message):
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() > deadline:
            raise IsolationError('%s after waiting %ds; retry when it has finished' % (busy_message, timeout))
        time.sleep(0.05)


def _same_file(fd, path):
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _rmdir_quietly(path):
    try:
        os.rmdir(path)
    except OSError:
        pass
