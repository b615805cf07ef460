# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The layering rule: only plugins/module_utils/_kernel/ reads /proc, calls libc or forks.

Fails (exit 1) listing every line outside _kernel/ in plugins/module_utils and
plugins/modules that calls os.readlink or os.fork, opens a path under /proc, or uses
ctypes/libc. Run by `tests/run lint`.
"""


import os
import re
import sys

FORBIDDEN = re.compile(r'''os\.readlink\(|os\.fork\(|os\.forkpty\(|\bctypes\b|\bCDLL\b|\blibc\(\)|'''
                       r'''open\(\s*[rbuf]*['"]/proc\b|os\.open\(\s*[rbuf]*['"]/proc\b''')
SCANNED = ('plugins/module_utils', 'plugins/modules')
KERNEL = 'plugins/module_utils/_kernel/'


def leaks(repo):
    found = []
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(repo, top)):
            dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
            for name in sorted(filenames):
                if not name.endswith('.py'):
                    continue
                path = os.path.join(dirpath, name)
                relative = os.path.relpath(path, repo)
                if relative.startswith(KERNEL):
                    continue
                with open(path, encoding='utf-8') as handle:
                    for number, line in enumerate(handle, 1):
                        code = line.split('#', 1)[0]
                        if FORBIDDEN.search(code):
                            found.append('%s:%d: %s' % (relative, number, line.strip()))
    return found


def main():
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
    found = leaks(repo)
    for line in found:
        print(line)
    if found:
        print('layering: %d kernel call(s) outside %s: move them into the kernel layer' % (len(found), KERNEL))
        return 1
    print('layering: only %s reads /proc, calls libc or forks' % KERNEL)
    return 0


if __name__ == '__main__':
    sys.exit(main())
