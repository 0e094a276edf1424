"""libvirt's names of disk-image formats: one table for the prober (probe.py), the volumes
of a pool (pooltypes.py, voldir.py) and the chains. A module of its own so that what only
names formats does not load the prober and its header parsers."""

from __future__ import annotations

# libvirt's virStorageFileFormat names, in libvirt's order (the magic probe
# walks them in this order, first match wins).
FORMATS = ("none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
           "ploop", "cow", "qcow", "qcow2", "qed", "vmdk")

# Formats whose header can name a backing file (libvirt: format >= VIR_STORAGE_FILE_BACKING).
BACKING_FORMATS = frozenset(("cow", "qcow", "qcow2", "qed", "vmdk"))
