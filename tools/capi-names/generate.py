"""Generate ftaudit/facts/capi_names.json: which Py*/_Py* names each CPython version's public headers declare.

    python tools/capi-names/generate.py                 # download the pinned sources (Debian), write the table
    python tools/capi-names/generate.py --check         # regenerate and compare with the shipped table
    python tools/capi-names/generate.py --tarball 3.13=/path/Python-3.13.5.tar.xz   # offline
    python tools/capi-names/generate.py --include 3.13=/usr/include/python3.13      # an installed interpreter

Sources are pinned in tools/capi-names/sources.toml (Debian source package, tarball name, sha256); a
tarball whose sha256 differs is refused. A version with no pin, or whose tarball cannot be had, is an
explicit "unknown" row. Downloads go to ${FTAUDIT_CACHE:-~/.cache/ftaudit}/capi-names, outside the
repository. Only headers are read from the archives; nothing in them is run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from ftaudit.facts.capi_names import TABLE, names_in_headers  # noqa: E402

VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
CACHE = Path(os.environ.get("FTAUDIT_CACHE", Path.home() / ".cache" / "ftaudit")) / "capi-names"
MAX_HEADER = 4 * 1024 * 1024


def sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def download(pin: dict[str, str]) -> Path | None:
    """The pinned .orig tarball, from the cache or Debian's source archive (apt-get source --download-only)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / pin["tarball"]
    if target.is_file() and sha256(target) == pin["sha256"]:
        return target
    with tempfile.TemporaryDirectory() as work:
        lists = Path(work) / "lists"
        (lists / "partial").mkdir(parents=True)
        sources = Path(work) / "sources.list"
        sources.write_text("deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                           f"http://deb.debian.org/debian {pin['suite']} main\n")
        options = ["-o", f"Dir::Etc::SourceList={sources}", "-o", "Dir::Etc::SourceParts=/dev/null",
                   "-o", f"Dir::State::Lists={lists}", "-o", "Debug::NoLocking=1"]
        try:
            subprocess.run(["apt-get", *options, "update", "-qq"], check=True, capture_output=True, timeout=600)
            subprocess.run(["apt-get", *options, "source", "--download-only", pin["package"]], check=True,
                           capture_output=True, timeout=1800, cwd=work)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"capi-names: {pin['package']}: cannot download ({exc})", file=sys.stderr)
            return None
        fetched = Path(work) / pin["tarball"]
        if not fetched.is_file():
            print(f"capi-names: {pin['package']}: no {pin['tarball']} in the source package", file=sys.stderr)
            return None
        fetched.replace(target)
    return target


def headers_of_tarball(path: Path) -> list[tuple[str, str]]:
    """(path below Include/, text) of each public header; members are read, never extracted to disk."""
    found = []
    with tarfile.open(path) as archive:
        for member in archive:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) < 3 or parts[1] != "Include" or not member.name.endswith(".h"):
                continue
            if member.size > MAX_HEADER:
                continue
            stream = archive.extractfile(member)
            if stream is not None:
                found.append(("/".join(parts[2:]), stream.read().decode("utf-8", "replace")))
    return found


def headers_of_folder(folder: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted(folder.rglob("*.h")):
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_HEADER:
            found.append((path.relative_to(folder).as_posix(), path.read_text(encoding="utf-8", errors="replace")))
    return found


def build(pins: dict[str, dict[str, str]], tarballs: dict[str, Path], includes: dict[str, Path]) -> dict:
    rows: dict[str, object] = {}
    per_version: dict[str, set[str]] = {}
    for version in VERSIONS:
        headers = None
        if version in includes:
            headers = headers_of_folder(includes[version])
            rows[version] = {"source": f"include folder {includes[version].name}"}
        else:
            pin = pins.get(version)
            tarball = tarballs.get(version) or (download(pin) if pin else None)
            if tarball is not None and pin is not None and sha256(tarball) != pin["sha256"]:
                print(f"capi-names: {tarball} does not match the pinned sha256; {version} is unknown", file=sys.stderr)
                tarball = None
            if tarball is not None and pin is not None:
                headers = headers_of_tarball(tarball)
                rows[version] = {"source": pin["package"], "tarball": pin["tarball"], "sha256": pin["sha256"]}
        if not headers:
            rows[version] = "unknown"
            continue
        per_version[version] = names_in_headers(headers)
    names: dict[str, int] = {}
    for index, version in enumerate(VERSIONS):
        for name in per_version.get(version, ()):
            names[name] = names.get(name, 0) | (1 << index)
    return {"generated_by": "tools/capi-names/generate.py", "versions": rows,
            "names": dict(sorted(names.items()))}


def _pairs(values: list[str]) -> dict[str, Path]:
    out = {}
    for value in values:
        version, _, path = value.partition("=")
        out[version] = Path(path)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", action="append", default=[], help="VERSION=PATH of a pinned tarball")
    parser.add_argument("--include", action="append", default=[], help="VERSION=DIR of installed headers")
    parser.add_argument("--check", action="store_true", help="compare with the shipped table, write nothing")
    options = parser.parse_args()
    pins = tomllib.loads((HERE / "sources.toml").read_text())["versions"]
    table = build(pins, _pairs(options.tarball), _pairs(options.include))
    text = json.dumps(table, indent=0, sort_keys=False, separators=(",", ":")) + "\n"
    if options.check:
        same = TABLE.read_text(encoding="utf-8") == text
        print("capi-names: the shipped table is " + ("up to date" if same else "out of date"))
        return 0 if same else 1
    TABLE.write_text(text, encoding="utf-8")
    known = [v for v, row in table["versions"].items() if row != "unknown"]
    print(f"capi-names: wrote {TABLE.relative_to(REPO)}: {len(table['names'])} names; known: {', '.join(known)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
