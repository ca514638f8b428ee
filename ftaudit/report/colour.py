"""Colour decisions made here because click ignores NO_COLOR/FORCE_COLOR (pallets/click#3022)."""

from __future__ import annotations

import os
from typing import TextIO

import click

from ftaudit.findings import Severity

SEVERITY_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}


def use_colour(flag: str, stream: TextIO) -> bool:
    """--color wins; then NO_COLOR, FORCE_COLOR, TERM=dumb; then whether the stream is a terminal."""
    if flag == "always":
        return True
    if flag == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    force = os.environ.get("FORCE_COLOR")
    if force and force != "0":
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, **style: object) -> str:
        return click.style(text, **style) if self.enabled else text  # type: ignore[arg-type]
