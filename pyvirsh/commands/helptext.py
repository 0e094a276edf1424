"""virsh's help layouts, generated from the command tree and the global-option table
(vshCmddefHelp, vshCmdGrpHelp, virsh's usage)."""

from __future__ import annotations

from ..parsing import OptType
from . import GROUPS, TABLE


def _synopsis_token(spec, positional_seen: bool) -> str:
    t = spec.type
    if t is OptType.BOOL:
        return "[--%s]" % spec.name
    if t is OptType.INT:
        return ("<%s>" if spec.required else "[--%s <number>]") % spec.name
    if t is OptType.STRING:
        return ("--%s <string>" if spec.required else "[--%s <string>]") % spec.name
    if t is OptType.DATA:
        return ("<%s>" if spec.required else "[<%s>]") % spec.name
    if positional_seen:
        return ("{[--%s] <string>}..." if spec.required else "[[--%s] <string>]...") % spec.name
    return ("<%s>..." if spec.required else "[<%s>]...") % spec.name


def _option_label(spec, positional_seen: bool) -> str:
    t = spec.type
    if t is OptType.BOOL:
        return "--%s" % spec.name
    if t is OptType.INT:
        return ("[--%s] <number>" if spec.required else "--%s <number>") % spec.name
    if t is OptType.STRING:
        return "--%s <string>" % spec.name
    if t is OptType.DATA:
        return "[--%s] <string>" % spec.name
    return ("[--%s] <string>" if positional_seen else "<%s>") % spec.name


def option_notation(cmd):
    """Each visible option of cmd as (spec, synopsis token, option-list label), in declaration order.

    The one walk behind `help COMMAND` and the man page: once an option that takes
    a value positionally has been seen, an argv option's notation says it may be named.
    """
    positional_seen = False
    for spec in cmd.specs:
        if spec.type is OptType.ALIAS:
            continue
        yield spec, _synopsis_token(spec, positional_seen), _option_label(spec, positional_seen)
        if spec.type in (OptType.INT, OptType.STRING, OptType.DATA) and not spec.named_only:
            positional_seen = True


def format_command_help(cmd) -> str:
    options = list(option_notation(cmd))
    out = ["  NAME\n", "    %s - %s\n" % (cmd.name, cmd.summary), "\n  SYNOPSIS\n", "    %s" % cmd.name]
    out += [" " + token for _, token, _ in options]
    out.append("\n")
    if cmd.description:
        out.append("\n  DESCRIPTION\n    %s\n" % cmd.description)
    if options:
        out.append("\n  OPTIONS\n")
        out += ["    %-15s  %s\n" % (label, spec.help) for spec, _, label in options]
    out.append("\n")
    return "".join(out)


def command_help(name: str) -> str | None:
    from ..tree import command
    cmd = command(name)
    return None if cmd is None else format_command_help(cmd)


def group_commands(keyword: str) -> list[tuple[str, str]]:
    """The commands of one help group as (name, one-line help), in virsh's order."""
    return [(name, summary) for name, (_, group, summary) in TABLE.items() if group == keyword]


def command_lines(keyword: str) -> list[str]:
    """One group's command list as virsh prints it in help and usage (lines without newline)."""
    return ["    %-30s %s" % pair for pair in group_commands(keyword)]


def _group_block(keyword: str) -> str:
    lines = [" %s (help keyword '%s'):" % (GROUPS[keyword], keyword)] + command_lines(keyword)
    return "".join(line + "\n" for line in lines)


def group_help(word: str) -> str | None:
    for keyword, title in GROUPS.items():
        if word in (keyword, title):
            return _group_block(keyword)
    return None


def groups_overview() -> str:
    return "Grouped commands:\n\n" + "".join(_group_block(k) + "\n" for k in GROUPS)


def usage_text() -> str:
    """`pyvirsh -h`: virsh's usage, the global options, and every group's commands."""
    from ..globalopts import usage_lines
    lines = ["", "pyvirsh [options]... [<command_string>]", "pyvirsh [options]... <command> [args...]", "",
             "  options:"]
    lines += usage_lines()
    lines += ["  commands (non interactive mode):", ""]
    for keyword, title in GROUPS.items():
        lines += [" %s (help keyword '%s')" % (title, keyword)] + command_lines(keyword) + [""]
    lines += ["", "  (specify help <group> for details about the commands in the group)", "",
              "  (specify help <command> for details about the command)", ""]
    return "\n".join(lines) + "\n"
