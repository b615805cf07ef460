# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The one module contract: a module hands its engine a request and answers Ansible
with what comes back.

Every engine exposes a request built from the module options, ``run(request) -> dict``
(the result, with a ``warnings`` list) and one error class whose instances carry
``msg``, ``result`` (extra fields of the failed result) and optionally ``warnings``.
"""


def ansible_module(module_class, **spec):
    """``module_class(**spec)`` (the module's AnsibleModule), failing cleanly where
    ansible-core's int conversion raises OverflowError (an int option of inf, nan or
    "inf") instead of failing the task with a traceback."""
    try:
        return module_class(**spec)
    except OverflowError:
        # The same options with ints taken as they are, only to fail with a message.
        module = module_class(**dict(spec, argument_spec=_raw_ints(spec['argument_spec'])))
        module.fail_json(msg='an integer option is infinite or not a number: give a whole number')
        raise  # not reached: fail_json exits


def _raw_ints(argument_spec):
    raw = {}
    for name, option in argument_spec.items():
        option = dict(option)
        if option.get('type') == 'int':
            option['type'] = 'raw'
        if option.get('elements') == 'int':
            option['elements'] = 'raw'
        if 'options' in option:
            option['options'] = _raw_ints(option['options'])
        raw[name] = option
    return raw


def answer(module, run, make_request, error):
    """Run ``run(make_request(module))`` and end the module with its result, or fail
    with the engine's ``error``; warnings are shown either way."""
    try:
        result = run(make_request(module))
    except error as exc:
        for warning in getattr(exc, 'warnings', ()):
            module.warn(warning)
        module.fail_json(msg=exc.msg, **exc.result)
    for warning in result.pop('warnings', ()):
        module.warn(warning)
    module.exit_json(**result)
