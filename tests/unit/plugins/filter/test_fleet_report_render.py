# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet_report_html and fleet_report_markdown filters, which share one plugin file
(the rendering itself: plugin_utils/test_fleet_report.py)."""


import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.filter.fleet_report_render import (
    FilterModule, fleet_report_html, fleet_report_markdown,
)
from ansible_collections.nsops.namespaces.plugins.plugin_utils._fleet_report import build_report


@pytest.fixture
def report():
    # A host the play left without data: the smallest report fleet_report builds.
    return build_report(['web1'], {'web1': {}}, None, None, True)


def test_the_file_provides_both_filters():
    assert FilterModule().filters() == {'fleet_report_html': fleet_report_html,
                                        'fleet_report_markdown': fleet_report_markdown}


def test_each_filter_renders_with_its_renderer(report):
    assert fleet_report_markdown(report, 'Fleet A').startswith('# Fleet A\n')
    html = fleet_report_html(report, 'Fleet B')
    assert html.startswith('<!DOCTYPE html>') and '<title>Fleet B</title>' in html


@pytest.mark.parametrize('render', [fleet_report_html, fleet_report_markdown])
@pytest.mark.parametrize('value, message', [
    ({'x': 1}, 'input must be the report built by nsops.namespaces.fleet_report'),
    (['web1'], 'input must be the report built by nsops.namespaces.fleet_report'),
    ({'hosts': 1, 'summary': 2}, 'the report is not shaped as nsops.namespaces.fleet_report makes it'),
])
def test_errors_name_the_filter_that_was_used(render, value, message):
    with pytest.raises(AnsibleFilterError) as info:
        render(value)
    assert str(info.value).startswith('%s: %s' % (render.__name__, message))
