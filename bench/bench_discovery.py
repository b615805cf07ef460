# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: namespace discovery vs ``lsns -J`` vs a bare /proc/*/ns/* loop (issue 2).

Run as root (Python 3.11 standard library only)::

    python3 bench/bench_discovery.py                       # 1,000 processes in 100 sets
    python3 bench/bench_discovery.py --procs 5000 --sets 500 --repeat 7
    python3 bench/bench_discovery.py --scale               # both 1,000/100 and 5,000/500

It starts N extra processes over M fresh namespace sets (bench/_harness.py), then in
one run, interleaved over --repeat rounds (after one warm-up round), measures

  (a)  discovery: a fresh ``python3 -I -S -c`` that imports the collection's _discovery,
       calls ``discover()`` with the default sources and writes ``json.dumps`` of the
       module result to a pipe the benchmark reads
  (b)  ``lsns -J``, stdout read from a pipe
  (f)  plugins/modules/namespace_facts.py run with AnsibleModule (if ansible-core is there)
  (e)  a fresh python3 that only imports _discovery (the fixed cost of (a))
  (c1) a fresh python3 readlink()ing every /proc/*/ns/* link; (c2) the same with stat();
       (c3) readlink plus one read of /proc/P/stat (the syscalls of the engine's pass)
  (d0) procfs.read_ns_links over every pid; (d1) plus procfs.read_stat;
       (d2) the link pass: _discovery.scan_processes reading stat and namespace links only;
       (d3) scan_processes as discover() runs it, which in the same visit of each PID also
       reads fds, nsfs ioctls, mountinfo and leader details (see _process_pass)
       -- c and d also report their in-process time

then prints medians/min/max, CPU times, peak RSS, the ratios and the issue 2 targets
with PASS/FAIL, and where discovery's time goes (``discover()`` unrolled, each step of
_discovery.STEPS timed). ``--compare TREE`` measures another checkout in the same
rounds. See bench/README.md.
Exit status: 0 (it is a measurement), 2 if setting up the processes failed, 3 if a
measured command failed.
"""

import argparse
import contextlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402  pylint: disable=wrong-import-position

MODULE_UTILS = 'ansible_collections.nsops.namespaces.plugins.module_utils'

# Targets of issue 2 ("Must show" -> Benchmark targets).
TARGET_DISCOVERY_VS_LSNS = 0.5
TARGET_LINK_PASS_VS_BARE = 1.3
TARGET_RSS_MB = 50.0
RSS_TARGET_AT = 5000

# ---------------------------------------------------------------------------- child code
# Each runs in a fresh interpreter: ``python3 -I -c CODE ARGS...``; -I keeps the user's
# environment (PYTHONPATH, user site) out, so sys.path gets the collection dir by hand.

DISCOVERY_CODE = r'''
import sys
sys.path.insert(0, sys.argv[1])
import json
from %s._discovery.pipeline import discover
facts = discover()
sys.stdout.write(json.dumps({'changed': False, 'ansible_facts': {'namespaces': facts}}))
''' % MODULE_UTILS

DISCOVERY_ALL_CODE = r'''
import sys
sys.path.insert(0, sys.argv[1])
import json
from %s._discovery.pipeline import discover
facts = discover(sources=('tasks', 'fds', 'sockets', 'bind_mounts'))
sys.stdout.write(json.dumps({'changed': False, 'ansible_facts': {'namespaces': facts}}))
''' % MODULE_UTILS

IMPORT_CODE = r'''
import sys
sys.path.insert(0, sys.argv[1])
import json
from %s._discovery.pipeline import discover
''' % MODULE_UTILS

BARE_CODE = r'''
import json, os, sys, time
mode = sys.argv[1]
t0 = time.perf_counter()
c0 = time.process_time()
names = os.listdir('/proc/self/ns')
call = os.stat if mode == 'stat' else os.readlink
read_stat = mode == 'readlink+statfile'
links = procs = 0
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    base = '/proc/' + pid + '/'
    try:
        if read_stat:
            fd = os.open(base + 'stat', os.O_RDONLY)
            os.read(fd, 4096)
            os.close(fd)
        for name in names:
            call(base + 'ns/' + name)
            links += 1
        procs += 1
    except OSError:
        pass
t = time.perf_counter() - t0
c = time.process_time() - c0
sys.stdout.write(json.dumps({'seconds': t, 'cpu': c, 'procs': procs, 'links': links}))
'''

LINK_CODE = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
mode = sys.argv[2]
from %(mu)s._kernel import procfs
from %(mu)s._discovery.pipeline import Discovery, check_proc_root, scan_processes
if mode in ('readers', 'links'):
    root = procfs.ProcRoot('/proc')
    with_stat = mode == 'readers'
    t0 = time.perf_counter()
    c0 = time.process_time()
    procs = 0
    for pid in procfs.list_pids(root):
        try:
            if with_stat:
                procfs.read_stat(root, pid)
            procfs.read_ns_links(root, pid)
            procs += 1
        except (OSError, ValueError):
            pass
    t = time.perf_counter() - t0
    c = time.process_time() - c0
else:
    state = Discovery('/proc')
    check_proc_root(state)
    plan = None
    if mode == 'scan':  # the link pass: stat and namespace links only
        try:
            from %(mu)s._discovery.process_pass import PassPlan
            plan = PassPlan(state.root, state.link_names)
        except ImportError:  # a --compare tree from before the one-pass engine
            pass
    t0 = time.perf_counter()
    c0 = time.process_time()
    scan_processes(state, plan) if plan else scan_processes(state)
    t = time.perf_counter() - t0
    c = time.process_time() - c0
    procs = len(state.processes)
sys.stdout.write(json.dumps({'seconds': t, 'cpu': c, 'procs': procs}))
''' % {'mu': MODULE_UTILS}

# discover() unrolled: every step timed (same order and source filter as discover()).
STEPS_CODE = r'''
import sys, time
t_start = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import json
from %(mu)s._discovery import pipeline as d
t = {}
t['import'] = time.perf_counter() - t_start
t0 = time.perf_counter()
state = d.Discovery('/proc', d.DEFAULT_SOURCES)
d.check_proc_root(state)
t['check_proc_root'] = time.perf_counter() - t0
for name, step in d.STEPS:
    wanted = d._OPTIONAL.get(name)
    if wanted and not any(s in state.sources for s in wanted):
        continue
    t0 = time.perf_counter()
    step(state)
    t[name] = time.perf_counter() - t0
t0 = time.perf_counter()
facts = d.to_facts(state, 0.0)
t['to_facts'] = time.perf_counter() - t0
t0 = time.perf_counter()
out = json.dumps({'changed': False, 'ansible_facts': {'namespaces': facts}})
t['json.dumps'] = time.perf_counter() - t0
t['total_in_process'] = time.perf_counter() - t_start
with open('/proc/self/status') as handle:
    hwm = int(handle.read().split('VmHWM:')[1].split()[0])
sys.stdout.write(json.dumps({'times': t, 'processes': len(state.processes), 'vmhwm_kb': hwm,
                             'namespaces': len(state.namespaces), 'bytes': len(out)}))
''' % {'mu': MODULE_UTILS}

CPROFILE_CODE = r'''
import sys, cProfile, pstats, io
sys.path.insert(0, sys.argv[1])
import json
from %s._discovery.pipeline import discover
prof = cProfile.Profile()
prof.enable()
out = json.dumps(discover())
prof.disable()
buf = io.StringIO()
stats = pstats.Stats(prof, stream=buf)
stats.sort_stats(sys.argv[3]).print_stats(int(sys.argv[2]))
sys.stdout.write(buf.getvalue())
''' % MODULE_UTILS

# Measurements: (key, label, kind). kind 'wall' = wall time of the child process;
# 'inproc' = the seconds the child reports for its own loop (no interpreter start-up).
ROWS = (
    ('discovery', '(a) discovery: python3 + import + discover() + json', 'wall'),
    ('discovery_all', '(a2) the same with all four sources (+sockets)', 'wall'),
    ('lsns', '(b) lsns -J (stdout read from a pipe)', 'wall'),
    ('module', '(f) namespace_facts.py run with AnsibleModule (venv)', 'wall'),
    ('py_import', '(e) python3 + import _discovery only', 'wall'),
    ('bare_readlink', '(c1) bare readlink loop, fresh python3', 'wall'),
    ('bare_stat', '(c2) bare stat loop, fresh python3', 'wall'),
    ('bare_readlink', '(c1) bare readlink loop', 'inproc'),
    ('bare_stat', '(c2) bare stat loop', 'inproc'),
    ('bare_statfile', '(c3) bare readlink loop + read /proc/P/stat', 'inproc'),
    ('link_links', '(d0) procfs.read_ns_links, all pids', 'inproc'),
    ('link_readers', '(d1) read_stat + read_ns_links, all pids', 'inproc'),
    ('link_scan', '(d2) link pass: scan_processes, stat + ns links only', 'inproc'),
    ('full_pass', '(d3) scan_processes as discover() runs it (+fds, ioctls, ...)', 'inproc'),
    # --compare TREE: the same measurements of another checkout, interleaved in the same rounds
    ('discovery_cmp', "(a') discovery, --compare tree", 'wall'),
    ('py_import_cmp', "(e') python3 + import _discovery, --compare tree", 'wall'),
    ('link_links_cmp', "(d0') read_ns_links, --compare tree", 'inproc'),
    ('link_scan_cmp', "(d2') scan_processes, --compare tree", 'inproc'),
)


class MeasureError(RuntimeError):
    pass


def _task(argv, parse_json=True, env=None):
    def run():
        result = _harness.timed_run(argv, env=env)
        if result.rc != 0:
            raise MeasureError('%s exited with %d:\n%s' % (' '.join(argv[:3]), result.rc, result.stderr[-3000:]))
        payload = json.loads(result.stdout) if parse_json else None
        return {'wall': result.wall, 'maxrss_kb': result.maxrss_kb, 'bytes': len(result.stdout),
                'payload': payload, 'cpu': result.utime + result.stime}
    return run


def module_runner(args, coll):
    """argv and env to run plugins/modules/namespace_facts.py directly, or (None, reason)."""
    python = args.module_python
    if not python:
        return None, None, 'skipped (--no-module)'
    probe = _harness.timed_run([python, '-c', 'import ansible.module_utils.basic'])
    if probe.rc != 0:
        return None, None, 'skipped: %s cannot import ansible (give --module-python)' % python
    args_file = os.path.join(coll, 'module_args.json')
    with open(args_file, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': {}}, handle)
    env = dict(os.environ, PYTHONPATH=coll)
    argv = [python, os.path.join(args.collection, 'plugins', 'modules', 'namespace_facts.py'), args_file]
    return argv, env, None


def measure(args, coll, cmp_coll, module_argv, module_env):
    py = [args.python] + args.pyflags
    tasks = [
        ('discovery', _task(py + ['-c', DISCOVERY_CODE, coll])),
        ('discovery_all', _task(py + ['-c', DISCOVERY_ALL_CODE, coll])),
        ('lsns', _task(['lsns', '-J'])),
        ('bare_readlink', _task(py + ['-c', BARE_CODE, 'readlink'])),
        ('bare_stat', _task(py + ['-c', BARE_CODE, 'stat'])),
        ('bare_statfile', _task(py + ['-c', BARE_CODE, 'readlink+statfile'])),
        ('link_links', _task(py + ['-c', LINK_CODE, coll, 'links'])),
        ('link_readers', _task(py + ['-c', LINK_CODE, coll, 'readers'])),
        ('link_scan', _task(py + ['-c', LINK_CODE, coll, 'scan'])),
        ('full_pass', _task(py + ['-c', LINK_CODE, coll, 'pass'])),
        ('py_import', _task(py + ['-c', IMPORT_CODE, coll], parse_json=False)),
    ]
    if module_argv:
        tasks.append(('module', _task(module_argv, env=module_env)))
    if cmp_coll:
        tasks += [
            ('discovery_cmp', _task(py + ['-c', DISCOVERY_CODE, cmp_coll])),
            ('link_links_cmp', _task(py + ['-c', LINK_CODE, cmp_coll, 'links'])),
            ('link_scan_cmp', _task(py + ['-c', LINK_CODE, cmp_coll, 'scan'])),
            ('py_import_cmp', _task(py + ['-c', IMPORT_CODE, cmp_coll], parse_json=False)),
        ]
    return _harness.interleave(tasks, args.repeat, warmup=1)


def measure_steps(args, coll):
    runs = []
    for dummy in range(args.repeat):
        result = _harness.timed_run([args.python] + args.pyflags + ['-c', STEPS_CODE, coll])
        if result.rc != 0:
            raise MeasureError('step split failed:\n%s' % result.stderr[-3000:])
        payload = json.loads(result.stdout)
        payload['wall'] = result.wall
        payload['maxrss_kb'] = result.maxrss_kb
        runs.append(payload)
    return runs


def cprofile(args, coll):
    result = _harness.timed_run([args.python] + args.pyflags + ['-c', CPROFILE_CODE, coll,
                                                                str(args.cprofile), args.cprofile_sort])
    if result.rc != 0:
        raise MeasureError('cProfile run failed:\n%s' % result.stderr[-3000:])
    return result.stdout.decode('utf-8', 'replace')


def startup_costs(python):
    """Best of 5 wall times of an empty interpreter, with and without site."""
    costs = {}
    for label, flags in (('-I', ['-I']), ('-I -S', ['-I', '-S'])):
        costs[label] = min(_harness.timed_run([python] + flags + ['-c', 'pass']).wall for dummy in range(5))
    return costs


def _values(results, key, kind):
    if kind == 'wall':
        return [r['wall'] for r in results[key]]
    return [r['payload']['seconds'] for r in results[key]]


def verdict(ok):
    return 'PASS' if ok else 'FAIL'


def _median(values):
    return _harness.stats(values)['median']


def report(args, sets, results, steps, profile_text, module_note, cmp_steps=None):
    """Print the tables for one scale; return the target rows for the summary."""
    out = []
    w = out.append
    w('')
    w('=' * 104)
    w('nsops.namespaces discovery benchmark: %d extra processes in %d namespace sets, %d rounds (+1 warm-up)'
      % (args.procs, args.sets, args.repeat))
    w('host: %s' % _harness.host_summary())
    w('load average before the run: %s; nice %d' % (args.load_before, os.getpriority(os.PRIO_PROCESS, 0)))
    w('python children run as: %s %s -c ...; empty interpreter start (best of 5): %s'
      % (args.python, ' '.join(args.pyflags),
         ', '.join('%s %.1f ms' % (k, v * 1000) for k, v in args.startup.items())))
    w('spawn floor: `true` through the lean launcher takes %.1f ms and %.1f MB (included in every wall time/RSS below)'
      % (args.spawn[0] * 1000, args.spawn[1] / 1024.0))
    w('processes on the host during the run: %d (baseline %d + %d started); setup %.2f s'
      % (sets.baseline + len(sets.pids), sets.baseline, len(sets.pids), sets.setup_seconds))
    disc = results['discovery'][-1]['payload']['ansible_facts']['namespaces']
    lsns_ns = results['lsns'][-1]['payload'].get('namespaces', [])
    w('last round: discovery scanned %d processes (%s), found %d namespaces, wrote %d bytes of JSON; '
      'lsns -J listed %d namespaces in %d bytes'
      % (disc['discovery']['processes_scanned'],
         ', '.join('%s %d' % (k, v) for k, v in sorted(disc['discovery']['skipped'].items()) if v) or 'none skipped',
         len(disc['namespaces']), results['discovery'][-1]['bytes'], len(lsns_ns), results['lsns'][-1]['bytes']))
    expected = sets.baseline + len(sets.pids)
    seen = [r['payload']['ansible_facts']['namespaces']['discovery']['processes_scanned'] for r in results['discovery']]
    if max(abs(n - expected) for n in seen) > max(50, expected // 10):
        w('WARNING: the host had %d processes when the sets were up, but discovery saw %d..%d during the rounds: '
          'other jobs started or ended many processes, so these numbers do not describe %d extra processes'
          % (expected, min(seen), max(seen), args.procs))
    missing = _lsns_missing(disc, lsns_ns)
    if missing:
        w('NOTE: %d namespaces of lsns -J are missing from discovery or differ in nprocs (processes may have '
          'started or ended between the two runs): %s' % (len(missing), ', '.join(missing[:8])))
    if module_note:
        w('(f) namespace_facts module row %s' % module_note)
    w('')
    w('%-56s %9s %9s %9s %11s %8s' % ('measurement (ms; RSS and CPU: medians)', 'median', 'min', 'max', 'peak RSS MB', 'CPU ms'))
    w('-' * 104)
    med = {}
    for key, label, kind in ROWS:
        if key not in results:
            continue
        s = _harness.stats(_values(results, key, kind))
        med[(key, kind)] = s['median']
        rss = ''
        if kind == 'wall':
            rss = _harness.fmt_mb(_median(r['maxrss_kb'] for r in results[key]))
            cpu = _harness.fmt_ms(_median(r['cpu'] for r in results[key]))
        else:
            cpu = _harness.fmt_ms(_median(r['payload']['cpu'] for r in results[key]))
        label = label + (' [in-process]' if kind == 'inproc' else '')
        w('%-56s %9s %9s %9s %11s %8s' % (label, _harness.fmt_ms(s['median']), _harness.fmt_ms(s['min']),
                                          _harness.fmt_ms(s['max']), rss, cpu))
    w('-' * 104)
    w('per round, discovery/lsns ms: %s' % ', '.join(
        '%.0f/%.0f' % (d['wall'] * 1000, l['wall'] * 1000) for d, l in zip(results['discovery'], results['lsns'])))

    def ratio(a, b):
        return med[a] / med[b]

    r_disc = ratio(('discovery', 'wall'), ('lsns', 'wall'))
    r_disc_min = min(r['wall'] for r in results['discovery']) / min(r['wall'] for r in results['lsns'])
    r_disc_cpu = _median(r['cpu'] for r in results['discovery']) / _median(r['cpu'] for r in results['lsns'])
    r_link = ratio(('link_scan', 'inproc'), ('bare_readlink', 'inproc'))

    def cpu_ratio(a, b):
        return (_median(r['payload']['cpu'] for r in results[a]) / _median(r['payload']['cpu'] for r in results[b]))

    r_link_cpu = cpu_ratio('link_scan', 'bare_readlink')
    rss_disc = _median(r['maxrss_kb'] for r in results['discovery']) / 1024.0
    rss_disc_max = max(r['maxrss_kb'] for r in results['discovery']) / 1024.0
    rss_lsns = _median(r['maxrss_kb'] for r in results['lsns']) / 1024.0
    w('')
    w('ratios (of medians unless said):')
    w('  discovery / lsns -J, wall                        %5.2f  (of minimums %.2f; of CPU time %.2f)'
      % (r_disc, r_disc_min, r_disc_cpu))
    w('  discovery, all sources / lsns -J, wall    (a2)   %5.2f  (peak RSS %.1f MB)' % (
        ratio(('discovery_all', 'wall'), ('lsns', 'wall')),
        _median(r['maxrss_kb'] for r in results['discovery_all']) / 1024.0))
    w('  discovery minus python start+import / lsns -J    %5.2f  ((a) - (e): what an in-process caller would pay)'
      % ((med[('discovery', 'wall')] - med[('py_import', 'wall')]) / med[('lsns', 'wall')]))
    if ('module', 'wall') in med:
        w('  namespace_facts module run / lsns -J             %5.2f' % ratio(('module', 'wall'), ('lsns', 'wall')))
    w('  scan_processes / bare readlink loop   (d2)/(c1)  %5.2f  (of CPU time %.2f) <- the issue 2 link-pass target'
      % (r_link, r_link_cpu))
    for a, b, label, note in (
            ('link_links', 'bare_readlink', 'read_ns_links only / bare readlink    (d0)/(c1)', 'same syscalls: Python overhead'),
            ('link_readers', 'bare_statfile', 'read_stat+read_ns_links / same bare   (d1)/(c3)', 'same syscalls: Python overhead'),
            ('link_scan', 'bare_statfile', 'scan_processes / bare readlink+stat   (d2)/(c3)', 'same syscalls + records'),
            ('link_scan', 'bare_stat', 'scan_processes / bare stat loop       (d2)/(c2)', ''),
            ('full_pass', 'link_scan', 'whole pass / link pass                (d3)/(d2)', 'what fds, ioctls, mountinfo add'),
            ('bare_statfile', 'bare_readlink', 'bare readlink+stat / bare readlink   (c3)/(c1)',
             'floor of (d2)/(c1) while the pass reads stat')):
        suffix = ('  ' + note) if note else ''
        w('  %s  %5.2f  (of CPU time %.2f)%s' % (label, ratio((a, 'inproc'), (b, 'inproc')), cpu_ratio(a, b), suffix))
    if 'discovery_cmp' in results:
        w('  --compare %s:' % args.compare)
        w('    discovery / lsns -J, wall                      %5.2f  (of CPU time %.2f; vs this tree %.2f)' % (
            ratio(('discovery_cmp', 'wall'), ('lsns', 'wall')),
            _median(r['cpu'] for r in results['discovery_cmp']) / _median(r['cpu'] for r in results['lsns']),
            ratio(('discovery_cmp', 'wall'), ('discovery', 'wall'))))
        w('    scan_processes / bare readlink loop (d2\')/(c1) %5.2f  (of CPU time %.2f)' % (
            ratio(('link_scan_cmp', 'inproc'), ('bare_readlink', 'inproc')), cpu_ratio('link_scan_cmp', 'bare_readlink')))
        w('    read_ns_links / bare readlink       (d0\')/(c1) %5.2f  (of CPU time %.2f)' % (
            ratio(('link_links_cmp', 'inproc'), ('bare_readlink', 'inproc')), cpu_ratio('link_links_cmp', 'bare_readlink')))
        w('    peak RSS %.1f MB' % (_median(r['maxrss_kb'] for r in results['discovery_cmp']) / 1024.0))
    w('  peak RSS (median of rounds): discovery %.1f MB (max %.1f), lsns -J %.1f MB%s' % (
        rss_disc, rss_disc_max, rss_lsns, (', module %.1f MB' % (_median(r['maxrss_kb'] for r in results['module']) / 1024.0))
        if 'module' in results else ''))

    targets = [
        ('discovery <= %.1fx lsns -J wall, %d procs' % (TARGET_DISCOVERY_VS_LSNS, args.procs),
         '%.2f' % r_disc, r_disc <= TARGET_DISCOVERY_VS_LSNS),
        ('link pass (scan_processes) <= %.1fx bare readlink loop, %d procs' % (TARGET_LINK_PASS_VS_BARE, args.procs),
         '%.2f' % r_link, r_link <= TARGET_LINK_PASS_VS_BARE),
        ('peak RSS of discovery (median) <= %.0f MB, %d procs%s' % (
            TARGET_RSS_MB, args.procs, '' if args.procs >= RSS_TARGET_AT else ' (target set for 5,000)'),
         '%.1f MB' % rss_disc, rss_disc <= TARGET_RSS_MB),
    ]
    w('')
    w('issue 2 targets:')
    for name, value, ok in targets:
        w('  %-4s  %-78s %s' % (verdict(ok), name, value))
    w('  (judged on wall-time medians as the issue asks; by CPU time the two ratios are %.2f and %.2f --'
      ' steadier when other work shares the CPUs: load average was %s on %d CPUs)'
      % (r_disc_cpu, r_link_cpu, args.load_before, os.cpu_count() or 0))

    if steps:
        _steps_table(w, steps, 'this tree')
    if cmp_steps:
        _steps_table(w, cmp_steps, '--compare %s' % args.compare)
    if profile_text:
        w('')
        w('cProfile of discover() + json.dumps (top %d by %s):' % (args.cprofile, args.cprofile_sort))
        w(profile_text.strip())
    print('\n'.join(out), flush=True)
    return targets


def _steps_table(w, steps, what):
    w('')
    w('where discovery time goes (%s): discover() unrolled, every step timed in a fresh python3 (%d runs, ms):'
      % (what, len(steps)))
    total = _median(r['times']['total_in_process'] for r in steps)
    w('  %-22s %9s %9s %7s' % ('step', 'median', 'min', 'share'))
    for name in steps[0]['times']:
        if name == 'total_in_process':
            continue
        s = _harness.stats(r['times'].get(name, 0.0) for r in steps)
        w('  %-22s %9s %9s %6.1f%%' % (name, _harness.fmt_ms(s['median']), _harness.fmt_ms(s['min']),
                                       100.0 * s['median'] / total))
    w('  %-22s %9s' % ('total in process', _harness.fmt_ms(total)))
    w('  %-22s %9s   (the rest is interpreter start-up and exit)'
      % ('wall of the process', _harness.fmt_ms(_median(r['wall'] for r in steps))))
    w('  scanned %d processes, %d namespaces, %d bytes of JSON; peak RSS %.1f MB (VmHWM %.1f MB)'
      % (steps[-1]['processes'], steps[-1]['namespaces'], steps[-1]['bytes'],
         max(r['maxrss_kb'] for r in steps) / 1024.0, max(r['vmhwm_kb'] for r in steps) / 1024.0))


def _lsns_missing(disc, lsns_ns):
    """References lsns -J lists that discovery lacks or counts differently."""
    missing = []
    by_ref = disc['namespaces']
    for entry in lsns_ns:
        ref = '%s:[%s]' % (entry.get('type'), entry.get('ns'))
        ns = by_ref.get(ref)
        if ns is None:
            missing.append(ref)
        elif ns.get('nprocs') != entry.get('nprocs'):
            missing.append('%s nprocs %s vs lsns %s' % (ref, ns.get('nprocs'), entry.get('nprocs')))
    return missing


class SetupFailed(Exception):
    pass


def run_scale(args, coll, cmp_coll):
    module_argv, module_env, module_note = module_runner(args, coll)
    try:
        sets = _harness.NamespaceSets(args.procs, args.sets)
    except _harness.HarnessError as exc:
        raise SetupFailed(str(exc)) from exc
    try:
        try:
            sets.start()
        except _harness.HarnessError as exc:
            raise SetupFailed(str(exc)) from exc
        results = measure(args, coll, cmp_coll, module_argv, module_env)
        steps = measure_steps(args, coll) if args.steps else None
        cmp_steps = measure_steps(args, cmp_coll) if args.steps and cmp_coll else None
        profile_text = cprofile(args, coll) if args.cprofile else None
    finally:
        sets.stop()
    targets = report(args, sets, results, steps, profile_text, module_note, cmp_steps)
    print(sets.cleanup_report(), flush=True)
    if sets.leftovers:
        raise SetupFailed('cleanup left %d recorded processes alive' % len(sets.leftovers))
    summary = {
        'procs': args.procs, 'sets': args.sets, 'repeat': args.repeat, 'pyflags': args.pyflags,
        # the discovery, lsns and module payloads are large: left out
        'results': dict((k, [dict((f, v) for f, v in r.items() if f != 'payload' or not k.startswith(('discovery', 'lsns', 'module')))
                             for r in rs]) for k, rs in results.items()),
        'steps': steps,
        'compare_steps': cmp_steps,
        'targets': [{'target': t, 'value': v, 'pass': ok} for t, v, ok in targets],
    }
    return targets, summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--procs', type=int, default=1000, help='extra processes to start (default 1000)')
    parser.add_argument('--sets', type=int, default=100, help='namespace sets to spread them over (default 100)')
    parser.add_argument('--repeat', type=int, default=7, help='timed rounds (default 7, plus one warm-up)')
    parser.add_argument('--scale', action='store_true', help='run 1000/100 and then 5000/500')
    parser.add_argument('--site', action='store_true',
                        help='run the python children with site-packages (.pth files) loaded; default is -I -S')
    parser.add_argument('--python', default=_harness.real_python(),
                        help='interpreter for the measured children (default: the real binary behind sys.executable)')
    default_module_python = os.path.join(_harness.REPO, '.venv', 'bin', 'python')
    parser.add_argument('--module-python', default=default_module_python if os.path.exists(default_module_python) else None,
                        help='a python with ansible-core, to also time plugins/modules/namespace_facts.py itself '
                             '(default: the repo .venv if present)')
    parser.add_argument('--no-module', dest='module_python', action='store_const', const=None,
                        help='do not time the module run')
    parser.add_argument('--no-steps', dest='steps', action='store_false', help='skip the per-step split')
    parser.add_argument('--cprofile', type=int, default=0, metavar='N',
                        help='also print the top N functions of a cProfile run of discover()')
    parser.add_argument('--cprofile-sort', default='tottime', help='pstats sort key (default tottime)')
    parser.add_argument('--collection', default=_harness.REPO, metavar='TREE',
                        help='the collection tree to measure (default: this repository)')
    parser.add_argument('--compare', metavar='TREE',
                        help='another collection tree (e.g. a patched copy) measured in the same rounds')
    parser.add_argument('--nice', type=int, metavar='N',
                        help='run the benchmark (and so every measured command) at this nice value, '
                             'e.g. -10 on a machine shared with other jobs')
    parser.add_argument('--json', metavar='FILE', help='also write the raw results as JSON')
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error('--repeat must be at least 1')
    args.pyflags = ['-I'] if args.site else ['-I', '-S']

    _harness.install_signal_handlers()
    if args.nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    try:
        _harness.require_root()
    except _harness.HarnessError as exc:
        print('setup failed: %s' % exc, file=sys.stderr)
        return 2
    scales = [(1000, 100), (5000, 500)] if args.scale else [(args.procs, args.sets)]
    all_targets = []
    summaries = []
    try:
        with contextlib.ExitStack() as stack:
            coll = stack.enter_context(_harness.collection_path(os.path.abspath(args.collection)))
            cmp_coll = stack.enter_context(_harness.collection_path(os.path.abspath(args.compare))) if args.compare else None
            for procs, nsets in scales:
                args.procs, args.sets = procs, nsets
                args.load_before = ' '.join(open('/proc/loadavg').read().split()[:3])
                args.startup = startup_costs(args.python)
                args.spawn = _harness.spawn_overhead()
                targets, summary = run_scale(args, coll, cmp_coll)
                all_targets.extend(targets)
                summaries.append(summary)
    except SetupFailed as exc:
        print('setup failed: %s' % exc, file=sys.stderr)
        return 2
    except MeasureError as exc:
        print('measurement failed: %s' % exc, file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print('interrupted (every process started was ended)', file=sys.stderr)
        return 130
    if len(scales) > 1:
        print('')
        print('summary of issue 2 targets:')
        for name, value, ok in all_targets:
            print('  %-4s  %-78s %s' % (verdict(ok), name, value))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(summaries, handle, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
