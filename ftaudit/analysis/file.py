"""What rules read of a file's analyses: ``FileContext.analyses``, one typed entry per analysis.

Each entry is computed on first use and shared by every rule of the file (``ftaudit.analysis.memo``);
an entry is None when the file has nothing to analyse for it (a Python file has no reachability).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftaudit.analysis.capi_uses import Use
    from ftaudit.analysis.isolation import Isolation
    from ftaudit.analysis.python_scopes import ScopeFacts
    from ftaudit.analysis.reachability import FileReach
    from ftaudit.analysis.shared_state import SharedState
    from ftaudit.candidate import Candidate
    from ftaudit.context import FileContext


class FileAnalyses:
    def __init__(self, ctx: FileContext) -> None:
        # A weak reference: the context owns this object, and a cycle between them would keep every file's
        # trees alive until the cyclic collector runs (measured: +17 % memory and a slower scan).
        self._ctx: FileContext = weakref.proxy(ctx)
        # A rule's candidates (``RunTimeRule.candidates``), found once for both its check and its summary.
        self.candidates: dict[str, list[Candidate]] = {}

    @property
    def reach(self) -> FileReach | None:
        """Which functions run at run time, at init only, or through exported functions (C/C++)."""
        from ftaudit.analysis.reachability import file_reach

        unit = self._ctx.c_unit
        return file_reach(unit) if unit is not None else None

    @property
    def shared_state(self) -> SharedState | None:
        """The racy writes and lazy initialisations of the file's globals, for the target (C/C++)."""
        from ftaudit.analysis.shared_state import analyse

        unit = self._ctx.c_unit
        return analyse(unit, self._ctx.target) if unit is not None else None

    @property
    def capi_uses(self) -> list[Use]:
        """Every use of a catalogued C API name, field or macro, for the target (C/C++)."""
        from ftaudit.analysis.capi_uses import uses

        unit = self._ctx.c_unit
        return uses(unit, self._ctx.target) if unit is not None else []

    @property
    def isolation(self) -> Isolation | None:
        """What the file's modules declare about sub-interpreters, and what in the file shares Python
        objects between interpreters (C/C++)."""
        from ftaudit.analysis.isolation import analyse

        unit = self._ctx.c_unit
        return analyse(unit, self._ctx.target) if unit is not None else None

    @property
    def python_scopes(self) -> ScopeFacts:
        """What happens to `locals()` snapshots, frame `f_locals`, reference counts and the switch interval, as
        events the FT5xx rules subscribe to (Python; empty for a file that does not parse)."""
        from ftaudit.analysis.python_scopes import ScopeFacts, analyse

        tree = self._ctx.python_ast
        if tree is None:
            return ScopeFacts()
        return analyse(tree, self._ctx.source.text, lambda: self._ctx.python_nodes)
