"""Domain Management: save, restore, save-image-dumpxml/define/edit, managedsave,
managedsave-remove/dumpxml/define/edit (a guest's RAM to a file and back)."""

from __future__ import annotations

from ..declare import command, data, flag, string
from ..errors import CommandError
from .common import domain_option, exclusive, flag_bits, lookup_domain, print_xml, read_xml_file, reporting


def _restore_flags(bypass_cache=False, running=False, paused=False, reset_nvram=False) -> int:
    from ..drivers.api import SaveRestoreFlags as F
    return flag_bits((bypass_cache, F.BYPASS_CACHE), (running, F.RUNNING), (paused, F.PAUSED),
                     (reset_nvram, F.RESET_NVRAM))


def _optional_xml(xml):
    return read_xml_file(xml) if xml is not None else None


def _show_progress(ctl, verbose: bool, label: str) -> None:
    # The driver saves in one call: virsh's last progress report is all there is to show.
    if verbose:
        ctl.out.progress("\r%s: [100 %%]" % label)


@command("save", "Save the RAM state of a running domain.")
@domain_option()
@data("file", "where to save the data", completer="files")
@flag("bypass-cache", "avoid file system cache when saving")
@string("xml", "filename containing updated XML for the target", completer="files")
@flag("running", "set domain to be running on restore")
@flag("paused", "set domain to be paused on restore")
@flag("verbose", "display the progress of save")
def save(ctl, domain, file, bypass_cache, xml, running, paused, verbose):
    dom = lookup_domain(ctl, domain)
    flags = _restore_flags(bypass_cache, running, paused)
    text = _optional_xml(xml)
    with reporting("Failed to save domain '%s' to %s" % (domain, file)):
        dom.save(file, text, flags)
    _show_progress(ctl, verbose, "Save")
    ctl.print_extra("\nDomain '%s' saved to %s\n" % (domain, file))
    return True


@command("restore", "Restore a domain.")
@data("file", "the state to restore", completer="files")
@flag("bypass-cache", "avoid file system cache when restoring")
@string("xml", "filename containing updated XML for the target", completer="files")
@flag("running", "restore domain into running state")
@flag("paused", "restore domain into paused state")
@flag("reset-nvram", "re-initialize NVRAM from its pristine template")
def restore(ctl, file, bypass_cache, xml, running, paused, reset_nvram):
    flags = _restore_flags(bypass_cache, running, paused, reset_nvram)
    text = _optional_xml(xml)
    with reporting("Failed to restore domain from %s" % file):
        ctl.conn.restore(file, text, flags)
    ctl.print_extra("Domain restored from %s\n" % file)
    return True


@command("save-image-dumpxml", "Dump XML of domain information for a saved state file to stdout.")
@data("file", "saved state file to read", completer="files")
@flag("security-info", "include security sensitive information in XML dump")
@string("xpath", "xpath expression to filter the XML document", named_only=True, empty_ok=True)
@flag("wrap", "wrap xpath results in an common root element")
def save_image_dumpxml(ctl, file, security_info, xpath, wrap):
    from ..drivers.api import XMLFlags
    with reporting_bare():
        text = ctl.conn.save_image_get_xml_desc(file, XMLFlags.SECURE if security_info else 0)
    print_xml(ctl, text, xpath, wrap)
    return True


class reporting_bare(reporting):
    """virsh prints the driver's error alone for these calls (no context line)."""

    def __init__(self):
        super().__init__("")

    def __exit__(self, kind, err, traceback):
        from ..drivers.api import DriverError
        if kind is not None and issubclass(kind, DriverError):
            raise CommandError(str(err)) from None
        return False


@command("save-image-define", "Replace the domain XML associated with a saved state file")
@data("file", "saved state file to modify", completer="files")
@data("xml", "filename containing updated XML for the target", completer="files")
@flag("running", "set domain to be running on restore")
@flag("paused", "set domain to be paused on restore")
def save_image_define(ctl, file, xml, running, paused):
    flags = _restore_flags(running=running, paused=paused)
    text = read_xml_file(xml)
    with reporting("Failed to update %s" % file):
        ctl.conn.save_image_define_xml(file, text, flags)
    ctl.print_extra("State file %s updated.\n" % file)
    return True


@command("save-image-edit", "Edit the domain XML associated with a saved state file")
@data("file", "saved state file to edit", completer="files")
@flag("running", "set domain to be running on restore")
@flag("paused", "set domain to be paused on restore")
def save_image_edit(ctl, file, running, paused):
    from ..drivers.api import XMLFlags
    from .editing import edit_document

    exclusive("running", running, "paused", paused)
    flags = _restore_flags(running=running, paused=paused)
    with reporting_bare():
        original = ctl.conn.save_image_get_xml_desc(file, XMLFlags.SECURE)

    def apply(new_text):
        ctl.conn.save_image_define_xml(file, new_text, flags)
        return True

    if edit_document(ctl, original, apply) is None:
        ctl.print_extra("Saved image %s XML configuration not changed.\n" % file)
    else:
        ctl.print_extra("State file %s edited.\n" % file)
    return True


@command("managedsave", "Save and destroy a running domain, so it can be restarted from\n    the same state at "
         "a later time.  When the virsh 'start'\n    command is next run for the domain, it will automatically\n"
         "    be started from this saved state.")
@domain_option()
@flag("bypass-cache", "avoid file system cache when saving")
@flag("running", "set domain to be running on next start")
@flag("paused", "set domain to be paused on next start")
@flag("verbose", "display the progress of save")
def managedsave(ctl, domain, bypass_cache, running, paused, verbose):
    dom = lookup_domain(ctl, domain)
    flags = _restore_flags(bypass_cache, running, paused)
    with reporting("Failed to save domain '%s' state" % domain):
        dom.managed_save(flags)
    _show_progress(ctl, verbose, "Managedsave")
    ctl.print_extra("\nDomain '%s' state saved by libvirt\n" % domain)
    return True


@command("managedsave-remove", "Remove an existing managed save state file from a domain")
@domain_option()
def managedsave_remove(ctl, domain):
    dom = lookup_domain(ctl, domain)
    with reporting("Failed to check for domain managed save image"):
        present = dom.has_managed_save()
    if not present:
        ctl.print_extra("Domain '%s' has no manage save image; removal skipped" % domain)
        return True
    with reporting("Failed to remove managed save image for domain '%s'" % domain):
        dom.managed_save_remove(0)
    ctl.print_extra("Removed managedsave image for domain '%s'" % domain)
    return True


@command("managedsave-dumpxml", "Dump XML of domain information for a managed save state file to stdout.")
@domain_option()
@flag("security-info", "include security sensitive information in XML dump")
@string("xpath", "xpath expression to filter the XML document", named_only=True, empty_ok=True)
@flag("wrap", "wrap xpath results in an common root element")
def managedsave_dumpxml(ctl, domain, security_info, xpath, wrap):
    from ..drivers.api import XMLFlags
    dom = lookup_domain(ctl, domain)
    with reporting_bare():
        text = dom.managed_save_get_xml_desc(XMLFlags.SECURE if security_info else 0)
    print_xml(ctl, text, xpath, wrap)
    return True


@command("managedsave-define", "Replace the domain XML associated with a managed save state file")
@domain_option()
@data("xml", "filename containing updated XML for the target", completer="files")
@flag("running", "set domain to be running on start")
@flag("paused", "set domain to be paused on start")
def managedsave_define(ctl, domain, xml, running, paused):
    dom = lookup_domain(ctl, domain)
    flags = _restore_flags(running=running, paused=paused)
    text = read_xml_file(xml)
    with reporting("Failed to update %s XML configuration" % dom.name):
        dom.managed_save_define_xml(text, flags)
    ctl.print_extra("Managed save state file of domain '%s' updated.\n" % domain)
    return True


@command("managedsave-edit", "Edit the domain XML associated with the managed save state file")
@domain_option()
@flag("running", "set domain to be running on start")
@flag("paused", "set domain to be paused on start")
def managedsave_edit(ctl, domain, running, paused):
    from ..drivers.api import XMLFlags
    from .editing import edit_document

    exclusive("running", running, "paused", paused)
    dom = lookup_domain(ctl, domain)
    flags = _restore_flags(running=running, paused=paused)
    with reporting_bare():
        original = dom.managed_save_get_xml_desc(XMLFlags.SECURE)

    def apply(new_text):
        dom.managed_save_define_xml(new_text, flags)
        return True

    if edit_document(ctl, original, apply) is None:
        ctl.print_extra("Managed save image of domain '%s' XML configuration not changed.\n" % domain)
    else:
        ctl.print_extra("Managed save image of Domain '%s' XML configuration edited.\n" % domain)
    return True
