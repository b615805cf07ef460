# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""From a spec to a :class:`spawn.LaunchPlan`: the executable, IDs and ID maps resolved
against the host and the declared root, without touching anything.
"""

import grp
import os
import pwd

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import files
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import spawn
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.paths import resolve_in_root
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import own_namespaces
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.syscalls import clone_flags
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.spec import (
    DEFAULT_PATH,
    IsolationError,
)


def host_path(root, path):
    """``path`` inside ``root`` as a host path; IsolationError for a symlink loop."""
    try:
        return resolve_in_root(root, path)
    except OSError as exc:
        raise IsolationError(exc.strerror)


def find_executable(spec, env_path):
    """The path (inside ``root``) that exec will run, or IsolationError naming the fix."""
    program = spec['command'][0]
    root = spec['root']
    where = ' inside root %s' % root if root else ''
    if '/' in program:
        candidates = [program if program.startswith('/') else os.path.join(spec['chdir'], program)]
    else:
        candidates = [os.path.join(d or '.', program) for d in env_path.split(':')]
    for candidate in candidates:
        host = host_path(root, candidate)
        if os.path.isfile(host):
            if not os.access(host, os.X_OK):
                raise IsolationError('command %s%s is not executable: chmod +x it' % (candidate, where))
            return candidate
    if '/' in program:
        raise IsolationError('command %s not found%s: fix the path or install it' % (candidates[0], where))
    raise IsolationError('command %s not found in PATH %s%s: give an absolute path, set env.PATH or install it'
                         % (program, env_path, where))


def _lookup_ids(spec):
    """(uid, gid) for user/group names or numbers; names are looked up inside ``root``."""
    user, group = spec['user'], spec['group']
    uid = gid = None
    if user is not None:
        if user.isdigit():
            uid = int(user)
        else:
            entry = _account(spec['root'], 'passwd', user)
            uid, gid = int(entry[2]), int(entry[3])
    if group is not None:
        gid = int(group) if group.isdigit() else int(_account(spec['root'], 'group', group)[2])
    return uid, gid


def _account(root, database, name):
    what = 'user' if database == 'passwd' else 'group'
    if root is None:
        try:
            entry = pwd.getpwnam(name) if database == 'passwd' else grp.getgrnam(name)
        except KeyError:
            raise IsolationError('%s %s does not exist on the host: create it or give a number' % (what, name))
        return list(entry)
    path = os.path.join(root, 'etc', database)
    try:
        with open(path) as handle:
            for line in handle:
                fields = line.rstrip('\n').split(':')
                if fields[0] == name and len(fields) >= 3:
                    return fields
    except OSError:
        pass
    raise IsolationError('%s %s is not in %s: add it there or give a number' % (what, name, path))


def _in_map(identity, id_map):
    return any(line['inside'] <= identity < line['inside'] + line['count'] for line in id_map)


def build_launch(spec, store):
    """Check the spec against the host and turn it into a LaunchPlan (touches nothing)."""
    kernel_types = own_namespaces()
    for nstype in spec['namespaces']:
        if nstype not in kernel_types:
            raise IsolationError('this kernel has no %s namespaces (time needs Linux 5.6): drop %s from namespaces'
                                 % (nstype, nstype))
    root = spec['root']
    if root is not None and not os.path.isdir(root):
        raise IsolationError('root %s is not a directory: create the root filesystem there first' % root)
    if spec['mount_proc'] and not os.path.isdir(host_path(root, '/proc')):
        raise IsolationError('root %s has no /proc directory to mount on: create it or set mount_proc: false' % root)
    if not os.path.isdir(host_path(root, spec['chdir'])):
        raise IsolationError('chdir %s is not a directory%s' % (spec['chdir'], ' inside root %s' % root if root else ''))

    try:
        files.check_log_target(spec['log_path'])
    except OSError as exc:
        raise IsolationError('log_path %s' % exc.strerror)

    env = {'PATH': DEFAULT_PATH}
    env.update(spec['env'])
    executable = find_executable(spec, env['PATH'])

    plan = spawn.LaunchPlan(spec['command'], executable, env, clone_flags(spec['namespaces']), spec['log_path'])
    plan.hostname = spec['hostname']
    plan.make_mounts_private = 'mnt' in spec['namespaces']
    plan.mount_proc = spec['mount_proc']
    plan.detach_paths = [store.ns_root] if plan.make_mounts_private else []
    plan.loopback_up = spec['loopback_up']
    plan.root = root
    plan.chdir = spec['chdir']
    plan.umask = int(spec['umask'], 8)

    uid, gid = _lookup_ids(spec)
    plan.clear_groups = uid is not None or gid is not None
    if 'user' in spec['namespaces']:
        uid_map, gid_map = spec['uid_map'], spec['gid_map']
        if spec['map_root_user']:
            uid_map = [{'inside': 0, 'outside': os.geteuid(), 'count': 1}]
            gid_map = [{'inside': 0, 'outside': os.getegid(), 'count': 1}]
        plan.uid_map = _map_text(uid_map)
        plan.gid_map = _map_text(gid_map)
        # Inside a user namespace the process switches to the mapped user, root by default.
        for option, identity, id_map in (('user', uid, uid_map), ('group', gid, gid_map)):
            if identity is not None and not id_map:
                raise IsolationError('%s needs %s or map_root_user when the user namespace is declared'
                                     % (option, 'uid_map' if option == 'user' else 'gid_map'))
            if id_map and not _in_map(identity or 0, id_map):
                raise IsolationError('%s %d is not mapped inside the user namespace: add it to %s or set %s: to a '
                                     'mapped id' % ('uid' if option == 'user' else 'gid', identity or 0,
                                                    'uid_map' if option == 'user' else 'gid_map', option))
        uid = (uid or 0) if uid_map else None
        gid = (gid or 0) if gid_map else None
    plan.uid, plan.gid = uid, gid

    lines = []
    if spec['monotonic_offset'] is not None:
        lines.append('monotonic %d 0\n' % spec['monotonic_offset'])
    if spec['boottime_offset'] is not None:
        lines.append('boottime %d 0\n' % spec['boottime_offset'])
    plan.time_offsets = ''.join(lines) or None
    return plan


def _map_text(id_map):
    if not id_map:
        return None
    return ''.join('%d %d %d\n' % (line['inside'], line['outside'], line['count']) for line in id_map)
