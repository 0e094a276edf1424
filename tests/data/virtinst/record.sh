#!/bin/sh
# Records the domain XML the real virt-install (Debian 12's virtinst 4.1) writes for
# each profile below, plus what libvirt 9.0 itself makes of it (the persistent XML after
# define, and the QEMU command line from domxml-to-native). Run once, as root, on a
# machine with libvirt-daemon-driver-qemu and virtinst installed:
#   sh tests/data/virtinst/record.sh
# It runs virt-install against a qemu:///session daemon of an unprivileged user
# ("lvref", made if missing), so no system libvirtd is needed. The outputs are facts
# the tests compare pyvirsh against; nothing here runs in CI.
set -eu
out=$(cd "$(dirname "$0")" && pwd)
img=/tmp/lvimg
id lvref >/dev/null 2>&1 || useradd -m -s /bin/sh lvref
mkdir -p $img && chmod 777 $img
[ -f $img/disk1.qcow2 ] || qemu-img create -q -f qcow2 $img/disk1.qcow2 1G
[ -f $img/disk2.qcow2 ] || qemu-img create -q -f qcow2 $img/disk2.qcow2 1G
[ -f $img/install.iso ] || truncate -s 10M $img/install.iso
chmod 666 $img/*
as_ref() { su lvref -c "cd; XDG_RUNTIME_DIR=/tmp/lvref-run $*"; }
record() {
    name=$1; shift
    common="--connect qemu:///session --print-xml 1 --name $name --memory 512 --vcpus 1 --osinfo debian11 --check path_in_use=off"
    { echo "<?virt-install $common $*?>"; as_ref virt-install $common "$@"; } > "$out/$name.xml"
    as_ref virsh -c qemu:///session define /dev/stdin < "$out/$name.xml" >/dev/null
    as_ref virsh -c qemu:///session dumpxml --inactive $name > "$out/$name.libvirt.xml"
    # Started paused under TCG for the live XML and the command line libvirt gives QEMU.
    sed -i "s/<domain type=.kvm./<domain type='qemu'/" "$out/$name.libvirt.xml"
    as_ref virsh -c qemu:///session define /dev/stdin < "$out/$name.libvirt.xml" >/dev/null
    as_ref virsh -c qemu:///session start --paused $name >/dev/null
    as_ref virsh -c qemu:///session dumpxml $name > "$out/$name.libvirt-live.xml"
    log=/home/lvref/.cache/libvirt/qemu/log/$name.log
    awk '/^\/usr\/bin\/qemu-system/ {on=1} on {print} on && !/\\$/ {on=0}' $log > "$out/$name.libvirt.args"
    as_ref virsh -c qemu:///session destroy $name >/dev/null
    : > $log
    as_ref virsh -c qemu:///session undefine --nvram $name >/dev/null
}
record q35-import-nographics --disk $img/disk1.qcow2 --import --network user --graphics none
record q35-cdrom-spice --disk $img/disk1.qcow2 --cdrom $img/install.iso --network user --graphics spice
record q35-import-vnc --disk $img/disk1.qcow2 --import --network user,model=e1000e --graphics vnc
record pc-import-vnc --machine pc --disk $img/disk1.qcow2 --import --network user --graphics vnc
record pc-cdrom-nographics --machine pc --disk $img/disk1.qcow2 --cdrom $img/install.iso --network user --graphics none
record q35-uefi --boot uefi --disk $img/disk1.qcow2 --import --network user --graphics none
record q35-two-buses --disk $img/disk1.qcow2,bus=virtio --disk $img/disk2.qcow2,bus=sata --import --network user,model=rtl8139 --graphics vnc
record pc-two-buses --machine pc --disk $img/disk1.qcow2,bus=virtio --disk $img/disk2.qcow2,bus=ide --import --network user,model=e1000 --graphics vnc
