# -*- coding: utf-8 -*-
# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE: this module_utils file is not part of the collection's public API and may
# change without notice.
"""cgroup hierarchies and container identity from cgroup paths.

Three things live here, all read-only:

* :func:`hierarchies_from_mounts` - the mounted cgroup hierarchies (v1 controllers,
  named v1 hierarchies such as ``name=systemd``, the v2 unified hierarchy; a hybrid
  host has both) and how a cgroup path maps to a directory in each.
* :func:`identify` - which container a cgroup path belongs to, from the naming
  conventions of the runtimes (Docker, containerd, Kubernetes, CRI-O, Podman,
  systemd-nspawn, LXC). A path that matches no known layout is unknown: nothing is
  guessed from a bare directory name.
* :func:`walk_containers` and :func:`read_procs_tree` - finding container
  directories by walking a hierarchy, and reading their ``cgroup.procs``
  recursively (crun puts the workload into a ``container`` sub-cgroup).
"""


import errno
import os
import re

from ansible_collections.nsops.namespaces.plugins.module_utils._kernel.procfs import (
    ProcParseError,
    classify,
    parse_cgroup,
    read_mountinfo,
)

# ---------------------------------------------------------------------------- hierarchies

UNIFIED = 'unified'

# Options of a v1 cgroup mount that are not controllers.
_V1_MOUNT_OPTIONS = frozenset((
    'rw', 'ro', 'nosuid', 'nodev', 'noexec', 'relatime', 'noatime', 'strictatime',
    'clone_children', 'noprefix', 'xattr', 'cpuset_v2_mode', 'favordynmods',
    'nofavordynmods', 'none', 'all',
))


class Hierarchy:
    """One mounted cgroup hierarchy.

    ``name`` is how ``/proc/PID/cgroup`` names it: the controller list of a v1
    hierarchy (``cpu,cpuacct``, ``name=systemd``) or ``unified`` for cgroup v2.
    ``root`` is the cgroup mounted at ``mount_point`` (``/`` on a host; a subtree in a
    container, or ``/..`` when the mount lies outside the reader's cgroup namespace).
    """

    __slots__ = ('version', 'controllers', 'mount_point', 'root', 'dev')

    def __init__(self, version, controllers, mount_point, root='/', dev=None):
        self.version = version
        # The order /proc/PID/cgroup uses: controllers sorted, a name= last.
        self.controllers = tuple(sorted(c for c in controllers if not c.startswith('name=')) +
                                 [c for c in controllers if c.startswith('name=')])
        self.mount_point = mount_point
        self.root = root
        self.dev = dev

    @property
    def name(self):
        return ','.join(self.controllers) if self.version == 1 else UNIFIED

    def matches(self, entry):
        """True if a parsed ``/proc/PID/cgroup`` entry belongs to this hierarchy."""
        if self.version == 2:
            return entry.hierarchy_id == 0 and not entry.controllers
        return entry.hierarchy_id != 0 and sorted(entry.controllers) == sorted(self.controllers)

    def directory(self, cgroup_path):
        """The directory of ``cgroup_path`` below the mount, or None if not reachable."""
        root = self.root.rstrip('/')
        if root and cgroup_path != root and not cgroup_path.startswith(root + '/'):
            return None
        rest = cgroup_path[len(root):].strip('/')
        return os.path.join(self.mount_point, rest) if rest else self.mount_point

    def cgroup_path(self, directory):
        """Inverse of :meth:`directory`."""
        rest = os.path.relpath(directory, self.mount_point)
        base = self.root.rstrip('/')
        if rest == '.':
            return base or '/'
        return base + '/' + rest

    def as_dict(self):
        return {
            'name': self.name,
            'version': self.version,
            'mount_point': self.mount_point,
            'root': self.root,
        }

    def __repr__(self):
        return 'Hierarchy(%r, %r, root=%r)' % (self.name, self.mount_point, self.root)


def _v1_controllers(super_options):
    controllers = [opt for opt in super_options
                   if opt not in _V1_MOUNT_OPTIONS and ('=' not in opt or opt.startswith('name='))]
    return controllers


def hierarchies_from_mounts(mounts, mount_prefix=''):
    """The cgroup hierarchies among parsed mountinfo entries, one per superblock.

    A hierarchy mounted several times (bind mounts) is kept once, preferring the
    mount that shows the most of it (the shortest root). ``mount_prefix`` is put in
    front of every mount point, for a host's file systems seen below a directory.
    """
    best = {}
    order = []
    for mount in mounts:
        if mount.fstype == 'cgroup2':
            hierarchy = Hierarchy(2, (), mount.mount_point, mount.root, mount.dev)
        elif mount.fstype == 'cgroup':
            controllers = _v1_controllers(mount.super_options)
            if not controllers:
                continue
            hierarchy = Hierarchy(1, controllers, mount.mount_point, mount.root, mount.dev)
        else:
            continue
        if mount_prefix:
            hierarchy.mount_point = mount_prefix.rstrip('/') + hierarchy.mount_point
        key = mount.dev
        known = best.get(key)
        if known is None:
            order.append(key)
            best[key] = hierarchy
        elif len(hierarchy.root) < len(known.root):
            best[key] = hierarchy
    return [best[key] for key in order]


def read_hierarchies(root, mount_prefix='', pid='self'):
    """Hierarchies from ``<proc root>/<pid>/mountinfo``; malformed lines are skipped."""
    errors = []
    return hierarchies_from_mounts(read_mountinfo(root, pid, errors), mount_prefix)


def paths_by_hierarchy(entries, hierarchies):
    """``{hierarchy name: cgroup path}`` for parsed ``/proc/PID/cgroup`` entries."""
    paths = {}
    for hierarchy in hierarchies:
        for entry in entries:
            if hierarchy.matches(entry):
                paths[hierarchy.name] = entry.path
                break
    return paths


# ---------------------------------------------------------------------------- identity

RUNTIMES = ('docker', 'containerd', 'cri', 'cri-o', 'podman', 'systemd-nspawn', 'lxc')
# Runtimes whose cgroup names carry a container name instead of a hex ID.
NAMED_RUNTIMES = ('containerd', 'systemd-nspawn', 'lxc')

CONTAINER = 'container'
MONITOR = 'monitor'  # conmon of CRI-O/Podman, the LXC monitor

_HEX64 = '[0-9a-f]{64}'
HEX_ID_RE = re.compile('^%s$' % _HEX64)
# Kubernetes pod UIDs: RFC 4122 UUIDs, or 32 hex digits (the hash of a static pod).
_POD_UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32}'
POD_UID_RE = re.compile('^(?:%s)$' % _POD_UID)

# Kubernetes pod slice of the systemd driver; kubelet's --cgroup-root adds a prefix
# (kind: kubelet-kubepods-...).
_KUBE_POD_SLICE = re.compile(
    r'^(?:[A-Za-z0-9_.]+-)*kubepods(?:-(?P<qos>burstable|besteffort))?-pod(?P<uid>%s)\.slice$' % _POD_UID)
_KUBE_POD_DIR = re.compile(r'^pod(?P<uid>%s)$' % _POD_UID)
_USER_SERVICE = re.compile(r'^user@(?P<uid>[0-9]+)\.service$')
_PODMAN_POD_SLICE = re.compile(r'^machine-libpod_pod_(?P<pod>%s)\.slice$' % _HEX64)
_SYSTEMD_ESCAPE = re.compile(r'\\x([0-9a-fA-F]{2})')
# containerd namespace names (containerd/pkg/identifiers).
_CONTAINERD_NAME = re.compile(r'^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$')
# Top-level directories that are not containerd namespaces even if shaped like one.
_NOT_CONTAINERD_NAMESPACES = frozenset(('docker', 'kubepods', 'lxc', 'lxc.payload', 'lxc.monitor',
                                        'libpod_parent', 'crio', 'machine', 'init.scope'))
_SYSTEMD_UNIT_SUFFIXES = ('.slice', '.scope', '.service', '.mount', '.socket', '.swap')
# systemd-machined registers libvirt guests as machine-<driver>-<n>-<name>.scope too.
_LIBVIRT_MACHINE = re.compile(r'^(?:qemu|kvm|lxc|xen|vbox|bhyve|ch)-[0-9]+-')

# Leaf components that name a container on their own, wherever they are.
# (pattern, runtime, role, cgroup driver)
_LEAF_PATTERNS = (
    (re.compile(r'^docker-(?P<id>%s)\.scope$' % _HEX64), 'docker', CONTAINER, 'systemd'),
    (re.compile(r'^cri-containerd-(?P<id>%s)\.scope$' % _HEX64), 'containerd', CONTAINER, 'systemd'),
    (re.compile(r'^nerdctl-(?P<id>%s)\.scope$' % _HEX64), 'containerd', CONTAINER, 'systemd'),
    (re.compile(r'^crio-conmon-(?P<id>%s)\.scope$' % _HEX64), 'cri-o', MONITOR, 'systemd'),
    (re.compile(r'^crio-conmon-(?P<id>%s)$' % _HEX64), 'cri-o', MONITOR, 'cgroupfs'),
    (re.compile(r'^crio-(?P<id>%s)\.scope$' % _HEX64), 'cri-o', CONTAINER, 'systemd'),
    (re.compile(r'^crio-(?P<id>%s)$' % _HEX64), 'cri-o', CONTAINER, 'cgroupfs'),
    (re.compile(r'^libpod-conmon-(?P<id>%s)\.scope$' % _HEX64), 'podman', MONITOR, 'systemd'),
    (re.compile(r'^libpod-conmon-(?P<id>%s)$' % _HEX64), 'podman', MONITOR, 'cgroupfs'),
    (re.compile(r'^libpod-(?P<id>%s)\.scope$' % _HEX64), 'podman', CONTAINER, 'systemd'),
    (re.compile(r'^libpod-(?P<id>%s)$' % _HEX64), 'podman', CONTAINER, 'cgroupfs'),
    (re.compile(r'^lxc\.payload\.(?P<name>.+)$'), 'lxc', CONTAINER, 'cgroupfs'),
    (re.compile(r'^lxc\.monitor\.(?P<name>.+)$'), 'lxc', MONITOR, 'cgroupfs'),
)
_MACHINE_SCOPE = re.compile(r'^machine-(?P<name>.+)\.scope$')
# Before LXC 4 the payload sat at /lxc/<name> (monitor: /lxc.monitor/<name>); LXC 3.1
# briefly used /lxc.payload/<name>.
_LXC_LEGACY_PARENTS = {'lxc': CONTAINER, 'lxc.payload': CONTAINER, 'lxc.monitor': MONITOR}


def unescape_systemd(text):
    """Undo systemd unit-name escaping (``\\x2d`` -> ``-``)."""
    return _SYSTEMD_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def normalize_pod_uid(uid):
    """A pod UID as Kubernetes prints it: lower case, ``-`` rather than systemd's ``_``."""
    return uid.lower().replace('_', '-')


class Identity:
    """Who a cgroup belongs to.

    ``cgroup`` is the path up to and including the component that names the
    container; anything below it (crun's ``container``, a systemd inside) is the
    container's own business.
    """

    __slots__ = ('runtime', 'id', 'name', 'role', 'cgroup', 'cgroup_driver', 'pod_uid', 'qos',
                 'podman_pod_id', 'containerd_namespace', 'rootless_uid')

    def __init__(self, runtime, cgroup, role=CONTAINER, container_id=None, name=None,
                 cgroup_driver='cgroupfs', pod_uid=None, qos=None, podman_pod_id=None,
                 containerd_namespace=None, rootless_uid=None):
        self.runtime = runtime
        self.id = container_id
        self.name = name
        self.role = role
        self.cgroup = cgroup
        self.cgroup_driver = cgroup_driver
        self.pod_uid = pod_uid
        self.qos = qos
        self.podman_pod_id = podman_pod_id
        self.containerd_namespace = containerd_namespace
        self.rootless_uid = rootless_uid

    @property
    def key(self):
        """Same for a container and its monitor: ``(runtime, id or name)``."""
        return (self.runtime, self.id or self.name)

    def as_dict(self):
        return dict((slot, getattr(self, slot)) for slot in self.__slots__)

    def __eq__(self, other):
        return isinstance(other, Identity) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.key, self.cgroup))

    def __repr__(self):
        return 'Identity(%r, %r, %r)' % (self.runtime, self.id or self.name, self.cgroup)


UNKNOWN = dict((slot, None) for slot in Identity.__slots__)


class _PathContext:
    """What the components above a cgroup directory tell about the ones below."""

    __slots__ = ('depth', 'parent', 'after_kubepods', 'pod', 'pod_depth', 'podman_pod_id',
                 'rootless_uid', 'path', 'machine', 'machine_depth')

    def __init__(self):
        self.depth = 0
        self.parent = None
        self.after_kubepods = None  # qos after /kubepods or /kubepods/<qos>
        self.pod = None             # (uid, qos, driver) of the enclosing Kubernetes pod
        self.pod_depth = None
        self.podman_pod_id = None
        self.rootless_uid = None
        self.path = ''
        self.machine = None         # name of the enclosing systemd-nspawn machine scope
        self.machine_depth = None

    def child(self):
        ctx = _PathContext()
        for slot in self.__slots__:
            setattr(ctx, slot, getattr(self, slot))
        return ctx


def _step(ctx, part):
    """Descend into ``part``: return the new context and the identity it names, if any."""
    new = ctx.child()
    new.depth = ctx.depth + 1
    new.parent = part
    new.path = ctx.path + '/' + part
    new.after_kubepods = None

    match = _USER_SERVICE.match(part)
    if match:
        new.rootless_uid = int(match.group('uid'))
        return new, None
    if part == 'kubepods':
        new.after_kubepods = 'guaranteed'
        return new, None
    if ctx.after_kubepods == 'guaranteed' and part in ('burstable', 'besteffort'):
        new.after_kubepods = part
        return new, None
    if ctx.after_kubepods:
        match = _KUBE_POD_DIR.match(part)
        if match:
            new.pod = (normalize_pod_uid(match.group('uid')), ctx.after_kubepods, 'cgroupfs')
            new.pod_depth = new.depth
            return new, None
    match = _KUBE_POD_SLICE.match(part)
    if match:
        new.pod = (normalize_pod_uid(match.group('uid')), match.group('qos') or 'guaranteed', 'systemd')
        new.pod_depth = new.depth
        return new, None
    match = _PODMAN_POD_SLICE.match(part)
    if match:
        new.podman_pod_id = match.group('pod')
        return new, None
    if ctx.depth == 1 and ctx.parent == 'libpod_parent' and HEX_ID_RE.match(part):
        # Podman's cgroupfs manager: /libpod_parent/<pod id>/libpod-<id> (and <pod id>/conmon).
        new.podman_pod_id = part
        return new, None
    if ctx.machine is not None and ctx.machine_depth == ctx.depth and part == 'supervisor':
        # systemd-nspawn runs itself in <scope>/supervisor and the container in <scope>/payload.
        return new, Identity('systemd-nspawn', new.path, role=MONITOR, name=ctx.machine, cgroup_driver='systemd')

    identity = _identify_component(ctx, part, new.path)
    if identity is not None:
        in_pod = ctx.pod is not None and ctx.pod_depth == ctx.depth
        if in_pod:
            identity.pod_uid, identity.qos = ctx.pod[0], ctx.pod[1]
        if identity.runtime == 'podman':
            identity.podman_pod_id = ctx.podman_pod_id
        if identity.runtime == 'systemd-nspawn' and identity.role == CONTAINER:
            new.machine, new.machine_depth = identity.name, new.depth
        identity.rootless_uid = ctx.rootless_uid
    return new, identity


def _identify_component(ctx, part, path):
    for pattern, runtime, role, driver in _LEAF_PATTERNS:
        match = pattern.match(part)
        if match:
            groups = match.groupdict()
            return Identity(runtime, path, role=role, container_id=groups.get('id'),
                            name=groups.get('name'), cgroup_driver=driver)
    match = _MACHINE_SCOPE.match(part)
    if match:
        name = unescape_systemd(match.group('name'))
        if _LIBVIRT_MACHINE.match(name) or name.startswith('libpod'):
            return None  # a libvirt guest, not a container
        return Identity('systemd-nspawn', path, name=name, cgroup_driver='systemd')
    if ctx.parent == 'docker' and HEX_ID_RE.match(part):
        return Identity('docker', path, container_id=part)
    if ctx.pod is not None and ctx.pod_depth == ctx.depth and HEX_ID_RE.match(part):
        # Kubernetes with the cgroupfs driver: containerd's CRI plugin and cri-dockerd
        # both name the container cgroup by the bare ID, so the engine is not known.
        return Identity('cri', path, container_id=part)
    if ctx.depth == 1 and ctx.parent in _LXC_LEGACY_PARENTS:
        return Identity('lxc', path, role=_LXC_LEGACY_PARENTS[ctx.parent], name=part)
    if ctx.depth == 1 and _is_containerd_namespace(ctx.parent):
        if HEX_ID_RE.match(part):
            return Identity('containerd', path, container_id=part, containerd_namespace=ctx.parent)
        if ctx.parent == 'default' and _CONTAINERD_NAME.match(part):
            # `ctr run IMAGE NAME` in containerd's default namespace: free-text IDs.
            return Identity('containerd', path, name=part, containerd_namespace=ctx.parent)
    return None


def _is_containerd_namespace(name):
    return (bool(_CONTAINERD_NAME.match(name)) and name not in _NOT_CONTAINERD_NAMESPACES
            and not name.endswith(_SYSTEMD_UNIT_SUFFIXES))


def _components(path):
    return [part for part in path.split('/') if part]


def identify_all(path):
    """Every container named along ``path``, outermost first (nested containers)."""
    ctx = _PathContext()
    found = []
    for part in _components(path):
        ctx, identity = _step(ctx, part)
        if identity is not None:
            found.append(identity)
    return found


def identify(path):
    """The innermost container ``path`` belongs to, or None when the layout is unknown."""
    found = identify_all(path)
    return found[-1] if found else None


def identify_cgroup_text(value):
    """Identity for a cgroup path, or for the whole text of ``/proc/PID/cgroup``.

    Each line of the text is identified; the identity found in most hierarchies wins,
    the unified hierarchy breaking ties. Returns ``(identity or None, path used)``.
    """
    text = value.strip()
    if '\n' not in text and not re.match(r'^[0-9]+:', text):
        if not text.startswith('/'):
            raise ProcParseError('%r is neither an absolute cgroup path nor a line of /proc/PID/cgroup' % text)
        return identify(text), text
    entries = parse_cgroup(text)
    votes = {}
    for entry in entries:
        identity = identify(entry.path)
        if identity is None:
            continue
        unified = entry.hierarchy_id == 0 and not entry.controllers
        count, has_unified, first = votes.get(identity.key + (identity.role,), (0, False, None))
        votes[identity.key + (identity.role,)] = (
            count + 1, has_unified or unified, identity if first is None or unified else first)
    if not votes:
        fallback = entries[0].path if entries else ''
        for entry in entries:
            if entry.hierarchy_id == 0:
                fallback = entry.path
        return None, fallback
    best = max(votes.values(), key=lambda vote: (vote[0], vote[1]))
    return best[2], best[2].cgroup


def describe(identity):
    """Plain dict for an identity; every key present, None when unknown."""
    return identity.as_dict() if identity is not None else dict(UNKNOWN)


# ---------------------------------------------------------------------------- walking

def walk_containers(hierarchy, problems=None):
    """Yield ``(directory, identity)`` for every container cgroup in ``hierarchy``.

    Walks directories only; a directory that vanishes or cannot be listed is noted
    in ``problems`` as ``(path, reason)`` and skipped.
    """
    top = hierarchy.mount_point
    root_ctx = _PathContext()
    # Paths below a mount are relative to its root cgroup; seed the context with it.
    for part in _components(hierarchy.root if hierarchy.root != '/' else ''):
        if part == '..':
            root_ctx = _PathContext()
            break
        root_ctx = _step(root_ctx, part)[0]
    stack = [(top, root_ctx)]
    while stack:
        directory, ctx = stack.pop()
        children = _subdirectories(directory, problems)
        for name in sorted(children, reverse=True):
            child_ctx, identity = _step(ctx, name)
            path = os.path.join(directory, name)
            if identity is not None:
                yield path, identity
            stack.append((path, child_ctx))


def read_procs(directory):
    """PIDs in ``directory/cgroup.procs`` (raises OSError)."""
    with open(os.path.join(directory, 'cgroup.procs'), 'rb') as handle:
        text = handle.read().decode('ascii', 'replace')
    try:
        return [int(word) for word in text.split()]
    except ValueError:
        raise ProcParseError('%s/cgroup.procs holds non-numeric text' % directory)


def read_procs_tree(directory, skip=(), problems=None):
    """PIDs of ``directory`` and every cgroup below it, except the ``skip`` subtrees.

    Returns ``{pid: directory it was found in}``. Unreadable or vanished files and
    directories are noted in ``problems`` as ``(path, reason)``; the rest is read.
    """
    found = {}
    stack = [directory]
    while stack:
        current = stack.pop()
        try:
            pids = read_procs(current)
        except (OSError, ProcParseError) as exc:
            if problems is not None:
                problems.append((os.path.join(current, 'cgroup.procs'), classify(exc)))
            pids = []
        for pid in pids:
            found.setdefault(pid, current)
        children = (os.path.join(current, name) for name in _subdirectories(current, problems))
        stack.extend(child for child in sorted(children, reverse=True) if child not in skip)
    return found


def _subdirectories(directory, problems):
    """Names of the cgroups directly below ``directory``; none if it cannot be listed."""
    try:
        with os.scandir(directory) as entries:
            return [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
    except OSError as exc:
        # A cgroup removed while we walk is normal; anything else is worth a note.
        if problems is not None and exc.errno != errno.ENOENT:
            problems.append((directory, classify(exc)))
        return []
