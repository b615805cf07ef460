# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: locating one container stays flat with host size, all real engines running (issue 12).

Run as root (the engines from tools/env.sh's Debian packages)::

    python3 bench/bench_engines.py                     # 1,000 and 10,000 extra processes
    python3 bench/bench_engines.py --procs 1000 5000 --repeat 15

It starts every engine of tests/lab/engines.py that can run here (Docker with a
``--net/--pid container:`` peer, a Podman pod and a container, containerd with a
named container and a Kubernetes sandbox + app, LXC, systemd-nspawn, crun), then for
each host size starts that many extra processes in fresh namespace sets
(bench/_harness.py) and measures, interleaved over --repeat rounds after a warm-up:

  locate by id (in-process)     container_info's lookup of the Docker container by id prefix
  locate by name (in-process)   the same for the LXC container (or the containerd one) by name

Target: locate by id at the largest size / at the smallest <= 1.2, judged on the
lookup's own CPU time (it walks cgroup directories; host processes do not matter);
wall-time ratios are printed too. An engine that cannot start is listed with its own
error. Every process, container, cgroup and mount is removed at the end, by PID.
Exit status: 0 (a measurement), 2 if setting up failed, 3 if a measured lookup failed.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _harness  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, os.path.join(_harness.REPO, 'tests'))
from lab.engines import (  # noqa: E402  pylint: disable=wrong-import-position
    ContainerdEngine, CrunEngine, DockerEngine, EngineUnavailable, LxcEngine, NspawnEngine, PodmanEngine, random_hex,
)

TARGET_SIZE_RATIO = 1.2
HTTPD = ['httpd', '-f', '-p', '8080', '-h', '/www']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--procs', type=int, nargs='+', default=[1000, 10000],
                        help='extra host processes, one measurement per value (default: 1000 10000)')
    parser.add_argument('--per-set', type=int, default=100, help='processes per namespace set (default 100)')
    parser.add_argument('--repeat', type=int, default=11, help='timed rounds per size (default 11)')
    return parser.parse_args()


def _docker(engine):
    web = engine.run('bench-web', HTTPD, ['--network', 'none', '--ipc', 'shareable'])
    engine.run('bench-peer', ['sleep', '1000000'], ['--network', 'container:bench-web', '--pid', 'container:bench-web'])
    return {'id': web, 'pid': engine.inspect(web)['State']['Pid']}


def _podman(engine):
    engine.run('bench-pweb', HTTPD, ['--network', 'none'])
    engine.pod_create('bench-pod')
    engine.run('bench-papp', ['sleep', '1000000'], ['--pod', 'bench-pod'])
    return {}


def _containerd(engine):
    pid = engine.run('bench-cweb', HTTPD)
    uid, sandbox_id, app_id = str(uuid.uuid4()), random_hex(), random_hex()
    sandbox = engine.run(sandbox_id, ['sleep', '1000000'], namespace='k8s.io',
                         cgroup='/kubepods/besteffort/pod%s/%s' % (uid, sandbox_id))
    engine.run(app_id, ['sleep', '1000000'], namespace='k8s.io', cgroup='/kubepods/besteffort/pod%s/%s' % (uid, app_id),
               join={'network': '/proc/%d/ns/net' % sandbox})
    return {'name': 'bench-cweb', 'pid': pid}


def _lxc(engine):
    info = engine.create('bench-lweb', '/bin/httpd -p 8080 -h /www')
    return {'name': 'bench-lweb', 'pid': int(info['PID'])}


def _nspawn(engine):
    engine.boot('bench-nweb', ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'])
    return {}


def _crun(engine):
    cid = random_hex()
    engine.run(cid, HTTPD, '/kubepods/besteffort/pod%s/%s' % (uuid.uuid4(), cid))
    return {}


ENGINES = ((DockerEngine, _docker), (PodmanEngine, _podman), (ContainerdEngine, _containerd), (LxcEngine, _lxc),
           (NspawnEngine, _nspawn), (CrunEngine, _crun))


def start_engines(workdir):
    """[(engine, what it started)] and {engine name: why it cannot run}."""
    running, unavailable = [], {}
    for engine_class, setup in ENGINES:
        engine = engine_class(workdir)
        try:
            engine.start()
            running.append((engine, setup(engine)))
        except EngineUnavailable as exc:
            engine.stop()
            unavailable[engine_class.name] = str(exc)
        except BaseException:
            engine.stop()
            raise
    return running, unavailable


def measure_size(procs, per_set, repeat, by_id, by_name, locate):
    def timed(params, want_pid):
        def task():
            started, cpu_started = time.perf_counter(), time.process_time()
            result = locate(params)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            pids = [c['init_pid'] for c in result['containers']]
            if pids != [want_pid]:
                raise RuntimeError('locate %s found %s, not init PID %d' % (params, pids, want_pid))
            return elapsed, None, cpu
        return task

    tasks = [('id', timed({'id': by_id['id'][:12]}, by_id['pid']))]
    if by_name:
        tasks.append(('name', timed({'name': by_name['name']}, by_name['pid'])))
    with _harness.NamespaceSets(procs=procs, sets=max(1, procs // per_set)):
        host_procs = _harness.count_procs()
        raw = _harness.interleave(tasks, repeat, warmup=1)
    timings = {}
    for name, values in raw.items():
        timings[name] = _harness.stats(run[0] for run in values)
        timings[name + '_cpu'] = _harness.stats(run[2] for run in values)
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
    leftovers = []
    with _harness.collection_path() as coll:
        sys.path.insert(0, coll)
        from ansible_collections.nsops.namespaces.plugins.module_utils._containers import locator  # pylint: disable=import-outside-toplevel
        from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import Selector  # pylint: disable=import-outside-toplevel

        def locate(params):
            return locator.ContainerLocator().locate(Selector.from_params(params))

        workdir = tempfile.mkdtemp(prefix='nsops-bench-engines-')
        running = []
        try:
            running, unavailable = start_engines(workdir)
            for name, reason in sorted(unavailable.items()):
                print('engine %s cannot run here: %s' % (name, reason))
            started = dict((engine.name, what) for engine, what in running)
            if 'docker' not in started:
                print('ERROR: the Docker engine is needed for the lookup by id', file=sys.stderr)
                return 2
            by_name = started.get('lxc') or started.get('containerd')
            count = len(locate({})['containers'])
            print('engines: %s; %d containers in the cgroup tree' % (', '.join(sorted(started)), count))
            for procs in args.procs:
                _harness.log('measuring with %d extra processes ...' % procs)
                results[procs] = measure_size(procs, args.per_set, args.repeat, started['docker'], by_name, locate)
        except (_harness.HarnessError, OSError) as exc:
            print('ERROR: setting up failed: %s' % exc, file=sys.stderr)
            return 2
        except RuntimeError as exc:
            print('ERROR: a measured lookup failed: %s' % exc, file=sys.stderr)
            return 3
        finally:
            for engine, dummy in reversed(running):
                engine.stop()
                leftovers.extend(engine.leftovers())
            os.rmdir(workdir)
    return report(args, results, leftovers)


ROWS = (
    ('id_cpu', 'locate by id, in-process CPU time'),
    ('id', 'locate by id, in-process wall time'),
    ('name_cpu', 'locate by name, in-process CPU time'),
    ('name', 'locate by name, in-process wall time'),
)


def report(args, results, leftovers):
    sizes = sorted(results)
    print('\nmedian time in ms (min-max) over %d rounds' % args.repeat)
    print('%-40s' % 'measurement' + ''.join('%26s' % ('%d extra (%d total)' % (n, results[n][0])) for n in sizes))
    for key, label in ROWS:
        if key not in results[sizes[0]][1]:
            continue
        cells = []
        for n in sizes:
            stat = results[n][1][key]
            cells.append('%26s' % ('%s (%s-%s)' % (_harness.fmt_ms(stat['median']), _harness.fmt_ms(stat['min']),
                                                   _harness.fmt_ms(stat['max']))))
        print('%-40s' % label + ''.join(cells))
    ok = True
    print('\nratios and targets (measured in this run)')
    small, large = sizes[0], sizes[-1]
    for key, label in ROWS:
        if key not in results[small][1]:
            continue
        ratio = results[large][1][key]['median'] / results[small][1][key]['median']
        passed = ratio <= TARGET_SIZE_RATIO
        judged = key == 'id_cpu'
        ok = ok and (passed or not judged)
        verdict = ('PASS' if passed else 'FAIL') if judged else ('ok' if passed else 'over (not judged)')
        what = '%s: %d / %d extra' % (label, large, small)
        print('  %-58s %.2f  (target <= %.1f) %s' % (what, ratio, TARGET_SIZE_RATIO, verdict))
    print('\ncleanup: %s' % ('every engine stopped, its processes, containers, cgroups and mounts removed'
                             if not leftovers else 'LEFT OVER: %s' % leftovers))
    print('overall: %s' % ('PASS' if ok and not leftovers else 'FAIL'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
