# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conformance on a big, real host: namespace_facts against lsns and socket_info against ss,
column by column, in the same moment.

The scenario (built once for the module, removed by PID also on failure): 10,000 extra
processes in 100 namespace sets, 300 bind-mounted network namespaces (some with a
process and an nsid), 20,000 listening loopback sockets over four of them, a process
with 3,000 threads and one with nearly 20,000 fds (RLIMIT_NOFILE here), a PID wrap (the
lowest PID of a namespace is the child of its leader), a zombie thread-group leader
with a live thread, a network namespace held only by a socket, and a mount namespace
that no process is in, held by a bind mount, with an nsfs mount only it holds.

Every comparison prints its figures (found/expected per column).
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from conftest import discover_full as discover
from ansible_collections.nsops.namespaces.plugins.module_utils._sockets.engine import Query, socket_info

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                'bench'))
import _harness  # noqa: E402  pylint: disable=wrong-import-position,import-error


ALL_SOURCES = ('tasks', 'fds', 'sockets', 'bind_mounts')
LSNS_COLUMNS = 'NS,TYPE,NPROCS,PID,PPID,COMMAND,UID,USER,NETNSID,NSFS,PNS,ONS'
COMPARED = ('nprocs', 'pid', 'ppid', 'command', 'uid', 'user', 'netnsid', 'nsfs', 'pns', 'ons')

PROCS, SETS = 10000, 100
NETNS, NETNS_WITH_PROCESS, NSID_EVERY = 300, 20, 10
SOCKET_NETNS, SOCKETS_PER_NETNS = 4, 5000
THREADS = 3000
FD_COUNT = 19900

PYTHON = sys.executable

# Holds listening sockets in network namespaces: argv = netns files; ports from 2000.
LISTENER = textwrap.dedent('''
    import ctypes, os, socket, sys, time
    libc = ctypes.CDLL(None, use_errno=True)
    count, held = int(sys.argv[1]), []
    home = os.open('/proc/self/ns/net', os.O_RDONLY)
    for path in sys.argv[2:]:
        fd = os.open(path, os.O_RDONLY)
        assert libc.setns(fd, 0x40000000) == 0
        os.close(fd)
        for port in range(2000, 2000 + count):
            s = socket.socket()
            s.bind(('127.0.0.1', port))
            s.listen(1)
            held.append(s)
    assert libc.setns(home, 0x40000000) == 0
    print('ready', flush=True)
    time.sleep(100000)
''')

# Main thread exits with pthread_exit: the leader is a zombie while its thread lives.
ZOMBIE_LEADER = textwrap.dedent('''
    import ctypes, os, threading, time
    child = os.fork()
    if child == 0:
        time.sleep(100000)
    threading.Thread(target=time.sleep, args=(100000,)).start()
    print(child, flush=True)
    ctypes.CDLL(None).pthread_exit(None)
''')

THREADED = textwrap.dedent('''
    import threading, time
    threading.stack_size(65536)
    stop = threading.Event()
    for _ in range(%d):
        threading.Thread(target=stop.wait, daemon=True).start()
    print('ready', flush=True)
    time.sleep(100000)
''' % THREADS)

MANY_FDS = textwrap.dedent('''
    import os, time
    fds = [os.open('/dev/null', os.O_RDONLY) for _ in range(%d)]
    print('ready', flush=True)
    time.sleep(100000)
''' % FD_COUNT)

# Opens a socket inside the netns file argv[1] and comes back: afterwards only the socket
# holds that namespace.
SOCKET_HOLDER = textwrap.dedent('''
    import ctypes, os, socket, sys, time
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open('/proc/self/ns/net', os.O_RDONLY)
    fd = os.open(sys.argv[1], os.O_RDONLY)
    assert libc.setns(fd, 0x40000000) == 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    assert libc.setns(home, 0x40000000) == 0
    os.close(fd)
    print('ready', flush=True)
    time.sleep(100000)
''')


class Scenario:
    """What the fixture built; everything it started is recorded by PID."""

    def __init__(self):
        self.prefix = 'nsops-conf-%s-' % uuid.uuid4().hex[:6]
        self.netns = []                 # names from ip netns add
        self.popens = []
        self.extra = {}                 # what each check needs

    def run(self, *argv):
        subprocess.run(argv, check=True, capture_output=True)

    def start(self, argv, **kwargs):
        """A process whose first stdout line says it is ready."""
        popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True, **kwargs)
        self.popens.append(popen)
        line = popen.stdout.readline().strip()
        if not line:
            raise RuntimeError('%s did not start: %s' % (argv[:4], popen.stderr.read()))
        return popen, line

    def stop(self):
        for popen in self.popens:
            with contextlib.suppress(OSError):
                os.killpg(popen.pid, signal.SIGKILL)  # its own session: its children too
        for popen in self.popens:
            with contextlib.suppress(Exception):
                popen.wait(timeout=30)
        for name in self.netns:
            subprocess.run(['ip', 'netns', 'delete', name], capture_output=True, check=False)


def build(stack):
    scenario = Scenario()
    stack.callback(scenario.stop)
    prefix = scenario.prefix
    for index in range(NETNS):
        name = '%s%d' % (prefix, index)
        scenario.run('ip', 'netns', 'add', name)
        scenario.netns.append(name)
        if index % NSID_EVERY == 0:
            scenario.run('ip', 'netns', 'set', name, str(100 + index))
    for index in range(NETNS_WITH_PROCESS):
        scenario.start(['ip', 'netns', 'exec', scenario.netns[index], 'sh', '-c', 'echo ready; exec sleep 100000'])
    socket_netns = scenario.netns[-SOCKET_NETNS:]
    for name in socket_netns:
        scenario.run('ip', '-n', name, 'link', 'set', 'lo', 'up')
    half = SOCKET_NETNS // 2
    for group in (socket_netns[:half], socket_netns[half:]):
        scenario.start([PYTHON, '-c', LISTENER, str(SOCKETS_PER_NETNS)] + ['/run/netns/' + n for n in group])
    scenario.extra['socket_netns'] = socket_netns
    scenario.extra['threaded'] = scenario.start([PYTHON, '-c', THREADED])[0].pid
    scenario.extra['many_fds'] = scenario.start([PYTHON, '-c', MANY_FDS])[0].pid
    # A netns only a socket holds: made by ip netns add, entered, deleted.
    held = prefix + 'sockonly'
    scenario.run('ip', 'netns', 'add', held)
    scenario.extra['socket_only_netns'] = os.stat('/run/netns/' + held).st_ino
    scenario.extra['socket_holder'] = scenario.start([PYTHON, '-c', SOCKET_HOLDER, '/run/netns/' + held])[0].pid
    scenario.run('ip', 'netns', 'delete', held)
    # A zombie leader with a live thread, in a network namespace of its own.
    popen, child = scenario.start(['unshare', '--net', '--uts', PYTHON, '-c', ZOMBIE_LEADER])
    scenario.extra['zombie'] = (popen.pid, int(child))
    # A PID wrap: the namespace's lowest PID is the child of the process that leads it.
    scenario.extra['wrap'] = pid_wrap(scenario)
    # A mount namespace no process is in, holding the only nsfs mount of a netns.
    scenario.extra['lonely_mnt'] = lonely_mount_namespace(scenario, stack)
    sets = _harness.NamespaceSets(procs=PROCS, sets=SETS, quiet=True)
    stack.callback(sets.stop)
    sets.start()
    return scenario


def pid_wrap(scenario):
    """Leader A gets a high PID, then its child B a low one (ns_last_pid set by hand)."""
    last_pid = '/proc/sys/kernel/ns_last_pid'
    pid_max = int(open('/proc/sys/kernel/pid_max').read())
    with open(last_pid, 'w') as handle:
        handle.write(str(pid_max - 500))
    popen = subprocess.Popen(['unshare', '--uts', '--ipc', 'sh', '-c', 'read x; sleep 100000 & echo $!; wait'],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    scenario.popens.append(popen)
    time.sleep(0.2)
    with open(last_pid, 'w') as handle:
        handle.write('300')
    popen.stdin.write('go\n')
    popen.stdin.flush()
    child = int(popen.stdout.readline())
    return popen.pid, child


def lonely_mount_namespace(scenario, stack):
    """A mount namespace held by a bind mount only, which alone mounts a fresh netns."""
    base = '/run/%smnt' % scenario.prefix
    os.makedirs(base)
    stack.callback(os.rmdir, base)
    scenario.run('mount', '-t', 'tmpfs', 'tmpfs', base)
    stack.callback(subprocess.run, ['umount', '-l', base], capture_output=True, check=False)
    scenario.run('mount', '--make-private', base)
    open(base + '/mnt', 'w').close()
    open(base + '/hidden-net', 'w').close()
    name = scenario.prefix + 'hidden'
    scenario.run('ip', 'netns', 'add', name)  # before the mount namespace: it gets a copy of the mount
    inode = os.stat('/run/netns/' + name).st_ino
    scenario.run('unshare', '--mount=%s/mnt' % base, '--propagation', 'private', 'true')
    stack.callback(subprocess.run, ['umount', '-l', base + '/mnt'], capture_output=True, check=False)
    scenario.run('nsenter', '--mount=%s/mnt' % base, 'sh', '-c',
                 'mount --bind /run/netns/%s %s/hidden-net && umount /run/netns/%s' % (name, base, name))
    scenario.run('ip', 'netns', 'delete', name)
    return os.stat(base + '/mnt').st_ino, inode, base + '/hidden-net'


@pytest.fixture(scope='module')
def host():
    with contextlib.ExitStack() as stack:
        yield build(stack)


def report(capsys, text):
    """Figures go to the run's output, pass or fail (CI runs pytest without -s)."""
    with capsys.disabled():
        print('\n' + '\n'.join('[conformance] ' + line for line in text.strip('\n').split('\n')))


def lsns():
    out = subprocess.run(['lsns', '-J', '-o', LSNS_COLUMNS], capture_output=True, text=True, check=True).stdout
    flat, pending = [], list(json.loads(out)['namespaces'])
    while pending:
        entry = pending.pop()
        pending.extend(entry.pop('children', None) or [])
        flat.append(entry)
    return flat


def zombie_namespaces(leader):
    """``TYPE:[INODE]`` of the namespaces the live thread of a zombie leader is in, but
    pid and user (the links the zombie keeps)."""
    refs = set()
    for tid in os.listdir('/proc/%d/task' % leader):
        if int(tid) == leader:
            continue
        for nstype in ('cgroup', 'ipc', 'mnt', 'net', 'time', 'uts'):
            refs.add('%s:[%d]' % (nstype, os.stat('/proc/%d/task/%s/ns/%s' % (leader, tid, nstype)).st_ino))
    return refs


def as_lsns(record, facts):
    """The record in lsns's terms."""
    own_mnt = 'mnt:[%d]' % facts['self']['mnt']

    def inode(ref):
        return int(ref.split('[')[1][:-1]) if ref else 0
    nsfs = sorted(m['path'] for m in record['bind_mounts'] if m['mnt_ns'] == own_mnt)
    netnsid = None
    if record['type'] == 'net':
        netnsid = 'unassigned' if record['netnsid'] is None else str(record['netnsid'])
    return {'nprocs': record['nprocs'], 'pid': record['pid'], 'ppid': record['ppid'], 'command': record['command'],
            'uid': record['uid'], 'user': record['user'], 'netnsid': netnsid, 'nsfs': '\n'.join(nsfs) or None,
            'pns': inode(record['parent']), 'ons': inode(record['owner'])}


def test_every_namespace_lsns_lists_matches_column_by_column(host, capsys):
    # lsns before and after the module's discovery: rows both lsns runs agree on did not
    # change meanwhile, and the module must give exactly them.
    listed_before = lsns()
    facts = discover(sources=ALL_SOURCES)
    listed_after = dict(('%s:[%d]' % (e['type'], e['ns']), e) for e in lsns())
    lsns_own = set('%s:[%d]' % item for item in facts['self'].items())  # lsns is our child
    zombie, zombie_child = host.extra['zombie']
    # lsns reads only a thread-group leader's links: a zombie leader keeps its pid and user
    # links only, so lsns misses it in every other namespace its live thread is in. The
    # module counts it there.
    zombie_refs = zombie_namespaces(zombie)
    counts = dict((column, [0, 0]) for column in COMPARED)
    problems = []
    deliberate = []
    changed = []
    for entry in listed_before:
        ref = '%s:[%d]' % (entry['type'], entry['ns'])
        if listed_after.get(ref) != entry:
            changed.append(ref)
            continue
        record = facts['namespaces'].get(ref)
        if record is None:
            problems.append((ref, 'not found'))
            continue
        row = as_lsns(record, facts)
        expected = dict(entry)
        if ref in zombie_refs:
            deliberate.append(ref)
            expected['nprocs'] += 1
            if entry['pid'] == zombie_child:  # its own namespaces: lsns's lowest PID is the child
                assert (row['nprocs'], row['pid']) == (expected['nprocs'], zombie), (ref, row, entry)
                continue
        if ref in lsns_own:
            expected['nprocs'] -= 1  # lsns counts itself
        for column in COMPARED:
            counts[column][1] += 1
            if row[column] == expected[column]:
                counts[column][0] += 1
            else:
                problems.append((ref, column, expected[column], row[column]))
    lines = ['lsns -J -o %s: %d namespaces, %d compared (%d changed between the two lsns runs)'
             % (LSNS_COLUMNS, len(listed_before), len(listed_before) - len(changed), len(changed))]
    lines += ['  %-8s %5d/%d equal' % (column, counts[column][0], counts[column][1]) for column in COMPARED]
    lines.append('  %d namespaces of the zombie leader count it on purpose (lsns misses the leader there)'
                 % len(deliberate))
    lines += ['  differs: %s' % (problem,) for problem in problems]
    report(capsys, '\n'.join(lines))
    assert 2 <= len(deliberate) <= 6, 'the zombie leader is in its own net and uts namespaces: %s' % deliberate
    assert len(listed_before) >= SETS * 6, 'the scenario must be in place'
    assert len(changed) <= 16, 'the host must be quiet enough to compare: %s' % changed
    assert problems == [], problems


def test_big_tables_are_complete(host, capsys):
    facts = discover(sources=ALL_SOURCES, process_table=True)
    names = set('/run/netns/' + name for name in host.netns)
    found = set(m['path'] for ns in facts['namespaces'].values() for m in ns['bind_mounts'] if m['path'] in names)
    findmnt = subprocess.run(['findmnt', '-J', '-l', '-t', 'nsfs', '-o', 'TARGET'], capture_output=True, text=True,
                             check=True).stdout
    reference = set(e['target'] for e in json.loads(findmnt)['filesystems']) & names
    procs = facts['processes']
    threaded = [p for p in procs if p['pid'] == host.extra['threaded']]
    report(capsys, 'bind-mounted netns: %d found, findmnt %d, made %d\nprocesses: %d in the table, %d in /proc'
           % (len(found), len(reference), len(names), len(procs), _harness.count_procs()))
    assert found == reference == names
    assert len(procs) >= PROCS
    assert threaded, 'the process with %d threads is in the table' % THREADS
    # What the kernel refuses even to root (here: PID 1 of the machine) is counted and
    # said, never dropped silently.
    refused = []
    for pid in sorted(int(name) for name in os.listdir('/proc') if name.isdigit()):
        try:
            os.readlink('/proc/%d/ns/net' % pid)
        except PermissionError:
            refused.append(pid)
        except OSError:
            continue
    report(capsys, 'processes the kernel refuses to show: %s; skipped as denied: %d'
           % (refused, facts['discovery']['skipped']['permission_denied']))
    assert facts['discovery']['skipped']['permission_denied'] == len(refused)
    assert bool(facts['discovery']['warnings']) == bool(refused), facts['discovery']['warnings']


def test_special_namespaces(host, capsys):
    facts = discover(sources=ALL_SOURCES)
    spaces = facts['namespaces']
    # Held only by a socket: found, with its owner (the initial user namespace).
    socket_only = spaces.get('net:[%d]' % host.extra['socket_only_netns'])
    assert socket_only and socket_only['nprocs'] == 0
    assert [s['pid'] for s in socket_only['sockets']] == [host.extra['socket_holder']]
    assert socket_only['owner'] == 'user:[%d]' % facts['initial']['user']
    # A zombie leader with a live thread: in its namespaces, no false loose threads,
    # its child no leader.
    leader, child = host.extra['zombie']
    net = [ns for ns in spaces.values() if ns['type'] == 'net' and leader in ns['leaders']]
    assert len(net) == 1 and net[0]['nprocs'] >= 2 and child not in net[0]['leaders']
    assert not [ns['ref'] for ns in spaces.values() if any(t['pid'] == leader for t in ns['loose_threads'])]
    # The PID wrap: pid/ppid/command name the lowest PID, the ealdorman the leader.
    wrap_leader, wrap_child = host.extra['wrap']
    assert wrap_child < wrap_leader, 'ns_last_pid gave the child a lower PID'
    uts = [ns for ns in spaces.values() if ns['type'] == 'uts' and wrap_leader in ns['leaders']]
    assert len(uts) == 1
    assert (uts[0]['pid'], uts[0]['ppid'], uts[0]['command'], uts[0]['ealdorman']) == (
        wrap_child, wrap_leader, 'sleep 100000', wrap_leader)
    # A mount namespace no process is in, and the netns only its bind mount holds.
    mnt_inode, hidden_net, path = host.extra['lonely_mnt']
    assert spaces['net:[%d]' % hidden_net]['bind_mounts'] == [{'mnt_ns': 'mnt:[%d]' % mnt_inode, 'path': path}]
    report(capsys, 'socket-only netns, zombie leader, PID wrap (leader %d, child %d), process-less mount namespace: ok'
           % (wrap_leader, wrap_child))


def ss_sockets(netns_name):
    """(inode, owner pids) of every TCP socket ss sees in the namespace."""
    out = subprocess.run(['ip', 'netns', 'exec', netns_name, 'ss', '-Htanpe'], capture_output=True, text=True,
                         check=True).stdout
    sockets = {}
    for line in out.splitlines():
        inode = int(line.split(' ino:')[1].split()[0])
        pids = set(int(part.split(',')[0]) for part in line.split('pid=')[1:])
        sockets[inode] = pids
    return sockets


def test_socket_info_equals_ss_in_every_socket_namespace(host, capsys):
    result = socket_info('/proc', Query({'protocols': ['tcp'], 'state': None, 'port': None, 'container_id': None,
                                         'pod_uid': None, 'pid': None}))
    by_netns = {}
    for row in result['sockets']:
        by_netns.setdefault(row['netns'], {})[row['inode']] = set(o['pid'] for o in row['owners'])
    total = found = 0
    for name in host.extra['socket_netns']:
        ref = 'net:[%d]' % os.stat('/run/netns/' + name).st_ino
        reference = ss_sockets(name)
        ours = by_netns.get(ref, {})
        total += len(reference)
        found += sum(1 for inode, pids in reference.items() if ours.get(inode) == pids)
        assert ours == reference, name
    report(capsys, 'socket_info vs ss -tanp: %d/%d sockets with the same owners over %d netns'
           % (found, total, len(host.extra['socket_netns'])))
    assert total >= SOCKET_NETNS * SOCKETS_PER_NETNS
