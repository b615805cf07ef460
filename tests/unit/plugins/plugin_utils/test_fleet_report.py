# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report: build_report (plugin_utils/_fleet_report.py) on namespace facts of the
fixture /proc trees, and its HTML and Markdown views, the fleet role's templates
(roles/fleet/templates/fleet_report.html.j2 and .md.j2) rendered by Ansible's template
lookup, the engine of the role's ansible.builtin.template tasks."""


import copy
import json
import os
import re
from collections import Counter
from collections.abc import Mapping
from markupsafe import escape as markup_escape
from html.parser import HTMLParser

import jsonschema
import pytest

from ansible_collections.nsops.namespaces.plugins.module_utils._discovery.pipeline import discover
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar
from ansible.utils.collection_loader import AnsibleCollectionConfig

from ansible_collections.nsops.namespaces.plugins.plugin_utils import _fleet_report
from ansible_collections.nsops.namespaces.plugins.plugin_utils._fleet_report import build_report
from ansible_collections.nsops.namespaces.tests.unit.fixtures.proc_tree import (
    C_NET, C_PID, COLLECTION_ROOT, CONTAINER_NS, INIT, NS_TYPES, UNJOINED_PID, assert_valid, container_host, ns_ref,
    scratch_dir,
)

REPORT_SCHEMA_PATH = os.path.join(COLLECTION_ROOT, 'roles', 'fleet', 'files', 'fleet_report.schema.json')
TEMPLATES = os.path.join(COLLECTION_ROOT, 'roles', 'fleet', 'templates')
DEFAULT_TITLE = 'Namespace fleet report'


def render_template(name, report, title):
    """A role template rendered as the role's ansible.builtin.template task renders it."""
    if AnsibleCollectionConfig.collection_finder is None:   # plain pytest; ansible-test sets it up
        init_plugin_loader([os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))])
    loader = DataLoader()
    variables = {'fleet_report': report, 'fleet_report_title': title}
    templar = Templar(loader=loader, variables=variables)
    lookup = lookup_loader.get('ansible.builtin.template', loader=loader, templar=templar)
    return lookup.run([os.path.join(TEMPLATES, name)], variables)[0]


def render_html(report, title=DEFAULT_TITLE):
    return render_template('fleet_report.html.j2', report, title)


def render_markdown(report, title=DEFAULT_TITLE):
    return render_template('fleet_report.md.j2', report, title)


def tight(page):
    """The page without the line breaks and indentation between tags (the template's layout)."""
    return re.sub(r'>\s*\n\s*<', '><', page)


# Namespaces of proc_tree.container_host, by type (see its docstring):
# net: initial, container, loose thread, fd, two bind mounts; pid: initial, container, unjoined; uts: + bind mount.
FIXTURE_COUNTS = {'cgroup': 1, 'ipc': 2, 'mnt': 2, 'net': 6, 'pid': 3, 'time': 1, 'user': 1, 'uts': 3}

# A process the hostile facts add, in its own PID and user namespace: its command line has a
# newline, a Markdown code fence, table pipes and markup.
HOSTILE_PID = 700
HOSTILE_PID_NS = 4026532700
HOSTILE_USER_NS = 4026532701
HOSTILE_ARGV = ['sh', '-c', 'x\n```\n| a | <script>alert(1)</script> & "q"']


def escape(text):
    """HTML-escaped as the templates' escape filter does it (MarkupSafe)."""
    return str(markup_escape(text))


MARKUP = '<script>alert(1)</script> & "dq" \'sq\''
GENERATED = '2024-05-01T12:00:00+00:00'
CID = 'ab12' * 16
SSH_ERROR = 'Failed to connect to the host via ssh: ssh: connect to host 192.0.2.9 port 22: No route to host'
NGINX = {'name': 'nginx', 'id': CID}
MISSING = {'name': 'missing', 'container_name': 'ghost', 'runtime': 'docker'}
PROBE = {'name': 'probe', 'command': ['sleep', 'infinity'], 'namespaces': ['pid', 'net', 'mnt']}
PROBE_ERROR = 'cannot start probe: sleep not found'
ISOLATE_TASK = 'Ensure each declared process with nsops.namespaces.isolated_process'


# ---------------------------------------------------------------------------- facts and hostvars

@pytest.fixture(scope='module', name='fixture_facts')
def fixture_facts_fixture():
    """Namespace facts of container_host, and of the same host plus the hostile process."""
    with scratch_dir() as path:
        tree = container_host(os.path.join(path, 'proc'))
        plain_facts = discover(proc_root=str(tree), sources=('tasks', 'fds', 'bind_mounts'), command_lines=True)
        tree.add_process(HOSTILE_PID, comm='sh', ppid=1, ns={'pid': HOSTILE_PID_NS, 'user': HOSTILE_USER_NS},
                         cmdline=HOSTILE_ARGV)
        hostile_facts = discover(proc_root=str(tree), sources=('tasks', 'fds', 'bind_mounts'), command_lines=True)
    assert_valid(plain_facts)
    assert_valid(hostile_facts)
    return plain_facts, hostile_facts


@pytest.fixture(name='facts')
def facts_fixture(fixture_facts):
    return copy.deepcopy(fixture_facts[0])


@pytest.fixture(name='hostile_facts')
def hostile_facts_fixture(fixture_facts):
    return copy.deepcopy(fixture_facts[1])


def loop_result(loop_var, item, **result):
    """One item of a registered loop, as Ansible records it."""
    record = {'ansible_loop_var': loop_var, loop_var: dict(item), 'changed': False, 'failed': False, 'item_label': item['name']}
    record.update(result)
    return record


def registered(results):
    """A registered loop: the task fails when one item failed."""
    out = {'changed': any(r['changed'] for r in results), 'results': results, 'msg': 'All items completed'}
    if any(r['failed'] for r in results):
        out.update(failed=True, msg='One or more items failed')
    return out


def nginx_container():
    """What container_info returns for the container of container_host (pids 200, 250, 260)."""
    scope = '/system.slice/docker-%s.scope' % CID
    processes = [
        {'pid': 200, 'inner_pid': 1, 'nspid': [200, 1], 'ppid': 100, 'comm': 'sleep', 'state': 'S',
         'cmdline': ['sleep', 'infinity'], 'starttime': 900, 'cgroup': scope, 'verified': True, 'mismatches': []},
        {'pid': 250, 'inner_pid': 7, 'nspid': [250, 7], 'ppid': 100, 'comm': 'nginx', 'state': 'S',
         'cmdline': ['nginx:', 'master', 'process'], 'starttime': 600, 'cgroup': scope, 'verified': True, 'mismatches': []},
        {'pid': 260, 'inner_pid': 2, 'nspid': [260, 2], 'ppid': 200, 'comm': 'worker', 'state': 'S',
         'cmdline': ['worker'], 'starttime': 50, 'cgroup': scope, 'verified': True, 'mismatches': []},
    ]
    namespaces = dict(CONTAINER_NS, cgroup=INIT['cgroup'], time=INIT['time'], user=INIT['user'])
    return {'id': CID, 'name': None, 'runtime': 'docker', 'cgroup_driver': 'systemd', 'pod_uid': None, 'qos': None,
            'podman_pod_id': None, 'containerd_namespace': None, 'rootless_uid': None, 'cgroup': scope,
            'cgroups': {'unified': scope}, 'state': 'running', 'init_pid': 200, 'pids': [200, 250, 260],
            'vanished_pids': [], 'processes': processes, 'namespaces': namespaces,
            'shared_with_host': ['cgroup', 'time', 'user'], 'shared_with_containers': {}, 'monitor': None,
            'verified': True, 'problems': []}


def web1_vars(facts):
    """Reached: facts, nginx found, 'missing' not found, probe started."""
    return {
        'inventory_hostname': 'web1', 'ansible_host': '192.0.2.1',
        'ansible_facts': {'nodename': 'web1.example.org', 'namespaces': facts},
        'fleet_containers': [NGINX, MISSING], 'fleet_isolated_processes': [PROBE],
        'fleet_container_results': registered([
            loop_result('fleet_container', NGINX, containers=[nginx_container()]),
            loop_result('fleet_container', MISSING, containers=[])]),
        'fleet_isolated_results': registered([
            loop_result('fleet_isolated_process', PROBE, changed=True, action='start', name='probe', state='present',
                        pid=4242, ns_pid=1, namespaces={'pid': 4026533001, 'net': 4026533002, 'mnt': 4026533003},
                        log_path='/run/nsops-namespaces/isolated/probe.log', drift=[])]),
    }


def db1_vars(facts):
    """Reached: facts, nginx not there, probe failed (the isolate stage was rescued)."""
    return {
        'inventory_hostname': 'db1', 'ansible_host': '192.0.2.2',
        'ansible_facts': {'nodename': 'db1.example.org', 'namespaces': facts},
        'fleet_containers': [NGINX], 'fleet_isolated_processes': [PROBE],
        'fleet_container_results': registered([loop_result('fleet_container', NGINX, containers=[])]),
        'fleet_isolated_results': registered([loop_result('fleet_isolated_process', PROBE, failed=True, msg=PROBE_ERROR)]),
        'fleet_stage_failures': [{'stage': 'isolate', 'task': ISOLATE_TASK, 'msg': 'One or more items failed'}],
    }


def edge_vars():
    """Unreachable: nothing ran, the inventory declares nginx."""
    return {'inventory_hostname': 'edge', 'ansible_host': '192.0.2.9', 'fleet_unreachable_reason': SSH_ERROR,
            'fleet_containers': [NGINX]}


@pytest.fixture(name='fleet')
def fleet_fixture(facts, hostile_facts):
    """(hosts, hostvars) of three hosts: web1 ok, db1 failed, edge unreachable."""
    hostvars = {'web1': web1_vars(facts), 'db1': db1_vars(hostile_facts), 'edge': edge_vars()}
    return ['web1', 'db1', 'edge'], hostvars


@pytest.fixture(name='report')
def report_fixture(fleet):
    return build_report(fleet[0], fleet[1], generated=GENERATED)


def hostile_fleet(hostile_facts):
    """A host name, command line, error text and reason with markup, ampersands and quotes."""
    name = 'evil%s' % MARKUP
    probe = dict(PROBE, command=['sh', '-c', MARKUP])
    evil = web1_vars(hostile_facts)
    del evil['ansible_host']                 # the address defaults to the inventory name
    evil['ansible_facts']['nodename'] = 'node%s' % MARKUP
    evil['fleet_isolated_processes'] = [probe]
    evil['fleet_isolated_results'] = registered([loop_result('fleet_isolated_process', probe, failed=True, msg='error ' + MARKUP)])
    evil['fleet_container_results']['results'][1] = loop_result('fleet_container', MISSING, failed=True, msg='lookup ' + MARKUP)
    down = {'fleet_unreachable_reason': 'ssh said ' + MARKUP}
    return [name, 'down'], {name: evil, 'down': down}


def schema_validator():
    with open(REPORT_SCHEMA_PATH) as handle:
        schema = json.load(handle)
    assert schema['$schema'] == 'https://json-schema.org/draft/2020-12/schema'
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def report_errors(value):
    return ['%s: %s' % ('/'.join(str(p) for p in e.absolute_path) or '<root>', e.message)
            for e in schema_validator().iter_errors(value)]


def by_host(value):
    return dict((h['host'], h) for h in value['hosts'])


# ---------------------------------------------------------------------------- build_report

class TestBuildReport:

    def test_fixture_counts(self, facts):
        """The numbers the report is checked against below are those of the fixture."""
        assert dict(Counter(key.split(':')[0] for key in facts['namespaces'])) == FIXTURE_COUNTS

    def test_summary(self, report):
        summary = report['summary']
        assert (report['report_version'], report['generated']) == (1, GENERATED)
        assert summary['hosts'] == 3
        assert summary['status_counts'] == {'ok': 1, 'failed': 1, 'unreachable': 1}
        assert summary['unreachable'] == [{'host': 'edge', 'reason': SSH_ERROR}]
        assert summary['failed'] == [{'host': 'db1', 'reason': 'isolated process probe: ' + PROBE_ERROR,
                                      'problems': ['isolated process probe: ' + PROBE_ERROR]}]
        assert [h['host'] for h in report['hosts']] == ['web1', 'db1', 'edge']

    def test_namespace_totals_add_up_the_hosts(self, report, facts, hostile_facts):
        expected = dict((t, 0) for t in NS_TYPES)
        for source in (facts, hostile_facts):
            for key in source['namespaces']:
                expected[key.split(':')[0]] += 1
        assert report['summary']['namespace_totals'] == expected
        # the hostile process brings one PID and one user namespace of its own
        assert expected == dict((t, 2 * FIXTURE_COUNTS[t] + (1 if t in ('pid', 'user') else 0)) for t in NS_TYPES)

    def test_host_that_completed(self, report, facts):
        web1 = by_host(report)['web1']
        assert (web1['status'], web1['reason'], web1['problems']) == ('ok', None, [])
        assert (web1['address'], web1['hostname']) == ('192.0.2.1', 'web1.example.org')
        ns = web1['namespaces']
        discovery = facts['discovery']
        assert ns['counts'] == FIXTURE_COUNTS
        assert ns['total'] == len(facts['namespaces']) == 19
        assert (ns['kernel'], ns['proc_root'], ns['processes_scanned'], ns['duration']) == (
            discovery['kernel'], discovery['proc_root'], 9, discovery['duration'])
        assert ns['sources'] == ['processes', 'tasks', 'fds', 'bind_mounts']
        assert ns['capabilities'] == {'sys_admin': discovery['capabilities']['sys_admin'],
                                      'sys_ptrace': discovery['capabilities']['sys_ptrace']}
        assert ns['initial_cgroup_namespace'] is None          # a fixture tree, not a procfs
        assert ns['skipped'] == {}                             # only non-zero counts are kept
        assert ns['warnings'] == discovery['warnings']
        assert any('not a mounted procfs' in w for w in ns['warnings'])

    def test_trees(self, report, facts):
        trees = by_host(report)['web1']['trees']
        assert sorted(trees) == ['mnt', 'net', 'pid', 'user']
        assert trees['pid']['roots'] == 3
        assert [row['ref'] for row in trees['pid']['rows']] == facts['roots']['pid'] == [
            ns_ref('pid', INIT['pid']), ns_ref('pid', C_PID), ns_ref('pid', UNJOINED_PID)]
        init = trees['pid']['rows'][0]
        assert init == {'depth': 0, 'prefix': '', 'ref': ns_ref('pid', INIT['pid']), 'nprocs': 6, 'pid': 1,
                        'command': '/sbin/init splash', 'owner_uid': None, 'hidden': False,
                        'summary': '6 procs  pid 1  /sbin/init splash'}
        unjoined = trees['pid']['rows'][2]
        assert (unjoined['nprocs'], unjoined['pid'], unjoined['summary']) == (0, None, '0 procs  [1 for_children]  -')
        assert [row['ref'] for row in trees['user']['rows']] == [ns_ref('user', INIT['user'])]
        assert trees['user']['rows'][0]['nprocs'] == 9

    def test_net_and_mnt_trees_by_owner(self, facts):
        """net and mnt namespaces under the user namespace owning each (lsns -Towner); one of
        unknown owner is a root of its own, after the user trees."""
        user = ns_ref('user', INIT['user'])
        nets = sorted((r for r in facts['namespaces'] if r.startswith('net:')), key=lambda r: int(r[5:-1]))
        for ref in nets[:-1]:
            facts['namespaces'][ref]['owner'] = user
        facts['namespaces'][nets[-1]]['owner'] = None
        trees = build_report(['h'], {'h': {'ansible_facts': {'namespaces': facts}}})['hosts'][0]['trees']
        rows = [(r['depth'], r['prefix'], r['ref']) for r in trees['net']['rows']]
        assert rows[0] == (0, '', user)
        assert rows[1:-2] == [(1, '\u251c\u2500 ', ref) for ref in nets[:-2]]
        assert rows[-2:] == [(1, '\u2514\u2500 ', nets[-2]), (0, '', nets[-1])]
        assert trees['net']['roots'] == 2
        # no mnt namespace has a known owner here: each is a root
        assert [r['depth'] for r in trees['mnt']['rows']] == [0, 0]
        assert report_errors(build_report(['h'], {'h': {'ansible_facts': {'namespaces': facts}}})) == []

    def test_tree_rows_follow_the_hierarchy(self, facts):
        """The container's PID namespace as a child of the initial one (what the ioctls say on a real host)."""
        init, container = ns_ref('pid', INIT['pid']), ns_ref('pid', C_PID)
        facts['namespaces'][init]['children'] = [container]
        facts['namespaces'][container]['parent'] = init
        facts['roots']['pid'] = [init, ns_ref('pid', UNJOINED_PID)]
        rows = build_report(['h'], {'h': {'ansible_facts': {'namespaces': facts}}})['hosts'][0]['trees']['pid']['rows']
        assert [(r['depth'], r['prefix'], r['ref']) for r in rows] == [
            (0, '', init), (1, '\u2514\u2500 ', container), (0, '', ns_ref('pid', UNJOINED_PID))]

    def test_containers_of_a_host(self, report):
        web1, db1, edge = (by_host(report)[h]['containers'] for h in ('web1', 'db1', 'edge'))
        nginx, missing = web1
        assert (nginx['name'], nginx['selectors'], nginx['looked_up'], nginx['error'], nginx['host_pid']) == (
            'nginx', {'id': CID}, True, None, None)
        found = nginx['found']
        assert len(found) == 1
        assert found[0]['id'] == CID
        assert found[0]['short_id'] == CID[:12]
        assert (found[0]['init_pid'], found[0]['init_command'], found[0]['pids']) == (200, 'sleep infinity', [200, 250, 260])
        assert found[0]['namespaces']['net'] == C_NET
        assert (found[0]['state'], found[0]['verified'], found[0]['shared_with_host']) == ('running', True, ['cgroup', 'time', 'user'])
        assert missing == {'name': 'missing', 'selectors': {'container_name': 'ghost', 'runtime': 'docker'},
                           'looked_up': True, 'found': [], 'host_pid': None, 'error': None}
        assert [(c['name'], c['looked_up'], c['found']) for c in db1] == [('nginx', True, [])]
        # never looked up on the unreachable host: the declaration comes from the inventory
        assert edge == [{'name': 'nginx', 'selectors': {'id': CID}, 'looked_up': False, 'found': [], 'host_pid': None,
                         'error': None}]

    def test_isolated_processes_of_a_host(self, report):
        web1, db1, edge = (by_host(report)[h]['isolated_processes'] for h in ('web1', 'db1', 'edge'))
        assert web1 == [{'name': 'probe', 'declared_state': 'present', 'command': ['sleep', 'infinity'], 'ensured': True,
                         'state': 'present', 'action': 'start', 'changed': True, 'pid': 4242, 'ns_pid': 1,
                         'namespaces': {'pid': 4026533001, 'net': 4026533002, 'mnt': 4026533003},
                         'log_path': '/run/nsops-namespaces/isolated/probe.log', 'error': None}]
        assert len(db1) == 1
        assert (db1[0]['ensured'], db1[0]['state'], db1[0]['pid'], db1[0]['changed'], db1[0]['error']) == (
            True, None, None, None, PROBE_ERROR)
        assert edge == []

    def test_failed_and_unreachable_hosts(self, report, hostile_facts):
        db1, edge = by_host(report)['db1'], by_host(report)['edge']
        assert db1['status'] == 'failed'
        # the item's error explains the isolate stage: "One or more items failed" is not repeated
        assert db1['problems'] == ['isolated process probe: ' + PROBE_ERROR]
        assert db1['namespaces']['counts'] == dict(FIXTURE_COUNTS, pid=4, user=2)
        assert db1['namespaces']['total'] == len(hostile_facts['namespaces']) == 21
        assert (edge['status'], edge['reason'], edge['problems']) == ('unreachable', SSH_ERROR, ['unreachable: ' + SSH_ERROR])
        assert (edge['address'], edge['hostname'], edge['namespaces'], edge['trees']) == ('192.0.2.9', None, None, None)

    def test_fleet_containers(self, report):
        assert report['containers'] == [
            {'name': 'nginx', 'selectors': {'id': CID},
             'found_on': [{'host': 'web1', 'id': CID, 'name': None, 'runtime': 'docker', 'pod_uid': None, 'init_pid': 200,
                           'state': 'running'}],
             'not_found_on': ['db1'], 'errors': []},
            {'name': 'missing', 'selectors': {'container_name': 'ghost', 'runtime': 'docker'},
             'found_on': [], 'not_found_on': ['web1'], 'errors': []},
        ]

    def test_fleet_isolated_processes(self, report):
        assert report['isolated_processes'] == [{'name': 'probe', 'hosts': [
            {'host': 'web1', 'declared_state': 'present', 'state': 'present', 'action': 'start', 'pid': 4242, 'error': None},
            {'host': 'db1', 'declared_state': 'present', 'state': None, 'action': None, 'pid': None, 'error': PROBE_ERROR},
        ]}]

    def test_stage_failure_without_an_item_error(self):
        """A failed stage whose items did not explain it is a problem of its own."""
        hostvars = {'h': {'fleet_stage_failures': [{'stage': 'facts', 'task': 'Run nsops.namespaces.namespace_facts',
                                                   'msg': 'proc_root is not a procfs'}]}}
        host = build_report(['h'], hostvars)['hosts'][0]
        assert host['status'] == 'failed'
        assert host['problems'] == ["facts failed in task 'Run nsops.namespaces.namespace_facts': proc_root is not a procfs"]
        assert host['reason'] == host['problems'][0]

    def test_container_error_is_a_problem(self, facts):
        hostvars = {'h': {'ansible_facts': {'namespaces': facts},
                          'fleet_container_results': registered([
                              loop_result('fleet_container', MISSING, failed=True, msg='ambiguous: 2 containers match')]),
                          'fleet_stage_failures': [{'stage': 'locate', 'task': 'Look up', 'msg': 'One or more items failed'}]}}
        value = build_report(['h'], hostvars)
        assert value['hosts'][0]['status'] == 'failed'
        assert value['hosts'][0]['problems'] == ['container missing: ambiguous: 2 containers match']
        assert value['containers'][0]['errors'] == [{'host': 'h', 'error': 'ambiguous: 2 containers match'}]
        assert value['containers'][0]['not_found_on'] == []

    def test_left_the_play_or_no_facts(self, facts):
        """Without data: unreachable when the host left the play, failed when it is still in it."""
        hostvars = {'gone': {'ansible_host': '192.0.2.7'}, 'stayed': {'ansible_facts': {'nodename': 'stayed'}},
                    'fine': {'ansible_facts': {'namespaces': facts}}}
        value = build_report(['gone', 'stayed', 'fine'], hostvars, active_hosts=['stayed', 'fine'])
        gone, stayed, fine = value['hosts']
        assert (gone['status'], gone['reason'], gone['problems']) == ('unreachable', _fleet_report.LEFT_PLAY, [_fleet_report.LEFT_PLAY])
        assert stayed['status'] == 'failed'
        assert stayed['reason'].startswith('no namespace facts')
        assert stayed['problems'] == [stayed['reason']]
        assert stayed['hostname'] == 'stayed'
        assert fine['status'] == 'ok'
        assert value['summary']['status_counts'] == {'ok': 1, 'failed': 1, 'unreachable': 1}
        assert report_errors(value) == []

    def test_host_missing_from_hostvars(self):
        value = build_report(['ghost'], {})
        assert value['hosts'][0]['status'] == 'failed'
        assert value['hosts'][0]['address'] == 'ghost'

    def test_broken_host_variable_counts_as_missing(self, facts):
        """hostvars templates lazily: a variable that fails to template is left out, not fatal."""

        class Lazy(Mapping):
            def __init__(self, data, broken):
                self.data, self.broken = data, broken

            def __getitem__(self, key):
                if key in self.broken:
                    raise RuntimeError('template error while templating %s' % key)
                return self.data[key]

            def __iter__(self):
                return iter(self.data)

            def __len__(self):
                return len(self.data)

        variables = Lazy(dict(web1_vars(facts), ansible_host='{{ broken }}'), broken=('ansible_host', 'fleet_isolated_results'))
        host = build_report(['web1'], {'web1': variables})['hosts'][0]
        assert host['address'] == 'web1'
        assert host['status'] == 'ok'
        assert [(p['name'], p['ensured'], p['state']) for p in host['isolated_processes']] == [('probe', False, None)]
        assert host['namespaces']['counts'] == FIXTURE_COUNTS


class TestSchema:

    def test_schema_is_draft_2020_12(self):
        schema_validator()

    def test_three_hosts(self, report):
        assert report_errors(report) == []

    def test_json_round_trip(self, report):
        assert json.loads(json.dumps(report)) == report

    def test_edge_reports(self, fleet, hostile_facts):
        for value in (build_report([], {}), build_report(fleet[0], fleet[1], trees=False),
                      build_report(*hostile_fleet(hostile_facts))):
            assert report_errors(value) == []

    def test_schema_catches_mistakes(self, report):
        """The validator is not vacuous."""
        broken = copy.deepcopy(report)
        broken['hosts'][0]['status'] = 'fine'
        del broken['summary']['namespace_totals']['pid']
        broken['hosts'][0]['trees']['pid']['rows'][0]['ref'] = 'uts:[1]'
        errors = report_errors(broken)
        assert len(errors) == 3, errors


# ---------------------------------------------------------------------------- HTML

class PageParser(HTMLParser):
    """Tags, attributes and text of a page, as a browser's tokenizer sees them."""

    def __init__(self):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.tags = []
        self.attrs = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)

    def values(self, attribute, tag=None):
        """The values of ``attribute`` (of ``tag`` elements only when given), in page order."""
        return [v for t, n, v in self.attrs if n == attribute and tag in (None, t)]


def parse(page):
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


PAGE_TAGS = {'html', 'head', 'meta', 'title', 'style', 'body', 'header', 'h1', 'h2', 'h3', 'div', 'main', 'section', 'table',
             'thead', 'tbody', 'tr', 'th', 'td', 'a', 'span', 'b', 'ul', 'li', 'code', 'details', 'summary', 'br', 'p'}
PAGE_ATTRS = {'lang', 'charset', 'name', 'content', 'class', 'style', 'id', 'href', 'title', 'open', 'colspan'}
SAFE_ID = re.compile(r'^host-[A-Za-z0-9_-]+$')


class TestHtml:

    def test_page(self, report):
        page = render_html(report)
        assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
        assert page.endswith('</main>\n</body>\n</html>\n')
        assert '<title>Namespace fleet report</title>' in page
        assert '3 hosts &middot; generated %s' % GENERATED in page
        parsed = parse(page)
        assert set(parsed.tags) <= PAGE_TAGS
        assert parsed.tags.count('section') == 3
        assert [v for t, n, v in parsed.attrs if t == 'section' and n == 'class'] == [
            'host ok', 'host failed', 'host unreachable']

    def test_host_values(self, report):
        page = tight(render_html(report))
        assert '<td class="host"><a href="#host-1-web1">web1</a></td><td>192.0.2.1</td><td>web1.example.org</td>' in page
        # namespaces by type of web1, right-aligned, then the total
        row = ''.join('<td class="num">%d</td>' % FIXTURE_COUNTS[t] for t in NS_TYPES) + '<td class="num">19</td>'
        assert '<tbody><tr>%s</tr></tbody>' % row in page
        assert '<code title="%s">%s</code>' % (CID, CID[:12]) in page
        assert '<span class="problem">isolated process probe: %s</span>' % PROBE_ERROR in page
        assert '<span class="problem">%s</span>' % SSH_ERROR in page
        assert '<b>PID namespace tree</b> <span class="muted">(3 roots, 3 namespaces)</span>' in page

    def test_markup_is_escaped(self, hostile_facts):
        hosts, hostvars = hostile_fleet(hostile_facts)
        page = render_html(build_report(hosts, hostvars, generated=MARKUP), title='Fleet ' + MARKUP)
        assert '<script' not in page.lower()
        assert 'alert(1)' in page
        assert page.count('alert(1)') == page.count('&lt;script&gt;alert(1)&lt;/script&gt;')
        assert escape(MARKUP) in page
        assert "&#39;sq&#39;" in page and '&#34;dq&#34;' in page and ' &amp; ' in page
        # the tree row of the hostile process, escaped too (newline and fence kept as text)
        assert escape('sh -c x\n```\n| a | <script>alert(1)</script> & "q"') in page
        parsed = parse(page)
        assert set(parsed.tags) <= PAGE_TAGS
        assert set(attr[1] for attr in parsed.attrs) <= PAGE_ATTRS
        # shown as text, not dropped
        text = ''.join(parsed.text)
        for shown in (hosts[0], 'node' + MARKUP, 'error ' + MARKUP, 'lookup ' + MARKUP, 'ssh said ' + MARKUP,
                      'sh -c ' + MARKUP, 'Fleet ' + MARKUP, 'generated ' + MARKUP):
            assert shown in text, shown

    def test_anchors_are_safe_and_match(self, hostile_facts):
        hosts, hostvars = hostile_fleet(hostile_facts)
        parsed = parse(render_html(build_report(hosts, hostvars)))
        ids = parsed.values('id')
        hrefs = parsed.values('href')
        assert len(ids) == 2
        assert all(SAFE_ID.match(i) for i in ids), ids
        assert ids[0] == 'host-1-evil_script_alert_1___script_____dq___sq_'
        assert hrefs == ['#' + i for i in ids]

    def test_anchors_are_unique(self, facts):
        hostvars = dict((h, {'ansible_facts': {'namespaces': facts}}) for h in ('web.1', 'web-1', 'web_1'))
        parsed = parse(render_html(build_report(['web.1', 'web-1', 'web_1'], hostvars)))
        ids = parsed.values('id')
        assert len(ids) == len(set(ids)) == 3

    def test_container_without_id(self, facts):
        container = dict(nginx_container(), id=None, name='web_1', runtime='lxc')
        declared = {'name': 'web', 'container_name': 'web_1'}
        hostvars = {'h': {'ansible_facts': {'namespaces': facts},
                          'fleet_container_results': registered([loop_result('fleet_container', declared, containers=[container])])}}
        page = render_html(build_report(['h'], hostvars))
        parsed = parse(page)
        assert set(attr[1] for attr in parsed.attrs) <= PAGE_ATTRS
        assert parsed.values('title', tag='code') == []  # no ID: no title, no markup inside one
        assert '<code>web_1</code>' in page


# ---------------------------------------------------------------------------- Markdown

def split_row(line):
    """The cells of a Markdown table row, split at pipes that are not backslash-escaped."""
    cells, current, index = [], '', 0
    while index < len(line):
        if line[index] == '\\' and index + 1 < len(line):
            current += line[index:index + 2]
            index += 2
            continue
        if line[index] == '|':
            cells.append(current)
            current = ''
        else:
            current += line[index]
        index += 1
    cells.append(current)
    assert cells[0] == '' and cells[-1] == '', line
    return [cell.strip() for cell in cells[1:-1]]


def markdown_blocks(text):
    """(fenced blocks as (fence, lines), tables as lists of rows, other lines), as CommonMark reads them.

    Every fence must be closed; a table is a run of lines starting with a pipe.
    """
    lines = text.split('\n')
    fences, tables, other = [], [], []
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = re.match(r'^ {0,3}(`{3,})[^`]*$', line)
        if opening:
            fence = opening.group(1)
            closing = re.compile(r'^ {0,3}`{%d,}\s*$' % len(fence))
            end = next((j for j in range(index + 1, len(lines)) if closing.match(lines[j])), None)
            assert end is not None, 'fence opened at line %d is never closed' % (index + 1)
            fences.append((fence, lines[index + 1:end]))
            index = end + 1
        elif line.startswith('|'):
            end = index
            while end < len(lines) and lines[end].startswith('|'):
                end += 1
            tables.append([split_row(row) for row in lines[index:end]])
            index = end
        else:
            other.append(line)
            index += 1
    return fences, tables, other


def table_after(text, heading, occurrence=0):
    """The rows (header, alignment, body) of the table after the n-th ``heading`` line."""
    lines = text.split('\n')
    starts = [i for i, line in enumerate(lines) if line == heading]
    start = starts[occurrence] + 1
    while not lines[start].startswith('|'):
        start += 1
    end = start
    while end < len(lines) and lines[end].startswith('|'):
        end += 1
    return [split_row(row) for row in lines[start:end]]


class TestMarkdown:

    @pytest.mark.parametrize('value, expected', [
        (None, '-'),
        (True, 'yes'),
        (False, 'no'),
        (0, '0'),
        ('', ' '),
        ('a|b', 'a\\|b'),
        ('one\ntwo\r\nthree', 'one two  three'),
        ('<b>x</b> & y', '&lt;b&gt;x&lt;/b&gt; &amp; y'),
        ('a_b*c`d[e]#f~g\\h', 'a\\_b\\*c\\`d\\[e\\]\\#f\\~g\\\\h'),
    ])
    def test_cell(self, value, expected):
        text = render_markdown(build_report([], {}, generated=value))
        assert text.split('\n')[2] == ('0 hosts: **0 ok**, **0 failed**, **0 unreachable**. Generated %s by the '
                                       'nsops.namespaces fleet role.' % expected)

    @pytest.mark.parametrize('value, expected', [
        (None, '-'),
        ('', '-'),
        ('web_1', '`web_1`'),                   # shown as is: no backslash escapes in code
        ('a|b', '`a\\|b`'),                    # only the table pipe is escaped
        ('<b>&', '`<b>&`'),                      # code spans show markup as text
        ('x`y', '``x`y``'),
        ('`edge`', '`` `edge` ``'),
        ('two\nlines', '`two lines`'),
    ])
    def test_code(self, value, expected, facts):
        container = dict(nginx_container(), id=None, name=value, runtime='lxc')
        declared = {'name': 'web', 'container_name': 'x'}
        hostvars = {'h': {'ansible_facts': {'namespaces': facts},
                          'fleet_container_results': registered([loop_result('fleet_container', declared,
                                                                             containers=[container])])}}
        rows = [line for line in render_markdown(build_report(['h'], hostvars)).split('\n') if line.startswith('| web |')]
        assert rows[-1].startswith('| web | %s | lxc |' % expected), rows

    def test_header_and_problems(self, report):
        text = render_markdown(report)
        lines = text.split('\n')
        assert lines[:3] == ['# Namespace fleet report', '',
                             '3 hosts: **1 ok**, **1 failed**, **1 unreachable**. Generated %s by the nsops.namespaces '
                             'fleet role.' % GENERATED]
        assert '- **edge** unreachable: %s' % SSH_ERROR in lines
        start = lines.index('- **db1** failed:')
        assert lines[start + 1] == '  - isolated process probe: %s' % PROBE_ERROR
        assert text.endswith('\n## Host edge (unreachable)\n\n- address: 192.0.2.9\n- reason: %s\n- problem: unreachable: %s\n\n'
                             '### Containers\n\n' % (SSH_ERROR, SSH_ERROR) + '\n'.join([
                                 '| declared | container | runtime | pod UID | state | init PID | processes |',
                                 '| --- | --- | --- | --- | --- | ---: | ---: |',
                                 '| nginx | not looked up |   |   |   |   |   |']) + '\n')

    def test_every_host_has_a_section(self, report):
        lines = render_markdown(report).split('\n')
        sections = [line for line in lines if line.startswith('## Host ')]
        assert sections == ['## Host web1 (ok)', '## Host db1 (failed)', '## Host edge (unreachable)']
        edge = lines[lines.index('## Host edge (unreachable)'):]
        assert edge[2:4] == ['- address: 192.0.2.9', '- reason: %s' % SSH_ERROR]
        assert '### Namespaces by type' not in edge

    def test_tables_are_well_formed(self, report):
        fences, tables, dummy = markdown_blocks(render_markdown(report))
        assert len(tables) == 10       # hosts, containers, isolated processes; web1 3, db1 3, edge 1 (containers)
        for table in tables:
            assert all(len(row) == len(table[0]) for row in table), table
            assert all(re.match(r'^-{3}:?$', cell) for cell in table[1]), table[1]
        assert len(fences) == 8        # the PID, user, net and mnt trees of web1 and db1

    def test_numeric_columns_are_right_aligned(self, report):
        text = render_markdown(report)
        hosts = table_after(text, '## Hosts')
        assert hosts[0] == ['host', 'address', 'hostname', 'status'] + list(NS_TYPES) + [
            'total', 'containers found', 'isolated running', 'reason']
        assert hosts[1] == ['---'] * 4 + ['---:'] * 10 + ['---'] * 2
        assert hosts[2] == ['web1', '192.0.2.1', 'web1.example.org', '**ok**'] + [str(FIXTURE_COUNTS[t]) for t in NS_TYPES] + [
            '19', '1', '1 / 1', '-']
        by_type = table_after(text, '### Namespaces by type')
        assert by_type == [list(NS_TYPES) + ['total'], ['---:'] * 9, [str(FIXTURE_COUNTS[t]) for t in NS_TYPES] + ['19']]
        isolated = table_after(text, '## Isolated processes')
        assert isolated[1] == ['---'] * 5 + ['---:', '---']
        assert isolated[2] == ['probe', 'web1', 'present', 'present', 'start', '4242', '']
        containers = table_after(text, '### Containers')
        assert containers[1] == ['---'] * 5 + ['---:'] * 2
        assert containers[2] == ['nginx', '`%s`' % CID[:12], 'docker', '-', 'running', '200', '3']
        assert containers[3] == ['missing', 'not found', '', '', '', '', '']
        assert table_after(text, '### Isolated processes')[1] == ['---'] * 4 + ['---:'] + ['---'] * 2

    def test_no_hostname_column_without_hostnames(self, facts):
        text = render_markdown(build_report(['h'], {'h': {'ansible_facts': {'namespaces': facts}}}))
        hosts = table_after(text, '## Hosts')
        assert hosts[0][:3] == ['host', 'address', 'status']
        assert hosts[1] == ['---'] * 3 + ['---:'] * 10 + ['---'] * 2

    def test_pipes_and_newlines_do_not_break_tables(self, facts):
        reason = 'ssh: one | two\nthree |'
        probe = dict(PROBE, command=['sh', '-c', 'a | b\nc'])
        hostvars = {
            'a|b': dict(web1_vars(facts), fleet_isolated_processes=[probe], fleet_isolated_results=registered(
                [loop_result('fleet_isolated_process', probe, failed=True, msg='exit 1 |\nstderr: x|y')])),
            'c\nd': {'fleet_unreachable_reason': reason},
        }
        text = render_markdown(build_report(['a|b', 'c\nd'], hostvars))
        dummy, tables, other = markdown_blocks(text)
        for table in tables:
            assert all(len(row) == len(table[0]) for row in table), table
        hosts = table_after(text, '## Hosts')
        assert [row[0] for row in hosts[2:]] == ['a\\|b', 'c d']
        assert hosts[3][-1] == 'ssh: one \\| two three \\|'
        isolated = table_after(text, '### Isolated processes')
        assert isolated[2][5:] == ['sh -c a \\| b c', 'exit 1 \\| stderr: x\\|y']
        assert '## Host a\\|b (failed)' in other
        assert '## Host c d (unreachable)' in other
        assert '- **c d** unreachable: ssh: one \\| two three \\|' in other

    def test_fences_are_closed(self, report):
        """The hostile command line holds a fence and table pipes after a newline: the fence outgrows it."""
        text = render_markdown(report)
        fences, dummy, other = markdown_blocks(text)
        db1 = by_host(report)['db1']
        expected = dict((t, '\n'.join('%s%s  %s' % (r['prefix'], r['ref'], r['summary']) for r in db1['trees'][t]['rows']).split('\n'))
                        for t in ('pid', 'user'))
        assert '```' in expected['pid']
        assert ('````', expected['pid']) in fences
        assert ('````', expected['user']) in fences
        start = other.index('## Host db1 (failed)')
        assert '### PID namespace tree (4 roots)' in other[start:]
        assert '### USER namespace tree (2 roots)' in other[start:]
        assert '```text' in text.split('\n') and '````text' in text.split('\n')

    def test_markup_only_in_code_blocks(self, hostile_facts):
        hosts, hostvars = hostile_fleet(hostile_facts)
        text = render_markdown(build_report(hosts, hostvars, generated=MARKUP), title='Fleet ' + MARKUP)
        fences, tables, other = markdown_blocks(text)
        outside = other + ['|'.join(cell for row in table for cell in row) for table in tables]
        assert not any('<' in line or '>' in line for line in outside)
        assert any('<script>' in line for dummy, lines in fences for line in lines)
        escaped = '&lt;script&gt;alert(1)&lt;/script&gt; &amp; "dq" \'sq\''
        assert other[0] == '# Fleet ' + escaped
        assert '## Host evil%s (failed)' % escaped in other


# ---------------------------------------------------------------------------- empty and edge inputs

class TestEdges:

    def test_zero_hosts(self):
        value = build_report([], {}, generated=GENERATED)
        assert value['summary'] == {'hosts': 0, 'status_counts': {'ok': 0, 'failed': 0, 'unreachable': 0},
                                    'namespace_totals': dict((t, 0) for t in NS_TYPES), 'unreachable': [], 'failed': []}
        assert (value['hosts'], value['containers'], value['isolated_processes']) == ([], [], [])
        page = tight(render_html(value))
        assert '0 hosts &middot; generated %s' % GENERATED in page
        assert '<h2>Problems</h2><p>None: every host completed.</p>' in page
        assert '<section' not in page and 'Containers' not in page and 'Isolated processes' not in page
        text = render_markdown(value)
        assert '0 hosts: **0 ok**, **0 failed**, **0 unreachable**. Generated %s' % GENERATED in text
        assert 'None: every host completed.' in text
        assert '## Host ' not in text and '## Containers' not in text
        assert table_after(text, '## Hosts')[2:] == []

    def test_host_without_namespaces(self, facts):
        empty = {'discovery': facts['discovery'], 'namespaces': {}, 'roots': {'pid': [], 'user': []}}
        value = build_report(['bare'], {'bare': {'ansible_facts': {'namespaces': empty}}})
        host = value['hosts'][0]
        assert (host['status'], host['problems']) == ('ok', [])
        assert host['namespaces']['counts'] == dict((t, 0) for t in NS_TYPES)
        assert host['namespaces']['total'] == 0
        assert host['trees'] == dict((t, {'roots': 0, 'rows': []}) for t in ('pid', 'user', 'net', 'mnt'))
        assert report_errors(value) == []
        page = render_html(value)
        assert '<b>PID namespace tree</b> <span class="muted">none</span>' in page
        assert '<b>USER namespace tree</b> <span class="muted">none</span>' in page
        text = render_markdown(value)
        lines = text.split('\n')
        start = lines.index('### PID namespace tree (0 roots)')
        assert lines[start + 1:start + 5] == ['', '```text', '(none)', '```']
        assert table_after(text, '### Namespaces by type')[2] == ['0'] * 9

    def test_trees_false(self, fleet):
        with_trees = build_report(fleet[0], fleet[1], generated=GENERATED)
        value = build_report(fleet[0], fleet[1], generated=GENERATED, trees=False)
        assert [h['trees'] for h in value['hosts']] == [None, None, None]
        # everything else is as with trees
        for host in with_trees['hosts']:
            host['trees'] = None
        assert value == with_trees
        assert value['hosts'][0]['namespaces']['total'] == 19
        assert 'Namespace trees' in render_html(build_report(fleet[0], fleet[1]))
        page = render_html(value)
        assert 'Namespace trees' not in page and 'namespace tree' not in page
        assert '<h3>Namespaces by type</h3>' in page
        text = render_markdown(value)
        assert 'namespace tree' not in text and '```' not in text
        assert text.count('### Namespaces by type') == 2


# ---------------------------------------------------------------------------- determinism

class TestDeterminism:

    def test_same_input_same_output(self, fleet):
        first = build_report(fleet[0], fleet[1], generated=GENERATED)
        second = build_report(fleet[0], copy.deepcopy(fleet[1]), generated=GENERATED)
        assert first == second
        assert render_html(first) == render_html(second) == render_html(first)
        assert render_markdown(first) == render_markdown(second) == render_markdown(first)

    def test_generated_appears(self, fleet):
        value = build_report(fleet[0], fleet[1], generated=GENERATED)
        assert 'generated %s &middot;' % GENERATED in render_html(value)
        assert 'Generated %s by' % GENERATED in render_markdown(value)
        undated = build_report(fleet[0], fleet[1])
        assert undated['generated'] is None
        assert 'generated <span class="muted">-</span> &middot;' in render_html(undated)
        assert 'Generated - by' in render_markdown(undated)

    def test_dict_order_does_not_matter(self, fleet):
        """Facts and hostvars built in another order render the same."""
        hosts, hostvars = fleet
        shuffled = {}
        for name in reversed(list(hostvars)):
            variables = copy.deepcopy(hostvars[name])
            facts = (variables.get('ansible_facts') or {}).get('namespaces')
            if facts:
                facts['namespaces'] = dict(reversed(list(facts['namespaces'].items())))
                facts['discovery']['skipped'] = dict(reversed(list(facts['discovery']['skipped'].items())))
            shuffled[name] = dict(reversed(list(variables.items())))
        first, second = build_report(hosts, hostvars, generated=GENERATED), build_report(hosts, shuffled, generated=GENERATED)
        assert render_html(first) == render_html(second)
        assert render_markdown(first) == render_markdown(second)

    def test_titles(self, report):
        assert '<title>Fleet &amp; co</title>' in render_html(report, title='Fleet & co')
        assert render_markdown(report, title='Fleet_1').startswith('# Fleet\\_1\n')
