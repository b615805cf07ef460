# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for every module test."""


import json

import pytest

from ansible.module_utils.common import warnings as ansible_warnings

try:
    from ansible.module_utils import _internal as ansible_internal
except ImportError:  # ansible-core < 2.19: no controller/target switch to reset
    ansible_internal = None

from ansible_collections.nsops.namespaces.tests.unit.compat import patch_module_args


@pytest.fixture(autouse=True)
def module_side(monkeypatch):
    """Run as on a target host, without warnings left over from other tests.

    Importing controller code (ansible.errors, as the filter tests do) in the same pytest
    process flips ``is_controller``, and module warnings then go to the controller display
    instead of the module result. Module warnings live in a process-wide dict.
    """
    if ansible_internal is not None:
        monkeypatch.setattr(ansible_internal, 'is_controller', False)
    # A dict from ansible-core 2.19 on, a list before.
    monkeypatch.setattr(ansible_warnings, '_global_warnings', type(ansible_warnings._global_warnings)())
    monkeypatch.setattr(ansible_warnings, '_global_deprecations',
                        type(getattr(ansible_warnings, '_global_deprecations', {}))(), raising=False)


@pytest.fixture
def run_module(capsys):
    """``run(module, **args)`` runs ``module.main()`` with ``args`` and returns (exit code, parsed JSON result).

    Ansible's own flags are module args as Ansible sends them, e.g. ``_ansible_check_mode=True``.
    """

    def run(module, **args):
        with patch_module_args(args):
            # exit_json and fail_json end the module with SystemExit after printing the result.
            with pytest.raises(SystemExit) as exited:
                module.main()
        return exited.value.code, json.loads(capsys.readouterr().out)

    return run
