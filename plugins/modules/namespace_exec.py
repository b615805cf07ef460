#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
---
module: namespace_exec
short_description: Run a command inside the namespaces of a process, a container or a namespace file
version_added: 0.1.0
description:
  - Runs a command inside selected Linux namespaces of a target, like C(nsenter), and
    returns its return code, output and the PID it had in there.
  - The target is a host PID (O(pid)), a container found through the cgroup file system
    (O(container_id), O(pod_uid); the same lookup as M(nsops.namespaces.container_info),
    no container engine is asked), or namespace files such as a C(ip netns add) bind mount
    (O(namespace_files)), which works for namespaces no process is in.
  - The module process itself never changes namespaces. A forked child joins every
    selected namespace with C(setns) before anything runs, then forks again, so that the
    command really is in the target's PID namespace (its PID there is RV(command_pid)),
    and execs the command, searched in the C(PATH) of the target's mount namespace.
  - When a user namespace is entered the command runs as UID and GID 0 of that namespace
    with no supplementary groups, as C(nsenter) does; the container's root, not the host's.
  - The command runs without a shell unless O(shell=true). It gets stdin from O(stdin)
    (else C(/dev/null)), a minimal environment (C(PATH), C(HOME)) plus O(env), and is
    killed with its process group after O(timeout) seconds.
  - A target that exits between the lookup and the exec is reported as an error and
    leaves nothing behind.
author:
  - nsops developers (@nsops)
extends_documentation_fragment:
  - nsops.namespaces._attributes
  - nsops.namespaces._proc_root
attributes:
  check_mode:
    support: partial
    details:
      - In check mode the target is looked up and its namespaces are opened, but the command
        runs only when O(read_only=true); otherwise the result predicts C(changed=true).
  diff_mode:
    support: none
options:
  command:
    description:
      - The command to run.
      - A list is the argument vector, run as is without a shell (the safe form).
      - A string is split into arguments like a shell would split it (no variables,
        globs or pipes), unless O(shell=true).
    type: raw
    required: true
  shell:
    description:
      - Run O(command), which must then be a string, through C(/bin/sh -c) of the target.
      - Giving a list with O(shell=true) is an error.
    type: bool
    default: false
  pid:
    description:
      - Host PID (as seen in O(proc_root)) of the process whose namespaces to enter.
      - Exactly one of O(pid), the container selectors (O(container_id), O(name), O(pod_uid),
        O(runtime), which combine) or O(namespace_files) selects the target.
    type: int
  container_id:
    description:
      - Container ID or a unique prefix of it, as the runtime shows it (C(docker ps), C(crictl ps)); the
        command enters the namespaces of the container's init process.
      - Resolved from the cgroup file system like M(nsops.namespaces.container_info) does;
        an ambiguous prefix is an error that lists the candidates.
    type: str
  pod_uid:
    description:
      - Kubernetes pod UID. With O(container_id), the container must be in this pod.
      - Alone, the target is the pod itself, which only makes sense for the namespaces its
        containers share (network, IPC and UTS of the sandbox). By default exactly those
        that differ from the module's are entered, keeping the host's mount namespace, so
        the host's tools (C(ip), C(ss)) run inside the pod's network.
      - Asking with O(namespaces) for a type its containers do not share is an error that
        lists the containers to choose from with O(container_id).
    type: str
  name:
    description:
      - Name of the container, for runtimes that name the cgroup after the container (LXC,
        systemd-nspawn, containerd C(ctr run) in the C(default) namespace), as
        O(nsops.namespaces.container_info#module:name) selects it.
      - Docker, Podman and Kubernetes names are not in cgroup paths; use O(container_id) for those.
    type: str
  runtime:
    description:
      - Only a container of this runtime; combines with O(container_id), O(name) and O(pod_uid).
    type: str
    choices: [docker, containerd, cri, cri-o, podman, systemd-nspawn, lxc]
  namespace_files:
    description:
      - Namespace files to enter, at most one per type - bind mounts such as
        C(/run/netns/NAME) made by C(ip netns add), or C(/proc/PID/ns/TYPE) links. The type
        of each comes from the kernel (C(NS_GET_NSTYPE)).
      - Used for namespaces that no process is in. An empty list is refused.
    type: list
    elements: path
  namespaces:
    description:
      - The namespace types to enter.
      - By default every namespace of the target that differs from the module's own (all
        the files of O(namespace_files)). Types the target shares with the module are not
        entered and are listed in RV(namespaces_shared).
      - Entering C(pid) without C(mnt) shows the host's C(/proc) to the command.
    type: list
    elements: str
    choices: [cgroup, ipc, mnt, net, pid, time, user, uts]
  chdir:
    description:
      - Absolute directory inside the target (after entering its mount namespace and
        O(root)) to run the command in.
    type: str
    default: /
  root:
    description:
      - Change the root directory to the target process's own root (C(/proc/PID/root)),
        like C(nsenter --root). Needed only for a target that runs C(chroot)ed inside its
        mount namespace; entering C(mnt) already gives the mount namespace's root.
      - Not available with O(namespace_files).
    type: bool
    default: false
  stdin:
    description:
      - Text to give the command on its standard input. Without it stdin is C(/dev/null).
    type: str
  stdin_add_newline:
    description:
      - Append a newline to O(stdin) when it does not end with one.
    type: bool
    default: true
  env:
    description:
      - Environment variables for the command, added to C(PATH) and C(HOME=/root).
        The module's own environment is not passed into the target.
    type: dict
    default: {}
  timeout:
    description:
      - Seconds the command may run. Then it is killed (C(SIGKILL)) together with its
        process group and the task fails with RV(timed_out=true).
      - Must be more than 0 and at most 604800 (a week).
    type: float
    default: 60
  max_output:
    description:
      - Bytes of stdout and of stderr each that are kept in the result. The command's
        output is read as it comes; what goes beyond this is read and dropped, and the
        result says RV(truncated=true).
      - V(0) keeps nothing; at most 1073741824.
    type: int
    default: 4194304
  read_only:
    description:
      - Declare that the command changes nothing. The task then reports C(changed=false)
        and runs in check mode too.
    type: bool
    default: false
notes:
  - Run as root (C(become=true)); entering namespaces needs C(CAP_SYS_ADMIN) and
    reading other users' C(/proc/PID/ns) needs C(CAP_SYS_PTRACE).
  - The task fails when the command returns non-zero, as M(ansible.builtin.command) does;
    use C(failed_when) to accept other codes.
  - A command that detaches into a new session escapes the timeout kill, as with any runner.
seealso:
  - module: nsops.namespaces.container_info
  - module: nsops.namespaces.socket_info
  - name: nsenter(1)
    description: Run a program in the namespaces of other processes (util-linux).
    link: https://man7.org/linux/man-pages/man1/nsenter.1.html
  - name: setns(2)
    description: Reassociate a thread with a namespace.
    link: https://man7.org/linux/man-pages/man2/setns.2.html
'''

EXAMPLES = r'''
- name: What does the container see as its network?
  nsops.namespaces.namespace_exec:
    container_id: 3f4e1a2b9c
    command: [ip, addr]
    read_only: true
  become: true
  register: addresses

- name: Its hostname and its PID 1, from inside
  nsops.namespaces.namespace_exec:
    container_id: 3f4e1a2b9c
    command: [sh, -c, 'hostname; cat /proc/1/cmdline | tr "\0" " "']
    read_only: true
  become: true

- name: Use the host's ss inside a pod's network namespace (net, ipc, uts of the sandbox)
  nsops.namespaces.namespace_exec:
    pod_uid: 5f0c3f22-6b1c-4c1e-9f3e-2b7a4d1e8c90
    command: ss -ltnp
    read_only: true
  become: true

- name: Only the network namespace of a process, with a shell pipeline
  nsops.namespaces.namespace_exec:
    pid: 4242
    namespaces: [net]
    command: ip -o link | wc -l
    shell: true
    read_only: true
  become: true

- name: A namespace no process is in, kept by ip netns add
  nsops.namespaces.namespace_exec:
    namespace_files: [/run/netns/blue]
    command: [ip, link, set, lo, up]
  become: true

- name: Feed a file to a command inside the container, with a time limit
  nsops.namespaces.namespace_exec:
    container_id: 3f4e1a2b9c
    command: [sh, -c, 'cat > /tmp/probe.conf']
    stdin: "{{ lookup('ansible.builtin.file', 'probe.conf') }}"
    timeout: 10
  become: true
'''

RETURN = r'''
cmd:
  description: The argument vector that was (or would be) run.
  returned: success or when the command failed
  type: list
  elements: str
  sample: [ip, addr]
pid:
  description: Host PID of the target process whose namespaces were entered; V(null) for O(namespace_files).
  returned: success or when the command failed
  type: int
  sample: 4242
container_id:
  description: ID (or name) of the container the target was resolved from; V(null) for O(pid) and O(namespace_files).
  returned: success or when the command failed
  type: str
  sample: 3f4e1a2b9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f
pod_uid:
  description: Kubernetes pod UID of that container; V(null) outside Kubernetes.
  returned: success or when the command failed
  type: str
  sample: 5f0c3f22-6b1c-4c1e-9f3e-2b7a4d1e8c90
namespaces_entered:
  description: Type to inode of every namespace the command was run in (joined with C(setns)).
  returned: success or when the command failed
  type: dict
  sample: {"ipc": 4026532612, "mnt": 4026532610, "net": 4026532615, "pid": 4026532613, "uts": 4026532611}
namespaces_shared:
  description: Types that were asked for or considered but are the module's own already, so not entered.
  returned: success or when the command failed
  type: list
  elements: str
  sample: [cgroup, time, user]
rc:
  description: Return code of the command; negative when it was killed by a signal (V(-9) after a timeout).
  returned: when the command ran
  type: int
  sample: 0
stdout:
  description: Standard output, trailing newlines removed, undecodable bytes replaced.
  returned: when the command ran
  type: str
  sample: "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 ..."
stderr:
  description: Standard error, trailing newlines removed.
  returned: when the command ran
  type: str
  sample: ""
stdout_lines:
  description: RV(stdout) split into lines.
  returned: when the command ran
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: when the command ran
  type: list
  elements: str
command_pid:
  description: The command's PID in the PID namespace it ran in (small inside a container).
  returned: when the command ran
  type: int
  sample: 12
command_host_pid:
  description: The command's PID as the module's PID namespace sees it.
  returned: when the command ran
  type: int
  sample: 73012
timed_out:
  description: True when the command was killed because O(timeout) passed.
  returned: when the command ran
  type: bool
  sample: false
truncated:
  description: True when stdout or stderr was longer than O(max_output) and was cut there.
  returned: when the command ran
  type: bool
  sample: false
duration:
  description: Seconds from the fork to the end of the command.
  returned: when the command ran
  type: float
  sample: 0.0123
msg:
  description: Why the task failed, or that the command was not run in check mode.
  returned: on failure or in check mode without O(read_only)
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsops.namespaces.plugins.module_utils._answer import ansible_module, answer

from ansible_collections.nsops.namespaces.plugins.module_utils._nsexec.engine import (
    DEFAULT_CHDIR, DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, NamespaceExecError, Request, run,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.cgroups import RUNTIMES
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import NS_TYPES


def main():
    module = ansible_module(
        AnsibleModule,
        argument_spec=dict(
            command=dict(type='raw', required=True),
            shell=dict(type='bool', default=False),
            pid=dict(type='int'),
            container_id=dict(type='str'),
            pod_uid=dict(type='str'),
            name=dict(type='str'),
            runtime=dict(type='str', choices=list(RUNTIMES)),
            namespace_files=dict(type='list', elements='path'),
            namespaces=dict(type='list', elements='str', choices=list(NS_TYPES)),
            chdir=dict(type='str', default=DEFAULT_CHDIR),
            root=dict(type='bool', default=False),
            stdin=dict(type='str'),
            stdin_add_newline=dict(type='bool', default=True),
            env=dict(type='dict', default={}),
            timeout=dict(type='float', default=DEFAULT_TIMEOUT),
            max_output=dict(type='int', default=DEFAULT_MAX_OUTPUT),
            read_only=dict(type='bool', default=False),
            proc_root=dict(type='path', default='/proc'),
        ),
        mutually_exclusive=[
            ('pid', 'container_id'), ('pid', 'pod_uid'), ('pid', 'name'), ('pid', 'runtime'), ('pid', 'namespace_files'),
            ('container_id', 'namespace_files'), ('pod_uid', 'namespace_files'), ('name', 'namespace_files'),
            ('runtime', 'namespace_files'),
        ],
        required_one_of=[('pid', 'container_id', 'pod_uid', 'name', 'runtime', 'namespace_files')],
        supports_check_mode=True,
    )
    answer(module, run, lambda m: Request.from_params(m.params, m.check_mode), NamespaceExecError)


if __name__ == '__main__':
    main()
