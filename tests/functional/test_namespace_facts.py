# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""namespace_facts against real namespaces: compared with lsns -J and with the ioctls."""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import jsonschema
import pytest

from conftest import BIN_DIR, PYTHON, REPO, ansible_env, run_playbook, task_results
from nslab import NamespaceLab, children, ns_inode, wait_for

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.model import expand_facts
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover as discover_lean

ALL_SOURCES = ('tasks', 'fds', 'sockets', 'bind_mounts')
NS_GET_PARENT = 0xb702
NS_GET_USERNS = 0xb701
NS_GET_OWNER_UID = 0xb704

with open(os.path.join(REPO, 'meta', 'schemas', 'namespace_facts.json')) as _handle:
    SCHEMA = json.load(_handle)
# The full shape (ns_expand) of the lean facts, schema version 1.
with open(os.path.join(REPO, 'tests', 'unit', 'fixtures', 'namespace_facts.schema-v1.json')) as _handle:
    SCHEMA_V1 = json.load(_handle)


def validate(facts):
    """Against the schema of the facts' own version: 2 as the module returns them, 1 once expanded."""
    schema = SCHEMA if facts['discovery'].get('schema_version', 1) >= 2 else SCHEMA_V1
    jsonschema.validate(json.loads(json.dumps(facts)), schema, cls=jsonschema.Draft202012Validator)


def discover(**kwargs):
    """discover() in the full shape (nsops.namespaces.ns_expand): lsns's columns in every
    record. The lean result is checked against the schema first."""
    lean = discover_lean(**kwargs)
    validate(lean)
    return expand_facts(lean)


def ioctl_inode(path, request):
    """Inode of the namespace an NS_GET_* ioctl returns, or None (EPERM at the top)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            new = fcntl.ioctl(fd, request)
        except PermissionError:
            return None
        try:
            return os.fstat(new).st_ino
        finally:
            os.close(new)
    finally:
        os.close(fd)


@pytest.fixture(scope='module')
def lab():
    """Namespaces of every type and every kind of reference, kept for the module."""
    with NamespaceLab() as nslab:
        info = {}
        # All eight types at once, two processes inside.
        info['full_unshare'], info['full'] = nslab.unshare(
            ['--user', '--map-root-user', '--pid', '--net', '--mount', '--uts', '--ipc', '--cgroup',
             '--time', '--mount-proc'], ['sh', '-c', 'sleep 3600 & exec sleep 3600'])
        # Nested PID namespaces: outer PID 1 is an unshare that forks the inner sleep.
        info['outer'] = nslab.unshare(['--pid', '--mount-proc', '--mount'],
                                      ['unshare', '--pid', '--fork', '--kill-child=SIGKILL', 'sleep', '3600'])[1]
        info['inner'] = wait_for(lambda: (children(info['outer']) or [None])[0], what='nested pid ns')
        # A user namespace with no process of its own: the sleep is in a child of it.
        info['deep_user'] = nslab.unshare(['--user', '--map-root-user'],
                                          ['unshare', '--user', '--map-root-user', 'sleep', '3600'], fork=False)[1]
        wait_for(lambda: open('/proc/%d/comm' % info['deep_user']).read().strip() == 'sleep', what='deep user')
        info['netns_name'], info['netns_path'] = nslab.netns_add()
        info['fd_holder'], info['held_fd'] = nslab.holder('fd')
        info['socket_holder'], info['socket_fd'] = nslab.holder('socket')
        info['thread_holder'], info['tid'] = nslab.holder('thread')
        info['timechild_holder'] = nslab.holder('timechild')[0]
        info['zombie_holder'], info['zombie'] = nslab.holder('zombie')
        yield info


def lsns():
    """Every namespace lsns -J lists; it nests some under others (kdevtmpfs's mount
    namespace below the initial one), so the tree is flattened."""
    out = subprocess.run(['lsns', '-J'], capture_output=True, text=True, check=True).stdout
    flat = []
    pending = list(json.loads(out)['namespaces'])
    while pending:
        entry = pending.pop()
        pending.extend(entry.pop('children', None) or [])
        flat.append(entry)
    return flat


def lsns_mismatches():
    """Compare one lsns -J run with the discoveries just before and after it."""
    facts = discover(sources=ALL_SOURCES)
    listed = lsns()
    facts_after = discover(sources=ALL_SOURCES)
    own = set('%s:[%d]' % item for item in facts['self'].items())
    assert len(listed) >= 8 + 8
    problems = []
    for entry in listed:
        ref = '%s:[%d]' % (entry['type'], entry['ns'])
        if ref not in facts['namespaces'] and ref in facts_after['namespaces']:
            continue  # made by another process between the first discovery and lsns
        assert ref in facts['namespaces'], ref
        record = facts['namespaces'][ref]
        assert record['type'] == entry['type'] and record['inode'] == entry['ns']
        counts = (record['nprocs'], facts_after['namespaces'].get(ref, record)['nprocs'])
        if ref in own:
            # Processes come and go in the host namespaces (lsns itself among them):
            # lsns's count must lie between the counts of the discoveries around it.
            if not min(counts) - 2 <= entry['nprocs'] <= max(counts) + 2:
                problems.append((ref, counts, entry['nprocs']))
        else:
            assert entry['nprocs'] in counts, (ref, counts, entry)
            assert record['pid'] == entry['pid'], ref
    return problems


def test_every_lsns_namespace_is_found_with_the_same_nprocs(lab):
    # The lab's namespaces must match exactly every time; the host's own namespaces,
    # where other processes come and go, in at least one of ten tries.
    problems = []
    for dummy in range(10):
        problems.append(lsns_mismatches())
        if not problems[-1]:
            break
        time.sleep(0.5)
    assert [] in problems, problems


def test_lab_namespaces_and_their_references(lab):
    facts = discover(sources=ALL_SOURCES)
    validate(facts)
    spaces = facts['namespaces']

    full = lab['full']
    for nstype in ('cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'):
        ref = '%s:[%d]' % (nstype, ns_inode(full, nstype))
        assert ref in spaces
        assert facts['initial'][nstype] != spaces[ref]['inode'], nstype
        if nstype in ('pid', 'time'):
            # Only children of unshare(1) enter new PID and time namespaces.
            leader, members = full, 2
        else:
            leader, members = lab['full_unshare'].pid, 3
        assert spaces[ref]['nprocs'] == members, (nstype, spaces[ref])
        assert spaces[ref]['leaders'] == [leader] and spaces[ref]['ealdorman'] == leader
        assert spaces[ref]['pid'] == min(leader, full)

    bind = spaces['net:[%d]' % os.stat(lab['netns_path']).st_ino]
    assert bind['nprocs'] == 0 and bind['pid'] is None
    assert {'mnt_ns': 'mnt:[%d]' % ns_inode(os.getpid(), 'mnt'), 'path': lab['netns_path']} in bind['bind_mounts']

    holder = lab['fd_holder'].pid
    held = os.stat('/proc/%d/fd/%d' % (holder, lab['held_fd'])).st_ino
    assert {'pid': holder, 'fd': lab['held_fd']} in spaces['net:[%d]' % held]['fds']
    assert spaces['net:[%d]' % held]['nprocs'] == 0

    thread_holder = lab['thread_holder'].pid
    loose = os.stat('/proc/%d/task/%d/ns/net' % (thread_holder, lab['tid'])).st_ino
    assert loose != ns_inode(thread_holder, 'net')
    assert {'pid': thread_holder, 'tid': lab['tid']} in spaces['net:[%d]' % loose]['loose_threads']

    sock_holder = lab['socket_holder'].pid
    socket_refs = [ns for ns in spaces.values() if {'pid': sock_holder, 'fd': lab['socket_fd']} in ns['sockets']]
    assert len(socket_refs) == 1 and socket_refs[0]['nprocs'] == 0 and socket_refs[0]['type'] == 'net'

    timechild = lab['timechild_holder'].pid
    future = os.stat('/proc/%d/ns/time_for_children' % timechild).st_ino
    assert future != ns_inode(timechild, 'time')
    assert spaces['time:[%d]' % future]['for_children'] == [timechild]
    assert spaces['time:[%d]' % future]['nprocs'] == 0

    # A zombie keeps its PID namespace (not the others): counted there, as lsns does.
    zombie_pidns = spaces['pid:[%d]' % ns_inode(lab['zombie'], 'pid')]
    assert zombie_pidns['nprocs'] == 1 and zombie_pidns['pid'] == lab['zombie']

    # The socket-held namespace is found only with the sockets source.
    default = discover()
    assert socket_refs[0]['ref'] not in default['namespaces']
    assert default['discovery']['sources'] == ['processes', 'tasks', 'bind_mounts']


def test_hierarchy_and_owners_match_the_ioctls(lab):
    facts = discover(sources=ALL_SOURCES)
    spaces = facts['namespaces']
    checked = 0
    for ref, ns in spaces.items():
        if ns['pid'] is None:
            continue
        path = '/proc/%d/ns/%s' % (ns['pid'], ns['type'])
        try:
            if os.stat(path).st_ino != ns['inode']:
                continue  # the process changed since discovery
        except FileNotFoundError:
            continue
        if ns['type'] in ('pid', 'user'):
            parent = ioctl_inode(path, NS_GET_PARENT)
            assert ns['parent'] == (None if parent is None else '%s:[%d]' % (ns['type'], parent)), ref
        owner = ioctl_inode(path, NS_GET_USERNS)
        assert ns['owner'] == (None if owner is None else 'user:[%d]' % owner), ref
        checked += 1
    assert checked >= 16

    # Nested PID namespaces: inner -> outer -> initial.
    inner = spaces['pid:[%d]' % ns_inode(lab['inner'], 'pid')]
    outer = spaces['pid:[%d]' % ns_inode(lab['outer'], 'pid')]
    assert inner['parent'] == outer['ref']
    assert outer['parent'] == 'pid:[%d]' % facts['initial']['pid']
    assert inner['ref'] in outer['children']
    assert facts['roots']['pid'] == ['pid:[%d]' % facts['initial']['pid']]

    # The intermediate user namespace has no process: found by climbing, marked hidden.
    deep = spaces['user:[%d]' % ns_inode(lab['deep_user'], 'user')]
    middle = spaces[deep['parent']]
    assert middle['hidden'] is True and middle['nprocs'] == 0
    assert middle['parent'] == 'user:[%d]' % facts['initial']['user']
    assert middle['owner_uid'] == 0 and deep['owner_uid'] == 0
    assert deep['owner'] == middle['ref']
    # Namespaces created inside the full set's user namespace are owned by it.
    full_user = 'user:[%d]' % ns_inode(lab['full'], 'user')
    assert spaces['net:[%d]' % ns_inode(lab['full'], 'net')]['owner'] == full_user


def test_process_table_and_nspid(lab):
    facts = discover(pids=[lab['inner'], lab['full']])
    table = dict((p['pid'], p) for p in facts['processes'])
    assert set(table) == {lab['inner'], lab['full']}
    inner = table[lab['inner']]
    assert len(inner['nspid']) == 3 and inner['nspid'][0] == lab['inner'] and inner['nspid'][-1] == 1
    assert inner['namespaces']['pid'] == ns_inode(lab['inner'], 'pid')
    assert inner['cmdline'] == ['sleep', '3600'] and inner['name'] == 'sleep'
    assert table[lab['full']]['nspid'][-1] == 1
    validate(facts)


def drop_caps():
    """As root but without any capability: what a plain user's view looks like."""
    return ['setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--']


def test_module_without_cap_sys_ptrace_succeeds_and_counts_skips(lab, tmp_path):
    playbook = '''
    - hosts: localhost
      gather_facts: false
      tasks:
        - name: facts
          nsops.namespaces.namespace_facts:
    '''
    path = tmp_path / 'p.yml'
    path.write_text(playbook)
    inventory = tmp_path / 'inv.yml'
    inventory.write_text('all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
                         '      ansible_python_interpreter: %s\n' % PYTHON)
    proc = subprocess.run(drop_caps() + [os.path.join(BIN_DIR, 'ansible-playbook'),
                                         '-i', str(inventory), str(path)],
                          env=ansible_env(), capture_output=True, text=True, timeout=300, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout[proc.stdout.index('{'):])
    task = task_results(result, 'facts')
    facts = task['ansible_facts']['namespaces']
    validate(facts)
    disc = facts['discovery']
    assert disc['capabilities']['sys_ptrace'] is False and disc['capabilities']['sys_admin'] is False
    assert disc['skipped']['permission_denied'] > 5
    assert any('permission denied' in w and 'become: true' in w for w in task['warnings'])
    # Root's own processes with full capabilities are out of reach without CAP_SYS_PTRACE
    # (those inside a user namespace root created stay readable: root owns that namespace).
    assert 'pid:[%d]' % ns_inode(lab['inner'], 'pid') not in facts['namespaces']


def test_unprivileged_user_sees_several_roots_instead_of_failing(lab, request):
    """nobody, in a user and PID namespace of its own, reading the host's /proc.

    The parent of its own PID namespace is out of its reach (NS_GET_PARENT: EPERM) while
    its parent process, still in the initial PID namespace, is readable: two PID roots.
    """
    python = '/usr/bin/python3'  # readable by nobody, unlike root's pyenv
    if not os.path.exists(python):
        pytest.skip('no system python3 for the unprivileged run')
    code = tempfile.mkdtemp(prefix='nsops-nobody-')  # tmp_path is private to root
    os.chmod(code, 0o755)
    os.makedirs(os.path.join(code, 'ansible_collections', 'nsops'))
    os.symlink(REPO, os.path.join(code, 'ansible_collections', 'nsops', 'namespaces'))
    request.addfinalizer(lambda: shutil.rmtree(code))
    script = ('import json, sys; sys.path.insert(0, %r); '
              'from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover; '
              'print(json.dumps(discover()))' % code)
    out = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--',
                          'unshare', '--user', '--map-root-user', '--pid', '--fork', '--kill-child=SIGKILL',
                          python, '-c', script],
                         capture_output=True, text=True, timeout=60, cwd='/', check=False)
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    validate(facts)
    assert facts['discovery']['skipped']['permission_denied'] > 5
    assert facts['discovery']['warnings']
    assert len(facts['roots']['pid']) >= 2, facts['roots']
    assert 'pid:[%d]' % facts['self']['pid'] in facts['roots']['pid']
    assert 'pid:[%d]' % ns_inode(os.getpid(), 'pid') in facts['roots']['pid']


# Starts and ends short-lived processes as fast as it can until SIGTERM, then prints
# how many it started. A separate process, so that it does not share our GIL.
CHURNER = r'''
import os, random, signal, sys, time

count = 0
running = True
def stop(*_):
    global running
    running = False
signal.signal(signal.SIGTERM, stop)
print('ready', flush=True)
while running:
    pid = os.fork()
    if pid == 0:
        time.sleep(random.random() * 0.02)
        os._exit(0)
    count += 1
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    time.sleep(0.001)
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
print(count, flush=True)
'''


def test_fifty_discoveries_during_process_churn(lab):
    churner = subprocess.Popen([sys.executable, '-c', CHURNER], stdout=subprocess.PIPE, text=True)
    try:
        assert churner.stdout.readline().strip() == 'ready'
        started = time.time()
        failures = []
        for round_ in range(50):
            try:
                facts = discover(sources=ALL_SOURCES, process_table=round_ % 5 == 0)
                validate(facts)
            except Exception as exc:  # any failure counts
                failures.append(repr(exc))
        elapsed = time.time() - started
    finally:
        churner.terminate()
        out = churner.communicate(timeout=30)[0]
    rate = int(out.split()[-1]) / elapsed
    assert rate >= 100, 'churn rate only %.0f/s' % rate
    assert failures == []


def test_proc_root_of_a_bind_mounted_proc(lab, tmp_path):
    """A host /proc mounted elsewhere (like a DaemonSet's /host/proc) reads the same."""
    target = tmp_path / 'hostproc'
    target.mkdir()
    subprocess.run(['mount', '-t', 'proc', 'proc', str(target)], check=True)
    try:
        facts = discover(proc_root=str(target))
    finally:
        subprocess.run(['umount', str(target)], check=True)
    assert facts['discovery']['procfs'] is True
    assert facts['discovery']['proc_root'] == str(target)
    assert 'net:[%d]' % ns_inode(lab['full'], 'net') in facts['namespaces']
    assert facts['namespaces']['user:[%d]' % ns_inode(lab['full'], 'user')]['parent'] is not None


def test_playbook_and_check_mode(lab, tmp_path):
    playbook = '''
    - hosts: localhost
      gather_facts: false
      tasks:
        - name: facts
          nsops.namespaces.namespace_facts:
            sources: [tasks, fds, sockets, bind_mounts]
            pids: [%d, %d]
        - name: compare
          ansible.builtin.debug:
            msg: "{{ ansible_facts.namespaces | nsops.namespaces.ns_compare(%d, %d) }}"
    ''' % (lab['outer'], lab['inner'], lab['outer'], lab['inner'])
    for check in (False, True):
        rc, result = run_playbook(tmp_path, playbook, check=check)
        assert rc == 0
        task = task_results(result, 'facts')
        assert task['changed'] is False
        facts = task['ansible_facts']['namespaces']
        assert [p['pid'] for p in facts['processes']] == sorted([lab['outer'], lab['inner']])
        assert 'pid:[%d]' % ns_inode(lab['inner'], 'pid') in facts['namespaces']
        comparison = task_results(result, 'compare')['msg']
        assert comparison['different'] == ['pid']
        assert comparison['shared'] == ['cgroup', 'ipc', 'mnt', 'net', 'time', 'user', 'uts']


def test_types_limit_what_is_read_and_reported(lab):
    facts = discover(types=['net'], sources=ALL_SOURCES)
    validate(facts)
    assert set(ns['type'] for ns in facts['namespaces'].values()) == {'net'}
    assert facts['discovery']['types'] == ['net']
    assert set(facts['initial']) == {'net'}
    full_net = 'net:[%d]' % ns_inode(lab['full'], 'net')
    assert facts['namespaces'][full_net] == discover(sources=ALL_SOURCES)['namespaces'][full_net]
    # The bind-mounted netns is still found although mnt is not reported.
    assert any(ns['bind_mounts'] for ns in facts['namespaces'].values())
    assert facts['roots'] == {'pid': [], 'user': []}


def test_forked_workers_and_a_single_process_find_the_same(lab, monkeypatch):
    from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import parallel

    def without_timing(facts):
        facts['discovery'].pop('duration')
        return facts

    for attempt in range(5):
        monkeypatch.setattr(parallel, 'MIN_ITEMS', 1)
        forked = without_timing(discover(sources=ALL_SOURCES, process_table=True))
        monkeypatch.setattr(parallel, 'MIN_ITEMS', 10 ** 9)
        serial = without_timing(discover(sources=ALL_SOURCES, process_table=True))
        if forked == serial:
            break  # other processes on the host may come and go between the two
    assert forked == serial, attempt
