#!/bin/sh
# Records what libvirt 9.0 itself makes of each NAME.xml here: NAME.libvirt.xml is its
# dumpxml --inactive after define. Run once as root where libvirt-daemon-driver-qemu is
# installed; it uses a qemu:///session daemon of an unprivileged user ("lvref"), as
# ../virtinst/record.sh does. Facts for the tests; nothing here runs in CI.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
id lvref >/dev/null 2>&1 || useradd -m -s /bin/sh lvref
as_ref() { su lvref -c "cd; XDG_RUNTIME_DIR=/tmp/lvref-run $*"; }
for f in "$here"/*.xml; do
    case $f in *.libvirt.xml) continue;; esac
    name=$(basename "$f" .xml)
    as_ref virsh -c qemu:///session define /dev/stdin < "$f" >/dev/null
    as_ref virsh -c qemu:///session dumpxml --inactive "$name" > "$here/$name.libvirt.xml"
    as_ref virsh -c qemu:///session undefine "$name" >/dev/null
done
