# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only stdout callback: the run as one JSON document, shaped like ansible.posix.json.

ansible-core 2.19 has no JSON stdout callback of its own and ansible.posix cannot be
installed offline; the functional tests only need plays -> tasks -> hosts -> result.
"""


DOCUMENTATION = '''
name: test_json
type: stdout
short_description: Whole run as JSON (tests only)
description: Prints plays, tasks and per-host results as one JSON document.
'''

import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'test_json'

    def __init__(self):
        super().__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'play': {'name': play.get_name()}, 'tasks': []})

    def _task(self, task):
        tasks = self.plays[-1]['tasks']
        if not tasks or tasks[-1]['task']['id'] != str(task._uuid):
            tasks.append({'task': {'name': task.get_name(), 'id': str(task._uuid)}, 'hosts': {}})
        return tasks[-1]

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def _record(self, result, **flags):
        entry = dict(result._result)
        entry.update(flags)
        self._task(result._task)['hosts'][result._host.get_name()] = entry

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = dict((h, stats.summarize(h)) for h in sorted(stats.processed))
        self._display.display(json.dumps({'plays': self.plays, 'stats': summary}, default=str))
