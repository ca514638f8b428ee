"""Rule documentation rendered from the rule classes: ``ftaudit rule``, README table, SARIF help.

One source for every place a rule is explained, in ruff's fixed section order.
"""

from __future__ import annotations

from collections.abc import Iterable

from ftaudit.rule import Example, Rule

_FENCE = {"c": "c", "cpp": "cpp", "python": "python", "cython": "cython", "rust": "rust",
          "toml": "toml", "meson": "meson", "cmake": "cmake"}


def _language_of(rule: type[Rule], example: Example) -> str:
    from pathlib import PurePosixPath

    from ftaudit.source import language_for

    language = language_for(PurePosixPath(rule.example_path(example)))  # type: ignore[arg-type]
    return _FENCE.get(language.value, "") if language else ""


def _examples(rule: type[Rule], examples: Iterable[Example]) -> list[str]:
    parts = []
    for example in examples:
        if example.title:
            parts.append(f"*{example.title}*\n")
        for name, text in example.files.items():
            parts.append(f"`{name}`:\n```{_FENCE.get(name.rsplit('.', 1)[-1], '')}\n{text.rstrip()}\n```\n")
        if example.files:
            parts.append(f"`{rule.example_path(example)}`:\n")
        parts.append(f"```{_language_of(rule, example)}\n{example.code.rstrip()}\n```\n")
        if example.fixed is not None:
            parts.append(f"After `ftaudit scan --fix --unsafe-fixes`:\n```{_language_of(rule, example)}\n"
                         f"{example.fixed.rstrip()}\n```\n")
    return parts


def languages_label(rule: type[Rule]) -> str:
    return ", ".join(sorted(language.value for language in rule.languages))


def render_markdown(rule: type[Rule]) -> str:
    lines = [f"# {rule.code} `{rule.slug}`\n", f"{rule.summary}.\n",
             f"Default severity: **{rule.severity.label}**. Languages: {languages_label(rule)}. "
             f"Applies to: {rule.applies_to.describe()}. "
             f"Fix: {'available' if rule.fixable else 'suggestion only'}.\n"]
    if rule.what:
        lines += ["## What it does\n", rule.what.strip() + "\n"]
    if rule.why:
        lines += ["## Why it matters\n", rule.why.strip() + "\n"]
    if rule.bad:
        lines += ["## Example\n", *_examples(rule, rule.bad)]
    if rule.good:
        lines += ["## Use instead\n", *_examples(rule, rule.good)]
    if rule.instead or rule.fix_safety:
        lines.append("## Fix\n")
        if rule.instead:
            lines.append(rule.instead.strip() + "\n")
        if rule.fix_safety:
            lines.append(f"Fix safety: {rule.fix_safety.strip()}\n")
    if rule.options:
        lines.append("## Options\n")
        lines += [f"- `{name}` (default `{default!r}`)" for name, default in rule.options.items()]
        lines.append("")
    if rule.references:
        lines.append("## References\n")
        lines += [f"- <{ref}>" if ref.startswith("http") else f"- {ref}" for ref in rule.references]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def plain_text(rule: type[Rule]) -> str:
    """The same document without Markdown markup (SARIF ``help.text``)."""
    return render_markdown(rule).replace("```", "").replace("**", "").replace("`", "")


def rules_table(rules: Iterable[type[Rule]]) -> str:
    rows = ["| Code | Name | Severity | Languages | Summary |", "|---|---|---|---|---|"]
    for rule in rules:
        rows.append(f"| {rule.code} | `{rule.slug}` | {rule.severity.label} | {languages_label(rule)} | "
                    f"{rule.summary} |")
    return "\n".join(rows) + "\n"


# -- generated documents kept in the repository ---------------------------------------------------
TABLE_START, TABLE_END = "<!-- rules-table:start -->", "<!-- rules-table:end -->"


def builtin_rules() -> list[type[Rule]]:
    from ftaudit.registry import load_registry

    registry = load_registry()
    return [r for code, r in registry.rules.items() if code not in registry.plugin_codes]


def rules_document() -> str:
    header = ("# ftaudit rules\n\nGenerated from the rule classes by `python -m ftaudit.ruledocs`; "
              "`ftaudit rule CODE` prints the same text.\n\n")
    return header + "\n".join(render_markdown(r) for r in builtin_rules())


def readme_with_table(readme: str) -> str:
    start, end = readme.index(TABLE_START) + len(TABLE_START), readme.index(TABLE_END)
    return readme[:start] + "\n" + rules_table(builtin_rules()) + readme[end:]


def main(argv: list[str] | None = None) -> int:
    """Regenerate README's rule table and docs/rules.md (``--check``: only say whether they are stale)."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m ftaudit.ruledocs", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root")
    options = parser.parse_args(argv)
    root = options.root
    targets = {root / "README.md": readme_with_table((root / "README.md").read_text(encoding="utf-8")),
               root / "docs" / "rules.md": rules_document()}
    stale = [p for p, text in targets.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if options.check:
        for path in stale:
            print(f"{path} is out of date: run `python -m ftaudit.ruledocs`")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(targets[path], encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
