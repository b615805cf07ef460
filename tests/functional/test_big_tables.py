# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""/proc tables far over one page, on the real kernel: the kernel hands them out a page
of whole records per read(), so a reader that stops at a short read sees only the first
page. Compared with findmnt, which reads mountinfo to its end."""

import json
import os
import subprocess
import uuid

import pytest

from conftest import discover_full as discover
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcRoot, read_mountinfo


NETNS_COUNT = 150


@pytest.fixture
def many_netns():
    """NETNS_COUNT bind-mounted network namespaces (ip netns add), removed by name."""
    prefix = 'nsops-big-%s-' % uuid.uuid4().hex[:8]
    names = []
    try:
        for index in range(NETNS_COUNT):
            name = '%s%d' % (prefix, index)
            subprocess.run(['ip', 'netns', 'add', name], check=True)
            names.append(name)
        yield ['/run/netns/' + name for name in names]
    finally:
        for name in names:
            subprocess.run(['ip', 'netns', 'delete', name], check=False)


def findmnt_targets():
    out = subprocess.run(['findmnt', '--task', str(os.getpid()), '-J', '-l', '-o', 'TARGET,FSTYPE'],
                         check=True, capture_output=True, text=True).stdout
    return [entry['target'] for entry in json.loads(out)['filesystems']]


def test_mountinfo_over_a_page_is_read_to_the_end(many_netns):
    with open('/proc/self/mountinfo', 'rb') as handle:
        size = len(handle.read())
    assert size > 3 * 4096, 'the scenario must give a mountinfo of several pages'
    mine = [mount.mount_point for mount in read_mountinfo(ProcRoot(), os.getpid())]
    reference = findmnt_targets()
    print('mountinfo: %d bytes, %d mounts read, findmnt lists %d' % (size, len(mine), len(reference)))
    assert len(mine) == len(reference)
    assert set(many_netns) <= set(mine)


def test_every_bind_mounted_netns_is_found(many_netns):
    facts = discover(sources=('tasks', 'fds', 'bind_mounts'))
    inodes = set(os.stat(path).st_ino for path in many_netns)
    found = set(ns['inode'] for ns in facts['namespaces'].values()
                if ns['type'] == 'net' and any(m['path'] in many_netns for m in ns.get('bind_mounts') or []))
    print('bind-mounted netns: %d found of %d' % (len(found), len(inodes)))
    assert found == inodes
