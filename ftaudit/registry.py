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


@lru_cache(maxsize=1)
def load_registry() -> Registry:
    registry = Registry()
    import ftaudit.rules as builtin

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
