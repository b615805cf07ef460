# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""declaration_errors against the fleet role's schemas: one message per problem, naming where it is."""


import json
import os

import pytest

from ansible_collections.nsops.namespaces.plugins.plugin_utils._declarations import (
    DeclarationSchemaError,
    declaration_errors,
)
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import COLLECTION_ROOT


def role_schema(name):
    with open(os.path.join(COLLECTION_ROOT, 'roles', 'fleet', 'files', name + '.schema.json')) as handle:
        return json.load(handle)


ISOLATED = role_schema('isolated_processes')
CONTAINERS = role_schema('containers')


@pytest.mark.parametrize('schema, declarations, messages', [
    (ISOLATED, [], []),
    (ISOLATED, [{'name': 'ok', 'command': ['sleep', '1']}], []),
    (ISOLATED, [{'name': 'ok', 'command': 'sleep'}],
     ["h1: var[0] (name 'ok'): field 'command': must be a list, not string 'sleep' (the argv list, e.g. "
      "[sleep, infinity])"]),
    (ISOLATED, [{'name': 'no/slash', 'command': ['sleep', '1']}],
     ["h1: var[0] (name 'no/slash'): field 'name': 'no/slash' is not valid: 1 to 63 letters, digits, '_', '.' "
      "or '-', starting with a letter or digit"]),
    (ISOLATED, [{'name': 'a', 'command': ['sleep', '1']}, {'name': 'a', 'state': 'absent'}],
     ["h1: var[1] (name 'a'): field 'name': duplicate: 'a' is already declared by var[0]"]),
    (ISOLATED, 'notalist', ["h1: var: must be a list of entries, not string 'notalist'"]),
    (ISOLATED, [5, 'x', {'name': 'b'}],
     ['h1: var[0]: must be a mapping, not integer 5',
      "h1: var[1]: must be a mapping, not string 'x'",
      "h1: var[2] (name 'b'): field 'command': missing: command is required unless state is absent"]),
    (ISOLATED, [{'command': ['x']}], ["h1: var[0]: field 'name': missing: this field is required"]),
    (CONTAINERS, [{'name': 'web', 'pid': 1, 'id': 'abc'}],
     ["h1: var[0] (name 'web'): fields 'pid', 'id': pid cannot be combined with id, container_name, pod_uid or "
      "runtime"]),
    (CONTAINERS, [{'name': 'web', 'runtime': 'rkt'}],
     ["h1: var[0] (name 'web'): field 'runtime': 'rkt' is not one of docker, containerd, cri, cri-o, podman, "
      "systemd-nspawn, lxc"]),
    (CONTAINERS, [{'name': 'web'}],
     ["h1: var[0] (name 'web'): give at least one selector: id, container_name, pod_uid, runtime or pid"]),
])
def test_each_problem_is_one_message_naming_host_entry_and_field(schema, declarations, messages):
    assert declaration_errors(declarations, schema, 'var', host='h1') == messages


def test_unknown_field_lists_the_allowed_ones_and_no_host_means_no_prefix():
    (message,) = declaration_errors([{'name': 'ok', 'command': ['true'], 'bogus': 1}], ISOLATED, 'var')
    assert message.startswith("var[0] (name 'ok'): field 'bogus': unknown field (allowed: boottime_offset, ")
    assert ', command, ' in message and message.endswith(', user)')


@pytest.mark.parametrize('schema, message', [
    ([], 'the schema must be a mapping'),
    ({'type': 'nonsense'}, 'the schema for var is not a valid JSON Schema'),
])
def test_an_unusable_schema_is_a_schema_error(schema, message):
    with pytest.raises(DeclarationSchemaError, match=message):
        declaration_errors([], schema, 'var')


@pytest.mark.parametrize('field, value', [('name', 'web\n'), ('hostname', 'box\n'), ('umask', '022\n'),
                                          ('memory_max', '64M\n'), ('pids_max', '8\n')])
def test_a_trailing_newline_does_not_match_a_pattern(field, value):
    entry = {'name': 'web', 'command': ['sleep', '1']}
    entry[field] = value
    if field in ('memory_max', 'pids_max'):
        entry['cgroup'] = 'nsops/web'
    messages = declaration_errors([entry], ISOLATED, 'var', 'h1')
    assert messages and "field '%s'" % field in messages[0]


def test_the_role_schemas_end_their_patterns_at_the_end_of_the_text():
    import re
    for name in ('isolated_processes', 'containers', 'fleet_report'):
        text = json.dumps(role_schema(name))
        for pattern in re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', text):
            pattern = json.loads('"%s"' % pattern)
            if pattern.endswith('$') or '$' in pattern:
                assert '$(?!\\n)' in pattern, (name, pattern)
