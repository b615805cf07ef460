# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet role end to end over a real SSH fleet (issue 6).

Three hosts in network namespaces, each with its own sshd and hostname, plus a
fourth inventory host with an address nobody holds (tests/lab/fleet.py); a real
Kubernetes-shaped runc pod (tests/lab/containers.py). playbooks/site.yml runs with
forks over all four:

- facts on the three, the unreachable one named in the report with its SSH error;
- a declared isolated process ensured on two hosts, zero changes on the second run;
- the pod's containers located by ID and by pod UID, a missing pod reported as such;
- the report as JSON (checked against its schema), Markdown and HTML, the HTML
  rendered by Debian's headless chromium (DOM and screenshot, saved under
  tests/output/);
- bad declarations fail on the controller before any SSH connection is made;
- jsonfile fact caching with ansible_facts_modules, and the shipped constructed
  inventory grouping hosts by cached facts for a later play with gather_facts: false.

Everything (sshd, ssh masters, isolated processes, containers, namespaces, bridge)
is removed at the end, also when a test fails.
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import jsonschema
import pytest

from conftest import BIN_DIR, PYTHON, REPO, ansible_env

from lab.chromium import ChromiumMissing, png_size
from lab.chromium import chromium as run_chromium
from lab.containers import RuncLab
from lab.fleet import SshFleet

SITE = os.path.join(REPO, 'playbooks', 'site.yml')
ROLE_FILES = os.path.join(REPO, 'roles', 'fleet', 'files')
CONSTRUCTED = os.path.join(REPO, 'playbooks', 'inventory', 'example', 'namespaces.constructed.yml')
ARTIFACTS = os.path.join(REPO, 'tests', 'output', 'fleet')
ISOLATED_ON = ('fleet-a', 'fleet-b')
# argv[0] of sh -c is shown in the report: markup in it must come out escaped.
PROBE_COMMAND = ['/bin/sh', '-c', 'exec sleep infinity', '<i>probe</i> & "co"']

with open(os.path.join(ROLE_FILES, 'fleet_report.schema.json')) as _handle:
    REPORT_SCHEMA = json.load(_handle)

pytestmark = pytest.mark.skipif(shutil.which('sshd') is None and not os.path.exists('/usr/sbin/sshd'),
                                reason='needs openssh-server (tools/env.sh installs it)')


# ---------------------------------------------------------------------------- helpers

def starttime(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            data = handle.read()
    except OSError:
        return None
    return int(data[data.rindex(')') + 2:].split()[19])


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            data = handle.read()
    except OSError:
        return False
    return data[data.rindex(')') + 2:].split()[0] not in ('Z', 'X')


def ansible(fleet, args, extra_env=None, timeout=600):
    """Run an ansible-* command with the test JSON callback; returns (rc, json or None, stdout, stderr)."""
    env = ansible_env(**fleet.ansible_env())
    env.update(extra_env or {})
    proc = subprocess.run([os.path.join(BIN_DIR, args[0])] + args[1:], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    try:
        result = json.loads(proc.stdout[proc.stdout.index('{'):])
    except ValueError:
        result = None
    return proc.returncode, result, proc.stdout, proc.stderr


def playbook(fleet, inventory, playbook_path, *extra, extra_env=None):
    rc, result, out, err = ansible(fleet, ['ansible-playbook', '-i', inventory, playbook_path, '--forks', '4']
                                   + list(extra), extra_env=extra_env)
    assert result is not None, 'ansible-playbook printed no JSON (rc %d):\n%s\n%s' % (rc, out[-4000:], err[-4000:])
    return rc, result


def _bare(name):
    """A task name without the "role : " prefix Ansible puts before tasks of a role."""
    return name.split(' : ', 1)[1] if ' : ' in name else name


def task_hosts(result, name):
    """{host: result} of every task with this name that did not skip (later runs win)."""
    found = {}
    for play in result['plays']:
        for task in play['tasks']:
            if _bare(task['task']['name']) == name:
                found.update((h, r) for h, r in task['hosts'].items() if not r.get('skipped'))
    return found


def task_names(result):
    return [_bare(task['task']['name']) for play in result['plays'] for task in play['tasks']]


def host_report(report, host):
    return next(h for h in report['hosts'] if h['host'] == host)


def chromium(*args, timeout=120):
    """Debian's chromium, headless, with a fresh profile under ARTIFACTS (tests/lab/chromium.py)."""
    try:
        return run_chromium(args, os.path.join(ARTIFACTS, 'chromium-profile'), timeout=timeout)
    except ChromiumMissing as exc:
        pytest.fail(str(exc))


# ---------------------------------------------------------------------------- fixtures

@pytest.fixture(scope='module')
def pod():
    """A Kubernetes-shaped runc pod (pause + app) under the systemd cgroup layout."""
    with RuncLab() as lab:
        yield lab.pod(qos='burstable', layout='systemd', app_args=['sleep', '100000'])
    leftovers = lab.leftovers()
    assert not leftovers, leftovers


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    """Three SSH hosts and an unreachable one; teardown also stops declared isolated processes."""
    work = tmp_path_factory.mktemp('fleet')
    with SshFleet(hosts=3, unreachable=1, python=PYTHON, workdir_parent=str(work)) as ssh_fleet:
        ssh_fleet.state_root = str(work / 'isolated')
        try:
            yield ssh_fleet
        finally:
            _stop_isolated_processes(ssh_fleet.state_root)
    leftovers = ssh_fleet.leftovers()
    assert not leftovers, leftovers


def _stop_isolated_processes(state_root):
    """Safety net: SIGKILL every process the isolated_process records name (PID + start time)."""
    for record_path in glob.glob(os.path.join(state_root, '*', '*.json')):
        try:
            with open(record_path) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue
        pid = record.get('pid')
        if isinstance(pid, int) and starttime(pid) == record.get('starttime'):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)


def fleet_inventory(fleet, path, pod, isolated_state='present', extra_host_vars=None):
    host_vars = {}
    for host in fleet.hosts:
        host_vars[host.name] = {'fleet_isolated_state_dir': os.path.join(fleet.state_root, host.name)}
    for name in ISOLATED_ON:
        host_vars[name]['fleet_isolated_processes'] = [{
            'name': 'probe',
            'state': isolated_state,
            'command': PROBE_COMMAND,
            'namespaces': ['pid', 'mnt', 'uts', 'ipc', 'net'],
            'hostname': 'probe-%s' % name,
            'log_path': os.path.join(fleet.state_root, '%s-probe.log' % name),
        }]
    for name, variables in (extra_host_vars or {}).items():
        host_vars[name].update(variables)
    group_vars = {
        'fleet_containers': [
            {'name': 'pod-app', 'id': pod.app.id[:12]},
            {'name': 'whole-pod', 'pod_uid': pod.uid},
            {'name': 'missing-pod', 'pod_uid': str(uuid.uuid4())},
        ],
    }
    return fleet.write_inventory(str(path), host_vars=host_vars, group_vars=group_vars)


# ---------------------------------------------------------------------------- the main job

def test_site_over_ssh_fleet(fleet, pod, tmp_path):
    os.makedirs(ARTIFACTS, exist_ok=True)
    inventory = fleet_inventory(fleet, tmp_path / 'inventory.json', pod)
    report_dir = tmp_path / 'report'
    reachable = [h.name for h in fleet.reachable]
    down = fleet.unreachable[0]

    # First run: converges; the unreachable host fails the run (after the report).
    rc, first = playbook(fleet, inventory, SITE, '-e', 'fleet_report_dir=%s' % report_dir)
    stats = first['stats']
    assert rc == 2, stats
    for name in reachable:
        assert stats[name]['failures'] == 0 and stats[name]['unreachable'] == 0, (name, stats[name])
    assert stats[down.name]['failures'] == 1
    ensured = task_hosts(first, 'Ensure each declared process with nsops.namespaces.isolated_process')
    assert sorted(ensured) == sorted(ISOLATED_ON)
    for name in ISOLATED_ON:
        assert ensured[name]['changed'] is True
        assert ensured[name]['results'][0]['action'] == 'start'

    report = json.loads((report_dir / 'fleet_report.json').read_text())
    jsonschema.validate(report, REPORT_SCHEMA, cls=jsonschema.Draft202012Validator)
    assert [h['host'] for h in report['hosts']] == [h.name for h in fleet.hosts]
    assert report['summary']['status_counts'] == {'ok': 3, 'failed': 0, 'unreachable': 1}

    # The unreachable host: named with its SSH error.
    gone = host_report(report, down.name)
    assert gone['status'] == 'unreachable'
    assert down.address in gone['reason'] and 'ssh' in gone['reason'].lower(), gone['reason']
    assert report['summary']['unreachable'] == [{'host': down.name, 'reason': gone['reason']}]
    assert gone['namespaces'] is None

    # The reachable hosts: complete.
    host_pid = {}
    for name in reachable:
        host = host_report(report, name)
        assert host['status'] == 'ok' and host['problems'] == [], host['problems']
        counts = host['namespaces']['counts']
        assert all(counts[t] >= 1 for t in ('cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts')), counts
        assert host['namespaces']['total'] == sum(counts.values())
        assert host['namespaces']['capabilities'] == {'sys_admin': True, 'sys_ptrace': True}
        assert host['trees']['pid']['roots'] >= 1 and host['trees']['pid']['rows'][0]['depth'] == 0
        assert host['trees']['user']['rows']
        located = dict((c['name'], c) for c in host['containers'])
        app = located['pod-app']['found']
        assert [c['id'] for c in app] == [pod.app.id]
        assert app[0]['init_pid'] == pod.app.pid and app[0]['pod_uid'] == pod.uid
        assert sorted(c['id'] for c in located['whole-pod']['found']) == sorted([pod.pause.id, pod.app.id])
        assert located['missing-pod']['found'] == [] and located['missing-pod']['looked_up'] is True
        isolated = host['isolated_processes']
        if name in ISOLATED_ON:
            assert len(isolated) == 1 and isolated[0]['state'] == 'present' and isolated[0]['error'] is None
            host_pid[name] = isolated[0]['pid']
        else:
            assert isolated == []
    # Fleet-wide: where the pod runs (all three hosts share this kernel), and where it does not.
    fleet_containers = dict((c['name'], c) for c in report['containers'])
    assert sorted(f['host'] for f in fleet_containers['pod-app']['found_on']) == sorted(reachable)
    assert fleet_containers['missing-pod']['found_on'] == []
    assert sorted(fleet_containers['missing-pod']['not_found_on']) == sorted(reachable)

    # The isolated processes really run in their own namespaces, one per host.
    assert len(set(host_pid.values())) == 2
    for name, pid in host_pid.items():
        assert alive(pid)
        for nstype in ('pid', 'uts', 'net', 'mnt', 'ipc'):
            assert os.stat('/proc/%d/ns/%s' % (pid, nstype)).st_ino != os.stat('/proc/self/ns/%s' % nstype).st_ino
        hostname = subprocess.run(['nsenter', '-t', str(pid), '-u', 'hostname'], capture_output=True,
                                  text=True, check=True).stdout.strip()
        assert hostname == 'probe-%s' % name
    # The facts were gathered again after the processes started: their namespaces are in the trees.
    for name, pid in host_pid.items():
        trees = host_report(report, name)['trees']
        for nstype in ('pid', 'net', 'mnt'):
            ref = '%s:[%d]' % (nstype, os.stat('/proc/%d/ns/%s' % (pid, nstype)).st_ino)
            assert ref in [row['ref'] for row in trees[nstype]['rows']], (name, nstype, ref)

    # Second run: nothing changes anywhere, the processes are the same.
    rc, second = playbook(fleet, inventory, SITE, '-e', 'fleet_report_dir=%s' % report_dir)
    assert rc == 2
    for name in reachable:
        assert second['stats'][name]['changed'] == 0, (name, second['stats'][name])
    again = json.loads((report_dir / 'fleet_report.json').read_text())
    for name in ISOLATED_ON:
        item = host_report(again, name)['isolated_processes'][0]
        assert (item['action'], item['pid'], item['changed']) == ('none', host_pid[name], False)

    # Markdown: every host, the problem, the trees.
    markdown = (report_dir / 'fleet_report.md').read_text()
    for host in fleet.hosts:
        assert '## Host %s' % host.name in markdown
    assert '**%s** unreachable' % down.name in markdown
    assert '### PID namespace tree' in markdown
    assert '<i>' not in markdown and '&lt;i&gt;probe&lt;/i&gt;' in markdown
    shutil.copy(str(report_dir / 'fleet_report.md'), ARTIFACTS)

    # HTML, in a real browser: the DOM chromium built, then a screenshot.
    html_path = str(report_dir / 'fleet_report.html')
    shutil.copy(html_path, ARTIFACTS)
    rc, dom, err = chromium('--dump-dom', 'file://' + html_path)
    assert rc == 0, err[-2000:]
    for host in fleet.hosts:
        assert re.search(r'id="host-[0-9]+-%s"' % re.escape(host.name), dom), host.name
    for name in reachable:
        assert re.search(r'<section class="host ok" id="host-[0-9]+-%s">' % re.escape(name), dom), name
    assert re.search(r'<section class="host unreachable" id="host-[0-9]+-%s">' % re.escape(down.name), dom)
    assert 'NET namespaces by owning user namespace' in dom and 'MNT namespaces by owning user namespace' in dom
    assert 'No route to host' in dom or down.address in dom
    assert '<i>probe</i>' not in dom and '&lt;i&gt;probe&lt;/i&gt;' in dom   # escaped, not markup
    assert 'PID namespace tree' in dom
    screenshot = os.path.join(ARTIFACTS, 'fleet_report.png')
    if os.path.exists(screenshot):
        os.unlink(screenshot)
    rc, dummy, err = chromium('--hide-scrollbars', '--window-size=1400,2000', '--screenshot=%s' % screenshot,
                              'file://' + html_path)
    assert rc == 0 and os.path.exists(screenshot), err[-2000:]
    width, height = png_size(screenshot)
    assert (width, height) == (1400, 2000) and os.path.getsize(screenshot) > 20000

    # Clean up through the role itself: state absent stops both processes.
    absent_inventory = fleet_inventory(fleet, tmp_path / 'absent.json', pod, isolated_state='absent')
    rc, third = playbook(fleet, absent_inventory, SITE, '-e', 'fleet_report_dir=%s' % (tmp_path / 'absent'))
    stopped = task_hosts(third, 'Ensure each declared process with nsops.namespaces.isolated_process')
    for name in ISOLATED_ON:
        assert stopped[name]['results'][0]['action'] == 'stop'
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in host_pid.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in host_pid.values())


# ---------------------------------------------------------------------------- bad declarations

# (host, its bad declarations, our message, True when the role's argument spec catches
# it first). The argument spec (types, choices, unknown fields) fails that host only;
# the hosts still in the play then check its declarations from hostvars and stop the
# play with our message.
BAD_DECLARATIONS = [
    pytest.param('fleet-b', {'fleet_isolated_processes': [
        {'name': 'probe', 'command': ['sleep', '1'], 'bogus': 1}]},
        "fleet-b: fleet_isolated_processes[0] (name 'probe'): field 'bogus': unknown field", True, id='unknown-field'),
    pytest.param('fleet-c', {'fleet_containers': [{'name': 'web', 'pid': 'abc'}]},
                 "fleet-c: fleet_containers[0] (name 'web'): field 'pid': must be an integer, not string 'abc'", True,
                 id='wrong-type'),
    pytest.param('fleet-a', {'fleet_isolated_processes': [{'name': 'bad name!', 'command': ['sleep', '1']}]},
                 "fleet-a: fleet_isolated_processes[0] (name 'bad name!'): field 'name': 'bad name!' is not valid",
                 False, id='bad-name'),
]
CHECKS = ("Check declarations against the role's JSON Schemas",
          "Check the declarations of hosts that failed the role's argument validation")
ARGSPEC = "Validating arguments against arg spec 'main'"


@pytest.mark.parametrize('host, variables, message, by_argspec', BAD_DECLARATIONS)
def test_bad_declarations_fail_before_any_host_is_contacted(fleet, pod, tmp_path, host, variables, message,
                                                            by_argspec):
    inventory = fleet_inventory(fleet, tmp_path / 'inventory.json', pod, extra_host_vars={host: variables})
    fleet.close_ssh_masters()
    assert os.listdir(fleet.control_dir) == []
    rc, result = playbook(fleet, inventory, SITE, '-e', 'fleet_report_dir=%s' % (tmp_path / 'report'))
    assert rc == 2
    argspec = {}
    for play in result['plays']:
        for task in play['tasks']:
            if _bare(task['task']['name']).startswith(ARGSPEC):
                argspec.update(task['hosts'])
    assert bool(argspec[host].get('failed')) is by_argspec, argspec[host]
    failed = [r for name in CHECKS for r in task_hosts(result, name).values() if r.get('failed')]
    assert any(message in json.dumps(r) for r in failed), json.dumps(failed)[:3000]
    if not by_argspec:
        assert task_hosts(result, CHECKS[0])[host].get('failed') is True
    # Nothing after the checks ran, and no SSH connection was ever opened.
    assert task_names(result)[-1] in CHECKS, task_names(result)
    assert not (tmp_path / 'report').exists()
    assert os.listdir(fleet.control_dir) == [], 'a host was contacted'


# ---------------------------------------------------------------------------- facts in the inventory

GATHER_PLAY = '''\
- name: Gather namespace facts into the fact cache
  hosts: fleet
  gather_facts: true
  gather_timeout: 300
  vars:
    ansible_facts_modules: [ansible.builtin.setup, nsops.namespaces.namespace_facts]
  module_defaults:
    ansible.builtin.setup:
      gather_subset: [min]
    nsops.namespaces.namespace_facts:
      sources: [fds]
      pids: [{pid}]
  tasks: []
'''

LATER_PLAY = '''\
- name: A later play on a group built from cached namespace facts
  hosts: pod_{group_uid}
  gather_facts: false
  tasks:
    - name: The namespace facts come from the cache, with the host's own hostname
      ansible.builtin.assert:
        that:
          - ansible_facts.namespaces.discovery.kernel is defined
          - ansible_facts.namespaces.processes | map(attribute='pid') | list == [{pid}]
          - ansible_facts.nodename == inventory_hostname
          - inventory_hostname in groups['namespaces_many_netns']
        quiet: true
'''


def test_fact_cache_and_constructed_inventory(fleet, pod, tmp_path):
    inventory = fleet_inventory(fleet, tmp_path / 'inventory.json', pod)
    cache = tmp_path / 'facts'
    cache_env = {'ANSIBLE_CACHE_PLUGIN': 'ansible.builtin.jsonfile', 'ANSIBLE_CACHE_PLUGIN_CONNECTION': str(cache),
                 'ANSIBLE_CACHE_PLUGIN_TIMEOUT': '3600'}
    reachable = sorted(h.name for h in fleet.reachable)
    gather = tmp_path / 'gather.yml'
    gather.write_text(GATHER_PLAY.format(pid=pod.app.pid))
    rc, result = playbook(fleet, inventory, str(gather), '--limit', ','.join(reachable), extra_env=cache_env)
    assert rc == 0, result['stats']
    cached = sorted(os.listdir(str(cache)))
    assert len(cached) == 3, cached

    # The shipped constructed config groups the hosts by pod UID, kernel and capability.
    rc, dummy, out, err = ansible(fleet, ['ansible-inventory', '-i', inventory, '-i', CONSTRUCTED, '--list'],
                                  extra_env=dict(cache_env, ANSIBLE_STDOUT_CALLBACK='default'))
    assert rc == 0, err
    groups = json.loads(out)
    group_uid = pod.uid.replace('-', '_')
    assert sorted(groups['pod_%s' % group_uid]['hosts']) == reachable, sorted(groups)
    assert sorted(groups['sys_admin_True']['hosts']) == reachable
    assert any(name.startswith('kernel_') for name in groups)
    assert sorted(groups['namespaces_many_netns']['hosts']) == reachable
    assert 'fleet-down' not in json.dumps({k: v for k, v in groups.items() if k.startswith('pod_')})

    # A later play: gather_facts false, hosts from a keyed group, facts from the cache.
    later = tmp_path / 'later.yml'
    later.write_text(LATER_PLAY.format(group_uid=group_uid, pid=pod.app.pid))
    fleet.close_ssh_masters()
    rc, result = playbook(fleet, inventory, str(later), '-i', CONSTRUCTED, extra_env=cache_env)
    assert rc == 0, json.dumps(result)[-3000:]
    assert sorted(result['stats']) == reachable
    assert 'Gathering Facts' not in task_names(result)
    assert os.listdir(fleet.control_dir) == [], 'the later play should not need to contact the hosts'
