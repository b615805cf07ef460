#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r"""
module: container_info
short_description: Locate containers and their processes from /proc and the cgroup file system
version_added: 0.1.0
description:
  - Finds containers on a Linux host without asking any container engine, so it also works
    when the engine is wedged. It walks the directories of every mounted cgroup hierarchy
    (cgroup v1, v2 and hybrid hosts), recognises the cgroup names that container runtimes
    make, and reads C(cgroup.procs) of each container recursively.
  - Recognised layouts - Docker (cgroupfs C(/docker/ID), systemd C(docker-ID.scope)),
    containerd (native C(/NAMESPACE/ID), nerdctl C(nerdctl-ID.scope), CRI C(cri-containerd-ID.scope)),
    Kubernetes (cgroupfs C(/kubepods[/QOS]/podUID/ID) and systemd
    C(kubepods[-QOS]-podUID.slice), QoS class guaranteed, burstable or besteffort),
    CRI-O (C(crio-ID), conmon C(crio-conmon-ID)), Podman (C(libpod-ID), conmon
    C(libpod-conmon-ID), pods C(machine-libpod_pod_ID.slice), cgroupfs C(/libpod_parent),
    rootless below C(user@UID.service)), systemd-nspawn (C(machine-NAME.scope)) and LXC
    (C(lxc.payload.NAME), monitor C(lxc.monitor.NAME), legacy C(/lxc/NAME)).
    Cgroups that follow none of these are not reported; nothing is guessed from other names.
  - For each container it reports the host PIDs with their PID inside the container
    (the last field of C(NSpid) in C(/proc/PID/status)), command lines and start times,
    the namespaces of its init process and which of them are shared with the host or with
    other containers (the sandbox of a pod), and whether every PID's own
    C(/proc/PID/cgroup) confirms the membership.
  - Processes that exit during the lookup, empty C(cgroup.procs) and unreadable cgroup files
    are reported in RV(containers[].problems) and RV(notes); they never fail the module.
  - Paths in C(/proc/PID/cgroup) are relative to the reader's cgroup namespace. When the
    module runs outside the initial cgroup namespace it joins the initial one if it may
    (CAP_SYS_ADMIN), and says in RV(cgroup_namespace) and RV(notes) what it did.
author:
  - nsops developers (@nsops)
options:
  id:
    description:
      - Container ID, or a prefix of it, as the runtime shows it (C(docker ps), C(crictl ps),
        C(podman ps)). Hexadecimal digits only; upper case is accepted.
      - A prefix that matches more than one container is an error that lists the candidates.
    type: str
  name:
    description:
      - Name of a container whose runtime names its cgroup after it instead of a hexadecimal
        ID - LXC, systemd-nspawn, and containerd containers started with C(ctr run IMAGE NAME)
        in the C(default) namespace.
    type: str
  pod_uid:
    description:
      - Kubernetes pod UID (C(kubectl get pod NAME -o jsonpath={.metadata.uid})), with
        C(-) or with the C(_) of the systemd cgroup driver, or the 32 hex digits of a static pod.
      - Selects every container of the pod, the sandbox (pause) container included.
    type: str
  runtime:
    description:
      - Only containers of this runtime.
      - V(cri) is a Kubernetes container under the cgroupfs driver named by its bare ID, where
        the cgroup does not tell whether containerd or cri-dockerd runs it.
    type: str
    choices: [docker, containerd, cri, cri-o, podman, systemd-nspawn, lxc]
  pid:
    description:
      - A host PID; selects the container this process belongs to, from its own C(/proc/PID/cgroup).
      - With O(pid_namespace_of), a PID as seen inside that container instead; the module
        translates it to the host PID (RV(host_pid)) through C(NSpid).
      - Cannot be combined with O(id), O(name), O(pod_uid) or O(runtime).
    type: int
  pid_namespace_of:
    description:
      - The container (ID, unique ID prefix, or name) in whose PID namespace O(pid) is counted.
      - Processes of other containers of the same pod that share the PID namespace are found too.
    type: str
notes:
  - With a O(proc_root) other than V(/proc), cgroup mount points read from its mountinfo are
    looked up below the parent directory of O(proc_root) (V(/host/proc) -> C(/host/sys/fs/cgroup/...)).
  - Run as root (O(pid) of other users' processes and their namespaces need CAP_SYS_PTRACE).
  - Without selectors every container on the host is listed.
  - Selectors O(id), O(name), O(pod_uid) and O(runtime) combine; a container must match all.
  - No engine API is used; container names given by Docker, Podman or Kubernetes are not in the cgroup
    tree and so are not reported. A O(name) that matches nothing says so in RV(notes), with how
    to get the ID instead.
  - O(pid) of a monitor (LXC monitor, nspawn supervisor, containerd-shim, conmon) returns the
    container it supervises, with a note in RV(notes) that the PID is its monitor.
seealso:
  - plugin: nsops.namespaces.cgroup_container
    plugin_type: filter
extends_documentation_fragment:
  - nsops.namespaces._attributes
  - nsops.namespaces._attributes.INFO_MODULE
  - nsops.namespaces._proc_root
"""

EXAMPLES = r"""
- name: List every container on the host
  nsops.namespaces.container_info:
  register: all_containers

- name: Find a container by a prefix of its ID
  nsops.namespaces.container_info:
    id: 3f4e1a2b9c
  register: found

- name: Show its host PIDs and the PIDs inside it
  ansible.builtin.debug:
    msg: "{{ item.pid }} is PID {{ item.inner_pid }} inside: {{ item.cmdline | join(' ') }}"
  loop: "{{ found.containers[0].processes }}"
  when: found.containers | length > 0

- name: All containers of a Kubernetes pod, pause sandbox included
  nsops.namespaces.container_info:
    pod_uid: 5f0c3f22-6b1c-4c1e-9f3e-2b7a4d1e8c90

- name: Which container does host PID 4242 belong to?
  nsops.namespaces.container_info:
    pid: 4242

- name: Host PID of PID 1 inside a container
  nsops.namespaces.container_info:
    pid: 1
    pid_namespace_of: 3f4e1a2b9c
  register: translated

- name: Every CRI-O container, from a privileged pod that mounts the host's /proc and /sys
  nsops.namespaces.container_info:
    runtime: cri-o
    proc_root: /host/proc
"""

RETURN = r"""
containers:
  description: The containers that match the selectors, sorted by runtime, pod and ID.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Container ID from the cgroup name; V(null) for containers known by name only.
      returned: always
      type: str
      sample: 3f4e1a2b9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f
    name:
      description: Container name where the layout carries one (LXC, systemd-nspawn, containerd native).
      returned: always
      type: str
      sample: web1
    runtime:
      description: Runtime whose cgroup naming matched.
      returned: always
      type: str
      sample: cri-o
    cgroup_driver:
      description: V(systemd) for C(.scope)/C(.slice) names, V(cgroupfs) for plain directories.
      returned: always
      type: str
      sample: systemd
    pod_uid:
      description: Kubernetes pod UID (with C(-)); V(null) outside Kubernetes.
      returned: always
      type: str
      sample: 5f0c3f22-6b1c-4c1e-9f3e-2b7a4d1e8c90
    qos:
      description: Kubernetes QoS class of the pod (V(guaranteed), V(burstable), V(besteffort)).
      returned: always
      type: str
      sample: burstable
    podman_pod_id:
      description:
        - ID of the Podman pod the container belongs to, from C(machine-libpod_pod_ID.slice)
          (systemd manager) or C(/libpod_parent/ID/) (cgroupfs manager).
        - Kubernetes pods are in RV(containers[].pod_uid); no other layout names a pod.
      returned: always
      type: str
    containerd_namespace:
      description: containerd namespace of a native containerd container.
      returned: always
      type: str
      sample: default
    rootless_uid:
      description: UID of the user whose C(user@UID.service) holds a rootless container.
      returned: always
      type: int
    cgroup:
      description: The container's cgroup path in the unified hierarchy, else in the first v1 hierarchy.
      returned: always
      type: str
      sample: /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f0c3f22_6b1c_4c1e_9f3e_2b7a4d1e8c90.slice/crio-3f4e.scope
    cgroups:
      description: The container's cgroup path in each hierarchy it was found in (C(unified) is cgroup v2).
      returned: always
      type: dict
      sample: {"memory": "/docker/3f4e1a2b", "unified": "/docker/3f4e1a2b"}
    state:
      description:
        - V(running) when it has processes, V(empty) when C(cgroup.procs) is empty,
          V(monitor_only) when only the conmon or LXC monitor cgroup exists.
      returned: always
      type: str
      sample: running
    init_pid:
      description: Host PID of the container's init (PID 1 of its PID namespace, else its oldest process).
      returned: always
      type: int
      sample: 4242
    pids:
      description: Host PIDs of all processes in the container's cgroups, sub-cgroups included.
      returned: always
      type: list
      elements: int
      sample: [4242, 4250]
    vanished_pids:
      description: PIDs listed in C(cgroup.procs) that exited before they could be read.
      returned: always
      type: list
      elements: int
      sample: []
    processes:
      description: One entry per host PID.
      returned: always
      type: list
      elements: dict
      contains:
        pid:
          description: Host PID.
          returned: always
          type: int
        inner_pid:
          description: PID inside the container (last field of NSpid).
          returned: always
          type: int
        nspid:
          description: The NSpid chain, from the host's PID namespace to the innermost.
          returned: always
          type: list
          elements: int
        ppid:
          description: Parent PID on the host.
          returned: always
          type: int
        comm:
          description: Command name from C(/proc/PID/stat).
          returned: always
          type: str
        state:
          description: Process state letter (V(R), V(S), V(Z), ...).
          returned: always
          type: str
        cmdline:
          description: Command line.
          returned: always
          type: list
          elements: str
        starttime:
          description: Start time in clock ticks after boot; with the PID it identifies the process.
          returned: always
          type: int
        cgroup:
          description: The process's own cgroup path (unified hierarchy first).
          returned: always
          type: str
        verified:
          description: True when the process's own C(/proc/PID/cgroup) (and cpuset on v1) puts it in this container.
          returned: always
          type: bool
        mismatches:
          description: Why RV(containers[].processes[].verified) is false.
          returned: always
          type: list
          elements: str
    namespaces:
      description: Namespace type to inode of the container's init process.
      returned: always
      type: dict
      sample: {"net": 4026532612, "pid": 4026532611, "user": 4026531837}
    shared_with_host:
      description: Namespace types the container shares with the host (initial namespaces); V(null) if unknown.
      returned: always
      type: list
      elements: str
      sample: [cgroup, time, user]
    shared_with_containers:
      description:
        - Namespace type to the other containers (ID or name) in the same, non-host namespace,
          such as the pause container of a pod for V(net), V(ipc) and V(uts).
      returned: always
      type: dict
      sample: {"net": ["9b7bd001bbef..."], "ipc": ["9b7bd001bbef..."]}
    monitor:
      description:
        - The engine process supervising the container, V(null) if it has none (crun or runc
          run detached leave none; the init is then a child of PID 1).
        - From the monitor's own cgroup where the layout has one (CRI-O and Podman
          C(*-conmon-ID), LXC C(lxc.monitor.NAME), the systemd-nspawn supervisor in
          C(machine-NAME.scope/supervisor)); else the parent of the init process when it is
          a containerd-shim (Docker, containerd) or conmon (Podman under the cgroupfs manager)
          outside the container's cgroups.
        - Monitor PIDs are never listed in RV(containers[].pids).
      returned: always
      type: dict
      contains:
        source:
          description: V(cgroup) when found by the monitor's cgroup, V(parent) when it is the init's parent.
          returned: always
          type: str
          choices: [cgroup, parent]
        cgroup:
          description: Cgroup path of the monitor.
          returned: always
          type: str
        cgroups:
          description: Its path per hierarchy.
          returned: always
          type: dict
        pids:
          description: Host PIDs of the monitor.
          returned: always
          type: list
          elements: int
        processes:
          description: Same fields as RV(containers[].processes).
          returned: always
          type: list
          elements: dict
    monitor_pid:
      description: Host PID of the monitor (containerd-shim, conmon, LXC monitor, nspawn supervisor), V(null) without one.
      returned: always
      type: int
      sample: 4199
    verified:
      description: True when the container has processes and every one of them is verified.
      returned: always
      type: bool
    problems:
      description: What could not be read or changed under our feet while looking at this container.
      returned: always
      type: list
      elements: str
host_pid:
  description: The host PID of O(pid) counted in the PID namespace of O(pid_namespace_of); V(null) if that container is not on this host.
  returned: when O(pid_namespace_of) is set
  type: int
  sample: 4242
cgroup_namespace:
  description: Whether cgroup paths are absolute (initial cgroup namespace) or relative.
  returned: always
  type: dict
  contains:
    initial:
      description: True when the module ran in the initial cgroup namespace; V(null) when it cannot tell.
      returned: always
      type: bool
    inode:
      description: Inode of the module's cgroup namespace.
      returned: always
      type: int
    initial_inode:
      description: Inode of the initial cgroup namespace, V(null) if not visible.
      returned: always
      type: int
    joined_initial:
      description: True when the module left its own cgroup namespace for the initial one.
      returned: always
      type: bool
hierarchies:
  description: The mounted cgroup hierarchies that were walked.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Controllers of a v1 hierarchy (V(cpu,cpuacct), V(name=systemd)) or V(unified) for v2.
      returned: always
      type: str
    version:
      description: 1 or 2.
      returned: always
      type: int
    mount_point:
      description: Where it is mounted.
      returned: always
      type: str
    root:
      description: The cgroup mounted there (V(/) on a host).
      returned: always
      type: str
notes:
  description: What the module noticed about the host as a whole (cgroup namespace, unreadable directories).
  returned: always
  type: list
  elements: str
duration:
  description: Seconds the lookup took.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsops.namespaces.plugins.module_utils._answer import ansible_module, answer

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.cgroups import RUNTIMES
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.locator import Request, run
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import ContainerError


def main():
    module = ansible_module(
        AnsibleModule,
        argument_spec=dict(
            id=dict(type='str'),
            name=dict(type='str'),
            pod_uid=dict(type='str'),
            runtime=dict(type='str', choices=list(RUNTIMES)),
            pid=dict(type='int'),
            pid_namespace_of=dict(type='str'),
            proc_root=dict(type='path', default='/proc'),
        ),
        supports_check_mode=True,
    )
    answer(module, run, lambda m: Request.from_params(m.params, m.check_mode), ContainerError)


if __name__ == '__main__':
    main()
