# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
name: fleet_report
short_description: Build the fleet report from what the fleet role left in hostvars
version_added: 0.1.0
author: nsops developers
description:
  - Collects, for every host given, what the stages of the C(nsops.namespaces.fleet) role
    recorded - C(ansible_facts.namespaces), C(fleet_container_results),
    C(fleet_isolated_results), C(fleet_unreachable_reason) and C(fleet_stage_failures) -
    into one report - per host the status (V(ok), V(failed), V(unreachable)) with the
    reason, namespace counts by type, the PID and user namespace trees and the network
    and mount namespaces under their owning user namespace, the declared
    containers found, the declared isolated processes and their state, warnings and
    skipped processes; fleet-wide the counts, the problems, and where each declared
    container was found.
  - A host that left the play before the report without a recorded reason is reported
    as V(unreachable) with a note to look at the play output.
  - The shape is published as the JSON Schema C(roles/fleet/files/fleet_report.schema.json).
  - The C(report) entry point of the R(nsops.namespaces.fleet role,ansible_collections.nsops.namespaces.fleet_role)
    renders it as Markdown and HTML with the role's templates C(templates/fleet_report.md.j2) and
    C(templates/fleet_report.html.j2).
options:
  _input:
    description: The inventory names of the hosts to report on, in report order.
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: dict
    required: true
  active_hosts:
    description:
      - The hosts still in the play (C(ansible_play_hosts)); others without data are
        reported as having left the play. Defaults to every host in the input.
    type: list
    elements: str
  generated:
    description: When the report was made, shown in the report (for example C(now(utc=true).isoformat())).
    type: str
  trees:
    description: Include the namespace trees of each host (PID, user, and network and mount namespaces by owner).
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Write the fleet report as JSON on the controller
  ansible.builtin.copy:
    content: "{{ ansible_play_hosts_all | nsops.namespaces.fleet_report(hostvars, ansible_play_hosts) | to_nice_json }}"
    dest: /tmp/fleet_report.json
    mode: "0644"
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
_value:
  description: The fleet report (keys C(report_version), C(generated), C(summary), C(containers), C(isolated_processes), C(hosts)).
  type: dict
'''

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.plugin_utils._fleet_report import build_report


def fleet_report(hosts, hostvars, active_hosts=None, generated=None, trees=True):
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('fleet_report: input must be a list of inventory host names')
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError('fleet_report: hostvars must be the hostvars magic variable')
    return build_report([str(h) for h in hosts], hostvars,
                        None if active_hosts is None else [str(h) for h in active_hosts],
                        None if generated is None else str(generated), bool(trees))


class FilterModule:

    def filters(self):
        return {'fleet_report': fleet_report}
