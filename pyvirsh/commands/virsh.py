"""Virsh itself: cd, echo, exit, help, pwd, quit, connect."""

from __future__ import annotations

import os

from ..declare import alias, argv, command, data, flag, string
from ..errors import CommandError
from .common import exclusive, split_commas

# Characters that make virsh's --shell quoting kick in (virBufferEscapeShell).
_SHELL_META = set("\r\t\n !\"#$&'()*;<>?[\\]^`{|}~")


def _shell_quote(word: str) -> str:
    if word and not (_SHELL_META & set(word)):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


@command("echo", "Echo back arguments, possibly with quoting. Used for internal testing.", connect=False)
@flag("shell", "escape for shell use")
@flag("xml", "escape for XML use")
@flag("split", "split each argument on ','; ',,' is an escape sequence")
@flag("err", "output to stderr")
@alias("str", "string")
@alias("hi", "string=hello")
@argv("string", "arguments to echo", empty_ok=True)
def echo(ctl, shell, xml, split, err, string):
    from ..drivers.xmlescape import escape

    exclusive("shell", shell, "xml", xml)
    exclusive("shell", shell, "split", split)
    exclusive("xml", xml, "split", split)
    if split:
        text = "".join(piece + "\n" for word in string for piece in split_commas(word))
    else:
        words = [escape(w) if xml else _shell_quote(w) if shell else w for w in string]
        text = " ".join(words)
    if err:
        ctl.error(text)
    else:
        ctl.print(text)
    return True


@command("help", "Prints global help, command specific help, or help for a\n    group of related commands",
         connect=False)
@string("command", "Prints global help, command specific help, or help for a group of related commands",
        empty_ok=True)
def help_(ctl, command):
    from .helptext import command_help, group_help, groups_overview

    if not command:
        ctl.print(groups_overview())
        return True
    text = command_help(command)
    if text is None:
        text = group_help(command)
    if text is None:
        raise CommandError("command or command group '%s' doesn't exist" % command)
    ctl.print(text)
    return True


@command("quit", connect=False)
def quit_(ctl):
    ctl.quit_requested = True
    return True


@command("exit", connect=False)
def exit_(ctl):
    ctl.quit_requested = True
    return True


@command("cd", "Change the current directory.", connect=False)
@string("dir", "directory to switch to (default: home or else root)", empty_ok=True)
def cd(ctl, dir):
    if not ctl.interactive:
        raise CommandError("cd: command valid only in interactive mode")
    target = dir or os.path.expanduser("~") or "/"
    try:
        os.chdir(target)
    except OSError as err:
        raise CommandError("cd: %s: %s" % (os.strerror(err.errno), target)) from None
    return True


@command("pwd", "Print the current directory.", connect=False)
def pwd(ctl):
    try:
        ctl.print("%s\n" % os.getcwd())
    except OSError as err:
        raise CommandError("pwd: cannot get current directory: %s" % os.strerror(err.errno)) from None
    return True


@command("connect", "Connect to local hypervisor. This is built-in command after shell start up.",
         connect=False)
@string("name", "hypervisor connection URI", empty_ok=True)
@flag("readonly", "read-only connection")
def connect(ctl, name, readonly):
    # A failure is a ConnectError, reported with the driver's preamble as at start-up.
    ctl.connect(name, readonly)
    return True


@command("completion", "Print the shell completion script for bash, zsh or fish (pyvirsh's own command).",
         connect=False)
@data("shell", "bash, zsh or fish")
def completion(ctl, shell):
    from ..shellscripts import SHELLS, script
    if shell not in SHELLS:
        raise CommandError("unknown shell '%s': expected bash, zsh or fish" % shell)
    ctl.print(script(shell))
    return True
