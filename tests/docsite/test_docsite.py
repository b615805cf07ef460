# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docsite, as antsibull-docs builds it for docs.ansible.com-style collection sites.

Run by `bash tests/run lint` (offline). Everything goes to tests/output/docsite/:
  - `antsibull-docs lint-collection-docs --plugin-docs` finds nothing (plugin and role
    docs, docs/docsite/extra-docs.yml, links.yml and the RST of the guides);
  - `antsibull-docs sphinx-init --use-current` then the steps of the build.sh it writes
    (`antsibull-docs collection` and `sphinx-build`) build the HTML of the collection
    from this checkout, with no warning except those of intersphinx lookups (the
    inventories of docs.ansible.com and docs.python.org cannot be fetched here, so the
    labels they hold, such as `common_return_values`, stay unresolved);
  - headless chromium renders the namespace_facts module page to
    tests/output/docsite/namespace_facts_module.png.
"""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TESTS = os.path.join(REPO, 'tests')
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from lab.chromium import ChromiumMissing, chromium, png_size  # noqa: E402

BIN = os.path.dirname(sys.executable)
OUT = os.path.join(REPO, 'tests', 'output', 'docsite')
COLLECTIONS = os.path.join(REPO, '.collections')
PAGES = 'collections/nsops/namespaces'
SCREENSHOT = os.path.join(OUT, 'namespace_facts_module.png')

# Warnings that only say an intersphinx inventory could not be fetched, and the labels
# those inventories would have resolved (ansible-core's docs, ansible.builtin's plugins).
INTERSPHINX_HEAD = re.compile(r'WARNING: failed to reach any of the inventories')
INTERSPHINX_DETAIL = re.compile(r"^intersphinx inventory '[^']+' not (fetchable|readable)")
FOREIGN_LABEL = re.compile(r"WARNING: undefined label: '(common_return_values|ansible_configuration_settings"
                           r"|ansible_collections\.ansible\.builtin\.[a-z0-9_.-]+)'")
# Options our plugins take from ansible-core's fragments (cache, pipelining) name core's
# configuration environment variables, which core's docs define.
FOREIGN_ENVVAR = re.compile(r"WARNING: 'envvar' reference target not found: ([A-Z0-9_]+)")


def core_envvars():
    """The environment variables of ansible-core's configuration (its config/base.yml)."""
    import ansible.config  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(os.path.dirname(ansible.config.__file__), 'base.yml')) as handle:
        settings = yaml.safe_load(handle)
    return set(env['name'] for setting in settings.values() for env in setting.get('env') or ())


def foreign_envvar(line, known):
    match = FOREIGN_ENVVAR.search(line)
    return bool(match) and match.group(1) in known


def env():
    environ = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR='1')
    environ.pop('ANSIBLE_CONFIG', None)
    environ['PATH'] = BIN + os.pathsep + environ.get('PATH', '')
    return environ


def run(args, cwd, timeout=300):
    proc = subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_lint_collection_docs():
    rc, log = run([os.path.join(BIN, 'antsibull-docs'), 'lint-collection-docs', '--plugin-docs', '.'], REPO)
    print('\n'.join(log.splitlines()[-3:]) or 'antsibull-docs lint-collection-docs: no findings')
    assert rc == 0 and log.strip() == '', log


@pytest.fixture(scope='module')
def docsite():
    """(html directory, warnings) of a fresh build from this checkout."""
    src = os.path.join(OUT, 'src')
    subprocess.run(['rm', '-rf', OUT], check=True)
    os.makedirs(src)
    rc, log = run([os.path.join(BIN, 'antsibull-docs'), 'sphinx-init', '--use-current', '--dest-dir', src,
                   'nsops.namespaces'], src)
    assert rc == 0, log
    rst = os.path.join(src, 'rst')
    os.makedirs(rst, exist_ok=True)
    os.chmod(rst, 0o755)   # build.sh: "antsibull-docs wants that directory only readable by itself"
    rc, log = run([os.path.join(BIN, 'antsibull-docs'), '--config-file', 'antsibull-docs.cfg', 'collection',
                   '--cleanup', 'everything', '--use-current', '--dest-dir', 'rst', 'nsops.namespaces'], src)
    assert rc == 0, log
    warnings = os.path.join(OUT, 'sphinx-warnings.txt')
    rc, log = run([os.path.join(BIN, 'sphinx-build'), '-M', 'html', 'rst', 'build', '-c', '.', '--keep-going',
                   '-q', '-w', warnings], src)
    with open(os.path.join(OUT, 'sphinx-build.log'), 'w') as handle:
        handle.write(log)
    assert rc == 0, log
    with open(warnings) as handle:
        lines = handle.read().splitlines()
    print('\n'.join(log.splitlines()[-3:]))
    return os.path.join(src, 'build', 'html'), lines


def test_docsite_builds_without_warnings(docsite):
    dummy, lines = docsite
    known = core_envvars()
    other = [line for line in lines if line.strip() and not (
        INTERSPHINX_HEAD.search(line) or INTERSPHINX_DETAIL.search(line) or FOREIGN_LABEL.search(line)
        or foreign_envvar(line, known))]
    print('docsite build: %d warning lines, all intersphinx lookups or ansible-core settings' % len(lines)
          if not other else '')
    assert other == [], '\n'.join(other)


def test_docsite_has_every_page(docsite):
    html, dummy = docsite
    for page in ('index', 'namespace_facts_module', 'isolated_process_module', 'fleet_role', 'cgroup_container_filter',
                 'docsite/guide_fleet'):
        assert os.path.isfile(os.path.join(html, PAGES, page + '.html')), page
    with open(os.path.join(html, PAGES, 'index.html')) as handle:
        index = handle.read()
    assert 'guide_fleet.html' in index and 'playbooks_module_defaults.html' in index
    with open(os.path.join(html, PAGES, 'fleet_role.html')) as handle:
        role = handle.read()
    assert 'fleet_isolated_processes' in role


def test_namespace_facts_page_screenshot(docsite):
    html, dummy = docsite
    page = os.path.join(html, PAGES, 'namespace_facts_module.html')
    try:
        rc, dummy, err = chromium(['--hide-scrollbars', '--window-size=1280,1800', '--screenshot=%s' % SCREENSHOT,
                                   'file://' + page], os.path.join(OUT, 'chromium-profile'), timeout=90)
    except ChromiumMissing as exc:
        pytest.fail(str(exc))
    assert rc == 0, err[-2000:]
    assert png_size(SCREENSHOT) == (1280, 1800)
    # A blank page compresses to a few kilobytes; the rendered one is far larger.
    assert os.path.getsize(SCREENSHOT) > 60000
    print('screenshot: %s' % SCREENSHOT)
