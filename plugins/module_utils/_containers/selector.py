# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The options that select containers and processes, and their errors.

container_info, namespace_exec and socket_info select containers by the same options
and answer a malformed one with the same message; every module that takes a PID checks
it with :func:`check_pid` or :func:`check_pids`.
"""


import re

from ansible_collections.nsops.namespaces.plugins.module_utils import _pids as pids

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.cgroups import (
    NAMED_RUNTIMES,
    POD_UID_RE,
    RUNTIMES,
    normalize_pod_uid,
)

ID_PREFIX_RE = re.compile(r'^[0-9a-f]{1,64}$')


class ContainerError(Exception):
    """A container lookup cannot be answered: ``msg`` says why, ``result`` holds fields for the failed result."""

    def __init__(self, msg, **result):
        super(ContainerError, self).__init__(msg)
        self.msg = msg
        self.result = result


class SelectorError(ContainerError, ValueError):
    """The selector options are malformed or contradict each other."""


class ContainerLookupError(ContainerError):
    """The selector is well-formed but cannot be answered (ambiguous prefix, no such PID)."""


# ---------------------------------------------------------------------------- process IDs

def check_pid(value, option='pid', error=SelectorError):
    """``value`` as a process ID (see ``_pids.check_pid``); raises ``error`` otherwise."""
    return pids.check_pid(value, option, error)


def check_pids(values, option='pids', error=SelectorError):
    """A list of process IDs (see ``_pids.check_pids``); ``error`` names every bad one."""
    return pids.check_pids(values, option, error)


# ---------------------------------------------------------------------------- selectors

class Selector:
    """Validated selector options; every field may be None (list every container)."""

    __slots__ = ('id', 'name', 'pod_uid', 'runtime', 'pid', 'pid_namespace_of')

    def __init__(self, container_id=None, name=None, pod_uid=None, runtime=None, pid=None,
                 pid_namespace_of=None):
        self.id = container_id
        self.name = name
        self.pod_uid = pod_uid
        self.runtime = runtime
        self.pid = pid
        self.pid_namespace_of = pid_namespace_of

    @classmethod
    def from_params(cls, params):
        """Check the module's selector options and return a Selector; SelectorError if bad."""
        container_id = _clean_id(params.get('id'))
        name = _clean_name(params.get('name'))
        pod_uid = _clean_pod_uid(params.get('pod_uid'))
        runtime = params.get('runtime')
        if runtime is not None and runtime not in RUNTIMES:
            raise SelectorError('runtime %r is not known: use one of %s' % (runtime, ', '.join(RUNTIMES)))
        pid = check_pid(params.get('pid'))
        namespace_of = params.get('pid_namespace_of')
        if namespace_of is not None:
            namespace_of = str(namespace_of).strip()
            if not namespace_of:
                raise SelectorError('pid_namespace_of is empty: give the ID (or a unique prefix) or the name '
                                    'of the container whose PID namespace pid is counted in')
            if pid is None:
                raise SelectorError('pid_namespace_of needs pid: give the PID as seen inside that container '
                                    'in pid, e.g. pid=1 pid_namespace_of=%s' % namespace_of)
        if pid is not None:
            others = [option for option, value in (('id', container_id), ('name', name), ('pod_uid', pod_uid),
                                                   ('runtime', runtime)) if value is not None]
            if others:
                if namespace_of is None:
                    raise SelectorError(
                        'pid selects the container of one host process and cannot be combined with %s: '
                        'use either pid or %s; to translate a PID seen inside a container, give that '
                        'container in pid_namespace_of instead' % (', '.join(others), ' / '.join(others)))
                raise SelectorError(
                    'pid with pid_namespace_of already names the container; remove %s' % ', '.join(others))
        if runtime in NAMED_RUNTIMES and container_id is not None and runtime != 'containerd':
            raise SelectorError('%s containers have no hexadecimal ID in their cgroup: select them with name, '
                                'not id' % runtime)
        if name is not None and runtime is not None and runtime not in NAMED_RUNTIMES:
            raise SelectorError('%s containers carry no name in their cgroup: select them with id, or use '
                                'name only with runtime %s' % (runtime, ', '.join(NAMED_RUNTIMES)))
        return cls(container_id, name, pod_uid, runtime, pid, namespace_of)


def selection_text(container_id=None, pod_uid=None, name=None, runtime=None):
    """The selector options as a message names them: ``container_id 3f4e and pod_uid ...``."""
    return ' and '.join('%s %s' % (option, value) for option, value in
                        (('container_id', container_id), ('name', name), ('pod_uid', pod_uid),
                         ('runtime', runtime)) if value)


def _clean_id(value):
    if value is None:
        return None
    text = str(value).strip().lower()
    if not ID_PREFIX_RE.match(text):
        raise SelectorError(
            'id %r is not a container ID: use the hexadecimal ID (or a prefix of it) as shown by '
            '`docker ps`, `crictl ps` or `podman ps`, only 0-9 and a-f, at most 64 characters; '
            'LXC, systemd-nspawn and named containerd containers are selected with name' % (value,))
    return text


def _clean_name(value):
    if value is None:
        return None
    text = str(value).strip()
    if not text or '/' in text:
        raise SelectorError('name %r is not a container name: give the LXC, systemd-nspawn or containerd '
                            'name, without slashes' % (value,))
    return text


def _clean_pod_uid(value):
    if value is None:
        return None
    text = str(value).strip().lower()
    if not POD_UID_RE.match(text):
        raise SelectorError(
            'pod_uid %r is not a Kubernetes pod UID: expected 8-4-4-4-12 hexadecimal digits such as '
            '5f0c3f22-6b1c-4c1e-9f3e-2b7a4d1e8c90 (kubectl get pod NAME -o jsonpath={.metadata.uid}), '
            'or 32 hex digits for a static pod' % (value,))
    return normalize_pod_uid(text)
