"""Deferred standard-library imports for start-up time.

click imports `inspect` at module level but uses it only inside functions
(help formatting, decorators). `inspect` drags in ast, dis, tokenize and
friends: about 15 ms. One-shot commands no longer import click at all; the
bash/zsh/fish completion answers do (pyvirsh.clicktree, pyvirsh.shellscripts),
one process per TAB. Before click is imported, a stand-in module is put in
sys.modules; the first attribute read imports the real module and every later
read goes straight to it.

importlib.util.LazyLoader does not help here: the import system reads
`__spec__` of a module found in sys.modules, which makes a LazyLoader module
load at the very `import inspect` statement.
"""

from __future__ import annotations

import sys
import types


class _Deferred(types.ModuleType):
    def __getattr__(self, attr):
        real = sys.modules.get(self.__name__)
        if real is self or real is None:
            del sys.modules[self.__name__]
            __import__(self.__name__)
            real = sys.modules[self.__name__]
        return getattr(real, attr)


def defer(*names: str) -> None:
    """Stand in for modules not imported yet; a no-op for those already loaded."""
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = _Deferred(name)
