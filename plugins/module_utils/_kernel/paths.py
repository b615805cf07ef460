# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Paths as a process inside another root directory sees them."""


import errno
import os


def resolve_in_root(root, path):
    """Host path of ``path`` as a process chrooted to ``root`` sees it: symlinks are
    followed as the kernel's path walk would inside the root (``..`` and absolute links
    stay in it, like openat2's RESOLVE_IN_ROOT). OSError ELOOP after 40 links."""
    root = root or '/'
    pending = [part for part in path.split('/') if part]
    resolved = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == '.':
            continue
        if part == '..':
            if resolved:
                resolved.pop()
            continue
        host = os.path.join(root, *(resolved + [part]))
        if os.path.islink(host):
            hops += 1
            if hops > 40:
                raise OSError(errno.ELOOP, 'too many symbolic links resolving %s inside %s' % (path, root))
            target = os.readlink(host)
            if target.startswith('/'):
                resolved = []
            pending = [p for p in target.split('/') if p] + pending
        else:
            resolved.append(part)
    return os.path.join(root, *resolved)
