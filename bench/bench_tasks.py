# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: what users pay per task, at 1,000 / 5,000 / 10,000 host processes (issue 16).

Run as root from the repository's .venv (ansible-core installed)::

    .venv/bin/python bench/bench_tasks.py                       # 1000,5000,10000; 5 rounds
    .venv/bin/python bench/bench_tasks.py --sizes 1000 --rounds 9

For each size it starts that many extra processes in namespace sets of ten
(bench/_harness.py: each set has its own pid, net, uts, ipc, mnt and cgroup
namespaces), then measures in the same run:

Tasks, in one ``ansible-playbook`` against localhost (connection local), every task
once per round in an order that rotates from round to round, after one warm-up
round; a callback (bench/callback_plugins/bench_task_timer.py) times each task from
its start to its result on the controller:

  ping, setup min            ansible.builtin.ping; ansible.builtin.setup gather_subset=min
  namespace_facts            default options
  namespace_facts command_lines   command_lines: true (lsns's COMMAND in the pids table)
  socket_info one netns      pid= a process of one set (one network namespace)
  socket_info every netns    no selector
  container_info one pid     pid= a process of one set

Module processes: the AnsiballZ wrapper Ansible runs for the task (kept with
ANSIBLE_KEEP_REMOTE_FILES), started directly, wall time and peak RSS, interleaved
with the references:

  ping module                what every module process pays: interpreter, unzip,
                             ansible-core's imports compiled from source
  namespace_facts module     vs the C readlink floor (bench/readlink_floor.c:
                             readlink of every /proc/PID/ns/* link) and ``lsns -J``
  socket_info one netns      vs ``nsenter --net=/proc/PID/ns/net ss -tanp``
  socket_info every netns    vs ``nsenter ... ss -tuxanp`` in each network namespace
                             in turn (only up to --every-netns-max processes: the
                             reference reads every process once per namespace)

Controller: peak RSS of an ``ansible-playbook`` that runs one module three times.
It prints medians, result bytes, the ratios and the issue 16 targets with PASS/FAIL.
Exit status: 0 (a measurement), 2 if setting up failed, 3 if a measured command failed.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _harness  # noqa: E402  pylint: disable=wrong-import-position

SET_SIZE = 10

TARGETS = {
    # (row, reference, size or None for every size): ratio
    ('namespace_facts', 'ping', 1000): 1.3,
    ('namespace_facts', 'ping', 10000): 2.5,
    ('namespace_facts module', 'C readlink floor', 10000): 2.0,
    ('socket_info one netns module', 'ss -tanp in that netns', 10000): 1.2,
    ('socket_info every netns module', 'ss -tuxanp in each netns', None): 0.5,
}
TARGET_BYTES_PER_1000 = 60 * 1024
TARGET_MODULE_RSS_MB = 40.0
TARGET_RSS_AT = 10000


def task_rows(pid):
    """(label, module, args) of every timed task."""
    return [
        ('ping', 'ansible.builtin.ping', {}),
        ('setup min', 'ansible.builtin.setup', {'gather_subset': ['min']}),
        ('namespace_facts', 'nsops.namespaces.namespace_facts', {}),
        ('namespace_facts command_lines', 'nsops.namespaces.namespace_facts', {'command_lines': True}),
        ('socket_info one netns', 'nsops.namespaces.socket_info', {'pid': pid}),
        ('socket_info every netns', 'nsops.namespaces.socket_info', {}),
        ('container_info one pid', 'nsops.namespaces.container_info', {'pid': pid}),
    ]


def write_playbook(path, rows, rounds, repeat_same=False):
    """A play with ``rounds`` (+1 warm-up) passes over ``rows``, rotating the order."""
    tasks = []
    total = rounds + 1
    for number in range(total):
        shift = 0 if repeat_same else number % len(rows)
        for label, module, margs in rows[shift:] + rows[:shift]:
            tasks.append({'name': '%s #%d' % (label, number), module: margs})
    play = [{'name': 'bench', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
    with open(path, 'w') as handle:
        json.dump(play, handle)   # JSON is YAML


class Bench:
    def __init__(self, args, work, collections):
        self.args = args
        self.work = work
        self.collections = collections
        self.python = os.path.realpath(sys.executable)
        bin_dir = os.path.dirname(sys.executable)
        self.playbook = os.path.join(bin_dir, 'ansible-playbook')
        self.adhoc = os.path.join(bin_dir, 'ansible')
        self.inventory = os.path.join(work, 'inventory.ini')
        with open(self.inventory, 'w') as handle:
            handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % self.python)
        self.env = dict(os.environ)
        self.env.pop('ANSIBLE_CONFIG', None)
        self.env.update({
            'ANSIBLE_COLLECTIONS_PATH': collections,
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
            'ANSIBLE_STDOUT_CALLBACK': 'default',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_LOCALHOST_WARNING': '0',
            'ANSIBLE_RETRY_FILES_ENABLED': '0',
            'ANSIBLE_DEPRECATION_WARNINGS': '0',
            'ANSIBLE_SYSTEM_WARNINGS': '0',
        })
        self.floor = self._build_floor()

    def _build_floor(self):
        binary = os.path.join(self.work, 'readlink_floor')
        gcc = shutil.which('gcc') or shutil.which('cc')
        if not gcc:
            return None
        subprocess.run([gcc, '-O2', '-o', binary, os.path.join(HERE, 'readlink_floor.c')], check=True)
        return binary

    def run_playbook(self, path, times):
        env = dict(self.env, NSOPS_BENCH_TIMES=times)
        result = _harness.timed_run([self.playbook, '-i', self.inventory, path], env=env)
        if result.rc != 0:
            _harness.log(result.stdout.decode('utf-8', 'replace')[-4000:] + result.stderr[-2000:])
            raise SystemExit(3)
        return result

    def tasks(self, rows):
        path = os.path.join(self.work, 'tasks.json')
        times = os.path.join(self.work, 'times.jsonl')
        if os.path.exists(times):
            os.unlink(times)
        write_playbook(path, rows, self.args.rounds)
        self.run_playbook(path, times)
        out = dict((label, {'seconds': [], 'bytes': None}) for label, dummy, dummy in rows)
        with open(times) as handle:
            for line in handle:
                item = json.loads(line)
                label, number = item['task'].rsplit(' #', 1)
                if item['status'] != 'ok':
                    _harness.log('task %s failed' % item['task'])
                    raise SystemExit(3)
                if int(number) == 0:
                    continue
                out[label]['seconds'].append(item['seconds'])
                out[label]['bytes'] = item['bytes']
        return out

    def controller_rss(self, row):
        path = os.path.join(self.work, 'rss.json')
        write_playbook(path, [row], 2, repeat_same=True)
        return self.run_playbook(path, os.devnull).maxrss_kb

    def ansiballz(self, module, margs):
        """The AnsiballZ wrapper Ansible runs for ``module`` with ``margs``."""
        remote_tmp = tempfile.mkdtemp(prefix='ansiballz-', dir=self.work)
        env = dict(self.env, ANSIBLE_KEEP_REMOTE_FILES='1', ANSIBLE_REMOTE_TMP=remote_tmp)
        argv = [self.adhoc, '-i', self.inventory, 'localhost', '-m', module, '-o']
        if margs:
            argv += ['-a', json.dumps(margs)]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        found = glob.glob(os.path.join(remote_tmp, '*', 'AnsiballZ_*.py'))
        if proc.returncode != 0 or not found:
            _harness.log('could not keep the AnsiballZ wrapper of %s: %s %s' % (module, proc.stdout[-2000:], proc.stderr[-2000:]))
            raise SystemExit(3)
        return [self.python, found[0]]


SOURCES_CODE = r'''
import sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover
discover(sources=tuple(s for s in sys.argv[2].split(',') if s))
'''

SOURCE_SETS = ('', 'tasks', 'fds', 'bind_mounts', 'sockets', 'tasks,bind_mounts', 'tasks,fds,bind_mounts')


def measure_sources(bench, collections, rounds):
    """What each discovery source costs: discover() in a fresh python with only that source
    (besides the process links, always read), wall and CPU (workers included)."""
    commands = [(source or '(links only)', [bench.python, '-I', '-S', '-c', SOURCES_CODE, collections, source])
                for source in SOURCE_SETS]

    def make(argv):
        return lambda: _harness.timed_run(argv)
    results = _harness.interleave([(label, make(argv)) for label, argv in commands], rounds, warmup=1)
    base = None
    print()
    print('%-26s %10s %10s %16s' % ('discover() sources', 'median ms', 'CPU ms', 'CPU over links'))
    for label, dummy in commands:
        wall = median([r.wall for r in results[label]])
        cpu = median([r.utime + r.stime for r in results[label]])
        if base is None:
            base = cpu
        print('%-26s %10s %10s %16s' % (label, _harness.fmt_ms(wall), _harness.fmt_ms(cpu), '%+.0f%%' % ((cpu / base - 1) * 100)))


def every_netns_reference(pids):
    """One shell running ss in each network namespace in turn."""
    script = ''.join('nsenter --net=/proc/%d/ns/net ss -tuxanp >/dev/null\n' % pid for pid in pids)
    return ['sh', '-c', script]


def measure_processes(bench, commands, rounds):
    """{label: {'wall': [...], 'rss': max KiB, 'bytes': last stdout size}} for ``commands``."""
    def make(argv):
        def run():
            result = _harness.timed_run(argv)
            if result.rc != 0:
                _harness.log('%s failed (%d): %s' % (argv[:3], result.rc, result.stderr[-2000:]))
                raise SystemExit(3)
            return result
        return run
    results = _harness.interleave([(label, make(argv)) for label, argv in commands], rounds, warmup=1)
    return dict((label, {'wall': [r.wall for r in runs], 'rss': max(r.maxrss_kb for r in runs),
                         'bytes': len(runs[-1].stdout), 'stdout': runs[-1].stdout}) for label, runs in results.items())


def result_split(stdout):
    """Where the bytes of a namespace_facts result go: records, the pids table and the
    command lines in it (their length is whatever the processes were started with)."""
    facts = json.loads(stdout[stdout.index(b'{'):])['ansible_facts']['namespaces']
    commands = sum(len(json.dumps(entry['command'])) for entry in facts['pids'].values() if 'command' in entry)
    return 'records %d B (%d), pids table %d B (%d), of which command lines %d B' % (
        len(json.dumps(facts['namespaces'])), len(facts['namespaces']), len(json.dumps(facts['pids'])),
        len(facts['pids']), commands)


def median(values):
    return _harness.stats(values)['median']


def bench_size(bench, size, summary):
    with _harness.NamespaceSets(procs=size, sets=max(1, size // SET_SIZE), quiet=True) as sets:
        pid = sets.sets[0].init
        host_procs = _harness.count_procs()
        print('\n## %d extra processes in %d namespace sets (%d on the host), %d rounds'
              % (size, len(sets.sets), host_procs, bench.args.rounds))
        rows = task_rows(pid)
        tasks = bench.tasks(rows)
        print('%-30s %10s %10s %10s %12s' % ('task', 'median ms', 'min ms', 'max ms', 'result B'))
        for label, dummy, dummy in rows:
            st = _harness.stats(tasks[label]['seconds'])
            print('%-30s %10s %10s %10s %12d' % (label, _harness.fmt_ms(st['median']), _harness.fmt_ms(st['min']),
                                                 _harness.fmt_ms(st['max']), tasks[label]['bytes']))
            summary[(label, size)] = st['median']
        summary[('namespace_facts bytes', size)] = tasks['namespace_facts']['bytes']

        commands = [
            ('ping module', bench.ansiballz('ansible.builtin.ping', {})),
            ('namespace_facts module', bench.ansiballz('nsops.namespaces.namespace_facts', {})),
            ('lsns -J', ['lsns', '-J']),
            ('socket_info one netns module', bench.ansiballz('nsops.namespaces.socket_info', {'pid': pid})),
            ('ss -tanp in that netns', ['nsenter', '--net=/proc/%d/ns/net' % pid, 'ss', '-tanp']),
        ]
        if bench.floor:
            commands.append(('C readlink floor', [bench.floor]))
        if size <= bench.args.every_netns_max:
            commands.append(('socket_info every netns module', bench.ansiballz('nsops.namespaces.socket_info', {})))
            commands.append(('ss -tuxanp in each netns', every_netns_reference([s.init for s in sets.sets])))
        processes = measure_processes(bench, commands, bench.args.rounds)
        print()
        print('%-32s %10s %10s %10s %12s' % ('process', 'median ms', 'min ms', 'max ms', 'peak RSS MB'))
        for label, dummy in commands:
            st = _harness.stats(processes[label]['wall'])
            print('%-32s %10s %10s %10s %12s' % (label, _harness.fmt_ms(st['median']), _harness.fmt_ms(st['min']),
                                                 _harness.fmt_ms(st['max']), _harness.fmt_mb(processes[label]['rss'])))
            summary[(label, size)] = st['median']
        summary[('namespace_facts module rss', size)] = processes['namespace_facts module']['rss']
        print('namespace_facts result: %s' % result_split(processes['namespace_facts module']['stdout']))
        print_fixed_cost(summary, size)

        measure_sources(bench, bench.collections, bench.args.rounds)

        print()
        print('%-26s %14s' % ('controller (3 tasks)', 'peak RSS MB'))
        for row in rows:
            if row[0] in ('ping', 'namespace_facts', 'socket_info every netns'):
                print('%-26s %14s' % (row[0], _harness.fmt_mb(bench.controller_rss(row))))
    print('cleanup: %s' % ('OK' if not sets.leftovers else 'INCOMPLETE: %s' % sets.leftovers))


def print_fixed_cost(summary, size):
    """What of a module process every AnsiballZ module pays (the ping module: interpreter,
    unzip, ansible-core's imports and compile), and the rest against the references."""
    fixed = summary.get(('ping module', size))
    if fixed is None:
        return
    print('fixed cost of any module process (ping module): %s ms' % _harness.fmt_ms(fixed))
    for row, reference in (('namespace_facts module', 'C readlink floor'),
                           ('socket_info one netns module', 'ss -tanp in that netns')):
        if (row, size) in summary and (reference, size) in summary:
            rest = summary[(row, size)] - fixed
            print('  %-30s beyond it: %8s ms = %5.2fx %s (informational)'
                  % (row, _harness.fmt_ms(rest), rest / summary[(reference, size)], reference))


def print_targets(summary, sizes):
    print('\n## Targets of issue 16 (ratios of medians from this run)')
    for (row, reference, at), target in sorted(TARGETS.items(), key=lambda item: (item[0][0], item[0][2] or 0)):
        for size in sizes if at is None else [at]:
            if (row, size) not in summary or (reference, size) not in summary:
                continue
            ratio = summary[(row, size)] / summary[(reference, size)]
            print('%-32s / %-26s at %6d: %5.2fx  target <= %.1fx: %s'
                  % (row, reference, size, ratio, target, 'PASS' if ratio <= target else 'FAIL'))
    for size in sizes:
        size_bytes = summary.get(('namespace_facts bytes', size))
        if size_bytes is not None:
            per = size_bytes * 1000.0 / size
            print('namespace_facts result at %6d: %8d B = %6.1f KB per 1,000 processes  target <= %d KB: %s'
                  % (size, size_bytes, per / 1024, TARGET_BYTES_PER_1000 // 1024,
                     'PASS' if per <= TARGET_BYTES_PER_1000 else 'FAIL'))
    rss = summary.get(('namespace_facts module rss', TARGET_RSS_AT))
    if rss is not None:
        print('namespace_facts module peak RSS at %d: %.1f MB  target <= %.0f MB: %s'
              % (TARGET_RSS_AT, rss / 1024.0, TARGET_MODULE_RSS_MB, 'PASS' if rss / 1024.0 <= TARGET_MODULE_RSS_MB else 'FAIL'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='1000,5000,10000')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--every-netns-max', type=int, default=1000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(',')]
    _harness.require_root()
    _harness.install_signal_handlers()
    if not os.path.exists(os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')):
        _harness.log('run with the .venv python (ansible-playbook not beside %s)' % sys.executable)
        return 2
    print('bench_tasks: %s' % _harness.host_summary())
    summary = {}
    work = tempfile.mkdtemp(prefix='nsbench-tasks-')
    try:
        with _harness.collection_path() as collections:
            bench = Bench(args, work, collections)
            for size in sizes:
                bench_size(bench, size, summary)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_targets(summary, sizes)
    return 0


if __name__ == '__main__':
    sys.exit(main())
