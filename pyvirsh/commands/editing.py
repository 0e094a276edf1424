"""Editing an XML document in the user's editor ($VISUAL, $EDITOR, vi), as virsh's
edit commands do: a temporary copy, the editor, then the driver applies it."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
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


def edit_document(ctl, original: str, apply):
    """Let the user edit `original`; apply(new_text) defines it.

    Returns None when the document was not changed, else what apply returned.
    On a terminal a failed apply offers virsh's 'Try again?' prompt.
    """
    fd, path = tempfile.mkstemp(prefix="pyvirsh", suffix=".xml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(original)
        while True:
            _run_editor(path)
            with open(path) as f:
                edited = f.read()
            if edited == original:
                return None
            try:
                return apply(edited)
            except CommandError as err:
                if not (sys.stdin.isatty() and sys.stdout.isatty()):
                    raise
                for line in err.lines:
                    ctl.error(line)
                answer = input("Failed. Try again? [y,n,f,?]:").strip().lower()
                if answer != "y":
                    raise CommandError() from None
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
