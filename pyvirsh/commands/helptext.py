"""virsh's help layouts, generated from the command tree (vshCmddefHelp, vshCmdGrpHelp)."""

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


def _visible_specs(cmd):
    return [s for s in cmd.specs if s.type is not OptType.ALIAS]


def format_command_help(cmd) -> str:
    specs = _visible_specs(cmd)
    out = ["  NAME\n", "    %s - %s\n" % (cmd.name, cmd.summary), "\n  SYNOPSIS\n", "    %s" % cmd.name]
    positional_seen = False
    for spec in specs:
        out.append(" " + _synopsis_token(spec, positional_seen))
        if spec.type in (OptType.INT, OptType.STRING, OptType.DATA) and not spec.named_only:
            positional_seen = True
    out.append("\n")
    if cmd.description:
        out.append("\n  DESCRIPTION\n    %s\n" % cmd.description)
    if specs:
        out.append("\n  OPTIONS\n")
        positional_seen = False
        for spec in specs:
            out.append("    %-15s  %s\n" % (_option_label(spec, positional_seen), spec.help))
            if spec.type in (OptType.INT, OptType.STRING, OptType.DATA) and not spec.named_only:
                positional_seen = True
    out.append("\n")
    return "".join(out)


def command_help(name: str) -> str | None:
    if name not in TABLE:
        return None
    from ..cli import root
    return format_command_help(root.get_command(None, name))


def _group_block(keyword: str) -> str:
    lines = [" %s (help keyword '%s'):\n" % (GROUPS[keyword], keyword)]
    lines += ["    %-30s %s\n" % (name, entry[2]) for name, entry in TABLE.items() if entry[1] == keyword]
    return "".join(lines)


def group_help(word: str) -> str | None:
    for keyword, title in GROUPS.items():
        if word in (keyword, title):
            return _group_block(keyword)
    return None


def groups_overview() -> str:
    return "Grouped commands:\n\n" + "".join(_group_block(k) + "\n" for k in GROUPS)
