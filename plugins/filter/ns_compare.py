# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
name: ns_compare
short_description: Which namespaces two processes share and which differ
version_added: 0.1.0
author: nsops developers (@nsops)
description:
  - Compares the namespaces of two processes, type by type.
  - Either give the namespace facts (C(ansible_facts.namespaces) gathered with
    O(nsops.namespaces.namespace_facts#module:processes=true) or with both PIDs in
    O(nsops.namespaces.namespace_facts#module:pids)) and two PIDs, or give two mappings of
    namespace type to inode (such as C(namespaces) of two process records, or of two
    containers from M(nsops.namespaces.container_info)) and no PIDs.
options:
  _input:
    description:
      - The namespace facts, or the left mapping of type to inode (or to C(TYPE:[INODE])).
    type: dict
    required: true
  left:
    description:
      - With facts as input, the first PID. Otherwise the right-hand mapping of type to inode.
    type: raw
    required: true
  right:
    description: With facts as input, the second PID.
    type: int
'''

EXAMPLES = r'''
- name: Gather the process table of two processes
  nsops.namespaces.namespace_facts:
    pids: [1, "{{ worker_pid }}"]
  become: true

- name: Compare them
  ansible.builtin.set_fact:
    comparison: "{{ ansible_facts.namespaces | nsops.namespaces.ns_compare(1, worker_pid | int) }}"

- name: Fail unless the worker has a network namespace of its own
  ansible.builtin.assert:
    that: "'net' in comparison.different"

- name: Compare two mappings directly
  ansible.builtin.debug:
    msg: "{{ {'net': 4026531833, 'pid': 4026531836} | nsops.namespaces.ns_compare({'net': 4026532281, 'pid': 4026531836}) }}"
  # => shared: [pid], different: [net], unknown: []
'''

RETURN = r'''
_value:
  description: The comparison.
  type: dict
  contains:
    shared:
      description: Types in which both are in the same namespace.
      type: list
      elements: str
    different:
      description: Types in which they are in different namespaces.
      type: list
      elements: str
    unknown:
      description: Types known for only one side (not readable, or not supported by the kernel).
      type: list
      elements: str
    left:
      description: Type to C(TYPE:[INODE]) of the left side.
      type: dict
    right:
      description: Type to C(TYPE:[INODE]) of the right side.
      type: dict
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    NS_TYPES, ProcParseError, format_ns_ref, parse_ns_ref,
)


MAX_INODE = (1 << 64) - 1


def _inode(value, nstype, where):
    """An inode from an int, a string of digits or 'TYPE:[INODE]' text."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_INODE:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and 0 < len(text) <= 20 and 0 < int(text) <= MAX_INODE:
            return int(text)
        try:
            parsed_type, inode = parse_ns_ref(text)
        except ProcParseError as exc:
            raise AnsibleFilterError('ns_compare: %s.%s: %s' % (where, nstype, exc))
        if parsed_type != nstype:
            raise AnsibleFilterError('ns_compare: %s.%s names a %s namespace' % (where, nstype, parsed_type))
        if inode > MAX_INODE:
            raise AnsibleFilterError('ns_compare: %s.%s: inode %d is above 2**64-1' % (where, nstype, inode))
        return inode
    raise AnsibleFilterError('ns_compare: %s.%s must be an inode number or "TYPE:[INODE]", got %r'
                             % (where, nstype, value))


def _inodes(side, what):
    """type -> inode from a mapping of type to inode or to 'TYPE:[INODE]' text."""
    if not isinstance(side, Mapping):
        raise AnsibleFilterError('ns_compare: %s must be a mapping of namespace type to inode, got %s'
                                 % (what, type(side).__name__))
    # pid_for_children and the like are not memberships: only the eight types count.
    return dict((nstype, _inode(value, nstype, what)) for nstype, value in side.items() if nstype in NS_TYPES)


def _process_namespaces(facts, pid):
    try:
        pid = int(pid)
    except (TypeError, ValueError, OverflowError):
        raise AnsibleFilterError('ns_compare: PID must be an integer, got %r' % (pid,))
    table = facts.get('processes')
    if table is None:
        raise AnsibleFilterError('ns_compare: the facts have no process table; gather them with '
                                 'nsops.namespaces.namespace_facts and processes: true or pids: [%d, ...]' % pid)
    if not isinstance(table, (list, tuple)) or not all(isinstance(proc, Mapping) for proc in table):
        raise AnsibleFilterError('ns_compare: processes in the facts must be a list of process records, as '
                                 'nsops.namespaces.namespace_facts returns them')
    for proc in table:
        if proc.get('pid') == pid:
            return proc.get('namespaces') or {}
    raise AnsibleFilterError('ns_compare: PID %d is not in the process table (it exited, could not be '
                             'read, or was left out by the pids option)' % pid)


def ns_compare(data, left, right=None):
    if isinstance(data, Mapping) and 'namespaces' in data and 'discovery' in data:
        if right is None:
            raise AnsibleFilterError('ns_compare: with namespace facts as input give two PIDs: '
                                     'facts | nsops.namespaces.ns_compare(PID1, PID2)')
        left_ns = _inodes(_process_namespaces(data, left), 'PID %s' % left)
        right_ns = _inodes(_process_namespaces(data, right), 'PID %s' % right)
    else:
        if right is not None:
            raise AnsibleFilterError('ns_compare: PIDs need the namespace facts as input; to compare two '
                                     'mappings use left | nsops.namespaces.ns_compare(right)')
        left_ns = _inodes(data, 'input')
        right_ns = _inodes(left, 'argument')
    shared, different, unknown = [], [], []
    for nstype in NS_TYPES:
        if nstype in left_ns and nstype in right_ns:
            (shared if left_ns[nstype] == right_ns[nstype] else different).append(nstype)
        elif nstype in left_ns or nstype in right_ns:
            unknown.append(nstype)
    return {
        'shared': shared,
        'different': different,
        'unknown': unknown,
        'left': dict((t, format_ns_ref(t, i)) for t, i in left_ns.items()),
        'right': dict((t, format_ns_ref(t, i)) for t, i in right_ns.items()),
    }


class FilterModule:

    def filters(self):
        return {'ns_compare': ns_compare}
