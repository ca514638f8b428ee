"""The HTML report: self-contained, escaped, filterable; checked statically and in headless Chromium.

The browser test drives Chromium through the DevTools protocol over ``--remote-debugging-pipe``
(JSON messages separated by NUL bytes on file descriptors 3 and 4), so it needs no package beyond
the standard library: it clicks a real filter checkbox and reads the DOM back.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from support import REPO, run

from ftaudit.report import html as html_report

HOSTILE = REPO / "fixtures" / "hostile"
PAYLOAD_MARK = "__ftaudit_pwned"
# Elements the report template itself writes; anything else would be injected markup.
OUR_TAGS = {"html", "head", "meta", "title", "style", "body", "a", "header", "h1", "h2", "h3", "dl", "dt", "dd",
            "code", "main", "section", "p", "strong", "div", "ul", "li", "span", "table", "thead", "tbody", "tr",
            "th", "td", "form", "fieldset", "legend", "label", "input", "select", "option", "caption", "button",
            "kbd", "article", "pre", "details", "summary", "footer", "script"}

OUR_ATTRIBUTES = {"lang", "charset", "http-equiv", "content", "name", "class", "href", "id", "tabindex", "hidden",
                  "role", "type", "value", "checked", "placeholder", "scope", "rel", "title"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] in ("script", "style"):
            if self._in[-1] == "script":
                self.scripts.append(data)
            return
        self.text.append(data)


def _report(tmp_path: Path, *paths: str, name: str = "report.html") -> tuple[Path, str]:
    out = tmp_path / name
    result = run(["scan", *paths, "--html-output", str(out), "--exit-zero", "-s"], REPO)
    assert result.exit_code == 0, result.output
    return out, out.read_text(encoding="utf-8")


def _parsed(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    collector.close()
    return collector


def test_environment_autoescapes_every_template() -> None:
    env = html_report._environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def test_demo_report_is_self_contained(tmp_path: Path) -> None:
    _, text = _report(tmp_path, "fixtures/demo_ext")
    page = _parsed(text)
    tags = [tag for tag, _ in page.tags]
    assert set(tags) <= OUR_TAGS
    assert "link" not in tags and "img" not in tags and "iframe" not in tags
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag  # nothing is loaded: no CDN, no fonts, no images
        if "href" in attrs:
            assert (attrs["href"] or "").startswith(("#", "https://github.com/ftaudit/")), attrs
    assert "@import" not in text and "url(" not in text and "@font-face" not in text
    # The CSP allows our inline style and script by hash, and nothing else.
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    style = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", text, re.S).group(1)

    def digest(block: str) -> str:
        return "sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()

    assert csp.startswith("default-src 'none'; ")
    assert f"style-src '{digest(style)}'" in csp and f"script-src '{digest(script)}'" in csp


def test_demo_report_content(tmp_path: Path) -> None:
    _, text = _report(tmp_path, "fixtures/demo_ext")
    page = _parsed(text)
    articles = [a for t, a in page.tags if t == "article"]
    data = json.loads(next(s for s in page.scripts if s.lstrip().startswith("[")))
    assert len(articles) == len(data) >= 10
    assert {a["data-rule"] for a in articles} >= {"FT101", "FT102", "FT201", "FT202", "FT501"}
    assert [a["id"] for a in articles] == [d["id"] for d in data]  # deep links to every finding
    body = " ".join(page.text)
    assert "Module readiness" in body and "needs declaration" in body
    assert "Shared state and locking" in body and "3.14t" in body
    # Source context is highlighted by Pygments (token classes), and the fix shows as a diff.
    assert '<span class="k">static</span>' in text
    assert '<span class="add">+    {Py_mod_gil, Py_MOD_GIL_NOT_USED},</span>' in text


def test_readiness_verdicts() -> None:
    from ftaudit.engine import scan
    from ftaudit.registry import load_registry

    rule = load_registry().rules["FT108"]
    good, bad = rule.good[0], rule.bad[0]
    import tempfile

    from ftaudit.config import Settings

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "good.c").write_text(good.code.replace('"m"', '"good"'))
        (root / "bad.c").write_text(bad.code.replace('"m"', '"racy"'))
        result = scan([root], Settings(root=root))
        verdicts = {v.module: v.state for v in html_report.verdicts(result, {})}
    assert verdicts == {"good": "declares GIL-free", "racy": "declared but racy"}


def test_hostile_repository_renders_as_text(tmp_path: Path) -> None:
    _, text = _report(tmp_path, "fixtures/hostile")
    page = _parsed(text)
    assert set(tag for tag, _ in page.tags) <= OUR_TAGS
    assert [t for t, _ in page.tags].count("script") == 2
    for tag, attrs in page.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        # Only attributes the template writes: a file name cannot break out of its quoted value.
        assert {n for n in attrs if not n.startswith(("data-", "aria-"))} <= OUR_ATTRIBUTES, (tag, attrs)
    body = "".join(page.text)
    # Payloads from comments, strings, messages and file names are there, as text.
    assert '"><svg onload=window.__ftaudit_pwned=9>.c' in body
    assert "<img src=x onerror=window.__ftaudit_pwned=8>.py" in body
    assert "</script><script>window.__ftaudit_pwned = 1;</script>" in body
    assert "/* <script>window.__ftaudit_pwned=5</script><style>body{display:none}</style> */" in body
    assert '// </textarea><iframe src="javascript:alert(1)">' in body
    assert "{{ 7 * 7 }}" in body  # template syntax in a comment is not evaluated
    assert "<U+202E>" in body and "\u202e" not in body  # Trojan Source controls are made visible
    # The JSON data block cannot close its <script> element early.
    data_block = next(s for s in page.scripts if s.lstrip().startswith("["))
    assert "</script" not in data_block.lower() and "<" not in data_block
    assert any("</script><script>window.__ftaudit_pw" in d["message"] for d in json.loads(data_block))


# -- headless Chromium --------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal DevTools protocol client over Chromium's --remote-debugging-pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Move the child's ends out of the way first, so dup2 onto 3 and 4 cannot clobber them.
        high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 100)
        high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 100)
        os.close(to_child_r)
        os.close(from_child_w)

        def wire() -> None:
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--no-first-run", "--no-default-browser-check", "--mute-audio",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(high_r)
        os.close(high_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        for index, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(index)
        while True:
            event = self._read_message()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_child)
        os.close(self._from_child)


class Page:
    def __init__(self, tools: DevTools) -> None:
        self.tools = tools
        target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(domain)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.tools.call(method, params, session=self.session)

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        self.tools.wait_for("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(reply["exceptionDetails"])
        return reply["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click at the element's centre, through the browser's input pipeline."""
        box = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                      "e.scrollIntoView({block: 'center', behavior: 'instant'});"
                      "const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        path.write_bytes(base64.b64decode(data))


@pytest.mark.browser
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium found (install Debian's `chromium`; .ci/run does so when it can)")
    report, _ = _report(tmp_path, "fixtures/demo_ext", "fixtures/hostile")
    expected = json.loads(_report(tmp_path, "fixtures/demo_ext", "fixtures/hostile", name="again.html")[1]
                          .split('id="ftaudit-data">', 1)[1].split("</script>", 1)[0])
    tools = DevTools(executable, tmp_path / "profile")
    try:
        page = Page(tools)
        page.goto(report.as_uri())
        assert page.js("document.title").startswith("ftaudit report: ")
        # Server-rendered findings are all there, and the script (allowed by its CSP hash) ran.
        rows = page.js("[...document.querySelectorAll('#overview tbody tr')].map(r => r.dataset.rule)")
        assert rows == [d["code"] for d in expected]
        assert page.js("document.getElementById('filters').hidden") is False
        total = len(expected)
        assert page.js("document.getElementById('filter-status').textContent") == f"{total} of {total} findings shown"

        # Clicking the "warning" checkbox hides exactly the warnings, in the table and in the details.
        page.click("input[name=severity][value=warning]")
        assert page.js("document.querySelector('input[name=severity][value=warning]').checked") is False
        visible = page.js("[...document.querySelectorAll('[data-finding]')].filter(e => !e.hidden)"
                          ".map(e => e.tagName + ' ' + e.dataset.severity)")
        others = [d for d in expected if d["severity"] != "warning"]
        assert sorted(visible) == sorted([f"TR {d['severity']}" for d in others] +
                                         [f"ARTICLE {d['severity']}" for d in others])
        assert len(others) < total
        assert page.js("document.getElementById('filter-status').textContent") == \
            f"{len(others)} of {total} findings shown"
        page.screenshot(tmp_path / "report-filtered.png")
        page.click("input[name=severity][value=warning]")
        assert page.js("[...document.querySelectorAll('[data-finding]')].filter(e => e.hidden).length") == 0

        # Rule links lead into the report (its rule documentation), not to the network; a leading
        # underscore of a linked file name stays visible above the underline.
        targets = page.js("[...document.querySelectorAll('article[data-finding] header a.mono')].map(a => "
                          "[a.getAttribute('href'), !!document.getElementById(a.getAttribute('href').slice(1))])")
        assert targets and all(href.startswith("#rule-") and found for href, found in targets)
        assert page.js("[...document.querySelectorAll('a[href^=http]')].every(a => a.closest('.ruledoc'))") is True
        assert page.js("getComputedStyle(document.querySelector('a.mono')).textUnderlineOffset") not in ("auto", "")
        # Nothing from the hostile fixture ran or became an element.
        assert page.js(f"typeof window.{PAYLOAD_MARK}") == "undefined"
        assert page.js("document.images.length + document.querySelectorAll('svg, iframe, object, embed').length") == 0
        assert page.js("document.scripts.length") == 2
        assert "svg onload=window.__ftaudit_pwned=9" in page.js("document.body.innerText")
        problems = [e for e in tools.events if e.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded")
                    and (e.get("method") == "Runtime.exceptionThrown" or e["params"]["entry"]["level"] == "error")]
        assert problems == []  # no CSP violation, no script error
        # A deep link to one finding (scrolled without animation, for the screenshot).
        page.js("(() => { const a = document.querySelector('article[data-rule=FT201]'); location.hash = '#' + a.id;"
                "a.scrollIntoView({block: 'start', behavior: 'instant'}); })()")
        assert page.js("document.querySelector(':target').dataset.rule") == "FT201"
        page.screenshot(tmp_path / "report.png")

        # With JavaScript off the findings are all there (rendered on the server); the filters stay hidden.
        no_js = Page(tools)
        no_js.call("Emulation.setScriptExecutionDisabled", {"value": True})
        no_js.goto(report.as_uri())
        no_js.call("Emulation.setScriptExecutionDisabled", {"value": False})  # to read the DOM back
        assert no_js.js("document.querySelectorAll('article[data-finding]').length") == total
        assert no_js.js("document.getElementById('filters').hidden") is True
        assert no_js.js("document.getElementById('filter-status').textContent") == ""
    finally:
        tools.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000
    print(f"screenshots: {tmp_path / 'report.png'} {tmp_path / 'report-filtered.png'}")
