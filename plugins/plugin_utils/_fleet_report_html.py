# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this plugin_utils file is not part of the collection's public API and may
# change without notice.
"""Render the fleet report (see _fleet_report.build_report) as one self-contained HTML page.

No script, no external resource: inline CSS only, so the file can be mailed or
attached to a ticket. Every value from the hosts (command lines, container names,
error messages) is escaped here; nothing else writes markup.
"""


import re
from html import escape

from ansible_collections.nsops.namespaces.plugins.plugin_utils._report import NS_TYPES, TREE_TYPES

_CSS = """
:root { --ok: #1a7f37; --failed: #cf222e; --unreachable: #9a6700; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #1f2328;
       margin: 0; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .meta { color: #d0d7de; }
main { padding: 18px 28px 40px; max-width: 1500px; }
h2 { margin: 28px 0 10px; font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { margin: 18px 0 8px; font-size: 15px; }
section.host { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 4px 18px 14px;
               margin: 18px 0; }
section.host.failed { border-left: 6px solid var(--failed); }
section.host.unreachable { border-left: 6px solid var(--unreachable); }
section.host.ok { border-left: 6px solid var(--ok); }
table { border-collapse: collapse; margin: 6px 0 10px; background: #fff; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eaeef2; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.host { white-space: nowrap; font-weight: 600; }
td.reason { max-width: 32em; }
details > summary { cursor: pointer; }
code, .tree { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; color: #fff; font-weight: 600;
         font-size: 12px; }
.badge.ok { background: var(--ok); } .badge.failed { background: var(--failed); }
.badge.unreachable { background: var(--unreachable); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 10px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 130px; }
.card .value { font-size: 24px; font-weight: 700; }
.card .label { color: var(--muted); }
.problem { color: var(--failed); }
.muted { color: var(--muted); }
.tree { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
        white-space: pre; overflow-x: auto; margin: 6px 0 10px; }
.tree .ref { font-weight: 600; }
.tree .hidden { color: var(--unreachable); }
ul.problems { margin: 6px 0; padding-left: 20px; }
"""


# Trees with more rows start folded (a busy host has hundreds of PID namespaces).
TREE_OPEN_ROWS = 60


def _e(value):
    if value is None:
        return '<span class="muted">-</span>'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    return escape(str(value), quote=True)


def _anchor(host):
    """A unique, safe id per host name: letters, digits and '-' stay, every other
    character becomes '_<hex>_' ('web.1' -> 'host-web_2e_1', 'web_1' -> 'host-web_5f_1')."""
    return 'host-' + re.sub(r'[^A-Za-z0-9-]', lambda m: '_%x_' % ord(m.group(0)), host)


def _code_with_title(text, title):
    """``<code>`` of ``text``, with the full ``title`` on hover when there is one."""
    if title is None:
        return '<code>%s</code>' % _e(text)
    return '<code title="%s">%s</code>' % (escape(str(title), quote=True), _e(text))


def _badge(status):
    return '<span class="badge %s">%s</span>' % (escape(status), escape(status))


def _shorten(text, width=90):
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + '\u2026'


def _table(headers, rows, numeric=(), classes=None):
    out = ['<table><thead><tr>']
    for index, header in enumerate(headers):
        out.append('<th%s>%s</th>' % (' class="num"' if index in numeric else '', escape(header)))
    out.append('</tr></thead><tbody>')
    for row in rows:
        out.append('<tr>')
        for index, cell in enumerate(row):
            names = ' '.join(n for n in ('num' if index in numeric else '', (classes or {}).get(index, '')) if n)
            out.append('<td%s>%s</td>' % (' class="%s"' % names if names else '', cell))
        out.append('</tr>')
    out.append('</tbody></table>')
    return ''.join(out)


def _summary(report):
    summary = report['summary']
    counts = summary['status_counts']
    cards = [('hosts', summary['hosts'], ''), ('ok', counts['ok'], 'ok'), ('failed', counts['failed'], 'failed'),
             ('unreachable', counts['unreachable'], 'unreachable')]
    out = ['<div class="cards">']
    for label, value, cls in cards:
        style = ' style="color: var(--%s)"' % cls if cls and value else ''
        out.append('<div class="card"><div class="value"%s>%d</div><div class="label">%s</div></div>'
                   % (style, value, escape(label)))
    out.append('</div>')
    with_hostname = any(host['hostname'] for host in report['hosts'])
    rows = []
    for host in report['hosts']:
        ns = host['namespaces'] or {}
        counts_by_type = ns.get('counts') or {}
        found = sum(len(c['found']) for c in host['containers'])
        running = sum(1 for p in host['isolated_processes'] if p['state'] == 'present')
        rows.append(['<a href="#%s">%s</a>' % (_anchor(host['host']), _e(host['host'])), _e(host['address'])]
                    + ([_e(host['hostname'])] if with_hostname else []) + [_badge(host['status'])]
                    + [_e(counts_by_type.get(t)) for t in NS_TYPES]
                    + [_e(ns.get('total')), _e(found),
                       '%d / %d' % (running, len(host['isolated_processes'])),
                       _e(len(ns.get('warnings') or [])) if ns else _e(None),
                       _e(sum((ns.get('skipped') or {}).values())) if ns else _e(None),
                       '<span class="problem">%s</span>' % _e(_shorten(host['reason'])) if host['reason'] else ''])
    headers = ['host', 'address'] + (['hostname'] if with_hostname else []) + ['status'] + list(NS_TYPES) + [
        'total', 'containers found', 'isolated running', 'warnings', 'skipped procs', 'reason']
    first = len(headers) - len(NS_TYPES) - 6
    numeric = set(range(first, first + len(NS_TYPES) + 2)) | {first + len(NS_TYPES) + 3, first + len(NS_TYPES) + 4}
    out.append('<h2>Hosts</h2>')
    out.append(_table(headers, rows, numeric, classes={0: 'host', len(headers) - 1: 'reason'}))
    return ''.join(out)


def _problems(report):
    summary = report['summary']
    if not summary['unreachable'] and not summary['failed']:
        return '<h2>Problems</h2><p>None: every host completed.</p>'
    rows = [['<b>%s</b>' % _e(item['host']), _badge('unreachable'), '<span class="problem">%s</span>' % _e(item['reason'])]
            for item in summary['unreachable']]
    rows += [['<b>%s</b>' % _e(item['host']), _badge('failed'),
              '<ul class="problems">%s</ul>' % ''.join('<li>%s</li>' % _e(p) for p in item['problems'] or [item['reason']])]
             for item in summary['failed']]
    return '<h2>Problems</h2>' + _table(['host', 'status', 'reason'], rows, classes={0: 'host'})


def _fleet_containers(report):
    if not report['containers']:
        return ''
    rows = []
    for entry in report['containers']:
        selectors = ', '.join('%s=%s' % (k, v) for k, v in sorted(entry['selectors'].items()))
        found = '<br>'.join('%s: <code>%s</code> %s, init PID %s' % (
            _e(f['host']), _e((f['id'] or f['name'] or '')[:12]), _e(f['runtime']), _e(f['init_pid']))
            for f in entry['found_on']) or '<span class="muted">not found</span>'
        missing = _e(', '.join(entry['not_found_on'])) if entry['not_found_on'] else ''
        errors = '<br>'.join('<span class="problem">%s: %s</span>' % (_e(x['host']), _e(x['error']))
                             for x in entry['errors'])
        rows.append([_e(entry['name']), '<code>%s</code>' % _e(selectors), found, missing, errors])
    return '<h2>Containers</h2>' + _table(['declared', 'selectors', 'found on', 'not on', 'errors'], rows)


def _fleet_isolated(report):
    if not report['isolated_processes']:
        return ''
    rows = []
    for entry in report['isolated_processes']:
        for item in entry['hosts']:
            rows.append([_e(entry['name']), _e(item['host']), _e(item['declared_state']), _e(item['state']),
                         _e(item['action']), _e(item['pid']),
                         '<span class="problem">%s</span>' % _e(item['error']) if item['error'] else ''])
    return '<h2>Isolated processes</h2>' + _table(
        ['name', 'host', 'declared', 'state', 'last action', 'PID', 'error'], rows, numeric={5})


def _tree(title, tree):
    if not tree or not tree['rows']:
        return '<p><b>%s</b> <span class="muted">none</span></p>' % escape(title)
    lines = []
    for row in tree['rows']:
        summary = row['summary']
        cls = 'ref hidden' if row['hidden'] else 'ref'
        lines.append('%s<span class="%s">%s</span>  %s' % (
            escape(row['prefix']), cls, escape(row['ref']), escape(summary)))
    return ('<details%s><summary><b>%s</b> <span class="muted">(%d root%s, %d namespaces)</span></summary>'
            '<div class="tree">%s</div></details>') % (
        ' open' if len(lines) <= TREE_OPEN_ROWS else '', escape(title), tree['roots'],
        '' if tree['roots'] == 1 else 's', len(lines), '\n'.join(lines))


def _host(host):
    out = ['<section class="host %s" id="%s">' % (escape(host['status']), _anchor(host['host']))]
    out.append('<h2>%s %s</h2>' % (_e(host['host']), _badge(host['status'])))
    facts = [('address', _e(host['address']))]
    if host['hostname']:
        facts.append(('hostname', _e(host['hostname'])))
    if host['reason']:
        facts.append(('reason', '<span class="problem">%s</span>' % _e(host['reason'])))
    ns = host['namespaces']
    if ns:
        caps = ns['capabilities']
        facts += [('kernel', _e(ns['kernel'])), ('processes scanned', _e(ns['processes_scanned'])),
                  ('discovery', '%s s, sources %s' % (_e(ns['duration']), _e(', '.join(ns['sources'])))),
                  ('capabilities', 'CAP_SYS_ADMIN %s, CAP_SYS_PTRACE %s' % (_e(caps['sys_admin']), _e(caps['sys_ptrace']))),
                  ('skipped processes', _e(', '.join('%s %s' % kv for kv in sorted(ns['skipped'].items())) or 'none'))]
    out.append(_table(['', ''], [['<b>%s</b>' % escape(k), v] for k, v in facts]).replace(
        '<thead><tr><th></th><th></th></tr></thead>', ''))
    if host['problems']:
        out.append('<h3>Problems</h3><ul class="problems">%s</ul>'
                   % ''.join('<li class="problem">%s</li>' % _e(p) for p in host['problems']))
    if ns:
        out.append('<h3>Namespaces by type</h3>')
        out.append(_table(list(NS_TYPES) + ['total'], [[_e(ns['counts'][t]) for t in NS_TYPES] + [_e(ns['total'])]],
                          numeric=set(range(len(NS_TYPES) + 1))))
        if ns['warnings']:
            out.append('<h3>Warnings</h3><ul>%s</ul>' % ''.join('<li>%s</li>' % _e(w) for w in ns['warnings']))
    if host['containers']:
        rows = []
        for entry in host['containers']:
            if entry['error']:
                rows.append([_e(entry['name']), '<span class="problem">%s</span>' % _e(entry['error'])] + [''] * 6)
                continue
            if not entry['found']:
                rows.append([_e(entry['name']), '<span class="muted">%s</span>' % (
                    'not found' if entry['looked_up'] else 'not looked up')] + [''] * 6)
                continue
            for found in entry['found']:
                rows.append([_e(entry['name']), _code_with_title(found['short_id'] or found['name'], found['id']),
                             _e(found['runtime']), _e(found['pod_uid']), _e(found['state']), _e(found['init_pid']),
                             _e(len(found['pids'])), '<code>%s</code>' % _e(found['init_command'])])
        out.append('<h3>Containers</h3>')
        out.append(_table(['declared', 'container', 'runtime', 'pod UID', 'state', 'init PID', 'processes', 'init command'],
                          rows, numeric={5, 6}))
    if host['isolated_processes']:
        rows = []
        for item in host['isolated_processes']:
            rows.append([_e(item['name']), _e(item['declared_state']), _e(item['state']), _e(item['action']),
                         _e(item['pid']), '<code>%s</code>' % _e(' '.join(item['command'])),
                         _e(', '.join('%s:[%s]' % kv for kv in sorted(item['namespaces'].items()))) if item['namespaces'] else _e(None),
                         '<span class="problem">%s</span>' % _e(item['error']) if item['error'] else ''])
        out.append('<h3>Isolated processes</h3>')
        out.append(_table(['name', 'declared', 'state', 'last action', 'PID', 'command', 'namespaces', 'error'],
                          rows, numeric={4}))
    if host['trees']:
        out.append('<h3>Namespace trees</h3>')
        for nstype in TREE_TYPES:
            out.append(_tree('%s namespace tree' % nstype.upper(), host['trees'].get(nstype)))
    out.append('</section>')
    return ''.join(out)


def render_html(report, title='Namespace fleet report'):
    """The whole page as a string."""
    summary = report['summary']
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n' % (escape(title), _CSS),
        '<header><h1>%s</h1><div class="meta">%d hosts &middot; generated %s &middot; nsops.namespaces fleet role'
        '</div></header>\n<main>\n' % (escape(title), summary['hosts'], _e(report.get('generated'))),
        _summary(report), '\n', _problems(report), '\n', _fleet_containers(report), '\n', _fleet_isolated(report), '\n',
    ]
    parts += [_host(host) + '\n' for host in report['hosts']]
    parts.append('</main>\n</body>\n</html>\n')
    return ''.join(parts)
