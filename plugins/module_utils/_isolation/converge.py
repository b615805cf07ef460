# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Keep a declared namespace-isolated process running: the engine of ``isolated_process``.

:func:`converge` decides one action (start, replace, restart, stop, adopt or nothing), the
same way in check mode, and carries it out under the per-name lock; a start killed at
any instant is settled by the next run (see :func:`settle`).
"""

import errno
import os
import signal
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import cgroup_limits
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import drift as drift_
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation import spawn
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    ProcParseError,
    ProcRoot,
    own_cap_eff,
    own_namespaces,
    read_boot_id,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.spec import (
    CAP_SYS_ADMIN,
    DEFAULT_RECREATE,
    DEFAULT_STATE,
    DEFAULT_STATE_DIR,
    DEFAULT_STOP_SIGNAL,
    DEFAULT_STOP_TIMEOUT,
    IsolationError,
    LOCK_GRACE,
    RECORD_VERSION,
    build_spec,
    check_name,
    check_timeout,
    parse_signal,
    spec_hash,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.launch import (
    build_launch,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.store import (
    StateStore,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.identity import (
    describe,
    is_ours,
    stop,
)


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
