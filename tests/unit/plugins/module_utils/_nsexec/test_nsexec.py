# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The namespace_exec engine: option checks, the setns order, and real fork/exec runs.

Runs that enter no namespace need no privileges; entering real namespaces is covered by
tests/functional/test_troubleshooting.py.
"""


import errno
import os
import signal
import time

import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import enter
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.child import Reports
from ansible_collections.nsops.namespaces.plugins.module_utils._nsexec import engine as nsexec
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.enter import (
    Target, call_in_namespaces, open_file_target, open_process_target,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import process_alive
from ansible_collections.nsops.namespaces.plugins.module_utils._nsexec.engine import (
    Command, Completed, NsExecError, RequestError, TargetGone, build_command, enter_namespaces, run_command,
)
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import NS_TYPES, ProcRoot, read_stat

PARAMS = {'command': ['true'], 'shell': False, 'timeout': 60.0, 'chdir': '/', 'env': {}, 'stdin': None,
          'stdin_add_newline': True, 'root': False}


def params(**changes):
    result = dict(PARAMS)
    result.update(changes)
    return result


def own_links():
    return dict((t, os.readlink('/proc/self/ns/' + t)) for t in NS_TYPES if os.path.exists('/proc/self/ns/' + t))


def command(argv, **kwargs):
    return Command(argv, {'PATH': nsexec.DEFAULT_PATH, 'HOME': '/root'}, **kwargs)


def alive(pid):
    try:
        return read_stat(ProcRoot('/proc'), pid).state not in ('Z', 'X')
    except OSError:
        return False


# ---------------------------------------------------------------------------- build_command

@pytest.mark.parametrize('value, shell, argv', [
    (['ip', 'addr'], False, ['ip', 'addr']),
    (['echo', 1, 2.5], False, ['echo', '1', '2.5']),
    ('ip -o addr show "dev lo"', False, ['ip', '-o', 'addr', 'show', 'dev lo']),
    ('echo $HOME | wc -c', True, ['/bin/sh', '-c', 'echo $HOME | wc -c']),
])
def test_command_forms(value, shell, argv):
    assert build_command(params(command=value, shell=shell)).argv == argv


@pytest.mark.parametrize('changes, message', [
    ({'command': ['ip', 'addr'], 'shell': True}, 'shell: true runs a command line through /bin/sh -c and needs command as one string'),
    ({'command': ['ip', {'a': 1}]}, 'every item must be a string'),
    ({'command': 'echo "unbalanced'}, 'cannot be split into arguments'),
    ({'command': ''}, 'command is empty'),
    ({'command': []}, 'command is empty'),
    ({'command': 42}, 'command must be a string or a list'),
    ({'timeout': 0}, 'timeout must be more than 0 seconds, got 0'),
    ({'timeout': -1.5}, 'got -1.5'),
    ({'chdir': 'tmp'}, 'chdir must be an absolute path'),
    ({'env': {'A=B': 'x'}}, "env name 'A=B' is not a valid"),
])
def test_bad_commands(changes, message):
    with pytest.raises(RequestError) as exc:
        build_command(params(**changes))
    assert message in str(exc.value)


def test_environment_is_minimal_plus_env():
    built = build_command(params(env={'LANG': 'C', 'N': 5, 'EMPTY': None}))
    assert built.env == {'PATH': nsexec.DEFAULT_PATH, 'HOME': '/root', 'LANG': 'C', 'N': '5', 'EMPTY': ''}


@pytest.mark.parametrize('stdin, add, expected', [
    (None, True, None), ('abc', True, b'abc\n'), ('abc\n', True, b'abc\n'), ('abc', False, b'abc'), ('', True, b'\n'),
])
def test_stdin_newline(stdin, add, expected):
    assert build_command(params(stdin=stdin, stdin_add_newline=add)).stdin == expected


# ---------------------------------------------------------------------------- setns order

def test_enter_order_is_user_last_and_failures_retried_after_it(monkeypatch):
    calls = []
    refuse_once = set(['mnt'])

    def fake_setns(fd, nstype):
        calls.append(nstype)
        if nstype in refuse_once:
            refuse_once.discard(nstype)
            raise OSError(errno.EPERM, 'not yet')

    monkeypatch.setattr(enter, 'setns', fake_setns)
    enter_namespaces([('user', 1), ('mnt', 2), ('net', 3), ('pid', 4), ('uts', 5), ('cgroup', 6), ('ipc', 7),
                      ('time', 8)])
    assert calls == ['cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time', 'user', 'mnt']


def test_enter_failure_names_the_type_and_the_fix(monkeypatch):
    def fake_setns(fd, nstype):
        if nstype == 'net':
            raise OSError(errno.EPERM, 'no')

    monkeypatch.setattr(enter, 'setns', fake_setns)
    with pytest.raises(NsExecError, match='setns into the net namespace failed: Operation not permitted; the module '
                                          'needs CAP_SYS_ADMIN'):
        enter_namespaces([('net', 3)])


# ---------------------------------------------------------------------------- status reports

def test_reports_are_parsed_across_chunk_boundaries():
    completed = Completed()
    chunks = [b'{"host_pid": 12}\n{"inner_pi', b'd": 3}\n']
    reports = Reports()
    nsexec._take_reports(reports.feed(chunks[0]), completed)
    assert completed.host_pid == 12 and completed.inner_pid is None
    nsexec._take_reports(reports.feed(chunks[1]), completed)
    assert completed.inner_pid == 3
    last = Reports()
    nsexec._take_reports(last.feed(b'not json\n{"exit": 4}\n{"note": "n"}\n{"error": "exec", "errno": 2}')
                         + last.close(), completed)
    assert (completed.rc, completed.notes, completed.error) == (4, ['n'], {'error': 'exec', 'errno': 2})


# ---------------------------------------------------------------------------- real runs (no namespace entered)

def test_run_returns_output_rc_and_pids_and_never_switches_namespaces():
    before = own_links()
    completed = run_command(Target(), command(['sh', '-c', 'echo out; echo err >&2; echo $$; exit 3']))
    assert completed.rc == 3
    assert completed.stdout.decode().splitlines()[0] == 'out'
    assert completed.stderr == b'err\n'
    assert int(completed.stdout.decode().splitlines()[1]) == completed.host_pid == completed.inner_pid
    assert not completed.timed_out and completed.duration > 0
    assert own_links() == before
    assert not alive(completed.host_pid)


def test_stdin_and_large_output_do_not_deadlock():
    data = b'x' * (3 * 1024 * 1024)
    completed = run_command(Target(), command(['sh', '-c', 'cat; cat /proc/self/status >&2'], stdin=data, timeout=30))
    assert completed.rc == 0 and completed.stdout == data and b'Name:' in completed.stderr


def test_stdin_is_dev_null_by_default():
    completed = run_command(Target(), command(['cat']))
    assert completed.rc == 0 and completed.stdout == b''


def test_command_that_ignores_stdin_does_not_hang():
    completed = run_command(Target(), command(['true'], stdin=b'y' * (1024 * 1024)))
    assert completed.rc == 0


def test_environment_and_chdir_are_applied():
    completed = run_command(Target(), Command(['sh', '-c', 'pwd; echo "$GREETING"; echo "$PATH"'],
                                              {'PATH': '/usr/bin:/bin', 'GREETING': 'hi'}, chdir='/tmp'))
    assert completed.stdout.decode().splitlines() == ['/tmp', 'hi', '/usr/bin:/bin']


def test_sigpipe_is_default_again_in_the_command():
    completed = run_command(Target(), command(['sh', '-c', 'yes | head -c 10 >/dev/null; echo done']))
    assert completed.rc == 0 and completed.stdout == b'done\n'


def test_signal_gives_negative_rc():
    completed = run_command(Target(), command(['sh', '-c', 'kill -TERM $$']))
    assert completed.rc == -signal.SIGTERM and completed.signal == signal.SIGTERM


def test_timeout_kills_the_whole_process_group():
    completed = run_command(Target(), command(['sh', '-c', 'sleep 30 & echo $!; wait'], timeout=0.5))
    assert completed.timed_out and completed.rc == -signal.SIGKILL
    assert completed.duration < 10
    background = int(completed.stdout.decode().split()[0])
    deadline = time.time() + 5
    while alive(background) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(background) and not alive(completed.host_pid)


def test_background_process_holding_the_output_is_noted_not_waited_for():
    completed = run_command(Target(), command(['sh', '-c', 'sleep 30 & echo $!']))
    background = int(completed.stdout.decode().split()[0])
    try:
        assert completed.rc == 0
        assert completed.notes and 'background' in completed.notes[0]
        assert completed.duration < nsexec.OUTPUT_GRACE + 5
    finally:
        os.kill(background, signal.SIGKILL)


def test_command_not_found_is_a_clear_error():
    with pytest.raises(NsExecError) as exc:
        run_command(Target(), command(['no-such-command-nsops']))
    assert "command 'no-such-command-nsops' not found inside the target" in str(exc.value)
    assert 'give the full path' in str(exc.value)
    assert exc.value.step == 'exec'


def test_not_executable_is_a_clear_error():
    with pytest.raises(NsExecError, match="cannot execute '/etc/hostname' inside the target"):
        run_command(Target(), command(['/etc/hostname']))


def test_missing_chdir_is_a_clear_error():
    with pytest.raises(NsExecError, match='chdir to /no/such/dir inside the target failed: No such file'):
        run_command(Target(), command(['true'], chdir='/no/such/dir'))


def test_exited_target_is_detected_before_the_fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    target = Target()
    target.proc_fd = os.open('/proc/%d' % pid, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.waitpid(pid, 0)
        with pytest.raises(TargetGone, match='the target process exited before the command could start'):
            run_command(target, command(['true']))
    finally:
        target.close()


# ---------------------------------------------------------------------------- call_in_namespaces

def test_call_in_namespaces_returns_the_childs_bytes():
    assert call_in_namespaces([], lambda: b'%d' % os.getpid()) != str(os.getpid()).encode()


def test_call_in_namespaces_reports_the_childs_error():
    def fail():
        raise ValueError('boom')
    with pytest.raises(NsExecError, match='boom'):
        call_in_namespaces([], fail)


def test_call_in_namespaces_large_answer():
    assert len(call_in_namespaces([], lambda: b'z' * (2 * 1024 * 1024))) == 2 * 1024 * 1024


# ---------------------------------------------------------------------------- targets

def test_own_process_shares_everything():
    with open_process_target(ProcRoot('/proc'), os.getpid()) as target:
        assert target.entries == [] and sorted(target.shared) == sorted(own_links())
        assert target.root_fd is not None and process_alive(target.proc_fd)
    assert target.proc_fd is None


def test_explicit_types_that_are_ours_are_shared():
    with open_process_target(ProcRoot('/proc'), os.getpid(), ['net', 'uts']) as target:
        assert target.entries == [] and sorted(target.shared) == ['net', 'uts']


def test_missing_process_is_gone():
    with pytest.raises(TargetGone, match='no process with PID 4194304 on this host'):
        open_process_target(ProcRoot('/proc'), 4194304)


def test_reused_pid_is_gone():
    starttime = read_stat(ProcRoot('/proc'), os.getpid()).starttime
    with pytest.raises(TargetGone, match='exited after it was looked up'):
        open_process_target(ProcRoot('/proc'), os.getpid(), starttime=starttime + 1)


def test_zombie_is_not_alive():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    fd = os.open('/proc/%d' % pid, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.time() + 5
        while process_alive(fd) and time.time() < deadline:
            time.sleep(0.01)
        assert not process_alive(fd)          # a zombie
        os.waitpid(pid, 0)
        assert not process_alive(fd)          # reaped
    finally:
        os.close(fd)


def test_namespace_file_of_our_own_is_shared():
    with open_file_target(['/proc/self/ns/net', '/proc/self/ns/uts']) as target:
        assert target.entries == [] and sorted(target.shared) == ['net', 'uts']
        assert target.files == {'net': '/proc/self/ns/net', 'uts': '/proc/self/ns/uts'}


@pytest.mark.parametrize('paths, types, message', [
    (['/etc/hostname'], None, '/etc/hostname is not a namespace file'),
    (['/no/such/file'], None, 'cannot open namespace file /no/such/file'),
    (['/proc/self/ns/net', '/proc/%d/ns/net' % os.getpid()], None, 'are both net namespaces'),
    (['/proc/self/ns/net'], ['uts'], 'is a net namespace but namespaces is [uts]'),
    (['/proc/self/ns/net'], ['net', 'ipc'], 'namespaces asks for ipc but no file'),
])
def test_bad_namespace_files(paths, types, message):
    with pytest.raises(NsExecError) as exc:
        open_file_target(paths, types)
    assert message in str(exc.value)


def test_command_dies_with_a_killed_module(tmp_path):
    pid_file = str(tmp_path / 'pid')
    module = os.fork()
    if module == 0:  # stands in for the module process
        try:
            run_command(Target(), command(['sh', '-c', 'echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 30'
                                           % (pid_file, pid_file, pid_file)], timeout=60))
        finally:
            os._exit(0)
    try:
        deadline = time.time() + 10
        while not os.path.exists(pid_file) and time.time() < deadline:
            time.sleep(0.02)
        with open(pid_file) as handle:
            sleeper = int(handle.read())
        assert alive(sleeper)
    finally:
        os.kill(module, signal.SIGKILL)
        os.waitpid(module, 0)
    deadline = time.time() + 5
    while alive(sleeper) and time.time() < deadline:
        time.sleep(0.02)
    assert not alive(sleeper)


# ---------------------------------------------------------------------------- module contract

def module_params(**changes):
    options = params(pid=os.getpid(), container_id=None, pod_uid=None, namespace_files=None, namespaces=None,
                     read_only=False, proc_root='/proc')
    options.update(changes)
    return options


def test_run_answers_a_request_with_the_module_result():
    result = nsexec.run(nsexec.Request.from_params(module_params(command=['echo', 'hi'])))
    assert (result['rc'], result['stdout'], result['changed'], result['warnings']) == (0, 'hi', True, [])
    assert result['pid'] == os.getpid() and result['namespaces_entered'] == {}


def test_check_mode_opens_the_target_and_runs_nothing():
    result = nsexec.run(nsexec.Request.from_params(module_params(command=['false']), check_mode=True))
    assert result['changed'] is True and 'rc' not in result and result['msg'].startswith('not run in check mode')


def test_non_zero_rc_is_the_one_error_with_the_whole_result():
    with pytest.raises(nsexec.NamespaceExecError) as exc:
        nsexec.run(nsexec.Request.from_params(module_params(command='sh -c "echo out; exit 3"', read_only=True)))
    assert exc.value.msg == 'non-zero return code'
    assert (exc.value.result['rc'], exc.value.result['stdout'], exc.value.result['changed']) == (3, 'out', False)


@pytest.mark.parametrize('changes, message', [
    ({'command': []}, 'command is empty'),
    ({'pid': 0}, 'pid must be a positive integer process ID (1 or more), not 0'),
    ({'pid': None, 'container_id': 'xyz!'}, "id 'xyz!' is not a container ID"),
    ({'pid': 4194304}, 'no process with PID 4194304 on this host'),
])
def test_bad_requests_are_the_one_error_without_result_fields(changes, message):
    with pytest.raises(nsexec.NamespaceExecError) as exc:
        nsexec.run(nsexec.Request.from_params(module_params(**changes)))
    assert message in exc.value.msg and exc.value.result == {} and exc.value.warnings == []
