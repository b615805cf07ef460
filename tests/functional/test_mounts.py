# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mounts: true and the pid_map filter against real mount and PID namespaces, compared
with the kernel's mountinfo, findmnt -N and what a path lookup in the namespace reaches."""

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import discover_full as discover, run_playbook, task_results
from nslab import NamespaceLab, ns_inode, wait_for

from ansible_collections.nsops.namespaces.plugins.filter.pid_map import pid_map
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import assert_valid


# In a private mount namespace below a scratch dir D:
#   D/over: tmpfs lower, lower's child tmpfs D/over/sub, then tmpfs upper over D/over
#   D/a/b: tmpfs deep, then tmpfs prefix at D/a (hides deep)
#   D/shared: tmpfs made shared
SCRIPT = r'''
set -e
D="$1"
mount --make-rprivate /
mkdir -p "$D/over" "$D/a/b" "$D/shared"
mount -t tmpfs nsops-lower "$D/over"
mkdir "$D/over/sub"
mount -t tmpfs nsops-sub "$D/over/sub"
mount -t tmpfs nsops-upper "$D/over"
mount -t tmpfs nsops-deep "$D/a/b"
mount -t tmpfs nsops-prefix "$D/a"
mount -t tmpfs nsops-shared "$D/shared"
mount --make-shared "$D/shared"
touch "$D/ready"
exec sleep 3600
'''


def mountinfo_ids(text):
    return [int(line.split(' ', 1)[0]) for line in text.splitlines() if line]


def by_source(table):
    return dict((m['source'], m) for m in table['mounts'] if m['source'].startswith('nsops-'))


@pytest.fixture(scope='module')
def lab():
    scratch = tempfile.mkdtemp(prefix='nsops-mounts-')
    with NamespaceLab() as nslab:
        unshare, pid = nslab.unshare(['--mount'], ['sh', '-c', SCRIPT, 'sh', scratch])
        wait_for(lambda: os.path.exists('/proc/%d/root%s/ready' % (pid, scratch)) and
                 open('/proc/%d/comm' % pid).read().strip() == 'sleep', what='mounts in the lab namespace')
        yield {'pid': pid, 'dir': scratch, 'mnt': ns_inode(pid, 'mnt')}
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope='module')
def facts(lab):
    facts = discover(mount_tables=True, process_table=True)
    assert_valid(facts)
    return facts


def test_every_mount_namespace_has_its_table(facts):
    mnt_refs = sorted(ref for ref, ns in facts['namespaces'].items() if ns['type'] == 'mnt')
    assert sorted(facts['mounts']) == mnt_refs


def test_table_is_the_kernels_mountinfo(lab, facts):
    table = facts['mounts']['mnt:[%d]' % lab['mnt']]
    with open('/proc/%d/mountinfo' % table['pid']) as handle:
        kernel = handle.read()
    assert [m['mount_id'] for m in table['mounts']] == mountinfo_ids(kernel)
    print('lab namespace: %d mounts, %d hidden' % (len(table['mounts']), sum(m['hidden'] for m in table['mounts'])))


def test_equal_to_findmnt(lab, facts):
    out = subprocess.run(['findmnt', '-N', str(lab['pid']), '-J', '-l', '-o',
                          'ID,PARENT,MAJ:MIN,FSROOT,TARGET,FSTYPE,PROPAGATION'],
                         check=True, capture_output=True, text=True).stdout
    findmnt = dict((row['id'], row) for row in json.loads(out)['filesystems'])
    table = facts['mounts']['mnt:[%d]' % lab['mnt']]['mounts']
    assert sorted(findmnt) == sorted(m['mount_id'] for m in table)
    for mount in table:
        row = findmnt[mount['mount_id']]
        assert (mount['parent_id'], mount['dev'], mount['root'], mount['mount_point'], mount['fstype'],
                mount['propagation']) == (row['parent'], row['maj:min'], row['fsroot'], row['target'],
                                          row['fstype'], row['propagation']), row


def test_visibility(lab, facts):
    table = facts['mounts']['mnt:[%d]' % lab['mnt']]
    ours = by_source(table)
    assert dict((source, m['hidden']) for source, m in ours.items()) == {
        'nsops-lower': True, 'nsops-sub': True, 'nsops-upper': False,
        'nsops-deep': True, 'nsops-prefix': False, 'nsops-shared': False}
    assert ours['nsops-shared']['propagation'] == 'shared' and ours['nsops-shared']['peer_group']
    assert ours['nsops-upper']['propagation'] == 'private'
    # The kernel agrees: a path lookup inside the namespace reaches the visible mount
    # and never a hidden one.
    root = '/proc/%d/root' % lab['pid']
    checked = 0
    for mount in table['mounts']:
        try:
            st = os.stat(root + mount['mount_point'])
        except OSError:
            continue
        dev = '%d:%d' % (os.major(st.st_dev), os.minor(st.st_dev))
        if mount['hidden']:
            assert dev != mount['dev'] or mount['source'].startswith('/'), mount  # a bind of the same fs may remain
        else:
            assert dev == mount['dev'], mount
        checked += 1
    assert checked >= len(ours)
    # The same hidden mounts as in the namespace it was copied from, plus ours.
    own = facts['mounts']['mnt:[%d]' % facts['self']['mnt']]
    inherited = set(m['mount_point'] for m in own['mounts'] if m['hidden'])
    hidden = set(m['mount_point'] for m in table['mounts'] if m['hidden'])
    assert hidden == inherited | {lab['dir'] + '/over', lab['dir'] + '/over/sub', lab['dir'] + '/a/b'}


def test_namespace_without_a_process(lab):
    """A mount namespace kept only by a bind mount is read by joining it (as lxkns)."""
    holder_dir = tempfile.mkdtemp(prefix='nsops-mntns-')
    subprocess.run(['mount', '--bind', holder_dir, holder_dir], check=True)
    try:
        subprocess.run(['mount', '--make-private', holder_dir], check=True)
        path = os.path.join(holder_dir, 'mnt')
        open(path, 'w').close()
        subprocess.run(['unshare', '--mount=' + path, '--propagation', 'private', 'sh', '-c',
                        'mkdir -p %s/x && mount -t tmpfs nsops-lonely %s/x' % (lab['dir'], lab['dir'])], check=True)
        inode = os.stat(path).st_ino
        kernel = subprocess.run(['nsenter', '--mount=' + path, 'cat', '/proc/self/mountinfo'],
                                check=True, capture_output=True, text=True).stdout
        facts = discover(mount_tables=True)
        assert_valid(facts)
        table = facts['mounts']['mnt:[%d]' % inode]
        assert (table['pid'], table['via']) == (None, 'setns')
        assert [m['mount_id'] for m in table['mounts']] == mountinfo_ids(kernel)
        assert 'nsops-lonely' in by_source(table)
        assert not [w for w in facts['discovery']['warnings'] if 'mount table' in w]
    finally:
        subprocess.run(['umount', '-l', os.path.join(holder_dir, 'mnt')], check=False)
        subprocess.run(['umount', '-l', holder_dir], check=False)
        shutil.rmtree(holder_dir, ignore_errors=True)


# ---------------------------------------------------------------------------- pid_map

def nspid(pid):
    with open('/proc/%d/status' % pid) as handle:
        for line in handle:
            if line.startswith('NSpid:'):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError('no NSpid')


def test_pid_map_over_nested_pid_namespaces():
    with NamespaceLab() as nslab:
        dummy, middle_init = nslab.unshare(['--pid', '--mount-proc'], [
            'unshare', '--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', 'sh', '-c', 'sleep 3600 & exec sleep 3600'])
        # The inner namespace: its PID 1 (sh, then sleep) and PID 2 (sleep).
        inner = wait_for(lambda: _two([p for p in (int(x) for x in os.listdir('/proc') if x.isdigit())
                                       if _chain_len(p) == 3 and _comm(p) == 'sleep'
                                       and _ppid(p) in (middle_init, ) + tuple(_children_of(middle_init))]),
                         what='the inner sleeps')
        facts = discover(process_table=True)
        assert_valid(facts)
        middle_ns = 'pid:[%d]' % ns_inode(middle_init, 'pid')
        for pid in inner:
            chain = nspid(pid)
            inner_ns = 'pid:[%d]' % ns_inode(pid, 'pid')
            assert facts['namespaces'][inner_ns]['parent'] == middle_ns
            assert pid_map(facts, chain[2], inner_ns) == pid
            assert pid_map(facts, chain[2], inner_ns, middle_ns) == chain[1]
            assert pid_map(facts, chain[1], middle_ns, inner_ns) == chain[2]
            assert pid_map(facts, pid, 'initial', inner_ns) == chain[2]
        # The middle namespace's init is not visible in the inner one.
        assert pid_map(facts, middle_init, 'initial', middle_ns) == 1
        assert pid_map(facts, 1, middle_ns, 'pid:[%d]' % ns_inode(inner[0], 'pid')) is None
        mapping = pid_map(facts, 'all', 'pid:[%d]' % ns_inode(inner[0], 'pid'), 'initial')
        assert sorted(mapping.values()) == sorted(inner)


def _status(pid, key):
    try:
        with open('/proc/%d/status' % pid) as handle:
            for line in handle:
                if line.startswith(key + ':'):
                    return line.split()[1:]
    except OSError:
        return None
    return None


def _two(pids):
    return pids if len(pids) == 2 else None


def _children_of(pid):
    return [int(x) for x in os.listdir('/proc') if x.isdigit() and _ppid(int(x)) == pid]


def _chain_len(pid):
    return len(_status(pid, 'NSpid') or ())


def _ppid(pid):
    return int((_status(pid, 'PPid') or ['0'])[0])


def _comm(pid):
    return (_status(pid, 'Name') or [''])[0]


def test_module_and_filter_in_a_play(lab, tmp_path):
    playbook = '''
    - hosts: localhost
      gather_facts: false
      tasks:
        - name: facts
          nsops.namespaces.namespace_facts:
            mounts: true
            pids: [%(pid)d]
        - name: map
          ansible.builtin.debug:
            msg: "{{ ansible_facts.namespaces | nsops.namespaces.pid_map(%(pid)d, 'initial', 'initial') }}"
        - name: hidden
          ansible.builtin.debug:
            msg: "{{ ansible_facts.namespaces.mounts['mnt:[%(mnt)d]'].mounts | selectattr('hidden')
                     | map(attribute='source') | select('match', 'nsops-') | sort }}"
    ''' % lab
    rc, result = run_playbook(tmp_path, playbook)
    assert rc == 0
    assert task_results(result, 'map')['msg'] == lab['pid']
    assert task_results(result, 'hidden')['msg'] == ['nsops-deep', 'nsops-lower', 'nsops-sub']
