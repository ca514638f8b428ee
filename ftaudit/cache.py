"""Per-file result cache (like ruff's `.ruff_cache`): unchanged files are not analysed again.

A file's results depend only on its bytes, its display path, the rules run on it with their
options, the target, and ftaudit itself; the key covers all of them. The cache lives in
`.ftaudit_cache/` beside the configuration (its own `.gitignore` keeps it out of git), one small
pickle per source file written atomically, so pool workers never contend.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

CACHE_DIR_NAME = ".ftaudit_cache"
_FORMAT = 1


def code_salt() -> str:
    """A fingerprint of the installed ftaudit, its built-in rules and its plugins' code."""
    import ftaudit
    from ftaudit.registry import load_registry

    digest = hashlib.sha256(f"{ftaudit.__version__}/{_FORMAT}".encode())
    roots = {Path(ftaudit.__file__).parent}
    registry = load_registry()
    for rule in registry.rules.values():
        module = __import__(rule.__module__, fromlist=["_"])
        if getattr(module, "__file__", None):
            roots.add(Path(module.__file__).parent)
    for root in sorted(roots):
        for path in sorted(root.rglob("*.py")):
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def prepare(directory: Path) -> Path:
    """Create the cache folder, marked so git, backup tools and ftaudit's own walk skip it."""
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by ftaudit: a cache, safe to delete.\n*\n", encoding="utf-8")
    tag = directory / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text("Signature: 8a477f597d28d172789f06886806bc55\n# ftaudit result cache\n", encoding="utf-8")
    return directory


def key(data: bytes, *parts: Any) -> str:
    digest = hashlib.sha256(data)
    digest.update(repr(parts).encode())
    return digest.hexdigest()


def _entry(directory: Path, path: Path) -> Path:
    return directory / (hashlib.sha1(str(path).encode()).hexdigest() + ".pickle")


def load(directory: Path, path: Path, wanted: str) -> Any | None:
    try:
        with _entry(directory, path).open("rb") as stream:
            stored_key, value = pickle.load(stream)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError):
        return None
    return value if stored_key == wanted else None


def store(directory: Path, path: Path, wanted: str, value: Any) -> None:
    target = _entry(directory, path)
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump((wanted, value), stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, target)
    except (OSError, pickle.PicklingError):
        pass  # a cache that cannot be written only costs time
