"""FT0xx: rules about ftaudit's own suppression comments."""

from __future__ import annotations

from ftaudit.findings import Severity
from ftaudit.rule import Example, Rule
from ftaudit.source import Language


class UnusedSuppression(Rule):
    # Findings come from the suppression stage of the engine, which alone knows what was silenced.
    code = "FT001"
    slug = "unused-suppression"
    summary = "Suppression comment that silences nothing"
    severity = Severity.NOTE
    languages = frozenset(Language)
    what = (
        "Reports ftaudit suppression comments (`# noqa: FT501`, `# ftaudit: ignore[FT501]`, "
        "`// NOLINT(FT201)`, `// NOLINTNEXTLINE(FT201)`, `// NOLINTBEGIN(FT201)`, "
        "`/* ftaudit: ignore[FT201] */`) naming a code that produced no finding on the lines they cover, "
        "and `NOLINTBEGIN` regions that are never closed. Suppressions for rules that were not run are "
        "not judged."
    )
    why = (
        "A stale suppression hides the next real finding on that line. Once code is fixed, its "
        "suppression should go too, so the remaining ones keep meaning something."
    )
    instead = "Delete the code from the comment (and the comment when it names nothing else)."
    suggestion = "Remove the unused code from the suppression comment."
    tags = ("maintainability",)
    bad = (
        Example(
            "static int ready;  // NOLINT(FT201)  <- FT001\n"
            "int ready_flag(void) { return ready; }\n",
            title="Nothing on this line writes a static",
        ),
        Example("import sys\n\nprint(sys.version)  # noqa: FT504  <- FT001\n", path="example.py"),
    )
    good = (
        Example("static int ready;  // NOLINT(bugprone-reserved-identifier)\n",
                title="Other tools' NOLINT comments are not ftaudit's business"),
        Example("import os  # noqa\n", path="example.py", title="A bare noqa belongs to other tools"),
    )
