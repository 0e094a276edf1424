"""Paravirtual CPU properties libvirt 9.0 appends to -cpu: the kvmclock and hypervclock timers,
<features><pvspinlock>, the Hyper-V enlightenments of <hyperv> and the KVM ones of <kvm>, in
libvirt's order (timers, pvspinlock, hyperv, kvm)."""

from __future__ import annotations

from .refusal import unsupported

# <hyperv> children that are plain on/off switches, in libvirt's order (spinlocks and
# vendor_id carry a value and are placed at their own position in this list).
HYPERV = ("relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic", "stimer", "reset", "vendor_id",
          "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs", "avic")
KVM = ("hidden", "hint-dedicated", "poll-control", "pv-ipi")
# Spinlock retries libvirt accepts (fewer than 4095 are refused, as by libvirt).
SPINLOCKS_MIN = 4095


def check(root) -> None:
    """libvirt's parse-time rules for the values QEMU needs."""
    hyperv = root.find("features/hyperv")
    if hyperv is not None:
        hyperv.set("mode", hyperv.get("mode", "custom"))        # libvirt writes the default
        spinlocks = hyperv.find("spinlocks")
        if spinlocks is not None and spinlocks.get("state") == "on":
            retries = spinlocks.get("retries")
            if retries is None or not retries.isdigit():
                raise unsupported("missing HyperV spinlock retry count")
            if int(retries) < SPINLOCKS_MIN:
                raise unsupported("HyperV spinlock retry count must be at least %d" % SPINLOCKS_MIN)
        vendor = hyperv.find("vendor_id")
        if vendor is not None and vendor.get("state") == "on":
            value = vendor.get("value") or ""
            if not value or len(value) > 12:
                raise unsupported("HyperV vendor_id value must not be empty or more than 12 characters")
    ioapic = root.find("features/ioapic")
    if ioapic is not None and ioapic.get("driver") == "kvm" and root.get("type") != "kvm":
        raise unsupported("ioapic driver='kvm' needs <domain type='kvm'>")


def _on(el) -> bool:
    return el is not None and el.get("state", "on") == "on"


def props(root) -> list[str]:
    """The properties, each 'name=value', to add to the CPU model."""
    out = []
    for timer in root.iterfind("clock/timer"):
        present = timer.get("present")
        if timer.get("name") == "kvmclock" and present is not None:
            out.append("kvmclock=%s" % ("on" if present == "yes" else "off"))
        elif timer.get("name") == "hypervclock" and present == "yes":
            out.append("hv-time=on")
    pvspinlock = root.find("features/pvspinlock")
    if pvspinlock is not None:
        out.append("kvm-pv-unhalt=%s" % pvspinlock.get("state", "on"))
    hyperv = root.find("features/hyperv")
    if hyperv is not None and hyperv.get("mode", "custom") == "passthrough":
        out.append("hv-passthrough=on")
    elif hyperv is not None:
        for name in HYPERV:
            el = hyperv.find(name)
            if not _on(el):
                continue
            if name == "spinlocks":
                out.append("hv-spinlocks=0x%x" % int(el.get("retries")))
            elif name == "vendor_id":
                out.append("hv-vendor-id=%s" % el.get("value").replace(",", ",,"))
            else:
                out.append("hv-%s=on" % name)
            if name == "stimer" and _on(el.find("direct")):
                out.append("hv-stimer-direct=on")
    kvm = root.find("features/kvm")
    if kvm is not None:
        for name, on, off in (("hidden", "kvm=off", None), ("hint-dedicated", "kvm-hint-dedicated=on", None),
                              ("poll-control", "kvm-poll-control=on", None), ("pv-ipi", None, "kvm-pv-ipi=off")):
            el = kvm.find(name)
            if el is not None:
                prop = on if el.get("state") == "on" else off
                if prop:
                    out.append(prop)
    return out


def machine_opts(root) -> list[str]:
    """-machine options: the IOAPIC in QEMU (split irqchip) or in KVM."""
    ioapic = root.find("features/ioapic")
    if ioapic is None or not ioapic.get("driver"):
        return []
    return ["kernel_irqchip=%s" % ("split" if ioapic.get("driver") == "qemu" else "on")]
