"""<sysinfo> and <os><smbios mode=...>: the SMBIOS tables and fw_cfg entries a guest reads, as
libvirt 9.0 gives them to QEMU.

    mode='sysinfo'   the domain's <sysinfo type='smbios'> as -smbios type=0,1,2,3,11
    mode='host'      the host's own SMBIOS (/sys/class/dmi/id), its system UUID left out
    mode='emulate'   QEMU's defaults (as without <smbios>)

<sysinfo type='fwcfg'> entries become -fw_cfg name=...,string=... or file=..., whatever the mode.
"""

from __future__ import annotations

import os

from ..api import DriverError, ErrorCode
from .refusal import unsupported

# SMBIOS structure -> (type number, entry names in the order libvirt writes them)
SMBIOS_TYPES = {"bios": (0, ("vendor", "version", "date", "release")),
                "system": (1, ("manufacturer", "product", "version", "serial", "uuid", "sku", "family")),
                "baseBoard": (2, ("manufacturer", "product", "version", "serial", "asset", "location")),
                "chassis": (3, ("manufacturer", "version", "serial", "asset", "sku"))}
SMBIOS_MODES = ("sysinfo", "host", "emulate")
# The host's values in sysfs, per structure and entry.
HOST_DMI = {"bios": {"vendor": "bios_vendor", "version": "bios_version", "date": "bios_date",
                     "release": "bios_release"},
            "system": {"manufacturer": "sys_vendor", "product": "product_name", "version": "product_version",
                       "serial": "product_serial", "sku": "product_sku", "family": "product_family"},
            "baseBoard": {"manufacturer": "board_vendor", "product": "board_name", "version": "board_version",
                          "serial": "board_serial", "asset": "board_asset_tag"},
            "chassis": {"manufacturer": "chassis_vendor", "version": "chassis_version",
                        "serial": "chassis_serial", "asset": "chassis_asset_tag"}}
DMI_DIR = "/sys/class/dmi/id"


def check(root, uuid: str | None) -> None:
    """libvirt's parse-time rules for <sysinfo>: known entry names, one of each structure
    (QEMU takes one type 2), fw_cfg names under opt/, a system uuid equal to the domain's."""
    mode = root.find("os/smbios")
    mode = mode.get("mode") if mode is not None else None
    for sysinfo in root.iterfind("sysinfo"):
        kind = sysinfo.get("type")
        if kind == "smbios" and mode != "sysinfo":
            # libvirt would keep it in the XML and give the guest other tables: refused instead
            raise unsupported("<sysinfo type='smbios'> reaches the guest only with <smbios mode='sysinfo'/> "
                              "in <os>")
        if kind == "fwcfg":
            for entry in sysinfo.iterfind("entry"):
                name = entry.get("name") or ""
                if not name.startswith("opt/"):
                    raise DriverError(ErrorCode.XML_ERROR, "Invalid entry name '%s' in <sysinfo type='fwcfg'>: "
                                      "QEMU takes names under 'opt/'" % name)
                if entry.get("file") and (entry.text or "").strip():
                    raise DriverError(ErrorCode.XML_ERROR, "Entry '%s' has both a file and a value" % name)
            continue
        for part, (_, names) in SMBIOS_TYPES.items():
            found = sysinfo.findall(part)
            if len(found) > 1:
                raise unsupported("qemu does not support more than one entry to Type %d in SMBIOS table"
                                  % SMBIOS_TYPES[part][0])
            entries = found[0].findall("entry") if found else []
            for entry in entries:
                if entry.get("name") not in names:
                    raise unsupported("pyvirsh's QEMU driver does not support <entry name='%s'> in <%s>"
                                      % (entry.get("name"), part))
            for entry in sorted(entries, key=lambda e: names.index(e.get("name"))):
                found[0].append(entry)          # libvirt writes them in its own order
        system_uuid = sysinfo.findtext("system/entry[@name='uuid']")
        if system_uuid and uuid and system_uuid.strip().replace("-", "").lower() != uuid.replace("-", ""):
            raise DriverError(ErrorCode.XML_ERROR, "UUID mismatch between <uuid> and <sysinfo>")


def _escape(value: str) -> str:
    return value.replace(",", ",,")


def _smbios_from(values: dict[str, dict[str, str]], oem: list[str]) -> list[str]:
    args = []
    for part, (number, names) in SMBIOS_TYPES.items():
        given = values.get(part, {})
        if not any(given.get(n) for n in names):
            continue
        args += ["-smbios", "type=%d" % number + "".join(",%s=%s" % (n, _escape(given[n]))
                                                        for n in names if given.get(n))]
    if oem:
        args += ["-smbios", "type=11" + "".join(",value=%s" % _escape(v) for v in oem)]
    return args


def _from_xml(sysinfo) -> tuple[dict[str, dict[str, str]], list[str]]:
    values = {}
    for part in SMBIOS_TYPES:
        el = sysinfo.find(part)
        if el is not None:
            values[part] = {e.get("name"): (e.text or "").strip() for e in el.iterfind("entry")}
    return values, [(e.text or "") for e in sysinfo.iterfind("oemStrings/entry")]


def _from_host() -> dict[str, dict[str, str]]:
    if not os.path.isdir(DMI_DIR):
        raise unsupported("Host SMBIOS information is not available")
    values: dict[str, dict[str, str]] = {}
    for part, names in HOST_DMI.items():
        for name, file in names.items():
            try:
                with open(os.path.join(DMI_DIR, file)) as f:
                    value = f.read().strip()
            except OSError:
                continue            # unreadable (serials are root's) or absent
            if value:
                values.setdefault(part, {})[name] = value
    return values


def args(root) -> list[str]:
    """-smbios and -fw_cfg arguments."""
    out = []
    mode = root.find("os/smbios")
    mode = mode.get("mode") if mode is not None else None
    if mode == "sysinfo":
        smbios = root.find("sysinfo[@type='smbios']")
        if smbios is None:
            raise unsupported("Domain requires SMBIOS, but none was set")
        out += _smbios_from(*_from_xml(smbios))
    elif mode == "host":
        out += _smbios_from(_from_host(), [])       # the host's uuid is never the guest's
    for fwcfg in root.iterfind("sysinfo[@type='fwcfg']"):
        for entry in fwcfg.iterfind("entry"):
            if entry.get("file"):
                out += ["-fw_cfg", "name=%s,file=%s" % (_escape(entry.get("name")), _escape(entry.get("file")))]
            else:
                out += ["-fw_cfg", "name=%s,string=%s" % (_escape(entry.get("name")),
                                                          _escape((entry.text or "").strip()))]
    return out
