"""UEFI firmware: <os firmware='efi'> picks a build from QEMU's firmware
descriptors (/usr/share/qemu/firmware/*.json, Debian's ovmf package) the way
libvirt does, and an NVRAM file is made from the build's template on first start."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil

from ..api import DriverError, ErrorCode
from .refusal import unsupported

DESCRIPTOR_DIRS = ("/etc/qemu/firmware", "/usr/share/qemu/firmware")


def _descriptors() -> list[dict]:
    seen: dict[str, str] = {}
    for directory in DESCRIPTOR_DIRS:       # /etc overrides /usr/share by file name
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.endswith(".json") and name not in seen:
                seen[name] = os.path.join(directory, name)
    out = []
    for name in sorted(seen):
        try:
            with open(seen[name]) as f:
                out.append(json.load(f))
        except (OSError, ValueError):
            continue
    return out


def select(arch: str, machine: str, wanted: dict[str, bool]) -> dict:
    """The first descriptor (by file name) fit for arch/machine and the wanted features."""
    for desc in _descriptors():
        if "uefi" not in desc.get("interface-types", ()):
            continue
        mapping = desc.get("mapping", {})
        if mapping.get("device") != "flash":
            continue
        if not any(t.get("architecture") == arch
                   and any(fnmatch.fnmatch(machine, m) for m in t.get("machines", ()))
                   for t in desc.get("targets", ())):
            continue
        features = set(desc.get("features", ()))
        if any((name in features) != enabled for name, enabled in wanted.items()):
            continue
        return {"code": mapping["executable"]["filename"],
                "vars": mapping.get("nvram-template", {}).get("filename"),
                "secure": "secure-boot" in features, "smm": "requires-smm" in features}
    raise unsupported("Unable to find any firmware to satisfy 'efi'")


def default_nvram(state_dir: str, name: str) -> str:
    """Where a domain's NVRAM goes when its XML names none (libvirt: nvram/NAME_VARS.fd)."""
    return os.path.join(state_dir, "nvram", "%s_VARS.fd" % name)


def nvram_path(root, name: str, state_dir: str) -> str | None:
    """The NVRAM file a definition uses (or will make at its first start), if any."""
    os_el = root.find("os")
    written = (os_el.findtext("nvram") or "").strip()
    if written:
        return written
    loader = os_el.find("loader")
    if os_el.get("firmware") == "efi" or loader is not None and loader.get("type") == "pflash" \
            and loader.get("readonly") == "yes":
        return default_nvram(state_dir, name)
    return None


def resolve(root, name: str, state_dir: str) -> None:
    """Fill <loader>/<nvram> of a live definition and make the NVRAM file if missing."""
    from lxml import etree
    os_el = root.find("os")
    if os_el.get("firmware") == "efi":
        wanted = {f.get("name"): f.get("enabled") == "yes" for f in os_el.iterfind("firmware/feature")}
        chosen = select(root.find("os/type").get("arch"), root.find("os/type").get("machine"), wanted)
        for old in os_el.findall("firmware"):
            os_el.remove(old)
        del os_el.attrib["firmware"]
        loader = etree.SubElement(os_el, "loader")
        loader.set("readonly", "yes")
        loader.set("secure", "yes" if chosen["secure"] else "no")
        loader.set("type", "pflash")
        loader.text = chosen["code"]
        nvram = os_el.find("nvram")
        if nvram is None:
            nvram = etree.SubElement(os_el, "nvram")
        if chosen["vars"] and nvram.get("template") is None:
            nvram.set("template", chosen["vars"])
        if chosen["smm"]:
            features = root.find("features")
            if features is None:
                features = etree.Element("features")
                os_el.addnext(features)
            if features.find("smm") is None:
                etree.SubElement(features, "smm").set("state", "on")
    loader = os_el.find("loader")
    if loader is None or loader.get("type") != "pflash" or loader.get("readonly") != "yes":
        return
    nvram = os_el.find("nvram")
    if nvram is None:
        nvram = etree.SubElement(os_el, "nvram")
    if not (nvram.text or "").strip():
        nvram.text = default_nvram(state_dir, name)
    path = nvram.text.strip()
    if not os.path.exists(path):
        template = nvram.get("template")
        if not template:
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              "unable to find any master var store for loader: %s" % loader.text)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = path + ".tmp"
        shutil.copyfile(template, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
