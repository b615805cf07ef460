# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Is a record's process ours? Only while its PID, starttime, boot id and namespace
inodes all match: a reused PID is never signalled. Stopping it.
"""

import errno
import os
import select
import signal
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    NS_TYPES,
    ProcParseError,
    read_ns_links,
    read_stat,
    read_status,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.syscalls import pidfd_open
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.spec import (
    IsolationError,
    KILL_TIMEOUT,
)


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
