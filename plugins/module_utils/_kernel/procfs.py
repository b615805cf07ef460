# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""One reader per /proc file, shared by every module of the collection.

Each ``parse_*`` function turns the text of one /proc file into plain data and raises
:class:`ProcParseError` on malformed text; each ``read_*`` function reads that file for
one process below a configurable proc root (``/proc``, a host's ``/host/proc`` or a
fixture tree) and lets :class:`OSError` through, so that callers can tell a process that
vanished mid-scan (normal) from one they may not read (counted) with :func:`classify`.
"""


import errno
import os
import re
import stat

# The namespace types the kernel knows.
NS_TYPES = ('cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts')

# Links in /proc/PID/ns that name the namespace a process's *future children* get; they
# can name namespaces nobody has joined yet.
FOR_CHILDREN_LINKS = {'pid_for_children': 'pid', 'time_for_children': 'time'}

NS_LINKS = NS_TYPES + tuple(sorted(FOR_CHILDREN_LINKS))

# Inodes are 64-bit: at most 20 digits (longer text would make int() itself fail).
# Patterns are compiled on first use (re caches them): compiling at import would cost
# every module run, and the hot paths do not need them.
_NS_REF_PATTERN = r'^(?P<type>[a-z_]+):\[(?P<inode>[0-9]{1,20})\]$'


class ProcParseError(ValueError):
    """The text of a /proc file does not have the expected shape."""


# Why a process or file could not be used; discovery counts these.
VANISHED = 'vanished'
DENIED = 'permission_denied'
MALFORMED = 'malformed'
OTHER = 'error'


def classify(exc):
    """Map an exception from a reader to one of VANISHED, DENIED, MALFORMED, OTHER."""
    if isinstance(exc, ProcParseError):
        return MALFORMED
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOENT, errno.ESRCH, errno.ENOTDIR):
            return VANISHED
        if exc.errno in (errno.EACCES, errno.EPERM):
            return DENIED
    return OTHER


def parse_ns_ref(text):
    """``'net:[4026531833]'`` -> ``('net', 4026531833)``.

    ``pid_for_children`` style type names are not accepted here: the kernel writes the
    plain type into the link text.
    """
    if not isinstance(text, str):
        raise ProcParseError('namespace reference must be text like "net:[4026531833]", got %r' % (text,))
    match = re.match(_NS_REF_PATTERN, text.strip())
    if not match:
        raise ProcParseError('malformed namespace reference %r: expected "TYPE:[INODE]" like "net:[4026531833]"' % (text,))
    nstype = match.group('type')
    if nstype not in NS_TYPES:
        raise ProcParseError('unknown namespace type %r in %r: expected one of %s' % (nstype, text, ', '.join(NS_TYPES)))
    inode = int(match.group('inode'))
    if inode == 0:
        raise ProcParseError('namespace reference %r has inode 0, which no namespace has' % (text,))
    return nstype, inode


def format_ns_ref(nstype, inode):
    return '%s:[%d]' % (nstype, inode)


class ProcRoot:
    """A proc filesystem (or a copy of one) at ``path``."""

    def __init__(self, path='/proc'):
        self.path = os.path.abspath(path).rstrip('/') or '/'
        self.prefix = self.path.rstrip('/') + '/'

    def pid_path(self, pid, *parts):
        if parts:
            return self.prefix + str(pid) + '/' + '/'.join(parts)
        return self.prefix + str(pid)

    def task_path(self, pid, tid, *parts):
        path = self.prefix + str(pid) + '/task/' + str(tid)
        return path + '/' + '/'.join(parts) if parts else path

    def read_text(self, *parts):
        return _read(os.path.join(self.path, *parts))

    def is_proc_tree(self):
        """True when the path looks like a proc tree: at least one PID dir with a stat file."""
        # Cheap checks first: listing a real /proc costs as much as the host has processes.
        for name in ('self', '1', '2'):
            if os.path.exists(os.path.join(self.path, name, 'stat')):
                return True
        try:
            for name in os.listdir(self.path):
                if _is_number(name) and os.path.exists(os.path.join(self.path, name, 'stat')):
                    return True
        except OSError:
            return False
        return False


def _is_number(name):
    # isdigit() alone accepts digits like '\u00b2' that int() refuses.
    return name.isascii() and name.isdigit()


# A file of a proc root that is not a procfs (a copy, a fixture) may be anything: it
# must be a regular file and is read up to this size (a cmdline linked to /dev/zero grew
# to 8 GB, a FIFO hung for ever). Refusals are ProcParseError: counted as malformed.
FOREIGN_FILE_MAX = 32 << 20
_PROCFS_DEVS = set()
_FOREIGN_DEVS = set()


def _open(path, dir_fd=None):
    """``(fd, limit)``: the file opened without blocking (O_NONBLOCK changes nothing for
    procfs files and keeps a FIFO from hanging), and how much of it may be read (None:
    no limit, it is a procfs file)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if info.st_dev in _PROCFS_DEVS:
            return fd, None
        if info.st_dev not in _FOREIGN_DEVS and _is_procfs_dev(info.st_dev):
            return fd, None
        if not stat.S_ISREG(info.st_mode):
            raise ProcParseError('%s is not a regular file (a proc root that is no procfs holds files only)' % path)
        if info.st_size > FOREIGN_FILE_MAX:
            raise ProcParseError('%s is larger than %d bytes' % (path, FOREIGN_FILE_MAX))
    except BaseException:
        os.close(fd)
        raise
    return fd, FOREIGN_FILE_MAX


def _is_procfs_dev(dev):
    """True when ``dev`` is the device of a procfs mounted here (remembered both ways)."""
    fd = os.open('/proc/self/mountinfo', os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(fd)
    for mount in parse_mountinfo(b''.join(chunks).decode('utf-8', 'surrogateescape'), errors=[]):
        if mount.fstype == 'proc':
            _PROCFS_DEVS.add(os.makedev(mount.major, mount.minor))
    if dev in _PROCFS_DEVS:
        return True
    _FOREIGN_DEVS.add(dev)
    return False


def _read_limited(fd, limit, path, first=b''):
    chunks = [first] if first else []
    size = len(first)
    while True:
        data = os.read(fd, 65536)
        if not data:
            break
        size += len(data)
        if limit is not None and size > limit:
            raise ProcParseError('%s is larger than %d bytes' % (path, limit))
        chunks.append(data)
    return b''.join(chunks)


def _read(path, dir_fd=None):
    """The whole file. The kernel hands tables out a page of whole records per read(),
    so a short read is no end of file: read until read() returns nothing."""
    # os.open/os.read: no io.BufferedReader per file (a third of the cost of a small /proc read)
    fd, limit = _open(path, dir_fd)
    try:
        data = _read_limited(fd, limit, path)
    finally:
        os.close(fd)
    return data.decode('utf-8', 'surrogateescape')


def _read_record(path, dir_fd=None):
    """A file the kernel writes in one go (single_open: stat, status), read in one
    read() when it fits the buffer: a shorter answer is the whole file."""
    fd, limit = _open(path, dir_fd)
    try:
        data = os.read(fd, 4096)
        if len(data) == 4096:
            data = _read_limited(fd, limit, path, data)
    finally:
        os.close(fd)
    return data.decode('utf-8', 'surrogateescape')


# ---------------------------------------------------------------------------- PIDs/TIDs

def list_pids(root):
    """All PIDs below the proc root, sorted."""
    names = os.listdir(root.path)
    try:
        # Fast path for a real /proc: its digit names are all ASCII.
        return sorted(map(int, filter(str.isdigit, names)))
    except ValueError:
        return sorted(int(name) for name in names if _is_number(name))


def list_tids(root, pid):
    """The thread IDs of a process (``/proc/PID/task``), sorted."""
    return sorted(int(name) for name in os.listdir(root.pid_path(pid, 'task')) if _is_number(name))


# ---------------------------------------------------------------------------- /proc/PID/stat

# stat field 9 (flags): set for kernel threads, which have no fds and no command line.
PF_KTHREAD = 0x00200000


class Stat:
    __slots__ = ('pid', 'comm', 'state', 'ppid', 'starttime', 'num_threads', 'kernel_thread')

    def __init__(self, pid, comm, state, ppid, starttime, num_threads=None, kernel_thread=False):
        self.pid = pid
        self.comm = comm
        self.state = state
        self.ppid = ppid
        self.starttime = starttime
        self.num_threads = num_threads
        self.kernel_thread = kernel_thread


def parse_stat(text):
    """Parse ``/proc/PID/stat``; ``comm`` may hold spaces and parentheses."""
    open_paren = text.find('(')
    close_paren = text.rfind(')')
    if open_paren < 1 or close_paren < open_paren:
        raise ProcParseError('stat: no "(comm)" field')
    # fields[0] is field 3 (state); starttime is field 22 -> index 19; the ~30 fields
    # after it stay unsplit.
    fields = text[close_paren + 2:].split(None, 20)
    if len(fields) < 20:
        raise ProcParseError('stat: truncated, %d fields after comm' % len(fields))
    try:
        stat = Stat(
            pid=int(text[:open_paren]),
            comm=text[open_paren + 1:close_paren],
            state=fields[0],
            ppid=int(fields[1]),
            starttime=int(fields[19]),
            num_threads=int(fields[17]),
            kernel_thread=bool(int(fields[6]) & PF_KTHREAD),
        )
    except ValueError:
        raise ProcParseError('stat: non-numeric pid, ppid, flags or starttime')
    if stat.pid < 1 or stat.ppid < 0 or stat.starttime < 0:
        raise ProcParseError('stat: negative pid, ppid or starttime')
    return stat


def read_stat(root, pid, tid=None):
    path = root.pid_path(pid, 'stat') if tid is None else root.task_path(pid, tid, 'stat')
    return parse_stat(_read_record(path))


def read_stat_at(proc_fd):
    """The stat of the process behind an open ``/proc/PID`` directory fd: that very
    process, even when its PID has been reused since the fd was opened."""
    return parse_stat(_read_record('stat', dir_fd=proc_fd))


def process_alive(proc_fd):
    """True while the process behind a ``/proc/PID`` directory fd exists and is no zombie."""
    try:
        return read_stat_at(proc_fd).state not in ('Z', 'X', 'x')
    except (OSError, ProcParseError):
        return False


# ---------------------------------------------------------------------------- /proc/PID/status

class Status:
    __slots__ = ('name', 'tgid', 'ppid', 'uids', 'gids', 'nspid', 'cap_eff', 'sig_cgt', 'state')

    def __init__(self):
        self.name = None
        self.tgid = None
        self.ppid = None
        self.uids = None
        self.gids = None
        self.nspid = None
        self.cap_eff = None
        self.sig_cgt = None     # mask of signals with a handler (bit N-1 for signal N)
        self.state = None


def _ints(key, value, minimum=0):
    try:
        numbers = [int(part) for part in value.split()]
    except ValueError:
        raise ProcParseError('status: non-numeric %s %r' % (key, value))
    if any(n < minimum for n in numbers):
        raise ProcParseError('status: %s below %d in %r' % (key, minimum, value))
    return numbers


def parse_status(text):
    """Parse the fields of ``/proc/PID/status`` the collection uses."""
    status = Status()
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        if not sep:
            continue
        value = value.strip()
        if key == 'Name':
            status.name = value
        elif key == 'State':
            status.state = value.split(' ', 1)[0]
        elif key == 'Tgid':
            status.tgid = _ints(key, value)[0] if value else None
        elif key == 'PPid':
            status.ppid = _ints(key, value)[0] if value else None
        elif key == 'Uid':
            status.uids = _ints(key, value)
        elif key == 'Gid':
            status.gids = _ints(key, value)
        elif key == 'NSpid':
            status.nspid = _ints(key, value, minimum=1)
        elif key in ('CapEff', 'SigCgt'):
            try:
                mask = int(value, 16)
            except ValueError:
                raise ProcParseError('status: %s is not hex: %r' % (key, value))
            if key == 'CapEff':
                status.cap_eff = mask
            else:
                status.sig_cgt = mask
    if status.name is None:
        raise ProcParseError('status: no Name field (truncated?)')
    if status.nspid is not None and not status.nspid:
        raise ProcParseError('status: empty NSpid')
    if status.uids is not None and len(status.uids) != 4:
        raise ProcParseError('status: Uid needs 4 fields, got %r' % (status.uids,))
    return status


def read_status(root, pid):
    return parse_status(_read_record(root.pid_path(pid, 'status')))


def read_real_uid(root, pid):
    """Only the real UID from ``/proc/PID/status`` (see :func:`parse_real_uid`)."""
    return parse_real_uid(_read_record(root.pid_path(pid, 'status')))


def read_owner_uid(root, pid, live):
    """The UID lsns shows for a process: the owner of ``/proc/PID`` on a live procfs (the
    effective UID, root for a process that is not dumpable); in a copied tree, where
    ownership means nothing, the effective UID from status."""
    if live:
        return os.stat(root.pid_path(pid)).st_uid
    return parse_real_uid(_read_record(root.pid_path(pid, 'status')), field=1)


def parse_real_uid(text, field=0):
    """Only the real UID (``field`` 1: the effective one) from status text: 25x faster
    than parse_status."""
    start = text.find('\nUid:')
    if start < 0:
        raise ProcParseError('status: no Uid field (truncated?)')
    end = text.find('\n', start + 5)
    fields = text[start + 5:end if end >= 0 else None].split()
    if len(fields) != 4 or not all(f.isdigit() for f in fields):
        raise ProcParseError('status: Uid needs 4 numeric fields, got %r' % (fields,))
    return int(fields[field])


# ---------------------------------------------------------------------------- /proc/PID/cmdline

def parse_cmdline(data):
    """NUL-separated argv; a trailing NUL is normal, an empty cmdline means a kernel thread."""
    if isinstance(data, bytes):
        data = data.decode('utf-8', 'surrogateescape')
    if not data:
        return []
    if data.endswith('\0'):
        data = data[:-1]
    return data.split('\0')


def read_cmdline(root, pid):
    return parse_cmdline(read_cmdline_text(root, pid))


def read_cmdline_text(root, pid):
    """The raw NUL-separated command line (one string to keep instead of a list of
    them; :func:`parse_cmdline` splits it)."""
    return _read(root.pid_path(pid, 'cmdline'))


# ---------------------------------------------------------------------------- /proc/PID/cgroup

class CgroupEntry:
    __slots__ = ('hierarchy_id', 'controllers', 'path')

    def __init__(self, hierarchy_id, controllers, path):
        self.hierarchy_id = hierarchy_id
        self.controllers = controllers
        self.path = path

    def __repr__(self):
        return 'CgroupEntry(%d, %r, %r)' % (self.hierarchy_id, self.controllers, self.path)


def parse_cgroup(text):
    """``hierarchy-ID:controller-list:cgroup-path`` lines; ID 0 with no controllers is v2."""
    entries = []
    for line in text.splitlines():
        if not line:
            continue
        parts = line.split(':', 2)
        if len(parts) != 3:
            raise ProcParseError('cgroup: malformed line %r' % line)
        try:
            hierarchy_id = int(parts[0])
        except ValueError:
            raise ProcParseError('cgroup: non-numeric hierarchy ID in %r' % line)
        if not parts[2].startswith('/'):
            raise ProcParseError('cgroup: path is not absolute in %r' % line)
        controllers = [c for c in parts[1].split(',') if c]
        entries.append(CgroupEntry(hierarchy_id, controllers, parts[2]))
    return entries


def read_cgroup(root, pid):
    return parse_cgroup(_read_record(root.pid_path(pid, 'cgroup')))


def unified_cgroup_path(entries):
    """The v2 path (``0::/path``) of a parsed cgroup file, or None on a pure v1 host."""
    for entry in entries:
        if entry.hierarchy_id == 0 and not entry.controllers:
            return entry.path
    return None


# ---------------------------------------------------------------------------- mountinfo

_OCTAL_ESCAPE_PATTERN = r'\\([0-7]{3})'


def unescape_mount_path(text):
    """mountinfo escapes space, tab, newline and backslash as ``\\ooo``."""
    if '\\' not in text:
        return text
    return re.sub(_OCTAL_ESCAPE_PATTERN, lambda m: chr(int(m.group(1), 8)), text)


class MountInfo:
    __slots__ = ('mount_id', 'parent_id', 'major', 'minor', 'root', 'mount_point',
                 'options', 'optional', 'fstype', 'source', 'super_options')

    def __init__(self, mount_id, parent_id, major, minor, root, mount_point, options,
                 optional, fstype, source, super_options):
        self.mount_id = mount_id
        self.parent_id = parent_id
        self.major = major
        self.minor = minor
        self.root = root
        self.mount_point = mount_point
        self.options = options
        self.optional = optional
        self.fstype = fstype
        self.source = source
        self.super_options = super_options

    @property
    def dev(self):
        return os.makedev(self.major, self.minor)

    @property
    def propagation(self):
        """The optional fields as a dict: see :func:`parse_propagation`."""
        return parse_propagation(self.optional)


def parse_propagation(optional):
    """mountinfo's optional fields (``shared:N``, ``master:N``, ``propagate_from:N``,
    ``unbindable``) as ``{'mode', 'shared', 'master', 'propagate_from', 'unbindable', 'other'}``.

    ``mode`` is findmnt's PROPAGATION text: ``shared`` or ``private``, then ``,slave``
    when the mount receives from a master, then ``,unbindable``. Fields this parser does
    not know are kept in ``other`` (the kernel may add tags).
    """
    shared = master = propagate_from = None
    unbindable = False
    other = []
    for field in optional:
        tag, _sep, value = field.partition(':')
        number = int(value) if value.isascii() and value.isdigit() else None
        if tag == 'shared' and number is not None:
            shared = number
        elif tag == 'master' and number is not None:
            master = number
        elif tag == 'propagate_from' and number is not None:
            propagate_from = number
        elif field == 'unbindable':
            unbindable = True
        else:
            other.append(field)
    mode = ('shared' if shared is not None else 'private') + (',slave' if master is not None else '') + (
        ',unbindable' if unbindable else '')
    return {'mode': mode, 'shared': shared, 'master': master, 'propagate_from': propagate_from,
            'unbindable': unbindable, 'other': other}


def parse_mountinfo_line(line):
    fields = line.split(' ')
    try:
        sep = fields.index('-', 6)
    except ValueError:
        raise ProcParseError('mountinfo: no "-" separator in %r' % line[:200])
    if sep < 6 or len(fields) < sep + 3 or '' in fields[:sep + 3]:
        raise ProcParseError('mountinfo: too few or empty fields in %r' % line[:200])
    try:
        mount_id = int(fields[0])
        parent_id = int(fields[1])
        major, minor = (int(x) for x in fields[2].split(':'))
    except ValueError:
        raise ProcParseError('mountinfo: bad ids or major:minor in %r' % line[:200])
    return MountInfo(
        mount_id=mount_id,
        parent_id=parent_id,
        major=major,
        minor=minor,
        root=unescape_mount_path(fields[3]),
        mount_point=unescape_mount_path(fields[4]),
        options=fields[5].split(','),
        optional=fields[6:sep],
        fstype=fields[sep + 1],
        source=unescape_mount_path(fields[sep + 2]),
        super_options=fields[sep + 3].split(',') if len(fields) > sep + 3 else [],
    )


def parse_mountinfo(text, errors=None):
    """Parse mountinfo; malformed lines are skipped and appended to ``errors`` if given."""
    mounts = []
    for line in text.splitlines():
        if not line:
            continue
        try:
            mounts.append(parse_mountinfo_line(line))
        except ProcParseError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
    return mounts


def read_mountinfo(root, pid, errors=None):
    return parse_mountinfo(_read(root.pid_path(pid, 'mountinfo')), errors)


def read_self_mountinfo_at(proc_fd):
    """The text of ``self/mountinfo`` below the proc directory open at ``proc_fd``: the
    mount table of the caller's mount namespace *now*, even after a setns into a mount
    namespace that has no procfs of its own (the fd was opened before)."""
    return _read('self/mountinfo', dir_fd=proc_fd)


# ---------------------------------------------------------------------------- /proc/PID/ns

def read_ns_links(root, pid, tid=None, names=NS_LINKS, known=None):
    """``{link name: inode}`` of a process's (or task's) namespace links.

    readlink is used instead of stat: it is about twice as fast and all namespaces live
    on the one nsfs instance, so the device is the same for all (see :func:`nsfs_dev`).

    A link that reads ENOENT while the process is still there is left out, as lsns does:
    a zombie keeps only its pid and user namespaces, ``pid_for_children`` reads ENOENT
    until the namespace's first process exists, and old kernels lack some types. Any
    other error (permission denied) fails the whole call: the process is skipped.

    ``known``, a dict the caller keeps across calls (``names`` must then be a tuple),
    remembers the texts already checked, per link name so that a text is only ever
    accepted for the type it was checked for: a scan sees the same few hundred texts
    thousands of times.
    """
    base = (root.prefix + str(pid) + '/ns/') if tid is None else (root.task_path(pid, tid, 'ns') + '/')
    links = {}
    readlink = os.readlink
    checks = known.get(names) if known is not None else None
    if checks is None:
        checks = [(name, {}) for name in names]  # (link name, {text: inode})
        if known is not None:
            known[names] = checks
    for name, checked in checks:
        try:
            text = readlink(base + name)
        except OSError as exc:
            if exc.errno == errno.ENOENT and os.path.isdir(base):
                continue
            raise
        inode = checked.get(text)
        if inode is None:
            inode = checked[text] = _link_inode(name, text)
        links[name] = inode
    if not links and names:
        raise OSError(errno.ENOENT, 'no namespace link of %s could be read (it exited)' % base)
    return links


def _link_inode(name, text):
    """The inode in the text of link ``name``; ProcParseError unless it is 'TYPE:[INODE]'
    of the link's own type."""
    # Fast path: 'TYPE:[INODE]' with the expected type; anything else gets the careful
    # parser and its precise error.
    head = _LINK_HEADS[name]
    if text.startswith(head) and text[-1:] == ']':
        inode = text[len(head):-1]
        if 0 < len(inode) <= 20 and inode.isdigit() and inode.isascii() and inode.strip('0'):
            return int(inode)
    nstype, inode = parse_ns_ref(text)
    expected = FOR_CHILDREN_LINKS.get(name, name)
    if nstype != expected:
        raise ProcParseError('ns/%s names a %s namespace' % (name, nstype))
    return inode


_LINK_HEADS = dict((name, FOR_CHILDREN_LINKS.get(name, name) + ':[') for name in NS_LINKS)


# Up to this many open fds, read_fd_links tries fds 0..N-1 before listing the directory.
_DENSE_FDS = 64


def read_fd_links(root, pid, prefixes=None):
    """``{fd number: link text}`` for a process's open files (only the links that start
    with one of ``prefixes`` when given)."""
    base = root.prefix + str(pid) + '/fd/'
    readlink = os.readlink
    # Since Linux 6.2 the size of /proc/PID/fd is the number of open fds, and most
    # processes hold exactly 0..N-1: one stat and N readlinks then replace listing the
    # directory (5 system calls). Any gap, an older kernel (size 0) or a copied tree
    # falls back to the listing.
    count = os.stat(base).st_size
    if 0 < count <= _DENSE_FDS:
        links = {}
        try:
            for number in range(count):
                text = readlink(base + str(number))
                if prefixes is None or text.startswith(prefixes):
                    links[number] = text
            return links
        except OSError:
            pass  # a gap in the numbers (or the process is gone: the listing says which)
    links = {}
    for name in os.listdir(base):
        try:
            text = readlink(base + name)
            if prefixes is None or text.startswith(prefixes):
                links[int(name)] = text
        except (OSError, ValueError):
            continue  # closed between listdir and readlink
    return links


def read_net_table(root, pid, name):
    """``/proc/PID/net/NAME`` (a table of the process's network namespace); '' for a
    table this kernel lacks (no tcp6 with ipv6.disable=1). OSError when the process is
    gone or not readable."""
    try:
        return _read(root.pid_path(pid, 'net', name))
    except OSError as exc:
        if exc.errno == errno.ENOENT and os.path.isdir(root.pid_path(pid, 'net')):
            return ''
        raise


def read_ns_inode(root, pid, nstype):
    """The inode of one namespace of a process, from its ``ns/TYPE`` link."""
    nstype_read, inode = parse_ns_ref(os.readlink(root.pid_path(pid, 'ns', nstype)))
    if nstype_read != nstype:
        raise ProcParseError('ns/%s names a %s namespace' % (nstype, nstype_read))
    return inode


def read_members(root, nstype, inodes):
    """``({inode: [PID]}, unreadable)``: the processes in each of the namespaces ``inodes``
    of type ``nstype``, one ``ns/TYPE`` link per process, and how many processes could not
    be read (those that exited meanwhile are not counted)."""
    members = dict((inode, []) for inode in inodes)
    # The link text is compared as it is: any other text, well formed or not, is no member.
    wanted = dict((format_ns_ref(nstype, inode), members[inode]) for inode in members)
    unreadable = 0
    readlink = os.readlink
    suffix = '/ns/' + nstype
    prefix = root.prefix
    for pid in list_pids(root):
        try:
            found = wanted.get(readlink(prefix + str(pid) + suffix))
        except OSError as exc:
            if classify(exc) != VANISHED:
                unreadable += 1
            continue
        if found is not None:
            found.append(pid)
    return members, unreadable


def own_namespaces():
    """type -> (dev, inode) of the module's own namespaces (always the real /proc)."""
    own = {}
    for nstype in NS_TYPES:
        try:
            st = os.stat('/proc/self/ns/' + nstype)
        except OSError:
            continue
        own[nstype] = (st.st_dev, st.st_ino)
    return own


def nsfs_dev():
    """st_dev of nsfs, from the module's own namespace links (None without /proc)."""
    for dev, dummy in own_namespaces().values():
        return dev
    return None


def is_procfs_mount(path):
    """True when ``path`` is where a procfs is mounted in the module's mount namespace."""
    real = os.path.realpath(path)
    return any(m.mount_point == real and m.fstype == 'proc' for m in read_mountinfo(ProcRoot(), 'self', errors=[]))


# ---------------------------------------------------------------------------- misc

def write_proc_file(pid, name, text):
    """Write ``/proc/PID/NAME`` (uid_map, gid_map, setgroups, timens_offsets) in one
    write(): the kernel takes these files whole and refuses a second write."""
    data = text.encode('utf-8')
    fd = os.open('/proc/%s/%s' % (pid, name), os.O_WRONLY | os.O_CLOEXEC)
    try:
        if os.write(fd, data) != len(data):
            raise OSError(errno.EIO, 'short write to /proc/%s/%s' % (pid, name))
    finally:
        os.close(fd)


def is_mount_point(path):
    """True when ``path`` (symlinks resolved) is a mount point in the module's own mount
    namespace, by its mountinfo: a bind mount of a file counts, unlike os.path.ismount
    on the same file system."""
    real = os.path.realpath(path)
    return any(mount.mount_point == real for mount in read_mountinfo(ProcRoot(), 'self', errors=[]))


def read_boot_id(root):
    return _read(os.path.join(root.path, 'sys/kernel/random/boot_id')).strip()


def own_cap_eff():
    """Effective capability mask of this process (always the real /proc/self)."""
    try:
        return parse_status(_read_record('/proc/self/status')).cap_eff or 0
    except (OSError, ProcParseError):
        return 0


def initial_reference_pid(root):
    """kthreadd's PID when it is readable: its namespaces are the initial (host) ones.

    Kernel threads never leave the initial namespaces, and kthreadd is PID 2 of the
    initial PID namespace. None when it is not visible (a proc root of a child PID
    namespace) or not readable: then no process proves what "initial" is, and PID 1
    in particular proves nothing inside a container. Discovery then falls back to the
    oldest readable process and says so.
    """
    try:
        if read_stat(root, 2).comm != 'kthreadd':
            return None
        os.readlink(root.pid_path(2, 'ns', 'net'))
    except (OSError, ProcParseError):
        return None
    return 2
