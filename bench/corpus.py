#!/usr/bin/env python3
"""Fetch the benchmark's corpus (``bench/corpus.toml``) from package registries, verified by sha256.

CPython's sources come from Debian's archive, the extension sdists from PyPI (through the ecosystem
check's downloader, which finds a pinned file by its sha256 and unpacks it without trusting its member
names). Everything lands in a cache folder (default ``~/.cache/ftaudit/bench``) and is reused.

Usage: ``python bench/corpus.py [--cache DIR]`` prints where the corpus is.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "ecosystem"))

import check as ecosystem  # noqa: E402 - the ecosystem check's verified downloader and safe unpacker

CORPUS_FILE = Path(__file__).with_name("corpus.toml")
MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Corpus:
    cpython: Path  # the unpacked CPython source tree
    c_folders: tuple[Path, ...]
    python_folder: Path
    one_c_file: Path
    one_python_file: Path
    extensions: tuple[Path, ...]  # each unpacked sdist's root


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ftaudit" / "bench"


def fetch_url(url: str, sha256: str, folder: Path) -> Path:
    """``url`` downloaded into ``folder`` (once), verified against ``sha256``."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / url.rsplit("/", 1)[-1]
    if target.is_file() and ecosystem.sha256_file(target) == sha256:
        return target
    return ecosystem.fetch_verified(url, sha256, target, label=url, max_bytes=MAX_DOWNLOAD_BYTES)


def prepare(cache: Path | None = None, *, log=print) -> Corpus:  # type: ignore[no-untyped-def]
    """The corpus, fetched and unpacked into ``cache`` where missing."""
    cache = cache or default_cache()
    spec = tomllib.loads(CORPUS_FILE.read_text(encoding="utf-8"))
    cp = spec["cpython"]
    log(f"corpus: CPython {cp['version']} from {cp['url']}")
    archive = fetch_url(cp["url"], cp["sha256"], cache / "downloads")
    cpython = ecosystem.unpack(ecosystem.Project("cpython", cp["version"], cp["sha256"], archive.name),
                               archive, cache)
    extensions = []
    for entry in spec["extension"]:
        project = ecosystem.Project(entry["name"], entry["version"], entry["sha256"], entry["sdist"])
        log(f"corpus: {project.label} from PyPI")
        extensions.append(ecosystem.unpack(project, ecosystem.download(project, cache), cache))
    return Corpus(cpython, tuple(cpython / f for f in cp["c_folders"]), cpython / cp["python_folder"],
                  cpython / cp["one_c_file"], cpython / cp["one_python_file"], tuple(extensions))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=None, help="where to keep the corpus (default %(default)s)")
    corpus = prepare(ap.parse_args().cache)
    print(corpus.cpython)
    for root in corpus.extensions:
        print(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
