"""What the shared Python scope walk (``python_scopes``) finds, as typed events named by what happened.

An event says what the code does — a write through a ``locals()`` snapshot, a reference count compared with a
number — never which rule cares: the rules subscribe to the event types they judge (``ScopeSubscriber`` and
``handles`` in ``python_scopes``) and turn them into findings with their own codes, messages and severities.
Several rules may subscribe to one event type.

Every event has the node where it happens (where a finding is reported), the source text of what is written,
called or compared (``subject``), and the ``sys.version_info`` range the code runs on (``versions``, from the
version tests, early exits and skip decorators around it), which rules compare with ``old_only``/``new_only``.

To add an event: declare a frozen dataclass here, subclassing ``ScopeEvent`` (or a group such as
``FrameLocalsMutation``), named by what happened and carrying only facts about the code; emit it from the walker
in ``python_scopes`` with ``self.emit(...)``; and, if the code it needs does not contain one of the walker's
``TRIGGERS`` words, add one there (files without any of them are not walked).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

Version = tuple[int, int]
# Half-open range [low, high) of CPython minor versions a piece of code can run on.
VersionRange = tuple[Version, Version]
ALL_VERSIONS: VersionRange = ((0, 0), (99, 0))
IMMORTAL_SINCE = (3, 12)  # PEP 683: None, True, small ints, ... keep a fixed reference count
PEP667 = (3, 13)  # locals() snapshots, write-through f_locals proxy, no-op PyFrame_LocalsToFast


def old_only(versions: VersionRange, version: Version = PEP667) -> bool:
    """The code only runs before ``version``."""
    return versions[1] <= version


def new_only(versions: VersionRange, version: Version = PEP667) -> bool:
    """The code only runs on ``version`` or later."""
    return versions[0] >= version


@dataclass(frozen=True, slots=True)
class ScopeEvent:
    """One thing the walk saw happen, at ``node``."""

    node: ast.expr | ast.stmt
    subject: str  # source text of what is written, called or compared
    versions: VersionRange


# -- locals() in optimized scopes (functions, lambdas, comprehensions in them) ---------------------------------

@dataclass(frozen=True, slots=True)
class LocalsWrite(ScopeEvent):
    """A write through a ``locals()``/``vars()`` snapshot: ``locals()[k] = v``, ``ns.update(...)`` on an alias,
    ``ns |= ...``, ``del locals()[k]``."""

    taken_by: str  # the call that took the snapshot: "locals()" or "vars()"
    taken_at: int  # the line where it was taken


@dataclass(frozen=True, slots=True)
class LocalsRefresh(ScopeEvent):
    """A bare ``locals()`` statement in a function, called only for its side effect."""

    snapshot_kept: bool  # the function also keeps a locals() snapshot or f_locals alias the call could refresh


@dataclass(frozen=True, slots=True)
class ExecBindingRead(ScopeEvent):
    """``exec``/``eval`` (``subject``) of a string literal into the implicit ``locals()``, which assigns ``name``,
    read later in the function (as a variable, as ``locals()['name']`` or by a later exec/eval literal)."""

    name: str
    read_at: int  # the line of the first such read


@dataclass(frozen=True, slots=True)
class ExecLocalsKeyRead(ScopeEvent):
    """``exec``/``eval`` (``subject``) of code not known here into the implicit ``locals()``, then a read of
    ``name`` back through a new ``locals()`` (``locals()['name']``, ``locals().get('name')``)."""

    name: str
    read_at: int


# -- frames --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FrameLocalsMutation(ScopeEvent):
    """A change to the ``f_locals`` of an expression known to be a frame."""

    f_locals: str  # source text of the f_locals expression (`frame.f_locals`) or of the name holding it
    taken_at: int  # the line where that f_locals was read
    dunder_keys: bool  # every key it names is a dunder string (`'__return__'`, or a module constant holding one)
    synced: bool  # a locals-to-fast sync of the same frame follows in the function (PyFrame_LocalsToFast,
    #               pydevd's save_locals)


@dataclass(frozen=True, slots=True)
class FrameLocalsWrite(FrameLocalsMutation):
    """An item store or a storing method (``update``, ``setdefault``, ``|=``) on a frame's ``f_locals``."""


@dataclass(frozen=True, slots=True)
class FrameLocalsDelete(FrameLocalsMutation):
    """``del f_locals[k]``, or ``pop``, ``popitem``, ``clear``, ``__delitem__`` on a frame's ``f_locals``."""


@dataclass(frozen=True, slots=True)
class FrameLocalsTypeCheck(ScopeEvent):
    """``isinstance(frame.f_locals, dict)`` or ``type(frame.f_locals) is dict``."""


@dataclass(frozen=True, slots=True)
class CtypesFrameSync(ScopeEvent):
    """A call of ``PyFrame_LocalsToFast``/``PyFrame_FastToLocals``/``PyFrame_FastToLocalsWithError`` through
    ``ctypes.pythonapi`` (``subject`` is the function's name)."""


# -- reference counts ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ImmortalRefcountAsNumber(ScopeEvent):
    """The reference count of an immortal object used as a number: a ``range()`` bound, a repetition count."""

    immortal: str  # source text of the immortal object whose count is read
    read_at: int  # the line of the sys.getrefcount call


@dataclass(frozen=True, slots=True)
class ImmortalRefcountComparison(ScopeEvent):
    """A comparison (or unittest assertion) involving the reference count of an immortal object; a test of
    immortality itself that an ``if`` branches on is not one."""

    immortal: str


@dataclass(frozen=True, slots=True)
class AbsoluteRefcountComparison(ScopeEvent):
    """An absolute reference count (not a difference of two) compared with a literal number."""

    limit: str  # source text of the number
    ceiling: float | None  # its value when it bounds the count from above (`count < 50`, `count <= 2`)


# -- the GIL switch interval ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SwitchIntervalSet(ScopeEvent):
    """A call of ``sys.setswitchinterval(...)``."""

    restores_saved: bool  # it puts back a value getswitchinterval() returned (`old`, `self.old`, the call itself)


@dataclass(frozen=True, slots=True)
class SwitchIntervalGet(ScopeEvent):
    """A call of ``sys.getswitchinterval()``."""

    saved: bool  # its value is assigned to a name or attribute (`old = sys.getswitchinterval()`)
    in_set: bool  # it is part of setswitchinterval's arguments (`setswitchinterval(getswitchinterval() / 10)`)
