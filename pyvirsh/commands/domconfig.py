"""Domain Management: setmem, setmaxmem, setvcpus, desc, metadata, domrename, autostart,
and pyvirsh's autostart-run (what a boot unit calls, since no daemon starts domains)."""

from __future__ import annotations

from ..declare import argv, command, data, flag, number, string
from ..errors import CommandError
from ..values import integer, scaled
from .common import BY_NAME, BY_UUID, domain_option, exclusive, lookup_domain, reporting, requires


_LIVE = 1       # ModificationImpact.LIVE (api is imported only when a command runs)


class _bare(reporting):
    """virsh reports these calls' failures with the driver's words alone."""

    def __init__(self):
        super().__init__("")

    def __exit__(self, kind, err, traceback):
        from ..drivers.api import DriverError
        if kind is not None and issubclass(kind, DriverError):
            raise CommandError(str(err)) from None
        return False


def _impact(current: bool, live: bool, config: bool) -> int:
    """virsh's --current/--live/--config: the flags word (0 is 'current')."""
    from ..drivers.api import ModificationImpact as M
    exclusive("current", current, "live", live)
    exclusive("current", current, "config", config)
    return (M.LIVE if live else 0) | (M.CONFIG if config else 0)


def _impact_flags():
    def decorate(func):
        func = flag("current", "affect current domain")(func)
        func = flag("live", "affect running domain")(func)
        return flag("config", "affect next boot")(func)
    return decorate


def _kib(size: str) -> int:
    # Bytes, default unit KiB, rounded up to whole KiB (virsh's VIR_DIV_UP).
    value = scaled("size", size, 1024, (2**64 - 1))
    assert value is not None
    return (value + 1023) // 1024


@command("setmem", "Change the current memory allocation in the guest domain.")
@domain_option()
@number("size", "new memory size, as scaled integer (default KiB)", required=True)
@_impact_flags()
def setmem(ctl, domain, size, config, live, current):
    flags = _impact(current, live, config)
    dom = lookup_domain(ctl, domain)
    kib = _kib(size)
    with _bare():
        # With no option virsh calls virDomainSetMemory, which changes the running domain.
        dom.set_memory_flags(kib, flags if (flags or current) else _LIVE)
    return True


@command("setmaxmem", "Change the maximum memory allocation limit in the guest domain.")
@domain_option()
@number("size", "new maximum memory size, as scaled integer (default KiB)", required=True)
@_impact_flags()
def setmaxmem(ctl, domain, size, config, live, current):
    from ..drivers.api import MemoryFlags
    flags = _impact(current, live, config)
    dom = lookup_domain(ctl, domain)
    kib = _kib(size)
    with reporting("Unable to change MaxMemorySize"):
        dom.set_memory_flags(kib, flags | MemoryFlags.MAXIMUM)
    return True


@command("setvcpus", "Change the number of virtual CPUs in the guest domain.")
@domain_option()
@number("count", "number of virtual CPUs", required=True)
@flag("maximum", "set maximum limit on next boot")
@_impact_flags()
@flag("guest", "modify cpu state in the guest")
@flag("hotpluggable", "make added vcpus hot(un)pluggable")
def setvcpus(ctl, domain, count, maximum, config, live, current, guest, hotpluggable):
    from ..drivers.api import VcpuFlags as V
    flags = _impact(current, live, config)
    exclusive("guest", guest, "config", config)
    requires("config", config, "maximum", maximum)
    dom = lookup_domain(ctl, domain)
    number = integer("count", count, 0)
    if number == 0:
        raise CommandError("Can't set 0 processors for a VM")
    flags |= (V.MAXIMUM if maximum else 0) | (V.GUEST if guest else 0) | (V.HOTPLUGGABLE if hotpluggable else 0)
    with _bare():
        # With no option virsh calls virDomainSetVcpus, which changes the running domain.
        dom.set_vcpus_flags(number, flags if (flags or current) else _LIVE)
    return True


@command("desc", "Allows setting or modifying the description or title of a domain.")
@domain_option()
@flag("live", "modify/get running state")
@flag("config", "modify/get persistent configuration")
@flag("current", "modify/get current state configuration")
@flag("title", "modify/get the title instead of description")
@flag("edit", "open an editor to modify the description")
@argv("new-desc", "message")
def desc(ctl, domain, live, config, current, title, edit, new_desc):
    from ..drivers.api import DriverError, ErrorCode, MetadataType
    flags = _impact(current, live, config)
    dom = lookup_domain(ctl, domain)
    kind = MetadataType.TITLE if title else MetadataType.DESCRIPTION
    what = "title" if title else "description"
    if not new_desc and not edit:
        try:
            text = dom.get_metadata(kind, None, flags)
        except DriverError as err:
            if err.code is not ErrorCode.NO_DOMAIN_METADATA:
                raise CommandError(str(err)) from None
            ctl.print_extra("No %s for domain: %s" % (what, dom.name))
            return True
        ctl.print(text)
        return True
    text = " ".join(new_desc)
    if edit:
        from .editing import edit_document
        try:
            original = dom.get_metadata(kind, None, flags)
        except DriverError as err:
            if err.code is not ErrorCode.NO_DOMAIN_METADATA:
                raise CommandError(str(err)) from None
            original = ""
        edited = edit_document(ctl, text if new_desc else original, lambda new: new)
        if edited is None or edited == original:
            ctl.print_extra("Domain %s not changed\n" % what)
            return True
        text = edited.rstrip("\n") if title else edited
    with reporting("Failed to set new domain %s" % what):
        dom.set_metadata(kind, text, None, None, flags)
    ctl.print_extra("Domain %s updated successfully" % what)
    return True


@command("metadata", "Shows or modifies the XML metadata of a domain.")
@domain_option()
@data("uri", "URI of the namespace")
@flag("live", "modify/get running state")
@flag("config", "modify/get persistent configuration")
@flag("current", "modify/get current state configuration")
@flag("edit", "use an editor to change the metadata")
@string("key", "key to be used as a namespace identifier")
@string("set", "new metadata to set")
@flag("remove", "remove the metadata corresponding to an uri")
def metadata(ctl, domain, uri, live, config, current, edit, key, set, remove):
    from ..drivers.api import MetadataType
    flags = _impact(current, live, config)
    exclusive("edit", edit, "set", set is not None)
    exclusive("remove", remove, "set", set is not None)
    exclusive("remove", remove, "edit", edit)
    dom = lookup_domain(ctl, domain)
    if (set is not None or edit) and not key:
        raise CommandError("namespace key is required when modifying metadata")
    if set is not None or remove:
        with _bare():
            dom.set_metadata(MetadataType.ELEMENT, None if remove else set, key, uri, flags)
        ctl.print_extra("Metadata removed\n" if remove else "Metadata modified\n")
        return True
    if edit:
        from ..drivers.api import DriverError
        from .editing import edit_document
        try:
            original = dom.get_metadata(MetadataType.ELEMENT, uri, flags)
        except DriverError:
            original = "\n"          # virsh offers an empty document
        result = edit_document(ctl, original, lambda new: dom.set_metadata(MetadataType.ELEMENT, new, key,
                                                                             uri, flags) or True)
        ctl.print_extra("Metadata not changed" if result is None else "Metadata modified\n")
        return True
    with _bare():
        ctl.print("%s\n" % dom.get_metadata(MetadataType.ELEMENT, uri, flags))
    return True


@command("domrename", "Rename an inactive domain.")
@domain_option("domain name or uuid")
@data("new-name", "new domain name")
def domrename(ctl, domain, new_name):
    dom = lookup_domain(ctl, domain, BY_NAME | BY_UUID)
    with _bare():
        dom.rename(new_name, 0)
    ctl.print_extra("Domain successfully renamed\n")
    return True


@command("autostart", "Configure a domain to be automatically started at boot.")
@domain_option()
@flag("disable", "disable autostarting")
def autostart(ctl, domain, disable):
    dom = lookup_domain(ctl, domain)
    verb = "unmark" if disable else "mark"
    with reporting("Failed to %s domain '%s' as autostarted" % (verb, domain)):
        dom.set_autostart(not disable)
    ctl.print_extra("Domain '%s' %sed as autostarted\n" % (domain, verb))
    return True


@command("autostart-run", "Start every shut-off domain marked with 'autostart', as libvirtd does when it\n"
         "    starts. Without a daemon, a boot unit (systemd's pyvirsh-autostart@.service) runs\n"
         "    this once per connection URI. Each domain is reported; the exit status is 1 if any\n"
         "    failed to start.")
def autostart_run(ctl):
    with _bare():
        results = ctl.conn.autostart_run()
    failed = False
    for name, error in results:
        if error is None:
            ctl.print_extra("Domain '%s' started\n" % name)
        else:
            failed = True
            ctl.error("Failed to autostart domain '%s'" % name)
            ctl.error(error)
    if failed:
        raise CommandError()
    return True
