# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of isolated_process (run as root from a checkout).

1. Start latency: how long until a command runs in new namespaces, isolated_process's
   spawn (called in-process, no Ansible around it) against the same namespaces with
   the ``unshare --fork --pid --mount-proc`` CLI (which runs ``true`` to completion).
2. The idempotent re-run as an Ansible task against an ``ansible.builtin.ping`` task,
   timed per task by a small callback, alternating the two in one playbook so load
   on the machine hits both alike. Target: ratio <= 1.2.

    python3 bench/bench_isolated.py [--rounds 15] [--tasks 15]

ansible-playbook comes from $NSOPS_ANSIBLE_BIN_DIR or .venv/bin. Everything runs
below a temporary directory; every process is stopped by PID and every record and
mount removed at the end.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402  pylint: disable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_ms(values):
    return statistics.median(values) * 1000.0


def bench_start_latency(converge, tmp, rounds):
    """Median seconds to start a `sleep` in pid+mnt (+proc) and in the default set."""
    results = {}
    cases = [
        ('pid,mnt + /proc', ['pid', 'mnt'], ['--pid', '--mount']),
        ('pid,mnt,uts,ipc,net + /proc', ['pid', 'mnt', 'uts', 'ipc', 'net'],
         ['--pid', '--mount', '--uts', '--ipc', '--net']),
    ]
    for label, namespaces, cli_flags in cases:
        ours, cli = [], []
        for number in range(rounds):
            params = {'name': 'bench-start', 'command': ['sleep', 'infinity'], 'namespaces': namespaces,
                      'state_dir': os.path.join(tmp, 'state'), 'log_path': os.path.join(tmp, 'start.log'),
                      'stop_signal': 'SIGKILL', 'state': 'present'}
            started = time.monotonic()
            result = converge(params)
            ours.append(time.monotonic() - started)
            assert result['action'] == 'start' and result['ns_pid'] == 1, result
            converge(dict(params, state='absent'))

            started = time.monotonic()
            subprocess.run(['unshare', '--fork', '--mount-proc'] + cli_flags + ['true'], check=True)
            cli.append(time.monotonic() - started)
            del number
        results[label] = (median_ms(ours), median_ms(cli))
    return results


def bench_task(tmp, bin_dir, tasks):
    """Median seconds of an idempotent isolated_process task and of a ping task."""
    inventory = os.path.join(tmp, 'inventory.json')
    with open(inventory, 'w') as handle:
        # Explicit interpreter: `python3` may be a pyenv shim.
        host = {'ansible_connection': 'local', 'ansible_python_interpreter': os.path.realpath(sys.executable)}
        json.dump({'all': {'hosts': {'localhost': host}}}, handle)
    iso_args = {'name': 'bench-task', 'command': ['sleep', 'infinity'], 'state_dir': os.path.join(tmp, 'state'),
                'log_path': os.path.join(tmp, 'task.log'), 'stop_signal': 'SIGKILL'}
    # The first use of a module in a run builds its AnsiballZ payload: warm both up first.
    steps = [{'name': 'warm up isolated_process', 'nsops.namespaces.isolated_process': dict(iso_args, state='absent')},
             {'name': 'warm up ping', 'ansible.builtin.ping': {}},
             {'name': 'start', 'nsops.namespaces.isolated_process': iso_args}]
    for number in range(tasks):
        steps.append({'name': 'ping %d' % number, 'ansible.builtin.ping': {}})
        steps.append({'name': 'isolated_process %d' % number, 'nsops.namespaces.isolated_process': iso_args})
    steps.append({'name': 'stop', 'nsops.namespaces.isolated_process': dict(iso_args, state='absent')})
    playbook = os.path.join(tmp, 'bench.json')
    with open(playbook, 'w') as handle:
        json.dump([{'name': 'bench', 'hosts': 'localhost', 'gather_facts': False, 'tasks': steps}], handle)

    collections = os.path.join(tmp, 'collections', 'ansible_collections', 'nsops')
    os.makedirs(collections)
    os.symlink(REPO, os.path.join(collections, 'namespaces'))
    times_file = os.path.join(tmp, 'times.jsonl')
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(tmp, 'collections'), ANSIBLE_CALLBACK_PLUGINS=_harness.CALLBACK_PLUGINS,
               NSOPS_BENCH_TIMES=times_file,
               ANSIBLE_LOCAL_TEMP=os.path.join(tmp, 'ansible-local'))
    proc = subprocess.run([os.path.join(bin_dir, 'ansible-playbook'), '-i', inventory, playbook], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stdout)
    times = [(task['task'], task['seconds'], task['changed']) for task in _harness.read_task_times(times_file)]
    start = [t for name, t, changed in times if name == 'start']
    ping = [t for name, t, changed in times if name.startswith('ping ')]
    iso = [t for name, t, changed in times if name.startswith('isolated_process ')]
    assert not any(changed for name, t, changed in times if name.startswith('isolated_process ')), times
    return median_ms(start), median_ms(iso), median_ms(ping)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--rounds', type=int, default=15, help='start latency samples per case')
    parser.add_argument('--tasks', type=int, default=15, help='idempotent and ping tasks each')
    options = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('run as root: isolated_process needs CAP_SYS_ADMIN')
    bin_dir = os.environ.get('NSOPS_ANSIBLE_BIN_DIR') or os.path.join(REPO, '.venv', 'bin')
    if not os.access(os.path.join(bin_dir, 'ansible-playbook'), os.X_OK):
        raise SystemExit('no ansible-playbook in %s: run tools/env.sh or set NSOPS_ANSIBLE_BIN_DIR' % bin_dir)

    tmp = tempfile.mkdtemp(prefix='nsops-bench-iso-')
    link_root = os.path.join(tmp, 'lib')
    os.makedirs(os.path.join(link_root, 'ansible_collections', 'nsops'))
    os.symlink(REPO, os.path.join(link_root, 'ansible_collections', 'nsops', 'namespaces'))
    sys.path.insert(0, link_root)
    from ansible_collections.nsops.namespaces.plugins.module_utils._isolation.converge import converge

    try:
        print('start latency (median of %d, ms)       isolated_process   unshare CLI   ratio' % options.rounds)
        for label, (ours, cli) in bench_start_latency(converge, tmp, options.rounds).items():
            print('  %-34s %10.1f %13.1f %8.2f' % (label, ours, cli, ours / cli))
        start, iso, ping = bench_task(tmp, bin_dir, options.tasks)
        print('task time (median of %d, ms)' % options.tasks)
        print('  isolated_process start task      %10.1f' % start)
        print('  isolated_process idempotent task %10.1f' % iso)
        print('  ansible.builtin.ping task        %10.1f' % ping)
        print('  idempotent / ping ratio          %10.2f   (target <= 1.20: %s)'
              % (iso / ping, 'met' if iso / ping <= 1.2 else 'NOT met'))
    finally:
        for name in ('bench-start', 'bench-task'):
            converge({'name': name, 'state': 'absent', 'state_dir': os.path.join(tmp, 'state'),
                      'stop_signal': 'SIGKILL'})
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
