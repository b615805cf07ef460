# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures for the functional tests: real kernel objects, run as root.

The tests import the collection as ``ansible_collections.nsops.namespaces`` from the
repo's ``.collections`` link (made by tools/env.sh) and run ``ansible-playbook`` from
the interpreter's own bin directory (the repo's .venv).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, '.collections')
_LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'nsops', 'namespaces')
if not os.path.exists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(REPO, _LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
# The lab helpers: `from lab.containers import RuncLab`.
TESTS = os.path.join(REPO, 'tests')
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

# The real interpreter, not a pyenv shim (its discovery can pick a broken one).
PYTHON = os.path.realpath(sys.executable)
BIN_DIR = os.environ.get('NSOPS_ANSIBLE_BIN_DIR') or os.path.dirname(sys.executable)


def discover_full(**kwargs):
    """discover() in the full shape (nsops.namespaces.ns_expand): lsns's columns in every
    record, command lines included, for the comparisons with lsns. The lean result must be
    schema version 2."""
    from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import expand_facts  # pylint: disable=import-outside-toplevel
    from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover  # pylint: disable=import-outside-toplevel
    kwargs.setdefault('command_lines', True)
    lean = discover(**kwargs)
    assert lean['discovery']['schema_version'] == 2 and 'pids' in lean
    return expand_facts(lean)


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason='functional tests create namespaces and need root')
        for item in items:
            item.add_marker(skip)


def ansible_env(**extra):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,
        'ANSIBLE_CONFIG': os.path.join(REPO, 'ansible.cfg'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_STDOUT_CALLBACK': 'test_json',
        'ANSIBLE_CALLBACK_PLUGINS': os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins'),
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
        'PYTHONPATH': COLLECTIONS,
    })
    env.update(extra)
    return env


def run_playbook(tmp_path, playbook, extra_vars=None, preexec=None, check=False, env=None, timeout=300):
    """Run a playbook (YAML text) against localhost; returns (rc, parsed json callback output)."""
    path = tmp_path / 'playbook.yml'
    path.write_text(textwrap.dedent(playbook))
    inventory = tmp_path / 'inventory.yml'
    inventory.write_text(
        'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
        '      ansible_python_interpreter: %s\n' % PYTHON)
    cmd = [os.path.join(BIN_DIR, 'ansible-playbook'), '-i', str(inventory), str(path)]
    if check:
        cmd.append('--check')
    if extra_vars:
        cmd += ['-e', json.dumps(extra_vars)]
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env or ansible_env(), capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec, check=False)
    try:
        result = json.loads(proc.stdout[proc.stdout.index('{'):])
    except ValueError:
        result = None
    if result is None:
        raise AssertionError('ansible-playbook printed no JSON (rc %d):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, result


def task_results(result, task_name, host='localhost'):
    """The result of one task (by name) of the json callback output."""
    for play in result['plays']:
        for task in play['tasks']:
            if task['task']['name'] == task_name:
                return task['hosts'][host]
    raise KeyError(task_name)


# ---------------------------------------------------------------------------- engine x capability matrix
# Tests of a class with an ENGINE attribute named test_<capability>[_<detail>] fill one cell each;
# the table is printed at the end of every run (with or without -s), skip reasons included.
MATRIX_CAPABILITIES = ('listing', 'by_id', 'by_prefix', 'by_name', 'by_host_pid', 'by_inner_pid', 'shared_ns',
                       'monitor', 'verified', 'socket_info', 'namespace_exec', 'playbooks', 'bad_input')
_MATRIX = {}
_MATRIX_SKIPS = {}


def _capability(name):
    for capability in sorted(MATRIX_CAPABILITIES, key=len, reverse=True):
        if name == 'test_' + capability or name.startswith('test_' + capability + '_'):
            return capability
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    engine = getattr(getattr(item, 'cls', None), 'ENGINE', None)
    capability = _capability(getattr(item, 'originalname', item.name))
    if engine is None or capability is None:
        return
    key = (engine, capability)
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _MATRIX_SKIPS.setdefault(engine, reason.replace('Skipped: ', '', 1))
        _MATRIX.setdefault(key, 'skip')
    elif report.failed:
        _MATRIX[key] = 'FAIL'
    elif report.when == 'call' and _MATRIX.get(key) != 'FAIL':
        _MATRIX[key] = 'pass'


def pytest_terminal_summary(terminalreporter):
    if not _MATRIX:
        return
    engines = []
    for engine, _capability_name in _MATRIX:
        if engine not in engines:
            engines.append(engine)
    columns = [c for c in MATRIX_CAPABILITIES if any((e, c) in _MATRIX for e in engines)]
    width = max(len(e) for e in engines)
    write = terminalreporter.write_line
    terminalreporter.section('container engines: engine x capability')
    write(' | '.join(['engine'.ljust(width)] + columns))
    write('-+-'.join(['-' * width] + ['-' * len(c) for c in columns]))
    for engine in engines:
        write(' | '.join([engine.ljust(width)] + [_MATRIX.get((engine, c), '-').ljust(len(c)) for c in columns]))
    for engine, reason in _MATRIX_SKIPS.items():
        write('%s skipped: %s' % (engine, reason))
