# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ns_parse filter."""


import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.nsops.namespaces.plugins.filter.ns_parse import FilterModule, ns_parse


def test_registered():
    assert FilterModule().filters() == {'ns_parse': ns_parse}


@pytest.mark.parametrize('text, expected', [
    ('net:[4026531833]', {'type': 'net', 'inode': 4026531833}),
    ('user:[4026531837]', {'type': 'user', 'inode': 4026531837}),
    ('time:[1]', {'type': 'time', 'inode': 1}),
    ('mnt:[4026532281]\n', {'type': 'mnt', 'inode': 4026532281}),   # readlink's stdout
])
def test_good(text, expected):
    assert ns_parse(text) == expected


def test_inode_is_an_int():
    assert isinstance(ns_parse('pid:[4026531836]')['inode'], int)


@pytest.mark.parametrize('text', [
    'net:',
    'net:[]',
    'net:[abc]',
    'foo:[12]',
    'pid_for_children:[12]',
    'socket:[12]',
    '/proc/1/ns/net',
    'net:[12] extra',
    '',
])
def test_bad_names_the_text(text):
    with pytest.raises(AnsibleFilterError) as info:
        ns_parse(text)
    message = str(info.value)
    assert message.startswith('ns_parse: ')
    assert repr(text) in message
    assert 'TYPE:[INODE]' in message or 'expected one of' in message


def test_unknown_type_lists_the_known_ones():
    with pytest.raises(AnsibleFilterError, match='cgroup, ipc, mnt, net, pid, time, user, uts'):
        ns_parse('foo:[12]')


@pytest.mark.parametrize('value', [None, 4026531833, ['net:[1]'], {'type': 'net'}])
def test_not_text(value):
    with pytest.raises(AnsibleFilterError, match='must be text'):
        ns_parse(value)


def test_huge_inode_is_a_filter_error():
    # int() of more than 4300 digits raises a plain ValueError in Python >= 3.11
    with pytest.raises(AnsibleFilterError):
        ns_parse('net:[%s]' % ('1' * 5000))


@pytest.mark.parametrize('text', ['net:[18446744073709551616]', 'net:[99999999999999999999]'])
def test_inodes_above_64_bits_are_refused(text):
    with pytest.raises(AnsibleFilterError, match='above 2\\*\\*64-1'):
        ns_parse(text)


def test_the_largest_64_bit_inode_is_taken():
    assert ns_parse('net:[18446744073709551615]')['inode'] == (1 << 64) - 1
