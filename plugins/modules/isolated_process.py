#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
module: isolated_process
short_description: Keep a declared process running in its own Linux namespaces
version_added: 0.1.0
description:
  - Ensures that a named process runs in new namespaces (PID, mount, UTS, IPC, network,
    user, time, cgroup) with a hostname, a fresh C(/proc), loopback up, an optional root
    directory, user, environment and cgroup limits, and that it runs only once.
  - The process is started fully detached (new session, stdin from C(/dev/null),
    stdout and stderr appended to O(log_path), no other file descriptor inherited), so
    the task returns as soon as the command has been executed.
  - One record per O(name) in O(state_dir) remembers the host PID, its start time and
    the boot id; a process counts as the declared one only while all three match, so a
    PID reused by another process is never signalled.
  - A change of any option that shapes the process (everything except O(state),
    O(stop_signal), O(stop_timeout), O(recreate) and O(state_dir)) replaces the process
    when O(recreate=true).
  - With an unchanged declaration, a running process is checked against what it was
    given - cgroup limits, cgroup membership, persisted namespace mounts - and whatever
    was changed by hand is put back without a restart (RV(action=repair), RV(drift)).
author:
  - nsops developers (@nsops)
extends_documentation_fragment:
  - nsops.namespaces._attributes
attributes:
  check_mode:
    support: full
    details:
      - Predicts RV(ignore:changed) exactly and touches nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the declared spec (and C(state)) before and after, and for a
        repair the live values under C(live).
  platform:
    support: full
    platforms: linux
    details:
      - Needs C(CAP_SYS_ADMIN) (run with C(become=true)) and a kernel with the declared namespace types.
options:
  name:
    description:
      - Name of the process; names its record, lock, log and persisted namespaces.
      - 1 to 63 characters C([A-Za-z0-9_.-]), starting with a letter or digit.
    type: str
    required: true
  state:
    description:
      - V(present) starts the process unless it already runs with this spec.
      - V(absent) stops it and removes its record, persisted namespaces and cgroup.
      - V(restarted) always starts a new process (stopping the old one first).
    type: str
    choices: [present, absent, restarted]
    default: present
  command:
    description:
      - The argv to execute, no shell. Required unless O(state=absent).
      - The program is looked up in C(PATH) (see O(env)) inside O(root) when it has no C(/).
    type: list
    elements: str
  namespaces:
    description:
      - The namespace types the process gets new instances of.
    type: list
    elements: str
    choices: [cgroup, ipc, mnt, net, pid, time, user, uts]
    default: [pid, mnt, uts, ipc, net]
  hostname:
    description:
      - Hostname inside the new UTS namespace; needs V(uts) in O(namespaces).
    type: str
  mount_proc:
    description:
      - Mount a new C(/proc) (inside O(root) when given) after making all mounts private,
        so C(ps) inside sees only the new PID namespace.
      - Defaults to V(true) when both V(pid) and V(mnt) are in O(namespaces); needs V(mnt).
    type: bool
  loopback_up:
    description:
      - Bring up C(lo) in the new network namespace.
      - Defaults to V(true) when V(net) is in O(namespaces); needs V(net).
    type: bool
  map_root_user:
    description:
      - Map root inside the new user namespace to the user running the module.
      - Excludes O(uid_map) and O(gid_map); needs V(user) in O(namespaces).
    type: bool
    default: false
  uid_map:
    description:
      - UID ranges of the new user namespace, written by the module from outside.
      - The process runs as O(user), or root inside, which must be mapped.
    type: list
    elements: dict
    suboptions:
      inside:
        description: First UID inside the namespace.
        type: int
        required: true
      outside:
        description: First UID outside (on the host).
        type: int
        required: true
      count:
        description: Number of UIDs in the range.
        type: int
        required: true
  gid_map:
    description:
      - GID ranges of the new user namespace; C(setgroups) is set to C(deny) first.
    type: list
    elements: dict
    suboptions:
      inside:
        description: First GID inside the namespace.
        type: int
        required: true
      outside:
        description: First GID outside (on the host).
        type: int
        required: true
      count:
        description: Number of GIDs in the range.
        type: int
        required: true
  monotonic_offset:
    description:
      - Seconds added to C(CLOCK_MONOTONIC) in the new time namespace; needs V(time).
    type: int
  boottime_offset:
    description:
      - Seconds added to C(CLOCK_BOOTTIME) in the new time namespace; needs V(time).
    type: int
  chdir:
    description:
      - Working directory of the process (inside O(root) when given).
    type: path
    default: /
  root:
    description:
      - Directory the process is chrooted into (a root filesystem holding the command).
      - This is C(chroot), not C(pivot_root); combine it with V(mnt) and V(user) for isolation.
    type: path
  env:
    description:
      - The environment of the process; nothing else is inherited.
      - C(PATH) defaults to C(/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin).
    type: dict
    default: {}
  user:
    description:
      - User (name or number) to run as; names are looked up in O(root)'s C(/etc/passwd).
      - With a user namespace it is the user inside it. Supplementary groups are dropped.
    type: str
  group:
    description:
      - Group (name or number) to run as; defaults to the primary group of O(user).
    type: str
  umask:
    description:
      - File mode creation mask, octal.
    type: str
    default: '0022'
  log_path:
    description:
      - File receiving stdout and stderr (appended; it is kept on O(state=absent)).
      - Defaults to C(/var/log/nsops-namespaces/isolated/<name>.log).
    type: path
  cgroup:
    description:
      - Cgroup path (relative to each hierarchy's root) the process is placed in, in the
        cgroup v2 hierarchy and in the v1 C(memory), C(pids) and C(cpu) hierarchies that
        are mounted. Created when missing and removed with the process.
      - Required by O(memory_max), O(pids_max) and O(cpu_weight).
    type: str
  memory_max:
    description:
      - Memory limit, bytes or with a K/M/G/T suffix (binary), or V(max); at most 4 EiB (2**62 bytes).
      - Written to C(memory.max) on v2, C(memory.limit_in_bytes) on v1 (page aligned by the kernel).
    type: raw
  pids_max:
    description:
      - Maximum number of tasks in the cgroup (1 to 4194304), or V(max) (C(pids.max)).
    type: raw
  cpu_weight:
    description:
      - CPU weight 1..10000 (C(cpu.weight) on v2; on v1 C(cpu.shares) = weight * 1024 / 100).
    type: int
  persist_namespaces:
    description:
      - Namespace types (of those in O(namespaces)) to bind-mount onto
        C(<state_dir>/ns/<name>/<type>), so they outlive the process and can be joined
        (C(nsenter --net=...)), as C(ip netns) does. Removed with O(state=absent).
    type: list
    elements: str
    choices: [cgroup, ipc, mnt, net, pid, time, user, uts]
    default: []
  stop_signal:
    description:
      - Signal that asks the process to stop (name or number).
      - PID 1 of a PID namespace only receives signals it has a handler for; without
        one the module goes on to C(SIGKILL) after O(stop_timeout).
    type: str
    default: SIGTERM
  stop_timeout:
    description:
      - Seconds to wait after O(stop_signal) before sending C(SIGKILL), from 0 to 86400.
    type: float
    default: 10
  recreate:
    description:
      - Replace a running process whose spec differs from the declared one.
      - With V(false) it is kept (and a warning says so).
    type: bool
    default: true
  state_dir:
    description:
      - Root-only directory (mode 0700) holding records, locks and persisted namespaces.
    type: path
    default: /run/nsops-namespaces/isolated
notes:
  - The command itself is PID 1 of the new PID namespace (as with C(unshare --fork --pid)),
    not a helper init. This keeps nothing of Python resident per process, makes the
    recorded PID the workload itself and lets signals reach it directly. The price is
    what PID 1 owes its namespace. A command that forks must reap its orphans, and a
    signal without a handler is ignored (so O(stop_signal) may end in C(SIGKILL) after
    O(stop_timeout)).
    Commands that need an init can run one, for example C([tini, --, ...]) or
    busybox C(init).
  - The process starts with new namespaces through C(unshare(2)) and a second
    C(fork(2)); user namespace maps are written by the module from outside, time
    namespace offsets before the first child, and C(/) is made C(rprivate) before
    C(/proc) is mounted.
  - Persisted namespace bind mounts are not copied into the process's own mount
    namespace, so removing them really frees the namespaces.
  - "Crash-consistent start: whatever instant the module dies at (even C(SIGKILL)), the
    next run finds what it started. Under the per-name lock a start first writes an
    intent record (C(phase=starting), a random token, the spec and the cgroup
    directories it is about to create), then creates the cgroup, opens the claim file
    C(NAME.start) and forks. The setup child inherits the lock and holds it until it
    exits; right after it forked the workload it writes C({token, pid, starttime}) to
    the claim, and only then lets the workload go on towards exec (a workload whose
    setup child died first exits without running the command). The next run takes the
    lock, so it waits for that setup child. An intent whose claim has its token and
    names a live process of this boot with that start time in namespaces of its own is
    adopted (RV(action=adopt): described, its namespaces persisted, the record
    completed); otherwise what the start made - persisted namespace mounts, cgroups it
    created, the claim - is removed and the record last. A warning says which."
  - Records are untrusted input. A record whose name is not its file name, whose spec
    O(name) would not accept, whose cgroup directories or limit files are not below the
    mounted cgroup hierarchies at the spec's cgroup, or whose persisted namespaces are
    not the paths of its name fails the task (in check mode too) before anything is
    read, signalled or removed. A process is the recorded one only while PID, start
    time, boot id and the inode of every declared namespace match.
  - O(state_dir) must be owned by the user running the module with mode 0700 (checked
    in check mode too). Missing directories of O(state_dir) and O(log_path) are created
    with mode 0700 and 0750 whatever the umask; a symlink in their path is followed
    only when root owns it. O(log_path) must be a regular file (it is opened without
    blocking, so a FIFO fails instead of hanging).
  - Only cgroups the module created are removed with O(state=absent); a cgroup that
    existed before stays.
seealso:
  - name: namespaces(7)
    description: Overview of Linux namespaces.
    link: https://man7.org/linux/man-pages/man7/namespaces.7.html
  - name: unshare(1)
    description: The command-line tool for the same job, one shot.
    link: https://man7.org/linux/man-pages/man1/unshare.1.html
'''

EXAMPLES = r'''
- name: Keep a web server in its own namespaces with loopback, a hostname and limits
  become: true
  nsops.namespaces.isolated_process:
    name: web
    command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, '8080']
    namespaces: [pid, mnt, uts, ipc, net]
    hostname: sandbox
    chdir: /srv/www
    cgroup: nsops/web
    memory_max: 128M
    pids_max: 64
    cpu_weight: 50
    persist_namespaces: [net]

- name: A busybox shell loop in a root filesystem as an unprivileged user namespace root
  become: true
  nsops.namespaces.isolated_process:
    name: box
    command: [/bin/sh, -c, 'while true; do date; sleep 60; done']
    namespaces: [user, pid, mnt, uts, ipc, net]
    uid_map: [{inside: 0, outside: 100000, count: 65536}]
    gid_map: [{inside: 0, outside: 100000, count: 65536}]
    root: /srv/rootfs
    hostname: box

- name: Remove it again (process, record, persisted namespaces and cgroup)
  become: true
  nsops.namespaces.isolated_process:
    name: web
    state: absent
'''

RETURN = r'''
action:
  description:
    - What the run did (or would do in check mode).
    - V(repair) puts back what changed under a running process while its declaration did
      not (see RV(drift)); the process keeps running.
    - V(adopt) records the process that a run killed while starting had started.
  returned: always
  type: str
  choices: [none, start, replace, restart, stop, repair, adopt]
  sample: start
name:
  description: The name of the process.
  returned: always
  type: str
  sample: web
state:
  description: The resulting state.
  returned: always
  type: str
  sample: present
pid:
  description: Host PID of the process; null when absent or not started in check mode.
  returned: always
  type: int
  sample: 4242
ns_pid:
  description: PID of the process inside its innermost PID namespace (1 with V(pid)).
  returned: always
  type: int
  sample: 1
namespaces:
  description: Namespace type to inode of every namespace of the process.
  returned: always
  type: dict
  sample: {cgroup: 4026531835, ipc: 4026532301, mnt: 4026532299, net: 4026532303,
           pid: 4026532302, time: 4026531834, user: 4026531837, uts: 4026532300}
log_path:
  description: File receiving the process's stdout and stderr.
  returned: always
  type: str
  sample: /var/log/nsops-namespaces/isolated/web.log
cgroup:
  description: Cgroup placement of the process; null without O(cgroup).
  returned: always
  type: dict
  contains:
    path:
      description: The cgroup path below each hierarchy's root.
      type: str
      sample: nsops/web
    directories:
      description: The cgroup directories the process joined.
      type: list
      elements: str
      sample: [/sys/fs/cgroup/nsops/web]
    created:
      description: Directories created for it (removed again on O(state=absent)).
      type: list
      elements: str
      sample: [/sys/fs/cgroup/nsops, /sys/fs/cgroup/nsops/web]
    limits:
      description: Limit file to the value written.
      type: dict
      sample: {/sys/fs/cgroup/nsops/web/memory.max: '134217728'}
persisted_namespaces:
  description: Namespace type to the file its namespace is bind-mounted on.
  returned: always
  type: dict
  sample: {net: /run/nsops-namespaces/isolated/ns/web/net}
drift:
  description:
    - What no longer matched the declaration while the process ran, and was put back
      (or would be, in check mode) with RV(action=repair) - a cgroup limit written by hand,
      the process moved out of its cgroup, a persisted namespace unmounted.
    - The diff shows these under C(live) - the kernel's view before, the declared one after.
  returned: always
  type: list
  elements: str
  sample: ["/sys/fs/cgroup/nsops/web/memory.max reads 1073741824, declared 67108864"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsops.namespaces.plugins.module_utils._answer import ansible_module, answer

from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.converge import Request, run
from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.spec import (
    DEFAULT_CHDIR,
    DEFAULT_NAMESPACES,
    DEFAULT_RECREATE,
    DEFAULT_STATE,
    DEFAULT_STATE_DIR,
    DEFAULT_STOP_SIGNAL,
    DEFAULT_STOP_TIMEOUT,
    DEFAULT_UMASK,
    STATES,
    IsolationError,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import NS_TYPES

ID_MAP = dict(
    type='list', elements='dict',
    options=dict(inside=dict(type='int', required=True), outside=dict(type='int', required=True),
                 count=dict(type='int', required=True)),
)


def main():
    module = ansible_module(
        AnsibleModule,
        argument_spec=dict(
            name=dict(type='str', required=True),
            state=dict(type='str', choices=list(STATES), default=DEFAULT_STATE),
            command=dict(type='list', elements='str'),
            namespaces=dict(type='list', elements='str', choices=list(NS_TYPES), default=list(DEFAULT_NAMESPACES)),
            hostname=dict(type='str'),
            mount_proc=dict(type='bool'),
            loopback_up=dict(type='bool'),
            map_root_user=dict(type='bool', default=False),
            uid_map=ID_MAP,
            gid_map=ID_MAP,
            monotonic_offset=dict(type='int'),
            boottime_offset=dict(type='int'),
            chdir=dict(type='path', default=DEFAULT_CHDIR),
            root=dict(type='path'),
            env=dict(type='dict', default={}),
            user=dict(type='str'),
            group=dict(type='str'),
            umask=dict(type='str', default=DEFAULT_UMASK),
            log_path=dict(type='path'),
            cgroup=dict(type='str'),
            memory_max=dict(type='raw'),
            pids_max=dict(type='raw'),
            cpu_weight=dict(type='int'),
            persist_namespaces=dict(type='list', elements='str', choices=list(NS_TYPES), default=[]),
            stop_signal=dict(type='str', default=DEFAULT_STOP_SIGNAL),
            stop_timeout=dict(type='float', default=DEFAULT_STOP_TIMEOUT),
            recreate=dict(type='bool', default=DEFAULT_RECREATE),
            state_dir=dict(type='path', default=DEFAULT_STATE_DIR),
        ),
        required_if=[('state', 'present', ['command']), ('state', 'restarted', ['command'])],
        mutually_exclusive=[('map_root_user', 'uid_map'), ('map_root_user', 'gid_map')],
        required_by={'memory_max': 'cgroup', 'pids_max': 'cgroup', 'cpu_weight': 'cgroup'},
        supports_check_mode=True,
    )
    answer(module, run, lambda m: Request.from_params(m.params, m.check_mode, m._diff), IsolationError)


if __name__ == '__main__':
    main()
