#!/usr/bin/env python3
"""Ecosystem check: scan a pinned list of real extension sdists with ftaudit and measure it.

The projects are pinned in ``projects.toml`` (name, version, sha256 of the sdist). Each sdist is
downloaded from PyPI through the simple JSON API (never through pip: building an sdist runs its
code), verified against its pin, kept in the cache folder (``~/.cache/ftaudit/ecosystem`` unless
``--cache DIR`` or ``FTAUDIT_ECOSYSTEM_CACHE`` say otherwise) and unpacked there with checks on
every member: nothing absolute, no ``..``, no link leading out, no device files. Nothing from a
project is ever executed.

Each project is then scanned by this checkout's ftaudit in a child process::

    python -P -m ftaudit scan . --isolated --no-cache --output-format json --exit-zero \
        --target-version 3.14t -j 1

(from the project's root, so file names are relative to it; ``-P`` keeps the project's folder off
``sys.path``). The findings go to a JSON-lines results file, one finding a line, each with a stable
``key``: the sha1 of the project, the file, the rule code, the whitespace-normalised text of the
source line the finding starts on and the occurrence number of that tuple, so a key survives
unrelated line shifts between ftaudit versions. The script prints per-project and per-rule counts,
the diff against a baseline (by default the previous run kept in the cache folder), and the
precision of the findings that ``verdicts.toml`` judges.

Usage::

    python tools/ecosystem/check.py                     # everything; diff against the last run
    python tools/ecosystem/check.py --only psutil yappi # some projects (by name or name==version)
    python tools/ecosystem/check.py --no-scan           # report again on the last results
    python tools/ecosystem/check.py --sample 5 --seed 1 # unjudged findings to judge, with context
    python tools/ecosystem/check.py --update-pins       # write sha256/sdist pins from PyPI
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import tomllib
import urllib.request
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

# The intervals SARIF's precision levels are read from (this checkout's ftaudit, which the scans run too).
from ftaudit.facts.precision import WILSON_Z, wilson

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROJECTS_FILE = HERE / "projects.toml"
VERDICTS_FILE = HERE / "verdicts.toml"
DEFAULT_CACHE = Path("~/.cache/ftaudit/ecosystem").expanduser()
SIMPLE_API = "https://pypi.org/simple/{name}/"
SIMPLE_ACCEPT = "application/vnd.pypi.simple.v1+json"
SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")
TARGET_VERSION = "3.14t"

MAX_SDIST_BYTES = 200 * 1024 * 1024  # one download
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024  # one unpacked sdist
MAX_MEMBERS = 100_000
NETWORK_TIMEOUT = 120.0

C_SUFFIXES = frozenset({".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".inc"})
CYTHON_SUFFIXES = frozenset({".pyx", ".pxd", ".pxi"})
RUST_SUFFIXES = frozenset({".rs"})
SEVERITIES = ("error", "warning", "note")
CONTEXT_LINES = 8
META_SUFFIX = ".meta.json"


# -- projects -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    sha256: str
    sdist: str
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def slug(self) -> str:
        """A folder name for this project's unpacked sdist."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.name}-{self.version}")


def normalise_name(name: str) -> str:
    """PEP 503 normalised project name, as the simple API spells it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_projects(path: Path = PROJECTS_FILE) -> list[Project]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    projects: list[Project] = []
    seen: set[str] = set()
    for entry in data.get("project", []):
        name, version = str(entry["name"]), str(entry["version"])
        p = Project(name=name, version=version, sha256=str(entry.get("sha256", "")).lower(),
                    sdist=str(entry.get("sdist", "")), note=str(entry.get("note", "")))
        if p.label in seen:
            raise SystemExit(f"{path}: {p.label} is listed twice")
        seen.add(p.label)
        projects.append(p)
    return projects


def select_projects(projects: list[Project], only: list[str] | None) -> list[Project]:
    if not only:
        return projects
    chosen: list[Project] = []
    for want in only:
        name, _, version = want.partition("==")
        hits = [p for p in projects
                if normalise_name(p.name) == normalise_name(name) and (not version or p.version == version)]
        if not hits:
            raise SystemExit(f"--only {want}: not in {PROJECTS_FILE.name}")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


# -- PyPI -----------------------------------------------------------------------------------------------


def simple_files(name: str) -> list[dict[str, Any]]:
    """The project's files from PyPI's simple JSON API (PEP 691)."""
    request = urllib.request.Request(SIMPLE_API.format(name=normalise_name(name)),
                                     headers={"Accept": SIMPLE_ACCEPT, "User-Agent": "ftaudit-ecosystem-check"})
    with urllib.request.urlopen(request, timeout=NETWORK_TIMEOUT) as response:
        return list(json.load(response).get("files", []))


def sdist_version(filename: str, name: str) -> str | None:
    """The version part of an sdist file name, or None when it is not an sdist of this project."""
    suffix = next((s for s in SDIST_SUFFIXES if filename.lower().endswith(s)), None)
    if suffix is None:
        return None
    stem = filename[: -len(suffix)]
    wanted = normalise_name(name)
    # The name part may use any of - _ . and any case; the version never contains a hyphen
    # (apsw's old "3.8.2-r1" style aside, which we match as a whole below).
    for cut in range(len(stem) - 1, 0, -1):
        if stem[cut] == "-" and normalise_name(stem[:cut]) == wanted:
            return stem[cut + 1:]
    return None


def find_sdist(project: Project, files: list[dict[str, Any]]) -> dict[str, Any]:
    """The PyPI file this project's pin stands for: by sha256 when pinned, else by version."""
    if project.sha256:
        for f in files:
            if f.get("hashes", {}).get("sha256", "").lower() == project.sha256:
                return f
        raise LookupError(f"{project.label}: no file on PyPI has the pinned sha256 {project.sha256}")
    candidates = [f for f in files if sdist_version(f["filename"], project.name) == project.version]
    if project.sdist:
        candidates = [f for f in candidates if f["filename"] == project.sdist]
    if not candidates:
        raise LookupError(f"{project.label}: no sdist of that version on PyPI")
    # Prefer .tar.gz (the standard format) to zip and the rest, and a file not yanked.
    candidates.sort(key=lambda f: (bool(f.get("yanked")), not f["filename"].endswith(".tar.gz")))
    return candidates[0]


def update_pins(path: Path, projects: list[Project]) -> int:
    """Write each selected project's sha256 and sdist file name into projects.toml, in place."""
    text = path.read_text(encoding="utf-8")
    blocks = re.split(r"(?m)^(?=\[\[project\]\]\s*$)", text)
    wanted = {p.label for p in projects}
    changed = failures = 0
    out: list[str] = []
    for block in blocks:
        m_name = re.search(r'(?m)^name\s*=\s*"([^"]*)"', block)
        m_version = re.search(r'(?m)^version\s*=\s*"([^"]*)"', block)
        if not block.startswith("[[project]]") or not m_name or not m_version:
            out.append(block)
            continue
        label = f"{m_name.group(1)}=={m_version.group(1)}"
        if label not in wanted:
            out.append(block)
            continue
        old_sha = re.search(r'(?m)^sha256\s*=\s*"([^"]*)"', block)
        old_sdist = re.search(r'(?m)^sdist\s*=\s*"([^"]*)"', block)
        unpinned = Project(m_name.group(1), m_version.group(1), "", old_sdist.group(1) if old_sdist else "")
        try:
            f = find_sdist(unpinned, simple_files(unpinned.name))
        except (LookupError, OSError, ValueError) as exc:
            print(f"  {label}: {exc}", file=sys.stderr)
            failures += 1
            out.append(block)
            continue
        sha, filename = f["hashes"]["sha256"].lower(), f["filename"]
        if old_sha and old_sha.group(1) and old_sha.group(1).lower() != sha:
            print(f"  {label}: pinned sha256 {old_sha.group(1)} differs from PyPI's {sha}: replaced", file=sys.stderr)
        if (old_sha and old_sha.group(1).lower() == sha) and (old_sdist and old_sdist.group(1) == filename):
            print(f"  {label}: unchanged")
            out.append(block)
            continue
        block = _set_field(block, "sdist", filename, after="version")
        block = _set_field(block, "sha256", sha, after="sdist")
        print(f"  {label}: {filename} {sha}")
        changed += 1
        out.append(block)
    if changed:
        path.write_text("".join(out), encoding="utf-8")
    print(f"{changed} pin(s) written, {failures} failure(s)")
    return 1 if failures else 0


def _set_field(block: str, key: str, value: str, *, after: str) -> str:
    line = f'{key} = "{value}"'
    pattern = re.compile(rf"(?m)^{key}\s*=.*$")
    if pattern.search(block):
        return pattern.sub(line, block, count=1)
    anchor = re.search(rf"(?m)^{after}\s*=.*$", block)
    assert anchor is not None
    return block[: anchor.end()] + "\n" + line + block[anchor.end():]


# -- download and unpack ---------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def download(project: Project, cache: Path) -> Path:
    """The project's sdist in the cache, downloaded and verified against its pin when missing."""
    if not project.sha256:
        raise RuntimeError(f"{project.label}: no sha256 pinned (run with --update-pins)")
    folder = cache / "sdists"
    folder.mkdir(parents=True, exist_ok=True)
    if project.sdist:
        cached = folder / Path(project.sdist).name
        if cached.is_file() and sha256_file(cached) == project.sha256:
            return cached
    info = find_sdist(project, simple_files(project.name))
    filename = Path(info["filename"]).name
    target = folder / filename
    if target.is_file() and sha256_file(target) == project.sha256:
        return target
    return fetch_verified(info["url"], project.sha256, target, label=project.label, max_bytes=MAX_SDIST_BYTES)


def fetch_verified(url: str, sha256: str, target: Path, *, label: str, max_bytes: int) -> Path:
    """``url`` streamed to ``target`` through a temporary file, kept only when its sha256 is ``sha256``."""
    if not url.startswith("https://"):
        raise RuntimeError(f"{label}: refusing a non-https URL {url}")
    h = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".download-", suffix=".part")
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "ftaudit-ecosystem-check"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=NETWORK_TIMEOUT) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                size += len(chunk)
                if size > max_bytes:
                    raise RuntimeError(f"{label}: download larger than {max_bytes} bytes")
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != sha256:
            raise RuntimeError(f"{label}: sha256 mismatch for {target.name}: got {h.hexdigest()}, pinned {sha256}")
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target


def _safe_relative(name: str) -> PurePosixPath | None:
    """The member name as a relative path inside the destination, or None when it would escape."""
    name = name.replace("\\", "/")
    if not name or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return PurePosixPath(*parts)


def _unpack_tar(archive: Path, dest: Path, skipped: list[str]) -> None:
    total = 0
    with tarfile.open(archive, "r:*") as tar:
        members: list[tarfile.TarInfo] = []
        for count, member in enumerate(tar, 1):
            if count > MAX_MEMBERS:
                raise RuntimeError(f"{archive.name}: more than {MAX_MEMBERS} members")
            if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                skipped.append(f"{member.name} (device, fifo or other special file)")
                continue
            if _safe_relative(member.name) is None:
                skipped.append(f"{member.name} (absolute or leaves the folder)")
                continue
            try:
                # The 'data' filter refuses absolute names, '..', links that lead out of dest, and
                # drops set-uid bits and ownership; it is checked member by member so one bad member
                # is skipped instead of failing the whole sdist.
                tarfile.data_filter(member, str(dest))
            except tarfile.FilterError as exc:
                skipped.append(f"{member.name} ({exc})")
                continue
            if member.isfile():
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise RuntimeError(f"{archive.name}: unpacks to more than {MAX_UNPACKED_BYTES} bytes")
            members.append(member)
        tar.extractall(dest, members=members, filter="data")


def _unpack_zip(archive: Path, dest: Path, skipped: list[str]) -> None:
    total = 0
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise RuntimeError(f"{archive.name}: more than {MAX_MEMBERS} members")
        for info in infos:
            rel = _safe_relative(info.filename)
            if rel is None:
                skipped.append(f"{info.filename} (absolute or leaves the folder)")
                continue
            file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip was not made on Unix
            if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
                skipped.append(f"{info.filename} (link or special file)")
                continue
            target = dest.joinpath(*rel.parts)
            if not target.resolve().is_relative_to(root):
                skipped.append(f"{info.filename} (leaves the folder)")
                continue
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise RuntimeError(f"{archive.name}: unpacks to more than {MAX_UNPACKED_BYTES} bytes")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)


def unpack(project: Project, archive: Path, cache: Path) -> Path:
    """The project's unpacked sdist (its root folder), unpacking it into the cache when missing."""
    folder = cache / "src" / project.slug
    marker = folder / ".ftaudit-ecosystem.json"
    if marker.is_file():
        with contextlib.suppress(ValueError, OSError):
            meta = json.loads(marker.read_text(encoding="utf-8"))
            if meta.get("sha256") == project.sha256:
                return folder / meta["root"]
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{project.slug}-"))
    try:
        skipped: list[str] = []
        if archive.name.endswith(".zip"):
            _unpack_zip(archive, tmp, skipped)
        else:
            _unpack_tar(archive, tmp, skipped)
        entries = [e for e in tmp.iterdir()]
        root = entries[0].name if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink() else "."
        meta = {"sha256": project.sha256, "sdist": archive.name, "root": root, "skipped": skipped}
        (tmp / marker.name).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if skipped:
        print(f"  {project.label}: skipped {len(skipped)} unsafe member(s): {'; '.join(skipped[:3])}",
              file=sys.stderr)
    return folder / root


def project_size(root: Path) -> dict[str, int]:
    """Counts of the source files ftaudit cares about, and their lines."""
    size = {"c_files": 0, "c_lines": 0, "cython_files": 0, "py_files": 0, "rust_files": 0}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            suffix = os.path.splitext(fn)[1].lower()
            if suffix in C_SUFFIXES:
                size["c_files"] += 1
                with contextlib.suppress(OSError), open(os.path.join(dirpath, fn), "rb") as f:
                    size["c_lines"] += sum(chunk.count(b"\n") for chunk in iter(lambda f=f: f.read(1 << 20), b""))
            elif suffix in CYTHON_SUFFIXES:
                size["cython_files"] += 1
            elif suffix in (".py", ".pyi"):
                size["py_files"] += 1
            elif suffix in RUST_SUFFIXES:
                size["rust_files"] += 1
    return size


# -- scanning -----------------------------------------------------------------------------------------


@dataclass
class ProjectRun:
    project: Project
    root: Path | None = None
    sdist_bytes: int = 0
    size: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    exit_code: int | None = None
    status: str = "ok"  # ok | timeout | crash | internal-error | download-error | bad-output
    problems: list[str] = field(default_factory=list)  # internal errors, crashes, tracebacks
    diagnostics: list[str] = field(default_factory=list)  # too-complex and the like, from the JSON
    findings: list[dict[str, Any]] = field(default_factory=list)

    def meta(self) -> dict[str, Any]:
        return {"project": self.project.name, "version": self.project.version, "sdist": self.project.sdist,
                "sdist_bytes": self.sdist_bytes, "size": self.size, "seconds": round(self.seconds, 2),
                "exit_code": self.exit_code, "status": self.status, "problems": self.problems,
                "diagnostics": self.diagnostics, "findings": len(self.findings)}


def ftaudit_command(timeout_per_file: float) -> list[str]:
    return [sys.executable, "-P", "-m", "ftaudit", "scan", ".", "--isolated", "--no-cache",
            "--output-format", "json", "--exit-zero", "--target-version", TARGET_VERSION, "-j", "1",
            "--color", "never", "--per-file-timeout", str(timeout_per_file)]


def run_ftaudit(run: ProjectRun, timeout: float, per_file_timeout: float) -> None:
    assert run.root is not None
    env = dict(os.environ, NO_COLOR="1")
    env.pop("FORCE_COLOR", None)
    start = time.monotonic()
    proc = subprocess.Popen(ftaudit_command(per_file_timeout), cwd=run.root, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        run.seconds = time.monotonic() - start
        run.exit_code = None
        run.status = "timeout"
        run.problems.append(f"timed out after {timeout:g} s")
        return
    run.seconds = time.monotonic() - start
    run.exit_code = proc.returncode
    stderr = err.decode("utf-8", "replace")
    lines = stderr.splitlines()
    for line in lines:
        if "internal-error" in line or line.startswith("ftaudit: error:"):
            run.problems.append(line.strip().removeprefix("ftaudit: error: "))
    if "Traceback (most recent call last)" in stderr:
        start = max(i for i, line in enumerate(lines) if line.startswith("Traceback"))
        run.problems.append("traceback: " + " | ".join(line.strip() for line in lines[start:][-12:]))
    if proc.returncode != 0:
        run.status = "internal-error" if proc.returncode == 2 else "crash"
        if not run.problems:
            run.problems.append(f"exit {proc.returncode}: " + " | ".join(lines[-5:]))
    elif any("internal-error" in p or p.startswith("traceback:") for p in run.problems):
        run.status = "internal-error"
    try:
        entries = json.loads(out.decode("utf-8")) if out.strip() else []
    except ValueError as exc:
        run.status = "bad-output" if run.status == "ok" else run.status
        run.problems.append(f"stdout is not JSON: {exc}")
        return
    for entry in entries:
        if entry.get("code") is None:  # a file not analysed in full: too-complex or internal-error
            msg = str(entry.get("message", ""))
            if entry.get("name") == "internal-error":
                run.status = "internal-error"
                if msg not in run.problems:
                    run.problems.append(msg)
            else:
                run.diagnostics.append(msg)
            continue
        run.findings.append(entry)


def _read_lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    return [line.rstrip(b"\r").decode("utf-8", "replace") for line in data.split(b"\n")]


def normalise_line(text: str) -> str:
    return " ".join(text.split())


def make_records(run: ProjectRun) -> list[dict[str, Any]]:
    """The run's findings as results records, each with its stable key."""
    assert run.root is not None
    lines_of: dict[str, list[str]] = {}
    records: list[dict[str, Any]] = []
    occurrences: Counter[tuple[str, str, str]] = Counter()
    entries = sorted(run.findings, key=lambda e: (e["filename"], e["location"]["row"], e["location"]["column"],
                                                  e["code"], e["message"]))
    for e in entries:
        file = PurePosixPath(Path(e["filename"]).as_posix()).as_posix()
        if file.startswith("./"):
            file = file[2:]
        if file not in lines_of:
            lines_of[file] = _read_lines(run.root / file)
        line = int(e["location"]["row"])
        lines = lines_of[file]
        text = normalise_line(lines[line - 1]) if 0 < line <= len(lines) else ""
        ident = (file, e["code"], text)
        occurrences[ident] += 1
        records.append({
            "project": run.project.name, "version": run.project.version, "file": file, "code": e["code"],
            "name": e.get("name", ""), "line": line, "column": int(e["location"]["column"]),
            "severity": e["severity"], "message": e["message"],
            "key": finding_key(run.project, file, e["code"], text, occurrences[ident]),
            "covers": _covered_keys(run.project, file, e, lines),
        })
    return records


# Rules that report the same writes in two shapes: a lazy initialisation (FT202) reports the writes its
# check guards as related locations, where each was an FT201 finding of its own before the group was
# recognised. A judged finding at such a related location is still reported (recall counts it).
FAMILIES = (frozenset({"FT201", "FT202"}),)


def _covered_keys(project: Project, file: str, entry: dict[str, Any], lines: list[str]) -> list[str]:
    """Keys that findings of the same family would have at this finding's related locations (same file)."""
    family = next((f for f in FAMILIES if entry["code"] in f), None)
    if family is None:
        return []
    keys = []
    seen: Counter[str] = Counter()
    for related in entry.get("related") or ():
        if PurePosixPath(Path(related["filename"]).as_posix()).as_posix().removeprefix("./") != file:
            continue
        row = int(related["location"]["row"])
        text = normalise_line(lines[row - 1]) if 0 < row <= len(lines) else ""
        seen[text] += 1
        keys.extend(finding_key(project, file, code, text, seen[text]) for code in sorted(family))
    return keys


def finding_key(project: Project, file: str, code: str, text: str, occurrence: int) -> str:
    raw = "\x00".join((project.label, file, code, text, str(occurrence)))
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


def prepare(project: Project, cache: Path, lock: threading.Lock) -> ProjectRun:
    run = ProjectRun(project)
    try:
        archive = download(project, cache)
        run.sdist_bytes = archive.stat().st_size
        with lock:  # unpacking is cheap; one at a time keeps the messages readable
            run.root = unpack(project, archive, cache)
        run.size = project_size(run.root)
    except (OSError, RuntimeError, LookupError, tarfile.TarError, zipfile.BadZipFile, ValueError) as exc:
        run.status = "download-error"
        run.problems.append(f"{type(exc).__name__}: {exc}")
    return run


def scan_all(projects: list[Project], cache: Path, jobs: int, timeout: float,
             per_file_timeout: float) -> list[ProjectRun]:
    lock = threading.Lock()
    print(f"preparing {len(projects)} project(s) in {cache} ...", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda p: prepare(p, cache, lock), projects))
    todo = [r for r in runs if r.root is not None]
    # Largest first, so a big project does not start last and hold the run up alone.
    todo.sort(key=lambda r: -r.size.get("c_lines", 0))
    done = 0
    print_lock = threading.Lock()

    def one(run: ProjectRun) -> None:
        nonlocal done
        run_ftaudit(run, timeout, per_file_timeout)
        with print_lock:
            done += 1
            extra = f"  [{run.status}]" if run.status != "ok" else ""
            print(f"  [{done}/{len(todo)}] {run.project.label}: {len(run.findings)} finding(s) "
                  f"in {run.seconds:.1f} s{extra}", file=sys.stderr)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, todo))
    return runs


# -- results files ----------------------------------------------------------------------------------


def write_results(path: Path, records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    records = sorted(records, key=lambda r: (r["project"], r["version"], r["file"], r["line"], r["column"],
                                             r["code"], r["key"]))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(tmp, path)
    meta_path = path.with_name(path.name + META_SUFFIX)
    meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def read_results(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    meta_path = path.with_name(path.name + META_SUFFIX)
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        with contextlib.suppress(ValueError):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if "projects" not in meta:  # no sidecar: infer the scanned projects from the findings
        labels = sorted({(r["project"], r["version"]) for r in records})
        meta["projects"] = [{"project": n, "version": v, "status": "ok"} for n, v in labels]
    return records, meta


def label_of(record: dict[str, Any]) -> str:
    return f"{record['project']}=={record['version']}"


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}{'+dirty' if dirty else ''}" if rev else "unknown"


def ftaudit_version() -> str:
    try:
        out = subprocess.run([sys.executable, "-P", "-m", "ftaudit", "version"], capture_output=True, text=True,
                             timeout=60, cwd=REPO).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.removeprefix("ftaudit ").strip() or "unknown"


# -- verdicts and statistics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    key: str
    project: str
    file: str
    line: int
    code: str
    true: bool
    reason: str


def load_verdicts(path: Path) -> dict[str, Verdict]:
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        data = tomllib.load(f)
    verdicts: dict[str, Verdict] = {}
    errors: list[str] = []
    for i, entry in enumerate(data.get("verdict", []), 1):
        missing = [k for k in ("key", "project", "file", "line", "code", "verdict", "reason") if k not in entry]
        value = str(entry.get("verdict", "")).upper()
        if missing:
            errors.append(f"verdict #{i}: missing {', '.join(missing)}")
            continue
        if value not in ("TRUE", "FALSE"):
            errors.append(f"verdict #{i} ({entry['key']}): verdict must be \"TRUE\" or \"FALSE\", not {value!r}")
            continue
        if not str(entry["reason"]).strip() or "\n" in str(entry["reason"]):
            errors.append(f"verdict #{i} ({entry['key']}): reason must be one non-empty line")
            continue
        if entry["key"] in verdicts:
            errors.append(f"verdict #{i}: key {entry['key']} is judged twice")
            continue
        verdicts[entry["key"]] = Verdict(entry["key"], str(entry["project"]), str(entry["file"]), int(entry["line"]),
                                         str(entry["code"]), value == "TRUE", str(entry["reason"]))
    if errors:
        raise SystemExit(f"{path}:\n  " + "\n  ".join(errors))
    return verdicts


def precision_cell(t: int, f: int) -> str:
    n = t + f
    if n == 0:
        return "-"
    lo, hi = wilson(t, n)
    return f"{100 * t / n:5.1f} % [{100 * lo:5.1f}, {100 * hi:5.1f}]"


# -- printing ------------------------------------------------------------------------------------------


def kib(n: int) -> str:
    return f"{n / 1024:,.0f}K" if n < 10 * 1024 * 1024 else f"{n / 1024 / 1024:,.1f}M"


def print_table(rows: list[list[str]], headers: list[str], right: Iterable[int] = ()) -> None:
    right = set(right)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]

    def fmt(row: list[str]) -> str:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                                    strict=False))]
        return "  ".join(cells).rstrip()

    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))


def report_projects(project_meta: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    by_project: dict[str, Counter[str]] = defaultdict(Counter)
    sev: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        by_project[label_of(r)][r["code"]] += 1
        sev[label_of(r)][r["severity"]] += 1
    rows = []
    for m in sorted(project_meta, key=lambda m: (m["project"].lower(), m["version"])):
        label = f"{m['project']}=={m['version']}"
        size = m.get("size") or {}
        codes = by_project.get(label, Counter())
        counts = " ".join(f"{c}:{n}" for c, n in sorted(codes.items()))
        s = sev.get(label, Counter())
        rows.append([label, kib(m.get("sdist_bytes", 0)) if m.get("sdist_bytes") else "?",
                     str(size.get("c_files", "?")), f"{size.get('c_lines', 0) / 1000:.1f}" if size else "?",
                     str(size.get("cython_files", "?")), f"{m.get('seconds', 0):.1f}",
                     str(sum(codes.values())), f"{s['error']}/{s['warning']}/{s['note']}", m.get("status", "ok"),
                     counts])
    print("\n== Per project ==")
    print_table(rows, ["project", "sdist", "C", "kLOC", "pyx", "secs", "total", "E/W/N", "status", "per rule"],
                right=(1, 2, 3, 4, 5, 6))


def report_rules(records: list[dict[str, Any]]) -> None:
    counts: Counter[str] = Counter(r["code"] for r in records)
    projects: dict[str, set[str]] = defaultdict(set)
    severity: dict[str, Counter[str]] = defaultdict(Counter)
    names: dict[str, str] = {}
    for r in records:
        projects[r["code"]].add(r["project"])
        severity[r["code"]][r["severity"]] += 1
        names[r["code"]] = r.get("name", "")
    rows = [[code, names[code], str(counts[code]), str(len(projects[code])),
             ", ".join(f"{s}:{n}" for s, n in sorted(severity[code].items()))] for code in sorted(counts)]
    rows.append(["total", "", str(len(records)), str(len({r["project"] for r in records})), ""])
    print("\n== Per rule ==")
    print_table(rows, ["rule", "name", "findings", "projects", "severity"], right=(2, 3))


def report_problems(project_meta: list[dict[str, Any]]) -> None:
    bad = [m for m in project_meta if m.get("status", "ok") != "ok" or m.get("problems")]
    noted = [m for m in project_meta if any("internal-error" not in d for d in m.get("diagnostics", []))]
    print("\n== Crashes, timeouts, internal errors ==")
    if not bad:
        print("none")
    for m in bad:
        print(f"{m['project']}=={m['version']}: {m.get('status')} (exit {m.get('exit_code')})")
        _print_grouped(m.get("problems", []))
    if noted:
        print("\n== Files not analysed in full (too-complex and other diagnostics) ==")
        for m in noted:
            print(f"{m['project']}=={m['version']}:")
            _print_grouped([d for d in m["diagnostics"] if "internal-error" not in d])


_DIAGNOSTIC = re.compile(r"^(?P<path>.*?): (?P<kind>[a-z-]+)(?: \[(?P<rule>FT\d+)\])?: (?P<msg>.*)$")


def _print_grouped(messages: list[str]) -> None:
    """One line per distinct message (path and rule taken out), with how often and where, and one example."""
    groups: dict[str, list[re.Match[str] | str]] = defaultdict(list)
    for text in dict.fromkeys(t.removeprefix("ftaudit: error: ").removeprefix("ftaudit: warning: ") for t in messages):
        m = _DIAGNOSTIC.match(text)
        groups[f"{m['kind']}: {m['msg']}" if m else text].append(m or text)
    for message, hits in groups.items():
        matches = [h for h in hits if isinstance(h, re.Match)]
        if not matches:
            print(f"    {len(hits)}x {message}")
            continue
        files = sorted({h["path"] for h in matches})
        rules = sorted({h["rule"] for h in matches if h["rule"]})
        where = f"{len(files)} file(s): {', '.join(files[:4])}{', …' if len(files) > 4 else ''}"
        print(f"    {len(hits)}x {message}")
        print(f"        {where}" + (f"; rules {', '.join(rules)}" if rules else ""))
        print(f"        e.g. {matches[0].string}")


def describe(r: dict[str, Any]) -> str:
    return f"{label_of(r)}  {r['file']}:{r['line']}:{r['column']}  {r['code']} [{r['severity']}]  {r['message']}"


def _not_ok(meta: dict[str, Any]) -> set[str]:
    return {f"{m['project']}=={m['version']}" for m in meta.get("projects", []) if m.get("status", "ok") != "ok"}


def report_diff(records: list[dict[str, Any]], scanned: set[str], baseline_path: Path | None,
                baseline: tuple[list[dict[str, Any]], dict[str, Any]] | None, not_ok: set[str]) -> None:
    print("\n== Diff against the baseline ==")
    if baseline is None:
        print("no baseline (first run, or --baseline not found): nothing to compare")
        return
    base_records, base_meta = baseline
    print(f"baseline: {baseline_path} (ftaudit {base_meta.get('ftaudit', '?')}, {base_meta.get('git', '?')}, "
          f"{base_meta.get('finished', '?')})")
    base_scanned = {f"{m['project']}=={m['version']}" for m in base_meta.get("projects", [])}
    compared = scanned & base_scanned
    new_projects = sorted(scanned - base_scanned)
    if new_projects:
        more = f", … ({len(new_projects) - 10} more)" if len(new_projects) > 10 else ""
        shown = ", ".join(new_projects[:10]) + more
        print(f"{len(new_projects)} project(s) not in the baseline, not compared: {shown}")
    cur = {r["key"]: r for r in records if label_of(r) in compared}
    old = {r["key"]: r for r in base_records if label_of(r) in compared}
    added = [cur[k] for k in cur.keys() - old.keys()]
    removed = [old[k] for k in old.keys() - cur.keys()]
    print(f"{len(compared)} project(s) compared: {len(added)} finding(s) added, {len(removed)} removed")
    incomplete = sorted(compared & (not_ok | _not_ok(base_meta)))
    if incomplete:
        print(f"incomplete scans (crash, timeout or internal error) here or in the baseline, so part of their "
              f"diff is an artefact: {', '.join(incomplete)}")
    if not added and not removed:
        return
    per_rule: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_project: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in added:
        per_rule[r["code"]][0] += 1
        per_project[label_of(r)][0] += 1
    for r in removed:
        per_rule[r["code"]][1] += 1
        per_project[label_of(r)][1] += 1
    print_table([[k, f"+{a}", f"-{d}"] for k, (a, d) in sorted(per_rule.items())], ["rule", "added", "removed"],
                right=(1, 2))
    print()
    print_table([[k, f"+{a}", f"-{d}"] for k, (a, d) in sorted(per_project.items())],
                ["project", "added", "removed"], right=(1, 2))
    order = lambda r: (r["code"], label_of(r), r["file"], r["line"])  # noqa: E731
    if added:
        print("\nadded:")
        for r in sorted(added, key=order):
            print(f"  + {describe(r)}")
    if removed:
        print("\nremoved:")
        for r in sorted(removed, key=order):
            print(f"  - {label_of(r)}  {r['file']}:{r['line']}  {r['code']}")


def write_precision(path: Path, records: list[dict[str, Any]], verdicts: dict[str, Verdict],
                    meta: dict[str, Any]) -> None:
    """Per rule: how many of the current findings were judged TRUE and FALSE (unjudged ones left out)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        v = verdicts.get(r["key"])
        if v is not None:
            counts[r["code"]][0 if v.true else 1] += 1
    data = {"source": f"tools/ecosystem/check.py over {len(meta.get('projects', []))} pinned sdists, "
                      f"ftaudit {meta.get('git', '?')}, {meta.get('finished', '?')}",
            "rules": {code: {"true": t, "false": f} for code, (t, f) in sorted(counts.items())}}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(counts)} rules")


def report_precision(records: list[dict[str, Any]], verdicts: dict[str, Verdict], scanned: set[str]) -> None:
    print(f"\n== Precision on judged findings ({VERDICTS_FILE.name}: {len(verdicts)} verdict(s)) ==")
    by_key = {r["key"]: r for r in records}
    covered = {key for r in records for key in r.get("covers", ())}
    groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # TRUE, FALSE, unjudged
    for r in records:
        v = verdicts.get(r["key"])
        slot = 2 if v is None else (0 if v.true else 1)
        for group in (("rule", r["code"]), ("severity", r["severity"]), ("all", "all")):
            groups[group][slot] += 1
    rows = []
    for kind in ("rule", "severity", "all"):
        names = sorted(n for k, n in groups if k == kind)
        if kind == "severity":
            names = [s for s in SEVERITIES if s in names]
        for name in names:
            t, f, u = groups[(kind, name)]
            rows.append([name if kind != "all" else "all findings", str(t), str(f), precision_cell(t, f), str(u)])
    print_table(rows, ["rule / severity", "TRUE", "FALSE", "precision [95 % Wilson]", "unjudged"], right=(1, 2, 4))
    report_stratified(records, verdicts)
    # Recall on judged TRUE: how many findings judged TRUE (in the projects this run scanned) are still found.
    in_scope = [v for v in verdicts.values() if v.true and any(lbl.startswith(v.project + "==") or lbl == v.project
                                                              for lbl in scanned)]
    still = [v for v in in_scope if v.key in by_key or v.key in covered]
    lost = [v for v in in_scope if v.key not in by_key and v.key not in covered]
    if in_scope:
        moved = sum(1 for v in still if v.key not in by_key)
        note = f" ({moved} of them as related locations of a finding of the same family)" if moved else ""
        print(f"\nrecall on judged TRUE: {len(still)}/{len(in_scope)} = {100 * len(still) / len(in_scope):.1f} %{note}")
        for v in sorted(lost, key=lambda v: (v.code, v.project, v.file, v.line)):
            print(f"  lost TRUE: {v.project}  {v.file}:{v.line}  {v.code}  ({v.reason})")
    else:
        print("\nrecall on judged TRUE: no TRUE verdicts for the projects scanned")
    gone_false = [v for v in verdicts.values() if not v.true and v.key not in by_key
                  and any(lbl.startswith(v.project + "==") or lbl == v.project for lbl in scanned)]
    if gone_false:
        print(f"findings judged FALSE that are no longer reported: {len(gone_false)}")


def stratified(counts: dict[str, tuple[int, int, int]]) -> tuple[float, float, float, int, int] | None:
    """Precision of all findings of a severity, estimated from each rule's judged sample weighted by
    how many findings the rule has (a stratified estimate: a rule that fires often counts as often as
    it fires, however many of its findings were judged). ``counts`` maps rule -> (findings, TRUE, FALSE).
    (estimate, low, high, findings covered, findings) with a normal 95 % interval whose per-rule
    variance uses (TRUE + 1) / (judged + 2) and the finite-population correction; None when no rule of
    the severity has a verdict."""
    total = sum(n for n, _, _ in counts.values())
    covered = {rule: c for rule, c in counts.items() if c[1] + c[2]}
    weight = sum(n for n, _, _ in covered.values())
    if not weight:
        return None
    estimate = variance = 0.0
    for n, t, f in covered.values():
        judged = t + f
        share = n / weight
        estimate += share * t / judged
        p = (t + 1) / (judged + 2)
        correction = (n - judged) / (n - 1) if n > 1 else 0.0
        variance += share * share * p * (1 - p) / judged * max(correction, 0.0)
    half = WILSON_Z * variance ** 0.5
    return estimate, max(0.0, estimate - half), min(1.0, estimate + half), weight, total


def report_stratified(records: list[dict[str, Any]], verdicts: dict[str, Verdict]) -> None:
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for r in records:
        cell = counts[r["severity"]][r["code"]]
        cell[0] += 1
        v = verdicts.get(r["key"])
        if v is not None:
            cell[1 if v.true else 2] += 1
    rows = []
    for severity in [s for s in SEVERITIES if s in counts]:
        result = stratified({rule: (n, t, f) for rule, (n, t, f) in counts[severity].items()})
        if result is None:
            continue
        estimate, low, high, weight, total = result
        rows.append([severity, f"{100 * estimate:5.1f} % [{100 * low:5.1f}, {100 * high:5.1f}]",
                     f"{weight}/{total}"])
    if rows:
        print("\nprecision weighted by each rule's number of findings (stratified estimate):")
        print_table(rows, ["severity", "precision [95 %]", "findings of judged rules"], right=(2,))


# -- sampling for judging ------------------------------------------------------------------------------


def print_sample(records: list[dict[str, Any]], verdicts: dict[str, Verdict], roots: dict[str, Path], n: int,
                 seed: int) -> None:
    unjudged: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["key"] not in verdicts:
            unjudged[r["code"]].append(r)
    rng = random.Random(seed)
    for code in sorted(unjudged):
        pool = sorted(unjudged[code], key=lambda r: r["key"])
        picked = rng.sample(pool, min(n, len(pool)))
        print(f"\n######## {code}: {len(picked)} of {len(pool)} unjudged finding(s) (seed {seed})")
        for r in sorted(picked, key=lambda r: (label_of(r), r["file"], r["line"])):
            print(f"\n=== {describe(r)}")
            root = roots.get(label_of(r))
            lines = _read_lines(root / r["file"]) if root else []
            lo, hi = max(1, r["line"] - CONTEXT_LINES), min(len(lines), r["line"] + CONTEXT_LINES)
            for i in range(lo, hi + 1):
                mark = ">>" if i == r["line"] else "  "
                print(f"{mark}{i:6d} | {lines[i - 1]}")
            if not lines:
                print("   (source not available: unpack it with a scan first)")
            print("[[verdict]]")
            print(f'key = "{r["key"]}"')
            print(f'project = "{label_of(r)}"')
            print(f'file = "{r["file"]}"')
            print(f"line = {r['line']}")
            print(f'code = "{r["code"]}"')
            print('verdict = "?"  # TRUE or FALSE, judged by reading the code')
            print('reason = ""')


# -- main ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", metavar="NAME", help="scan only these projects (NAME or NAME==VERSION)")
    ap.add_argument("--jobs", "-j", type=int, default=1, help="projects scanned at once (default 1)")
    ap.add_argument("--update-pins", action="store_true",
                    help="look the selected projects up on PyPI and write their sdist and sha256 into projects.toml")
    ap.add_argument("--results", type=Path, help="results file to write (or read with --no-scan/--sample); "
                                                 "default: last-run.jsonl in the cache folder")
    ap.add_argument("--baseline", type=Path,
                    help="results file to diff against (default: the previous run kept in the cache folder)")
    ap.add_argument("--no-baseline", action="store_true", help="print no diff")
    ap.add_argument("--cache", type=Path, help="cache folder for sdists, unpacked sources and results "
                                               "(default: $FTAUDIT_ECOSYSTEM_CACHE or ~/.cache/ftaudit/ecosystem)")
    ap.add_argument("--verdicts", type=Path, default=VERDICTS_FILE, help="verdicts file (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per project scan (default %(default)s)")
    ap.add_argument("--per-file-timeout", type=float, default=30.0,
                    help="ftaudit's --per-file-timeout (default %(default)s)")
    ap.add_argument("--no-scan", action="store_true", help="report on an existing results file instead of scanning")
    ap.add_argument("--write-precision", type=Path, metavar="JSON",
                    help="also write each rule's judged TRUE/FALSE counts (ftaudit/facts/measured_precision.json: "
                         "the precision SARIF reports)")
    ap.add_argument("--sample", type=int, metavar="N", help="print up to N unjudged findings per rule to judge")
    ap.add_argument("--seed", type=int, default=0, help="seed for --sample (default %(default)s)")
    return ap.parse_args(argv)


def cache_folder(args: argparse.Namespace) -> Path:
    if args.cache:
        return args.cache.expanduser().resolve()
    env = os.environ.get("FTAUDIT_ECOSYSTEM_CACHE")
    return Path(env).expanduser().resolve() if env else DEFAULT_CACHE


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    projects = load_projects()
    selected = select_projects(projects, args.only)
    if args.update_pins:
        return update_pins(PROJECTS_FILE, selected)
    cache = cache_folder(args)
    cache.mkdir(parents=True, exist_ok=True)
    last_run = cache / "last-run.jsonl"
    verdicts = load_verdicts(args.verdicts)
    selected_labels = {p.label for p in selected}

    if args.sample is not None or args.no_scan:
        source = args.results or last_run
        if not source.is_file():
            raise SystemExit(f"{source}: no results yet; run a scan first")
        records, meta = read_results(source)
        records = [r for r in records if label_of(r) in selected_labels]
        project_meta = [m for m in meta["projects"] if f"{m['project']}=={m['version']}" in selected_labels]
        if args.sample is not None:
            lock = threading.Lock()
            roots: dict[str, Path] = {}
            wanted = {label_of(r) for r in records if r["key"] not in verdicts}
            for p in selected:
                if p.label in wanted:
                    run = prepare(p, cache, lock)
                    if run.root is not None:
                        roots[p.label] = run.root
            print_sample(records, verdicts, roots, args.sample, args.seed)
            return 0
        scanned = {f"{m['project']}=={m['version']}" for m in project_meta}
        print(f"results: {source} (ftaudit {meta.get('ftaudit', '?')}, {meta.get('git', '?')}, "
              f"{meta.get('finished', '?')}, {meta.get('seconds', '?')} s with --jobs {meta.get('jobs', '?')})")
        report_projects(project_meta, records)
        report_rules(records)
        report_problems(project_meta)
        if not args.no_baseline and args.baseline:
            report_diff(records, scanned, args.baseline, read_results(args.baseline), _not_ok(meta))
        report_precision(records, verdicts, scanned)
        if args.write_precision:
            write_precision(args.write_precision, records, verdicts, meta)
        return 0

    baseline_path = None if args.no_baseline else (args.baseline or last_run)
    baseline = None
    if baseline_path is not None:
        if baseline_path.is_file():
            baseline = read_results(baseline_path)
        elif args.baseline:
            raise SystemExit(f"--baseline {args.baseline}: no such file")
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t0 = time.monotonic()
    runs = scan_all(selected, cache, args.jobs, args.timeout, args.per_file_timeout)
    elapsed = time.monotonic() - t0
    records = [rec for run in runs if run.root is not None for rec in make_records(run)]
    meta = {"ftaudit": ftaudit_version(), "git": git_revision(), "target_version": TARGET_VERSION,
            "started": started, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(elapsed, 1),
            "jobs": args.jobs, "projects": [run.meta() for run in runs]}

    # The cache keeps the newest results of every project: a partial run (--only) replaces just its own.
    merged_records, merged_meta = records, meta
    if last_run.is_file() and args.only:
        old_records, old_meta = read_results(last_run)
        merged_records = [r for r in old_records if label_of(r) not in selected_labels] + records
        kept = [m for m in old_meta.get("projects", []) if f"{m['project']}=={m['version']}" not in selected_labels]
        merged_meta = dict(meta, projects=kept + meta["projects"])
    write_results(last_run, merged_records, merged_meta)
    if args.results and args.results.resolve() != last_run.resolve():
        write_results(args.results, records, meta)

    scanned = {run.project.label for run in runs if run.root is not None}
    print(f"ftaudit {meta['ftaudit']} ({meta['git']}), target {TARGET_VERSION}: {len(scanned)} project(s) "
          f"scanned in {elapsed:.0f} s with --jobs {args.jobs}; {len(records)} finding(s)")
    print(f"results: {args.results or last_run}")
    report_projects(meta["projects"], records)
    report_rules(records)
    report_problems(meta["projects"])
    if not args.no_baseline:
        report_diff(records, scanned, baseline_path, baseline, _not_ok(meta))
    report_precision(records, verdicts, scanned)
    failed = [run for run in runs if run.status != "ok"]
    return 2 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into head and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
