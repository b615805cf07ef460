# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this plugin_utils file is not part of the collection's public API and may
# change without notice.
"""Check declarations (lists of named entries in host variables) against a JSON Schema.

Controller side, with jsonschema (Draft 2020-12). Every problem becomes one message
that names the host, the variable, the entry (index and name) and the field, so a
person can find the line to fix in the inventory::

    fleet-b: fleet_isolated_processes[0] (name 'web'): field 'bogus': unknown field (allowed: command, ...)

Messages take what they say from the schema: a property's ``description`` explains
what a valid value looks like, and a rule under ``allOf`` (``if``/``then``, ``anyOf``,
``not``) is reported with its own ``description``. Names must also be unique within
the list, which JSON Schema cannot express.
"""


import re
from collections.abc import Mapping

from ansible_collections.nsops.namespaces.plugins.plugin_utils._plain_data import plain

try:
    import jsonschema
except ImportError:  # reported when used, not at import
    jsonschema = None

JSON_TYPE_WORDS = {
    'array': 'a list', 'object': 'a mapping', 'string': 'a string', 'integer': 'an integer',
    'number': 'a number', 'boolean': 'a boolean', 'null': 'null',
}
# Keywords whose failure is explained by the description of the (sub)schema holding them.
_DESCRIBED_KEYWORDS = ('pattern', 'anyOf', 'oneOf', 'enum', 'minItems', 'minLength', 'minimum', 'maximum',
                       'propertyNames', 'const', 'format')


class DeclarationSchemaError(Exception):
    """The schema itself is unusable, or jsonschema is missing on the controller."""


def _python_type_word(value):
    if isinstance(value, bool):
        return 'boolean'
    if value is None:
        return 'null'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, float):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, list):
        return 'list'
    if isinstance(value, dict):
        return 'mapping'
    return type(value).__name__


def _show(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _field_path(parts):
    """['uid_map', 0, 'inside'] -> "uid_map[0].inside"."""
    text = ''
    for part in parts:
        if isinstance(part, int):
            text += '[%d]' % part
        else:
            text += ('.' if text else '') + str(part)
    return text


def _resolve(root, ref):
    if not ref.startswith('#'):
        raise DeclarationSchemaError('only local $ref are supported, not %r' % ref)
    node = root
    for token in [t for t in ref[1:].split('/') if t]:
        node = node[token.replace('~1', '/').replace('~0', '~')]
    return node


def _schema_chain(root, schema_path):
    """The schemas visited along an error's absolute_schema_path (with $ref followed)."""
    chain = [root]
    node = root
    for key in schema_path:
        while isinstance(node, Mapping) and key not in node and '$ref' in node:
            node = _resolve(root, node['$ref'])
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        chain.append(node)
    return chain


def _rule_of(root, error):
    """The allOf member (a rule with a description) the error comes from, or None."""
    path = list(error.absolute_schema_path)
    chain = _schema_chain(root, path)
    for index, key in enumerate(path):
        if key == 'allOf' and index + 2 < len(chain):
            member = chain[index + 2]
            if isinstance(member, Mapping) and member.get('description'):
                return member
    return None


def _required_names(schema):
    """Every property name listed in a 'required' anywhere inside a rule."""
    names = []
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == 'required' and isinstance(value, list):
                names.extend(v for v in value if isinstance(v, str))
            else:
                names.extend(_required_names(value))
    elif isinstance(schema, list):
        for value in schema:
            names.extend(_required_names(value))
    seen = set()
    return [n for n in names if not (n in seen or seen.add(n))]


def _allowed_fields(schema, root):
    while isinstance(schema, Mapping) and '$ref' in schema and 'properties' not in schema:
        schema = _resolve(root, schema['$ref'])
    return sorted((schema.get('properties') or {}).keys()) if isinstance(schema, Mapping) else []


def _problems(error, root, entry):
    """(field path parts, problem text) pairs for one jsonschema error."""
    rel = list(error.absolute_path)[1:]          # path inside the entry
    keyword = error.validator
    rule = _rule_of(root, error)
    if rule is not None:
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [name for name in error.validator_value if name not in instance] \
            if keyword == 'required' and isinstance(error.validator_value, list) else []
        present = [name for name in _required_names(rule) if isinstance(entry, Mapping) and name in entry]
        fields = present + [name for name in missing if name not in present]
        if len(fields) == 1:
            return [(rel + fields, ('missing: ' if missing else '') + rule['description'])]
        listed = ', '.join("'%s'%s" % (name, ' (missing)' if name in missing else '') for name in fields)
        return [(rel, ('fields %s: ' % listed if listed else '') + rule['description'])]
    if keyword == 'additionalProperties' and isinstance(error.instance, Mapping):
        allowed = _allowed_fields(error.schema, root)
        unknown = sorted(k for k in error.instance if k not in allowed)
        return [(rel + [name], 'unknown field (allowed: %s)' % ', '.join(allowed)) for name in unknown]
    if keyword == 'required' and isinstance(error.instance, Mapping):
        return [(rel + [name], 'missing: this field is required') for name in error.validator_value
                if name not in error.instance]
    if keyword == 'type':
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        text = 'must be %s, not %s %s' % (
            ' or '.join(JSON_TYPE_WORDS.get(w, w) for w in wanted), _python_type_word(error.instance), _show(error.instance))
        description = error.schema.get('description') if isinstance(error.schema, Mapping) else None
        return [(rel, text + (' (%s)' % description if description else ''))]
    if keyword == 'enum':
        return [(rel, '%s is not one of %s' % (_show(error.instance), ', '.join(str(v) for v in error.validator_value)))]
    if keyword == 'uniqueItems':
        return [(rel, 'lists an item twice: %s' % _show(error.instance))]
    description = error.schema.get('description') if isinstance(error.schema, Mapping) else None
    if keyword in _DESCRIBED_KEYWORDS and description:
        return [(rel, '%s is not valid: %s' % (_show(error.instance), description))]
    return [(rel, error.message)]


def declaration_errors(declarations, schema, variable, host=None):
    """Messages for everything wrong with ``declarations`` (a list of entries); [] when valid.

    ``schema`` is the JSON Schema of the whole list (Draft 2020-12), ``variable`` the
    name of the host variable, ``host`` the inventory host name (message prefix).
    """
    schema, validator = _validator(schema, variable)
    prefix = '%s: ' % host if host else ''
    data = plain(declarations)
    if not isinstance(data, list):
        return ['%s%s: must be a list of entries, not %s %s' % (prefix, variable, _python_type_word(data), _show(data))]
    messages = _schema_messages(validator, schema, data, variable, prefix)
    messages.extend(_duplicate_names(data, variable, prefix))
    seen = set()
    return [m for m in messages if not (m in seen or seen.add(m))]


def _ecma_pattern(validator, pattern, instance, schema):  # pylint: disable=unused-argument
    """``pattern`` with ECMA-262's ``$``: the end of the string. Python's ``$`` also matches
    before a final newline, so ``^[a-z]+$`` took ``"box\\n"`` (and a hostname with it)."""
    if not validator.is_type(instance, 'string'):
        return
    if not re.search(_PATTERN_END.sub(r'\\Z', pattern), instance):
        yield jsonschema.ValidationError('%r does not match %r' % (instance, pattern))


# An unescaped ``$`` (not after a backslash, outside a character class is all our schemas use).
_PATTERN_END = re.compile(r'(?<!\\)\$')


def _validator(schema, variable):
    """(plain schema, its validator); DeclarationSchemaError when it cannot be used."""
    if jsonschema is None:
        raise DeclarationSchemaError('the Python library jsonschema is needed on the controller: pip install jsonschema')
    if not isinstance(schema, Mapping):
        raise DeclarationSchemaError('the schema must be a mapping (a parsed JSON Schema)')
    schema = plain(schema)
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator_class = jsonschema.validators.extend(validator_class, {'pattern': _ecma_pattern})
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise DeclarationSchemaError('the schema for %s is not a valid JSON Schema: %s' % (variable, exc.message))
    return schema, validator_class(schema)


def _entry_label(data, variable, index):
    """``var[2] (name 'web')``: how a message names an entry."""
    entry = data[index]
    name = entry.get('name') if isinstance(entry, dict) else None
    return '%s[%d]%s' % (variable, index, " (name '%s')" % name if isinstance(name, str) else '')


def _schema_messages(validator, schema, data, variable, prefix):
    """One message per problem the schema finds, by entry and field."""
    messages = []
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    # An entry that is not a mapping gets one message, not one per rule.
    bad_entries = set(list(error.absolute_path)[0] for error in errors
                      if len(error.absolute_path) == 1 and error.validator == 'type')
    for error in errors:
        path = list(error.absolute_path)
        if not path:
            messages.append('%s%s: %s' % (prefix, variable, error.message))
            continue
        index = path[0]
        if index in bad_entries and not (len(path) == 1 and error.validator == 'type'):
            continue
        for field, problem in _problems(error, schema, data[index]):
            where = " field '%s':" % _field_path(field) if field else ''
            messages.append('%s%s:%s %s' % (prefix, _entry_label(data, variable, index), where, problem))
    return messages


def _duplicate_names(data, variable, prefix):
    """Names must be unique in the list, which JSON Schema cannot say."""
    messages = []
    first = {}
    for index, entry in enumerate(data):
        name = entry.get('name') if isinstance(entry, dict) else None
        if isinstance(name, str):
            if name in first:
                messages.append("%s%s: field 'name': duplicate: %r is already declared by %s[%d]"
                                % (prefix, _entry_label(data, variable, index), name, variable, first[name]))
            else:
                first[name] = index
    return messages
