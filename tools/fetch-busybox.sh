#!/bin/sh
# fetch-busybox.sh DEST_DIR
#
# Build a minimal busybox root filesystem for the test lab, from Debian's
# busybox-static package, without installing it (it conflicts with `busybox`).
# Result: DEST_DIR/rootfs/{bin/busybox, applet links, etc/, proc, sys, dev, tmp}.
# Idempotent: does nothing when DEST_DIR/rootfs/bin/busybox already exists.
# Needs only apt-get (configured Debian mirror) and dpkg-deb.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DEST_DIR" >&2
    exit 2
fi

dest=$1
rootfs=$dest/rootfs

if [ -x "$rootfs/bin/busybox" ]; then
    exit 0
fi

mkdir -p "$dest"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsops-busybox.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# Build in a staging dir next to the destination and rename it into place at
# the end, so a concurrent or interrupted run never leaves a half-made rootfs.
stage=$(mktemp -d "$dest/.rootfs.XXXXXX")
trap 'rm -rf "$work" "$stage"' EXIT INT TERM

(
    cd "$work"
    # apt-get download runs as the _apt user when it can; give it a writable dir.
    chmod 0777 "$work"
    apt-get download -q busybox-static >/dev/null
)
deb=$(ls "$work"/busybox-static_*.deb)

mkdir -p "$work/extract"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/extract" ./bin/busybox

mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" \
    "$stage/etc" "$stage/proc" "$stage/sys" "$stage/dev" "$stage/tmp" \
    "$stage/root" "$stage/run" "$stage/var/tmp"
chmod 1777 "$stage/tmp" "$stage/var/tmp"
chmod 0700 "$stage/root"
install -m 0755 "$work/extract/bin/busybox" "$stage/bin/busybox"

# One symlink per applet, all in /bin (busybox finds applets by argv[0]).
for applet in $("$stage/bin/busybox" --list); do
    [ "$applet" = busybox ] && continue
    [ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done

cat > "$stage/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$stage/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo nsopslab > "$stage/etc/hostname"
: > "$stage/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n' > "$stage/etc/hosts"

chmod 0755 "$stage"
if [ -e "$rootfs" ] && [ ! -x "$rootfs/bin/busybox" ]; then
    # A leftover of an old, broken run (no bin/busybox): replace it.
    rm -rf "$rootfs"
fi
# mv -T never moves the stage *into* an existing rootfs: when a concurrent
# run won the race, keep its result and drop ours (the trap removes $stage).
if ! mv -T "$stage" "$rootfs" 2>/dev/null; then
    [ -x "$rootfs/bin/busybox" ] || { echo "cannot create $rootfs" >&2; exit 1; }
fi
echo "busybox rootfs ready: $rootfs"
