# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this plugin_utils file is not part of the collection's public API and may
# change without notice.
"""Deep copies of Ansible variables made of plain JSON types only (controller side).

Templated values reach filters as lazy containers and tagged strings (ansible-core
2.19 data tagging); jsonschema, json.dumps and the report renderers want plain
dict/list/str/int/float/bool/None.
"""


from collections.abc import Mapping, Sequence


def plain(value):
    """A deep copy of ``value`` made of dict/list/str/int/float/bool/None (other leaves kept as they are)."""
    if isinstance(value, Mapping):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (Sequence, set, frozenset)):
        return [plain(v) for v in value]
    return value
