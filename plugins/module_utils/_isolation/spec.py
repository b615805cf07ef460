# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The spec of an isolated process: the validated, normalized form of the task options
that shape it; its hash decides whether a running process still matches the declaration.
The options' choices and defaults live here too: isolated_process's argument_spec takes
them from this file.
"""

import hashlib
import json
import os
import re
import signal

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import cgroup_limits
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import NS_TYPES


# Option choices and defaults: isolated_process's argument_spec takes them from here.
STATES = ('present', 'absent', 'restarted')
DEFAULT_STATE = 'present'
DEFAULT_NAMESPACES = ('pid', 'mnt', 'uts', 'ipc', 'net')
DEFAULT_CHDIR = '/'
DEFAULT_UMASK = '0022'
DEFAULT_STOP_SIGNAL = 'SIGTERM'
DEFAULT_STOP_TIMEOUT = 10.0
DEFAULT_RECREATE = True
DEFAULT_STATE_DIR = '/run/nsops-namespaces/isolated'
DEFAULT_LOG_DIR = '/var/log/nsops-namespaces/isolated'
DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
# Matched with fullmatch: ``$`` alone would accept a trailing newline ("box\n").
NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]{0,62}')
HOSTNAME_RE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}')
UMASK_RE = re.compile(r'(?:0o?)?[0-7]{1,3}')
# A user or group: a name as useradd takes it, or a number.
ACCOUNT_RE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?')
MAX_ID = (1 << 32) - 2             # uid/gid 4294967295 is "no id"
MAX_TIME_OFFSET = 4611686018       # the kernel refuses offsets beyond KTIME_SEC_MAX / 2 (ERANGE)
MAX_STOP_TIMEOUT = 86400.0         # a day: longer is a mistake, inf/nan/1e308 cannot be waited for
CAP_SYS_ADMIN = 21
RECORD_VERSION = 1
KILL_TIMEOUT = 5.0      # after SIGKILL: the kernel tears the namespace down
LOCK_GRACE = 60.0       # added to stop_timeout: how long a run waits for another one

# Options that shape the process; changing one replaces it.
SPEC_KEYS = (
    'command', 'namespaces', 'hostname', 'mount_proc', 'loopback_up', 'map_root_user',
    'uid_map', 'gid_map', 'monotonic_offset', 'boottime_offset', 'chdir', 'root', 'env',
    'user', 'group', 'umask', 'log_path', 'cgroup', 'memory_max', 'pids_max', 'cpu_weight',
    'persist_namespaces',
)


class IsolationError(Exception):
    """A task cannot be carried out: ``msg`` says why and names the fix, ``result`` adds result fields."""

    def __init__(self, msg, **result):
        super(IsolationError, self).__init__(msg)
        self.msg = msg
        self.result = result


# ---------------------------------------------------------------------------- spec

def check_name(name):
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise IsolationError('name %r is not allowed: use 1-63 letters, digits, "_", "." or "-", starting with a '
                             'letter or digit (it names files in the state directory)' % (name,))
    return name


def build_spec(params):
    """Validate the options that shape the process and return them normalized.

    Pure: looks at nothing outside ``params`` (filesystem checks are in
    :func:`build_launch`), so equal declarations always give equal specs. The parts are
    checked in this order and the first problem found raises IsolationError.
    """
    name = check_name(params['name'])
    command = _command(params)
    namespaces = _namespaces(params)
    hostname = _hostname(params, namespaces)
    mount_proc, loopback_up = _proc_and_loopback(params, namespaces)
    map_root_user, uid_map, gid_map = _user_maps(params, namespaces)
    offsets = _time_offsets(params, namespaces)
    chdir, root = _paths(params)
    env = _environment(params)
    umask = _umask(params)
    cgroup, limits = _cgroup_limits(params, name)
    persist = _persisted_namespaces(params, namespaces)
    return {
        'command': command,
        'namespaces': namespaces,
        'hostname': hostname,
        'mount_proc': mount_proc,
        'loopback_up': loopback_up,
        'map_root_user': map_root_user,
        'uid_map': uid_map,
        'gid_map': gid_map,
        'monotonic_offset': offsets['monotonic_offset'],
        'boottime_offset': offsets['boottime_offset'],
        'chdir': chdir,
        'root': root,
        'env': env,
        'user': _account_name(params, 'user'),
        'group': _account_name(params, 'group'),
        'umask': umask,
        'log_path': params.get('log_path') or os.path.join(DEFAULT_LOG_DIR, name + '.log'),
        'cgroup': cgroup,
        'memory_max': limits.get('memory_max'),
        'pids_max': limits.get('pids_max'),
        'cpu_weight': limits.get('cpu_weight'),
        'persist_namespaces': persist,
    }


def _require_namespace(namespaces, option, nstype, why=''):
    """``option`` acts on a new ``nstype`` namespace: refuse it without one."""
    if nstype not in namespaces:
        raise IsolationError('%s needs a new %s namespace: add %s to namespaces%s' % (option, nstype, nstype, why))


def _command(params):
    command = params.get('command')
    if not command:
        raise IsolationError('command is required with state=%s: give the argv list, e.g. [sleep, infinity]'
                             % params.get('state', DEFAULT_STATE))
    command = [str(arg) for arg in command]
    if not command[0] or any('\0' in arg for arg in command):
        raise IsolationError('command %r: the program name is empty or an argument holds a NUL byte' % (command,))
    return command


def _namespaces(params):
    namespaces = params.get('namespaces')
    namespaces = list(DEFAULT_NAMESPACES if namespaces is None else namespaces)
    unknown = [ns for ns in namespaces if ns not in NS_TYPES]
    if unknown:
        raise IsolationError('unknown namespace type %s: choose from %s' % (', '.join(unknown), ', '.join(NS_TYPES)))
    if not namespaces:
        raise IsolationError('namespaces is empty: declare at least one type (%s)' % ', '.join(NS_TYPES))
    return sorted(set(namespaces))


def _hostname(params, namespaces):
    hostname = params.get('hostname')
    if hostname is not None:
        if not isinstance(hostname, str) or not HOSTNAME_RE.fullmatch(hostname):
            raise IsolationError('hostname %r is not valid: use up to 64 letters, digits, "-", "_" or "."' % hostname)
        _require_namespace(namespaces, 'hostname', 'uts', ' (otherwise it would rename the host)')
    return hostname


def _proc_and_loopback(params, namespaces):
    """mount_proc and loopback_up, defaulting to what the namespaces make useful."""
    mount_proc = params.get('mount_proc')
    if mount_proc is None:
        mount_proc = 'pid' in namespaces and 'mnt' in namespaces
    elif mount_proc:
        _require_namespace(namespaces, 'mount_proc', 'mnt', ' (otherwise it would replace the host /proc)')
    loopback_up = params.get('loopback_up')
    if loopback_up is None:
        loopback_up = 'net' in namespaces
    elif loopback_up:
        _require_namespace(namespaces, 'loopback_up', 'net')
    return bool(mount_proc), bool(loopback_up)


def _user_maps(params, namespaces):
    map_root_user = bool(params.get('map_root_user'))
    uid_map = _id_map(params.get('uid_map'), 'uid_map')
    gid_map = _id_map(params.get('gid_map'), 'gid_map')
    if map_root_user and (uid_map or gid_map):
        raise IsolationError('map_root_user and uid_map/gid_map exclude each other: use one of them')
    if map_root_user or uid_map or gid_map:
        _require_namespace(namespaces, 'map_root_user' if map_root_user else 'uid_map/gid_map', 'user')
    return map_root_user, uid_map, gid_map


def _time_offsets(params, namespaces):
    offsets = {}
    for option in ('monotonic_offset', 'boottime_offset'):
        value = params.get(option)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_TIME_OFFSET:
                raise IsolationError('%s %r is out of range: give whole seconds between -%d and %d'
                                     % (option, value, MAX_TIME_OFFSET, MAX_TIME_OFFSET))
            _require_namespace(namespaces, option, 'time')
        offsets[option] = value
    return offsets


def _account_name(params, option):
    value = params.get(option)
    if value is None:
        return None
    value = str(value)
    if not ACCOUNT_RE.fullmatch(value) or (value.isdigit() and int(value) > MAX_ID):
        raise IsolationError('%s %r is not a user or group name or a number up to %d' % (option, value, MAX_ID))
    return value


def check_path(option, path):
    """An absolute path without NUL bytes (the kernel cannot take them), normalized."""
    if not isinstance(path, str) or '\0' in path or not os.path.isabs(path):
        raise IsolationError('%s %r must be an absolute path without NUL bytes' % (option, path))
    return os.path.normpath(path)


def check_timeout(option, value, default):
    """A finite number of seconds from 0 to MAX_STOP_TIMEOUT (inf, nan and 1e308 cannot be waited for)."""
    if value is None:
        return default
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        value = float('nan')
    if not 0 <= value <= MAX_STOP_TIMEOUT:  # False for nan
        raise IsolationError('%s %r is out of range: give seconds from 0 to %d' % (option, value, MAX_STOP_TIMEOUT))
    return value


def _paths(params):
    """(chdir, root), normalized; log_path is checked here too (its default needs the name)."""
    chdir = params.get('chdir') or DEFAULT_CHDIR
    root = params.get('root')
    for option, path in (('chdir', chdir), ('root', root), ('log_path', params.get('log_path'))):
        if path is not None:
            check_path(option, path)
    if params.get('log_path') is not None and params['log_path'].endswith('/'):
        raise IsolationError('log_path %r names a directory: give the log file' % (params['log_path'],))
    return os.path.normpath(chdir), None if root is None else os.path.normpath(root)


def _environment(params):
    env = {}
    for key, value in sorted((params.get('env') or {}).items()):
        if not key or '=' in key or '\0' in key:
            raise IsolationError('env name %r is not valid: no "=" or NUL, not empty' % (key,))
        if value is None:
            raise IsolationError('env %s has no value: give a string' % key)
        if '\0' in str(value):
            raise IsolationError('env %s holds a NUL byte, which an environment cannot carry' % key)
        env[key] = str(value)
    return env


def _umask(params):
    umask = str(params.get('umask') if params.get('umask') is not None else DEFAULT_UMASK)
    if not UMASK_RE.fullmatch(umask):
        raise IsolationError('umask %r is not an octal mode like "0022"' % umask)
    return '%04o' % int(umask.replace('o', ''), 8)


def _cgroup_limits(params, name):
    """(cgroup path, {limit option: parsed value}); limits need a cgroup to be written to."""
    cgroup = params.get('cgroup')
    limits = {}
    try:
        if cgroup is not None:
            cgroup = cgroup_limits.normalize_path(cgroup)
        if params.get('memory_max') is not None:
            limits['memory_max'] = cgroup_limits.parse_memory_max(params['memory_max'])
        if params.get('pids_max') is not None:
            limits['pids_max'] = cgroup_limits.parse_pids_max(params['pids_max'])
        if params.get('cpu_weight') is not None:
            limits['cpu_weight'] = cgroup_limits.check_cpu_weight(params['cpu_weight'])
    except cgroup_limits.CgroupError as exc:
        raise IsolationError(str(exc))
    if limits and cgroup is None:
        raise IsolationError('%s needs cgroup: name the cgroup to create, e.g. cgroup: nsops/%s'
                             % (', '.join(sorted(limits)), name))
    return cgroup, limits


def _persisted_namespaces(params, namespaces):
    persist = sorted(set(params.get('persist_namespaces') or []))
    for nstype in persist:
        if nstype not in NS_TYPES:
            raise IsolationError('unknown namespace type %s in persist_namespaces: choose from %s'
                                 % (nstype, ', '.join(NS_TYPES)))
        _require_namespace(namespaces, 'persist_namespaces %s' % nstype, nstype, ' (only new namespaces are persisted)')
    return persist


def _id_map(entries, option):
    if not entries:
        return []
    result = []
    for entry in entries:
        try:
            line = dict((key, int(entry[key])) for key in ('inside', 'outside', 'count'))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise IsolationError('%s entry %r needs integer inside, outside and count' % (option, entry))
        if (line['inside'] < 0 or line['outside'] < 0 or line['count'] < 1
                or max(line['inside'], line['outside']) + line['count'] - 1 > MAX_ID):
            raise IsolationError('%s entry %r: ids must be >= 0, count >= 1 and the range must end at %d or below'
                                 % (option, entry, MAX_ID))
        result.append(line)
    return result


def spec_hash(spec):
    """sha256 of the canonical JSON of a spec: equal declarations, equal hashes."""
    canonical = json.dumps(dict((key, spec.get(key)) for key in SPEC_KEYS), sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(canonical.encode('utf-8')).hexdigest()


def parse_signal(value):
    """``TERM``, ``SIGTERM`` or ``15`` -> signal number."""
    text = str(value).strip().upper()
    if text.isdigit():
        number = int(text)
        if number in set(int(s) for s in signal.valid_signals()):
            return number
    else:
        name = text if text.startswith('SIG') else 'SIG' + text
        if isinstance(getattr(signal.Signals, name, None), signal.Signals):
            return int(signal.Signals[name])
    raise IsolationError('stop_signal %r is not a signal: use a name like SIGTERM or a number' % (value,))
