# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Selector options: what is accepted, how it is normalised, and what a bad one is told."""


import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._containers.selector import (
    Selector,
    SelectorError,
    check_pid,
    check_pids,
)

POD1 = '6d0e25a4-436e-4569-9bae-17785b801a26'


@pytest.mark.parametrize('params, message', [
    ({'id': 'xyz'}, "id 'xyz' is not a container ID"),
    ({'id': 'abc-123'}, 'only 0-9 and a-f'),
    ({'id': 'a' * 65}, 'at most 64 characters'),
    ({'pod_uid': 'not-a-uid'}, "pod_uid 'not-a-uid' is not a Kubernetes pod UID"),
    ({'pod_uid': '6d0e25a4-436e-4569-9bae-17785b801a2'}, 'expected 8-4-4-4-12 hexadecimal digits'),
    ({'pid': 0}, 'pid must be a positive integer process ID (1 or more), not 0'),
    ({'pid': -5}, 'not -5'),
    ({'pid': 'abc'}, "pid must be a positive integer process ID, not 'abc'"),
    ({'pid': True}, 'pid must be a positive integer'),
    ({'pid': 10, 'id': 'abc'}, 'cannot be combined with id'),
    ({'pid': 10, 'pod_uid': POD1, 'runtime': 'docker'}, 'cannot be combined with pod_uid, runtime'),
    ({'pid': 1, 'pid_namespace_of': 'abc', 'id': 'abc'}, 'already names the container; remove id'),
    ({'pid_namespace_of': 'abc'}, 'pid_namespace_of needs pid'),
    ({'pid': 1, 'pid_namespace_of': ' '}, 'pid_namespace_of is empty'),
    ({'runtime': 'rkt'}, "runtime 'rkt' is not known"),
    ({'runtime': 'lxc', 'id': 'abc'}, 'lxc containers have no hexadecimal ID'),
    ({'runtime': 'docker', 'name': 'web'}, 'docker containers carry no name'),
    ({'name': 'a/b'}, "name 'a/b' is not a container name"),
])
def test_bad_selectors_say_how_to_fix_them(params, message):
    with pytest.raises(SelectorError) as exc:
        Selector.from_params(params)
    assert message in str(exc.value)


def test_good_selectors_are_normalised():
    selector = Selector.from_params({'id': ' ABC ', 'pod_uid': POD1.replace('-', '_'), 'runtime': 'cri'})
    assert (selector.id, selector.pod_uid, selector.runtime) == ('abc', POD1, 'cri')
    assert Selector.from_params({'pid': '42'}).pid == 42
    empty = Selector.from_params({})
    assert all(getattr(empty, slot) is None for slot in Selector.__slots__)
    assert Selector.from_params({'pod_uid': '82FD1619E13AB23B06D3AD6C3D29858B'}).pod_uid == (
        '82fd1619e13ab23b06d3ad6c3d29858b')


@pytest.mark.parametrize('value, message', [
    (0, 'pid must be a positive integer process ID (1 or more), not 0'),
    (-7, 'pid must be a positive integer process ID (1 or more), not -7'),
    ('x1', "pid must be a positive integer process ID, not 'x1'"),
    (False, 'pid must be a positive integer process ID, not False'),
])
def test_one_pid_check_for_every_module(value, message):
    with pytest.raises(SelectorError) as exc:
        check_pid(value)
    assert str(exc.value) == message


def test_pid_check_names_the_option_and_raises_the_callers_error():
    class OptionError(Exception):
        pass

    with pytest.raises(OptionError, match='^target must be a positive integer process ID'):
        check_pid(0, option='target', error=OptionError)
    assert check_pid(' 12 ') == 12 and check_pid(None) is None


def test_pid_list_check_names_every_bad_pid():
    assert check_pids([3, '4']) == [3, 4] and check_pids(None) == []
    with pytest.raises(SelectorError) as exc:
        check_pids([5, 0, -1, 'x'])
    assert str(exc.value) == "pids must be positive integer process IDs (1 or more); got 0, -1, x"
