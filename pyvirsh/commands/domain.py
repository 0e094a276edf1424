"""Domain Management: define, undefine, create, start, destroy, shutdown, reboot,
suspend, resume, domid, domname, domuuid, dumpxml, edit."""

from __future__ import annotations

from ..declare import command, data, flag, string
from ..errors import CommandError
from .common import (BY_ID, BY_NAME, BY_UUID, domain_disks, domain_option, exclusive, flag_bits,
                     lookup_domain, print_xml, read_xml_file, reporting, split_commas)


def file_option(help: str):
    return data("file", help, completer="files")


# ---------------------------------------------------------------------------
# define, undefine, create
# ---------------------------------------------------------------------------

@command("define", "Define a domain.")
@file_option("file containing an XML domain description")
@flag("validate", "validate the XML against the schema")
def define(ctl, file, validate):
    from ..drivers.api import DefineFlags

    xml = read_xml_file(file)
    with reporting("Failed to define domain from %s" % file):
        dom = ctl.conn.define_xml(xml, DefineFlags.VALIDATE if validate else 0)
    ctl.print_extra("Domain '%s' defined from %s\n" % (dom.name, file))
    return True


@command("undefine", "Undefine an inactive domain, or convert persistent to transient.")
@domain_option()
@flag("managed-save", "remove domain managed state file")
@string("storage", "remove associated storage volumes (comma separated list of targets or source paths) "
                   "(see domblklist)", empty_ok=True)
@flag("remove-all-storage", "remove all associated storage volumes (use with caution)")
@flag("delete-storage-volume-snapshots", "delete snapshots associated with volume(s), requires "
                                         "--remove-all-storage (must be supported by storage driver)")
@flag("wipe-storage", "wipe data on the removed volumes")
@flag("snapshots-metadata", "remove all domain snapshot metadata (vm must be inactive)")
@flag("checkpoints-metadata", "remove all domain checkpoint metadata (vm must be inactive)")
@flag("nvram", "remove nvram file")
@flag("keep-nvram", "keep nvram file")
@flag("tpm", "remove TPM state")
@flag("keep-tpm", "keep TPM state")
def undefine(ctl, domain, managed_save, storage, remove_all_storage, delete_storage_volume_snapshots,
             wipe_storage, snapshots_metadata, checkpoints_metadata, nvram, keep_nvram, tpm, keep_tpm):
    from ..drivers.api import UndefineFlags as U

    storage = storage or None      # virsh takes an empty --storage as not given
    if wipe_storage and not (storage or remove_all_storage):
        raise CommandError("'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'")
    if delete_storage_volume_snapshots and not remove_all_storage:
        raise CommandError("'--delete-storage-volume-snapshots' requires '--remove-all-storage'")
    exclusive("nvram", nvram, "keep-nvram", keep_nvram)
    exclusive("tpm", tpm, "keep-tpm", keep_tpm)
    dom = lookup_domain(ctl, domain)
    flags = flag_bits((managed_save, U.MANAGED_SAVE), (snapshots_metadata, U.SNAPSHOTS_METADATA),
                      (checkpoints_metadata, U.CHECKPOINTS_METADATA), (nvram, U.NVRAM),
                      (keep_nvram, U.KEEP_NVRAM), (tpm, U.TPM), (keep_tpm, U.KEEP_TPM))
    volumes = []
    if storage or remove_all_storage:
        volumes = _storage_to_remove(ctl, dom, storage, remove_all_storage)
    if not managed_save and _has_managed_save(dom):
        raise CommandError("Refusing to undefine while domain managed save image exists")
    with reporting("Failed to undefine domain '%s'" % domain):
        dom.undefine(flags)
    ctl.print_extra("Domain '%s' has been undefined\n" % domain)
    return _remove_storage(ctl, volumes, wipe_storage, delete_storage_volume_snapshots)


def _has_managed_save(dom) -> bool:
    """virsh asks before undefining; a driver that cannot tell has none."""
    from ..drivers.api import DriverError
    try:
        return dom.has_managed_save()
    except DriverError:
        return False


def _storage_to_remove(ctl, dom, storage, remove_all) -> list:
    """virsh's checks before undefining with --storage/--remove-all-storage, and the volumes
    (target, source, volume handle) to remove after it: each selected disk's source looked up
    as a storage volume (in its pool for a volume disk, else by path). A disk whose image no
    pool holds is reported and kept; a --storage word naming no disk stops the undefine."""
    from ..drivers.api import DriverError

    if dom.get_id() != -1:
        raise CommandError("Storage volume deletion is supported only on stopped domains")
    if storage is not None and remove_all:
        raise CommandError("Specified both --storage and --remove-all-storage")
    wanted = split_commas(storage) if storage is not None else None
    volumes = []
    for disk in domain_disks(dom):
        # virsh reads the source's file, dir, name, dev or volume attribute: the disk's source.
        source = disk.source
        if not source:
            continue
        if wanted is not None:
            # Each word selects one disk, by target or source, and is used up.
            for i, word in enumerate(wanted):
                if word is not None and word in (disk.target, source):
                    wanted[i] = None
                    break
            else:
                continue
        try:
            if disk.pool is not None:
                try:
                    pool = ctl.conn.lookup_storage_pool_by_name(disk.pool)
                except DriverError:
                    ctl.error("Storage pool '%s' for volume '%s' not found." % (disk.pool, disk.target))
                    continue
                vol = pool.lookup_vol_by_name(source)
            else:
                vol = ctl.conn.lookup_storage_vol_by_path(source)
        except DriverError:
            ctl.error("Storage volume '%s'(%s) is not managed by libvirt. Remove it manually.\n"
                      % (disk.target, source))
            continue
        volumes.append((disk.target, source, vol))
    missing = [word for word in wanted or () if word is not None]
    for word in missing:
        ctl.error("Volume '%s' was not found in domain's definition.\n" % word)
    if missing:
        raise CommandError()
    return volumes


def _remove_storage(ctl, volumes, wipe: bool, with_snapshots: bool) -> bool:
    """After the undefine: wipe (if asked) and delete each volume. A failure is reported and the
    next volume tried; the last driver error closes the command, as virsh reports it."""
    from ..drivers.api import DriverError, VolDeleteFlags

    last = None
    for target, source, vol in volumes:
        if wipe:
            ctl.print_extra("Wiping volume '%s'(%s) ... " % (target, source))
            ctl.out.stdout.flush()          # the line ends only when the wipe does
            try:
                vol.wipe(0)
            except DriverError as err:
                ctl.error("Failed! Volume not removed.")
                last = err
                continue
            ctl.print_extra("Done.\n")
        try:
            vol.delete(VolDeleteFlags.WITH_SNAPSHOTS if with_snapshots else 0)
        except DriverError as err:
            ctl.error("Failed to remove storage volume '%s'(%s)" % (target, source))
            last = err
            continue
        ctl.print_extra("Volume '%s'(%s) removed.\n" % (target, source))
    if last is not None:
        raise CommandError(str(last))
    return True


@command("create", "Create a domain.")
@file_option("file containing an XML domain description")
@flag("console", "attach to console after creation")
@flag("paused", "leave the guest paused after creation")
@flag("autodestroy", "automatically destroy the guest when virsh disconnects")
@string("pass-fds", "pass file descriptors N,M,... to the guest")
@flag("validate", "validate the XML against the schema")
@flag("reset-nvram", "re-initialize NVRAM from its pristine template")
def create(ctl, file, console, paused, autodestroy, pass_fds, validate, reset_nvram):
    from ..drivers.api import StartFlags as S

    _check_pass_fds(pass_fds)
    xml = read_xml_file(file)
    flags = flag_bits((paused, S.PAUSED), (autodestroy, S.AUTODESTROY), (validate, S.VALIDATE),
                      (reset_nvram, S.RESET_NVRAM))
    with reporting("Failed to create domain from %s" % file):
        dom = ctl.conn.create_xml(xml, flags)
    ctl.print_extra("Domain '%s' created from %s\n" % (dom.name, file))
    if console:
        from .console import SessionFailed, run_console
        try:
            run_console(ctl, dom)
        except SessionFailed:
            pass                    # virsh's create succeeds without reporting libvirt's error
        except CommandError as err:
            for line in err.lines:  # virsh's own console errors are printed at once
                ctl.error(line)
    return True


def _check_pass_fds(pass_fds) -> None:
    if pass_fds is None:
        return
    for item in pass_fds.split(","):
        if not (item.isascii() and item.isdigit()):
            raise CommandError("Unable to parse FD number '%s'" % item)


# ---------------------------------------------------------------------------
# lifecycle
# ---------------------------------------------------------------------------

@command("start", "Start a domain, either from the last managedsave\n    state, or via a fresh boot if no "
         "managedsave state\n    is present.")
@domain_option("name of the inactive domain")
@flag("console", "attach to console after creation")
@flag("paused", "leave the guest paused after creation")
@flag("autodestroy", "automatically destroy the guest when virsh disconnects")
@flag("bypass-cache", "avoid file system cache when loading")
@flag("force-boot", "force fresh boot by discarding any managed save")
@string("pass-fds", "pass file descriptors N,M,... to the guest")
@flag("reset-nvram", "re-initialize NVRAM from its pristine template")
def start(ctl, domain, console, paused, autodestroy, bypass_cache, force_boot, pass_fds, reset_nvram):
    from ..drivers.api import StartFlags as S

    dom = lookup_domain(ctl, domain, BY_NAME | BY_UUID)
    if dom.get_id() != -1:
        raise CommandError("Domain is already active")
    _check_pass_fds(pass_fds)
    flags = flag_bits((paused, S.PAUSED), (autodestroy, S.AUTODESTROY), (bypass_cache, S.BYPASS_CACHE),
                      (force_boot, S.FORCE_BOOT), (reset_nvram, S.RESET_NVRAM))
    with reporting("Failed to start domain '%s'" % dom.name):
        dom.create(flags)
    ctl.print_extra("Domain '%s' started\n" % dom.name)
    if console:
        from .console import run_console
        run_console(ctl, dom)
    return True


@command("destroy", "Forcefully stop a given domain, but leave its resources intact.")
@domain_option()
@flag("graceful", "terminate gracefully")
@flag("remove-logs", "remove domain logs")
def destroy(ctl, domain, graceful, remove_logs):
    from ..drivers.api import DestroyFlags

    dom = lookup_domain(ctl, domain)
    flags = flag_bits((graceful, DestroyFlags.GRACEFUL), (remove_logs, DestroyFlags.REMOVE_LOGS))
    with reporting("Failed to destroy domain '%s'" % domain):
        dom.destroy(flags)
    ctl.print_extra("Domain '%s' destroyed\n" % domain)
    return True


def _mode_flags(mode) -> int:
    from ..drivers.api import ShutdownMode as M

    if mode is None:
        return 0
    bits = {"acpi": M.ACPI_POWER_BTN, "agent": M.GUEST_AGENT, "initctl": M.INITCTL,
            "signal": M.SIGNAL, "paravirt": M.PARAVIRT}
    flags = 0
    for word in mode.split(","):
        if word not in bits:
            raise CommandError("Unknown mode %s value, expecting 'acpi', 'agent', 'initctl', "
                               "'signal', or 'paravirt'" % word)
        flags |= bits[word]
    return flags


@command("shutdown", "Run shutdown in the target domain.")
@domain_option()
@string("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt")
def shutdown(ctl, domain, mode):
    flags = _mode_flags(mode)
    dom = lookup_domain(ctl, domain)
    with reporting("Failed to shutdown domain '%s'" % domain):
        dom.shutdown(flags)
    ctl.print_extra("Domain '%s' is being shutdown\n" % domain)
    return True


@command("reboot", "Run a reboot command in the target domain.")
@domain_option()
@string("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt")
def reboot(ctl, domain, mode):
    flags = _mode_flags(mode)
    dom = lookup_domain(ctl, domain)
    with reporting("Failed to reboot domain '%s'" % domain):
        dom.reboot(flags)
    ctl.print_extra("Domain '%s' is being rebooted\n" % domain)
    return True


@command("suspend", "Suspend a running domain.")
@domain_option()
def suspend(ctl, domain):
    dom = lookup_domain(ctl, domain)
    with reporting("Failed to suspend domain '%s'" % domain):
        dom.suspend()
    ctl.print_extra("Domain '%s' suspended\n" % domain)
    return True


@command("resume", "Resume a previously suspended domain.")
@domain_option()
def resume(ctl, domain):
    dom = lookup_domain(ctl, domain)
    with reporting("Failed to resume domain '%s'" % domain):
        dom.resume()
    ctl.print_extra("Domain '%s' resumed\n" % domain)
    return True


# ---------------------------------------------------------------------------
# identifiers
# ---------------------------------------------------------------------------

@command("domid")
@domain_option("domain name or uuid")
def domid(ctl, domain):
    dom = lookup_domain(ctl, domain, BY_NAME | BY_UUID)
    value = dom.get_id()
    ctl.print("%s\n" % ("-" if value == -1 else value))
    return True


@command("domname")
@domain_option("domain id or uuid")
def domname(ctl, domain):
    dom = lookup_domain(ctl, domain, BY_ID | BY_UUID)
    ctl.print("%s\n" % dom.name)
    return True


@command("domuuid")
@domain_option("domain id or name")
def domuuid(ctl, domain):
    dom = lookup_domain(ctl, domain, BY_ID | BY_NAME)
    ctl.print("%s\n" % dom.uuid)
    return True


# ---------------------------------------------------------------------------
# dumpxml, edit
# ---------------------------------------------------------------------------

@command("dumpxml", "Output the domain information as an XML dump to stdout.")
@domain_option()
@flag("inactive", "show inactive defined XML")
@flag("security-info", "include security sensitive information in XML dump")
@flag("update-cpu", "update guest CPU according to host CPU")
@flag("migratable", "provide XML suitable for migrations")
@string("xpath", "xpath expression to filter the XML document", named_only=True, empty_ok=True)
@flag("wrap", "wrap xpath results in an common root element")
def dumpxml(ctl, domain, inactive, security_info, update_cpu, migratable, xpath, wrap):
    from ..drivers.api import XMLFlags

    dom = lookup_domain(ctl, domain)
    flags = flag_bits((inactive, XMLFlags.INACTIVE), (security_info, XMLFlags.SECURE),
                      (update_cpu, XMLFlags.UPDATE_CPU), (migratable, XMLFlags.MIGRATABLE))
    text = dom.get_xml_desc(flags)
    print_xml(ctl, text, xpath, wrap)
    return True


@command("edit", "Edit the XML configuration for a domain.")
@domain_option()
@flag("skip-validate", "skip validation of the XML against the schema")
def edit(ctl, domain, skip_validate):
    from ..drivers.api import DefineFlags, XMLFlags
    from .editing import edit_document

    dom = lookup_domain(ctl, domain)
    original = dom.get_xml_desc(XMLFlags.INACTIVE | XMLFlags.SECURE)
    define_flags = 0 if skip_validate else DefineFlags.VALIDATE

    def apply(new_text):
        return ctl.conn.define_xml(new_text, define_flags)

    def relax():
        nonlocal define_flags
        define_flags &= ~DefineFlags.VALIDATE

    result = edit_document(ctl, original, apply, relax=relax)
    if result is None:
        ctl.print_extra("Domain '%s' XML configuration not changed.\n" % dom.name)
    else:
        ctl.print_extra("Domain '%s' XML configuration edited.\n" % result.name)
    return True
