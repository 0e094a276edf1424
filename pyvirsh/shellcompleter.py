"""TAB in the interactive shell: prompt_toolkit's side of pyvirsh.completion."""

from __future__ import annotations

from prompt_toolkit.completion import Completer, Completion

from .completion import complete
from .parsing import split_for_completion


class ShellCompleter(Completer):
    def __init__(self, ctl):
        self.ctl = ctl

    def get_completions(self, document, complete_event):
        words, incomplete, raw_len = split_for_completion(document.text_before_cursor)
        for value, help_text in complete(self.ctl, words, incomplete):
            yield Completion(value, start_position=-raw_len, display_meta=help_text or None)
