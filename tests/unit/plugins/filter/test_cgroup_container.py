# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cgroup_container filter (controller side; the rules themselves: test_cgroups.py)."""


import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.filter.cgroup_container import FilterModule, cgroup_container

ID = 'a' * 64


def test_filter_on_path_text_and_lines():
    assert FilterModule().filters()['cgroup_container'] is cgroup_container
    result = cgroup_container('/kubepods/burstable/pod6d0e25a4-436e-4569-9bae-17785b801a26/%s' % ID)
    assert result['container'] is True
    assert (result['runtime'], result['id'], result['pod_uid'], result['qos']) == (
        'cri', ID, '6d0e25a4-436e-4569-9bae-17785b801a26', 'burstable')
    lines = ['1:name=systemd:/system.slice/docker-%s.scope' % ID, '0::/system.slice/docker-%s.scope' % ID]
    assert cgroup_container(lines)['runtime'] == 'docker'
    assert cgroup_container('\n'.join(lines) + '\n')['id'] == ID
    unknown = cgroup_container('/system.slice/cron.service')
    assert unknown['container'] is False and unknown['runtime'] is None
    assert unknown['path'] == '/system.slice/cron.service'


@pytest.mark.parametrize('value', [None, 42, '', '  ', ['0::/x', 3], 'x:y\n'])
def test_filter_rejects_bad_input_with_a_message(value):
    with pytest.raises(AnsibleFilterError) as exc:
        cgroup_container(value)
    assert 'cgroup_container' in str(exc.value)


@pytest.mark.parametrize('path', ['/docker/%s/../../etc' % ('a' * 64), '/docker/./%s' % ('a' * 64),
                                  '0::/docker/%s/..' % ('a' * 64)])
def test_dot_components_are_no_container(path):
    with pytest.raises(AnsibleFilterError, match='component'):
        cgroup_container(path)
