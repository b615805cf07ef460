# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
name: ns_report
short_description: Render namespace facts as a readable text report
version_added: 0.1.0
author: nsops developers (@nsops)
description:
  - Turns C(ansible_facts.namespaces) from M(nsops.namespaces.namespace_facts) into a
    text report - how discovery ran, counts per type, the PID and user namespace trees
    (like C(lsns -Tparent)), one table per other type with bind mounts, and warnings.
options:
  _input:
    description: The namespace facts, C(ansible_facts.namespaces).
    type: dict
    required: true
  host:
    description: The host name to print in the title.
    type: str
'''

EXAMPLES = r'''
- name: Gather namespace facts
  nsops.namespaces.namespace_facts:

- name: Print them readably
  ansible.builtin.debug:
    msg: "{{ ansible_facts.namespaces | nsops.namespaces.ns_report(inventory_hostname) }}"
'''

RETURN = r'''
_value:
  description: The report, lines separated by newlines.
  type: str
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.plugin_utils._report import render_text


def ns_report(facts, host=None):
    if not isinstance(facts, Mapping) or 'namespaces' not in facts or 'discovery' not in facts:
        raise AnsibleFilterError('ns_report: input must be ansible_facts.namespaces as returned by '
                                 'nsops.namespaces.namespace_facts')
    try:
        return render_text(facts, host)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        # Facts edited or built by hand: say which shape is wrong instead of a traceback.
        raise AnsibleFilterError('ns_report: the facts are not shaped as nsops.namespaces.namespace_facts returns '
                                 'them (%s: %s); pass ansible_facts.namespaces unchanged' % (type(exc).__name__, exc))


class FilterModule:

    def filters(self):
        return {'ns_report': ns_report}
