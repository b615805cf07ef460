# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The /proc/net socket table parsers, the owner scan and socket_info on fixture hosts."""


import os
import re
import socket
import struct
import sys

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.nsops.namespaces.plugins.module_utils._sockets import engine as sockets
from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import ContainerLookupError, SelectorError
from ansible_collections.nsops.namespaces.plugins.module_utils._sockets.engine import (
    STATES, TCP_STATES, Query, QueryError, decode_address, empty_tcp_tables, parse_inet_line, parse_sockstat, parse_table,
    FdScan, parse_unix_line, read_net_tables, socket_info,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcParseError, ProcRoot
from ansible_collections.nsops.namespaces.tests.unit.fixtures.cgroups.fixture_tree import build_host

# Real tables from a throwaway netns (kernel 6.18, x86_64, little-endian): a TCP listener on
# 127.0.0.1:8080 with a connection in every direction, IPv6 listeners on [::1]:8081 and
# [::]:8082, a v4-mapped connection, UDP servers and a connected UDP socket, unix sockets.
REAL_TCP = '''\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1429524 1 000000004450bd95 100 0 0 10 0                   
   1: 0100007F:A740 0100007F:1F90 05 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000066821dc2                                      
   2: 0100007F:1F90 0100007F:A740 08 00000000:00000001 00:00000000 00000000     0        0 1429526 1 00000000ec67549d 20 4 0 10 -1                   
   3: 0100007F:1F90 0100007F:A748 01 00000000:00000000 00:00000000 00000000     0        0 1429530 1 00000000dd493272 20 0 0 10 -1                   
'''  # noqa: W291 - the kernel pads the lines with spaces
REAL_TCP6 = (
    '  sl  local_address                         remote_address                        st tx_queue '
    'rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
    '   0: 00000000000000000000000000000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 '
    '00:00000000 00000000     0        0 1429528 1 0000000051eccfb6 100 0 0 10 0\n'
    '   1: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 '
    '00:00000000 00000000     0        0 1429527 1 00000000e65cd5ab 100 0 0 10 0\n'
    '   2: 0000000000000000FFFF00000100007F:A748 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 '
    '00:00000000 00000000     0        0 1429529 2 000000000c770cee 20 0 0 10 -1\n'
)
REAL_UDP = '''\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
 4142: 0100007F:B639 0100007F:14E9 01 00000000:00000000 00:00000000 00000000     0        0 1429532 2 000000009590aeb5 0       
11998: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1429531 2 00000000171ce51c 0       
'''  # noqa: W291
REAL_UDP6 = (
    '  sl  local_address                         remote_address                        st tx_queue '
    'rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n'
    '11999: 00000000000000000000000001000000:14EA 00000000000000000000000000000000:0000 07 00000000:00000000 '
    '00:00000000 00000000     0        0 1429533 2 00000000a8098c92 0\n'
)
REAL_UNIX = '''\
Num       RefCount Protocol Flags    Type St Inode Path
00000000bb96a0c6: 00000003 00000000 00000000 0001 03 1429537
00000000beb16d16: 00000003 00000000 00000000 0001 03 1429536
000000008658ff64: 00000002 00000000 00000000 0005 01 1429538
0000000047f5e53b: 00000002 00000000 00010000 0001 01 1429534 /tmp/nsops-test sock
00000000b4e373c3: 00000002 00000000 00000000 0002 01 1429535 @nsops-abstract
'''
REAL_SOCKSTAT = '''\
sockets: used 14
TCP: inuse 3 orphan 0 tw 1 alloc 7 mem 420
UDP: inuse 2 mem 0
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
'''
REAL_SOCKSTAT6 = 'TCP6: inuse 3\nUDP6: inuse 1\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n'

LITTLE = 'little'
little_endian_only = pytest.mark.skipif(sys.byteorder != 'little', reason='real tables from an x86_64 host')


def hex_address(address, port, byteorder):
    """What the kernel prints for an address and port on a host of ``byteorder``."""
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    raw = socket.inet_pton(family, address)
    words = [struct.unpack('<I' if byteorder == 'little' else '>I', raw[i:i + 4])[0] for i in range(0, len(raw), 4)]
    return '%s:%04X' % (''.join('%08X' % word for word in words), port)


def inet_line(local, remote, state, inode, byteorder=LITTLE, uid=0, queues='00000000:00000000'):
    return '   0: %s %s %02X %s 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0' % (
        hex_address(local[0], local[1], byteorder), hex_address(remote[0], remote[1], byteorder), state, queues,
        uid, inode)


# ---------------------------------------------------------------------------- addresses

@pytest.mark.parametrize('byteorder', ['little', 'big'])
@pytest.mark.parametrize('address, port', [
    ('127.0.0.1', 8080), ('0.0.0.0', 0), ('10.213.7.2', 65535), ('255.255.255.255', 1),
    ('::1', 8081), ('::', 0), ('2001:db8::1', 443), ('::ffff:127.0.0.1', 8080), ('fe80::1:2:3:4', 22),
])
def test_decode_address_round_trips_in_both_byte_orders(byteorder, address, port):
    assert decode_address(hex_address(address, port, byteorder), byteorder) == (address, port)


@little_endian_only
def test_decode_address_of_real_kernel_text():
    assert decode_address('0100007F:1F90') == ('127.0.0.1', 8080)
    assert decode_address('00000000000000000000000001000000:1F91') == ('::1', 8081)
    assert decode_address('0000000000000000FFFF00000100007F:A748') == ('::ffff:127.0.0.1', 42824)


@pytest.mark.parametrize('text', [
    '', ':', '0100007F', '0100007F:', '0100007F:1F9', '0100007F:1F900', '0100007G:1F90', '100007F:1F90',
    ' 100007F:1F90', '+100007F:1F90', '0_00007F:1F90', '0100007F:+F90', '0' * 16 + ':0000', '0' * 31 + ':0000',
])
def test_decode_address_rejects_malformed_text(text):
    with pytest.raises(ProcParseError):
        decode_address(text)


# ---------------------------------------------------------------------------- TCP and UDP

@little_endian_only
def test_real_tcp_table():
    errors = []
    rows = parse_table('tcp', REAL_TCP, errors)
    assert errors == []
    assert [(r.state, r.local_address, r.local_port, r.remote_port, r.inode, r.listening) for r in rows] == [
        ('listen', '127.0.0.1', 8080, 0, 1429524, True),
        ('fin_wait2', '127.0.0.1', 42816, 8080, 0, False),
        ('close_wait', '127.0.0.1', 8080, 42816, 1429526, False),
        ('established', '127.0.0.1', 8080, 42824, 1429530, False),
    ]
    assert rows[2].rx_queue == 1 and rows[2].tx_queue == 0
    assert all(r.protocol == 'tcp' and r.family == 'ipv4' and r.uid == 0 for r in rows)


@little_endian_only
def test_real_tcp6_table_with_v4_mapped_peer():
    rows = parse_table('tcp6', REAL_TCP6)
    assert [(r.state, r.local_address, r.local_port, r.remote_address) for r in rows] == [
        ('listen', '::', 8082, '::'),
        ('listen', '::1', 8081, '::'),
        ('established', '::ffff:127.0.0.1', 42824, '::ffff:127.0.0.1'),
    ]
    assert all(r.family == 'ipv6' for r in rows)


@little_endian_only
def test_real_udp_tables_mark_bound_unconnected_sockets_listening():
    rows = parse_table('udp', REAL_UDP) + parse_table('udp6', REAL_UDP6)
    assert [(r.family, r.state, r.local_address, r.local_port, r.listening) for r in rows] == [
        ('ipv4', 'established', '127.0.0.1', 46649, False),
        ('ipv4', 'unconnected', '0.0.0.0', 5353, True),
        ('ipv6', 'unconnected', '::1', 5354, True),
    ]


@pytest.mark.parametrize('code, name', sorted(TCP_STATES.items()))
def test_every_tcp_state(code, name):
    sock = parse_inet_line(inet_line(('10.0.0.1', 22), ('10.0.0.2', 51000), code, 77), 'tcp', 'ipv4', LITTLE)
    assert sock.state == name
    assert sock.listening is (name == 'listen')
    assert name in STATES


def test_unknown_state_code_is_kept_as_unknown():
    sock = parse_inet_line(inet_line(('10.0.0.1', 22), ('0.0.0.0', 0), 0x42, 1), 'tcp', 'ipv4', LITTLE)
    assert sock.state == 'unknown' and not sock.listening


def test_udp_socket_on_port_zero_is_not_listening():
    sock = parse_inet_line(inet_line(('0.0.0.0', 0), ('0.0.0.0', 0), 7, 1), 'udp', 'ipv4', LITTLE)
    assert sock.state == 'unconnected' and not sock.listening


def test_uid_and_queues():
    sock = parse_inet_line(inet_line(('::', 80), ('::', 0), 0x0A, 9, uid=101, queues='0000000A:00000080'),
                           'tcp', 'ipv6', LITTLE)
    assert (sock.uid, sock.tx_queue, sock.rx_queue) == (101, 10, 128)


@pytest.mark.parametrize('line', [
    '',
    '   0: 0100007F:1F90 00000000:0000 0A',                                  # truncated
    '   0 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1',   # no colon after sl
    '   0: 0100007F:1F90 00000000:0000 XY 00000000:00000000 00:00000000 00000000 0 0 1 1',
    '   0: 0100007F:1F90 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 1 1',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 -1 0 1 1',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x 1',
    '   0: 00000000000000000000000001000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1',
])
def test_malformed_inet_lines_raise_parse_errors(line):
    with pytest.raises(ProcParseError):
        parse_inet_line(line, 'tcp', 'ipv4', LITTLE)


def test_ipv6_address_in_ipv4_table_is_malformed():
    line = inet_line(('::1', 1), ('::', 0), 0x0A, 5)
    with pytest.raises(ProcParseError, match='ipv6 address in a ipv4 table'):
        parse_inet_line(line, 'tcp', 'ipv4', LITTLE)


def test_table_skips_and_reports_malformed_lines():
    good = inet_line(('127.0.0.1', 80), ('0.0.0.0', 0), 0x0A, 5)
    text = 'sl local_address ...\n%s\ngarbage here\n\n%s\n' % (good, good.replace('0A', 'ZZ', 1))
    errors = []
    rows = parse_table('tcp', text, errors)
    assert [r.local_port for r in rows] == [80]
    assert len(errors) == 2
    with pytest.raises(ProcParseError):
        parse_table('tcp', text)


def test_header_only_and_empty_tables():
    assert parse_table('tcp', REAL_TCP.splitlines()[0] + '\n') == []
    assert parse_table('unix', '') == []


# ---------------------------------------------------------------------------- unix

def test_real_unix_table():
    rows = parse_table('unix', REAL_UNIX)
    assert [(r.type, r.state, r.listening, r.path, r.inode) for r in rows] == [
        ('stream', 'established', False, None, 1429537),
        ('stream', 'established', False, None, 1429536),
        ('seqpacket', 'unconnected', False, None, 1429538),
        ('stream', 'listen', True, '/tmp/nsops-test sock', 1429534),
        ('dgram', 'unconnected', False, '@nsops-abstract', 1429535),
    ]
    assert all(r.local_port is None and r.family == 'unix' and r.uid is None for r in rows)


@pytest.mark.parametrize('st, state', [('01', 'unconnected'), ('02', 'syn_sent'), ('03', 'established'),
                                       ('04', 'closing'), ('00', 'unknown')])
def test_unix_states(st, state):
    assert parse_unix_line('0000000000000000: 00000002 00000000 00000000 0001 %s 42' % st).state == state


def test_unix_path_keeps_leading_and_inner_spaces():
    sock = parse_unix_line('0000000000000000: 00000002 00000000 00010000 0001 01 42  lead space')
    assert sock.path == ' lead space'


@pytest.mark.parametrize('line', [
    '0000000000000000: 00000002 00000000 00010000 0001 01',          # no inode
    '0000000000000000 00000002 00000000 00010000 0001 01 42',        # no colon
    '0000000000000000: 0000002 00000000 00010000 0001 01 42',        # short refcount
    '0000000000000000: 00000002 00000000 00010000 0001 01 4x2',
    'Num       RefCount Protocol Flags    Type St Inode Path',
])
def test_malformed_unix_lines(line):
    with pytest.raises(ProcParseError):
        parse_unix_line(line)


# ---------------------------------------------------------------------------- sockstat

def test_sockstat_counters_and_empty_tables():
    counters = parse_sockstat(REAL_SOCKSTAT)
    counters.update(parse_sockstat(REAL_SOCKSTAT6))
    assert counters['TCP'] == {'inuse': 3, 'orphan': 0, 'tw': 1, 'alloc': 7, 'mem': 420}
    assert counters['TCP6'] == {'inuse': 3}
    assert empty_tcp_tables(counters) == set()


@pytest.mark.parametrize('tcp, tcp6, empty', [
    ('TCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0', 'TCP6: inuse 0', {'tcp', 'tcp6'}),
    ('TCP: inuse 2 orphan 0 tw 0 alloc 0 mem 0', 'TCP6: inuse 0', {'tcp6'}),
    ('TCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0', 'TCP6: inuse 1', {'tcp'}),
    ('TCP: inuse 0 orphan 0 tw 3 alloc 0 mem 0', 'TCP6: inuse 0', set()),   # TIME_WAIT: v4 or v6, read both
    ('TCP: inuse 0 orphan 0 alloc 0 mem 0', 'TCP6: inuse 0', set()),        # no tw counter: cannot tell
    ('TCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0', '', {'tcp'}),
])
def test_empty_tcp_tables_only_when_the_counters_prove_it(tcp, tcp6, empty):
    counters = parse_sockstat(tcp + '\n')
    counters.update(parse_sockstat(tcp6))
    assert empty_tcp_tables(counters) == empty


@pytest.mark.parametrize('text', ['TCP inuse 1', 'TCP: inuse', 'TCP: inuse x', 'TCP: inuse -1'])
def test_malformed_sockstat(text):
    with pytest.raises(ProcParseError):
        parse_sockstat(text)


# ---------------------------------------------------------------------------- fuzz

LINE_CHARS = st.sampled_from(list('0123456789ABCDEFabcdef: \t@/xyz-') + ['\x00', '\udcff', '\n', 'é'])
fuzz_line = st.text(alphabet=LINE_CHARS, max_size=200)


@st.composite
def mutated_line(draw):
    """A real line with random edits: truncation, a changed character, insertions."""
    line = draw(st.sampled_from([x for t in (REAL_TCP, REAL_TCP6, REAL_UDP, REAL_UDP6, REAL_UNIX)
                                 for x in t.splitlines()[1:]]))
    for unused_edit in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(['cut', 'set', 'insert']))
        pos = draw(st.integers(0, len(line)))
        if op == 'cut':
            line = line[:pos]
        elif op == 'set' and line:
            line = line[:pos] + draw(LINE_CHARS) + line[pos + 1:]
        else:
            line = line[:pos] + draw(fuzz_line) + line[pos:]
    return line


FUZZ = settings(max_examples=400, deadline=None, database=None)


@FUZZ
@given(name=st.sampled_from(sorted(sockets.TABLES)), lines=st.lists(st.one_of(fuzz_line, mutated_line()), max_size=8),
       byteorder=st.sampled_from(['little', 'big']))
def test_fuzzed_tables_never_raise_with_an_errors_list(name, lines, byteorder):
    errors = []
    rows = parse_table(name, '\n'.join(lines), errors, byteorder)
    for row in rows:
        data = row.to_dict()
        assert data['state'] in STATES + ('unknown',)
        assert data['inode'] >= 0
        if data['protocol'] != 'unix':
            assert 0 <= data['local_port'] <= 65535 and 0 <= data['remote_port'] <= 65535


@FUZZ
@given(line=st.one_of(fuzz_line, mutated_line()), byteorder=st.sampled_from(['little', 'big']))
def test_fuzzed_lines_raise_only_parse_errors(line, byteorder):
    for parse in (lambda: parse_unix_line(line), lambda: parse_inet_line(line, 'tcp', 'ipv4', byteorder),
                  lambda: parse_inet_line(line, 'udp', 'ipv6', byteorder), lambda: parse_sockstat(line)):
        try:
            parse()
        except ProcParseError:
            pass


# ---------------------------------------------------------------------------- readers on a fixture tree

def write(path, text):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, 'w') as handle:
        handle.write(text)


def add_fds(proc_root, pid, links):
    directory = os.path.join(proc_root, str(pid), 'fd')
    if not os.path.isdir(directory):
        os.makedirs(directory)
    for fd, text in links.items():
        os.symlink(text, os.path.join(directory, str(fd)))


def add_tables(proc_root, pid, **tables):
    for name, text in tables.items():
        write(os.path.join(proc_root, str(pid), 'net', name), text)


def test_read_net_tables_skips_tcp_when_sockstat_proves_it_empty(tmp_path):
    root = ProcRoot(str(tmp_path))
    add_tables(str(tmp_path), 5, tcp='this would not parse\n', tcp6='nor this\n', udp=REAL_UDP,
               sockstat='TCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0\n', sockstat6='TCP6: inuse 0\n')
    texts = read_net_tables(root, 5, ['tcp', 'tcp6', 'udp', 'udp6'])
    assert texts == {'tcp': '', 'tcp6': '', 'udp': REAL_UDP, 'udp6': ''}   # udp6 absent: no IPv6


def test_read_net_tables_reads_tcp_without_sockstat(tmp_path):
    add_tables(str(tmp_path), 5, tcp=REAL_TCP)
    assert read_net_tables(ProcRoot(str(tmp_path)), 5, ['tcp'])['tcp'] == REAL_TCP


def test_read_net_tables_of_a_vanished_process_raises(tmp_path):
    with pytest.raises(OSError):
        read_net_tables(ProcRoot(str(tmp_path)), 5, ['udp'])


def test_fd_links_give_socket_owners_and_held_namespaces():
    scan = FdScan.from_links([
        (10, [(0, '/dev/null'), (3, 'socket:[100]'), (4, 'socket:[200]'), (5, 'socket:[bad]'), (6, 'pipe:[100]'),
              (7, 'net:[4026532999]'), (8, 'net:[oops]'), (9, 'uts:[4026532998]')]),
        (11, [(7, 'socket:[100]')]),
    ], unreadable=2)
    assert scan.sockets == {100: [(10, 3), (11, 7)], 200: [(10, 4)]}
    assert scan.netns_fds == {4026532999: [(10, 7)]}
    assert scan.unreadable == 2


# ---------------------------------------------------------------------------- socket_info on fixture hosts

POD1 = '6d0e25a4-436e-4569-9bae-17785b801a26'
NGINX_TCP = '''\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
%s
%s
''' % (inet_line(('0.0.0.0', 80), ('0.0.0.0', 0), 0x0A, 5001),
       inet_line(('172.17.0.2', 80), ('172.17.0.1', 40000), 0x01, 5002))
POD_TCP = '''\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
%s
%s
''' % (inet_line(('0.0.0.0', 8080), ('0.0.0.0', 0), 0x0A, 6001),
       inet_line(('10.244.0.5', 8080), ('10.244.0.1', 50000), 0x06, 0))
HOST_TCP = '''\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
%s
''' % inet_line(('0.0.0.0', 22), ('0.0.0.0', 0), 0x0A, 7001)
HOST_UNIX = 'Num       RefCount Protocol Flags    Type St Inode Path\n' \
            '0000000000000000: 00000002 00000000 00010000 0001 01 7002 /run/sshd.sock\n'


@pytest.fixture
def host(tmp_path):
    """docker container A (nginx 1001/1002), pod POD1 (pause 1401, app 1411/1412), host processes."""
    fixture = build_host(str(tmp_path), 'hybrid', ['docker-cgroupfs', 'kubernetes-systemd-containerd'])
    proc = fixture.proc_root
    if sys.byteorder != 'little':
        pytest.skip('fixture tables are written for a little-endian host')
    add_tables(proc, 1001, tcp=NGINX_TCP, unix='Num RefCount Protocol Flags Type St Inode Path\n')
    add_tables(proc, 1401, tcp=POD_TCP)
    add_tables(proc, 1, tcp=HOST_TCP, unix=HOST_UNIX)
    add_tables(proc, 2, tcp=HOST_TCP, unix=HOST_UNIX)
    add_fds(proc, 1002, {3: 'socket:[5001]', 4: 'socket:[5002]'})
    add_fds(proc, 1411, {5: 'socket:[6001]'})
    add_fds(proc, 900, {9: 'socket:[7001]', 10: 'socket:[7002]', 11: 'socket:[5001]'})   # dockerd holds one too
    return fixture


def by_port(result):
    """Listening TCP rows by local port."""
    return dict((row['local_port'], row) for row in result['sockets'] if row['protocol'] == 'tcp' and row['listening'])


def test_every_namespace_with_owners_and_containers(host):
    result = socket_info(host.proc_root, Query({}))
    docker = host.containers[0]
    pause, app = host.containers[1], host.containers[2]
    rows = by_port(result)
    assert rows[80]['container'] == docker['expect']['id']
    assert rows[80]['netns'] == 'net:[%d]' % docker['namespaces']['net']
    assert [(o['pid'], o['fd'], o['comm'], o['inner_pid'], o['container']) for o in rows[80]['owners']] == [
        (900, 11, 'dockerd', 900, None), (1002, 3, 'nginx', 29, docker['expect']['id'])]
    assert rows[80]['owners'][0]['netns'] != rows[80]['netns']     # an owner in another netns
    assert rows[8080]['container'] == pause['expect']['id'] and rows[8080]['pod_uid'] == POD1
    assert rows[8080]['owners'][0]['container'] == app['expect']['id']
    assert rows[22]['container'] is None and rows[22]['owners'][0]['comm'] == 'dockerd'
    pod_ns = [ns for ns in result['namespaces'] if ns['container'] == pause['expect']['id']][0]
    assert sorted(pod_ns['containers']) == sorted([pause['expect']['id'], app['expect']['id']])
    assert pod_ns['read_from'] == {'pid': 1401, 'path': None}
    unix = [row for row in result['sockets'] if row['protocol'] == 'unix']
    assert [(row['path'], row['state'], row['listening']) for row in unix] == [('/run/sshd.sock', 'listen', True)]


def test_container_filter_shows_nothing_of_the_host(host):
    docker = host.containers[0]
    result = socket_info(host.proc_root, Query({'container_id': docker['expect']['id'][:12]}))
    assert [ns['container'] for ns in result['namespaces']] == [docker['expect']['id']]
    assert sorted(by_port(result)) == [80]
    assert all(row['netns'] == 'net:[%d]' % docker['namespaces']['net'] for row in result['sockets'])


def test_pod_filter_state_and_port(host):
    result = socket_info(host.proc_root, Query({'pod_uid': POD1, 'state': ['listen']}))
    assert [(r['local_port'], r['state']) for r in result['sockets']] == [(8080, 'listen')]
    result = socket_info(host.proc_root, Query({'port': [80, 40000]}))
    assert sorted((r['local_port'], r['remote_port']) for r in result['sockets']) == [(80, 0), (80, 40000)]
    result = socket_info(host.proc_root, Query({'state': ['time_wait']}))
    assert [(r['local_port'], r['inode'], r['owners']) for r in result['sockets']] == [(8080, 0, [])]


def test_pid_filter_selects_the_namespace_of_the_process(host):
    result = socket_info(host.proc_root, Query({'pid': 1412, 'protocols': ['tcp']}))
    assert sorted(by_port(result)) == [8080]
    assert len(result['namespaces']) == 1


def test_a_scoped_query_answers_as_the_whole_host_scan_does(host):
    """pid and container selectors read only the members of their namespace (and their fds):
    the sockets and owners are those the whole-host scan gives for that namespace."""
    whole = socket_info(host.proc_root, Query({}))
    for record in host.containers:
        netns = 'net:[%d]' % record['namespaces']['net']
        for params in ({'pid': record['pids'][0]}, {'container_id': record['expect']['id']}):
            scoped = socket_info(host.proc_root, Query(params))
            assert [ns['ref'] for ns in scoped['namespaces']] == [netns]
            expected = [dict(row) for row in whole['sockets'] if row['netns'] == netns]
            for row in expected:
                # dockerd (900, host netns) holds socket 5001 too: owners outside the namespace
                # are looked for only for sockets that no member holds
                if any(o['pid'] in record['pids'] for o in row['owners']):
                    row['owners'] = [o for o in row['owners'] if o['netns'] == netns]
            assert scoped['sockets'] == expected, params
            (ns,) = [ns for ns in whole['namespaces'] if ns['ref'] == netns]
            assert scoped['namespaces'][0]['nprocs'] == ns['nprocs']


def test_a_scoped_query_finds_an_owner_outside_the_namespace(host):
    """A socket of the namespace that no member holds (made before a setns, or passed over a
    unix socket): the other processes' fds are read until it has its owner."""
    docker = host.containers[0]
    member = docker['pids'][0]
    table = read_net_tables(ProcRoot(host.proc_root), member, ['tcp'])['tcp']
    add_tables(host.proc_root, member, tcp=table + inet_line(('0.0.0.0', 9999), ('0.0.0.0', 0), 0x0A, 777777) + '\n')
    add_fds(host.proc_root, 1, {30: 'socket:[777777]'})
    scoped = by_port(socket_info(host.proc_root, Query({'pid': member})))
    whole = by_port(socket_info(host.proc_root, Query({})))
    assert [o['pid'] for o in scoped[9999]['owners']] == [o['pid'] for o in whole[9999]['owners']] == [1]


def test_protocols_limit_the_tables(host):
    result = socket_info(host.proc_root, Query({'protocols': ['unix']}))
    assert set(r['protocol'] for r in result['sockets']) == set(['unix'])


def test_namespace_without_processes_is_listed_with_a_problem(host, tmp_path):
    # A netns kept only by an fd (a fixture cannot be entered: no nsfs here).
    add_fds(host.proc_root, 1, {20: 'net:[4026539999]'})
    result = socket_info(host.proc_root, Query({}))
    (orphan,) = [ns for ns in result['namespaces'] if ns['inode'] == 4026539999]
    assert orphan['read_from'] is None and orphan['nprocs'] == 0
    assert orphan['problems'] and 'could be entered' in orphan['problems'][0]


def test_malformed_lines_are_counted_per_namespace(host):
    add_tables(host.proc_root, 1001, udp='   sl header\n  garbage line\n')
    result = socket_info(host.proc_root, Query({}))
    docker_ns = [ns for ns in result['namespaces'] if ns['inode'] == host.containers[0]['namespaces']['net']][0]
    assert docker_ns['problems'] and docker_ns['problems'][0].startswith('1 malformed lines skipped')


@pytest.mark.parametrize('params, error, message', [
    ({'pid': 0}, QueryError, 'pid must be a positive integer process ID (1 or more), not 0'),
    ({'pid': 5, 'container_id': 'abc'}, QueryError, 'cannot be combined'),
    ({'port': [70000]}, QueryError, 'between 0 and 65535'),
    ({'port': [80], 'protocols': ['unix']}, QueryError, 'add tcp or udp'),
    ({'container_id': 'zz'}, SelectorError, 'is not a container ID'),
])
def test_bad_queries(params, error, message):
    with pytest.raises(error, match=re.escape(message)):
        Query(params)


def test_unknown_container_and_pid(host):
    with pytest.raises(ContainerLookupError, match='no container with container_id abcdef'):
        socket_info(host.proc_root, Query({'container_id': 'abcdef'}))
    with pytest.raises(ContainerLookupError, match='no process with PID 424242'):
        socket_info(host.proc_root, Query({'pid': 424242}))


# ---------------------------------------------------------------------------- module contract

def test_run_answers_a_query_with_the_module_result(host):
    query = sockets.Query.from_params({'proc_root': host.proc_root, 'port': [80]}, check_mode=True)
    result = sockets.run(query)
    assert result['changed'] is False and result['warnings'] == result['notes']
    assert [row['local_port'] for row in result['sockets'] if row['listening']] == [80]


@pytest.mark.parametrize('params, message', [
    ({'container_id': 'zz'}, "id 'zz' is not a container ID"),
    ({'port': [70000]}, 'port must be between 0 and 65535'),
])
def test_malformed_queries_are_the_one_socket_error(params, message):
    with pytest.raises(sockets.SocketInfoError, match=re.escape(message)):
        sockets.Query.from_params(params)


@pytest.mark.parametrize('params, message', [
    ({'container_id': 'abcdef'}, 'no container with container_id abcdef on this host'),
    ({'pid': 424242}, 'no process with PID 424242'),
    ({'proc_root': '/etc'}, 'proc_root /etc is not a procfs'),
])
def test_unanswerable_queries_are_the_one_socket_error(host, params, message):
    params.setdefault('proc_root', host.proc_root)
    with pytest.raises(sockets.SocketInfoError) as exc:
        sockets.run(sockets.Query.from_params(params))
    assert message in exc.value.msg and exc.value.result == {}
