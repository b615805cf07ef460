# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the unit tests need from ansible-core, on every version requires_ansible admits (2.16+)."""

import contextlib
import json

from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args  # noqa: F401 pylint: disable=unused-import
except ImportError:  # ansible-core < 2.19 reads module arguments from basic._ANSIBLE_ARGS

    @contextlib.contextmanager
    def patch_module_args(args):
        """Run a module's main() with ``args`` as its arguments."""
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode('utf-8')
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved
