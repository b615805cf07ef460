# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark callback: one JSON line per task result, with the task's wall time.

Appended to the file named by NSOPS_BENCH_TIMES (bench/_harness.py read_task_times);
every bench that times tasks uses it (ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins). The time runs from the task's start
(v2_playbook_on_task_start) to its result on the controller, so it holds what a user
pays per task: templating, the worker fork, module transfer, the module process and
the result's trip back and processing.
"""

DOCUMENTATION = '''
name: bench_task_timer
type: aggregate
short_description: Per-task wall times for bench/bench_tasks.py
description: Records each task's wall time and result size (benchmark only).
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_task_timer'
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        self._started = None
        self._out = open(os.environ['NSOPS_BENCH_TIMES'], 'a')

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started = time.perf_counter()

    def _record(self, result, status):
        seconds = time.perf_counter() - self._started
        data = result._result
        try:
            size = len(json.dumps(data, default=str))
        except (TypeError, ValueError):
            size = -1
        self._out.write(json.dumps({'task': result._task.get_name(), 'seconds': seconds, 'bytes': size,
                                    'status': status, 'changed': bool(data.get('changed'))}) + '\n')
        self._out.flush()

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')
