"""bash, zsh and fish completion: the scripts, and the answers behind each TAB.

The scripts are click's own shell-completion classes with pyvirsh's engine
behind them (pyvirsh.completion), so TAB in bash, zsh and fish offers what TAB
in pyvirsh's shell offers. Each TAB runs `pyvirsh` once with
_PYVIRSH_COMPLETE set; that path imports no command module and no heavy
library, and talks to no hypervisor process.

bash splits words at ':' (COMP_WORDBREAKS), which breaks click's stock script
after `-c qemu:///system`; pyvirsh's bash script sends the raw line
(COMP_LINE) instead and trims what bash already considers typed.

completions/ holds the generated files; tests/test_completion_scripts.py keeps
them equal to what `pyvirsh completion SHELL` prints.
"""

from __future__ import annotations

import os

from click.shell_completion import BashComplete, CompletionItem, FishComplete, ZshComplete

from .parsing import split_for_completion

COMPLETE_VAR = "_PYVIRSH_COMPLETE"
KNOWN_URIS = ["test:///default", "qemu:///session", "qemu:///system", "qemu:///embed?root="]
GLOBAL_OPTIONS = [("-c", "hypervisor connection URI"), ("--connect", "hypervisor connection URI"),
                  ("-d", "debug level [0-4]"), ("--debug", "debug level [0-4]"),
                  ("-e", "set escape sequence for console"), ("--escape", "set escape sequence for console"),
                  ("-h", "this help"), ("--help", "this help"),
                  ("-k", "keepalive interval in seconds"), ("--keepalive-interval", "keepalive interval"),
                  ("-K", "number of possible missed keepalive messages"),
                  ("--keepalive-count", "number of possible missed keepalive messages"),
                  ("-l", "output logging to file"), ("--log", "output logging to file"),
                  ("-q", "quiet mode"), ("--quiet", "quiet mode"),
                  ("-r", "connect readonly"), ("--readonly", "connect readonly"),
                  ("-t", "print timing information"), ("--timing", "print timing information"),
                  ("-v", "short version"), ("-V", "long version"), ("--version", "version"),
                  ("--json", "print results as JSON"), ("--no-color", "never colour the output")]
_WITH_VALUE = {"-c", "--connect", "-d", "--debug", "-e", "--escape", "-k", "--keepalive-interval", "-K",
               "--keepalive-count", "-l", "--log"}


def complete_argv(args: list[str], incomplete: str) -> list[tuple[str, str]]:
    """Candidates for the word being typed after `pyvirsh ARGS...`."""
    from .completion import complete
    from .session import Session

    uri, readonly = None, False
    i = 0
    while i < len(args):
        word = args[i]
        if word in ("-c", "--connect") and i + 1 < len(args):
            uri = args[i + 1]
        elif word.startswith("--connect="):
            uri = word.split("=", 1)[1]
        elif word.startswith("-c") and len(word) > 2:
            uri = word[2:]
        elif word in ("-r", "--readonly"):
            readonly = True
        elif word == "--":
            i += 1
            break
        elif not word.startswith("-"):
            break
        i += 1 + (word in _WITH_VALUE)
    else:
        if args and args[-1] in ("-c", "--connect"):
            return [(u, "") for u in KNOWN_URIS if u.startswith(incomplete)]
        if incomplete.startswith("-"):
            return [(o, h) for o, h in GLOBAL_OPTIONS if o.startswith(incomplete)]
    ctl = Session(uri, readonly=readonly)
    try:
        return complete(ctl, args[i:], incomplete)
    finally:
        try:
            ctl.close()
        except Exception:       # noqa: BLE001 - completion stays silent
            pass


class _EngineMixin:
    def get_completions(self, args, incomplete):
        return [CompletionItem(value, help=help_text or None) for value, help_text in complete_argv(args, incomplete)]


class PyvirshBash(_EngineMixin, BashComplete):
    name = "bash"
    source_template = r"""# bash completion for %(prog_name)s (generated: pyvirsh completion bash)
%(complete_func)s() {
    local IFS=$'\n'
    local line="${COMP_LINE:0:COMP_POINT}"
    local cur="${COMP_WORDS[COMP_CWORD]}"
    # bash split the typed word at ':' (COMP_WORDBREAKS); answers replace only its last part.
    local typed="${line##*[[:space:]]}"
    local prefix="${typed%%"$cur"}"
    local value
    COMPREPLY=()
    for value in $(env COMP_LINE="$line" %(complete_var)s=bash_complete "$1" 2>/dev/null); do
        COMPREPLY+=("${value#"$prefix"}")
    done
    return 0
}
complete -o nosort -F %(complete_func)s %(prog_name)s
"""

    def get_completion_args(self):
        line = os.environ.get("COMP_LINE", "")
        words, incomplete, _ = split_for_completion(line)
        return words[1:], incomplete

    def format_completion(self, item):
        return item.value


class PyvirshZsh(_EngineMixin, ZshComplete):
    name = "zsh"


class PyvirshFish(_EngineMixin, FishComplete):
    name = "fish"
    # Answers are 'value<TAB>help' lines: fish shows the help beside each value, and values
    # may hold commas (paths), which click's stock 'type,value' format would cut.
    source_template = """# fish completion for %(prog_name)s (generated: pyvirsh completion fish)
function %(complete_func)s
    env %(complete_var)s=fish_complete COMP_WORDS=(commandline -cp) COMP_CWORD=(commandline -t) \\
        %(prog_name)s 2>/dev/null
end
complete --no-files --command %(prog_name)s --arguments "(%(complete_func)s)"
"""

    def format_completion(self, item):
        return "%s\t%s" % (item.value, item.help) if item.help else item.value


SHELLS = {"bash": PyvirshBash, "zsh": PyvirshZsh, "fish": PyvirshFish}


def script(shell: str) -> str:
    from .cli import root
    cls = SHELLS[shell]
    return cls(root, {}, "pyvirsh", COMPLETE_VAR).source()


def answer(instruction: str) -> str:
    """Run one completion request (the _PYVIRSH_COMPLETE protocol); '' if unknown."""
    from .cli import root
    shell, _, kind = instruction.partition("_")
    cls = SHELLS.get(shell)
    if cls is None or kind != "complete":
        return ""
    return cls(root, {}, "pyvirsh", COMPLETE_VAR).complete()
