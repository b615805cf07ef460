# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as it ships: the tarball, galaxy-importer and the changelog.

Run by `bash tests/run lint` (offline). Each test works on a copy of the tree, so
the checkout is never changed:
  - a tarball built from a copy made dirty the way test runs leave a tree holds only
    files git tracks (no caches, output directories, venvs, checkout-only tools);
  - galaxy-importer (run locally, no containers) imports it without a warning;
  - a trial `antsibull-changelog release` lists every plugin and role once.
"""

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)

# What a test run, a playbook run or a developer leaves in a tree (see galaxy.yml).
DIRT = [
    '.pytest_cache/v/cache/nodeids', 'tests/unit/.pytest_cache/CACHEDIR.TAG',
    '.hypothesis/examples/x', 'tests/unit/.hypothesis/examples/x',
    '.venv/bin/python', '.venv-2.16/bin/python', '.collections/ansible_collections/x',
    '.build/ansible_collections/nsops/namespaces/galaxy.yml', 'tests/output/junit/x.xml',
    'nsops-output/namespace_facts/localhost.json', 'playbooks/nsops-output/troubleshoot/x.json',
    'namespace_facts/localhost.json', 'troubleshoot/localhost-x.json',
    'playbooks/fleet_report/fleet_report.json', 'plugins/filter/__pycache__/ns_parse.cpython-311.pyc',
    'tests/lab/__pycache__/x.pyc', '.benchmarks/x.json', '.mypy_cache/x', 'old-nsops-namespaces-0.0.1.tar.gz',
]

# Files that must be in the tarball.
REQUIRED = [
    'MANIFEST.json', 'FILES.json', 'README.md', 'COPYING', 'LICENSES/GPL-3.0-or-later.txt', 'REUSE.toml',
    'requirements.txt', 'meta/runtime.yml', 'meta/execution-environment.yml',
    'changelogs/changelog.yaml', 'changelogs/config.yaml',
    'plugins/modules/namespace_facts.py', 'roles/fleet/meta/argument_specs.yml', 'playbooks/namespace_facts.yml',
]


def tracked_files():
    out = subprocess.run(['git', '-C', REPO, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                         capture_output=True, check=True).stdout.decode()
    return sorted(f for f in out.split('\0') if f and os.path.lexists(os.path.join(REPO, f)))


def copy_tree(dest):
    for rel in tracked_files():
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(REPO, rel), target, follow_symlinks=False)
    return dest


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    """(tarball path, shipped source files) built from a dirty copy of the tree."""
    src = copy_tree(str(tmp_path_factory.mktemp('dirty') / 'namespaces'))
    for rel in DIRT:
        path = os.path.join(src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as handle:
            handle.write('dirt\n')
    out = str(tmp_path_factory.mktemp('dist'))
    env = dict(os.environ)
    env.pop('ANSIBLE_CONFIG', None)
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', out, src],
                   check=True, capture_output=True, env=env)
    (tarball,) = [os.path.join(out, f) for f in os.listdir(out) if f.endswith('.tar.gz')]
    return tarball


def test_tarball_holds_only_tracked_files(built):
    with tarfile.open(built) as tar:
        names = {m.name for m in tar.getmembers() if not m.isdir()}
    shipped = set(tracked_files()) | {'MANIFEST.json', 'FILES.json'}
    assert sorted(names - shipped) == []
    for rel in REQUIRED:
        assert rel in names, rel
    for name in names:
        parts = name.split('/')
        assert not {'.pytest_cache', '.hypothesis', '__pycache__', 'nsops-output', 'fleet_report', 'tools',
                    '.venv', '.collections', '.build', 'bench', '.ci'} & set(parts[:-1]), name
    # Checkout-only wrappers: they source tools/env.sh, which is not shipped.
    assert 'playbooks/run' not in names and 'tests/run' not in names and 'ansible.cfg' not in names


def test_galaxy_importer_has_no_warnings(built, tmp_path):
    config = tmp_path / 'galaxy-importer.cfg'
    # ansible-test runs as the sanity stage already; the importer would want a container for it.
    config.write_text('[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\n'
                      'OFFLINE_ANSIBLE_LINT = True\n')
    env = dict(os.environ, GALAXY_IMPORTER_CONFIG=str(config))
    env.pop('ANSIBLE_CONFIG', None)
    proc = subprocess.run([sys.executable, '-m', 'galaxy_importer.main', '--output-path', str(tmp_path), built],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=900, check=False)
    log = proc.stdout + proc.stderr
    print('\n'.join(log.splitlines()[-3:]))
    assert proc.returncode == 0, log
    assert 'Importer processing completed successfully' in log, log
    problems = [line for line in log.splitlines()
                if re.search(r'\b(WARNING|ERROR)\b', line) and 'is ignored: it is neither' not in line]
    assert problems == [], '\n'.join(problems)
    with open(str(tmp_path / 'importer_result.json')) as handle:
        result = json.load(handle)
    # Every plugin once. galaxy-importer lists both the file ansible-doc names (a YAML
    # sidecar when there is one) and every .py file: a plugin documented in a sidecar
    # beside a .py of the same name would be listed twice, so single-filter files
    # carry their documentation inline and only fleet_report_render.py (two filters,
    # two sidecars) has sidecars.
    counts = collections.Counter((c['content_type'], c['name']) for c in result['contents'])
    assert {k for k, n in counts.items() if n > 1} == set()


def test_trial_release_lists_everything_once(tmp_path):
    root = copy_tree(str(tmp_path / 'namespaces'))
    env = dict(os.environ)
    env.pop('ANSIBLE_CONFIG', None)
    subprocess.run([os.path.join(BIN, 'antsibull-changelog'), 'release', '--date', '2025-01-01'],
                   cwd=root, check=True, capture_output=True, env=env)
    with open(os.path.join(root, 'CHANGELOG.md')) as handle:
        text = handle.read()
    entries = [line for line in text.splitlines() if line.startswith('* ')]
    doubles = [e for e, n in collections.Counter(entries).items() if n > 1]
    assert doubles == []
    # Each plugin and role: once, as a new plugin, never again in a fragment.
    names = [os.path.splitext(f)[0] for d in ('modules', 'filter')
             for f in os.listdir(os.path.join(REPO, 'plugins', d)) if f.endswith('.py')]
    names += os.listdir(os.path.join(REPO, 'roles'))
    for entry in entries:
        if not entry.startswith('* nsops\\.namespaces\\.'):
            assert not re.match(r'\* (%s)\b.* \\- new ' % '|'.join(re.escape(n.replace('_', '\\_')) for n in names),
                                entry), entry
    listed = re.findall(r'^\* nsops\\\.namespaces\\\.(\S+) \\-', text, re.M)
    assert len(listed) == len(set(listed))
    assert 'namespace\\_facts' in listed and 'fleet' in listed
