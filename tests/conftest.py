"""Session set-up: install the demo third-party rule plugin before collection."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
from support import INSTALL, REPO, missing_test_extras

from ftaudit.registry import load_registry

_PLUGIN_SITE = tempfile.TemporaryDirectory(prefix="ftaudit-plugin-site-")
# The per-user cache folder (results and the cache's HMAC key) of this test session, not the user's own.
_USER_CACHE = tempfile.TemporaryDirectory(prefix="ftaudit-user-cache-")
os.environ["FTAUDIT_CACHE_HOME"] = _USER_CACHE.name


def pytest_configure(config: pytest.Config) -> None:
    """Install tests/plugin (a real third-party rule package) with pip into a private folder, before
    collection, so its rules are in the registry that parametrised tests enumerate."""
    missing = missing_test_extras()
    if missing:
        raise pytest.UsageError(f"the test extra is not installed ({', '.join(missing)} missing): run {INSTALL}")
    target = _PLUGIN_SITE.name
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--target", target, str(REPO / "tests" / "plugin")],
            check=True, capture_output=True, text=True,
        )
    except subprocess.CalledProcessError as exc:
        reason = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or [f"exit status {exc.returncode}"]
        raise pytest.UsageError(f"cannot install the demo rule plugin (tests/plugin): {reason[0]}; "
                                f"is the test extra installed? run {INSTALL}") from None
    sys.path.insert(0, target)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [target, os.environ.get("PYTHONPATH")]))
    load_registry.cache_clear()


def pytest_unconfigure(config: pytest.Config) -> None:
    _PLUGIN_SITE.cleanup()
    _USER_CACHE.cleanup()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """Report the skips of the free-threaded tests at one place, so that `-ra` sums them up in one line
    (pytest would list one line per test function) naming the command that builds the interpreter."""
    report = yield
    if report.skipped and item.get_closest_marker("freethreaded") and isinstance(report.longrepr, tuple):
        _, _, reason = report.longrepr
        report.longrepr = (str(item.path.relative_to(REPO)), None, reason)
    return report
