# shellcheck shell=bash
# Environment for tests/run and playbooks/run. Source it; do not execute it.
#
# Makes sure, idempotently and quickly when nothing changed:
#   - the Debian packages the tests need are installed (NSOPS_APT_PACKAGES);
#   - $REPO/.venv exists (Python 3.11) with tests/requirements.txt installed,
#     reinstalling only when the requirements hash changed;
#   - $REPO/.collections/ansible_collections/nsops/namespaces links to the repo,
#     so ansible-playbook and ansible-doc find the collection from a checkout;
# and exports PATH, VIRTUAL_ENV, ANSIBLE_CONFIG and NSOPS_* for the callers.
#
# Knobs: NSOPS_PYTHON=/path/to/python3.11 picks the interpreter for the venv;
#        NSOPS_SKIP_APT=1 skips the Debian package step.

NSOPS_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
NSOPS_VENV="$NSOPS_REPO/.venv"
export NSOPS_REPO NSOPS_VENV

# Debian packages the test suite needs (runc: container lab; iproute2: netns
# fleet; util-linux: lsns/unshare/nsenter; openssh: sshd per netns; libcap2-bin:
# capsh/setpriv tests; shellcheck: the shellcheck sanity test; chromium and
# fonts-dejavu-core: the fleet report's HTML checked in a headless browser; the engines
# lab, tests/lab/engines.py: docker.io podman containerd lxc systemd-container crun,
# catatonit for Podman's pod infra, uidmap, and busybox-static for the rootfs - it
# replaces `busybox`, which conflicts with it; libmagic1: python-magic, which reuse and
# galaxy-importer load). Add to this list; env.sh installs only what is missing.
NSOPS_APT_PACKAGES=(runc iproute2 util-linux openssh-server openssh-client libcap2-bin shellcheck chromium fonts-dejavu-core
                    docker.io podman containerd lxc busybox-static systemd-container crun catatonit uidmap libmagic1)

nsops_log() { printf '[env] %s\n' "$*" >&2; }

# pip's global config here points at local mirrors that may not exist; their
# "is ignored" warnings are noise.
nsops_pip_filter() { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; }

nsops_apt() {
    [ "${NSOPS_SKIP_APT:-0}" = 1 ] && return 0
    local missing=() pkg
    for pkg in "${NSOPS_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        nsops_log "WARNING: missing Debian packages (need root to install): ${missing[*]}"
        return 0
    fi
    nsops_log "installing Debian packages: ${missing[*]}"
    # The lists may be absent or stale on a fresh machine: update once, here.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    # Daemons (dockerd, containerd, lxc-net) must not start on install: the tests start
    # their own, with state in a test dir. A policy-rc.d that says 101 keeps them down;
    # ours is removed again, one already there is left alone.
    local policy=/usr/sbin/policy-rc.d made_policy=0 rc
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=1
    fi
    # busybox-static replaces busybox (they conflict): apt removes busybox for it.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    rc=$?
    [ "$made_policy" = 1 ] && rm -f "$policy"
    return "$rc"
}

# A real Python 3.11 binary: pyenv's `python3` is a shim, so ask the interpreter
# itself for sys.executable instead of trusting the first thing on PATH.
nsops_find_python() {
    local cand real
    for cand in "${NSOPS_PYTHON:-}" python3.11 /usr/bin/python3.11 python3; do
        [ -n "$cand" ] || continue
        command -v "$cand" >/dev/null 2>&1 || continue
        real="$("$cand" -c 'import sys; print(sys.executable if sys.version_info[:2] == (3, 11) else "")' 2>/dev/null)" || continue
        if [ -n "$real" ] && [ -x "$real" ]; then
            printf '%s\n' "$real"
            return 0
        fi
    done
    nsops_log "ERROR: no Python 3.11 found (set NSOPS_PYTHON)"
    return 1
}

# A Python 3.11 venv at $1 with the requirements file $2 (and constraints $3) installed,
# reinstalled only when their hash changed; recreated when its interpreter is gone
# (e.g. pyenv reinstalled).
nsops_make_venv() {
    local venv="$1" req="$2" con="${3:-}" stamp="$1/.requirements.sha256" want base
    if ! "$venv/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
        base="$(nsops_find_python)" || return 1
        nsops_log "creating venv $venv with $base"
        rm -rf "$venv"
        "$base" -m venv "$venv" || return 1
    fi
    want="$(cat "$req" ${con:+"$con"} 2>/dev/null | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        nsops_log "installing ${req#"$NSOPS_REPO"/} into ${venv#"$NSOPS_REPO"/}"
        # The pipe hides pip's exit status; check it through PIPESTATUS.
        "$venv/bin/python" -m pip install --disable-pip-version-check -q \
            -r "$req" ${con:+-c "$con"} 2>&1 | nsops_pip_filter
        [ "${PIPESTATUS[0]}" -eq 0 ] || { nsops_log "ERROR: pip install into $venv failed"; return 1; }
        printf '%s\n' "$want" >"$stamp"
    fi
}

nsops_venv() {
    nsops_make_venv "$NSOPS_VENV" "$NSOPS_REPO/tests/requirements.txt" "$NSOPS_REPO/tests/constraints.txt"
}

# The oldest ansible-core that requires_ansible admits (tests/requirements-oldest.txt),
# in $REPO/.venv-oldest, for the second run of the unit and integration stages. Not part
# of nsops_env: tests/run calls it only when one of those stages runs.
NSOPS_VENV_OLDEST="$NSOPS_REPO/.venv-oldest"
export NSOPS_VENV_OLDEST
nsops_oldest_venv() {
    nsops_make_venv "$NSOPS_VENV_OLDEST" "$NSOPS_REPO/tests/requirements-oldest.txt"
}

# antsibull-nox and nox (tests/requirements-nox.txt) in $REPO/.venv-nox, for the lint
# stage; a venv of their own because nox and galaxy-importer need incompatible attrs.
NSOPS_VENV_NOX="$NSOPS_REPO/.venv-nox"
export NSOPS_VENV_NOX
nsops_nox_venv() {
    nsops_make_venv "$NSOPS_VENV_NOX" "$NSOPS_REPO/tests/requirements-nox.txt"
}

# Running from a checkout: ansible.cfg sets collections_path = ./.collections.
nsops_link() {
    local parent="$NSOPS_REPO/.collections/ansible_collections/nsops"
    local link="$parent/namespaces"
    if [ "$(readlink "$link" 2>/dev/null)" != "$NSOPS_REPO" ]; then
        mkdir -p "$parent"
        rm -rf "$link"
        ln -s "$NSOPS_REPO" "$link"
    fi
}

nsops_env() {
    nsops_apt && nsops_venv && nsops_link || return 1
    export VIRTUAL_ENV="$NSOPS_VENV"
    case ":$PATH:" in
        *":$NSOPS_VENV/bin:"*) ;;
        *) export PATH="$NSOPS_VENV/bin:$PATH" ;;
    esac
    export NSOPS_VENV_PYTHON="$NSOPS_VENV/bin/python"
    # Lets ansible commands find the collection from any working directory
    # (relative paths in ansible.cfg resolve against the file's own folder).
    export ANSIBLE_CONFIG="$NSOPS_REPO/ansible.cfg"
}

nsops_env || { nsops_log "ERROR: environment setup failed"; return 1; }
