# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: cgroup_container.yml beside this file.


from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.cgroups import describe, identify_cgroup_text
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcParseError


def cgroup_container(value):
    """A cgroup path, or the text of /proc/PID/cgroup, -> the container it names."""
    if isinstance(value, (list, tuple)):
        if not all(isinstance(line, str) for line in value):
            raise AnsibleFilterError('cgroup_container: a list must hold the lines of /proc/PID/cgroup as strings')
        value = '\n'.join(value)
    if not isinstance(value, str):
        raise AnsibleFilterError('cgroup_container needs a cgroup path or the text of /proc/PID/cgroup, '
                                 'got %s' % type(value).__name__)
    text = to_text(value).strip()
    if not text:
        raise AnsibleFilterError('cgroup_container got an empty string: pass a cgroup path such as '
                                 '/docker/ID or the text of /proc/PID/cgroup')
    for line in text.splitlines():
        path_part = line.split(':', 2)[-1]
        if any(part in ('.', '..') for part in path_part.split('/')):
            raise AnsibleFilterError('cgroup_container: %r has a "." or ".." component, which the kernel never '
                                     'writes in a cgroup path: pass the path as /proc/PID/cgroup shows it' % (path_part,))
    try:
        identity, path = identify_cgroup_text(text)
    except ProcParseError as exc:
        raise AnsibleFilterError('cgroup_container: %s; pass one path or the whole /proc/PID/cgroup text' % exc)
    result = describe(identity)
    result['container'] = identity is not None
    result['path'] = path
    return result


class FilterModule(object):

    def filters(self):
        return {'cgroup_container': cgroup_container}
