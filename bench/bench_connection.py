# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: a command task through the container connection vs plain SSH vs namespace_exec (issue 15).

Run as root from the repository's .venv (ansible-core installed)::

    .venv/bin/python bench/bench_connection.py               # 5 rounds of 10 tasks each
    .venv/bin/python bench/bench_connection.py --rounds 7 --tasks 20

It starts one SSH node (tests/lab/fleet.py) and two runc containers
(tests/lab/containers.py): a busybox one and one with the host's /usr bound in (a
Python inside). Each measurement is one ``ansible-playbook`` of --tasks identical
``ansible.builtin.command: hostname`` tasks against one host, SSH pipelining on, the
SSH ControlPersist master warm (a real play reuses it too):

  plain ssh         the node itself over SSH
  container sidecar the busybox container through nsops.namespaces.container,
                    namespaces [net, pid, uts, ipc, cgroup] (the node's Python)
  container all     the Python container through nsops.namespaces.container,
                    namespaces all (the container's Python)
  namespace_exec    the node over SSH running nsops.namespaces.namespace_exec
                    (command hostname) into the busybox container

A task's time is from the task start to its result, as a callback plugin sees it
(worker start, connection, module); the first task of each run is dropped (it pays
for the worker's imports). Runs interleave over --rounds rounds after a warm-up.
Prints the medians, the ratios to plain SSH measured in the same run, and the issue's
target (container connection <= 1.3x plain SSH) with PASS/FAIL.
Exit status: 0 (a measurement), 2 if the lab could not be set up, 3 if a play failed.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests'))
import _harness  # noqa: E402  pylint: disable=wrong-import-position
from lab.containers import RuncLab, docker_cgroupfs_path, random_container_id  # noqa: E402  pylint: disable=wrong-import-position
from lab.fleet import SshFleet  # noqa: E402  pylint: disable=wrong-import-position

TARGET_RATIO = 1.3
HOST_PYTHON = '/usr/bin/python3'
PYTHON_MOUNTS = [{'destination': path, 'type': 'bind', 'source': path, 'options': ['rbind', 'ro']}
                 for path in ('/usr', '/lib', '/lib64')]

PLAY = '''\
- name: Bench
  hosts: %(host)s
  gather_facts: false
  tasks:
%(tasks)s
'''
COMMAND_TASK = '''\
    - name: Command %(n)d
      ansible.builtin.command: hostname
      changed_when: false
'''
NSEXEC_TASK = '''\
    - name: namespace_exec %(n)d
      nsops.namespaces.namespace_exec:
        container_id: %(id)s
        command: hostname
        read_only: true
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--tasks', type=int, default=10)
    args = parser.parse_args()
    _harness.require_root()
    _harness.install_signal_handlers()
    playbook_bin = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    if not os.path.exists(playbook_bin):
        _harness.log('run with the .venv python (ansible-playbook not in %s)' % os.path.dirname(sys.executable))
        return 2
    try:
        lab = RuncLab().__enter__()
        fleet = SshFleet(hosts=1, unreachable=0, names=['node'], python=_harness.real_python()).__enter__()
    except Exception as exc:  # noqa: BLE001
        _harness.log('lab setup failed: %s' % exc)
        return 2
    try:
        busy_id = random_container_id()
        lab.run('busy', ['sleep', '100000'], cgroups_path=docker_cgroupfs_path(busy_id), container_id=busy_id)
        py_id = random_container_id()
        lab.run('py', ['sleep', '100000'], cgroups_path=docker_cgroupfs_path(py_id), container_id=py_id,
                rootfs=lab.private_rootfs('py', ['lib', 'lib64']), mounts=PYTHON_MOUNTS)
        return _measure(args, lab, fleet, playbook_bin, busy_id, py_id)
    finally:
        fleet.close()
        lab.cleanup()
        left = fleet.leftovers() + lab.leftovers()
        print('cleanup: %s' % ('OK, nothing left' if not left else 'INCOMPLETE: %s' % left))


def _measure(args, lab, fleet, playbook_bin, busy_id, py_id):
    work = fleet.work
    node = fleet.host('node')
    container = {'ansible_host': node.address, 'ansible_connection': 'nsops.namespaces.container',
                 'nsops_node': 'node', 'nsops_container_runtime': 'docker', 'ansible_remote_tmp': '/tmp',
                 'nsops_node_payload_dir': os.path.join(work, 'payload')}
    fleet.write_inventory(os.path.join(work, 'nodes.json'))
    inventory = fleet.inventory()
    group = inventory['all']['children']['fleet']
    group['hosts']['sidecar'] = dict(container, nsops_container_id=busy_id,
                                     nsops_enter_namespaces=['net', 'pid', 'uts', 'ipc', 'cgroup'])
    group['hosts']['all'] = dict(container, nsops_container_id=py_id, ansible_python_interpreter=HOST_PYTHON)
    inventory_path = os.path.join(work, 'inventory.json')
    with open(inventory_path, 'w') as handle:
        json.dump(inventory, handle)
    plays = {}
    for name, host, task in (('plain ssh', 'node', COMMAND_TASK), ('container sidecar', 'sidecar', COMMAND_TASK),
                             ('container all', 'all', COMMAND_TASK), ('namespace_exec', 'node', NSEXEC_TASK)):
        path = os.path.join(work, name.replace(' ', '_') + '.yml')
        with open(path, 'w') as handle:
            handle.write(PLAY % {'host': host, 'tasks': ''.join(task % {'n': n, 'id': busy_id}
                                                                for n in range(args.tasks + 1))})
        plays[name] = path
    times_path = os.path.join(work, 'times.jsonl')
    with _harness.collection_path() as collections:
        env = dict(os.environ)
        env.update(fleet.ansible_env())
        env.update({'ANSIBLE_COLLECTIONS_PATH': collections, 'ANSIBLE_STDOUT_CALLBACK': 'default',
                    'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_RETRY_FILES_ENABLED': '0', 'ANSIBLE_LOCALHOST_WARNING': '0',
                    'ANSIBLE_CALLBACK_PLUGINS': _harness.CALLBACK_PLUGINS,
                    'ANSIBLE_PIPELINING': 'True', 'NSOPS_BENCH_TIMES': times_path})
        env.pop('ANSIBLE_CONFIG', None)
        durations = dict((name, []) for name in plays)

        def run(name):
            result = _harness.timed_run([playbook_bin, '-i', inventory_path, plays[name]], env=env)
            if result.rc != 0:
                _harness.log(result.stdout.decode('utf-8', 'replace')[-3000:] + result.stderr[-3000:])
                raise SystemExit(3)
            return [task['seconds'] for task in _harness.read_task_times(times_path)][1:]

        print('bench_connection: %s' % _harness.host_summary())
        print('%d tasks per run (the first of each run dropped), %d rounds, one SSH node, runc containers'
              % (args.tasks, args.rounds))
        results = _harness.interleave([(n, (lambda n=n: run(n))) for n in plays], args.rounds, warmup=1)
        for name in plays:
            for times in results[name]:
                durations[name].extend(times)
    print()
    print('%-18s %10s %10s %10s %5s %9s' % ('task via', 'median ms', 'min ms', 'max ms', 'n', 'vs ssh'))
    summary = dict((name, _harness.stats(values)) for name, values in durations.items())
    base = summary['plain ssh']['median']
    for name in plays:
        st = summary[name]
        print('%-18s %10s %10s %10s %5d %8.2fx' % (name, _harness.fmt_ms(st['median']), _harness.fmt_ms(st['min']),
                                                   _harness.fmt_ms(st['max']), st['n'], st['median'] / base))
    print()
    verdicts = {}
    for name in ('container sidecar', 'container all'):
        ratio = summary[name]['median'] / base
        verdicts[name] = 'PASS' if ratio <= TARGET_RATIO else 'FAIL'
        print('ratio %s / plain ssh (medians): %.2fx   target <= %.1fx: %s'
              % (name, ratio, TARGET_RATIO, verdicts[name]))
    print('ratio container sidecar / namespace_exec (medians): %.2fx'
          % (summary['container sidecar']['median'] / summary['namespace_exec']['median']))
    print(json.dumps({'median_ms': dict((n, round(s['median'] * 1000, 1)) for n, s in summary.items()),
                      'target': TARGET_RATIO, 'verdicts': verdicts}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
