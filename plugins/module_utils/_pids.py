# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Process ID options, checked the same way by every module.

A file of its own so that a module taking PIDs (namespace_facts) does not ship the
container selectors with them.
"""


class PidError(ValueError):
    """A PID option is not a positive integer."""


def check_pid(value, option='pid', error=PidError):
    """``value`` as a process ID, an integer of 1 or more (None stays None); raises ``error`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise error('%s must be a positive integer process ID, not %r' % (option, value))
    try:
        pid = int(str(value).strip())
    except ValueError:
        raise error('%s must be a positive integer process ID, not %r' % (option, value))
    if pid <= 0:
        raise error('%s must be a positive integer process ID (1 or more), not %d' % (option, pid))
    return pid


def check_pids(values, option='pids', error=PidError):
    """A list of process IDs as :func:`check_pid` takes them; ``error`` names every bad one."""
    pids = []
    bad = []
    for value in values or ():
        try:
            pids.append(check_pid(value, option))
        except PidError:
            bad.append(str(value))
    if bad:
        raise error('%s must be positive integer process IDs (1 or more); got %s' % (option, ', '.join(bad)))
    return pids
