# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""Sockets per network namespace: the engine of socket_info.

1. ``discover()`` lists the network namespaces of every process and nsfs bind mount;
2. every process's ``/proc/PID/fd`` is read once: each ``socket:[INODE]`` link names an
   owner, each ``net:[INODE]`` link a namespace held by an fd. A socket inode is global,
   and the owner may live in another network namespace (a socket created before a
   setns, or passed over a unix socket), so all processes are read, not only the
   members of the namespace;

   a query scoped to some namespaces (``pid``, a container) instead reads one ns/net
   link per process to find their members, and only the members' fds; the fds of the
   other processes are read only while a socket of the tables still has no owner;
3. for each namespace, the socket tables ``/proc/PID/net/{tcp,tcp6,udp,udp6,unix}`` are
   read through ONE process in it (the kernel shows the tables of that process's
   network namespace), or, for a namespace no process is in, by a forked child that
   entered it through a bind mount or a held fd (the module itself never switches);
4. containers come from the container locator, which names the container owning each
   network namespace (the one holding its oldest leader process).

The parsers raise :class:`ProcParseError` for one bad line; the table readers skip and
count such lines. Processes that exit on the way are normal and never fatal.
"""


import json
import os
import re
import socket
import sys
import time

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.locator import ContainerLocator, locate_selected
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import (
    ContainerError,
    ContainerLookupError,
    Selector,
    SelectorError,
    check_pid,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import expand_facts
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.root import DiscoveryError, check_root
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.syscalls import close_quietly, get_nstype, open_ns
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    VANISHED,
    ProcParseError,
    ProcRoot,
    classify,
    format_ns_ref,
    list_pids,
    parse_ns_ref,
    read_fd_links,
    read_members,
    read_mountinfo,
    read_net_table,
    read_ns_inode,
    read_status,
)

# include/net/tcp_states.h. TCP_CLOSE is "unconnected", as ss(8) shows it (UNCONN):
# UDP uses the same numbers, and an unconnected UDP socket is what a UDP server is.
TCP_STATES = {
    0x01: 'established',
    0x02: 'syn_sent',
    0x03: 'syn_recv',
    0x04: 'fin_wait1',
    0x05: 'fin_wait2',
    0x06: 'time_wait',
    0x07: 'unconnected',
    0x08: 'close_wait',
    0x09: 'last_ack',
    0x0A: 'listen',
    0x0B: 'closing',
    0x0C: 'new_syn_recv',
    0x0D: 'bound_inactive',
}
STATES = tuple(TCP_STATES[code] for code in sorted(TCP_STATES))

# Unix sockets: socket_state (SS_*) mapped the way ss(8) maps it; __SO_ACCEPTCON marks a
# listening socket.
UNIX_STATES = {1: 'unconnected', 2: 'syn_sent', 3: 'established', 4: 'closing'}
UNIX_TYPES = {1: 'stream', 2: 'dgram', 5: 'seqpacket'}
SO_ACCEPTCON = 1 << 16

PROTOCOLS = ('tcp', 'udp', 'unix')
# /proc/PID/net file -> (protocol, family)
TABLES = {
    'tcp': ('tcp', 'ipv4'),
    'tcp6': ('tcp', 'ipv6'),
    'udp': ('udp', 'ipv4'),
    'udp6': ('udp', 'ipv6'),
    'unix': ('unix', 'unix'),
}

_HEX8 = re.compile(r'^[0-9A-Fa-f]{8}$')
_HEX32 = re.compile(r'^[0-9A-Fa-f]{32}$')
_HEX4 = re.compile(r'^[0-9A-Fa-f]{4}$')
_HEX2 = re.compile(r'^[0-9A-Fa-f]{2}$')
_QUEUES = re.compile(r'^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8})$')
# "%pK: %08X %08X %08X %04X %02X %5lu" then " path" when bound.
_UNIX_LINE = re.compile(
    r'^\s*[0-9A-Fa-f]+:\s+([0-9A-Fa-f]{8})\s+([0-9A-Fa-f]{8})\s+([0-9A-Fa-f]{8})\s+'
    r'([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})\s+([0-9]+)(?: (.*))?$')


class Socket:
    """One row of a socket table."""

    __slots__ = ('protocol', 'family', 'state', 'listening', 'local_address', 'local_port',
                 'remote_address', 'remote_port', 'path', 'type', 'inode', 'uid', 'rx_queue', 'tx_queue')

    def __init__(self, protocol, family, state, inode, listening=False, local_address=None, local_port=None,
                 remote_address=None, remote_port=None, path=None, sock_type=None, uid=None,
                 rx_queue=None, tx_queue=None):
        self.protocol = protocol
        self.family = family
        self.state = state
        self.listening = listening
        self.local_address = local_address
        self.local_port = local_port
        self.remote_address = remote_address
        self.remote_port = remote_port
        self.path = path
        self.type = sock_type
        self.inode = inode
        self.uid = uid
        self.rx_queue = rx_queue
        self.tx_queue = tx_queue

    def to_dict(self):
        return dict((name, getattr(self, name)) for name in self.__slots__)


# ---------------------------------------------------------------------------- parsers

def decode_address(text, byteorder=sys.byteorder):
    """``'0100007F:1F90'`` -> ``('127.0.0.1', 8080)``; IPv6 when the address has 32 digits.

    The kernel prints the address as native-endian 32-bit words (``%08X`` of a __be32),
    so each word's bytes come back with the host's byte order; the port is already in
    host order.
    """
    address, sep, port = text.partition(':')
    if not sep or not _HEX4.match(port):
        raise ProcParseError('socket address %r: expected HEXADDR:HEXPORT' % (text,))
    if _HEX8.match(address):
        raw = int(address, 16).to_bytes(4, byteorder)
        return socket.inet_ntop(socket.AF_INET, raw), int(port, 16)
    if _HEX32.match(address):
        raw = b''.join(int(address[i:i + 8], 16).to_bytes(4, byteorder) for i in range(0, 32, 8))
        return socket.inet_ntop(socket.AF_INET6, raw), int(port, 16)
    raise ProcParseError('socket address %r: expected 8 (IPv4) or 32 (IPv6) hex digits' % (text,))


def parse_inet_line(line, protocol, family, byteorder=sys.byteorder):
    """One line of /proc/net/{tcp,tcp6,udp,udp6} -> :class:`Socket`."""
    fields = line.split()
    # sl local remote st tx:rx tr:when retrnsmt uid timeout inode ...
    if len(fields) < 10 or not fields[0].endswith(':'):
        raise ProcParseError('%s: expected at least 10 fields in %r' % (protocol, line[:200]))
    local_address, local_port = decode_address(fields[1], byteorder)
    remote_address, remote_port = decode_address(fields[2], byteorder)
    want = 'ipv6' if ':' in local_address else 'ipv4'
    if want != family:
        raise ProcParseError('%s: %s address in a %s table: %r' % (protocol, want, family, line[:200]))
    if not _HEX2.match(fields[3]):
        raise ProcParseError('%s: state %r is not two hex digits' % (protocol, fields[3]))
    code = int(fields[3], 16)
    queues = _QUEUES.match(fields[4])
    if not queues:
        raise ProcParseError('%s: queues %r are not TX:RX in hex' % (protocol, fields[4]))
    if not fields[7].isdigit() or not fields[9].isdigit():
        raise ProcParseError('%s: uid %r or inode %r is not a number' % (protocol, fields[7], fields[9]))
    state = TCP_STATES.get(code, 'unknown')
    if protocol == 'tcp':
        listening = state == 'listen'
    else:
        # What ss -l lists for UDP: bound and not connected.
        listening = state == 'unconnected' and local_port != 0
    return Socket(
        protocol, family, state, int(fields[9]),
        listening=listening,
        local_address=local_address, local_port=local_port,
        remote_address=remote_address, remote_port=remote_port,
        uid=int(fields[7]),
        tx_queue=int(queues.group(1), 16), rx_queue=int(queues.group(2), 16),
    )


def parse_unix_line(line):
    """One line of /proc/net/unix -> :class:`Socket` (abstract names start with ``@``)."""
    match = _UNIX_LINE.match(line)
    if not match:
        raise ProcParseError('unix: malformed line %r' % line[:200])
    flags = int(match.group(3), 16)
    sock_type = UNIX_TYPES.get(int(match.group(4), 16), 'unknown')
    if flags & SO_ACCEPTCON:
        state = 'listen'
    else:
        state = UNIX_STATES.get(int(match.group(5), 16), 'unknown')
    path = match.group(7)
    return Socket('unix', 'unix', state, int(match.group(6)), listening=state == 'listen',
                  path=path if path else None, sock_type=sock_type)


def _is_header(line):
    stripped = line.lstrip()
    return stripped.startswith('sl ') or stripped.startswith('Num ')


def parse_table(name, text, errors=None, byteorder=sys.byteorder):
    """All sockets of one /proc/net table (``name`` as in :data:`TABLES`).

    Malformed lines are skipped and their messages appended to ``errors`` when given;
    without ``errors`` the first one raises :class:`ProcParseError`.
    """
    protocol, family = TABLES[name]
    sockets = []
    for number, line in enumerate(text.splitlines()):
        if not line.strip() or (number == 0 and _is_header(line)):
            continue
        try:
            if protocol == 'unix':
                sockets.append(parse_unix_line(line))
            else:
                sockets.append(parse_inet_line(line, protocol, family, byteorder))
        except ProcParseError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
    return sockets


def tables_for(protocols):
    """The /proc/net file names holding ``protocols``."""
    return [name for name in sorted(TABLES) if TABLES[name][0] in protocols]


# ---------------------------------------------------------------------------- readers

def parse_sockstat(text):
    """``/proc/net/sockstat`` or ``sockstat6`` -> ``{'TCP': {'inuse': 1, 'tw': 0, ...}, ...}``."""
    counters = {}
    for line in text.splitlines():
        protocol, sep, rest = line.partition(':')
        words = rest.split()
        if not sep or len(words) % 2:
            raise ProcParseError('sockstat: malformed line %r' % line[:200])
        values = {}
        for key, value in zip(words[::2], words[1::2]):
            if not value.isdigit():
                raise ProcParseError('sockstat: %s %s is not a number' % (protocol, key))
            values[key] = int(value)
        counters[protocol.strip()] = values
    return counters


def empty_tcp_tables(counters):
    """The TCP tables the per-namespace counters prove empty.

    Reading /proc/net/tcp walks the kernel's whole established hash, shared by every
    namespace (milliseconds on a large host), even for a namespace without a single TCP
    socket; the ``inuse`` (hashed sockets) and ``tw`` (TIME_WAIT) counters are cheap.
    When a counter is missing or global (old kernels) the table is read anyway.
    """
    empty = set()
    tcp = counters.get('TCP') or {}
    tw = tcp.get('tw')
    if tw != 0:
        return empty
    if tcp.get('inuse') == 0:
        empty.add('tcp')
    if (counters.get('TCP6') or {}).get('inuse') == 0:
        empty.add('tcp6')
    return empty


def read_net_tables(root, pid, names):
    """``{name: text}`` of ``/proc/PID/net/NAME``.

    A TCP table the namespace's sockstat counters prove empty is '' without being read;
    so is a table the kernel lacks (no IPv6). Lets OSError through when the process is
    gone or not readable.
    """
    skip = set()
    if 'tcp' in names or 'tcp6' in names:
        try:
            counters = parse_sockstat(read_net_table(root, pid, 'sockstat'))
            counters.update(parse_sockstat(read_net_table(root, pid, 'sockstat6')))
            skip = empty_tcp_tables(counters)
        except ProcParseError:
            skip = set()
    return dict((name, '' if name in skip else read_net_table(root, pid, name)) for name in names)


def _read_own_tables(names):
    """In a child that entered a network namespace: its tables, as JSON bytes."""
    own = ProcRoot('/proc')
    return json.dumps(read_net_tables(own, 'self', names)).encode('utf-8')


class FdScan:
    """What the pass over every process's ``/proc/PID/fd`` tells socket_info."""

    def __init__(self):
        self.sockets = {}        # socket inode -> [(pid, fd)]
        self.netns_fds = {}      # net inode -> [(pid, fd)] of fds holding a network namespace
        self.unreadable = 0      # processes whose fds could not be read (exited ones not counted)

    @classmethod
    def from_links(cls, fd_refs, unreadable=0):
        """Socket owners (``socket:[INODE]`` links) and netns held by fds (``net:[INODE]``)
        from ``[(pid, [(fd, link text)])]``.

        A socket inode is global: its owners may live in any network namespace, so the
        links of every process are needed; discovery's own pass reads them.
        """
        scan = cls()
        scan.unreadable = unreadable
        for pid, links in fd_refs:
            for fd, text in links:
                if text.startswith('socket:[') and text.endswith(']'):
                    try:
                        scan.sockets.setdefault(int(text[8:-1]), []).append((pid, fd))
                    except ValueError:
                        continue
                elif text.startswith('net:['):
                    try:
                        scan.netns_fds.setdefault(parse_ns_ref(text)[1], []).append((pid, fd))
                    except ProcParseError:
                        continue
        return scan


# ---------------------------------------------------------------------------- one namespace

# A scoped query reads the tables through one of the first members that is still there.
_MEMBERS_TO_TRY = 8


class NetworkNamespace:
    """One network namespace as socket_info reports it."""

    def __init__(self, record, members=()):
        self.inode = record['inode']
        self.ref = record['ref']
        self.record = record
        self.members = list(members)   # member PIDs of a scoped query, lowest first
        self.read_from = None      # {'pid': N} or {'path': P}
        self.sockets = []
        self.container = None      # the container record owning it
        self.containers = []       # labels of every container in it
        self.fd_holders = []       # (pid, fd) of fds holding it open
        self.problems = []

    def candidate_pids(self):
        """Member processes to read the tables through, most stable first."""
        record = self.record
        pids = []
        for pid in [record.get('ealdorman')] + list(record.get('leaders') or []) + [record.get('pid')] \
                + self.members[:_MEMBERS_TO_TRY]:
            if pid is not None and pid not in pids:
                pids.append(pid)
        return pids

    def to_dict(self):
        container = self.container
        return {
            'ref': self.ref,
            'inode': self.inode,
            'nprocs': self.record.get('nprocs', 0),
            'read_from': self.read_from,
            # one path shows once per mount namespace that has a copy of the mount
            'bind_mounts': sorted(set(m['path'] for m in self.record.get('bind_mounts') or [])),
            'container': _label(container) if container else None,
            'pod_uid': container.get('pod_uid') if container else None,
            'containers': sorted(self.containers),
            'sockets': len(self.sockets),
            'problems': self.problems,
        }


def _label(record):
    return record.get('id') or record.get('name')


def read_namespace_tables(root, ns, names, facts):
    """Fill ``ns.sockets``: through a member process, else by entering the namespace."""
    errors = []
    for pid in ns.candidate_pids():
        try:
            texts = read_net_tables(root, pid, names)
            # The PID may have been reused by a process of another namespace meanwhile.
            if read_ns_inode(root, pid, 'net') != ns.inode:
                continue
        except (OSError, ProcParseError):
            continue
        ns.read_from = {'pid': pid, 'path': None}
        _parse_into(ns, texts, errors)
        break
    else:
        if not _read_by_entering(root, ns, names, facts, errors):
            return
    if errors:
        ns.problems.append('%d malformed lines skipped, first: %s' % (len(errors), errors[0]))


def _parse_into(ns, texts, errors):
    for name in sorted(texts):
        ns.sockets.extend(parse_table(name, texts[name], errors))


def _namespace_files(root, ns, facts):
    """Paths that open this namespace: held fds, then bind mounts through a mount-ns member."""
    for pid, fd in ns.fd_holders:
        yield root.pid_path(pid, 'fd', str(fd))
    record = ns.record
    for mount in record.get('bind_mounts') or []:
        mnt = facts['namespaces'].get(mount['mnt_ns'])
        if mnt and mnt.get('pid') is not None:
            yield root.pid_path(mnt['pid'], 'root') + mount['path']


def _read_by_entering(root, ns, names, facts, errors):
    """For a namespace without a readable member: a forked child enters it and reads."""
    # Imported here: most namespaces are read through a member, and each task compiles
    # what it imports.
    from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.enter import (  # pylint: disable=import-outside-toplevel
        EnterError,
        call_in_namespaces,
    )
    tried = False
    for path in _namespace_files(root, ns, facts):
        tried = True
        try:
            fd = open_ns(path)
        except OSError:
            continue
        try:
            if os.fstat(fd).st_ino != ns.inode or get_nstype(fd) not in (None, 'net'):
                continue
            data = call_in_namespaces([('net', fd)], lambda: _read_own_tables(names))
        except EnterError as exc:
            ns.problems.append('entering it through %s failed: %s' % (path, exc))
            continue
        finally:
            close_quietly(fd)
        ns.read_from = {'pid': None, 'path': _display_path(root, path)}
        _parse_into(ns, json.loads(data.decode('utf-8')), errors)
        return True
    if tried:
        ns.problems.append('no process is in it and none of its bind mounts or held fds could be entered')
    else:
        ns.problems.append('every process of it exited during the scan')
    return False


def _display_path(root, path):
    """``/proc/1/root/run/netns/x`` -> ``/run/netns/x`` (as the host sees it)."""
    prefix = root.path + '/'
    if path.startswith(prefix):
        pid, sep, rest = path[len(prefix):].partition('/root/')
        if sep and pid.isdigit():
            return '/' + rest
    return path


# ---------------------------------------------------------------------------- the query

class SocketInfoError(Exception):
    """socket_info cannot answer: ``msg`` says why, ``result`` holds fields for the failed result."""

    def __init__(self, msg, **result):
        super(SocketInfoError, self).__init__(msg)
        self.msg = msg
        self.result = result


class QueryError(SocketInfoError, ValueError):
    """The socket_info options contradict each other or are out of range."""


class Query:
    """Validated socket_info options: the request of the module."""

    def __init__(self, params):
        self.proc_root = params.get('proc_root') or '/proc'
        self.container_id = params.get('container_id')
        self.pod_uid = params.get('pod_uid')
        self.name = params.get('name')
        self.runtime = params.get('runtime')
        self.protocols = tuple(params.get('protocols') or PROTOCOLS)
        self.states = set(params.get('state') or ())
        self.ports = set(params.get('port') or ())
        bad_ports = sorted(p for p in self.ports if not 0 <= p <= 65535)
        if bad_ports:
            raise QueryError('port must be between 0 and 65535; got %s' % ', '.join(str(p) for p in bad_ports))
        self.pid = check_pid(params.get('pid'), error=QueryError)
        given = [option for option in ('container_id', 'pod_uid', 'name', 'runtime')
                 if getattr(self, option) is not None]
        if self.pid is not None and given:
            raise QueryError('pid selects the network namespace of one process and cannot be combined with '
                             '%s: use either pid or %s' % (', '.join(given), ' / '.join(given)))
        if self.ports and self.protocols == ('unix',):
            raise QueryError('port filters TCP and UDP sockets but protocols is [unix]: add tcp or udp to '
                             'protocols, or drop port')
        self.selector = None
        if given:
            self.selector = Selector.from_params({'id': self.container_id, 'pod_uid': self.pod_uid,
                                                  'name': self.name, 'runtime': self.runtime})

    @classmethod
    def from_params(cls, params, check_mode=False):
        """The query of the module options; SocketInfoError when they are malformed.

        socket_info only reads, so check mode asks for the same answer.
        """
        try:
            return cls(params)
        except SelectorError as exc:
            raise SocketInfoError(str(exc))

    def matches(self, sock):
        if self.states and sock.state not in self.states:
            return False
        if self.ports and sock.local_port not in self.ports and sock.remote_port not in self.ports:
            return False
        return True


class OwnerDescriber:
    """``(pid, fd)`` -> owner dict, reading each PID's status and netns once."""

    def __init__(self, root, container_of_pid):
        self.root = root
        self.container_of_pid = container_of_pid
        self.cache = {}

    def __call__(self, pid, fd):
        if pid not in self.cache:
            comm = inner = netns = None
            try:
                status = read_status(self.root, pid)
                comm = status.name
                inner = status.nspid[-1] if status.nspid else pid
                netns = read_ns_inode(self.root, pid, 'net')
            except (OSError, ProcParseError):
                pass  # exited since the fd scan; the fd link was still seen
            container = self.container_of_pid.get(pid)
            self.cache[pid] = {'comm': comm, 'inner_pid': inner, 'container': container,
                               'netns': format_ns_ref('net', netns) if netns else None}
        owner = {'pid': pid, 'fd': fd}
        owner.update(self.cache[pid])
        return owner


def socket_info(proc_root, query):
    """Run the query; returns the socket_info result (without ``changed``)."""
    started = time.time()
    root = ProcRoot(proc_root)
    check_root(root)
    notes = []
    containers, wanted_inodes = _containers(root, query, notes)
    pid_netns = None
    if query.pid is not None:
        pid_netns = _netns_of_pid(root, query.pid)
        wanted_inodes = set([pid_netns])
    scoped = _scan_scoped(root, wanted_inodes, notes) if wanted_inodes else None
    if scoped is not None:
        facts, fds, namespaces = scoped
    else:
        facts, fds = _scan_host(root, notes)
        namespaces = _network_namespaces(facts, fds, wanted_inodes, query.pid, pid_netns)
    _assign_containers(namespaces, containers)

    names = tables_for(query.protocols)
    for ns in namespaces:
        read_namespace_tables(root, ns, names, facts)
    if scoped is not None:
        _find_missing_owners(root, namespaces, query, fds)
    rows = _socket_rows(namespaces, query, fds, OwnerDescriber(root, _container_of_pid(containers)))
    return {
        'namespaces': [ns.to_dict() for ns in namespaces],
        'sockets': rows,
        'notes': notes,
        'duration': round(time.time() - started, 4),
    }


def _scan_host(root, notes):
    """Discovery of the network namespaces; its one pass over every process also reads
    the socket and netns fds."""
    # Imported here: a scoped query never runs the discovery, and each task compiles what
    # it imports.
    from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import (  # pylint: disable=import-outside-toplevel
        discover_with_fd_links,
    )
    # mnt too: a bind-mounted netns is entered through a process of its mount namespace.
    facts, fd_refs, unreadable = discover_with_fd_links(root.path, ('bind_mounts',), ('mnt', 'net'),
                                                        ('socket:[', 'net:['))
    notes.extend(facts['discovery']['warnings'])
    facts = expand_facts(facts)
    fds = FdScan.from_links(fd_refs, unreadable)
    if fds.unreadable:
        notes.append('the open files of %d processes could not be read: their sockets show no owner '
                     '(run as root)' % fds.unreadable)
    return facts, fds


def _scan_scoped(root, wanted_inodes, notes):
    """``(facts, fds, namespaces)`` of a query about ``wanted_inodes`` only, or None when one
    of them has no member process (it is then found through discovery's bind mounts and
    held fds, in the whole-host scan).

    One ns/net link per process finds the members; only their fds are read. Bind mounts
    are those of the module's own mount namespace (lsns's NSFS column), read from its
    own mountinfo: finding the others would mean reading every mount namespace."""
    members, unreadable = read_members(root, 'net', wanted_inodes)
    if not all(members.values()):
        return None
    fd_refs = []
    for pids in members.values():
        for pid in pids:
            try:
                fd_refs.append((pid, list(read_fd_links(root, pid, ('socket:[', 'net:[')).items())))
            except OSError as exc:
                if classify(exc) != VANISHED:
                    unreadable += 1
    fds = FdScan.from_links(fd_refs, unreadable)
    if unreadable:
        why = ('not dumpable, another user namespace or a security module' if os.geteuid() == 0
               else 'run as root or with become: true')
        notes.append('%d processes could not be read (%s): whether they are in the namespace, and '
                     'their sockets, are unknown' % (unreadable, why))
    own_mnt, bind_mounts = _own_bind_mounts(root)
    namespaces = []
    for inode in sorted(members):
        pids = sorted(members[inode])
        ref = format_ns_ref('net', inode)
        record = {'inode': inode, 'ref': ref, 'nprocs': len(pids), 'pid': pids[0], 'leaders': [],
                  'ealdorman': None,
                  'bind_mounts': [{'mnt_ns': own_mnt, 'path': path} for path in bind_mounts.get(inode, ())]}
        ns = NetworkNamespace(record, pids)
        ns.fd_holders = sorted(fds.netns_fds.get(inode, ()))
        namespaces.append(ns)
    return {'namespaces': {}}, fds, namespaces


def _own_bind_mounts(root):
    """(own mount namespace ref, {net inode: [mount point]}) of the nsfs mounts the module
    itself sees; nothing for a proc root that is not the live /proc."""
    found = {}
    if root.path != '/proc':
        return None, found
    own = ProcRoot('/proc')
    try:
        mnt = format_ns_ref('mnt', read_ns_inode(own, 'self', 'mnt'))
        table = read_mountinfo(own, 'self')
    except (OSError, ProcParseError):
        return None, found
    for mount in table:
        if mount.fstype != 'nsfs':
            continue
        try:
            nstype, inode = parse_ns_ref(mount.root)
        except ProcParseError:
            continue
        if nstype == 'net':
            found.setdefault(inode, []).append(mount.mount_point)
    return mnt, found


def _find_missing_owners(root, namespaces, query, fds):
    """The owners of sockets no member holds: the fds of every other process, read only
    until each such socket has an owner (ss -p reads them all, always). Owners outside
    the namespace of a socket a member also holds are not looked for."""
    missing = set(sock.inode for ns in namespaces for sock in ns.sockets
                  if sock.inode and query.matches(sock) and sock.inode not in fds.sockets)
    if not missing:
        return
    read = set(pid for ns in namespaces for pid in ns.members)
    for pid in list_pids(root):
        if pid in read:
            continue
        try:
            links = read_fd_links(root, pid, ('socket:[',))
        except OSError:
            continue
        for fd, text in links.items():
            try:
                inode = int(text[8:-1])
            except ValueError:
                continue
            if inode in missing:
                fds.sockets.setdefault(inode, []).append((pid, fd))
        missing.difference_update(fds.sockets)
        if not missing:
            return


def _network_namespaces(facts, fds, wanted_inodes, pid, pid_netns):
    """The :class:`NetworkNamespace` list to report: all of them, or those in ``wanted_inodes``."""
    records = dict((record['inode'], record) for record in facts['namespaces'].values() if record['type'] == 'net')
    for inode in set(fds.netns_fds) | (wanted_inodes or set()):
        # Held only by an fd, or made after the discovery scan.
        records.setdefault(inode, {'inode': inode, 'ref': format_ns_ref('net', inode), 'nprocs': 0,
                                   'pid': pid if inode == pid_netns else None,
                                   'leaders': [], 'ealdorman': None, 'bind_mounts': []})
    namespaces = []
    for inode in sorted(records):
        if wanted_inodes is None or inode in wanted_inodes:
            ns = NetworkNamespace(records[inode])
            ns.fd_holders = sorted(fds.netns_fds.get(inode, ()))
            namespaces.append(ns)
    return namespaces


def _container_of_pid(containers):
    container_of_pid = {}
    for record in containers:
        for pid in record.get('pids') or []:
            container_of_pid[pid] = _label(record)
    return container_of_pid


def _socket_rows(namespaces, query, fds, describe):
    """One row per socket the query matches, with its namespace, container and owners, sorted."""
    rows = []
    for ns in namespaces:
        container = ns.container
        for sock in ns.sockets:
            if not query.matches(sock):
                continue
            row = sock.to_dict()
            row['netns'] = ns.ref
            row['container'] = _label(container) if container else None
            row['pod_uid'] = container.get('pod_uid') if container else None
            row['owners'] = [describe(pid, fd) for pid, fd in sorted(fds.sockets.get(sock.inode, ()))
                             ] if sock.inode else []
            rows.append(row)
    rows.sort(key=_row_key)
    return rows


def _row_key(row):
    return (row['netns'], PROTOCOLS.index(row['protocol']), row['family'], row['local_port'] or 0,
            row['local_address'] or '', row['path'] or '', row['remote_address'] or '', row['remote_port'] or 0,
            row['inode'])


def _containers(root, query, notes):
    """(container records, set of wanted netns inodes or None for all)."""
    if query.selector is None:
        return ContainerLocator(root.path, join_initial_cgroup_namespace=False).locate(Selector())['containers'], None
    # Every container, not only the selected ones: a selected container's netns may be another's
    # (docker --net container:A, a pod's sandbox) and its sockets held by that container's processes.
    selected, records = locate_selected(root.path, query.container_id, query.pod_uid, query.name, query.runtime,
                                        everything=True)
    wanted = set()
    for record in selected:
        inode = record['namespaces'].get('net')
        if inode is None:
            notes.append('container %s has no readable process: its network namespace is unknown' % _label(record))
        else:
            wanted.add(inode)
    return records, wanted


def _netns_of_pid(root, pid):
    try:
        return read_ns_inode(root, pid, 'net')
    except (OSError, ProcParseError) as exc:
        if classify(exc) == VANISHED:
            raise ContainerLookupError('no process with PID %d on this host (it may have exited); check it '
                                       'with `ps -p %d`' % (pid, pid))
        raise ContainerLookupError('cannot read the network namespace of PID %d (%s): run the module as root'
                                   % (pid, classify(exc)))


def _assign_containers(namespaces, containers):
    """The container owning a netns holds its oldest leader; every container in it is listed."""
    by_pid = {}
    for record in containers:
        for pid in record.get('pids') or []:
            by_pid[pid] = record
    for ns in namespaces:
        members = [record for record in containers if record['namespaces'].get('net') == ns.inode]
        ns.containers = [_label(record) for record in members]
        owner = by_pid.get(ns.record.get('ealdorman'))
        if owner is None or owner not in members:
            # The eldest process is not in a container (a runtime's helper), or the
            # containers are in a netns made by someone else: the oldest container.
            owner = min(members, key=_started) if members else None
        ns.container = owner


def _started(record):
    starts = [p['starttime'] for p in record.get('processes') or [] if p.get('starttime') is not None]
    return (min(starts) if starts else float('inf'), _label(record) or '')


# ---------------------------------------------------------------------------- module glue

def run(query):
    """The socket_info result with its notes as warnings; SocketInfoError when there is no answer."""
    try:
        result = socket_info(query.proc_root, query)
    except (ContainerError, DiscoveryError) as exc:
        raise SocketInfoError(str(exc))
    result.update(changed=False, warnings=list(result['notes']))
    return result
