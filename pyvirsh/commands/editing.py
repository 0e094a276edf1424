"""Editing an XML document in the user's editor ($VISUAL, $EDITOR, vi), as virsh's
edit commands do: a temporary copy, the editor, then the driver applies it."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

from ..errors import CommandError

# An editor setting with any of these characters is run through the shell.
_SHELL_CHARS = set("$&*(){}[]|;<>'\"?~ \t")


def _run_editor(path: str) -> None:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    if _SHELL_CHARS & set(editor):
        argv = ["sh", "-c", "%s %s" % (editor, shlex.quote(path))]
        shown = "sh -c '%s %s'" % (editor, path)
    else:
        argv = [editor, path]
        shown = "%s %s" % (editor, path)
    try:
        status = subprocess.call(argv)
    except OSError as err:
        raise CommandError("internal error: Child process (%s) unexpected exit status 127" % shown,
                           ) from err
    if status != 0:
        raise CommandError("internal error: Child process (%s) unexpected exit status %d"
                           % (shown, status if status > 0 else 128 - status))


class EditFailed(CommandError):
    """The edit failed: ``head`` is printed at once; ``pending`` is the libvirt error
    virsh leaves behind and reports last, after the command's own last words."""

    def __init__(self, head, pending=()):
        self.head = list(head)
        self.pending = list(pending)
        super().__init__(*self.head, *self.pending)


def failed_with(err: CommandError, *last_words: str) -> CommandError:
    """err with the command's last words added before any pending libvirt error."""
    head = getattr(err, "head", err.lines)
    pending = getattr(err, "pending", [])
    return CommandError(*head, *last_words, *pending)


def _read_back(path: str) -> str:
    """virsh's vshEditReadBackFile: its own line, and virFileReadAll's error last."""
    from .common import read_xml_file

    try:
        return read_xml_file(path)
    except CommandError as err:
        reason = err.lines[0].rsplit(": ", 1)[-1]
        raise EditFailed(["%s: failed to read temporary file: %s" % (path, reason)], err.lines) from None


_HELP = {"y": "y - yes, start editor again", "n": "n - no, throw away my changes",
         "i": "i - turn off validation and try to redefine again",
         "f": "f - force, try to redefine again", "?": "? - print this help"}


def _ask_reedit(ctl, msg: str, relax_avail: bool) -> str | None:
    """virsh's vshAskReedit: one key in raw mode; None when stdin is no terminal.

    virsh reads keys until one it knows (Ctrl-C and Ctrl-D are keys too in raw
    mode); at end of input, where virsh would ask forever, the answer is 'n'.
    """
    import termios
    import tty

    fd = 0                                  # virsh asks on STDIN_FILENO
    if not os.isatty(fd):
        return None
    choices = "yn" + ("i" if relax_avail else "") + "f"
    try:
        saved = termios.tcgetattr(fd)
        tty.setraw(fd, termios.TCSAFLUSH)
    except termios.error:
        return None
    out = ctl.out.stdout
    try:
        while True:
            out.write("\r%s Try again? %s: " % (msg, "[y,n,i,f,?]" if relax_avail else "[y,n,f,?]"))
            out.flush()
            try:
                key = os.read(fd, 1)
            except OSError:                 # the terminal went away (EIO)
                key = b""
            if not key:
                answer = "n"
                break
            answer = key.decode("latin-1").lower()
            if answer == "?":
                out.write("".join("%s\r\n" % line for line in [""] + [_HELP[c] for c in choices + "?"]))
                continue
            if answer in choices:
                break
    finally:
        try:
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
        except termios.error:
            pass
    out.write("\r\n")
    out.flush()
    return answer


def edit_document(ctl, original: str, apply, *, redefine_unchanged: bool = False, relax=None):
    """Let the user edit `original`; apply(new_text) defines it (virsh-edit.c).

    Returns None when the document was not changed (unless redefine_unchanged),
    else what apply returned. apply raises the driver's error. When stdin is a
    terminal a failed define asks virsh's 'Try again?': y edits again, f defines
    the same text again, i (when `relax` is given: it turns validation off)
    likewise without validation, n gives up (CommandError with nothing more to say).
    """
    from ..drivers.api import DriverError

    fd, path = tempfile.mkstemp(prefix="pyvirsh", suffix=".xml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(original)
        while True:                               # virsh's reedit label
            relax_avail = relax is not None
            _run_editor(path)
            edited = _read_back(path)
            if edited == original and not redefine_unchanged:
                return None
            while True:                           # virsh's redefine label
                try:
                    return apply(edited)
                except DriverError as err:
                    answer = _ask_reedit_after(ctl, err, relax_avail)
                if answer == "y":
                    break
                if answer == "n":
                    raise CommandError() from None
                if answer == "i":
                    relax()
                    relax_avail = False
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def _ask_reedit_after(ctl, err, relax_avail: bool) -> str:
    """Report the driver's error and ask; without a terminal the edit fails."""
    if not os.isatty(0):
        raise CommandError("Failed.", str(err)) from None
    ctl.error(str(err))
    answer = _ask_reedit(ctl, "Failed.", relax_avail)
    if answer is None:
        raise CommandError("Failed.") from None
    return answer
