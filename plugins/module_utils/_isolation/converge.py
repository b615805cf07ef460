# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Keep a declared namespace-isolated process running: the logic of ``isolated_process``.

* the **spec** is the validated, normalized form of the task options that shape the
  process; its hash decides whether a running process still matches the declaration;
* the **state store** is a root-only directory with one JSON record per name (written
  atomically), a lock file per name (so concurrent runs cannot start two) and, below
  ``ns/``, the bind mounts of persisted namespaces;
* a record's process is **ours** only while PID, starttime and boot id all match; a
  reused PID is never signalled;
* :func:`converge` decides one action (start, replace, restart, stop or nothing), the
  same way in check mode, and carries it out.
"""


import contextlib
import errno
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import select
import signal
import stat
import tempfile
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import cgroup_limits
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import drift as drift_
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import files
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import spawn
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import syscalls
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.paths import resolve_in_root
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.syscalls import clone_flags, pidfd_open
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    NS_TYPES,
    ProcParseError,
    ProcRoot,
    is_mount_point,
    own_cap_eff,
    own_namespaces,
    read_boot_id,
    read_ns_links,
    read_stat,
    read_status,
)

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


# ---------------------------------------------------------------------------- launch plan


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


# ---------------------------------------------------------------------------- state store

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


# ---------------------------------------------------------------------------- identity

def is_ours(record, proc_root, boot_id):
    """True only while PID, starttime, boot id and the inode of every declared namespace
    of the record all match a live process: a stranger that got the PID, or a forged
    record naming a stranger's true PID and starttime, is never taken for ours."""
    if not record or record.get('phase', 'running') != 'running' or record.get('boot_id') != boot_id:
        return False
    try:
        stat_ = read_stat(proc_root, record['pid'])
        if stat_.starttime != record.get('starttime') or stat_.state in ('Z', 'X', 'x'):
            return False
        declared = tuple(record['spec']['namespaces'])
        links = read_ns_links(proc_root, record['pid'], names=declared)
    except (OSError, ProcParseError):
        return False
    recorded = record.get('namespaces') or {}
    return all(links.get(nstype) is not None and links.get(nstype) == recorded.get(nstype) for nstype in declared)


def describe(proc_root, pid):
    """Facts about a process just started: starttime, innermost PID, namespace inodes."""
    stat_ = read_stat(proc_root, pid)
    if stat_.state in ('Z', 'X', 'x'):
        raise OSError(errno.ESRCH, 'exited')
    status = read_status(proc_root, pid)
    return {
        'starttime': stat_.starttime,
        'ns_pid': status.nspid[-1] if status.nspid else pid,
        'namespaces': read_ns_links(proc_root, pid, names=NS_TYPES),
    }


def _ignores(proc_root, record, signum):
    """True when PID 1 of a new PID namespace has no handler: the kernel drops the signal.

    Needs SigCgt from /proc/PID/status; without it we cannot tell and assume it is caught.
    """
    if 'pid' not in record['spec']['namespaces']:
        return False
    try:
        caught = read_status(proc_root, record['pid']).sig_cgt
    except (OSError, ProcParseError):
        return False
    return caught is not None and not caught & (1 << (signum - 1))


def stop(record, signum, timeout, proc_root, boot_id):
    """Stop the record's process if it is still ours: signal, wait, SIGKILL, wait.

    A pidfd pins the exact process once its identity is confirmed, so a PID reused
    meanwhile is never signalled. Returns True when a process was stopped. We do not
    wait for the zombie to be reaped (its parent is init, not us): namespaces and
    cgroup membership are released when a process exits, and a zombie is not "ours".
    """
    if record.get('phase', 'running') != 'running':
        return False  # an intent: no process of its own (see reconcile)
    pid = record['pid']
    try:
        pidfd = pidfd_open(pid)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        pidfd = None  # kernel without pidfd (< 5.3): identity re-checked before each kill
    try:
        if not is_ours(record, proc_root, boot_id):
            return False
        if not _ignores(proc_root, record, signum):
            _signal(pidfd, record, signum, proc_root, boot_id)
            if _wait_exit(pidfd, record, timeout, proc_root, boot_id):
                return True
        _signal(pidfd, record, signal.SIGKILL, proc_root, boot_id)
        if not _wait_exit(pidfd, record, KILL_TIMEOUT, proc_root, boot_id):
            raise IsolationError('process %d of %s survived SIGKILL for %ds (stuck in the kernel?)'
                                 % (pid, record['name'], KILL_TIMEOUT))
        return True
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _signal(pidfd, record, signum, proc_root, boot_id):
    try:
        if pidfd is not None and hasattr(signal, 'pidfd_send_signal'):
            signal.pidfd_send_signal(pidfd, signum)
        elif is_ours(record, proc_root, boot_id):
            os.kill(record['pid'], signum)
    except ProcessLookupError:
        pass  # exited meanwhile


def _wait_exit(pidfd, record, timeout, proc_root, boot_id):
    if pidfd is not None:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(max(0, int(timeout * 1000))))
    deadline = time.monotonic() + timeout
    while is_ours(record, proc_root, boot_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ---------------------------------------------------------------------------- converge

def require_privileges():
    if not own_cap_eff() & (1 << CAP_SYS_ADMIN):
        raise IsolationError('isolated_process needs CAP_SYS_ADMIN (to create namespaces, mount and manage '
                             'cgroups); run the task with become: true')


def decide(state, record, running, new_hash, recreate):
    """The one action a run takes: start, replace, restart, stop or none."""
    if state == 'absent':
        return 'stop' if record else 'none'
    if not running:
        return 'start'
    if state == 'restarted':
        return 'restart'
    if record.get('spec_hash') == new_hash or not recreate:
        return 'none'
    return 'replace'


def _view(spec, state):
    """What the diff shows: the declared spec plus the state."""
    view = {'state': state}
    if spec:
        view.update(spec)
    return view


class Request:
    """What isolated_process is asked: the task options, check mode, and whether to show a diff.

    The options are checked by :func:`converge` in the order that gives the most useful
    message first (privileges before the spec).
    """

    def __init__(self, params, check_mode=False, diff=False):
        self.params = params
        self.check_mode = check_mode
        self.diff = diff

    @classmethod
    def from_params(cls, params, check_mode=False, diff=False):
        return cls(params, check_mode, diff)


def run(request):
    """The isolated_process result with its warnings; IsolationError when the task cannot be carried out."""
    result = converge(request.params, check_mode=request.check_mode)
    if not request.diff:
        result.pop('diff', None)
    result.setdefault('warnings', [])
    return result


def converge(params, check_mode=False, proc_root=None):
    """Make the declared process exist (or not); returns the module result."""
    proc_root = proc_root or ProcRoot()
    name = check_name(params['name'])
    state = params.get('state') or DEFAULT_STATE
    require_privileges()
    store = StateStore(params.get('state_dir') or DEFAULT_STATE_DIR)
    signum = parse_signal(params.get('stop_signal') or DEFAULT_STOP_SIGNAL)
    stop_timeout = check_timeout('stop_timeout', params.get('stop_timeout'), DEFAULT_STOP_TIMEOUT)
    spec = launch = new_hash = None
    if state != 'absent':
        spec = build_spec(params)
        new_hash = spec_hash(spec)
        launch = build_launch(spec, store)

    boot_id = read_boot_id(proc_root)
    try:
        # Check mode trusts a state directory no more than a real run does.
        exists = store.check()
        if check_mode or (state == 'absent' and not exists):
            record, event = settle(store, name, store.load(name), proc_root, boot_id, preview=True)
            return _plan_result(name, state, record, spec, new_hash, params, proc_root, boot_id, event)

        store.ensure()
        with store.lock(name, stop_timeout + LOCK_GRACE):
            store.sweep(name)
            record, event = settle(store, name, store.load(name), proc_root, boot_id)
            result = _plan_result(name, state, record, spec, new_hash, params, proc_root, boot_id, event)
            if result['action'] in ('none', 'adopt'):
                return result
            if result['action'] == 'repair':
                return _repair(store, record, result)
            warnings = []
            if record:
                warnings.extend(_teardown(store, record, signum, stop_timeout, proc_root, boot_id))
            if state != 'absent':
                record = _start(store, name, spec, new_hash, launch, proc_root, boot_id)
                result.update(_facts(record))
            if warnings:
                result['warnings'] = warnings
            return result
    except OSError as exc:
        where = ' (%s)' % exc.filename if exc.filename else ''
        raise IsolationError('%s: %s%s' % (name, exc.strerror or exc, where))


# ---------------------------------------------------------------------------- crash consistency

def settle(store, name, record, proc_root, boot_id, preview=False):
    """Finish what a run killed while starting left: ``(record, event)``.

    A record in phase ``starting`` is the intent a start wrote before it forked. Its
    setup child wrote ``{token, pid, starttime}`` to the claim file as soon as the
    workload existed (and held the lock until then). When the claim has the intent's
    token and names a live process of this boot with that starttime in namespaces of
    its own, the process is **adopted**: described, its namespaces persisted and the
    record completed. Otherwise nothing of the start runs and what it made (persisted
    namespace mounts, cgroups it created) is **removed** with the record.

    ``event`` is None, ``'adopted'`` or ``'removed'``; with ``preview`` nothing is
    touched and the record is what adopting would make of it.
    """
    if not record or record.get('phase', 'running') != 'starting':
        if not preview:
            store.delete_claim(name)  # a claim left by a run killed after its record was saved
        return record, None
    candidate = _claimed(store, record, proc_root, boot_id)
    if preview:
        return candidate, 'adopted' if candidate else 'removed'
    if candidate:
        try:
            candidate['persisted_namespaces'] = store.persist(record['name'], candidate['pid'],
                                                              record['spec']['persist_namespaces'])
            store.save(candidate)
            store.delete_claim(record['name'])
            return candidate, 'adopted'
        except OSError:
            stop(candidate, signal.SIGKILL, 0, proc_root, boot_id)
    _remove_leftovers(store, record)
    return None, 'removed'


def _claimed(store, record, proc_root, boot_id):
    """The completed record of the process the intent's claim names, or None."""
    claim = store.load_claim(record['name'])
    if not claim or claim['token'] != record['token'] or record['boot_id'] != boot_id:
        return None
    candidate = dict(record, pid=claim['pid'], starttime=claim['starttime'], phase='running')
    candidate.pop('token', None)
    try:
        facts = describe(proc_root, claim['pid'])
    except (OSError, ProcParseError):
        return None
    own = own_namespaces()
    fresh = all(facts['namespaces'].get(t) not in (None, own.get(t, (None, None))[1])
                for t in record['spec']['namespaces'])
    if facts['starttime'] != claim['starttime'] or not fresh:
        return None
    candidate.update(facts)
    return candidate


def _remove_leftovers(store, record):
    """What an intent may have made, removed; the record goes last (a run killed here
    leaves the intent, and the next run removes the rest)."""
    warnings = store.release(record['name'], list(record['spec']['persist_namespaces']))
    warnings.extend(cgroup_limits.remove(record.get('cgroup')))
    store.delete_claim(record['name'])
    store.delete(record['name'])
    return warnings


def _plan_result(name, state, record, spec, new_hash, params, proc_root, boot_id, event=None):
    running = is_ours(record, proc_root, boot_id)
    action = decide(state, record, running, new_hash, params.get('recreate', DEFAULT_RECREATE))
    if action == 'none' and event == 'removed' and state == 'absent':
        action = 'stop'  # the leftovers of an interrupted start are removed
    elif action == 'none' and event == 'adopted':
        action = 'adopt'  # the process an interrupted start made is kept and recorded
    # "stopped": a record is left but its process is gone (killed, exited, rebooted).
    before = _view(record['spec'] if record else None,
                   'present' if running else 'stopped' if record else 'absent')
    after = _view(spec, 'present') if state != 'absent' else _view(None, 'absent')
    if action == 'none' and running and state != 'absent':
        after = before  # kept as it is (recreate: false keeps a differing spec)
    result = {
        'changed': action != 'none',
        'action': action,
        'name': name,
        'state': 'absent' if state == 'absent' else 'present',
        'diff': {'before': before, 'after': after},
        'drift': [],
    }
    result.update(_facts(record if running and action == 'none' else None, spec))
    if state == 'absent' and record:
        result['log_path'] = record.get('log_path')
    if event:
        result['warnings'] = ['an earlier run was killed while it started %s: what it started was %s'
                              % (name, 'adopted' if event == 'adopted' else 'removed')]
    if action in ('none', 'adopt') and running:
        result.update(_facts(record))
    if action == 'none' and running and record.get('spec_hash') != new_hash and state != 'absent':
        result['warnings'] = ['%s runs with a different spec; recreate: false keeps it' % name]
    elif action == 'none' and running and state != 'absent':
        # The declaration is unchanged: does the live state still match it?
        drift = drift_.find(record)
        if drift:
            live_before, live_after = drift.views(record)
            result.update(changed=True, action='repair', drift=drift.messages(record))
            result['diff'] = {'before': dict(before, live=live_before), 'after': dict(after, live=live_after)}
    return result


def _repair(store, record, result):
    """Put back what drifted from the record while its process runs (lock held)."""
    try:
        done = drift_.repair(store, record, drift_.find(record))
    except cgroup_limits.CgroupError as exc:
        raise IsolationError('%s: %s' % (record['name'], exc))
    store.save(record)
    result.update(_facts(record))
    if not done:  # only rounding differences: the kernel reads back what it already had
        result.update(changed=False, action='none', drift=[])
        result['diff'] = {'before': result['diff']['before'], 'after': result['diff']['before']}
    return result


def _facts(record, spec=None):
    if record:
        return dict((key, record.get(key)) for key in
                    ('pid', 'ns_pid', 'namespaces', 'log_path', 'cgroup', 'persisted_namespaces'))
    return {'pid': None, 'ns_pid': None, 'namespaces': {}, 'log_path': spec['log_path'] if spec else None,
            'cgroup': None, 'persisted_namespaces': {}}


def _teardown(store, record, signum, stop_timeout, proc_root, boot_id):
    """Stop the process if it is ours, then remove what it left: mounts, cgroup, record."""
    stop(record, signum, stop_timeout, proc_root, boot_id)
    types = set(record.get('persisted_namespaces') or {}) | set(record['spec']['persist_namespaces'])
    warnings = store.release(record['name'], sorted(types))
    warnings.extend(cgroup_limits.remove(record.get('cgroup')))
    store.delete_claim(record['name'])
    store.delete(record['name'])
    return warnings


def _start(store, name, spec, new_hash, launch, proc_root, boot_id):
    """Start the process (lock held): intent, cgroup, claim, spawn, record.

    The intent record is on disk before anything is made, and says what may be made
    (the cgroup directories that do not exist yet), so a run killed at any instant
    leaves something :func:`settle` can finish. The setup child keeps the lock (see
    spawn) until the claim is written.
    """
    record = {
        'version': RECORD_VERSION, 'name': name, 'phase': 'starting', 'token': os.urandom(8).hex(),
        'boot_id': boot_id, 'spec': spec, 'spec_hash': new_hash, 'log_path': spec['log_path'], 'cgroup': None,
        'created': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), 'persisted_namespaces': {},
    }
    limits = dict((key, spec[key]) for key in cgroup_limits.LIMIT_FILES)
    try:
        if spec['cgroup']:
            record['cgroup'] = cgroup_limits.intended(spec['cgroup'], limits, proc_root)
    except cgroup_limits.CgroupError as exc:
        raise IsolationError(str(exc))
    store.save(record)
    claim_fd = None
    try:
        if spec['cgroup']:
            record['cgroup'] = cgroup_limits.prepare(spec['cgroup'], limits, proc_root)
            store.save(record)
            launch.cgroup_procs = cgroup_limits.procs_files(record['cgroup'])
        claim_fd = store.open_claim(name)
        launch.claim_fd, launch.token = claim_fd, record['token']
        pid = spawn.spawn(launch)
    except (spawn.SpawnError, cgroup_limits.CgroupError, OSError) as exc:
        _remove_leftovers(store, record)
        if isinstance(exc, spawn.SpawnError):
            raise IsolationError('starting %s failed at %s: %s' % (name, exc.step, exc.detail))
        if isinstance(exc, cgroup_limits.CgroupError):
            raise IsolationError(str(exc))
        raise
    except BaseException:
        _remove_leftovers(store, record)
        raise
    finally:
        if claim_fd is not None:
            os.close(claim_fd)
    running = dict(record, pid=pid, phase='running')
    running.pop('token')
    try:
        running.update(describe(proc_root, pid))
        running['persisted_namespaces'] = store.persist(name, pid, spec['persist_namespaces'])
    except (OSError, ProcParseError) as exc:
        # Exited at once, or the namespaces could not be kept: leave nothing behind.
        if 'starttime' in running:
            stop(running, signal.SIGKILL, 0, proc_root, boot_id)
        _remove_leftovers(store, record)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ESRCH):
            raise IsolationError('%s (pid %d) exited right after it started: see %s' % (name, pid, spec['log_path']))
        raise IsolationError('starting %s failed: %s' % (name, exc))
    store.save(running)
    store.delete_claim(name)
    return running
