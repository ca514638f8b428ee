"""Every write of a user's file goes through here: fixes, suppression comments, baselines, reports.

A write never loses a byte: the new contents go to an unpredictable temporary file created
exclusively in the same folder (``O_EXCL``, and ``O_NOFOLLOW`` where the system has it, so a planted
symlink cannot redirect it), are flushed to disk, get the old file's mode, and replace the file in
one ``os.replace``. A kill at any moment leaves either the old file or the new one, never a
truncated mix. Files the user protected are refused rather than silently altered: a read-only file,
one with several hard links (a replace would split them), and, when a boundary is given, anything
whose real path lies outside it.

The guarantees that rest on ``O_NOFOLLOW`` and on ``rename`` replacing atomically hold on POSIX
systems; on Windows the replace is atomic per file on the same volume but links are not checked.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ftaudit.discover import within


class WriteRefused(Exception):
    """The file was left as it was; the message says why (shown to the user as is)."""


def existing_target(path: Path, roots: Iterable[Path] | None = None) -> Path:
    """The real file a write to ``path`` must replace: an in-tree symlink's target, not the link.

    Raises WriteRefused for what must not be rewritten: a path leading out of ``roots``, a file that
    is read-only, one with several hard links, or anything that is not a regular file.
    """
    real = path.resolve()
    if roots is not None and not within(real, [r.resolve() for r in roots]):
        raise WriteRefused(f"{path} leads outside the scanned tree (to {real}); not written")
    try:
        info = os.stat(real)
    except OSError as exc:
        raise WriteRefused(f"{path}: cannot stat: {exc.strerror or exc}; not written") from None
    if not stat.S_ISREG(info.st_mode):
        raise WriteRefused(f"{path} is not a regular file; not written")
    if not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(real, os.W_OK):
        raise WriteRefused(f"{path} is read-only; not written (make it writable to let ftaudit change it)")
    if info.st_nlink > 1:
        raise WriteRefused(f"{path} has {info.st_nlink} hard links and replacing it would split them; not written")
    return real


def replace_file(path: Path, data: bytes, roots: Iterable[Path] | None = None) -> None:
    """Replace an existing user file's contents with ``data`` atomically (see the module docstring)."""
    real = existing_target(path, roots)
    _atomic_write(real, data, os.stat(real).st_mode & 0o7777)


def write_new(path: Path, data: bytes) -> None:
    """Write an output file the user named (a report, a baseline): atomically, never through a symlink
    planted at a temporary name; an existing file keeps its mode, a new one gets the umask's."""
    real = path.resolve()
    try:
        info = os.stat(real)
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise WriteRefused(f"{path}: cannot stat: {exc.strerror or exc}") from None
    else:
        if not stat.S_ISREG(info.st_mode):
            raise WriteRefused(f"{path} is not a regular file; not written")
        mode = info.st_mode & 0o7777
    _atomic_write(real, data, mode)


def _atomic_write(real: Path, data: bytes, mode: int | None) -> None:
    folder = real.parent
    try:
        # mkstemp opens with O_CREAT | O_EXCL (and O_NOFOLLOW where defined) under a random name.
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{real.name}.", suffix=".ftaudit-tmp")
    except OSError as exc:
        raise WriteRefused(f"{real}: cannot create a temporary file in {folder}: {exc.strerror or exc}; "
                           "not written") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
            if mode is None:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            if hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), mode)
            else:
                os.chmod(temporary, mode)
        os.replace(temporary, real)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise WriteRefused(f"{real}: cannot write: {exc.strerror or exc}; left as it was") from None
        raise
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); best effort elsewhere."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        handle = os.open(folder, flags)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
