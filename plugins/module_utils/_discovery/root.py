# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The first step of every /proc reader: is the proc root a proc tree, and a procfs?

Apart from the pipeline so that a caller that only needs this check (socket_info's
scoped query) does not compile the whole discovery: AnsiballZ ships sources, and every
task compiles what it imports.
"""


import os

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs


class DiscoveryError(Exception):
    """namespace_facts cannot run: ``msg`` says why, ``result`` holds fields for the failed result."""

    def __init__(self, msg, **result):
        super(DiscoveryError, self).__init__(msg)
        self.msg = msg
        self.result = result


class ProcRootError(DiscoveryError):
    """The proc root cannot be used at all (the only fatal error of the discovery itself)."""


def check_root(root):
    """Refuse a path that is not a proc tree (ProcRootError); True when it is a mounted procfs."""
    path = root.path
    if not os.path.isdir(path):
        raise ProcRootError('proc_root %s is not a directory: expected a mounted procfs such as /proc '
                            'or a host /proc mounted elsewhere (e.g. /host/proc)' % path)
    if not root.is_proc_tree():
        raise ProcRootError('proc_root %s is not a procfs: expected a directory with a <PID>/stat file '
                            'per process, such as /proc or a host /proc mounted at /host/proc' % path)
    try:
        return procfs.is_procfs_mount(path)
    except OSError:
        return False
