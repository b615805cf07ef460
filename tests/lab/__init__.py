# -*- coding: utf-8 -*-
# Copyright: contributors to nsops.namespaces
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test lab for nsops.namespaces: real containers (runc) and network namespaces.

PRIVATE to the tests of this repository; not part of the collection.

Submodules:
    containers  RuncLab: OCI containers and Kubernetes-shaped pods under runc.
    netns       NetnsLab: named network namespaces on a private bridge.

This package only holds what both submodules share: a host-wide lock and a
registry of host objects (cgroup directories, the /run/netns mount) that a lab
created but that other labs running at the same time may still be using.  The
last lab that finds such an object unused removes it, so parallel test runs
neither break each other nor leak.

Import either as ``tests.lab.containers`` (repository root on sys.path) or as
``lab.containers`` (``tests/`` on sys.path, which is what pytest does).
"""

import atexit
import contextlib
import errno
import fcntl
import json
import os
import threading

__all__ = ["STATE_DIR", "host_lock", "registry_add", "registry_discard", "registry_items",
           "track_live_lab", "untrack_live_lab"]

# Host-wide state of all labs.  Lives as long as the objects it describes
# (until reboot); entries of objects that no longer exist are harmless.
STATE_DIR = os.environ.get("NSOPS_LAB_STATE", "/run/nsops-lab")
_LOCK = "lock"
_REGISTRY = "registry.json"


@contextlib.contextmanager
def host_lock():
    """Exclusive host-wide lock shared by every lab (flock, released on exit/crash)."""
    os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(STATE_DIR, _LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _load():
    try:
        with open(os.path.join(STATE_DIR, _REGISTRY)) as f:
            data = json.load(f)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return {}
        raise
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _save(data):
    path = os.path.join(STATE_DIR, _REGISTRY)
    if not data:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    tmp = path + ".%d.tmp" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def registry_items(kind):
    """Set of registered objects of one kind.  Call with host_lock() held."""
    return set(_load().get(kind, []))


def registry_add(kind, items):
    """Register objects (strings) of one kind.  Call with host_lock() held."""
    items = set(items)
    if not items:
        return
    data = _load()
    data[kind] = sorted(set(data.get(kind, [])) | items)
    _save(data)


def registry_discard(kind, items):
    """Forget objects of one kind.  Call with host_lock() held."""
    items = set(items)
    data = _load()
    if kind not in data or not items:
        return
    left = sorted(set(data[kind]) - items)
    if left:
        data[kind] = left
    else:
        del data[kind]
    _save(data)


# Labs still open when the interpreter exits are cleaned up then (best effort).
_LIVE_LABS = set()
_LIVE_LOCK = threading.Lock()


def track_live_lab(lab):
    with _LIVE_LOCK:
        _LIVE_LABS.add(lab)


def untrack_live_lab(lab):
    with _LIVE_LOCK:
        _LIVE_LABS.discard(lab)


def _atexit_cleanup():
    with _LIVE_LOCK:
        labs = list(_LIVE_LABS)
    for lab in labs:
        if lab.owner_pid != os.getpid():
            continue   # a forked child must not tear down its parent's lab
        try:
            lab.cleanup()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


atexit.register(_atexit_cleanup)
