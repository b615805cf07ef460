# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real namespaces for tests, made with unshare(1), ip-netns(8) and small holders.

Every process is recorded by PID and ended by PID; every netns bind mount is deleted.
"""

import os
import signal
import subprocess
import sys
import time
import uuid

# A small stdlib holder process. Modes:
#   fd       - holds an fd on a new netns it left again (a namespace kept only by an fd)
#   socket   - holds a socket created in a new netns it left again
#   thread   - one thread moved into a new netns (a loose thread)
#   zombie   - forked PID 1 of a new PID namespace and never reaped it
#   timechild - unshared a time namespace and never forked (time_for_children only;
#               pid_for_children reads ENOENT until the first child exists)
# It prints "ready <tid or fd>" and sleeps until killed.
HOLDER = r'''
import ctypes, os, socket, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
def unshare(flags):
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), 'unshare')
def setns(fd):
    if libc.setns(fd, 0) != 0:
        raise OSError(ctypes.get_errno(), 'setns')
CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWTIME = 0x40000000, 0x20000000, 0x80
mode = sys.argv[1]
if mode in ('fd', 'socket'):
    home = os.open('/proc/self/ns/net', os.O_RDONLY)
    unshare(CLONE_NEWNET)
    if mode == 'fd':
        held = os.open('/proc/self/ns/net', os.O_RDONLY)
    else:
        held = socket.socket(socket.AF_INET, socket.SOCK_STREAM).detach()
    setns(home)
    os.close(home)
    print('ready', held, flush=True)
elif mode == 'thread':
    ready = threading.Event()
    box = {}
    def run():
        unshare(CLONE_NEWNET)
        box['tid'] = threading.get_native_id()
        ready.set()
        time.sleep(3600)
    threading.Thread(target=run, daemon=True).start()
    ready.wait()
    print('ready', box['tid'], flush=True)
elif mode == 'zombie':
    unshare(CLONE_NEWPID)
    child = os.fork()
    if child == 0:
        os._exit(0)
    time.sleep(0.2)  # never reaped: a zombie, PID 1 of a new PID namespace
    print('ready', child, flush=True)
elif mode == 'timechild':
    unshare(CLONE_NEWTIME)
    print('ready', 0, flush=True)
time.sleep(3600)
'''


def ns_inode(pid, name):
    return os.stat('/proc/%d/ns/%s' % (pid, name)).st_ino


def children(pid):
    """Direct children of a process (all its threads)."""
    result = []
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/children' % (pid, tid)) as handle:
                result += [int(x) for x in handle.read().split()]
    except OSError:
        pass
    return result


def wait_for(predicate, timeout=10.0, what='condition'):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError('timed out waiting for %s' % what)


class NamespaceLab:
    """Context manager holding every kernel object the namespace tests make."""

    def __init__(self, python=None):
        self.python = python or os.path.realpath(sys.executable)
        self.procs = []       # Popen objects we started
        self.netns = []       # names from `ip netns add`
        self.tag = 'nsopsft-' + uuid.uuid4().hex[:8]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- starting things
    def spawn(self, argv, **kwargs):
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, **kwargs)
        self.procs.append(proc)
        return proc

    def unshare(self, flags, command, fork=True):
        """unshare FLAGS [--fork --kill-child] COMMAND; returns (unshare Popen, workload pid)."""
        argv = ['unshare'] + list(flags)
        if fork:
            argv += ['--fork', '--kill-child=SIGKILL']
        proc = self.spawn(argv + list(command))
        if not fork:
            return proc, proc.pid
        child = wait_for(lambda: (children(proc.pid) or [None])[0], what='child of unshare')
        return proc, child

    def holder(self, mode):
        """Start a HOLDER process; returns (Popen, value printed after 'ready')."""
        proc = self.spawn([self.python, '-c', HOLDER, mode])
        line = proc.stdout.readline().split()
        if not line or line[0] != 'ready':
            raise AssertionError('holder %s did not start' % mode)
        return proc, int(line[1])

    def netns_add(self):
        name = '%s-%d' % (self.tag, len(self.netns))
        subprocess.run(['ip', 'netns', 'add', name], check=True)
        self.netns.append(name)
        return name, '/run/netns/' + name

    # -- ending things
    def close(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                # SIGKILL: PID 1 of a namespace ignores SIGTERM it has no handler for,
                # and unshare --kill-child passes the kill on to its child.
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            if proc.stdout:
                proc.stdout.close()
        self.procs = []
        for name in self.netns:
            subprocess.run(['ip', 'netns', 'del', name], check=False)
        self.netns = []
