"""A guest's screen and keyboard: screenshot, send-key, domdisplay and vncdisplay, with
virsh 9.0's options, output and messages (tools/virsh-domain.c); checked against virsh +
libvirt 9.0 on real QEMU (tests/data/monitor-libvirt.json). domdisplay and vncdisplay read
the live XML, as virsh does."""

from __future__ import annotations

from ..declare import argv, command, flag, number, string
from ..errors import CommandError
from ..values import integer
from .common import domain_option, exclusive, lookup_domain, reporting

_EXTENSIONS = {"image/x-portable-pixmap": ".ppm", "image/png": ".png"}
MAX_KEYS = 16       # VIR_DOMAIN_SEND_KEY_MAX_KEYS


@command("screenshot", "screenshot of a current domain console")
@domain_option()
@string("file", "where to store the screenshot", completer="files")
@number("screen", "ID of a screen to take screenshot of")
def screenshot(ctl, domain, file, screen):
    import os
    import time

    screen_id = integer("screen", screen, 0, 2**32 - 1) or 0
    dom = lookup_domain(ctl, domain)
    with reporting("could not take a screenshot of %s" % dom.name):
        mime, data = dom.screenshot(screen_id)
    if file is None:
        file = "%s-%s%s" % (dom.name, time.strftime("%Y-%m-%d-%H:%M:%S"), _EXTENSIONS.get(mime, ""))
    created = not os.path.exists(file)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError:
        raise CommandError("cannot create file %s" % file) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError as err:
        if created:
            os.unlink(file)
        raise CommandError("cannot write to file %s: %s" % (file, err.strerror)) from None
    ctl.print("Screenshot saved to %s, with type of %s" % (file, mime))
    return True


def _keycode_number(text: str) -> int | None:
    """virshKeyCodeGetInt: C's strtoul with base 0 (0x.., 0..), at most 0xffff."""
    digits, base = text, 10
    if text[:2].lower() == "0x":
        digits, base = text[2:], 16
    elif len(text) > 1 and text.startswith("0"):
        digits, base = text[1:], 8
    try:
        value = int(digits, base) if digits.isalnum() else -1
    except ValueError:
        return None
    return value if 0 <= value <= 0xffff else None


@command("send-key", "Send keycodes (integers or symbolic names) to the guest")
@domain_option()
@string("codeset", "the codeset of keycodes, default:linux", named_only=True)
@number("holdtime", "the time (in milliseconds) how long the keys will be held", named_only=True)
@argv("keycode", "the key code", required=True)
def send_key(ctl, domain, codeset, holdtime, keycode):
    from ..drivers import keycodes

    dom = lookup_domain(ctl, domain)
    name = codeset if codeset is not None else "linux"
    hold = integer("holdtime", holdtime, 0) or 0
    number_of_set = keycodes.codeset_number(name)
    if number_of_set is None:
        raise CommandError("unknown codeset: '%s'" % keycodes.ALIASES.get(name, name))
    codes = []
    for word in keycode:
        if len(codes) == MAX_KEYS:
            raise CommandError("too many keycodes")
        code = _keycode_number(word)
        if code is None:
            code = keycodes.keycode_from_name(number_of_set, word)
        if code is None:
            raise CommandError("invalid keycode: '%s'" % word)
        codes.append(code)
    dom.send_key(number_of_set, hold, codes)
    return True


def _live_xml(dom, secure: bool = False):
    """The live XML virsh reads the displays from (parsed here, as virsh's client does)."""
    from lxml import etree

    from ..drivers.api import XMLFlags
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(dom.get_xml_desc(XMLFlags.SECURE if secure else 0).encode("utf-8"), parser)


def _listen(graphics) -> str | None:
    listen = graphics.get("listen")
    if not listen:
        el = graphics.find("listen")
        listen = el.get("address") if el is not None else None
    return listen


@command("domdisplay", "Output the IP address and port number for the graphical display.")
@domain_option()
@flag("include-password", "includes the password into the connection URI if available")
@string("type", "select particular graphical display (e.g. \"vnc\", \"spice\", \"rdp\", \"dbus\")")
@flag("all", "show all possible graphical displays")
def domdisplay(ctl, domain, include_password, type, all):
    exclusive("all", all, "type", type is not None)
    dom = lookup_domain(ctl, domain)
    if not dom.is_active():
        raise CommandError("Domain is not running")
    root = _live_xml(dom, include_password)
    shown = []
    for scheme in ("vnc", "spice", "rdp", "dbus"):
        if type is not None and type != scheme:
            continue
        graphics = root.find("devices/graphics[@type='%s']" % scheme)
        if graphics is None:
            continue
        port = integer_or_none(graphics.get("port"))
        tls_port = integer_or_none(graphics.get("tlsPort"))
        if scheme in ("vnc", "spice", "rdp") and not (port and port > 0) and not (tls_port and tls_port > 0):
            continue
        listen = _listen(graphics)
        if listen in (None, "", "0.0.0.0", "::"):
            listen = "localhost"
        elif ":" in listen:
            listen = "[%s]" % listen
        uri = scheme + "://"
        password = graphics.get("passwd") if include_password else None
        if password:
            uri += password + "@"
        uri += listen
        if port and port > 0:
            uri += ":%d" % (port - 5900 if scheme == "vnc" else port)
        if tls_port and tls_port > 0:
            uri += "?tls-port=%d" % tls_port
        shown.append(uri)
        if not all:
            break
    if not shown:
        if type is not None:
            raise CommandError("No graphical display with type '%s' found" % type)
        raise CommandError("No graphical display found")
    ctl.print("\n".join(shown) + ("\n" if all else ""))
    return True


def integer_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@command("vncdisplay", "Output the IP address and port number for the VNC display.")
@domain_option()
def vncdisplay(ctl, domain):
    dom = lookup_domain(ctl, domain)
    if not dom.is_active():
        raise CommandError("Domain is not running")
    root = _live_xml(dom)
    graphics = root.find("devices/graphics[@type='vnc']")
    port = integer_or_none(graphics.get("port")) if graphics is not None else None
    if port is None or port <= 0:
        raise CommandError("Failed to get VNC port. Is this domain using VNC?")
    listen = _listen(graphics)
    if listen in (None, "", "0.0.0.0", "::"):
        listen = ""
    ctl.print("%s:%d\n" % (listen, port - 5900))
    return True
