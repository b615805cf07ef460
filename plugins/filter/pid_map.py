# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
name: pid_map
short_description: Translate a PID seen in one PID namespace to the PID of the same process in another
version_added: 0.1.0
author: nsops developers (@nsops)
description:
  - Maps PIDs between PID namespaces over the process table of the namespace facts, as
    lxkns's PID map does, for example a container's PID 1 to its PID on the host, a host
    PID to the PID the container sees, or between any two PID namespaces on the path of
    the process.
  - Uses the C(nspid) chain of each process (C(NSpid) of C(/proc/PID/status), outermost
    PID namespace first) and the PID namespace hierarchy (C(parent)) of the facts; without
    the hierarchy (a copied proc tree) the outermost entry is the PID namespace of the
    processes whose chain has one entry.
  - The result is V(null) for a PID that is not in the process table as seen from
    O(from_ns), or whose process is not visible in O(to_ns) (it lives in a PID namespace
    that is neither O(to_ns) nor below it).
options:
  _input:
    description:
      - The namespace facts (C(ansible_facts.namespaces)) gathered with
        O(nsops.namespaces.namespace_facts#module:processes=true) (or with the PIDs of
        interest in O(nsops.namespaces.namespace_facts#module:pids)), including the V(pid) type.
    type: dict
    required: true
  pid:
    description:
      - The PID as seen in O(from_ns), a list of them (the result is a list), or V(all) for
        a mapping of every PID of the process table visible in O(from_ns) to its PID in
        O(to_ns) (V(null) when not visible there).
    type: raw
    required: true
  from_ns:
    description:
      - The PID namespace the PID is seen in, as C(pid:[INODE]), its inode, a namespace
        record of the facts, V(initial) (C(initial.pid) of the facts, the host's) or
        V(self) (the module's own).
    type: raw
    required: true
  to_ns:
    description: The PID namespace to translate to, in the same forms as O(from_ns).
    type: raw
    default: initial
'''

EXAMPLES = r'''
- name: Gather the process table
  nsops.namespaces.namespace_facts:
    processes: true
  become: true

- name: The host PID of PID 1 of the container's PID namespace
  ansible.builtin.debug:
    msg: "{{ ansible_facts.namespaces | nsops.namespaces.pid_map(1, 'pid:[4026532279]') }}"
  # => 3120

- name: And back, the PID the container sees for host PID 3120 (null when not in it)
  ansible.builtin.debug:
    msg: "{{ ansible_facts.namespaces | nsops.namespaces.pid_map(3120, 'initial', 'pid:[4026532279]') }}"
  # => 1

- name: Every PID of the container as host PIDs
  ansible.builtin.debug:
    msg: "{{ ansible_facts.namespaces | nsops.namespaces.pid_map('all', 'pid:[4026532279]', 'initial') }}"
  # => {1: 3120, 7: 3188}
'''

RETURN = r'''
_value:
  description:
    - The PID in O(to_ns), or V(null) when the process is not visible there or the PID is not
      in the process table as seen from O(from_ns).
    - A list of those for a list of PIDs; for V(all) a mapping of PID in O(from_ns) to PID in O(to_ns).
  type: raw
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    ProcParseError, format_ns_ref, parse_ns_ref,
)


def _fail(msg):
    raise AnsibleFilterError('pid_map: ' + msg)


def _check_facts(facts):
    if not isinstance(facts, Mapping) or 'namespaces' not in facts or 'discovery' not in facts:
        _fail('the input must be the namespace facts (ansible_facts.namespaces) of '
              'nsops.namespaces.namespace_facts, got %s' % type(facts).__name__)
    table = facts.get('processes')
    if table is None:
        _fail('the facts have no process table; gather them with nsops.namespaces.namespace_facts '
              'and processes: true (or pids: [...])')
    if 'pid' not in (facts.get('discovery') or {}).get('types', ['pid']):
        _fail('the facts were gathered without the pid type: add pid to types')
    return table


def _namespace(facts, value, what):
    """The inode of the PID namespace ``value`` names, which must be one of the facts."""
    inode = None
    if isinstance(value, str) and value.strip() in ('initial', 'self'):
        key = value.strip()
        inode = (facts.get(key) or {}).get('pid')
        if inode is None:
            _fail('%s: the facts have no %s PID namespace' % (what, key))
    elif isinstance(value, Mapping):
        if value.get('type') != 'pid' or 'inode' not in value:
            _fail('%s: a namespace record must be a full one (nsops.namespaces.ns_expand) of type pid, got type %r; '
                  'for a record of the lean facts give its key, "pid:[INODE]"' % (what, value.get('type')))
        inode = value['inode']
    elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
        inode = value
    elif isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and 0 < len(text) <= 20 and int(text) > 0:
            inode = int(text)
        else:
            try:
                nstype, inode = parse_ns_ref(text)
            except ProcParseError as exc:
                _fail('%s: %s' % (what, exc))
            if nstype != 'pid':
                _fail('%s: %s is a %s namespace, not a PID namespace' % (what, text, nstype))
    else:
        _fail('%s must be a PID namespace as "pid:[INODE]", an inode, a namespace record, "initial" or '
              '"self", got %r' % (what, value))
    if format_ns_ref('pid', inode) not in facts['namespaces']:
        _fail('%s: %s is not a PID namespace of these facts' % (what, format_ns_ref('pid', inode)))
    return inode


def _pid(value):
    if isinstance(value, bool):
        _fail('a PID must be an integer, got %r' % (value,))
    try:
        pid = int(value)
    except (TypeError, ValueError):
        _fail('a PID must be an integer, got %r' % (value,))
    if pid < 1:
        _fail('a PID must be positive, got %d' % pid)
    return pid


class PidMap:
    """Per process of the table: the PID namespace of each entry of its NSpid chain."""

    def __init__(self, facts, table):
        namespaces = facts['namespaces']
        self.parents = {}
        for ref, record in namespaces.items():
            nstype, inode = parse_ns_ref(ref)
            if isinstance(record, Mapping) and nstype == 'pid':
                parent = record.get('parent')
                self.parents[inode] = parse_ns_ref(parent)[1] if parent else None
        # Without the hierarchy, the outermost entry of every chain is the PID namespace
        # of the processes whose chain has one entry (those of the proc root).
        outermost = set(proc['namespaces'].get('pid') for proc in table
                        if proc.get('nspid') and len(proc['nspid']) == 1 and proc.get('namespaces'))
        outermost.discard(None)
        self.outermost = outermost.pop() if len(outermost) == 1 else None
        self.chains = []   # (nspid, [pid ns inode or None per entry])
        for proc in table:
            nspid = proc.get('nspid')
            own = (proc.get('namespaces') or {}).get('pid')
            if nspid and own is not None:
                self.chains.append((nspid, self._chain(own, len(nspid))))

    def _chain(self, own, length):
        chain = [own]
        while len(chain) < length:
            chain.append(self.parents.get(chain[-1]) if chain[-1] is not None else None)
        chain.reverse()
        if chain[0] is None:
            chain[0] = self.outermost
        return chain

    def table(self, from_ns, to_ns):
        """PID in ``from_ns`` -> PID in ``to_ns`` (None when not visible there)."""
        result = {}
        for nspid, chain in self.chains:
            if from_ns in chain:
                pid = nspid[chain.index(from_ns)]
                result[pid] = nspid[chain.index(to_ns)] if to_ns in chain else None
        return result


def pid_map(facts, pid, from_ns, to_ns='initial'):
    table = _check_facts(facts)
    source = _namespace(facts, from_ns, 'from_ns')
    target = _namespace(facts, to_ns, 'to_ns')
    if isinstance(table, (str, bytes, Mapping)) or not hasattr(table, '__iter__'):
        _fail('the process table (processes) must be a list of process records')
    try:
        mapping = PidMap(facts, table).table(source, target)
    except (KeyError, TypeError, AttributeError, ProcParseError) as exc:
        _fail('the facts are not namespace facts of this collection (malformed record: %s)' % exc)
    if isinstance(pid, str) and pid.strip() == 'all':
        return dict(sorted(mapping.items()))
    if isinstance(pid, (list, tuple)):
        return [mapping.get(_pid(item)) for item in pid]
    return mapping.get(_pid(pid))


class FilterModule:

    def filters(self):
        return {'pid_map': pid_map}
