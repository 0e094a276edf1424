#!/bin/sh
# pyvirsh's main job, end to end on the default connection (qemu:///system as root,
# qemu:///session otherwise; PYVIRSH_DEFAULT_URI overrides): a domain on a three-layer
# qcow2 chain, started on real QEMU, its cached chain shown, a disk-only snapshot
# taken and merged away again, an active commit pivoted, and everything cleaned up.
set -eu
work=$(mktemp -d)
name="quickstart-$$"
cleanup() {
    pyvirsh destroy "$name" >/dev/null 2>&1 || true
    pyvirsh undefine "$name" --snapshots-metadata >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== a three-layer qcow2 chain in $work"
qemu-img create -q -f qcow2 "$work/base.qcow2" 64M
qemu-img create -q -f qcow2 -b "$work/base.qcow2" -F qcow2 "$work/mid.qcow2"
qemu-img create -q -f qcow2 -b "$work/mid.qcow2" -F qcow2 "$work/top.qcow2"
cat > "$work/domain.xml" <<XML
<domain type='kvm'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$work/top.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML

set -x
pyvirsh uri
pyvirsh define "$work/domain.xml"
pyvirsh start "$name" --paused
pyvirsh list --all
pyvirsh domblklist "$name" --details
pyvirsh dumpxml "$name" --xpath //disk
pyvirsh snapshot-create-as "$name" s1 --disk-only
pyvirsh snapshot-list "$name" --tree
pyvirsh domblklist "$name"
pyvirsh snapshot-delete "$name" s1
pyvirsh blockcommit "$name" vda --active --pivot --verbose
pyvirsh dumpxml "$name" --xpath //disk/source
pyvirsh destroy "$name"
pyvirsh undefine "$name"
