# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: fleet_report_markdown
short_description: Render the fleet report as Markdown
version_added: 0.1.0
author: nsops developers
description:
  - Renders the report built by P(nsops.namespaces.fleet_report#filter) as GitHub-flavoured
    Markdown - a table of hosts, the problems, the containers and isolated processes fleet-wide,
    then per host its details, tables and the PID and user namespace trees as code blocks.
options:
  _input:
    description: The fleet report.
    type: dict
    required: true
  title:
    description: Title of the document.
    type: str
    default: Namespace fleet report
'''

EXAMPLES = r'''
- name: Write the fleet report as Markdown on the controller
  ansible.builtin.copy:
    content: "{{ fleet_report | nsops.namespaces.fleet_report_markdown }}"
    dest: /tmp/fleet_report.md
    mode: "0644"
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
_value:
  description: The Markdown document.
  type: str
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.plugin_utils._plain_data import plain
from ansible_collections.nsops.namespaces.plugins.plugin_utils._fleet_report_markdown import render_markdown


def fleet_report_markdown(report, title='Namespace fleet report'):
    if not isinstance(report, Mapping) or 'hosts' not in report or 'summary' not in report:
        raise AnsibleFilterError('fleet_report_markdown: input must be the report built by nsops.namespaces.fleet_report')
    try:
        return render_markdown(plain(report), str(title))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('fleet_report_markdown: the report is not shaped as nsops.namespaces.fleet_report makes it: %r' % (exc,))


class FilterModule:

    def filters(self):
        return {'fleet_report_markdown': fleet_report_markdown}
