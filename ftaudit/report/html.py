"""The offline HTML report (``--output-format html``, ``--html-output PATH``): one self-contained file.

Everything is rendered here, on the server side: the findings are readable with JavaScript off, and
the small inline script only filters and sorts. Scanned code, file names and messages are untrusted
input (a hostile repository can name a file ``<img onerror=…>.c``), so:

- every template goes through a jinja2 ``Environment(autoescape=True)`` (jinja2's default is off and
  ``select_autoescape`` would not cover ``.j2`` names), and nothing from a scan is marked safe;
- source lines become markup only through Pygments, whose formatter escapes every token; the only
  markup added afterwards is ours (line spans, visible escapes for bidi/invisible characters);
- data for scripts goes through ``|tojson`` inside ``<script type="application/json">``;
- a CSP ``<meta>`` allows no network at all and only our own inline style and script, by hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TextIO

import jinja2
from markupsafe import Markup, escape

from ftaudit import __version__
from ftaudit.families import family, family_title
from ftaudit.findings import Edit, Finding, Severity
from ftaudit.readiness import Readiness, Subinterpreters
from ftaudit.report.json_report import finding_dict, rule_url
from ftaudit.result import NO_RUN_INFO, RunInfo, ScanResult
from ftaudit.ruledocs import plain_text

if TYPE_CHECKING:
    from ftaudit.baseline import Outcome

TEMPLATES = Path(__file__).with_name("templates")
# How each readiness state is shown: its words and its colour class.
_READINESS = {
    Readiness.GIL_FREE: ("declares GIL-free", "ok"),
    Readiness.NEEDS_DECLARATION: ("needs declaration", "needs"),
    Readiness.RACY: ("declared but racy", "racy"),
    Readiness.REQUIRES_GIL: ("requires the GIL", "needs"),
}
# The sub-interpreter column: which interpreters of a process can load the module.
_SUBINTERPRETERS = {
    Subinterpreters.OWN_GIL: ("isolated, own GIL", "ok"),
    Subinterpreters.SHARED_GIL: ("shared GIL only", "needs"),
    Subinterpreters.MAIN_ONLY: ("main interpreter only", "needs"),
    Subinterpreters.SINGLE_PHASE: ("single-phase: not in isolated", "needs"),
    Subinterpreters.LEAKY: ("claims own GIL, shares objects", "racy"),
}
MANY_FINDINGS = 5_000  # past this, the report warns that it gets slow to browse
HIGHLIGHT_LIMIT = 8_000  # characters in a snippet; longer ones are shown plain (Pygments can take seconds)
_LEXERS = {"c": "c", "h": "c", "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "hpp": "cpp", "hh": "cpp", "hxx": "cpp",
           "pyx": "cython", "pxd": "cython", "pxi": "cython", "py": "python", "pyi": "python", "rs": "rust",
           "toml": "toml", "build": "meson", "txt": "cmake"}
# Trojan Source: bidi controls, invisible and control characters (tab aside) are shown as visible escapes,
# in code and in everything else scanned (file names, messages). Surrogates are how a file name that is not
# UTF-8 arrives (os.fsdecode); they could not even be written out as UTF-8.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064"
                        "\u2066-\u2069\ufeff\ud800-\udfff]")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             finalize=visible_text)
    env.filters["visible"] = visible
    env.globals["code_parts"] = code_parts
    return env


def _escape_name(char: str) -> str:
    """How an invisible character is spelled out: <U+202E>, or <0xFF> for an undecodable file-name byte."""
    code = ord(char)
    return f"<0x{code - 0xDC00:02X}>" if 0xDC80 <= code <= 0xDCFF else f"<U+{code:04X}>"


def visible(text: Any) -> Markup:
    """Scanned text shown as text: escaped, with invisible and control characters as marked escapes."""
    return Markup(_visible_controls(str(escape(text))))


def visible_text(value: Any) -> Any:
    """Every other ``{{ }}`` output (attributes, ``<option>``): the same characters spelled out as plain
    text (escaped later by autoescape), so no raw control byte or bidi override reaches the page."""
    if isinstance(value, str) and not isinstance(value, Markup) and not value.isprintable():
        return _INVISIBLE.sub(lambda m: _escape_name(m.group()), value)
    return value


@cache
def _lexer(name: str) -> Any:
    from pygments.lexers import get_lexer_by_name

    return get_lexer_by_name(name, stripnl=False, ensurenl=False)


def _lexer_for(path: str) -> Any:
    suffix = PurePosixPath(path).name.rsplit(".", 1)[-1].lower()
    name = _LEXERS.get(suffix)
    if PurePosixPath(path).name == "CMakeLists.txt":
        name = "cmake"
    elif suffix == "txt":
        name = None
    if name is None:
        from pygments.lexers.special import TextLexer

        return TextLexer()
    return _lexer(name)


def _visible_controls(markup: str) -> str:
    return _INVISIBLE.sub(lambda m: f'<span class="ctrl" title="invisible character">{escape(_escape_name(m.group()))}'
                                    "</span>", markup)


def highlight(path: str, lines: list[str]) -> list[Markup]:
    """Pygments-highlighted markup for each line (tokens escaped by Pygments; spans balanced per line)."""
    from pygments import highlight as pyg_highlight
    from pygments.formatters import HtmlFormatter

    if not lines:
        return []
    if sum(map(len, lines)) > HIGHLIGHT_LIMIT:  # minified or mangled code: Pygments' regexes crawl through it
        return [visible(line) for line in lines]
    html = pyg_highlight("\n".join(lines) + "\n", _lexer_for(path), HtmlFormatter(nowrap=True))
    out = html.split("\n")[: len(lines)]
    out += [""] * (len(lines) - len(out))
    return [Markup(_visible_controls(line)) for line in out]  # Pygments escaped every token


def code_parts(text: str) -> list[tuple[bool, str]]:
    """Split a message, help or fix label on Markdown code spans: [(is_code, text)]. The template shows
    the code parts in ``<code>`` and escapes both kinds (through ``visible``): a span from a scanned
    repository stays text, whatever it holds."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unbalanced backtick: show it as typed
        return [(False, text)]
    return [(i % 2 == 1, part) for i, part in enumerate(parts) if part]


@dataclass
class Row:
    number: int
    code: Markup
    focus: bool


@dataclass
class DiffLine:
    kind: str  # "add", "del", "hunk", "note"
    text: str


@dataclass
class FindingView:
    anchor: str
    finding: Finding
    message: list[tuple[bool, str]]
    help: list[tuple[bool, str]]
    rows: list[Row]
    diff: list[DiffLine]
    rule_summary: list[tuple[bool, str]]
    rule_url: str
    baseline: str = ""
    fix_label: list[tuple[bool, str]] = field(default_factory=list)  # the suggested change's message

    @property
    def severity(self) -> str:
        return self.finding.severity.label


@dataclass
class FileView:
    path: str
    anchor: str
    findings: list[FindingView] = field(default_factory=list)


@dataclass
class Verdict:
    module: str
    path: str
    state: str  # "declares GIL-free", "needs declaration", "declared but racy", "requires the GIL", "—"
    css: str
    detail: str
    anchor: str = ""
    described: bool = False  # ``module`` describes a module the sources do not name
    sub_state: str = "—"  # sub-interpreters: "isolated (own GIL)", "shared GIL only", ...
    sub_css: str = "none"
    sub_detail: str = ""
    sub_anchor: str = ""

    @property
    def sub_detail_parts(self) -> list[tuple[bool, str]]:
        return code_parts(self.sub_detail)

    @property
    def detail_parts(self) -> list[tuple[bool, str]]:
        return code_parts(self.detail)

    @property
    def module_parts(self) -> list[tuple[bool, str]]:
        """A module's name is code; the description of one the sources do not name is text with code."""
        return code_parts(self.module) if self.described else [(True, self.module)]


def _anchor(finding: Finding) -> str:
    digest = hashlib.sha1(f"{finding.path}\0{finding.start}\0{finding.code}\0{finding.message}".encode(
        "utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{finding.code.lower()}-{digest}"


def _snippet(finding: Finding, lines: dict[int, str]) -> list[Row]:
    first = max(1, finding.start.line - 3)
    last = max(finding.end.line, finding.start.line) + 3
    numbers = [n for n in range(first, last + 1) if n in lines]
    highlighted = highlight(finding.path, [lines[n] for n in numbers])
    focus = range(finding.start.line, max(finding.end.line, finding.start.line) + 1)
    return [Row(n, code, n in focus) for n, code in zip(numbers, highlighted, strict=True)]


def _apply(line_text: str, edit: Edit, last_text: str) -> str:
    return line_text[: edit.start.column - 1] + edit.content + last_text[edit.end.column - 1:]


def _diff(finding: Finding, lines: dict[int, str]) -> list[DiffLine]:
    """The suggested change as a unified-diff-like list, from the lines the engine kept."""
    if finding.fix is None or not finding.fix.edits:
        return []
    out: list[DiffLine] = []
    for edit in sorted(finding.fix.edits, key=lambda e: e.start):
        first, last = edit.start.line, edit.end.line
        old = [lines.get(n) for n in range(first, last + 1)]
        insertion = edit.start == edit.end and edit.start.column == 1
        if insertion:
            added = edit.content.split("\n")
            if added and added[-1] == "":
                added.pop()
            out.append(DiffLine("hunk", f"@@ insert before line {first} @@"))
            out += [DiffLine("add", text) for text in added]
        elif all(text is not None for text in old):
            known = [t for t in old if t is not None]
            new_text = _apply(known[0], edit, known[-1])
            out.append(DiffLine("hunk", f"@@ lines {first}-{last} @@" if last > first else f"@@ line {first} @@"))
            out += [DiffLine("del", text) for text in known]
            out += [DiffLine("add", text) for text in new_text.split("\n")]
        else:
            out.append(DiffLine("hunk", f"@@ line {first}:{edit.start.column} to {last}:{edit.end.column} @@"))
            out += [DiffLine("add", text) for text in edit.content.split("\n")]
    return out


def verdicts(result: ScanResult, anchors: dict[int, str]) -> list[Verdict]:
    """The readiness table: the result's verdicts per module (free-threaded, sub-interpreters), each linked
    to the finding that decides it."""
    out = []
    for verdict in result.modules:
        state, css = _READINESS[verdict.state] if verdict.state is not None else ("—", "none")
        anchor = anchors.get(id(verdict.finding), "") if verdict.finding is not None else ""
        sub_state, sub_css = (_SUBINTERPRETERS[verdict.subinterpreters] if verdict.subinterpreters is not None
                              else ("—", "none"))
        sub_finding = verdict.subinterpreters_finding
        out.append(Verdict(verdict.module, verdict.path, state, css, verdict.detail, anchor, verdict.described,
                           sub_state, sub_css, verdict.subinterpreters_detail,
                           anchors.get(id(sub_finding), "") if sub_finding is not None else ""))
    return out


def _inline_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_style_defs(".code")
    dark = HtmlFormatter(style="monokai").get_style_defs(".code")
    # Backgrounds come from our own palette; only token colours are taken from the styles.
    strip = re.compile(r"background(-color)?:[^;}]*;?")
    return (strip.sub("", light) + "\n@media (prefers-color-scheme: dark) {\n" + strip.sub("", dark) + "\n}\n")


def rule_anchor(code: str) -> str:
    return f"rule-{code.lower()}"


def render_html(result: ScanResult, *, baseline: Outcome | None = None, command: str = "",
                generated: str | None = None) -> str:
    rules = {r.code: r for r in result.rules}
    files: dict[str, FileView] = {}
    views: list[FindingView] = []
    anchors: dict[int, str] = {}
    baselined_ids = {id(f) for f in baseline.baselined} if baseline is not None else set()
    for finding in result.findings:
        lines = result.lines.get(finding.path, {})
        rule = rules.get(finding.code)
        view = FindingView(
            anchor=_anchor(finding), finding=finding, message=code_parts(finding.message),
            help=code_parts(finding.help), rows=_snippet(finding, lines), diff=_diff(finding, lines),
            rule_summary=code_parts(rule.summary) if rule else [],
            rule_url=f"#{rule_anchor(finding.code)}" if rule else rule_url(finding.code),
            baseline="new" if baseline is not None and id(finding) not in baselined_ids else "",
            fix_label=code_parts(finding.fix.message) if finding.fix is not None else [],
        )
        anchors[id(finding)] = view.anchor
        views.append(view)
        file_view = files.get(finding.path)
        if file_view is None:
            file_view = files[finding.path] = FileView(finding.path, f"file-{len(files) + 1}")
        file_view.findings.append(view)

    severities = Counter(f.severity for f in result.findings)
    families = Counter(family(f.code) for f in result.findings)
    by_rule = Counter((f.code, f.name) for f in result.findings)
    env = _environment()
    # Our own assets are read as they are (not rendered): their hashes go into the CSP.
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8") + _pygments_css()
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    csp = (f"default-src 'none'; style-src '{_inline_hash(css)}'; script-src '{_inline_hash(script)}'; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    by_file: defaultdict[str, int] = defaultdict(int)
    for f in result.findings:
        by_file[f.path] += 1
    context = {
        "version": __version__,
        "generated": generated or time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": command,
        "target": result.settings.target.label,
        "files_scanned": len(result.files),
        "total": len(result.findings),
        "severities": [(s.label, severities[s]) for s in sorted(Severity, reverse=True)],
        "families": [(prefix + "xx", family_title(prefix), n) for prefix, n in sorted(families.items())],
        "rules": sorted(by_rule.items()),
        # Each reported rule's documentation, in the report itself: its links work offline.
        "rule_docs": [{"code": code, "anchor": rule_anchor(code), "name": rules[code].slug,
                       "text": plain_text(rules[code]), "online": rule_url(code)}
                      for code in sorted({f.code for f in result.findings}) if code in rules],
        "files": list(files.values()),
        "file_counts": sorted(by_file.items()),
        "findings": views,
        "verdicts": verdicts(result, anchors),
        "diagnostics": [d.render() for d in result.diagnostics],
        "suppressed": result.suppressed,
        "baseline": baseline,
        "many": len(result.findings) > MANY_FINDINGS,
        "css": Markup(css),  # our own stylesheet, no scanned data
        "script": Markup(script),  # our own script, no scanned data
        "csp": csp,
        "data": [dict(finding_dict(v.finding), id=v.anchor) for v in views],
    }
    return env.get_template("report.html.j2").render(**context)


class HtmlReporter:
    machine = True  # a file format: never coloured, no summary line appended

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo = NO_RUN_INFO) -> None:
        out.write(render_html(result, baseline=run.baseline, command=run.command))

