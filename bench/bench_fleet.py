# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: the fleet facts play over an SSH fleet vs the same play with setup min (issue 6).

Run as root from the repository's .venv (ansible-core installed)::

    .venv/bin/python bench/bench_fleet.py                 # 20 hosts, forks 10, 5 rounds
    .venv/bin/python bench/bench_fleet.py --rounds 11 --hosts 3 --forks 3

It starts an SSH fleet (tests/lab/fleet.py: sshd in network namespaces, its own
hostname each, key-only root login) and times two playbooks end to end, each a
fresh ``ansible-playbook`` (SSH pipelining, --forks, ControlPersist
masters closed before every run so each run pays its own connections):

  fleet facts   the nsops.namespaces.fleet role's ``facts`` entry point
                (nsops.namespaces.namespace_facts with the role's default sources)
  setup min     the same play with ``ansible.builtin.setup: gather_subset: [min]``
                in its place

interleaved over --rounds rounds after one warm-up round, and prints medians,
min/max, the ratio of the medians and the issue 6 target (<= 1.5x) with
PASS/FAIL. All hosts share this machine's kernel, so the facts module reads every
process on the machine: the process count is printed (other load on the machine
shows up in both plays, but more in the facts one).
Exit status: 0 (a measurement), 2 if the fleet could not be set up, 3 if a play failed.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests'))
import _harness  # noqa: E402  pylint: disable=wrong-import-position
from lab.fleet import SshFleet  # noqa: E402  pylint: disable=wrong-import-position

TARGET_RATIO = 1.5

FACTS_PLAY = '''\
- name: Fleet facts
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Namespace facts through the fleet role
      ansible.builtin.include_role:
        name: nsops.namespaces.fleet
        tasks_from: facts
'''

SETUP_PLAY = '''\
- name: Fleet facts
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Minimal setup facts
      ansible.builtin.setup:
        gather_subset: [min]
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--hosts', type=int, default=20)
    parser.add_argument('--forks', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    _harness.require_root()
    _harness.install_signal_handlers()
    bin_dir = os.path.dirname(sys.executable)
    playbook_bin = os.path.join(bin_dir, 'ansible-playbook')
    if not os.path.exists(playbook_bin):
        _harness.log('run with the .venv python (ansible-playbook not in %s)' % bin_dir)
        return 2
    try:
        fleet = SshFleet(hosts=args.hosts, unreachable=0, python=_harness.real_python()).__enter__()
    except Exception as exc:  # noqa: BLE001
        _harness.log('fleet setup failed: %s' % exc)
        return 2
    try:
        with _harness.collection_path() as collections:
            inventory = fleet.write_inventory(os.path.join(fleet.work, 'inventory.json'))
            plays = {}
            for name, text in (('fleet facts', FACTS_PLAY), ('setup min', SETUP_PLAY)):
                path = os.path.join(fleet.work, name.replace(' ', '_') + '.yml')
                with open(path, 'w') as handle:
                    handle.write(text)
                plays[name] = path
            env = dict(os.environ)
            env.update(fleet.ansible_env())
            env.update({'ANSIBLE_COLLECTIONS_PATH': collections, 'ANSIBLE_STDOUT_CALLBACK': 'default',
                        'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_RETRY_FILES_ENABLED': '0',
                        'ANSIBLE_LOCALHOST_WARNING': '0'})
            env.pop('ANSIBLE_CONFIG', None)

            def run(name):
                fleet.close_ssh_masters()
                result = _harness.timed_run([playbook_bin, '-i', inventory, plays[name], '--forks', str(args.forks)],
                                            env=env)
                if result.rc != 0:
                    _harness.log(result.stdout.decode('utf-8', 'replace')[-3000:] + result.stderr[-3000:])
                    raise SystemExit(3)
                return result

            print('bench_fleet: %s' % _harness.host_summary())
            print('fleet: %d SSH hosts (%s), forks %d, %d processes on the machine at start'
                  % (args.hosts, ', '.join(h.name for h in fleet.reachable), args.forks, _harness.count_procs()))
            results = _harness.interleave([(n, (lambda n=n: run(n))) for n in plays], args.rounds, warmup=1)
            print('processes on the machine at the end: %d' % _harness.count_procs())
            print()
            print('%-12s %10s %10s %10s %4s' % ('play', 'median ms', 'min ms', 'max ms', 'n'))
            summary = {}
            for name in plays:
                st = _harness.stats(r.wall for r in results[name])
                summary[name] = st
                print('%-12s %10s %10s %10s %4d' % (
                    name, _harness.fmt_ms(st['median']), _harness.fmt_ms(st['min']), _harness.fmt_ms(st['max']), st['n']))
            ratio = summary['fleet facts']['median'] / summary['setup min']['median']
            verdict = 'PASS' if ratio <= TARGET_RATIO else 'FAIL'
            print()
            print('ratio fleet facts / setup min (medians): %.2fx   target <= %.1fx: %s' % (ratio, TARGET_RATIO, verdict))
            print(json.dumps({'ratio': round(ratio, 3), 'target': TARGET_RATIO, 'verdict': verdict,
                              'median_ms': dict((n, round(s['median'] * 1000, 1)) for n, s in summary.items())}))
    finally:
        fleet.close()
        left = fleet.leftovers()
        print('cleanup: %s' % ('OK, nothing left' if not left else 'INCOMPLETE: %s' % left))
    return 0


if __name__ == '__main__':
    sys.exit(main())
