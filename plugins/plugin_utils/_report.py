# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this plugin_utils file is not part of the collection's public API and may
# change without notice.
"""Render namespace facts as a readable text report (controller side).

The hierarchical types (pid, user) are drawn as trees like ``lsns -Tparent`` and
lxkns ``lspidns``; the flat types as one table each.
"""

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import expand_facts

NS_TYPES = ('cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts')
TREE_TYPES = ('pid', 'user')
_COMMAND_WIDTH = 60


def _short(text, width=_COMMAND_WIDTH):
    text = text or '-'
    return text if len(text) <= width else text[:width - 1] + '\u2026'


def describe_namespace(ns):
    """One line of facts about a namespace after its reference."""
    parts = ['%d procs' % ns.get('nprocs', 0)]
    if ns.get('pid'):
        parts.append('pid %s' % ns['pid'])
    if ns.get('type') == 'user' and ns.get('owner_uid') is not None:
        parts.append('owner uid %s' % ns['owner_uid'])
    extras = []
    for key, label in (('fds', 'fd'), ('bind_mounts', 'bind mount'), ('loose_threads', 'thread'),
                       ('sockets', 'socket'), ('for_children', 'for_children')):
        count = len(ns.get(key) or ())
        if count:
            extras.append('%d %s%s' % (count, label, '' if count == 1 or label == 'for_children' else 's'))
    if ns.get('hidden'):
        extras.append('hidden')
    if extras:
        parts.append('[%s]' % ', '.join(extras))
    parts.append(_short(ns.get('command')))
    return '  '.join(parts)


def tree_rows(namespaces, roots):
    """Depth-first rows of a namespace tree: (depth, drawing prefix, ref, record).

    The prefix draws the branches (``├─``, ``└─``, ``│``); a namespace is visited once
    even if facts were to name it twice.
    """
    rows = []
    seen = set()

    def walk(ref, prefix, last, depth):
        ns = namespaces.get(ref)
        if ns is None or ref in seen:
            return
        seen.add(ref)
        rows.append((depth, '' if depth == 0 else prefix + ('\u2514\u2500 ' if last else '\u251c\u2500 '), ref, ns))
        children = [c for c in ns.get('children') or [] if c in namespaces]
        child_prefix = '' if depth == 0 else prefix + ('   ' if last else '\u2502  ')
        for index, child in enumerate(children):
            walk(child, child_prefix, index == len(children) - 1, depth + 1)

    for root in roots:
        walk(root, '', True, 0)
    return rows


def _tree_lines(namespaces, roots):
    return ['%s%s  %s' % (prefix, ref, describe_namespace(ns)) for dummy, prefix, ref, ns in tree_rows(namespaces, roots)]


def render_text(facts, host=None):
    """The report as one string."""
    facts = expand_facts(facts)
    namespaces = facts.get('namespaces') or {}
    discovery = facts.get('discovery') or {}
    by_type = dict((t, sorted((ns for ns in namespaces.values() if ns.get('type') == t),
                              key=lambda ns: ns.get('inode', 0))) for t in NS_TYPES)
    caps = discovery.get('capabilities') or {}
    lines = [
        'Namespaces on %s' % (host or 'this host'),
        'kernel %s, proc_root %s, %s processes scanned in %ss, sources: %s' % (
            discovery.get('kernel', '?'), discovery.get('proc_root', '?'),
            discovery.get('processes_scanned', '?'), discovery.get('duration', '?'),
            ', '.join(discovery.get('sources') or [])),
        'capabilities: CAP_SYS_ADMIN %s, CAP_SYS_PTRACE %s' % (
            'yes' if caps.get('sys_admin') else 'no', 'yes' if caps.get('sys_ptrace') else 'no'),
        'counts: ' + ', '.join('%s %d' % (t, len(by_type[t])) for t in NS_TYPES)
        + ' (total %d)' % len(namespaces),
    ]
    skipped = dict((k, v) for k, v in (discovery.get('skipped') or {}).items() if v)
    if skipped:
        lines.append('skipped processes: ' + ', '.join('%s %d' % item for item in sorted(skipped.items())))
    for nstype in TREE_TYPES:
        roots = (facts.get('roots') or {}).get(nstype) or []
        lines.append('')
        lines.append('%s namespaces (tree, %d root%s)' % (nstype.upper(), len(roots), '' if len(roots) == 1 else 's'))
        lines.extend('  ' + line for line in _tree_lines(namespaces, roots))
    for nstype in NS_TYPES:
        if nstype in TREE_TYPES:
            continue
        lines.append('')
        lines.append('%s namespaces (%d)' % (nstype.upper(), len(by_type[nstype])))
        for ns in by_type[nstype]:
            lines.append('  %s  %s' % (ns.get('ref'), describe_namespace(ns)))
            for mount in ns.get('bind_mounts') or []:
                lines.append('      bind mount %s (in %s)' % (mount.get('path'), mount.get('mnt_ns')))
    warnings = discovery.get('warnings') or []
    lines.append('')
    lines.append('warnings: %s' % ('none' if not warnings else len(warnings)))
    lines.extend('  - ' + w for w in warnings)
    return '\n'.join(lines)
