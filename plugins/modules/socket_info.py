#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
---
module: socket_info
short_description: List TCP, UDP and unix sockets of every network namespace with their owning processes
version_added: 0.1.0
description:
  - Lists the sockets of every network namespace on the host (or of the ones selected),
    like running C(ss -tuxanp) inside each of them, without entering any from the module.
  - The network namespaces come from the discovery engine of
    M(nsops.namespaces.namespace_facts) - processes and nsfs bind mounts - and from
    open fds that hold one.
  - For each namespace the socket tables C(/proc/PID/net/tcp), C(tcp6), C(udp), C(udp6) and
    C(unix) are read through one process in it. A namespace no process is in (only a
    C(ip netns add) bind mount or a held fd keeps it) is read by a forked child that enters
    it; the module process stays where it is.
  - Each socket is mapped to the processes holding it through C(/proc/PID/fd) links
    C(socket:[INODE]) of every process, so owners in other network namespaces (a socket
    created before a C(setns), or passed over a unix socket) are found too.
  - Each namespace and each socket says which container, if any, owns the network
    namespace (the container of its oldest process, from the cgroup file system as
    M(nsops.namespaces.container_info) finds it).
  - Processes that exit during the scan are normal and never fail the module.
author:
  - nsops developers (@nsops)
extends_documentation_fragment:
  - nsops.namespaces._attributes
  - nsops.namespaces._attributes.INFO_MODULE
  - nsops.namespaces._proc_root
options:
  container_id:
    description:
      - Only the network namespace of this container (ID or a unique prefix of it).
      - Resolved like M(nsops.namespaces.container_info) does; an ambiguous prefix is an error.
    type: str
  pod_uid:
    description:
      - Only the network namespaces of the containers of this Kubernetes pod (usually one,
        shared by all of them). Combines with O(container_id).
    type: str
  name:
    description:
      - Only the network namespace of the container of this name, for runtimes that name the
        cgroup after the container (LXC, systemd-nspawn, containerd C(ctr run) in the
        C(default) namespace), as O(nsops.namespaces.container_info#module:name) selects it.
      - Docker, Podman and Kubernetes names are not in cgroup paths; use O(container_id) for those.
    type: str
  runtime:
    description:
      - Only containers of this runtime; combines with the other selectors as in
        M(nsops.namespaces.container_info).
    type: str
    choices: [docker, containerd, cri, cri-o, podman, systemd-nspawn, lxc]
  pid:
    description:
      - Only the network namespace this process (host PID) is in, as C(nsenter -t PID -n ss) shows it.
      - Cannot be combined with O(container_id), O(pod_uid), O(name) or O(runtime).
    type: int
  protocols:
    description:
      - Which socket tables to read.
    type: list
    elements: str
    choices: [tcp, udp, unix]
    default: [tcp, udp, unix]
  state:
    description:
      - Only sockets in one of these states.
      - The kernel's TCP state names in lower case; V(unconnected) is C(TCP_CLOSE), what
        C(ss) shows as C(UNCONN) - a bound UDP server socket, or an unconnected unix socket.
      - Unix sockets are V(listen), V(established), V(syn_sent), V(unconnected) or V(closing).
      - To see every server socket of all protocols, use RV(sockets[].listening) instead.
    type: list
    elements: str
    choices: [established, syn_sent, syn_recv, fin_wait1, fin_wait2, time_wait, unconnected,
              close_wait, last_ack, listen, closing, new_syn_recv, bound_inactive]
  port:
    description:
      - Only TCP and UDP sockets whose local or remote port is one of these. Unix sockets
        have no port and are left out.
    type: list
    elements: int
notes:
  - Run as root (C(become=true)). Without C(CAP_SYS_PTRACE) the namespaces and open files
    of other users' processes cannot be read; their sockets then show no owner and a
    warning says how many processes were skipped.
  - C(TIME_WAIT) and C(NEW_SYN_RECV) sockets have no socket file (inode 0) and so no owner.
  - The tables also list sockets that the namespace holds without any process (a socket
    leaked by a kernel module, or sockets of a namespace kept only by a bind mount).
  - Cost follows the question. Without a selector every process is read once (its
    namespace links and open files). With O(pid) or a container selector one C(ns/net)
    link per process finds the members of the namespaces asked for, and only the members'
    open files are read; the other processes' files are read only while a socket of the
    tables has no owner yet (a socket made before a C(setns), or passed to a process
    outside). A process outside that holds a socket a member also holds is then not
    listed among its owners (C(ss -p) reads every process for every query), and
    C(namespaces[].bind_mounts) lists the bind mounts of the module's own mount namespace.
seealso:
  - module: nsops.namespaces.namespace_exec
  - module: nsops.namespaces.container_info
  - module: nsops.namespaces.namespace_facts
  - name: ss(8)
    description: Another utility to investigate sockets (iproute2).
    link: https://man7.org/linux/man-pages/man8/ss.8.html
  - name: proc_net(5)
    description: The socket tables in /proc/net.
    link: https://man7.org/linux/man-pages/man5/proc_net.5.html
'''

EXAMPLES = r'''
- name: Every listening TCP socket on the host, in every network namespace
  nsops.namespaces.socket_info:
    protocols: [tcp]
    state: [listen]
  become: true
  register: listening

- name: Who listens where
  ansible.builtin.debug:
    msg: >-
      {{ item.netns }} {{ item.container or 'host' }}
      {{ item.local_address }}:{{ item.local_port }}
      {{ item.owners | map(attribute='comm') | join(',') }}
  loop: "{{ listening.sockets }}"
  loop_control:
    label: "{{ item.netns }} {{ item.local_port }}"

- name: Server sockets (TCP listen, UDP bound) of one container
  nsops.namespaces.socket_info:
    container_id: 3f4e1a2b9c
    protocols: [tcp, udp]
  become: true
  register: container_sockets

- name: Its servers, with the PID inside the container of each owner
  ansible.builtin.debug:
    msg: "{{ item.protocol }} {{ item.local_port }} {{ item.owners | map(attribute='inner_pid') | list }}"
  loop: "{{ container_sockets.sockets | selectattr('listening') }}"

- name: Who talks to port 5432, in any namespace
  nsops.namespaces.socket_info:
    port: [5432]
    state: [established]
  become: true

- name: The sockets a process sees (its network namespace)
  nsops.namespaces.socket_info:
    pid: 4242
  become: true
'''

RETURN = r'''
namespaces:
  description: The network namespaces that were read, sorted by inode.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: Reference C(net:[INODE]), as in M(nsops.namespaces.namespace_facts).
      returned: always
      type: str
      sample: "net:[4026532615]"
    inode:
      description: Inode of the namespace.
      returned: always
      type: int
      sample: 4026532615
    nprocs:
      description: Processes in it.
      returned: always
      type: int
      sample: 2
    read_from:
      description:
        - Where the tables came from - C(pid) of the process whose C(/proc/PID/net) was read,
          or C(path) of the bind mount or held fd a forked child entered it through.
        - V(null) when it could not be read (see RV(namespaces[].problems)).
      returned: always
      type: dict
      sample: {"pid": 3120, "path": null}
    bind_mounts:
      description: Paths it is bind-mounted on (C(ip netns add)).
      returned: always
      type: list
      elements: str
      sample: [/run/netns/blue]
    container:
      description: ID (or name) of the container owning it, V(null) when no container does.
      returned: always
      type: str
      sample: 3f4e1a2b9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f
    pod_uid:
      description: Kubernetes pod UID of that container.
      returned: always
      type: str
    containers:
      description: Every container whose init process is in it (all containers of a pod).
      returned: always
      type: list
      elements: str
    sockets:
      description: How many sockets its tables hold (before the O(state) and O(port) filters).
      returned: always
      type: int
      sample: 14
    problems:
      description: Why it could not be read, or lines of its tables that were skipped.
      returned: always
      type: list
      elements: str
      sample: []
sockets:
  description: One entry per socket that passed the filters, sorted by namespace, protocol and local port.
  returned: always
  type: list
  elements: dict
  contains:
    netns:
      description: Reference of the network namespace the socket is in.
      returned: always
      type: str
      sample: "net:[4026532615]"
    container:
      description: ID (or name) of the container owning that network namespace; V(null) for none.
      returned: always
      type: str
    pod_uid:
      description: Its Kubernetes pod UID.
      returned: always
      type: str
    protocol:
      description: V(tcp), V(udp) or V(unix).
      returned: always
      type: str
      sample: tcp
    family:
      description: V(ipv4), V(ipv6) or V(unix).
      returned: always
      type: str
      sample: ipv4
    state:
      description: State as named in O(state); V(unknown) for a code this module does not know.
      returned: always
      type: str
      sample: listen
    listening:
      description: True for a server socket, as C(ss -l) lists them - TCP and unix in V(listen), UDP bound and unconnected.
      returned: always
      type: bool
      sample: true
    local_address:
      description: Local IP address (TCP and UDP).
      returned: always
      type: str
      sample: 0.0.0.0
    local_port:
      description: Local port (TCP and UDP).
      returned: always
      type: int
      sample: 8080
    remote_address:
      description: Remote IP address (TCP and UDP).
      returned: always
      type: str
      sample: 0.0.0.0
    remote_port:
      description: Remote port (TCP and UDP).
      returned: always
      type: int
      sample: 0
    path:
      description: Path a unix socket is bound to; abstract names start with C(@); V(null) when unbound.
      returned: always
      type: str
      sample: /run/dbus/system_bus_socket
    type:
      description: Unix socket type - V(stream), V(dgram) or V(seqpacket).
      returned: always
      type: str
    inode:
      description: Socket inode, as in the C(socket:[INODE]) fd links; 0 for sockets without a file (C(time_wait)).
      returned: always
      type: int
      sample: 1884321
    uid:
      description: UID that created the socket (TCP and UDP).
      returned: always
      type: int
      sample: 0
    rx_queue:
      description: Receive queue in bytes (for a listening TCP socket, the connections waiting for accept); TCP and UDP.
      returned: always
      type: int
      sample: 0
    tx_queue:
      description: Send queue in bytes; TCP and UDP.
      returned: always
      type: int
      sample: 0
    owners:
      description:
        - The processes holding the socket open, one entry per file descriptor.
        - C(inner_pid) is the PID inside its own PID namespace (the container's view),
          C(container) the container the process belongs to, C(netns) the process's own
          network namespace (it differs from RV(sockets[].netns) for a socket made elsewhere).
      returned: always
      type: list
      elements: dict
      sample: [{"pid": 73012, "fd": 3, "comm": "nc", "inner_pid": 1, "container": "3f4e1a2b9c0d", "netns": "net:[4026532615]"}]
notes:
  description: Warnings about the scan (processes that could not be read), also given as module warnings.
  returned: always
  type: list
  elements: str
duration:
  description: Seconds the scan took.
  returned: always
  type: float
  sample: 0.083
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsops.namespaces.plugins.module_utils._answer import ansible_module, answer

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.cgroups import RUNTIMES
from ansible_collections.nsops.namespaces.plugins.module_utils._sockets.engine import (
    PROTOCOLS, STATES, Query, SocketInfoError, run,
)


def main():
    module = ansible_module(
        AnsibleModule,
        argument_spec=dict(
            container_id=dict(type='str'),
            pod_uid=dict(type='str'),
            name=dict(type='str'),
            runtime=dict(type='str', choices=list(RUNTIMES)),
            pid=dict(type='int'),
            protocols=dict(type='list', elements='str', choices=list(PROTOCOLS), default=list(PROTOCOLS)),
            state=dict(type='list', elements='str', choices=list(STATES)),
            port=dict(type='list', elements='int'),
            proc_root=dict(type='path', default='/proc'),
        ),
        mutually_exclusive=[('pid', 'container_id'), ('pid', 'pod_uid')],
        supports_check_mode=True,
    )
    answer(module, run, lambda m: Query.from_params(m.params, m.check_mode), SocketInfoError)


if __name__ == '__main__':
    main()
