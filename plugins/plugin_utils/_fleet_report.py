# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this plugin_utils file is not part of the collection's public API and may
# change without notice.
"""Build the fleet report (a JSON-ready dict) from what the fleet role left in hostvars.

The role's stages leave, per host:

``ansible_facts.namespaces``   namespace facts (nsops.namespaces.namespace_facts)
``fleet_container_results``    registered loop results of nsops.namespaces.container_info,
                               one per entry of ``fleet_containers``
``fleet_isolated_results``     registered loop results of nsops.namespaces.isolated_process,
                               one per entry of ``fleet_isolated_processes``
``fleet_unreachable_reason``   the connection error when the host could not be reached
``fleet_stage_failures``       ``[{stage, task, msg}]`` of stages that failed (block/rescue)

The declarations themselves are read from the loop items of the registered results:
hostvars holds inventory variables and facts, not play variables or role parameters.

:func:`build_report` turns that into the report whose shape is published as
``roles/fleet/files/fleet_report.schema.json``; the Markdown and HTML views are the
role's templates (``roles/fleet/templates/fleet_report.md.j2`` and ``.html.j2``) and
render only from that dict. :func:`read_namespace_facts` is the one place that reads
the namespace facts.
"""


from collections.abc import Mapping

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import expand_facts
from ansible_collections.nsops.namespaces.plugins.plugin_utils._plain_data import plain
from ansible_collections.nsops.namespaces.plugins.plugin_utils._report import (
    NS_TYPES, TREE_TYPES, describe_namespace, tree_rows,
)

REPORT_VERSION = 1
STATUSES = ('ok', 'failed', 'unreachable')
SELECTORS = ('id', 'container_name', 'pod_uid', 'runtime', 'pid', 'pid_namespace_of')
LEFT_PLAY = ('left the play before the report: unreachable or failed in a task outside the fleet role '
             '(see the play output)')


def _get(mapping, key, default=None):
    """mapping[key] for hostvars (lazy, templated on access) and plain dicts alike."""
    try:
        value = mapping[key]
    except (KeyError, TypeError):
        return default
    except Exception:  # noqa: BLE001 - an undefined or broken template in a host var
        return default
    return default if value is None else value


def _loop_results(registered):
    """Item results of a registered loop, [] when the task was skipped or never ran."""
    if not isinstance(registered, Mapping):
        return []
    results = registered.get('results')
    return [r for r in results if isinstance(r, Mapping)] if isinstance(results, list) else []


def _item_of(result):
    item = result.get(result.get('ansible_loop_var') or 'item')
    return item if isinstance(item, Mapping) else None


def _entries(declared, results):
    """(declaration, result or None) pairs: every entry a loop ran over, in loop order, then
    entries declared in the inventory that no loop ran over (an unreachable host's, say).

    The loop items are the declarations as the role saw them (role parameters and play
    variables included, which hostvars does not hold); hostvars only adds what never ran.
    """
    pairs = []
    seen = set()
    for result in results:
        item = _item_of(result)
        if item is not None:
            pairs.append((item, result))
            seen.add(item.get('name'))
    for entry in declared if isinstance(declared, list) else []:
        if isinstance(entry, Mapping) and entry.get('name') not in seen:
            pairs.append((entry, None))
            seen.add(entry.get('name'))
    return pairs


def _error_of(result):
    if result is None or not result.get('failed'):
        return None
    return str(result.get('msg') or 'failed without a message')


# ---------------------------------------------------------------------------- namespaces
#
# read_namespace_facts() is the only code here that knows the shape of the namespace facts
# (nsops.namespaces.namespace_facts); everything after it works on what it returns.

# Flat types drawn as trees under the user namespace that owns them (like lsns -Towner).
OWNED_TREE_TYPES = ('net', 'mnt')
TREE_ORDER = TREE_TYPES + OWNED_TREE_TYPES


def read_namespace_facts(facts, trees=True):
    """(summary, trees or None) of one host's ``ansible_facts.namespaces``.

    The summary: counts by type, total, kernel, proc_root, processes scanned, duration,
    sources, capabilities, initial cgroup namespace, skipped processes and warnings of
    the discovery. The trees (when ``trees``): the PID and user namespace hierarchies,
    and the net and mnt namespaces under the user namespace owning each. Lean facts
    (schema version 2) are read in their full shape (expand_facts).
    """
    facts = expand_facts(facts)
    discovery = facts.get('discovery') or {}
    namespaces = facts.get('namespaces') or {}
    roots = facts.get('roots') or {}
    counts = dict((t, 0) for t in NS_TYPES)
    for ns in namespaces.values():
        if ns.get('type') in counts:
            counts[ns['type']] += 1
    caps = discovery.get('capabilities') or {}
    summary = {
        'counts': counts,
        'total': len(namespaces),
        'kernel': discovery.get('kernel'),
        'proc_root': discovery.get('proc_root'),
        'processes_scanned': discovery.get('processes_scanned'),
        'duration': discovery.get('duration'),
        'sources': list(discovery.get('sources') or []),
        'capabilities': {'sys_admin': bool(caps.get('sys_admin')), 'sys_ptrace': bool(caps.get('sys_ptrace'))},
        'initial_cgroup_namespace': discovery.get('initial_cgroup_namespace'),
        'skipped': dict((k, v) for k, v in sorted((discovery.get('skipped') or {}).items()) if v),
        'warnings': [str(w) for w in discovery.get('warnings') or []],
    }
    if not trees:
        return summary, None
    out = dict((t, _tree(namespaces, roots.get(t) or [])) for t in TREE_TYPES)
    for nstype in OWNED_TREE_TYPES:
        owned, owner_roots = _owned_hierarchy(namespaces, roots.get('user') or [], nstype)
        out[nstype] = _tree(owned, owner_roots)
    return summary, out


def _tree(namespaces, roots):
    """One namespace tree: its number of roots and its rows, depth first, with the
    box-drawing prefix of ns_report."""
    return {'roots': len(roots), 'rows': [{
        'depth': depth,
        'prefix': prefix,
        'ref': ref,
        'nprocs': ns.get('nprocs', 0),
        'pid': ns.get('pid'),
        'command': ns.get('command'),
        'owner_uid': ns.get('owner_uid'),
        'hidden': bool(ns.get('hidden')),
        'summary': describe_namespace(ns),
    } for depth, prefix, ref, ns in tree_rows(namespaces, roots)]}


def _owned_hierarchy(namespaces, user_roots, nstype):
    """(records, roots) for tree_rows: the user namespace tree cut down to the user
    namespaces that own a namespace of ``nstype`` (or have a descendant that does), with
    the owned namespaces as their first children. A namespace whose owner is unknown is
    a root of its own, after the user trees."""
    owned = {}
    for ref, ns in sorted(namespaces.items(), key=lambda item: item[1].get('inode', 0)):
        if ns.get('type') == nstype:
            owner = ns.get('owner')
            owned.setdefault(owner if owner in namespaces else None, []).append(ref)
    records = {}
    seen = set()

    def keep(ref):
        """Copy the user namespace ``ref`` into records if it owns something below it."""
        ns = namespaces.get(ref)
        if ns is None or ref in seen:
            return False
        seen.add(ref)
        kept = [child for child in ns.get('children') or [] if keep(child)]
        mine = owned.get(ref, [])
        if not mine and not kept:
            return False
        records[ref] = dict(ns, children=mine + kept)
        for child in mine:
            records[child] = dict(namespaces[child], children=[])
        return True

    roots = [ref for ref in user_roots if keep(ref)]
    for ref in owned.get(None, []):
        records[ref] = dict(namespaces[ref], children=[])
        roots.append(ref)
    return records, roots


# ---------------------------------------------------------------------------- containers

def _container_summary(container):
    processes = container.get('processes') or []
    pids = list(container.get('pids') or [])
    init = None
    for process in processes:
        if process.get('pid') == container.get('init_pid'):
            init = process
    return {
        'id': container.get('id'),
        'short_id': (container.get('id') or '')[:12] or None,
        'name': container.get('name'),
        'runtime': container.get('runtime'),
        'cgroup_driver': container.get('cgroup_driver'),
        'pod_uid': container.get('pod_uid'),
        'qos': container.get('qos'),
        'state': container.get('state'),
        'cgroup': container.get('cgroup'),
        'init_pid': container.get('init_pid'),
        'init_command': ' '.join(init.get('cmdline') or []) if init else None,
        'pids': pids,
        'namespaces': dict(container.get('namespaces') or {}),
        'shared_with_host': container.get('shared_with_host'),
        'verified': container.get('verified'),
        'problems': [str(p) for p in container.get('problems') or []],
    }


def _containers(declared, registered):
    out = []
    for entry, result in _entries(declared, _loop_results(registered)):
        record = {
            'name': entry.get('name'),
            'selectors': dict((k, entry[k]) for k in SELECTORS if entry.get(k) is not None),
            'looked_up': result is not None and not result.get('skipped'),
            'found': [],
            'host_pid': None,
            'error': _error_of(result),
        }
        if result is not None and not result.get('failed'):
            record['found'] = [_container_summary(c) for c in result.get('containers') or [] if isinstance(c, Mapping)]
            record['host_pid'] = result.get('host_pid')
        out.append(record)
    return out


# ---------------------------------------------------------------------------- isolated processes

def _isolated(declared, registered):
    out = []
    for entry, result in _entries(declared, _loop_results(registered)):
        record = {
            'name': entry.get('name'),
            'declared_state': entry.get('state') or 'present',
            'command': [str(a) for a in entry.get('command') or []],
            'ensured': result is not None and not result.get('skipped'),
            'state': None,
            'action': None,
            'changed': None,
            'pid': None,
            'ns_pid': None,
            'namespaces': {},
            'log_path': None,
            'error': _error_of(result),
        }
        if result is not None and not result.get('failed') and not result.get('skipped'):
            record.update({
                'state': result.get('state'),
                'action': result.get('action'),
                'changed': bool(result.get('changed')),
                'pid': result.get('pid'),
                'ns_pid': result.get('ns_pid'),
                'namespaces': dict(result.get('namespaces') or {}),
                'log_path': result.get('log_path'),
            })
        out.append(record)
    return out


# ---------------------------------------------------------------------------- hosts

def host_report(host, variables, active, trees=True):
    """The report of one host from its variables (a hostvars entry or a plain dict)."""
    facts_all = _get(variables, 'ansible_facts', {})
    facts = plain(_get(facts_all, 'namespaces')) if isinstance(facts_all, Mapping) else None
    unreachable = _get(variables, 'fleet_unreachable_reason')
    failures = plain(_get(variables, 'fleet_stage_failures', []))
    declared_containers = plain(_get(variables, 'fleet_containers', []))
    declared_isolated = plain(_get(variables, 'fleet_isolated_processes', []))
    report = {
        'host': host,
        'address': str(_get(variables, 'ansible_host', host)),
        'hostname': _get(facts_all, 'nodename') if isinstance(facts_all, Mapping) else None,
        'status': 'ok',
        'reason': None,
        'problems': [],
        'namespaces': None,
        'trees': None,
        'containers': _containers(declared_containers, plain(_get(variables, 'fleet_container_results'))),
        'isolated_processes': _isolated(declared_isolated, plain(_get(variables, 'fleet_isolated_results'))),
    }
    if isinstance(facts, Mapping) and 'namespaces' in facts:
        report['namespaces'], report['trees'] = read_namespace_facts(facts, trees)
    problems = report['problems']
    if unreachable:
        report['status'] = 'unreachable'
        report['reason'] = str(unreachable)
        problems.append('unreachable: %s' % unreachable)
    # The errors of single entries first: they say more than "One or more items failed".
    explained = set()
    for record in report['containers']:
        if record['error']:
            problems.append('container %s: %s' % (record['name'], record['error']))
            explained.add('locate')
    for record in report['isolated_processes']:
        if record['error']:
            problems.append('isolated process %s: %s' % (record['name'], record['error']))
            explained.add('isolate')
    for failure in failures if isinstance(failures, list) else []:
        if isinstance(failure, Mapping) and failure.get('stage') not in explained:
            problems.append('%s failed in task %r: %s' % (failure.get('stage'), failure.get('task'), failure.get('msg')))
    if report['status'] == 'ok':
        if not active and report['namespaces'] is None and not failures:
            report['status'] = 'unreachable'
            report['reason'] = LEFT_PLAY
            problems.append(LEFT_PLAY)
        elif problems:
            report['status'] = 'failed'
            report['reason'] = problems[0]
        elif report['namespaces'] is None:
            report['status'] = 'failed'
            report['reason'] = 'no namespace facts: run the facts entry point (or gather them) before the report'
            problems.append(report['reason'])
    return report


def _fleet_containers(hosts):
    by_name = {}
    order = []
    for host in hosts:
        for record in host['containers']:
            name = record['name']
            if name not in by_name:
                by_name[name] = {'name': name, 'selectors': record['selectors'], 'found_on': [],
                                 'not_found_on': [], 'errors': []}
                order.append(name)
            fleet = by_name[name]
            if record['error']:
                fleet['errors'].append({'host': host['host'], 'error': record['error']})
            elif record['found']:
                for container in record['found']:
                    fleet['found_on'].append({'host': host['host'], 'id': container['id'], 'name': container['name'],
                                              'runtime': container['runtime'], 'pod_uid': container['pod_uid'],
                                              'init_pid': container['init_pid'], 'state': container['state']})
            elif record['looked_up']:
                fleet['not_found_on'].append(host['host'])
    return [by_name[n] for n in order]


def _fleet_isolated(hosts):
    by_name = {}
    order = []
    for host in hosts:
        for record in host['isolated_processes']:
            name = record['name']
            if name not in by_name:
                by_name[name] = {'name': name, 'hosts': []}
                order.append(name)
            by_name[name]['hosts'].append({'host': host['host'], 'declared_state': record['declared_state'],
                                           'state': record['state'], 'action': record['action'],
                                           'pid': record['pid'], 'error': record['error']})
    return [by_name[n] for n in order]


def build_report(hosts, hostvars, active_hosts=None, generated=None, trees=True):
    """The fleet report for ``hosts`` (inventory names, in report order)."""
    active = set(active_hosts if active_hosts is not None else hosts)
    host_reports = []
    for host in hosts:
        variables = _get(hostvars, host, {})
        host_reports.append(host_report(host, variables if isinstance(variables, Mapping) else {},
                                        host in active, trees))
    counts = dict((s, 0) for s in STATUSES)
    totals = dict((t, 0) for t in NS_TYPES)
    for report in host_reports:
        counts[report['status']] += 1
        for nstype, count in ((report['namespaces'] or {}).get('counts') or {}).items():
            totals[nstype] += count
    return {
        'report_version': REPORT_VERSION,
        'generated': generated,
        'summary': {
            'hosts': len(host_reports),
            'status_counts': counts,
            'namespace_totals': totals,
            'unreachable': [{'host': r['host'], 'reason': r['reason']} for r in host_reports if r['status'] == 'unreachable'],
            'failed': [{'host': r['host'], 'reason': r['reason'], 'problems': r['problems']}
                       for r in host_reports if r['status'] == 'failed'],
        },
        'containers': _fleet_containers(host_reports),
        'isolated_processes': _fleet_isolated(host_reports),
        'hosts': host_reports,
    }
