# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


DOCUMENTATION = r'''
name: declaration_errors
short_description: Check a list of declarations against a JSON Schema, with messages naming host, variable, entry and field
version_added: 0.1.0
author: nsops developers
description:
  - Validates a host variable holding a list of named entries (such as C(fleet_isolated_processes)
    of the C(nsops.namespaces.fleet) role) against a JSON Schema (draft 2020-12) on the
    controller, with the Python library C(jsonschema), and returns one message per problem.
  - "Each message names the host, the variable, the entry (index and C(name)) and the field, for
    example - web1: fleet_isolated_processes[0] (name 'api'): field 'bogus': unknown field (allowed: ...)"
  - A property's C(description) in the schema explains what a valid value looks like; a rule under
    C(allOf) (C(if)/C(then), C(anyOf), C(not)) is reported with its own C(description).
  - Entry names must also be unique within the list.
  - Returns an empty list when everything is valid, so C(ansible.builtin.assert) can use it
    before any host is contacted.
options:
  _input:
    description: The declarations, a list of mappings.
    type: raw
    required: true
  schema:
    description: The JSON Schema of the whole list, as a mapping (for example read with the C(ansible.builtin.file) lookup and C(from_json)).
    type: dict
    required: true
  variable:
    description: Name of the variable, used in the messages.
    type: str
    required: true
  host:
    description: Inventory host name, used as the prefix of every message.
    type: str
requirements:
  - jsonschema (Python library, on the controller)
'''

EXAMPLES = r'''
- name: Check the declarations of every host before any host is contacted
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems }}"
    quiet: true
  vars:
    problems: >-
      {{ fleet_isolated_processes | nsops.namespaces.declaration_errors(
           lookup('ansible.builtin.file', 'isolated_processes.schema.json') | from_json,
           'fleet_isolated_processes', inventory_hostname) }}
  any_errors_fatal: true
'''

RETURN = r'''
_value:
  description: One message per problem; empty when the declarations are valid.
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.plugin_utils._declarations import (
    DeclarationSchemaError, declaration_errors as _declaration_errors)


def declaration_errors(declarations, schema, variable, host=None):
    try:
        return _declaration_errors(declarations, schema, variable, host)
    except DeclarationSchemaError as exc:
        raise AnsibleFilterError('declaration_errors: %s' % exc)


class FilterModule:

    def filters(self):
        return {'declaration_errors': declaration_errors}
