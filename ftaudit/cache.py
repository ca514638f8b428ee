"""Per-file result cache (like ruff's `.ruff_cache`): unchanged files are not analysed again.

A file's results depend only on its bytes, its display path, the rules run on it with their
options, the target, and ftaudit itself; the key covers all of them.

The scanned repository is untrusted, so the cache can neither run code nor hide a finding:

* entries are data only (JSON, decoded into an allow-list of ftaudit's own result classes), never
  pickles;
* each entry carries an HMAC made with a per-user secret (``secret`` in the user's cache folder,
  mode 0600), so an entry that a repository commits, or that anyone but this user wrote, fails the
  check and is analysed afresh;
* the default folder is in the user's cache folder (``$XDG_CACHE_HOME/ftaudit/results/<project>``),
  outside the scanned tree; a folder the user configures inside it is never followed through a
  symlink (the folder, and every part of its path below the project root, must be a real folder);
* an entry that fails to decode, or is larger than any result could be, is dropped and rewritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import hmac
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

CACHE_DIR_NAME = ".ftaudit_cache"  # excluded from discovery when a user keeps one in the tree
_FORMAT = 2
_MAX_ENTRY_BYTES = 64 * 1024 * 1024
_SECRET_NAME = "secret"


class CacheUnavailable(Exception):
    """The cache cannot be used safely here (the message says why); the scan runs without it."""


def user_cache_root() -> Path:
    """The per-user cache folder: $FTAUDIT_CACHE_HOME, else $XDG_CACHE_HOME/ftaudit, else ~/.cache/ftaudit."""
    explicit = os.environ.get("FTAUDIT_CACHE_HOME")
    if explicit:
        return Path(explicit).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base).absolute() / "ftaudit"


def default_dir(project_root: Path) -> Path:
    """Where a project's results live by default: one folder per project path, outside the tree."""
    digest = hashlib.sha256(os.fsencode(project_root.resolve())).hexdigest()[:16]
    return user_cache_root() / "results" / f"{project_root.resolve().name[:40]}-{digest}"


def code_salt() -> str:
    """A fingerprint of the installed ftaudit, its built-in rules and its plugins' code."""
    import ftaudit
    from ftaudit.registry import load_registry

    digest = hashlib.sha256(f"{ftaudit.__version__}/{_FORMAT}".encode())
    roots = {Path(ftaudit.__file__).parent}
    registry = load_registry()
    for rule in registry.rules.values():
        module_file = getattr(__import__(rule.__module__, fromlist=["_"]), "__file__", None)
        if module_file:
            roots.add(Path(module_file).parent)
    for root in sorted(roots):
        for path in sorted(root.rglob("*.py")):
            info = path.stat()
            digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


# -- the folder ----------------------------------------------------------------------------------
def _real_folder(path: Path) -> None:
    """Create ``path`` as a real folder, or check that it is one; never follow a symlink."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        with contextlib.suppress(FileExistsError):  # created meanwhile by another ftaudit: checked below
            os.mkdir(path, 0o700)
        info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise CacheUnavailable(f"{path} is a symlink; ftaudit does not follow it for its cache")
    if not stat.S_ISDIR(info.st_mode):
        raise CacheUnavailable(f"{path} is not a folder")


def _make_folders(directory: Path, trusted: Path) -> None:
    """Create ``directory``; every part of its path below ``trusted`` must be a real folder.
    Above ``trusted`` (the user's own home, /tmp) the system's layout is taken as it is."""
    directory = Path(os.path.abspath(directory))
    trusted = Path(os.path.abspath(trusted))
    if directory != trusted and trusted not in directory.parents:
        trusted = directory.parent
    trusted.mkdir(parents=True, exist_ok=True)
    current = trusted
    for part in directory.relative_to(trusted).parts:
        current = current / part
        _real_folder(current)
    if directory == trusted:
        _real_folder(directory)


def _create_exclusive(path: Path, text: str) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        handle = os.open(path, flags, 0o600)
    except FileExistsError:
        return
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)


def prepare(directory: Path, project_root: Path) -> Path:
    """Create the cache folder, marked so git, backup tools and ftaudit's own walk skip it.

    ``project_root`` bounds the no-symlink check for a folder kept inside the project; a folder
    elsewhere is checked from its parent down. Raises CacheUnavailable (and OSError) when unsafe.
    """
    root = Path(os.path.abspath(project_root))
    inside = Path(os.path.abspath(directory)) == root or root in Path(os.path.abspath(directory)).parents
    _make_folders(directory, root if inside else user_cache_root().parent)
    _create_exclusive(directory / ".gitignore", "# Created by ftaudit: a cache, safe to delete.\n*\n")
    _create_exclusive(directory / "CACHEDIR.TAG",
                      "Signature: 8a477f597d28d172789f06886806bc55\n# ftaudit result cache\n")
    return directory


def user_secret() -> bytes:
    """This user's key for the entries' HMACs, created once (0600) in the user's cache folder."""
    root = user_cache_root()
    _make_folders(root, root.parent)
    path = root / _SECRET_NAME
    _create_exclusive(path, os.urandom(32).hex())
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(handle, encoding="ascii") as stream:
        info = os.fstat(stream.fileno())
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
            raise CacheUnavailable(f"{path} is not private to this user; the cache is off")
        secret = bytes.fromhex(stream.read().strip())
    if len(secret) < 16:
        raise CacheUnavailable(f"{path} is not a valid key; delete it to make a new one")
    return secret


# -- entries -------------------------------------------------------------------------------------
def key(data: bytes, *parts: Any) -> str:
    digest = hashlib.sha256(data)
    digest.update(repr(parts).encode())
    return digest.hexdigest()


def _entry(directory: Path, path: Path) -> Path:
    return directory / (hashlib.sha256(os.fsencode(path)).hexdigest()[:40] + ".json")


def load(directory: Path, path: Path, wanted: str, secret: bytes) -> Any | None:
    """The cached result for ``path`` if an authentic entry with key ``wanted`` is there, else None."""
    try:
        handle = os.open(_entry(directory, path), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(handle, "rb") as stream:
            if os.fstat(stream.fileno()).st_size > _MAX_ENTRY_BYTES:
                return None
            blob = stream.read(_MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    mac, _, body = blob.partition(b"\n")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        stored_key, value = json.loads(body, object_hook=_decode)
    except (ValueError, TypeError, KeyError, RecursionError):
        return None  # undecodable: analysed again, and the entry rewritten
    return value if stored_key == wanted else None


def store(directory: Path, path: Path, wanted: str, value: Any, secret: bytes) -> None:
    try:
        body = json.dumps([wanted, _plain(value)], separators=(",", ":")).encode("ascii")
    except (TypeError, ValueError, RecursionError):
        return  # a value the cache cannot represent only costs time
    mac = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(mac + b"\n" + body)
        os.replace(temporary, _entry(directory, path))
    except OSError:
        pass  # a cache that cannot be written only costs time


# -- the data-only codec -------------------------------------------------------------------------
# Only these classes come back out of an entry; anything else fails to decode.
def _known_classes() -> dict[str, type]:
    from ftaudit.engine import FileResult
    from ftaudit.findings import (
        Applicability,
        Diagnostic,
        DiagnosticKind,
        Edit,
        Finding,
        Fix,
        Position,
        RelatedLocation,
        Severity,
    )
    from ftaudit.registry import load_registry
    from ftaudit.summaries import summary_types
    from ftaudit.suppress import Suppression

    load_registry()  # the rules register their summary classes as they are imported
    classes: list[type] = [FileResult, Finding, Position, Edit, Fix, RelatedLocation, Diagnostic, Suppression,
                           Severity, Applicability, DiagnosticKind]
    return {**summary_types(), **{cls.__name__: cls for cls in classes}}


_CLASSES: dict[str, type] = {}


def _classes() -> dict[str, type]:
    if not _CLASSES:
        _CLASSES.update(_known_classes())
    return _CLASSES


def _plain(value: Any) -> Any:
    """``value`` as JSON-native data, tagged where JSON alone would lose what it was."""
    if isinstance(value, enum.Enum):  # before int: Severity is an IntEnum
        return {"$e": type(value).__name__, "v": value.value}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _plain(v) for k, v in value.items()}
        return {"$m": [[_plain(k), _plain(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"$d": type(value).__name__,
                "f": {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}}
    if isinstance(value, tuple):
        return {"$t": [_plain(item) for item in value]}
    if isinstance(value, (set, frozenset)):
        return {"$s": [_plain(item) for item in sorted(value, key=repr)]}
    if isinstance(value, Path):
        return {"$p": str(value)}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if "$t" in obj:
        return tuple(obj["$t"])
    if "$s" in obj:
        return set(obj["$s"])
    if "$p" in obj:
        return Path(obj["$p"])
    if "$m" in obj:
        return {k: v for k, v in obj["$m"]}
    if "$e" in obj:
        cls = _classes()[obj["$e"]]
        if not issubclass(cls, enum.Enum):
            raise TypeError(obj["$e"])
        return cls(obj["v"])
    if "$d" in obj:
        cls = _classes()[obj["$d"]]
        if not dataclasses.is_dataclass(cls):
            raise TypeError(obj["$d"])
        return cls(**obj["f"])
    return obj
