# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: doc fragments of this collection are not part of its public API.


class ModuleDocFragment:

    # proc_root, and the action group of the modules that share it
    # (meta/runtime.yml: group/nsops.namespaces.proc).
    DOCUMENTATION = r'''
options:
  proc_root:
    description:
      - Where the proc filesystem to read is mounted.
      - Use V(/host/proc) or similar when the module runs in a privileged container that
        has the host's /proc mounted elsewhere, or a directory holding a copy of a proc
        tree (the kernel ioctls are then skipped and only link texts are used).
      - The path must hold one C(<PID>/stat) file per process; anything else is refused
        with a message naming the path.
    type: path
    default: /proc
attributes:
  action_group:
    description: Use C(group/nsops.namespaces.proc) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - nsops.namespaces.proc
'''
