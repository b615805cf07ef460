# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
name: cgroup_container
version_added: 0.1.0
author:
  - nsops developers (@nsops)
short_description: Which container a cgroup path belongs to
description:
  - Reads a cgroup path, or the whole text of C(/proc/PID/cgroup), and names the container
    it belongs to from the cgroup naming of the runtime - Docker, containerd (native,
    nerdctl, CRI), Kubernetes (cgroupfs and systemd drivers, with pod UID and QoS class),
    CRI-O, Podman, systemd-nspawn and LXC.
  - A path of no known layout gives RV(_value.container=false) and every other field V(null);
    nothing is guessed.
  - For C(/proc/PID/cgroup) text each line is read; the container named by most hierarchies
    wins, the unified (v2) hierarchy breaking ties.
  - The same rules as M(nsops.namespaces.container_info) apply.
positional: _input
options:
  _input:
    description:
      - A cgroup path such as C(/docker/ID), the text of C(/proc/PID/cgroup), or a list of its lines.
    type: raw
    required: true
seealso:
  - module: nsops.namespaces.container_info
'''

EXAMPLES = r'''
# {'container': true, 'runtime': 'docker', 'id': '3f4e...', 'cgroup_driver': 'systemd', ...}
docker_ctr: "{{ ('/system.slice/docker-' ~ ('3f' * 32) ~ '.scope') | nsops.namespaces.cgroup_container }}"

# pod_uid '5f0c3f22-6b1c-4c1e-9f3e-2b7a4d1e8c90', qos 'burstable', runtime 'cri-o'
pod_of: >-
  {{ ('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f0c3f22_6b1c_4c1e_9f3e_2b7a4d1e8c90.slice/crio-'
      ~ ('ab' * 32) ~ '.scope') | nsops.namespaces.cgroup_container }}

# The container of a process, from the text of its /proc/PID/cgroup
# - name: Read the cgroups of PID 4242
#   ansible.builtin.slurp:
#     src: /proc/4242/cgroup
#   register: cg
runtime_of_4242: "{{ (cg.content | b64decode | nsops.namespaces.cgroup_container).runtime }}"

# Not a container: container is false, the rest is null
host_service: "{{ '/system.slice/cron.service' | nsops.namespaces.cgroup_container }}"
'''

RETURN = r'''
_value:
  description: What the cgroup path tells about the container.
  type: dict
  contains:
    container:
      description: True when the path follows a known container layout.
      type: bool
    runtime:
      description: V(docker), V(containerd), V(cri), V(cri-o), V(podman), V(systemd-nspawn) or V(lxc).
      type: str
    id:
      description: The container ID (hex), V(null) for containers known by name.
      type: str
    name:
      description: Container name for LXC, systemd-nspawn and named containerd containers.
      type: str
    role:
      description: V(container), or V(monitor) for a conmon or LXC monitor cgroup.
      type: str
    pod_uid:
      description: Kubernetes pod UID, with C(-).
      type: str
    qos:
      description: Kubernetes QoS class, V(guaranteed), V(burstable) or V(besteffort).
      type: str
    cgroup:
      description: The container's cgroup, the path up to the component that names it.
      type: str
    cgroup_driver:
      description: V(systemd) or V(cgroupfs).
      type: str
    podman_pod_id:
      description: Podman pod ID.
      type: str
    containerd_namespace:
      description: containerd namespace of a native containerd container.
      type: str
    rootless_uid:
      description: UID of the C(user@UID.service) of a rootless container.
      type: int
    path:
      description: The cgroup path that was read (for C(/proc/PID/cgroup) text, the one that decided).
      type: str
'''

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
