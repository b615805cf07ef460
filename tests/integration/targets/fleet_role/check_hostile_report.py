# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the report hostile_report.yml wrote: python check_hostile_report.py DIR."""

import os
import re
import sys
from html.parser import HTMLParser

ALLOWED_TAGS = {'html', 'head', 'meta', 'title', 'style', 'body', 'header', 'h1', 'h2', 'h3', 'div', 'main', 'section',
                'table', 'thead', 'tbody', 'tr', 'th', 'td', 'a', 'span', 'b', 'ul', 'li', 'code', 'details', 'summary',
                'br', 'p'}
EVIL = 'evil<script>alert(1)</script>|`tick`'
ERROR = 'ssh said <script>alert(2)</script> | a | b |\nsecond line ``` fence `x` <img src=x onerror=alert(3)>'


class Page(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.tags, self.text = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)

    def handle_data(self, data):
        self.text.append(data)


def main(directory):
    with open(os.path.join(directory, 'fleet_report.html')) as handle:
        html = handle.read()
    page = Page()
    page.feed(html)
    assert page.tags <= ALLOWED_TAGS, page.tags - ALLOWED_TAGS        # no script, no img
    text = ''.join(page.text)
    assert EVIL in text and ERROR in text, 'the values are shown as text'
    assert '<script' not in html and '<img' not in html

    with open(os.path.join(directory, 'fleet_report.md')) as handle:
        markdown = handle.read()
    assert '<script' not in markdown and '<img' not in markdown
    lines = markdown.split('\n')
    hosts = lines[lines.index('## Hosts') + 2:]
    rows = hosts[:hosts.index('')]
    pipes = [len(re.findall(r'(?<!\\)\|', row)) for row in rows]
    assert len(rows) == 4 and len(set(pipes)) == 1, rows           # header, alignment, two hosts
    assert rows[2].startswith('| evil&lt;script&gt;alert(1)&lt;/script&gt;\\|\\`tick\\` |'), rows[2]
    assert ('ssh said &lt;script&gt;alert(2)&lt;/script&gt; \\| a \\| b \\| second line \\`\\`\\` fence \\`x\\` '
            '&lt;img src=x onerror=alert(3)&gt; |') in rows[2], rows[2]
    assert '## Host pipe\\|host (unreachable)' in lines
    print('hostile report: escaped in HTML and Markdown')


if __name__ == '__main__':
    main(sys.argv[1])
