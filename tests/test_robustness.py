"""Never breaking: mangled real-looking sources must give findings or diagnostics, never an internal error."""

from __future__ import annotations

import random
from pathlib import Path

from support import REPO

from ftaudit.config import Settings
from ftaudit.engine import scan

SOURCES = sorted(
    p for pattern in ("fixtures/**/*.c", "fixtures/**/*.cpp", "fixtures/**/*.py", "fixtures/**/*.pyx",
                      "fixtures/**/CMakeLists.txt", "fixtures/**/setup.py", "fixtures/**/*.toml")
    for p in REPO.glob(pattern) if "hostile" not in p.parts
)


def mangle(data: bytes, rng: random.Random) -> list[bytes]:
    """Truncations, a burst of random bytes, an unbalanced brace and a stray #if/#endif."""
    cut = rng.randrange(1, max(2, len(data)))
    spot = rng.randrange(0, max(1, len(data)))
    noise = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40)))  # no NUL: stays "text"
    return [
        data[:cut],
        data[:spot] + noise + data[spot:],
        data[:spot] + b"{" + data[spot:],
        data[:spot] + b"\n#endif\n" + data[spot:] + b"\n#if PY_VERSION_HEX >= \n",
        data.replace(b"\n", b"\r\n"),
        b"\xef\xbb\xbf" + data[: len(data) // 2].replace(b"(", b""),
    ]


def test_mangled_fixtures_never_crash_a_rule(tmp_path: Path) -> None:
    assert len(SOURCES) > 40
    rng = random.Random(20261127)
    for index, source in enumerate(SOURCES):
        for variant, data in enumerate(mangle(source.read_bytes(), rng)):
            folder = tmp_path / f"{index}-{variant}"
            folder.mkdir()
            (folder / source.name).write_bytes(data)
        # Siblings give the project-level rules (FT104/FT106/FT107/FT108) something to combine.
    settings = Settings(root=tmp_path, respect_gitignore=False, cache=False, scan_generated=True)
    result = scan([tmp_path], settings, jobs=2)
    internal = [d.render() for d in result.diagnostics if d.is_error]
    assert internal == []
    assert len(result.files) > 200 and len(result.findings) > 100  # and the scan really analysed them


def test_pathological_nesting_is_a_diagnostic_not_an_internal_error(tmp_path: Path) -> None:
    depth = 3000
    # The lock walk recurses per nested block: a body that takes a lock 3,000 blocks deep is too complex.
    (tmp_path / "deep.c").write_text(
        "static long n;\nstatic PyMutex mu;\nint f(void) {" + "{" * depth
        + "PyMutex_Lock(&mu); n++; PyMutex_Unlock(&mu);" + "}" * depth + "return 0; }\n"
        "static PyMethodDef m[] = {{\"f\", f, METH_NOARGS, NULL}, {NULL}};\n")
    # One that takes no lock is not walked at all (nothing to track), so it is analysed in full.
    (tmp_path / "plain.c").write_text(
        "static long n;\nint f(void) {" + "{" * depth + "n++;" + "}" * depth + "return 0; }\n"
        "static PyMethodDef m[] = {{\"f\", f, METH_NOARGS, NULL}, {NULL}};\n")
    (tmp_path / "deep.py").write_text("y = " + "[" * 5000 + "]" * 5000 + "\n")
    result = scan([tmp_path], Settings(root=tmp_path, cache=False), jobs=1)
    assert [d.render() for d in result.diagnostics if d.is_error] == []
    kinds = {(Path(d.path).name, d.kind.value) for d in result.diagnostics}
    assert ("deep.py", "syntax") in kinds
    assert ("deep.c", "too-complex") in kinds
    assert not any(Path(d.path).name == "plain.c" for d in result.diagnostics)
    assert [(Path(f.path).name, f.code, f.start.line, f.start.column) for f in result.findings
            if f.code == "FT201"] == [("plain.c", "FT201", 2, 3014)]


