"""The test driver's screen, keyboard and control calls (libvirt's test_driver.c):
screenshot answers with libvirt's own test picture, send-key checks the keys and does
nothing else, domcontrol is always "ok" for a running domain."""

from __future__ import annotations

from .. import keycodes
from ..api import DomainControlState, DriverError, ErrorCode, check_flags, writes

# libvirt's test driver sends this file (installed with libvirt0) as the screen
SCREENSHOT = "/usr/share/libvirt/test-screenshot.png"


# The type checker reads any name TYPE_CHECKING as true; Python skips the block.
TYPE_CHECKING = False


class TestDeviceCalls:
    if TYPE_CHECKING:
        def _live(self): ...        # defined by state.TestHandle

    def _running(self):
        obj = self._live()
        if not obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not running")
        return obj

    @writes("virDomainScreenshot")
    def screenshot(self, screen: int, flags: int = 0) -> tuple[str, bytes]:
        check_flags(flags, 0, "testDomainScreenshot")
        self._live()            # libvirt's test driver does not ask whether the domain runs
        try:
            with open(SCREENSHOT, "rb") as f:
                return "image/png", f.read()
        except OSError as err:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "Unable to open file: %s: %s"
                              % (SCREENSHOT, err.strerror)) from None

    @writes("virDomainSendKey")
    def send_key(self, codeset: int, holdtime: int, keycodes_: list[int], flags: int = 0) -> None:
        check_flags(flags, 0, "testDomainSendKey")
        self._running()
        for code in keycodes_:
            if not _known(codeset, code):
                raise DriverError(ErrorCode.INTERNAL_ERROR, "invalid keycode %u of %s codeset"
                                  % (code, keycodes.CODESETS[codeset]))

    def get_control_info(self, flags: int = 0) -> tuple[int, int, int]:
        check_flags(flags, 0, "testDomainGetControlInfo")
        self._running()
        return DomainControlState.OK, 0, 0


def _known(codeset: int, code: int) -> bool:
    """Is the key in the codeset's table? (libvirt's test driver translates it to its own codeset)"""
    return keycodes.translate(codeset, codeset, code) is not None
