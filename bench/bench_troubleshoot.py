# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: socket_info vs nsenter + ss per network namespace, namespace_exec vs nsenter (issue 5).

Run as root (Python 3.11 standard library only)::

    python3 bench/bench_troubleshoot.py                  # 1,000 processes in 50 namespace sets
    python3 bench/bench_troubleshoot.py --repeat 7 --no-listeners

It starts N extra processes over M namespace sets (bench/_harness.py; every set has its
own network namespace) and, unless --no-listeners, ONE extra process that holds a
listening TCP socket inside every set's network namespace (made there with setns, held
from the host's namespace), so that no socket table is empty. Then, in one run,
interleaved over --repeat rounds after a warm-up round:

  (a) socket_info, TCP      a fresh python3 that imports _netsockets, runs socket_info over
                            every network namespace with protocols [tcp] and writes the
                            result as JSON to a pipe the benchmark reads
  (b) nsenter + ss -tanp    `nsenter --net=NSFILE ss -tanp` for each of the same
                            namespaces, one after the other (the sum of the walls)
  (a2) socket_info, all     the same with TCP, UDP and unix sockets
  (b2) nsenter + ss -tuxanp likewise
  (e) python3 + import      the fixed cost of (a) and (a2)
  (c) namespace_exec call   open_process_target + run_command(['true']) into PID 1 of a
                            set, timed inside one python3 (per call: fork, setns x6, fork, exec)
  (d) nsenter -t PID -a true, run from the benchmark (fork, exec, setns, fork, exec)
  (c2) python3 + namespace_exec once: a fresh interpreter doing one (c)

and prints medians, minimums and maximums and the ratios (a)/(b), (a2)/(b2), (c)/(d),
(c2)/(d). Every process it started is ended by PID. Exit status: 0 (a measurement),
2 if setting up the processes failed, 3 if a measured command failed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402  pylint: disable=wrong-import-position

MODULE_UTILS = 'ansible_collections.nsops.namespaces.plugins.module_utils'

SOCKET_INFO_CODE = r'''
import sys
sys.path.insert(0, sys.argv[1])
import json
from %s._sockets.engine import Query, socket_info
result = socket_info('/proc', Query({'protocols': sys.argv[2].split(',')}))
sys.stdout.write(json.dumps({'changed': False, **result}))
''' % MODULE_UTILS

IMPORT_CODE = r'''
import sys
sys.path.insert(0, sys.argv[1])
from %s._sockets import engine as sockets
from %s._nsexec import engine as nsexec
''' % (MODULE_UTILS, MODULE_UTILS)

EXEC_LOOP_CODE = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
from %(mu)s._nsexec.engine import Command, DEFAULT_PATH, open_process_target, run_command
from %(mu)s._kernel.procfs import ProcRoot
pid, calls = int(sys.argv[2]), int(sys.argv[3])
root = ProcRoot('/proc')
times = []
entered = None
for call in range(calls):
    t0 = time.perf_counter()
    with open_process_target(root, pid) as target:
        done = run_command(target, Command(['true'], {'PATH': DEFAULT_PATH}))
        entered = sorted(target.inodes)
    times.append(time.perf_counter() - t0)
    assert done.rc == 0, done.stderr
sys.stdout.write(json.dumps({'times': times, 'entered': entered}))
''' % {'mu': MODULE_UTILS}

EXEC_ONCE_CODE = r'''
import sys
sys.path.insert(0, sys.argv[1])
from %(mu)s._nsexec.engine import Command, DEFAULT_PATH, open_process_target, run_command
from %(mu)s._kernel.procfs import ProcRoot
with open_process_target(ProcRoot('/proc'), int(sys.argv[2])) as target:
    assert run_command(target, Command(['true'], {'PATH': DEFAULT_PATH})).rc == 0
''' % {'mu': MODULE_UTILS}

# One process holding a listening TCP socket in each network namespace given (files),
# created there with setns and held from the host's namespace.
LISTENERS_CODE = r'''
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
home = os.open('/proc/self/ns/net', os.O_RDONLY)
held = []
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), 'setns ' + path)
    os.close(fd)
    os.system('ip link set lo up')
    server = socket.socket()
    server.bind(('127.0.0.1', 8080))
    server.listen()
    held.append(server)
    if libc.setns(home, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), 'setns back')
sys.stdout.write('ready %d\n' % len(held))
sys.stdout.flush()
os.close(1)
time.sleep(86400)
'''

ROWS = (
    ('socket_info_tcp', '(a) socket_info, protocols [tcp], fresh python3'),
    ('ss_tcp', '(b) nsenter --net=NS ss -tanp, every netns in turn'),
    ('socket_info_all', '(a2) socket_info, tcp+udp+unix, fresh python3'),
    ('ss_all', '(b2) nsenter --net=NS ss -tuxanp, every netns'),
    ('py_import', '(e) python3 + import _netsockets, _nsexec'),
    ('exec_call', '(c) namespace_exec call in-process (open + run true)'),
    ('nsenter', '(d) nsenter -t PID -a true'),
    ('exec_once', '(c2) python3 + namespace_exec once'),
)


class MeasureError(RuntimeError):
    pass


def network_namespaces(coll):
    """[(ref, file to enter it by)] of every network namespace, as discover() sees them."""
    sys.path.insert(0, coll)
    from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover  # noqa: E402
    facts = discover(sources=('fds', 'bind_mounts'))
    found = []
    for ref, record in sorted(facts['namespaces'].items()):
        if record['type'] != 'net':
            continue
        if record['pid'] is not None:
            found.append((ref, '/proc/%d/ns/net' % record['pid']))
        elif record['bind_mounts']:
            found.append((ref, record['bind_mounts'][0]['path']))
    return found


def _checked(result, what):
    if result.rc != 0:
        raise MeasureError('%s exited with %d:\n%s' % (what, result.rc, result.stderr[-3000:]))
    return result


def wall_task(argv, what, parse_json=False):
    def run():
        result = _checked(_harness.timed_run(argv), what)
        return {'wall': result.wall, 'maxrss_kb': result.maxrss_kb, 'cpu': result.utime + result.stime,
                'payload': json.loads(result.stdout) if parse_json else None}
    return run


def ss_task(namespaces, flags):
    """One `nsenter --net=FILE ss FLAGS` per namespace; the wall is their sum."""
    def run():
        total = cpu = 0.0
        rss = 0
        lines = 0
        for unused_ref, path in namespaces:
            result = _checked(_harness.timed_run(['nsenter', '--net=' + path, 'ss', '-H'] + flags), 'ss in ' + path)
            total += result.wall
            cpu += result.utime + result.stime
            rss = max(rss, result.maxrss_kb)
            lines += len(result.stdout.splitlines())
        return {'wall': total, 'maxrss_kb': rss, 'cpu': cpu, 'payload': {'lines': lines}}
    return run


def start_listeners(python, sets):
    """The listener holder (one process); returns its Popen once every set's socket listens."""
    files = ['/proc/%d/ns/net' % nsset.init for nsset in sets.sets]
    popen = subprocess.Popen([python, '-c', LISTENERS_CODE] + files, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    line = popen.stdout.readline().decode()
    popen.stdout.close()
    if not line.startswith('ready'):
        popen.kill()
        popen.wait()
        raise _harness.HarnessError('the listener holder failed: %s' % popen.stderr.read().decode()[-2000:])
    return popen, int(line.split()[1])


def measure(args, coll, namespaces, exec_pid):
    py = [args.python, '-I']
    tasks = [
        ('socket_info_tcp', wall_task(py + ['-c', SOCKET_INFO_CODE, coll, 'tcp'], 'socket_info', True)),
        ('ss_tcp', ss_task(namespaces, ['-tanp'])),
        ('socket_info_all', wall_task(py + ['-c', SOCKET_INFO_CODE, coll, 'tcp,udp,unix'], 'socket_info', True)),
        ('ss_all', ss_task(namespaces, ['-tuxanp'])),
        ('py_import', wall_task(py + ['-c', IMPORT_CODE, coll], 'import')),
        ('nsenter', wall_task(['nsenter', '-t', str(exec_pid), '-a', 'true'], 'nsenter')),
        ('exec_once', wall_task(py + ['-c', EXEC_ONCE_CODE, coll, str(exec_pid)], 'namespace_exec once')),
        ('exec_call', wall_task(py + ['-c', EXEC_LOOP_CODE, coll, str(exec_pid), str(args.calls)],
                                'namespace_exec calls', True)),
    ]
    return _harness.interleave(tasks, args.repeat, warmup=1)


def values(results, key):
    if key == 'exec_call':
        return [t for r in results[key] for t in r['payload']['times']]
    return [r['wall'] for r in results[key]]


def report(args, sets, namespaces, listeners, results):
    w = print
    w('')
    w('=' * 100)
    w('nsops.namespaces troubleshooting benchmark: %d extra processes in %d namespace sets%s, %d rounds (+1 warm-up)'
      % (args.procs, args.sets, (' + 1 process holding a TCP listener in each of their %d netns' % listeners)
         if listeners else ' (socket tables empty: --no-listeners)', args.repeat))
    w('host: %s' % _harness.host_summary())
    w('load average before: %s; processes during the run: %d (baseline %d + %d started)'
      % (args.load_before, sets.baseline + len(sets.pids) + (1 if listeners else 0), sets.baseline,
         len(sets.pids) + (1 if listeners else 0)))
    last_tcp = results['socket_info_tcp'][-1]['payload']
    w('network namespaces: %d (discover() before the rounds; the ss rows enter each of them); socket_info read %d '
      'in the last round' % (len(namespaces), len(last_tcp['namespaces'])))
    tcp_rows = len(last_tcp['sockets'])
    w('last round, TCP sockets: socket_info %d rows, ss -tanp %d lines; all protocols: socket_info %d rows, '
      'ss -tuxanp %d lines' % (tcp_rows, results['ss_tcp'][-1]['payload']['lines'],
                               len(results['socket_info_all'][-1]['payload']['sockets']),
                               results['ss_all'][-1]['payload']['lines']))
    owned = sum(1 for row in last_tcp['sockets'] if row['owners'])
    w('socket_info TCP rows with an owner: %d of %d; namespace_exec entered %s'
      % (owned, tcp_rows, ', '.join(results['exec_call'][-1]['payload']['entered'])))
    w('')
    w('%-58s %9s %9s %9s %11s %8s' % ('measurement (ms)', 'median', 'min', 'max', 'peak RSS MB', 'CPU ms'))
    w('-' * 100)
    med = {}
    for key, label in ROWS:
        s = _harness.stats(values(results, key))
        med[key] = s['median']
        if key == 'exec_call':
            label += ' [per call, %d calls/round]' % args.calls
            rss = cpu = ''
        else:
            rss = _harness.fmt_mb(max(r['maxrss_kb'] for r in results[key]))
            cpu = _harness.fmt_ms(_harness.stats(r['cpu'] for r in results[key])['median'])
        w('%-58s %9s %9s %9s %11s %8s' % (label, _harness.fmt_ms(s['median']), _harness.fmt_ms(s['min']),
                                          _harness.fmt_ms(s['max']), rss, cpu))
    w('-' * 100)
    rounds = zip(results['socket_info_tcp'], results['ss_tcp'])
    w('per round (a)/(b) ms: %s' % ', '.join('%.0f/%.0f' % (a['wall'] * 1000, b['wall'] * 1000) for a, b in rounds))
    w('')
    w('ratios of medians:')
    w('  socket_info tcp / nsenter+ss -tanp over every netns     (a)/(b)    %6.2f' % (med['socket_info_tcp'] / med['ss_tcp']))
    w('  socket_info all / nsenter+ss -tuxanp over every netns   (a2)/(b2)  %6.2f' % (med['socket_info_all'] / med['ss_all']))
    w('  socket_info tcp minus python start+import / (b)         (a-e)/(b)  %6.2f'
      % ((med['socket_info_tcp'] - med['py_import']) / med['ss_tcp']))
    w('  namespace_exec call / nsenter -t PID -a true            (c)/(d)    %6.2f' % (med['exec_call'] / med['nsenter']))
    w('  python3 + namespace_exec once / nsenter                 (c2)/(d)   %6.2f' % (med['exec_once'] / med['nsenter']))
    w('  per netns: socket_info %.2f ms, nsenter+ss -tanp %.2f ms'
      % (med['socket_info_tcp'] * 1000 / len(namespaces), med['ss_tcp'] * 1000 / len(namespaces)))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--procs', type=int, default=1000, help='extra processes (default 1000)')
    parser.add_argument('--sets', type=int, default=50, help='namespace sets, each with its own netns (default 50)')
    parser.add_argument('--repeat', type=int, default=5, help='measured rounds (default 5)')
    parser.add_argument('--calls', type=int, default=20, help='namespace_exec calls per round in (c) (default 20)')
    parser.add_argument('--no-listeners', action='store_true', help='leave the socket tables of the sets empty')
    parser.add_argument('--python', default=_harness.real_python(), help='interpreter for the python3 rows')
    return parser.parse_args()


def main():
    args = parse_args()
    _harness.install_signal_handlers()
    for tool in ('nsenter', 'ss', 'ip'):
        if shutil.which(tool) is None:
            print('%s not found in PATH' % tool, file=sys.stderr)
            return 2
    with open('/proc/loadavg') as handle:
        args.load_before = ' '.join(handle.read().split()[:3])
    listeners = None
    try:
        with _harness.collection_path() as coll, \
                _harness.NamespaceSets(procs=args.procs, sets=args.sets) as sets:
            try:
                namespaces = network_namespaces(coll)
                count = 0
                if not args.no_listeners:
                    listeners, count = start_listeners(args.python, sets)
                    _harness.log('started listener holder PID %d with %d sockets' % (listeners.pid, count))
                results = measure(args, coll, namespaces, sets.sets[0].init)
            finally:
                if listeners is not None:
                    listeners.kill()        # by its PID (Popen), never by name
                    listeners.wait()
                    listeners.stderr.close()
        report(args, sets, namespaces, count, results)
        print(sets.cleanup_report() + ('; listener holder PID %d ended' % listeners.pid if listeners else ''))
    except _harness.HarnessError as exc:
        print('setup failed: %s' % exc, file=sys.stderr)
        return 2
    except MeasureError as exc:
        print('measurement failed: %s' % exc, file=sys.stderr)
        return 3
    return 0


if __name__ == '__main__':
    sys.exit(main())
