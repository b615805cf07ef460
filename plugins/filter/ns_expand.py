# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
name: ns_expand
short_description: Namespace facts with every field in every namespace record
version_added: 0.1.0
author: nsops developers (@nsops)
description:
  - The namespace facts of M(nsops.namespaces.namespace_facts) are lean (schema version 2,
    C(discovery.schema_version)) - a record holds only what its key does not already say
    and what is not empty, and the PPID, name, UID (and, with C(command_lines), the
    command line) of a namespace's lowest PID are in the C(pids) table, once per process,
    with user names in C(users).
  - This filter gives the full shape (schema version 1) - each record in C(namespaces)
    again has C(type), C(inode), C(dev), C(ref), C(ppid), C(command), C(uid) and C(user)
    of its lowest PID, and every list and flag, empty or not. C(command) is the command
    line when the facts have it, else the process name. The C(pids) and C(users) tables
    are dropped.
  - Facts that already have the full shape are returned unchanged.
options:
  _input:
    description: The namespace facts, C(ansible_facts.namespaces).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Gather namespace facts with command lines
  nsops.namespaces.namespace_facts:
    command_lines: true

- name: The command of every network namespace's lowest PID, from the full records
  ansible.builtin.debug:
    msg: >-
      {{ (ansible_facts.namespaces | nsops.namespaces.ns_expand).namespaces.values()
         | selectattr('type', 'equalto', 'net') | map(attribute='command') | list }}

- name: The same without the filter, from the lean facts
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.namespaces.namespaces | dict2items
         | selectattr('key', 'match', 'net:') | map(attribute='value.pid') | map('string')
         | map('extract', ansible_facts.namespaces.pids) | map(attribute='command') | list }}
'''

RETURN = r'''
_value:
  description: The namespace facts, with every namespace record in its full shape.
  type: dict
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import expand_facts
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcParseError


def ns_expand(facts):
    if not isinstance(facts, Mapping) or not isinstance(facts.get('namespaces'), Mapping):
        raise AnsibleFilterError('ns_expand expects the namespace facts (ansible_facts.namespaces of '
                                 'nsops.namespaces.namespace_facts), got %s' % type(facts).__name__)
    try:
        return expand_facts(facts)
    except (ProcParseError, AttributeError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('ns_expand: the facts are not namespace facts of this collection '
                                 '(malformed record: %s)' % exc)


class FilterModule:

    def filters(self):
        return {'ns_expand': ns_expand}
