"""virsh's command language: the command-string tokenizer and option binding.

Both follow virsh 9.0 (tools/vsh.c) rule for rule, because scripts depend on
the exact behaviour: ';' and newline end a command, quotes and backslashes work
as in sh, a word *starting* with '#' comments out the rest of the line, and
every non-boolean option can also be given positionally in declaration order
unless it is marked "named only". The whole input is bound before anything
runs, so a parse error anywhere runs nothing.

This module knows options only through :class:`OptSpec` records; the click
command tree provides them (see pyvirsh.declare).
"""

from __future__ import annotations


class ParseError(Exception):
    """A syntax error: virsh prints each message as 'error: <message>' and runs nothing
    (several messages when more than one required option is missing)."""

    @property
    def messages(self) -> list[str]:
        return [str(a) for a in self.args]

    def __str__(self) -> str:
        return "\n".join(self.messages)


class OptType:
    """virsh's option types (plain strings: compared with `is`, cheap to create)."""
    BOOL = "bool"        # --name
    STRING = "string"    # --name <string>, optional
    INT = "int"          # --name <number>
    DATA = "data"        # [--name] <string>, normally required
    ARGV = "argv"        # soaks up the remaining bare words
    ALIAS = "alias"      # hidden other name, possibly with a built-in value


class OptSpec:
    """One option as virsh declares it."""

    __slots__ = ("name", "type", "help", "required", "named_only", "alias_of")

    def __init__(self, name: str, type: str, help: str = "", required: bool = False,
                 named_only: bool = False, alias_of: str = ""):
        self.name = name
        self.type = type
        self.help = help
        self.required = required
        self.named_only = named_only      # virsh's VSH_OFLAG_REQ_OPT: never bound positionally
        self.alias_of = alias_of          # for ALIAS: "target" or "target=value"


class BoundCommand:
    """A command with its options bound: what runs later."""

    __slots__ = ("name", "values")

    def __init__(self, name: str, values: dict | None = None):
        self.name = name
        self.values = values if values is not None else {}   # option -> str | True | list[str]


# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------

ARG, END_OF_COMMAND, END = "arg", "eoc", "end"


class StringTokenizer:
    """Splits a command string into words, reporting command ends (vshCommandStringGetArg)."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def next(self) -> tuple[str, str | None]:
        text, n = self.text, len(self.text)
        p = self.pos
        while p < n and (text[p] in " \t" or (text[p] == "\\" and p + 1 < n and text[p + 1] == "\n")):
            p += 2 if text[p] == "\\" else 1
        if p >= n:
            self.pos = p
            return END, None
        if text[p] in ";\n":
            self.pos = p + 1
            return END_OF_COMMAND, None
        if text[p] == "#":
            # A word starting with '#' comments out the rest of the line.
            nl = text.find("\n", p)
            self.pos = n if nl < 0 else nl + 1
            return END_OF_COMMAND, None

        out = []
        single = double = False
        while p < n:
            ch = text[p]
            if not single and not double and ch in " \t;\n":
                break
            if not double and ch == "'":
                single = not single
                p += 1
                continue
            if not single and ch == "\\":
                p += 1
                if p >= n:
                    raise ParseError("dangling \\")
                if text[p] == "\n":       # backslash-newline is elided entirely
                    p += 1
                    continue
                ch = text[p]
            elif not single and ch == '"':
                double = not double
                p += 1
                continue
            out.append(ch)
            p += 1
        if double:
            raise ParseError('missing "')
        # An unterminated single quote is accepted silently, as in virsh.
        self.pos = p
        return ARG, "".join(out)


class ArgvTokenizer:
    """argv form: each process argument is one word, used as it is."""

    def __init__(self, words: list[str]):
        self.words = list(words)
        self.pos = 0

    def next(self) -> tuple[str, str | None]:
        if self.pos >= len(self.words):
            return END, None
        word = self.words[self.pos]
        self.pos += 1
        return ARG, word


# --------------------------------------------------------------------------
# Option binding
# --------------------------------------------------------------------------

class CommandTable:
    """What the binder needs to know about commands (implemented by the CLI)."""

    def options(self, command: str) -> list[OptSpec] | None:
        """The command's options in declaration order, or None if there is no such command."""
        raise NotImplementedError


def positional_slots(specs: list[OptSpec]) -> list[int]:
    """Indexes of options that bare words fill, in order (vshCmddefOptParse)."""
    slots = []
    for i, spec in enumerate(specs):
        if spec.type in (OptType.BOOL, OptType.ALIAS) or spec.named_only:
            continue
        slots.append(i)
    return slots


def option_names(specs: list[OptSpec]) -> dict[str, int]:
    """Each option's index by name, hidden aliases included: find_option's lookup table."""
    return {spec.name: i for i, spec in enumerate(specs)}


def is_option_word(word: str) -> bool:
    """Whether a word names an option (--name or --name=value); '--' alone does not."""
    return word.startswith("--") and len(word) > 2 and word[2].isascii() and word[2].isalnum()


def find_option(command: str, specs: list[OptSpec], by_name: dict[str, int], name: str,
                value: str | None, report: bool = True) -> tuple[int, str | None]:
    """Resolve --name (following aliases) to an option index (vshCmddefGetOption).

    by_name is option_names(specs). An unknown name gives index -1 for 'help' or
    when report is false, and raises ParseError otherwise; '=' after an alias
    that has a built-in value always raises.
    """
    i = by_name.get(name)
    if i is not None and specs[i].type is OptType.ALIAS:
        target, eq, builtin = specs[i].alias_of.partition("=")
        if eq:
            if value is not None:
                raise ParseError("invalid '=' after option --%s" % name)
            value = builtin
        i = by_name.get(target)
    if i is None:
        if command == "help" or not report:
            return -1, value
        raise ParseError("command '%s' doesn't support option --%s" % (command, name))
    return i, value


def bind(tokenizer, table: CommandTable) -> list[BoundCommand]:
    """Parse every command of the input; raise ParseError on the first syntax error."""
    commands: list[BoundCommand] = []
    while True:
        kind, cmd = _bind_one(tokenizer, table)
        if cmd is not None:
            commands.append(cmd)
        if kind == END:
            return commands


def _bind_one(tokenizer, table: CommandTable):
    binding = None
    while True:
        kind, word = tokenizer.next()
        if kind != ARG:
            break
        if binding is not None:
            binding.feed(word)
            continue
        if word.startswith("#"):
            # A quoted or argv word starting with '#' in command position is a comment too.
            while kind == ARG:
                kind, word = tokenizer.next()
            break
        specs = table.options(word)
        if specs is None:
            raise ParseError("unknown command: '%s'" % word)
        binding = CommandBinding(word, specs)
    return kind, None if binding is None else binding.finish()


class CommandBinding:
    """One command's words bound to its options, word by word (the loop of vshCmdParse).

    Strict, it raises ParseError as virsh reports the error. Lenient (for TAB
    completion, which binds a command still being typed), a word that would be
    an error is skipped, and the state after the last word is what completion
    reads: the values so far, the options seen, the positional options still
    open, and the option whose value the next word is.
    """

    __slots__ = ("name", "specs", "by_name", "values", "seen", "need", "pending", "data_only",
                 "help_requested", "lenient")

    def __init__(self, name: str, specs: list[OptSpec], lenient: bool = False):
        self.name = name
        self.specs = specs
        self.by_name = option_names(specs)
        self.values: dict = {}
        self.seen: set[int] = set()
        self.need = positional_slots(specs)     # positional options still open, in order (ARGV stays)
        self.pending: int | None = None         # the option whose value is the next word
        self.data_only = False                  # after '--': every word is a value
        self.help_requested = False
        self.lenient = lenient

    def feed(self, word: str) -> None:
        try:
            self._feed(word)
        except ParseError:
            if not self.lenient:
                raise

    def _feed(self, word: str) -> None:
        if self.pending is not None:
            index, self.pending = self.pending, None
            self._store(index, word)
            return

        if not self.data_only and is_option_word(word):
            name, eq, inline = word[2:].partition("=")
            value = inline if eq else None
            if name == "help":
                if eq:
                    raise ParseError("invalid '=' after option --help")
                self.help_requested = True
                return
            index, value = find_option(self.name, self.specs, self.by_name, name, value,
                                       report=not self.lenient)
            if index < 0:
                return             # 'help' ignores options it does not know
            spec = self.specs[index]
            if index in self.seen and spec.type is not OptType.ARGV:
                raise ParseError("option --%s already seen" % spec.name)
            if spec.type is OptType.BOOL:
                if value is not None:
                    raise ParseError("invalid '=' after option --%s" % spec.name)
                self.seen.add(index)
                self.values[spec.name] = True
                return
            self.seen.add(index)
            if value is None:
                self.pending = index
            else:
                self._store(index, value)
            return

        if not self.data_only and word == "--":
            self.data_only = True
            return

        # A bare word fills the first positional option not given yet.
        if not self.need:
            if self.name == "help":
                return
            raise ParseError("unexpected data '%s'" % word)
        index = self.need[0]
        self.seen.add(index)
        self._store(index, word)

    def _store(self, index: int, value: str) -> None:
        spec = self.specs[index]
        store_value(self.values, spec, value)
        if spec.type is not OptType.ARGV and index in self.need:
            self.need.remove(index)

    def finish(self) -> BoundCommand:
        """The bound command at the end of its words; raises ParseError for what is missing."""
        if self.pending is not None:
            spec = self.specs[self.pending]
            raise ParseError("expected syntax: --%s <%s>" % (
                spec.name, "number" if spec.type is OptType.INT else "string"))
        if self.help_requested:
            # '--help' anywhere turns the command into 'help <command>'.
            return BoundCommand("help", {"command": self.name})
        # virsh names every required option that is missing, one line each.
        missing = [("command '%s' requires <%s> option" if spec.type in (OptType.DATA, OptType.ARGV)
                    else "command '%s' requires --%s option") % (self.name, spec.name)
                   for i, spec in enumerate(self.specs) if spec.required and i not in self.seen]
        if missing:
            raise ParseError(*missing)
        return BoundCommand(self.name, self.values)


def store_value(values: dict, spec: OptSpec, value: str) -> None:
    """Record an option's value: argv options collect a list, others keep one string."""
    if spec.type is OptType.ARGV:
        values.setdefault(spec.name, []).append(value)
    else:
        values[spec.name] = value


def split_for_completion(text: str) -> tuple[list[str], str, int]:
    """The current command's words before the cursor, the word being typed, and
    how many characters of the line that word spans (for replacing it)."""
    tok = StringTokenizer(text)
    words: list[tuple[str, int]] = []
    while True:
        start = tok.pos
        try:
            kind, word = tok.next()
        except ParseError:
            # An open quote: the rest of the line is the word being typed.
            rest = text[start:].lstrip(" \t")
            return [w for w, _ in words], rest.lstrip("'\""), len(rest)
        if kind == END:
            break
        if kind == END_OF_COMMAND:
            words = []
            continue
        words.append((word, tok.pos))
    if not words or text[-1:] in (" ", "\t") or words[-1][1] != len(text):
        return [w for w, _ in words], "", 0
    last, end = words[-1]
    raw_start = end
    while raw_start > 0 and text[raw_start - 1] not in " \t;\n":
        raw_start -= 1
    return [w for w, _ in words[:-1]], last, end - raw_start
