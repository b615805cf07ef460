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
  command_lines:
    description:
      - Also give the command line of each namespace's lowest PID, lsns's COMMAND column
        (RV(ansible_facts.namespaces.pids.command)).
      - Off by default because command lines are most of the facts' size on hosts with many
        namespaces (often a few hundred bytes per namespace); without them the table has
        each process's name (RV(ansible_facts.namespaces.pids.name), as C(ps -o comm)
        shows it).
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
    running kernel and is what the keys of RV(ansible_facts.namespaces.namespaces)
    (V(net:[4026531833])) and C(lsns) show.
  - The facts are sized for fleets. With the default options a host returns about sixty
    bytes per namespace plus one short entry per lowest PID; command lines
    (O(command_lines)), the process table (O(processes)) and the mount tables (O(mounts))
    are the large optional parts.
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

- name: Gather namespace facts with the command line of each namespace's lowest PID, as lsns shows it
  nsops.namespaces.namespace_facts:
    command_lines: true
  become: true

- name: Show every network namespace with its process count and command
  ansible.builtin.debug:
    msg: "{{ item.ref }}: {{ item.nprocs }} processes, {{ item.command }}"
  loop: "{{ (ansible_facts.namespaces | nsops.namespaces.ns_expand).namespaces.values() | selectattr('type', 'eq', 'net') }}"
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
#     sources: [tasks, bind_mounts]
'''

RETURN = r'''
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    namespaces:
      description:
        - The namespaces of the host, in the lean shape of schema version 2
          (RV(ansible_facts.namespaces.discovery.schema_version)) - a namespace record holds
          only what its key does not say and what is not empty, and the columns C(lsns) shows
          of a namespace's lowest PID are in RV(ansible_facts.namespaces.pids), once per process.
        - The filter P(nsops.namespaces.ns_expand#filter) gives the full records (schema
          version 1, every field in every record); P(nsops.namespaces.ns_report#filter) prints them.
        - The shape is published as JSON Schema in C(meta/schemas/namespace_facts.json).
      returned: always
      type: dict
      contains:
        discovery:
          description: How the discovery ran.
          returned: always
          type: dict
          contains:
            schema_version:
              description: Version of the shape of these facts.
              type: int
              returned: always
              sample: 2
            nsfs_dev:
              description: Device number of nsfs, where every namespace lives; V(null) when none was found.
              type: int
              returned: always
              sample: 4
            proc_root:
              description: The proc filesystem read (O(proc_root), absolute).
              type: str
              returned: always
              sample: /proc
            procfs:
              description: Whether O(proc_root) is a mounted procfs (false for a copied tree; no ioctls are made then).
              type: bool
              returned: always
              sample: true
            kernel:
              description: The kernel release of the module's host.
              type: str
              returned: always
              sample: 6.1.0-13-amd64
            capabilities:
              description: The module's effective capabilities, as hex, and the two that decide what it can read.
              type: dict
              returned: always
              sample: {effective: 000001ffffffffff, sys_admin: true, sys_ptrace: true}
            initial_cgroup_namespace:
              description: Whether the module runs in the initial cgroup namespace (cgroup paths are then absolute); V(null) when unknown.
              type: bool
              returned: always
              sample: true
            initial_source:
              description: Which process the initial namespaces were taken from.
              type: str
              returned: always
              sample: pid 2 (kthreadd)
            sources:
              description: What was read, V(processes) (always) and the O(sources).
              type: list
              elements: str
              returned: always
              sample: [processes, tasks, bind_mounts]
            types:
              description: The namespace types reported (O(types)).
              type: list
              elements: str
              returned: always
              sample: [cgroup, ipc, mnt, net, pid, time, user, uts]
            processes_scanned:
              description: Processes whose namespace links were read.
              type: int
              returned: always
              sample: 212
            skipped:
              description: Processes not read, by reason - V(permission_denied), V(vanished) (exited during the scan, normal), V(malformed), V(error).
              type: dict
              returned: always
              sample: {permission_denied: 0, vanished: 1, malformed: 0, error: 0}
            malformed_entries:
              description: Unreadable lines or files met besides the skipped processes.
              type: int
              returned: always
              sample: 0
            warnings:
              description: The warnings the module also shows.
              type: list
              elements: str
              returned: always
              sample: []
            duration:
              description: Seconds the discovery took.
              type: float
              returned: always
              sample: 0.041
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
            - One record per namespace, keyed by its reference C(TYPE:[INODE]) (what C(readlink
              /proc/PID/ns/TYPE) prints), which says its type and inode.
            - Where the module differs from lsns on purpose, it sees more, and says how, never
              fewer. A zombie thread-group leader whose threads live on is counted in their
              namespaces (lsns reads only the leader's links and misses it); namespaces that
              no process is in are reported too (lsns lists only those of processes).
            - A field that would be empty is left out - no empty lists, no V(false) C(hidden).
          returned: always
          type: dict
          sample:
            "net:[4026532281]":
              nprocs: 2
              pid: 3120
              netnsid: 5
              bind_mounts: {/run/netns/blue: ["mnt:[4026531841]"]}
          contains:
            nprocs:
              description: Processes in the namespace (lsns NPROCS).
              type: int
              returned: always
            pid:
              description: Its lowest PID (lsns PID); RV(ansible_facts.namespaces.pids) has that process's PPID, COMMAND, UID and USER.
              type: int
              returned: when a process is in the namespace
            leaders:
              description: Member processes whose parent is outside the namespace (lxkns).
              type: list
              elements: int
              returned: when they are other than just RV(ansible_facts.namespaces.namespaces.pid)
            ealdorman:
              description: The oldest leader by start time (lxkns); V(null) when none could be picked.
              type: int
              returned: when it is not RV(ansible_facts.namespaces.namespaces.pid)
            owner:
              description:
                - The owning user namespace (lsns ONS) - left out when it is the initial user
                  namespace (RV(ansible_facts.namespaces.initial)), the owner of nearly every
                  namespace, and for a user namespace, whose owner is its parent.
                - V(null) when the kernel did not tell (a O(proc_root) that is not a live procfs).
              type: str
              returned: when it is neither the initial user namespace nor a user namespace's parent
            owner_uid:
              description: User namespaces - the UID of their creator (C(NS_GET_OWNER_UID)).
              type: int
              returned: for user namespaces, when known
            parent:
              description: PID and user namespaces - the parent (lsns PNS).
              type: str
              returned: for PID and user namespaces that are not a root of their tree
            children:
              description: PID and user namespaces - the child namespaces.
              type: list
              elements: str
              returned: when there are any
            netnsid:
              description: Network namespaces - the id it has in the module's network namespace (lsns NETNSID, C(ip netns list-id)).
              type: int
              returned: for network namespaces that have one
            hidden:
              description: True when the namespace was found only by climbing the PID or user hierarchy.
              type: bool
              returned: when true
            for_children:
              description: Processes whose C(pid_for_children) or C(time_for_children) names the namespace.
              type: list
              elements: int
              returned: when there are any
            loose_threads:
              description: Threads in the namespace whose process is not (a list of C(pid) and C(tid)); source V(tasks).
              type: list
              elements: dict
              returned: when there are any
            fds:
              description: Open files holding the namespace (a list of C(pid) and C(fd)); source V(fds).
              type: list
              elements: dict
              returned: when there are any
            sockets:
              description: Network namespaces - sockets created in it (a list of C(pid) and C(fd)); source V(sockets).
              type: list
              elements: dict
              returned: when there are any
            bind_mounts:
              description: >-
                nsfs bind mounts of the namespace - mount point to the list of mount namespaces
                whose table has it (a bind mount under C(/run/netns) shows in every copy of the
                mount table); those in the module's own mount namespace are lsns's NSFS column.
                Source V(bind_mounts).
              type: dict
              returned: when there are any
            dev:
              description: The device of the namespace, only when it differs from RV(ansible_facts.namespaces.discovery.nsfs_dev).
              type: int
              returned: when it differs
        pids:
          description:
            - The lsns columns of every PID that is the lowest PID of a namespace, keyed by the
              PID as a string - C(ansible_facts.namespaces.pids[record.pid | string]).
          returned: always
          type: dict
          sample:
            "3120": {ppid: 3119, name: sleep, uid: 0}
          contains:
            ppid:
              description: Parent PID (lsns PPID; 0 for PID 1 and kthreadd).
              type: int
              returned: always
            name:
              description: The process name the kernel keeps (C(/proc/PID/comm), at most 15 characters).
              type: str
              returned: always
            command:
              description: Command line, or the name of a kernel thread (lsns COMMAND).
              type: str
              returned: when O(command_lines) is true
            uid:
              description: Owner of C(/proc/PID) (lsns UID) - the effective UID, root when the process is not dumpable; V(null) when unreadable.
              type: int
              returned: always
        users:
          description:
            - Name in the module host's user database (lsns USER) of each UID in
              RV(ansible_facts.namespaces.pids), keyed by the UID as a string; UIDs without a
              name are left out.
          returned: always
          type: dict
          sample: {"0": root, "1000": alice}
        roots:
          description: References of the PID and user namespaces without a (visible) parent.
          returned: always
          type: dict
          sample: {pid: ["pid:[4026531836]"], user: ["user:[4026531837]"]}
          contains:
            pid:
              description: Roots of the PID namespace tree.
              type: list
              elements: str
              returned: always
            user:
              description: Roots of the user namespace tree.
              type: list
              elements: str
              returned: always
        mounts:
          description: The mount table of every mount namespace, keyed by its reference C(mnt:[INODE]).
          returned: when O(mounts) is true
          type: dict
          contains:
            pid:
              description: >-
                The process whose C(/proc/PID/mountinfo) was read (paths are relative to its
                root); V(null) when a child joined the namespace to read it.
              type: int
              returned: always
            via:
              description: How the table was read - V(process), V(thread TID) or V(setns).
              type: str
              returned: always
            mounts:
              description: One entry per line of C(mountinfo), in its order.
              type: list
              elements: dict
              returned: always
              contains:
                mount_id:
                  description: Mount ID.
                  type: int
                  returned: always
                parent_id:
                  description: ID of the parent mount.
                  type: int
                  returned: always
                dev:
                  description: C(MAJOR:MINOR) of the file system.
                  type: str
                  returned: always
                root:
                  description: The path within the file system that is the root of this mount.
                  type: str
                  returned: always
                mount_point:
                  description: The mount point, relative to the reading process's root.
                  type: str
                  returned: always
                fstype:
                  description: File system type.
                  type: str
                  returned: always
                source:
                  description: The mount source.
                  type: str
                  returned: always
                options:
                  description: Per-mount options.
                  type: list
                  elements: str
                  returned: always
                super_options:
                  description: Per-superblock options.
                  type: list
                  elements: str
                  returned: always
                optional:
                  description: The raw optional fields (C(shared:N), C(master:N), C(propagate_from:N), C(unbindable)).
                  type: list
                  elements: str
                  returned: always
                propagation:
                  description: C(findmnt)'s PROPAGATION text - V(shared) or V(private), then V(,slave) and V(,unbindable).
                  type: str
                  returned: always
                peer_group:
                  description: Peer group ID of the C(shared:) field; V(null) when absent.
                  type: int
                  returned: always
                master:
                  description: Peer group ID of the C(master:) field; V(null) when absent.
                  type: int
                  returned: always
                propagate_from:
                  description: Peer group ID of the C(propagate_from:) field; V(null) when absent.
                  type: int
                  returned: always
                hidden:
                  description: >-
                    True when the mount point cannot be reached by its path, another mount being
                    on top of it at the same path or at a prefix of it (as lxkns computes it).
                  type: bool
                  returned: always
        processes:
          description: The process table, sorted by PID, limited to O(pids) when given.
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
          contains:
            pid:
              description: PID in O(proc_root).
              type: int
              returned: always
            ppid:
              description: Parent PID.
              type: int
              returned: always
            name:
              description: The process name (C(comm)).
              type: str
              returned: always
            cmdline:
              description: Command line arguments; empty for kernel threads and zombies.
              type: list
              elements: str
              returned: always
            starttime:
              description: Start time in clock ticks after boot (C(stat) field 22).
              type: int
              returned: always
            uid:
              description: Real UID; V(null) when unreadable.
              type: int
              returned: always
            nspid:
              description: The PID in each PID namespace, from the outermost visible to the innermost (C(NSpid)); V(null) when unreadable.
              type: list
              elements: int
              returned: always
            namespaces:
              description: Type to inode, for the O(types) asked for.
              type: dict
              returned: always
            for_children:
              description: C(pid_for_children) and C(time_for_children) to inode, for the O(types) asked for.
              type: dict
              returned: always
            cgroup:
              description: >-
                The path of the cgroup v1 C(cpu) controller, else of C(freezer), else the cgroup
                v2 path (as lxkns picks it), else the C(name=systemd) one, else the first line's.
              type: str
              returned: always
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
            command_lines=dict(type='bool', default=False),
            mounts=dict(type='bool', default=False),
            pids=dict(type='list', elements='int', default=[]),
        ),
        supports_check_mode=True,
    )
    answer(module, run, lambda m: Request.from_params(m.params, m.check_mode), DiscoveryError)


if __name__ == '__main__':
    main()
