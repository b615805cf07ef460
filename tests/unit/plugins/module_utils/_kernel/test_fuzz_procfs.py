# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests: the parsers give a result or ProcParseError, and discover() on a fixture
tree with fuzzed /proc files never raises and always returns facts matching the schema."""


import functools
import os

from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel import procfs
from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import SOURCES, discover
from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import ProcParseError, ProcRoot
from ansible_collections.nsops.namespaces.plugins.plugin_utils._report import render_text
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    BASE_MOUNTINFO, NS_TYPES, ProcTree, basic_host, cgroup_hybrid_text, cgroup_v1_text, cgroup_v2_text,
    nsfs_mount_line, schema_errors, scratch_dir, stat_text, status_text,
)

# No explain phase: it reruns a failing tree case hundreds of times.
FAST = settings(max_examples=100, deadline=None, database=None,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PARSERS = settings(max_examples=100, deadline=None, database=None)

# Text that can be written to a file with surrogateescape (no lone surrogates but the
# U+DC80..U+DCFF ones that stand for undecodable bytes).
TEXT_CHARS = st.one_of(st.characters(blacklist_categories=('Cs',)), st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF))
junk = st.text(alphabet=TEXT_CHARS, max_size=40)
# Symlink targets: no NUL, not empty, encodable as a file name.
link_junk = st.text(alphabet=st.characters(blacklist_categories=('Cs',), blacklist_characters='\x00'),
                    min_size=1, max_size=60)
ints = st.one_of(st.integers(-3, 10), st.integers(0, 2 ** 64), st.integers(-2 ** 63, 2 ** 63))
inodes = st.one_of(st.integers(0, 5), st.integers(4026531800, 4026540000), st.integers(0, 2 ** 64))
ns_type_names = st.sampled_from(NS_TYPES + ('bogus', 'pid_for_children', 'socket', ''))
special = st.sampled_from(['', ':', '[', ']', '(', ')', '\n', '\t', ' ', '-', '\\040', '0', '-1', 'net:[', '\x00', '\udcff'])


# ---------------------------------------------------------------------------- mutations

@st.composite
def mutated(draw, text):
    """``text`` with 0-3 random edits: truncate, replace a token, insert junk, drop a line."""
    for dummy in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(['truncate', 'token', 'insert', 'dropline']))
        if op == 'truncate':
            text = text[:draw(st.integers(0, len(text)))]
        elif op == 'token':
            tokens = text.split(' ')
            index = draw(st.integers(0, len(tokens) - 1))
            tokens[index] = draw(st.one_of(ints.map(str), junk, special))
            text = ' '.join(tokens)
        elif op == 'insert':
            pos = draw(st.integers(0, len(text)))
            text = text[:pos] + draw(st.one_of(junk, special)) + text[pos:]
        else:
            lines = text.split('\n')
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = '\n'.join(lines)
    return text


def file_text(template):
    """A valid text from ``template``, mutated, or arbitrary text."""
    return st.one_of(template, template.flatmap(mutated), junk, st.just(''))


@functools.lru_cache(maxsize=None)
def stat_texts(pid):
    return file_text(st.builds(
        lambda comm, state, ppid, start: stat_text(pid, comm, state=state, ppid=ppid, starttime=start),
        junk, st.sampled_from('RSDZTXI'), ints, ints))


@functools.lru_cache(maxsize=None)
def status_texts(pid):
    return file_text(st.builds(
        lambda name, ppid, uid, nspid, cap: status_text(name.replace('\n', ' '), pid, ppid=ppid, uid=uid,
                                                        nspid=nspid, cap_eff=cap),
        junk, ints, ints, st.lists(ints, min_size=0, max_size=4),
        st.one_of(st.just('000001ffffffffff'), junk)))


@functools.lru_cache(maxsize=None)
def cgroup_texts():
    path = st.one_of(st.just('/'), junk.map(lambda s: '/' + s), junk)
    return file_text(st.one_of(
        path.map(cgroup_v2_text),
        path.map(cgroup_v1_text),
        st.builds(cgroup_hybrid_text, path, path)))


@functools.lru_cache(maxsize=None)
def mountinfo_texts():
    line = st.builds(nsfs_mount_line,
                     ints, ns_type_names, inodes, st.one_of(junk, junk.map(lambda s: '/run/netns/' + s)))
    return file_text(st.lists(line, max_size=3).map(lambda lines: BASE_MOUNTINFO + ''.join(lines)))


@functools.lru_cache(maxsize=None)
def link_texts(name):
    nstype = name.replace('_for_children', '')
    return st.one_of(
        inodes.map(lambda i: '%s:[%d]' % (nstype, i)),
        st.builds(lambda t, i: '%s:[%s]' % (t, i), ns_type_names, st.one_of(inodes.map(str), link_junk)),
        st.builds(lambda i: '%s:[%d]' % (nstype, i), inodes).flatmap(mutated).filter(lambda s: s and '\x00' not in s),
        link_junk,
        st.just(nstype + ':'),
        st.none(),                                 # link left out
    )


LINK_NAMES = procfs.NS_LINKS
FD_TEXTS = st.one_of(
    st.builds(lambda t, i: '%s:[%d]' % (t, i), st.sampled_from(NS_TYPES), inodes),
    st.builds(lambda t, i: '%s:[%s]' % (t, i), ns_type_names, link_junk),
    st.sampled_from(['/dev/null', 'socket:[12]', 'pipe:[3]', 'anon_inode:[eventfd]', 'net:', 'mnt:[]']),
    link_junk,
)


@st.composite
def processes(draw, pid):
    spec = {
        'stat': draw(stat_texts(pid)),
        'status': draw(status_texts(pid)),
        'cgroup': draw(cgroup_texts()),
        'mountinfo': draw(mountinfo_texts()),
        'cmdline': draw(st.binary(max_size=30)),
    }
    fuzzed_links = draw(st.lists(st.sampled_from(LINK_NAMES), unique=True, max_size=4))
    spec['ns_texts'] = dict((name, draw(link_texts(name))) for name in fuzzed_links)
    spec['fds'] = draw(st.dictionaries(st.integers(0, 20), FD_TEXTS, max_size=3))
    if draw(st.booleans()):
        thread_name = draw(st.sampled_from(NS_TYPES))
        spec['thread_link'] = (thread_name, draw(link_texts(thread_name)))
    return spec


@st.composite
def trees(draw):
    pids = draw(st.lists(st.integers(3, 60), unique=True, min_size=1, max_size=3))
    return dict((pid, draw(processes(pid))) for pid in pids)


def build(path, spec):
    tree = basic_host(path)
    for pid, proc in sorted(spec.items()):
        tree.add_process(pid, stat=proc['stat'], status=proc['status'], cgroup=proc['cgroup'],
                         mountinfo=proc['mountinfo'], cmdline=proc['cmdline'], ns_texts=proc['ns_texts'],
                         fds=proc['fds'], threads={pid + 1000: {}})
        if 'thread_link' in proc:
            name, text = proc['thread_link']
            if text is None:
                tree.remove('%d/task/%d/ns/%s' % (pid, pid + 1000, name))
            else:
                tree.link('%d/task/%d/ns/%s' % (pid, pid + 1000, name), text)
    return tree


# ---------------------------------------------------------------------------- the tree

@FAST
@given(spec=trees())
def test_discover_never_raises_and_matches_schema(spec):
    with scratch_dir() as tmp:
        tree = build(os.path.join(tmp, 'proc'), spec)
        facts = discover(proc_root=tree.path, sources=SOURCES, process_table=True)
        errors = schema_errors(facts)
        assert not errors, errors
        disc = facts['discovery']
        # every PID directory is either scanned or counted as skipped
        assert disc['processes_scanned'] + sum(disc['skipped'].values()) == 2 + len(spec)
        assert len(facts['processes']) == disc['processes_scanned']
        # the two healthy processes are always there
        assert set([1, 2]) <= set(p['pid'] for p in facts['processes'])
        assert isinstance(render_text(facts, 'fuzz'), str)


@FAST
@given(text=st.one_of(link_junk, st.builds(lambda t, i: '%s:[%s]' % (t, i), ns_type_names, link_junk)))
def test_read_ns_links_gives_links_or_a_counted_error(text):
    with scratch_dir() as tmp:
        tree = ProcTree(tmp)
        tree.add_process(5, ns_texts={'net': text})
        try:
            links = procfs.read_ns_links(ProcRoot(tmp), 5)
        except ProcParseError:
            return
        assert links['net'] >= 0
        assert procfs.parse_ns_ref(text) == ('net', links['net'])


# ---------------------------------------------------------------------------- pure parsers

def _result_or_parse_error(parser, text):
    try:
        return parser(text)
    except ProcParseError:
        return None


@PARSERS
@given(text=st.one_of(st.text(), stat_texts(7)))
def test_parse_stat(text):
    stat = _result_or_parse_error(procfs.parse_stat, text)
    if stat is not None:
        assert isinstance(stat.pid, int) and isinstance(stat.ppid, int) and isinstance(stat.starttime, int)
        assert isinstance(stat.comm, str)


@PARSERS
@given(text=st.one_of(st.text(), status_texts(7)))
def test_parse_status(text):
    status = _result_or_parse_error(procfs.parse_status, text)
    if status is not None:
        assert isinstance(status.name, str)
        assert status.nspid is None or (status.nspid and all(isinstance(p, int) for p in status.nspid))
        assert status.uids is None or len(status.uids) == 4


@PARSERS
@given(text=st.one_of(st.text(), cgroup_texts()))
def test_parse_cgroup(text):
    entries = _result_or_parse_error(procfs.parse_cgroup, text)
    if entries is not None:
        assert all(e.path.startswith('/') for e in entries)
        path = procfs.unified_cgroup_path(entries)
        assert path is None or path.startswith('/')


@PARSERS
@given(text=st.one_of(st.text(), mountinfo_texts()))
def test_parse_mountinfo_with_errors_list_never_raises(text):
    errors = []
    mounts = procfs.parse_mountinfo(text, errors)
    lines = [line for line in text.splitlines() if line]
    assert len(mounts) + len(errors) == len(lines)
    assert all(isinstance(e, str) for e in errors)


@PARSERS
@given(text=st.one_of(st.text(), mountinfo_texts()))
def test_parse_mountinfo_without_errors_list(text):
    _result_or_parse_error(procfs.parse_mountinfo, text)


@PARSERS
@given(text=st.one_of(st.text(), link_texts('net').filter(bool),
                      st.builds(lambda t, i: '%s:[%s]' % (t, i), ns_type_names, st.text())))
def test_parse_ns_ref(text):
    ref = _result_or_parse_error(procfs.parse_ns_ref, text)
    if ref is not None:
        nstype, inode = ref
        assert nstype in NS_TYPES
        assert text.strip().startswith(nstype + ':[')
        assert procfs.parse_ns_ref(procfs.format_ns_ref(nstype, inode)) == ref


@PARSERS
@given(data=st.one_of(st.binary(), st.text()))
def test_parse_cmdline_never_raises(data):
    args = procfs.parse_cmdline(data)
    assert isinstance(args, list) and all(isinstance(a, str) for a in args)
    if isinstance(data, bytes) and data:
        joined = '\0'.join(args).encode('utf-8', 'surrogateescape')
        assert joined == (data[:-1] if data.endswith(b'\0') else data)


@PARSERS
@given(text=st.text())
def test_unescape_mount_path_never_raises(text):
    assert isinstance(procfs.unescape_mount_path(text), str)
