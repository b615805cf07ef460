# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: fleet_report_html.yml and fleet_report_markdown.yml beside this file
# (a file with several filters documents each one in its own sidecar).


from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.plugin_utils._plain_data import plain
from ansible_collections.nsops.namespaces.plugins.plugin_utils._fleet_report_html import render_html
from ansible_collections.nsops.namespaces.plugins.plugin_utils._fleet_report_markdown import render_markdown

DEFAULT_TITLE = 'Namespace fleet report'


def _render(filter_name, render, report, title):
    """Check that ``report`` is what fleet_report builds, then render it; errors name the filter used."""
    if not isinstance(report, Mapping) or 'hosts' not in report or 'summary' not in report:
        raise AnsibleFilterError('%s: input must be the report built by nsops.namespaces.fleet_report' % filter_name)
    try:
        return render(plain(report), str(title))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('%s: the report is not shaped as nsops.namespaces.fleet_report makes it: %r' % (filter_name, exc))


def fleet_report_html(report, title=DEFAULT_TITLE):
    return _render('fleet_report_html', render_html, report, title)


def fleet_report_markdown(report, title=DEFAULT_TITLE):
    return _render('fleet_report_markdown', render_markdown, report, title)


class FilterModule:

    def filters(self):
        return {
            'fleet_report_html': fleet_report_html,
            'fleet_report_markdown': fleet_report_markdown,
        }
