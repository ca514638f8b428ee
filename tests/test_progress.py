"""The progress bar: only for people watching a terminal, only once a scan takes a while."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from support import run, write_tree

from ftaudit import progress
from ftaudit.config import Settings
from ftaudit.engine import scan


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_wanted_only_on_a_terminal_for_people(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRE_COMMIT", raising=False)
    terminal = _Terminal()
    assert progress.wanted(machine_format=False, quiet=False, stream=terminal)
    assert not progress.wanted(machine_format=True, quiet=False, stream=terminal)  # JSON, SARIF, …
    assert not progress.wanted(machine_format=False, quiet=True, stream=terminal)
    assert not progress.wanted(machine_format=False, quiet=False, stream=io.StringIO())  # piped, CI logs
    monkeypatch.setenv("PRE_COMMIT", "1")
    assert not progress.wanted(machine_format=False, quiet=False, stream=terminal)


def test_bar_waits_for_its_delay_then_counts_files() -> None:
    terminal = _Terminal()
    quick = progress.DelayedBar(terminal, delay=3600)
    quick(1, 4)
    quick(4, 4)
    quick.close()
    assert terminal.getvalue() == ""  # a scan shorter than the delay never shows a bar
    terminal = _Terminal()
    slow = progress.DelayedBar(terminal, delay=0)
    slow(1, 4)
    slow(3, 4)
    slow.close()
    drawn = terminal.getvalue()
    assert "Scanning" in drawn and "3/4" in drawn and drawn.endswith("\n")


@pytest.mark.parametrize("jobs", [1, 2])
def test_engine_reports_every_file_once(tmp_path: Path, jobs: int) -> None:
    write_tree(tmp_path, {f"pkg/m{i}.py": "danger()\n" + "# pad\n" * 20_000 for i in range(12)})
    seen: list[tuple[int, int]] = []
    scan([tmp_path], Settings(root=tmp_path, select=["XMP201"]), jobs=jobs, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (12, 12)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)  # never goes backwards


def test_no_bar_when_not_a_terminal(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.py": "danger()\n"})
    result = run(["scan", ".", "--isolated", "--select", "XMP201"], tmp_path)
    assert "Scanning" not in result.stderr
