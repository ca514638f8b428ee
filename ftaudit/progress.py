"""A progress bar on stderr for long scans: files done out of files to analyse.

Shown only where a person watches: stderr is a terminal, the output is for people (not JSON, SARIF
and the other machine formats), not quiet, and not under pre-commit (``PRE_COMMIT=1``). It appears
once a scan has run for ``DELAY`` seconds, so a quick scan never flickers one.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

import click

DELAY = 1.0  # seconds before the bar appears


def wanted(*, machine_format: bool, quiet: bool, stream: TextIO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    if machine_format or quiet or os.environ.get("PRE_COMMIT") == "1":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class DelayedBar:
    """Called with (files done, files in all) as the scan goes; draws nothing until ``delay`` has passed."""

    def __init__(self, stream: TextIO | None = None, delay: float = DELAY) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.started = time.monotonic()
        self._bar: Any = None
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if time.monotonic() - self.started < self.delay or total <= 0:
                return
            self._bar = click.progressbar(length=total, label="Scanning", file=self.stream, show_pos=True,
                                          show_percent=False, show_eta=True)
            self._bar.__enter__()
        self._bar.update(done - self._shown)
        self._shown = done

    def close(self) -> None:
        """Take the bar off the screen's last line, so the report starts on a clean one."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
