# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this plugin_utils file is not part of the collection's public API and may
# change without notice.
"""Render the fleet report (see _fleet_report.build_report) as Markdown (GitHub flavour).

Values from the hosts are escaped for table cells (``|``, markup characters, ``<``
and ``>``, so a command line cannot inject HTML where Markdown allows it); the
PID/user namespace trees are fenced code blocks drawn like ``ns_report``.
"""


import re

from ansible_collections.nsops.namespaces.plugins.plugin_utils._report import NS_TYPES, TREE_TYPES

_SPECIAL = re.compile(r'([\\`*_\[\]|#~])')


def _cell(value):
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    text = str(value).replace('\r', ' ').replace('\n', ' ')
    text = _SPECIAL.sub(r'\\\1', text)
    return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;') or ' '


def _code(value):
    """A code span for a table cell: shown as is (no backslash escapes or entities
    there), only ``|`` escaped for the table and the backtick fence made long enough."""
    text = str(value).replace('\r', ' ').replace('\n', ' ').replace('|', '\\|') if value else ''
    if not text:
        return '-'
    ticks = '`' * (max([len(run) for run in re.findall('`+', text)] or [0]) + 1)
    pad = ' ' if text[0] == '`' or text[-1] == '`' else ''
    return ticks + pad + text + pad + ticks


def _row(cells):
    return '| ' + ' | '.join(cells) + ' |'


def _table(headers, rows, numeric=()):
    lines = [_row([_cell(h) for h in headers]),
             _row(['---:' if i in numeric else '---' for i in range(len(headers))])]
    lines += [_row(row) for row in rows]
    return lines


def _fence(lines):
    longest = max([len(run) for line in lines for run in re.findall('`+', line)] or [0])
    fence = '`' * max(3, longest + 1)
    return [fence + 'text'] + lines + [fence]


def _anchor_title(host):
    return 'Host %s' % host


def render_markdown(report, title='Namespace fleet report'):
    summary = report['summary']
    counts = summary['status_counts']
    out = ['# %s' % _cell(title), '',
           '%d hosts: **%d ok**, **%d failed**, **%d unreachable**. Generated %s by the nsops.namespaces fleet role.'
           % (summary['hosts'], counts['ok'], counts['failed'], counts['unreachable'], _cell(report.get('generated'))),
           '', '## Hosts', '']
    with_hostname = any(host['hostname'] for host in report['hosts'])
    rows = []
    for host in report['hosts']:
        ns = host['namespaces'] or {}
        by_type = ns.get('counts') or {}
        found = sum(len(c['found']) for c in host['containers'])
        running = sum(1 for p in host['isolated_processes'] if p['state'] == 'present')
        rows.append([_cell(host['host']), _cell(host['address'])]
                    + ([_cell(host['hostname'])] if with_hostname else []) + ['**%s**' % _cell(host['status'])]
                    + [_cell(by_type.get(t)) for t in NS_TYPES]
                    + [_cell(ns.get('total')), _cell(found), '%d / %d' % (running, len(host['isolated_processes'])),
                       _cell(host['reason'])])
    headers = ['host', 'address'] + (['hostname'] if with_hostname else []) + ['status'] + list(NS_TYPES) + [
        'total', 'containers found', 'isolated running', 'reason']
    first = headers.index('status') + 1
    out += _table(headers, rows, numeric=set(range(first, first + len(NS_TYPES) + 2)))
    out += ['', '## Problems', '']
    if not summary['unreachable'] and not summary['failed']:
        out.append('None: every host completed.')
    for item in summary['unreachable']:
        out.append('- **%s** unreachable: %s' % (_cell(item['host']), _cell(item['reason'])))
    for item in summary['failed']:
        out.append('- **%s** failed:' % _cell(item['host']))
        out += ['  - %s' % _cell(p) for p in item['problems'] or [item['reason']]]
    if report['containers']:
        out += ['', '## Containers', '']
        rows = []
        for entry in report['containers']:
            found = '; '.join('%s: %s %s init PID %s' % (_cell(f['host']), _code((f['id'] or f['name'] or '')[:12]),
                                                         _cell(f['runtime']), _cell(f['init_pid']))
                              for f in entry['found_on']) or 'not found'
            errors = '; '.join('%s: %s' % (_cell(x['host']), _cell(x['error'])) for x in entry['errors'])
            rows.append([_cell(entry['name']),
                         _cell(', '.join('%s=%s' % kv for kv in sorted(entry['selectors'].items()))),
                         found, _cell(', '.join(entry['not_found_on'])), errors or ' '])
        out += _table(['declared', 'selectors', 'found on', 'not on', 'errors'], rows)
    if report['isolated_processes']:
        out += ['', '## Isolated processes', '']
        rows = []
        for entry in report['isolated_processes']:
            for item in entry['hosts']:
                rows.append([_cell(entry['name']), _cell(item['host']), _cell(item['declared_state']), _cell(item['state']),
                             _cell(item['action']), _cell(item['pid']), _cell(item['error']) if item['error'] else ' '])
        out += _table(['name', 'host', 'declared', 'state', 'last action', 'PID', 'error'], rows, numeric={5})
    for host in report['hosts']:
        out += _host(host)
    return '\n'.join(out) + '\n'


def _host(host):
    out = ['', '## %s (%s)' % (_cell(_anchor_title(host['host'])), _cell(host['status'])), '']
    hostname = ', hostname: %s' % _cell(host['hostname']) if host['hostname'] else ''
    out.append('- address: %s%s' % (_cell(host['address']), hostname))
    if host['reason']:
        out.append('- reason: %s' % _cell(host['reason']))
    ns = host['namespaces']
    if ns:
        caps = ns['capabilities']
        out.append('- kernel %s, %s processes scanned in %s s, sources: %s' % (
            _cell(ns['kernel']), _cell(ns['processes_scanned']), _cell(ns['duration']), _cell(', '.join(ns['sources']))))
        out.append('- capabilities: CAP_SYS_ADMIN %s, CAP_SYS_PTRACE %s' % (_cell(caps['sys_admin']), _cell(caps['sys_ptrace'])))
        out.append('- skipped processes: %s' % (_cell(', '.join('%s %s' % kv for kv in sorted(ns['skipped'].items())))
                                                if ns['skipped'] else 'none'))
        out.append('- warnings: %s' % ('none' if not ns['warnings'] else len(ns['warnings'])))
        out += ['  - %s' % _cell(w) for w in ns['warnings']]
    for problem in host['problems']:
        out.append('- problem: %s' % _cell(problem))
    if ns:
        out += ['', '### Namespaces by type', '']
        out += _table(list(NS_TYPES) + ['total'], [[_cell(ns['counts'][t]) for t in NS_TYPES] + [_cell(ns['total'])]],
                      numeric=set(range(len(NS_TYPES) + 1)))
    if host['containers']:
        out += ['', '### Containers', '']
        rows = []
        for entry in host['containers']:
            if entry['error']:
                rows.append([_cell(entry['name']), 'error: ' + _cell(entry['error'])] + [' '] * 5)
            elif not entry['found']:
                rows.append([_cell(entry['name']), 'not found' if entry['looked_up'] else 'not looked up'] + [' '] * 5)
            for found in entry['found']:
                rows.append([_cell(entry['name']), _code(found['short_id'] or found['name']), _cell(found['runtime']),
                             _cell(found['pod_uid']), _cell(found['state']), _cell(found['init_pid']), _cell(len(found['pids']))])
        out += _table(['declared', 'container', 'runtime', 'pod UID', 'state', 'init PID', 'processes'], rows,
                      numeric={5, 6})
    if host['isolated_processes']:
        out += ['', '### Isolated processes', '']
        rows = [[_cell(i['name']), _cell(i['declared_state']), _cell(i['state']), _cell(i['action']), _cell(i['pid']),
                 _cell(' '.join(i['command'])), _cell(i['error']) if i['error'] else ' ']
                for i in host['isolated_processes']]
        out += _table(['name', 'declared', 'state', 'last action', 'PID', 'command', 'error'], rows, numeric={4})
    for nstype in TREE_TYPES:
        tree = (host['trees'] or {}).get(nstype)
        if not tree:
            continue
        out += ['', '### %s namespace tree (%d root%s)' % (nstype.upper(), tree['roots'], '' if tree['roots'] == 1 else 's'), '']
        out += _fence(['%s%s  %s' % (row['prefix'], row['ref'], row['summary']) for row in tree['rows']] or ['(none)'])
    return out
