#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
---
module: namespace_facts
short_description: Gather facts about every Linux namespace on a host
version_added: 0.1.0
description:
  - Discovers the namespaces of all eight types (cgroup, ipc, mnt, net, pid, time, user,
    uts) from C(/proc) and nsfs, like C(lsns) and lxkns, and returns them as
    C(ansible_facts.namespaces).
  - Namespaces are found through every process (including C(pid_for_children) and
    C(time_for_children)), and optionally through threads that switched namespaces,
    open file descriptors, sockets and nsfs bind mounts in the mount table of every
    mount namespace.
  - The PID and user namespace hierarchies, owning user namespaces and owner UIDs come
    from the nsfs ioctls C(NS_GET_PARENT), C(NS_GET_USERNS) and C(NS_GET_OWNER_UID).
    Namespaces found only by climbing that hierarchy are marked C(hidden).
  - Processes that cannot be read are skipped and counted, with a warning; processes
    that exit during the scan are normal. Neither fails the module.
  - Can be used by M(ansible.builtin.gather_facts) through C(FACTS_MODULES)
    (C(ansible_facts_modules)); options then come from C(module_defaults).
author:
  - nsops developers (@nsops)
extends_documentation_fragment:
  - nsops.namespaces._attributes
  - nsops.namespaces._attributes.INFO_MODULE
  - nsops.namespaces._attributes.FACTS
  - nsops.namespaces._proc_root
options:
  sources:
    description:
      - Where to look for namespaces besides the namespace links of every process,
        which are always read.
      - V(tasks) finds threads whose namespaces differ from their process's (loose threads).
        It reads C(/proc/PID/task) of multi-threaded processes only; measured cost is within
        the noise of the namespace links (C(bench/bench_tasks.py)).
      - V(fds) finds namespaces held open by a file descriptor. It reads every open file of
        every process, which costs about a fifth more CPU than the namespace links alone
        (measured at 1,000 and 10,000 processes), so it is not a default; C(lsns) of
        util-linux 2.38 does not look there either.
      - V(sockets) finds the network namespace of every socket (SIOCGSKNS through
        C(pidfd_getfd), kernel 5.6 or later); a namespace kept alive only by a socket
        shows up this way. It reads the open files too and costs one system call per
        socket, so it is off by default.
      - V(bind_mounts) finds namespaces bind-mounted onto files (like C(ip netns add)),
        reading the mount table of every mount namespace, not only the module's own. It
        costs one read of C(mountinfo) per mount namespace, a few percent.
    type: list
    elements: str
    choices: [tasks, fds, sockets, bind_mounts]
    default: [tasks, bind_mounts]
  types:
    description:
      - The namespace types to report, like C(lsns --type). Fewer types read fewer
        links per process. Owners and parents may name user or PID namespaces left out.
    type: list
    elements: str
    choices: [cgroup, ipc, mnt, net, pid, time, user, uts]
    default: [cgroup, ipc, mnt, net, pid, time, user, uts]
  processes:
    description:
      - Also return the process table (C(processes)) with PID, parent PID, name, command
        line, start time, UID, the C(NSpid) chain, namespaces and cgroup of each process.
      - Off by default because it makes the facts large on busy hosts.
    type: bool
    default: false
  mounts:
    description:
      - Also return C(mounts), the mount table of every mount namespace from its
        C(mountinfo) (mount ID, parent ID, root, mount point, file system type, source,
        options, propagation), as lxkns discovers mount points.
      - Each mount point says whether it is C(hidden), as lxkns computes it, by an
        overmount at the same path or at a prefix of its path.
      - A mount namespace no process is in (bind-mounted, or held by an fd) is read by a
        short-lived child that joins it (C(CAP_SYS_ADMIN)); tables that cannot be read are
        left out with a warning.
      - Needs V(mnt) in O(types). Off by default because it makes the facts large.
    type: bool
    default: false
  pids:
    description:
      - Limit the process table to these PIDs (as seen in O(proc_root)). Giving PIDs turns
        on O(processes). Discovery still scans every process.
    type: list
    elements: int
    default: []
notes:
  - "Run as root (C(become: true)) for a complete picture. Without C(CAP_SYS_PTRACE) the
    namespaces of other users' processes cannot be read; they are skipped and counted
    in C(discovery.skipped) and the hierarchy may show several roots."
  - Namespace identity is the nsfs device and inode. The inode alone is unique on a
    running kernel and is what C(ref) (V(net:[4026531833])) and C(lsns) show.
  - The facts follow the JSON Schema shipped as C(meta/schemas/namespace_facts.json) in the collection.
  - Each process is visited once. On a host with 400 processes or more the visits are
    spread over up to one forked helper per CPU (at most four); the helpers only read
    /proc and nsfs and send plain data back, and if one fails its share is read again by
    the module itself.
seealso:
  - name: lsns(8)
    description: List system namespaces (util-linux).
    link: https://man7.org/linux/man-pages/man8/lsns.8.html
  - name: namespaces(7)
    description: Overview of Linux namespaces.
    link: https://man7.org/linux/man-pages/man7/namespaces.7.html
  - name: ioctl_ns(2)
    description: The nsfs ioctls used for the hierarchy.
    link: https://man7.org/linux/man-pages/man2/ioctl_ns.2.html
'''

EXAMPLES = r'''
- name: Gather namespace facts
  nsops.namespaces.namespace_facts:
  become: true

- name: Show every network namespace with its process count and command
  ansible.builtin.debug:
    msg: "{{ item.ref }}: {{ item.nprocs }} processes, {{ item.command }}"
  loop: "{{ ansible_facts.namespaces.namespaces.values() | selectattr('type', 'eq', 'net') }}"
  loop_control:
    label: "{{ item.ref }}"

- name: Include the process table for two PIDs and compare their namespaces
  nsops.namespaces.namespace_facts:
    pids: [1234, 5678]
  become: true

- name: Which namespaces do the two processes share?
  ansible.builtin.debug:
    msg: "{{ ansible_facts.namespaces | nsops.namespaces.ns_compare(1234, 5678) }}"

- name: Only network namespaces, like lsns -t net
  nsops.namespaces.namespace_facts:
    types: [net]

- name: Read the host's /proc from a privileged container
  nsops.namespaces.namespace_facts:
    proc_root: /host/proc
    sources: [tasks, fds, sockets, bind_mounts]

# In a play: gather namespace facts together with the usual ones.
# vars:
#   ansible_facts_modules: [ansible.builtin.setup, nsops.namespaces.namespace_facts]
# module_defaults:
#   nsops.namespaces.namespace_facts:
#     sources: [fds, bind_mounts]
'''

RETURN = r'''
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    namespaces:
      description: The namespaces of the host.
      returned: always
      type: dict
      contains:
        discovery:
          description:
            - How the discovery ran. C(skipped) counts processes by reason
              (C(permission_denied), C(vanished), C(malformed), C(error)); C(warnings)
              repeats the module warnings.
            - C(capabilities) are the module's effective capabilities; C(initial_cgroup_namespace)
              tells whether the module runs in the initial cgroup namespace (cgroup paths are
              then absolute), V(null) when unknown.
          returned: always
          type: dict
          sample:
            proc_root: /proc
            procfs: true
            kernel: 6.1.0-13-amd64
            capabilities: {effective: 000001ffffffffff, sys_admin: true, sys_ptrace: true}
            initial_cgroup_namespace: true
            initial_source: pid 2 (kthreadd)
            sources: [processes, tasks, bind_mounts]
            types: [cgroup, ipc, mnt, net, pid, time, user, uts]
            processes_scanned: 212
            skipped: {permission_denied: 0, vanished: 1, malformed: 0, error: 0}
            malformed_entries: 0
            warnings: []
            duration: 0.041
        initial:
          description: Type to inode of the initial namespaces (those of kthreadd, or of the oldest readable process).
          returned: always
          type: dict
          sample: {cgroup: 4026531835, ipc: 4026531839, mnt: 4026531841, net: 4026531840, pid: 4026531836, time: 4026531834, user: 4026531837, uts: 4026531838}
        self:
          description: Type to inode of the namespaces the module itself runs in.
          returned: always
          type: dict
          sample: {cgroup: 4026531835, ipc: 4026531839, mnt: 4026531841, net: 4026531840, pid: 4026531836, time: 4026531834, user: 4026531837, uts: 4026531838}
        namespaces:
          description:
            - One record per namespace, keyed by its reference C(TYPE:[INODE]).
            - C(nprocs), C(pid), C(ppid), C(command), C(uid), C(user), C(netnsid), C(parent)
              and C(owner) are the columns of C(lsns -o NS,NPROCS,PID,PPID,COMMAND,UID,USER,NETNSID,PNS,ONS);
              C(pid) is the lowest PID and C(ppid), C(command), C(uid) (the owner of
              C(/proc/PID), that is its effective UID, root when it is not dumpable) and C(user)
              describe it. C(netnsid) is the id a network namespace has in the module's
              (C(ip netns list-id)), null when it has none. C(bind_mounts) in the module's own
              mount namespace are lsns's NSFS column.
            - Where the module differs from lsns on purpose, it sees more, and says how, never
              fewer. A zombie thread-group leader whose threads live on is counted in their
              namespaces (lsns reads only the leader's links and misses it); namespaces that
              no process is in are reported too (lsns lists only those of processes).
            - C(leaders) are member processes whose parent is outside the namespace;
              C(ealdorman) is the oldest leader by start time (lxkns's term).
            - C(owner) is the owning user namespace (for a user namespace its parent),
              C(parent)/C(children) the PID or user hierarchy, C(hidden) true when the
              namespace was found only by climbing that hierarchy.
            - C(for_children) lists processes whose C(pid_for_children) or
              C(time_for_children) names the namespace; C(loose_threads), C(fds),
              C(sockets) and C(bind_mounts) list the other references found.
          returned: always
          type: dict
          sample:
            "net:[4026532281]":
              type: net
              inode: 4026532281
              dev: 4
              ref: "net:[4026532281]"
              nprocs: 2
              pid: 3120
              ppid: 3119
              command: sleep infinity
              uid: 0
              user: root
              netnsid: 5
              leaders: [3120]
              ealdorman: 3120
              owner: "user:[4026531837]"
              owner_uid: null
              parent: null
              children: []
              hidden: false
              for_children: []
              loose_threads: []
              fds: []
              sockets: []
              bind_mounts: [{mnt_ns: "mnt:[4026531841]", path: /run/netns/blue}]
        roots:
          description: References of the PID and user namespaces without a (visible) parent.
          returned: always
          type: dict
          sample: {pid: ["pid:[4026531836]"], user: ["user:[4026531837]"]}
        mounts:
          description:
            - The mount table of every mount namespace, keyed by its reference C(mnt:[INODE]).
            - C(pid) is the process whose C(/proc/PID/mountinfo) was read (paths are relative to
              its root directory), V(null) when a child joined the namespace to read it; C(via)
              says how (V(process), V(thread TID) or V(setns)).
            - Each of C(mounts) is one line of C(mountinfo) in its order. C(dev) is
              C(MAJOR:MINOR); C(optional) are the raw optional fields; C(propagation) is
              C(findmnt)'s PROPAGATION text (V(shared) or V(private), then V(,slave) and
              V(,unbindable)); C(peer_group), C(master) and C(propagate_from) are the peer group
              IDs of the C(shared:), C(master:) and C(propagate_from:) fields, V(null) when absent.
            - C(hidden) is true when the mount point cannot be reached by its path, because another
              mount is on top of it at the same path or at a prefix of its path (as lxkns computes it).
          returned: when O(mounts) is true
          type: dict
          sample:
            "mnt:[4026531841]":
              pid: 1
              via: process
              mounts:
                - mount_id: 25
                  parent_id: 1
                  dev: "0:23"
                  root: /
                  mount_point: /run
                  fstype: tmpfs
                  source: tmpfs
                  options: [rw, nosuid, nodev]
                  super_options: [rw, size=1000k, mode=755]
                  optional: ["shared:5"]
                  propagation: shared
                  peer_group: 5
                  master: null
                  propagate_from: null
                  hidden: false
        processes:
          description:
            - The process table, sorted by PID, limited to O(pids) when given.
            - C(nspid) is the PID in each PID namespace from the outermost visible to the
              innermost; C(namespaces) maps type to inode; C(for_children) maps
              C(pid_for_children)/C(time_for_children) to inode, both for the O(types) asked
              for; C(cgroup) is the path of the cgroup v1 C(cpu) controller, else of C(freezer),
              else the cgroup v2 path (as lxkns picks it), else the C(name=systemd) one, else
              the first line's.
          returned: when O(processes) is true or O(pids) is given
          type: list
          elements: dict
          sample:
            - pid: 3120
              ppid: 3119
              name: sleep
              cmdline: [sleep, infinity]
              starttime: 1234567
              uid: 0
              nspid: [3120, 1]
              namespaces: {net: 4026532281, pid: 4026532279}
              for_children: {pid_for_children: 4026532279}
              cgroup: /
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsops.namespaces.plugins.module_utils._answer import ansible_module, answer

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import (
    DEFAULT_SOURCES, SOURCES, DiscoveryError, Request, run,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import NS_TYPES


def main():
    module = ansible_module(
        AnsibleModule,
        argument_spec=dict(
            proc_root=dict(type='path', default='/proc'),
            sources=dict(type='list', elements='str', choices=list(SOURCES), default=list(DEFAULT_SOURCES)),
            types=dict(type='list', elements='str', choices=list(NS_TYPES), default=list(NS_TYPES)),
            processes=dict(type='bool', default=False),
            mounts=dict(type='bool', default=False),
            pids=dict(type='list', elements='int', default=[]),
        ),
        supports_check_mode=True,
    )
    answer(module, run, lambda m: Request.from_params(m.params, m.check_mode), DiscoveryError)


if __name__ == '__main__':
    main()
