# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""The one libc wrapper: nsfs ioctls, setns/unshare, pidfds, SIOCGSKNS, mount/umount,
sethostname, prctl and bringing up loopback.

Only the standard library is used: ``fcntl.ioctl`` for the ioctls, ``os`` where Python
has the call (3.12+: ``os.setns``/``os.unshare``), and libc through ctypes otherwise.
Every libc call goes through :func:`_check`, so a failure is an ``OSError`` naming the
call, with the errno the kernel gave.
"""


import errno
import fcntl
import os
import signal
import socket
import struct
import sys

# ioctls on an open namespace fd (magic 0xb7, _IO encoding).
NS_GET_USERNS = 0xb701
NS_GET_PARENT = 0xb702
NS_GET_NSTYPE = 0xb703
NS_GET_OWNER_UID = 0xb704
# ioctl on a socket fd: open its network namespace.
SIOCGSKNS = 0x894C

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

CLONE_FLAGS = {
    'cgroup': CLONE_NEWCGROUP,
    'ipc': CLONE_NEWIPC,
    'mnt': CLONE_NEWNS,
    'net': CLONE_NEWNET,
    'pid': CLONE_NEWPID,
    'time': CLONE_NEWTIME,
    'user': CLONE_NEWUSER,
    'uts': CLONE_NEWUTS,
}
TYPE_BY_CLONE_FLAG = dict((flag, name) for name, flag in CLONE_FLAGS.items())

# The generic syscall table numbers are the same on x86_64, arm64, ppc64le and s390x.
SYS_PIDFD_OPEN = 434
SYS_PIDFD_GETFD = 438

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = '16sh22x'  # struct ifreq: name, then the flags member of the 24-byte union

_libc = None


def libc():
    global _libc  # pylint: disable=global-statement
    if _libc is None:
        import ctypes  # imported on first use: ctypes(+util) cost ~3-13 ms of start-up
        import ctypes.util
        # The libc already linked into Python; find_library() runs ldconfig (slow).
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.setns  # pylint: disable=pointless-statement
        except (OSError, AttributeError):
            _libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
    return _libc


def _check(result, what=None):
    """libc's convention: -1 and errno on failure; the result otherwise."""
    if result == -1:
        import ctypes
        err = ctypes.get_errno()
        raise OSError(err, '%s: %s' % (what, os.strerror(err)) if what else os.strerror(err))
    return result


def _bytes(text):
    return None if text is None else text.encode('utf-8', 'surrogateescape')


def open_ns(path):
    """Open a namespace file (``/proc/PID/ns/TYPE``, an fd link or a bind mount)."""
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def ns_ident(fd):
    """(st_dev, st_ino) of an open namespace fd: the namespace's identity."""
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _ioctl_fd(fd, request):
    """Run an ioctl that returns a new fd; None when the kernel says there is none.

    EPERM: at the top of the hierarchy, or outside what we may see (the kernel does not
    tell which). EINVAL/ENOTTY: the namespace type has no hierarchy or the fd is no
    namespace (a fixture tree).
    """
    try:
        return fcntl.ioctl(fd, request)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EINVAL, errno.ENOTTY, errno.EACCES):
            return None
        raise


def get_parent(fd):
    """Open the parent of a pid or user namespace, or None."""
    return _ioctl_fd(fd, NS_GET_PARENT)


def get_userns(fd):
    """Open the user namespace owning a namespace (for a user ns: its parent), or None."""
    return _ioctl_fd(fd, NS_GET_USERNS)


def get_nstype(fd):
    """The type name of an open namespace fd, or None if it is not a namespace."""
    try:
        flag = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        return None
    return TYPE_BY_CLONE_FLAG.get(flag)


def get_owner_uid(fd):
    """The UID (in the caller's user namespace) that created a user namespace, or None."""
    try:
        buf = fcntl.ioctl(fd, NS_GET_OWNER_UID, b'\0' * 4)
    except OSError:
        return None
    return int.from_bytes(buf, sys.byteorder)  # an unsigned 32-bit uid_t


def socket_netns(sock_fd):
    """Open the network namespace of a socket fd (SIOCGSKNS), or None."""
    return _ioctl_fd(sock_fd, SIOCGSKNS)


def pidfd_open(pid):
    import ctypes
    return _check(libc().syscall(SYS_PIDFD_OPEN, ctypes.c_int(pid), ctypes.c_uint(0)))


def pidfd_getfd(pidfd, target_fd):
    """Duplicate another process's fd into ours (needs PTRACE_MODE_ATTACH_REALCREDS)."""
    import ctypes
    return _check(libc().syscall(SYS_PIDFD_GETFD, ctypes.c_int(pidfd), ctypes.c_int(target_fd), ctypes.c_uint(0)))


def setns(fd, nstype=None):
    """Join the namespace behind ``fd``; nstype ``None`` lets the kernel check nothing."""
    flag = CLONE_FLAGS[nstype] if nstype else 0
    if hasattr(os, 'setns'):
        os.setns(fd, flag)  # pylint: disable=no-member
        return
    import ctypes
    _check(libc().setns(ctypes.c_int(fd), ctypes.c_int(flag)))


def unshare(flags):
    """unshare(2) with a mask of CLONE_NEW* flags."""
    if hasattr(os, 'unshare'):
        os.unshare(flags)  # pylint: disable=no-member
        return
    import ctypes
    _check(libc().unshare(ctypes.c_int(flags)))


def mount(source, target, fstype, flags, data=None):
    import ctypes
    _check(libc().mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)),
           'mount %s' % target)


def umount_detach(target):
    """Lazy unmount; True when something was unmounted."""
    import ctypes
    try:
        _check(libc().umount2(_bytes(target), ctypes.c_int(MNT_DETACH)), 'umount %s' % target)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOENT):
            return False  # not a mount point (any more)
        raise
    return True


def bind_mount(source, target):
    mount(source, target, None, MS_BIND)


def make_private(target, recursive=False):
    mount(None, target, None, MS_PRIVATE | (MS_REC if recursive else 0))


def sethostname(name):
    import ctypes
    data = _bytes(name)
    _check(libc().sethostname(data, ctypes.c_size_t(len(data))), 'sethostname')


def set_parent_death_signal(signum=signal.SIGKILL):
    """prctl(PR_SET_PDEATHSIG): the kernel sends ``signum`` when our parent thread exits."""
    import ctypes
    _check(libc().prctl(ctypes.c_int(PR_SET_PDEATHSIG), ctypes.c_ulong(signum), ctypes.c_ulong(0),
                        ctypes.c_ulong(0), ctypes.c_ulong(0)), 'prctl(PR_SET_PDEATHSIG)')


def loopback_up():
    """``ip link set lo up`` through SIOCSIFFLAGS."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        request = struct.pack(_IFREQ, b'lo', 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack(_IFREQ, b'lo', flags | IFF_UP))
    finally:
        sock.close()


def clone_flags(types):
    mask = 0
    for name in types:
        mask |= CLONE_FLAGS[name]
    return mask


# rtnetlink: the id a network namespace has in ours (ip netns list-id, lsns NETNSID).
RTM_NEWNSID = 88
RTM_GETNSID = 90
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NETNSA_NSID = 1
NETNSA_FD = 3
_NLMSG_HEADER = struct.Struct('=IHHII')
_NLA_HEADER = struct.Struct('=HH')


def netns_id(fd):
    """The id (nsid) the network namespace open at ``fd`` has in the caller's network
    namespace, or None when it has none; OSError when the kernel refuses the request."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
    try:
        payload = struct.pack('=B3x', socket.AF_UNSPEC) + _NLA_HEADER.pack(8, NETNSA_FD) + struct.pack('=I', fd)
        sock.send(_NLMSG_HEADER.pack(_NLMSG_HEADER.size + len(payload), RTM_GETNSID, NLM_F_REQUEST, 1, 0) + payload)
        reply = sock.recv(65536)
    finally:
        sock.close()
    length, kind = _NLMSG_HEADER.unpack_from(reply)[:2]
    if kind == NLMSG_ERROR:
        error = struct.unpack_from('=i', reply, _NLMSG_HEADER.size)[0]
        raise OSError(-error, 'RTM_GETNSID: %s' % os.strerror(-error))
    if kind != RTM_NEWNSID:
        raise OSError(errno.EPROTO, 'RTM_GETNSID: unexpected reply type %d' % kind)
    offset = _NLMSG_HEADER.size + 4  # struct rtgenmsg, aligned
    while offset + _NLA_HEADER.size <= min(length, len(reply)):
        attr_len, attr_type = _NLA_HEADER.unpack_from(reply, offset)
        if attr_len < _NLA_HEADER.size:
            break
        if attr_type == NETNSA_NSID:
            nsid = struct.unpack_from('=i', reply, offset + _NLA_HEADER.size)[0]
            return None if nsid < 0 else nsid  # NETNSA_NSID_NOT_ASSIGNED is -1
        offset += (attr_len + 3) & ~3
    return None


def close_quietly(fd):
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
