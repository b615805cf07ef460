# -*- coding: utf-8 -*-
# Copyright: contributors to nsops.namespaces
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Debian's chromium, headless, for the tests that look at rendered pages (PRIVATE).

    rc, out, err = chromium(['--dump-dom', 'file:///...'], profile_dir)
    png_size(path)  # (width, height) of a PNG

Flags keep it off the network (no background networking, component updates, sync or
QUIC) and off /dev/shm; the process group it leads (zygote and renderers too) is
killed by PID when it returns or times out, and the fresh profile is removed.
"""

import os
import shutil
import signal
import struct
import subprocess

FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-dev-shm-usage']


class ChromiumMissing(Exception):
    pass


def chromium(args, profile, timeout=120):
    """Run chromium with ``args``; returns (returncode, stdout, stderr)."""
    binary = shutil.which('chromium')
    if binary is None:
        raise ChromiumMissing('chromium is not installed (tools/env.sh installs it)')
    shutil.rmtree(profile, ignore_errors=True)
    os.makedirs(profile)
    cmd = [binary] + FLAGS + ['--user-data-dir=%s' % profile] + list(args)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)     # the group it leads: zygote and renderers too
        except ProcessLookupError:
            pass
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return proc.returncode, out, err


def png_size(path):
    with open(path, 'rb') as handle:
        head = handle.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    return struct.unpack('>II', head[16:24])
