# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The node side of the container connection: find the container again, enter it, run.

The connection plugin ships this file with the module_utils it imports as one zip
(unpacked on the node in a directory named by its content hash) and runs it with the
node's Python, one process per command::

    python3 -I -S PAYLOAD_DIR '{"op": "exec", "selector": {...}, "command": "..."}'

Each run re-resolves the container from the cgroup file system (a restarted container
is found under its new PID) and opens its init through a pinned ``/proc/PID`` checked
against the start time the lookup read (a recycled PID is never entered). ``exec``
enters in place and runs the command through the shell with this process's stdin,
stdout and stderr; ``put`` and ``fetch`` copy stdin to a file or a file to stdout as
the container sees its file system (after entering its mount namespace and changing
root, so no symlink leads out of it).

A failure of ours (not of the command) is one line on stderr, ``ERROR_MARKER`` and a
JSON object with ``kind`` and ``msg``, and exit status ``ERROR_STATUS``.
"""


import errno
import json
import os
import sys

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.locator import locate_selected
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import ContainerError
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.enter import (
    EnterError,
    TargetGone,
    become_namespace_root,
    enter_namespaces,
    open_process_target,
    run_entered,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcRoot, own_cap_eff

ERROR_MARKER = 'NSOPS-CONTAINER-ERROR '
ERROR_STATUS = 85
ALL = 'all'
DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
COPY_CHUNK = 1 << 20


class EntrypointError(Exception):
    """Why the command could not be run; ``kind`` tells the controller how to report it."""

    def __init__(self, kind, msg):
        super(EntrypointError, self).__init__(msg)
        self.kind = kind
        self.msg = msg


# ---------------------------------------------------------------------------- the request

def parse_request(text):
    """The request of argv[1]; EntrypointError when it is not one."""
    try:
        request = json.loads(text)
    except ValueError as exc:
        raise EntrypointError('request', 'the request is not JSON: %s' % exc)
    if not isinstance(request, dict) or request.get('op') not in ('exec', 'put', 'fetch'):
        raise EntrypointError('request', 'the request names no operation (exec, put or fetch)')
    selector = request.get('selector') or {}
    if not any(selector.get(key) for key in ('id', 'name', 'pod_uid')):
        raise EntrypointError('request', 'the request selects no container: give its id or name')
    namespaces = request.get('namespaces', ALL)
    if namespaces != ALL and (not isinstance(namespaces, list) or not namespaces):
        raise EntrypointError('request', 'namespaces must be "all" or a list of namespace types')
    return request


def label_of(request):
    selector = request['selector']
    return request.get('label') or selector.get('id') or selector.get('name') or selector.get('pod_uid')


# ---------------------------------------------------------------------------- the container

def check_privilege():
    """Entering another process's namespaces needs CAP_SYS_ADMIN, reading them CAP_SYS_PTRACE."""
    caps = own_cap_eff()
    if os.geteuid() == 0 and caps & (1 << CAP_SYS_ADMIN) and caps & (1 << CAP_SYS_PTRACE):
        return
    missing = [name for bit, name in ((CAP_SYS_ADMIN, 'CAP_SYS_ADMIN'), (CAP_SYS_PTRACE, 'CAP_SYS_PTRACE'))
               if not caps & (1 << bit)]
    raise EntrypointError('privilege', 'the connection runs as UID %d on the node%s: entering a container needs '
                                       'root there; connect as root or set nsops_node_become: true (passwordless '
                                       'sudo on the node)' % (os.geteuid(), ' without %s' % ', '.join(missing)
                                                              if missing else ''))


def find_init(request):
    """(record, init PID, its start time) of the selected container, looked up now."""
    selector = request['selector']
    try:
        records = locate_selected(request.get('proc_root') or '/proc', selector.get('id'), selector.get('pod_uid'),
                                  selector.get('name'), selector.get('runtime'))
    except ContainerError as exc:
        raise EntrypointError('gone', 'container %s is not on this node any more: %s' % (label_of(request), exc))
    running = [record for record in records if record['state'] == 'running' and record['init_pid'] is not None]
    if not running:
        raise EntrypointError('gone', 'container %s has no running process on this node (state: %s)' % (
            label_of(request), ', '.join(sorted(set(record['state'] for record in records)))))
    if len(running) > 1:
        raise EntrypointError('request', 'container %s is ambiguous: %d containers match (%s); select it by its '
                                         'full id' % (label_of(request), len(running),
                                                      ', '.join(r['id'] or r['name'] for r in running)))
    record = running[0]
    init = [process for process in record['processes'] if process['pid'] == record['init_pid']]
    if not init or not init[0]['verified'] or init[0]['starttime'] is None:
        raise EntrypointError('gone', 'the init process of container %s could not be verified against its cgroups '
                                      '(%s): it is exiting or being replaced' % (
                                          label_of(request), '; '.join(init[0]['mismatches']) if init else
                                          'it left the container'))
    return record, record['init_pid'], init[0]['starttime']


def open_container(request, types):
    """The open Target of the container's init, for ``types`` (None: every namespace that differs)."""
    record, pid, starttime = find_init(request)
    try:
        return open_process_target(ProcRoot(request.get('proc_root') or '/proc'), pid, types, starttime), record
    except TargetGone as exc:
        raise EntrypointError('gone', 'container %s: %s' % (label_of(request), exc))
    except EnterError as exc:
        raise EntrypointError('enter', 'container %s: %s' % (label_of(request), exc))


# ---------------------------------------------------------------------------- operations

def run_exec(request):
    """Run the command line through the shell inside the container; returns its exit status."""
    enter_all = request.get('namespaces', ALL) == ALL
    types = None if enter_all else list(request['namespaces'])
    shell = request.get('shell') or '/bin/sh'
    env = dict(os.environ)
    if enter_all:
        env['PATH'] = DEFAULT_PATH   # the node's PATH means nothing in the container's file system
    target, dummy = open_container(request, types)

    def exec_failed(code):
        if enter_all:
            raise EntrypointError('shell', 'container %s has no usable %s (%s): namespaces: all runs commands with '
                                           'the container\'s own shell and Python; for a distroless container use '
                                           'the sidecar mode, namespaces: [net, pid, uts, ipc, cgroup], which runs '
                                           'them with the node\'s' % (label_of(request), shell, os.strerror(code)))
        raise EntrypointError('shell', 'cannot run %s on the node: %s' % (shell, os.strerror(code)))

    with target:
        try:
            return run_entered(target, [shell, '-c', request.get('command') or ''], env, change_root=enter_all,
                               own_proc=not enter_all and 'pid' in target.types and 'mnt' not in target.types,
                               on_exec_error=exec_failed)
        except TargetGone as exc:
            raise EntrypointError('gone', 'container %s: %s' % (label_of(request), exc))
        except EnterError as exc:
            raise EntrypointError('enter', 'container %s: %s' % (label_of(request), exc))


def _enter_file_system(request):
    """In ``all`` mode, enter the container's mount (and user) namespace and its root."""
    if request.get('namespaces', ALL) != ALL:
        return
    target, dummy = open_container(request, None)
    with target:
        try:
            enter_namespaces([entry for entry in target.entries if entry[0] in ('mnt', 'user')])
            if 'user' in target.types:
                become_namespace_root()   # files are written as the container's root, not the overflow user
        except EnterError as exc:
            raise EntrypointError('enter', 'container %s: %s' % (label_of(request), exc))
        if target.root_fd is not None:
            os.fchdir(target.root_fd)
            os.chroot('.')
        os.chdir('/')


def _copy(source, destination):
    while True:
        chunk = os.read(source, COPY_CHUNK)
        if not chunk:
            return
        view = memoryview(chunk)
        while view:
            view = view[os.write(destination, view):]


def run_put(request):
    """stdin to ``path`` as the container sees it (the node's file system in the sidecar mode)."""
    path = request.get('path') or ''
    _enter_file_system(request)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise EntrypointError('file', 'cannot write %s in container %s: %s'
                              % (path, label_of(request), os.strerror(exc.errno)))
    try:
        if not request.get('empty'):
            _copy(sys.stdin.fileno(), fd)
    finally:
        os.close(fd)
    return 0


def run_fetch(request):
    """``path`` as the container sees it to stdout."""
    path = request.get('path') or ''
    _enter_file_system(request)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise EntrypointError('file', 'cannot read %s in container %s: %s'
                              % (path, label_of(request), os.strerror(exc.errno)))
    try:
        _copy(fd, sys.stdout.fileno())
    finally:
        os.close(fd)
    return 0


OPERATIONS = {'exec': run_exec, 'put': run_put, 'fetch': run_fetch}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) != 1:
            raise EntrypointError('request', 'usage: python3 payload.zip REQUEST_JSON')
        request = parse_request(argv[0])
        check_privilege()
        return OPERATIONS[request['op']](request)
    except EntrypointError as exc:
        report = {'kind': exc.kind, 'msg': exc.msg}
    except OSError as exc:
        report = {'kind': 'node', 'msg': '%s: %s' % (type(exc).__name__, os.strerror(exc.errno or errno.EIO))}
    sys.stderr.write(ERROR_MARKER + json.dumps(report) + '\n')
    sys.stderr.flush()
    return ERROR_STATUS
