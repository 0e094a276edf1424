"""bash, zsh and fish completion: the scripts, and the answers behind each TAB.

The scripts are click's own shell-completion classes with pyvirsh's engine
behind them (pyvirsh.completion), so TAB in bash, zsh and fish offers what TAB
in pyvirsh's shell offers. Each TAB runs `pyvirsh` once with
_PYVIRSH_COMPLETE set; that path imports click (pyvirsh.clicktree: one-shot
commands do not), at most the one command module the line names, and talks to
no hypervisor process.

bash splits words at ':' (COMP_WORDBREAKS), which breaks click's stock script
after `-c qemu:///system`; pyvirsh's bash script sends the raw line
(COMP_LINE) instead and trims what bash already considers typed.

completions/ holds the generated files; tests/test_completion_scripts.py keeps
them equal to what `pyvirsh completion SHELL` prints.
"""

from __future__ import annotations

import os

from .lazyimport import defer

defer("inspect")        # before click: see pyvirsh/lazyimport.py

from click.shell_completion import BashComplete, CompletionItem, FishComplete, ZshComplete

from .clicktree import root
from .parsing import split_for_completion

COMPLETE_VAR = "_PYVIRSH_COMPLETE"
KNOWN_URIS = ["test:///default", "qemu:///session", "qemu:///system", "qemu:///embed?root="]


def complete_argv(args: list[str], incomplete: str) -> list[tuple[str, str]]:
    """Candidates for the word being typed after `pyvirsh ARGS...`.

    The global options are read by the same parser pyvirsh runs with, so
    `-qc URI`, `--conn=URI` and `--` mean here what they mean there.
    """
    from .completion import complete
    from .globalopts import UsageError, completion_words, read_globals
    from .session import Session

    try:
        opts, first = read_globals(args)
    except UsageError as err:
        if err.missing_argument_of == "connect":
            return [(u, "") for u in KNOWN_URIS if u.startswith(incomplete)]
        return []
    if first == len(args) and incomplete.startswith("-") and "--" not in args:
        return [(o, h) for o, h in completion_words() if o.startswith(incomplete)]
    uri = None
    readonly = False
    for letter, value in opts:
        if letter == "c":
            uri = value
        elif letter == "r":
            readonly = True
    ctl = Session(uri, readonly=readonly)
    try:
        return complete(ctl, args[first:], incomplete)
    finally:
        try:
            ctl.close()
        except Exception:       # noqa: BLE001, S110 - completion stays silent
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
    cls = SHELLS[shell]
    return cls(root, {}, "pyvirsh", COMPLETE_VAR).source()


def answer(instruction: str) -> str:
    """Run one completion request (the _PYVIRSH_COMPLETE protocol); '' if unknown."""
    shell, _, kind = instruction.partition("_")
    cls = SHELLS.get(shell)
    if cls is None or kind != "complete":
        return ""
    return cls(root, {}, "pyvirsh", COMPLETE_VAR).complete()
