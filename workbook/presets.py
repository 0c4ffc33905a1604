"""Presets: named exercises kept as TOML data in exercises/ (kind, parameters, default seed).

Leaves out: checking parameters (spec.make_spec does it) and anything generated.
"""

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

from workbook.errors import SpecError, quoted
from workbook.resources import resource_dir
from workbook.spec import Spec, make_spec


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    exercise: str
    params: Mapping
    seed: int
    order: int

    def spec(self, overrides: Mapping | None = None, seed: int | None = None) -> Spec:
        """This preset's Spec, with CLI overrides (None values ignored) and another seed."""
        params = dict(self.params) | {k: v for k, v in (overrides or {}).items() if v is not None}
        return make_spec(self.exercise, params, self.seed if seed is None else seed)


@lru_cache(maxsize=None)
def presets() -> tuple[Preset, ...]:
    """Every preset in exercises/, in course order."""
    found = []
    for path in sorted(resource_dir("exercises").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        found.append(Preset(path.stem, data["title"], data["exercise"], MappingProxyType(data["params"]),
                            int(data.get("seed", 1)), int(data.get("order", 100))))
    return tuple(sorted(found, key=lambda p: (p.order, p.name)))


def preset(name: str) -> Preset:
    """'token-choice-5x6' -> its Preset; SpecError naming the known ones otherwise."""
    for p in presets():
        if p.name == name:
            return p
    raise SpecError(unknown_preset(name))


def unknown_preset(name: str, or_else: str = "") -> str:
    """'unknown preset 'token-choice' (did you mean token-choice-5x6?): ...': the closest names,
    and where to find the rest, in a line short enough to read."""
    import difflib

    names = [p.name for p in presets()]
    close = difflib.get_close_matches(str(name)[:100], names, n=3, cutoff=0.5)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return f"unknown preset {quoted(name)}{hint}: `moe-workbook list` shows them all{or_else}"
