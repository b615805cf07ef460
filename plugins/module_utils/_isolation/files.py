# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Files root creates for isolated_process: directories and the log file.

Root works in paths that others may be able to write to (a log below /tmp, a state
directory a user prepared), so:

* directories are created one component at a time relative to the fd of their parent,
  with exactly the requested mode (the caller's umask does not apply: under umask 000
  ``os.makedirs`` left the parents 0777);
* no component is followed through a symlink unless root owns the symlink (a user
  cannot make one root owns, and ``/var/run -> /run`` stays usable);
* the log file is opened without blocking (a FIFO at the log path would hang the
  module while it holds the per-name lock) and must be a regular file (``/dev/full``
  or a FIFO is refused), never through a symlink.
"""


import errno
import os
import stat


class UnsafePath(OSError):
    """A path that root must not use; ``strerror`` names the fix."""

    def __init__(self, path, why):
        super(UnsafePath, self).__init__(errno.EPERM, why, path)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _open_component(parent_fd, part, path):
    """The fd of directory ``part`` below ``parent_fd``; None when it does not exist."""
    try:
        return os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
    info = os.stat(part, dir_fd=parent_fd, follow_symlinks=False)
    if not stat.S_ISLNK(info.st_mode):
        raise UnsafePath(path, '%s is not a directory' % path)
    if info.st_uid != os.geteuid():
        raise UnsafePath(path, 'a component of %s is a symlink owned by uid %d: root does not follow it; use the '
                               'real path' % (path, info.st_uid))
    return os.open(part, _DIR_FLAGS, dir_fd=parent_fd)


def open_dirs(path, mode):
    """Open directory ``path``, creating missing components with ``mode`` exactly.

    Returns ``(fd, created)``: an O_DIRECTORY fd of ``path`` (the caller closes it) and
    the directories created, top first.
    """
    if not os.path.isabs(path):
        raise UnsafePath(path, '%s is not an absolute path' % path)
    created = []
    fd = os.open('/', _DIR_FLAGS)
    current = ''
    try:
        for part in [p for p in os.path.normpath(path).split('/') if p]:
            current += '/' + part
            next_fd = _open_component(fd, part, current)
            if next_fd is None:
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                    created.append(current)
                except FileExistsError:
                    pass  # made meanwhile by someone else: opened (and checked) below
                next_fd = _open_component(fd, part, current)
                if next_fd is None:
                    raise UnsafePath(current, '%s vanished while it was created' % current)
                if created and created[-1] == current:
                    os.fchmod(next_fd, mode)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd, created


def make_dirs(path, mode):
    """Create ``path`` and its missing parents with ``mode`` exactly; returns the created ones."""
    fd, created = open_dirs(path, mode)
    os.close(fd)
    return created


def check_log_target(path):
    """Refuse an existing log path that is not a regular file (FIFO, device, symlink)."""
    try:
        info = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePath(path, '%s exists and is not a regular file: remove it or choose another log_path' % path)


def open_log(path, dir_mode=0o750, mode=0o640):
    """Open the log for appending: parents created with ``dir_mode``, a new file with
    ``mode``; UnsafePath unless it is a regular file reached without untrusted symlinks."""
    parent, name = os.path.split(os.path.normpath(path))
    dir_fd, dummy = open_dirs(parent, dir_mode)
    try:
        flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(name, flags | os.O_CREAT | os.O_EXCL, mode, dir_fd=dir_fd)
            os.fchmod(fd, mode)
        except FileExistsError:
            try:
                fd = os.open(name, flags, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                    raise UnsafePath(path, '%s is not a regular file (a symlink, FIFO or directory): remove it or '
                                           'choose another log_path' % path)
                raise
    finally:
        os.close(dir_fd)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UnsafePath(path, '%s is not a regular file: remove it or choose another log_path' % path)
    os.set_blocking(fd, True)
    return fd


def read_small_file(path, limit):
    """The bytes of a regular file of at most ``limit`` bytes, opened without following a
    symlink or blocking; None when it does not exist, UnsafePath when it is not such a file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise UnsafePath(path, '%s is not a regular file' % path)
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePath(path, '%s is not a regular file' % path)
        if info.st_size > limit:
            raise UnsafePath(path, '%s is larger than %d bytes' % (path, limit))
        chunks = []
        size = 0
        while size <= limit:
            data = os.read(fd, limit + 1 - size)
            if not data:
                break
            chunks.append(data)
            size += len(data)
        if size > limit:
            raise UnsafePath(path, '%s is larger than %d bytes' % (path, limit))
        return b''.join(chunks)
    finally:
        os.close(fd)
