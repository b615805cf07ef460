# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
name: ns_parse
short_description: Parse a namespace reference such as C(net:[4026531833])
version_added: 0.1.0
author: nsops developers (@nsops)
description:
  - Splits the text of a namespace link (what C(readlink /proc/PID/ns/TYPE) prints, and
    what C(ref) holds in the facts of M(nsops.namespaces.namespace_facts)) into its type
    and inode.
  - Malformed text (no inode, an unknown type, extra characters) is an error that names
    the text and the expected form.
options:
  _input:
    description: The reference, C(TYPE:[INODE]).
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Type and inode of a namespace link
  ansible.builtin.debug:
    msg: "{{ 'net:[4026531833]' | nsops.namespaces.ns_parse }}"
  # => {"type": "net", "inode": 4026531833}

- name: Inode of the network namespace read from a process
  ansible.builtin.command: readlink /proc/1/ns/net
  register: link
  changed_when: false

- name: Use it
  ansible.builtin.debug:
    msg: "{{ (link.stdout | nsops.namespaces.ns_parse).inode }}"
'''

RETURN = r'''
_value:
  description: The namespace type and inode.
  type: dict
  contains:
    type:
      description: One of cgroup, ipc, mnt, net, pid, time, user, uts.
      type: str
    inode:
      description: The inode number on nsfs.
      type: int
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcParseError, parse_ns_ref


MAX_INODE = (1 << 64) - 1


def ns_parse(text):
    try:
        nstype, inode = parse_ns_ref(text)
    except ProcParseError as exc:
        raise AnsibleFilterError('ns_parse: %s' % exc)
    if inode > MAX_INODE:
        raise AnsibleFilterError('ns_parse: inode %d in %r is above 2**64-1, which no inode number can be' % (inode, text))
    return {'type': nstype, 'inode': inode}


class FilterModule:

    def filters(self):
        return {'ns_parse': ns_parse}
