"""Finds the rules: the built-in catalogue (``rules/`` shipped as ``ftaudit.rules``) and plugins.

Third-party packages register Rule classes (or modules holding them) in the ``ftaudit.rules``
entry-point group. A plugin that fails to load or clashes with a known code is reported, not fatal.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from types import ModuleType

from ftaudit.rule import Rule

ENTRY_POINT_GROUP = "ftaudit.rules"


@dataclass
class Registry:
    rules: dict[str, type[Rule]] = field(default_factory=dict)  # code -> class, sorted by code
    problems: list[str] = field(default_factory=list)
    plugin_codes: set[str] = field(default_factory=set)

    def get(self, code: str) -> type[Rule] | None:
        return self.rules.get(code.upper())

    def by_slug_or_code(self, name: str) -> type[Rule] | None:
        rule = self.get(name)
        if rule is not None:
            return rule
        return next((r for r in self.rules.values() if r.slug == name), None)

    def _add(self, rule: type[Rule], origin: str, plugin: bool) -> None:
        problems = rule.validate()
        if problems:
            self.problems.append(f"rule {rule.__name__} from {origin} ignored: {'; '.join(problems)}")
            return
        existing = self.rules.get(rule.code)
        if existing is not None and existing is not rule:
            self.problems.append(
                f"rule {rule.__name__} from {origin} ignored: code {rule.code} already belongs to "
                f"{existing.__module__}.{existing.__name__}"
            )
            return
        self.rules[rule.code] = rule
        if plugin:
            self.plugin_codes.add(rule.code)


def _rules_in(module: ModuleType) -> list[type[Rule]]:
    return [
        obj for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, Rule) and obj is not Rule
        and obj.__module__ == module.__name__ and "code" in vars(obj)
    ]


def _builtin_rules_package() -> ModuleType:
    """`ftaudit.rules`: installed from the top-level `rules/` folder; in a source checkout that is run
    without installing (`python -m ftaudit` from the repository root), loaded from that folder."""
    try:
        return importlib.import_module("ftaudit.rules")
    except ModuleNotFoundError:
        import sys
        from importlib.util import module_from_spec, spec_from_file_location
        from pathlib import Path

        import ftaudit

        folder = Path(ftaudit.__file__).resolve().parent.parent / "rules"
        spec = spec_from_file_location(
            "ftaudit.rules", folder / "__init__.py", submodule_search_locations=[str(folder)])
        if spec is None or spec.loader is None or not folder.is_dir():
            raise
        module = module_from_spec(spec)
        sys.modules["ftaudit.rules"] = module
        spec.loader.exec_module(module)
        return module


@lru_cache(maxsize=1)
def load_registry() -> Registry:
    registry = Registry()
    builtin = _builtin_rules_package()

    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{builtin.__name__}.{info.name}")
        for rule in _rules_in(module):
            registry._add(rule, module.__name__, plugin=False)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except Exception as exc:  # a broken plugin must not break the scan
            registry.problems.append(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}")
            continue
        if inspect.ismodule(loaded):
            candidates = _rules_in(loaded)
        elif inspect.isclass(loaded) and issubclass(loaded, Rule):
            candidates = [loaded]
        else:
            registry.problems.append(f"plugin {ep.name!r} ({ep.value}) is neither a Rule class nor a module")
            continue
        for rule in candidates:
            registry._add(rule, f"plugin {ep.name!r}", plugin=True)
    registry.rules = dict(sorted(registry.rules.items()))
    return registry
