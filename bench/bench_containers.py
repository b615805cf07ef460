# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: container_info lookups vs host size and vs ``lsns -J`` (issue 3).

Run as root (Python 3.11 standard library only, runc installed)::

    python3 bench/bench_containers.py                  # 1,000 and 10,000 extra processes
    python3 bench/bench_containers.py --procs 1000 5000 --repeat 21

It starts real runc containers (tests/lab: a Docker-style container, a Kubernetes
systemd-style one and a pod of pause + app), then for each host size starts that many
extra processes in fresh namespace sets (bench/_harness.py) and measures, interleaved
over --repeat rounds after one warm-up round:

  locate by id (in-process)   ContainerLocator().locate(id=...) in this process
  locate by id (fresh python) python3 + import + locate + json.dumps, wall time
  list all (in-process)       ContainerLocator().locate() with no selector
  list all (fresh python)     python3 + import + list + json.dumps, wall time
  lsns -J                     util-linux, stdout read from a pipe

Targets: locate by id at the largest size / at the smallest <= 1.2, judged on the
lookup's own CPU time (it walks cgroup directories, so host processes do not matter;
wall-time ratios are printed too but on a shared host they also measure the neighbours),
and listing all containers <= 0.5 x lsns -J wall time, both the fresh python process
against the lsns process (like for like) and the in-process call.
Every process started is stopped by its recorded PID; the containers and their cgroups
are removed by the lab. Exit status: 0 (a measurement), 2 if setting up failed, 3 if
a measured command failed.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _harness  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, os.path.join(_harness.REPO, 'tests'))
from lab.containers import (  # noqa: E402  pylint: disable=wrong-import-position
    RuncLab,
    docker_cgroupfs_path,
    kube_systemd_path,
    random_container_id,
)

MODULE_UTILS = 'ansible_collections.nsops.namespaces.plugins.module_utils'
TARGET_SIZE_RATIO = 1.2
TARGET_LIST_VS_LSNS = 0.5

LOCATE_CODE = r'''
import sys
sys.path.insert(0, sys.argv[1])
import json
from %s._containers.locator import ContainerLocator
from %s._containers.selector import Selector
selector = Selector.from_params({'id': sys.argv[2]} if len(sys.argv) > 2 else {})
sys.stdout.write(json.dumps(ContainerLocator().locate(selector)))
''' % (MODULE_UTILS, MODULE_UTILS)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--procs', type=int, nargs='+', default=[1000, 10000],
                        help='extra host processes, one measurement per value (default: 1000 10000)')
    parser.add_argument('--per-set', type=int, default=100, help='processes per namespace set (default 100)')
    parser.add_argument('--repeat', type=int, default=15, help='timed rounds per size (default 15)')
    return parser.parse_args()


def start_containers(lab):
    containers = []
    cid = random_container_id()
    containers.append(lab.run('bench-plain', ['sleep', '1000000'], cgroups_path=docker_cgroupfs_path(cid),
                              container_id=cid))
    cid = random_container_id()
    pod_uid = '0b5e1c8e-1d2f-4f4e-9a51-7c3d2e1f0a9b'
    containers.append(lab.run('bench-kube', ['sleep', '1000000'], container_id=cid,
                              cgroups_path=kube_systemd_path(pod_uid, 'burstable', cid)))
    pod = lab.pod(layout='cgroupfs', qos='besteffort')
    containers.extend(pod.containers)
    return containers


def measure_size(procs, per_set, repeat, target, lab_ids, coll, locate_inproc):
    python = _harness.real_python()
    wanted = target.id

    def inproc(selector):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = locate_inproc(selector)
        return time.perf_counter() - started, result, time.process_time() - cpu_started

    def fresh(*extra):
        run = _harness.timed_run([python, '-I', '-c', LOCATE_CODE, coll] + list(extra))
        if run.rc != 0:
            raise RuntimeError('locate failed: %s' % run.stderr[-2000:])
        return run.wall, json.loads(run.stdout), run.utime + run.stime

    def lsns():
        # lsns exits 1 now and then when a process it is reading exits (other users of the
        # host); such a run is repeated, not timed.
        for dummy in range(3):
            run = _harness.timed_run(['lsns', '-J'])
            if run.rc == 0:
                return run.wall, None, run.utime + run.stime
        raise RuntimeError('lsns -J failed 3 times (rc %d): %s' % (run.rc, run.stderr[-2000:]))

    tasks = [
        ('id_inproc', lambda: inproc({'id': wanted[:12]})),
        ('id_fresh', lambda: fresh(wanted[:12])),
        ('all_inproc', lambda: inproc({})),
        ('all_fresh', fresh),
    ]
    with _harness.NamespaceSets(procs=procs, sets=max(1, procs // per_set)):
        host_procs = _harness.count_procs()
        raw = _harness.interleave(tasks, repeat, warmup=1)
        # lsns -J grows faster than linearly with processes (12-18 s at 10,000 here):
        # fewer rounds when one run takes seconds, to keep the benchmark bounded.
        first = lsns()
        raw['lsns'] = [first] + [lsns() for dummy in range(repeat - 1 if first[0] < 2.0 else 2)]
    # What was measured must be right: one container with the runc init PID, all lab ones listed.
    for name in ('id_inproc', 'id_fresh'):
        for dummy, result, dummy2 in raw[name]:
            assert [c['id'] for c in result['containers']] == [wanted], result['containers']
            assert result['containers'][0]['init_pid'] == target.pid
    for name in ('all_inproc', 'all_fresh'):
        for dummy, result, dummy2 in raw[name]:
            assert set(lab_ids) <= set(c['id'] for c in result['containers'])
    timings = dict((name, _harness.stats(run[0] for run in values)) for name, values in raw.items())
    # CPU seconds of the lookup itself: what it costs, whatever else the host is doing.
    timings['id_cpu'] = _harness.stats(run[2] for run in raw['id_inproc'])
    timings['all_cpu'] = _harness.stats(run[2] for run in raw['all_inproc'])
    return host_procs, timings


def main():
    args = parse_args()
    try:
        _harness.require_root()
    except _harness.HarnessError as exc:
        print('ERROR: %s' % exc, file=sys.stderr)
        return 2
    _harness.install_signal_handlers()
    print('host: %s' % _harness.host_summary())
    results = {}
    with _harness.collection_path() as coll:
        sys.path.insert(0, coll)
        from ansible_collections.nsops.namespaces.plugins.module_utils._containers.locator import (  # pylint: disable=import-outside-toplevel
            ContainerLocator,
        )
        from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import (  # pylint: disable=import-outside-toplevel
            Selector,
        )

        def locate_inproc(params):
            return ContainerLocator().locate(Selector.from_params(params))

        try:
            with RuncLab() as lab:
                containers = start_containers(lab)
                lab_ids = [c.id for c in containers]
                print('containers: %d started by runc (%s)' % (len(containers), ', '.join(c.name for c in containers)))
                for procs in args.procs:
                    _harness.log('measuring with %d extra processes ...' % procs)
                    results[procs] = measure_size(procs, args.per_set, args.repeat, containers[0], lab_ids,
                                                  coll, locate_inproc)
            leftovers = lab.leftovers()
        except (_harness.HarnessError, OSError) as exc:
            print('ERROR: setting up failed: %s' % exc, file=sys.stderr)
            return 2
        except (RuntimeError, AssertionError) as exc:
            print('ERROR: a measured command failed: %s' % exc, file=sys.stderr)
            return 3
    return report(args, results, leftovers)


ROWS = (
    ('id_cpu', 'locate by id, in-process CPU time'),
    ('id_inproc', 'locate by id, in-process'),
    ('id_fresh', 'locate by id, python3 + import + json'),
    ('all_cpu', 'list all, in-process CPU time'),
    ('all_inproc', 'list all containers, in-process'),
    ('all_fresh', 'list all, python3 + import + json'),
    ('lsns', 'lsns -J'),
)


def report(args, results, leftovers):
    sizes = sorted(results)
    print('\nmedian wall (or CPU) time in ms (min-max) over %d rounds (lsns -J: %s rounds)'
          % (args.repeat, '/'.join(str(results[n][1]['lsns']['n']) for n in sorted(results))))
    header = '%-40s' % 'measurement' + ''.join('%26s' % ('%d extra (%d total)' % (n, results[n][0]))
                                               for n in sizes)
    print(header)
    for key, label in ROWS:
        cells = []
        for n in sizes:
            stat = results[n][1][key]
            text = '%s (%s-%s)' % (_harness.fmt_ms(stat['median']), _harness.fmt_ms(stat['min']),
                                   _harness.fmt_ms(stat['max']))
            cells.append('%26s' % text)
        print('%-40s' % label + ''.join(cells))

    ok = True
    print('\nratios and targets')
    small, large = sizes[0], sizes[-1]
    # The target is judged on CPU time: wall time on a shared 2-CPU host also measures the
    # neighbours (the 10,000 processes are idle, so they only cost what we read of them).
    for key in ('id_cpu', 'id_inproc', 'id_fresh'):
        ratio = results[large][1][key]['median'] / results[small][1][key]['median']
        fastest = results[large][1][key]['min'] / results[small][1][key]['min']
        passed = ratio <= TARGET_SIZE_RATIO
        if key == 'id_cpu':
            ok = ok and passed
        print('  %-52s %.2f  (target <= %.1f) %s; ratio of the fastest runs %.2f' % (
            '%s: %d / %d extra processes' % (dict(ROWS)[key], large, small), ratio, TARGET_SIZE_RATIO,
            ('PASS' if passed else 'FAIL') if key == 'id_cpu' else ('ok' if passed else 'over (wall)'), fastest))
    for n in sizes:
        lsns = results[n][1]['lsns']['median']
        for key in ('all_fresh', 'all_inproc'):
            ratio = results[n][1][key]['median'] / lsns
            passed = ratio <= TARGET_LIST_VS_LSNS
            ok = ok and passed
            print('  %-52s %.2f  (target <= %.1f) %s' % (
                '%s / lsns -J at %d extra' % (dict(ROWS)[key], n), ratio, TARGET_LIST_VS_LSNS,
                'PASS' if passed else 'FAIL'))
    print('\ncleanup: %s' % ('every process, container and cgroup removed' if leftovers == []
                             else 'LEFT OVER: %s' % leftovers))
    print('overall: %s' % ('PASS' if ok else 'FAIL'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
