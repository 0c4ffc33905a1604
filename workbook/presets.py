"""Presets: named exercises kept as TOML data (kind, parameters, default seed, course order).

They come from the package's exercises/, from the exercises/ folder of every installed kind
package, and from a teacher's own folders (--exercises DIR, $MOE_WORKBOOK_EXERCISES). Each file
is size-limited before it is parsed; one that cannot be read is skipped and said in one line
(problems()), never taking the others down. Reading presets imports no kind module, so `list`
starts fast. Leaves out: checking parameters (spec.make_spec does it) and anything generated.
"""

import importlib.util
import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from workbook.errors import SpecError, quoted
from workbook.kinds import is_builtin, module_name, names
from workbook.resources import resource_dir
from workbook.spec import Spec, make_spec


_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,60}")


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


MAX_PRESET_BYTES = 64 << 10
ENVIRONMENT = "MOE_WORKBOOK_EXERCISES"  # folders of a teacher's own presets, separated like PATH
_folders: list[Path] = []


def add_folder(folder) -> None:
    """Read a teacher's own presets from `folder` too (the command line's --exercises DIR)."""
    if Path(folder) not in _folders:
        _folders.append(Path(folder))
        _load.cache_clear()


def folders() -> list[tuple[Path, str]]:
    """Where presets come from, in order: the package's exercises/, each installed kind package's
    exercises/ folder (found without importing the kind), then a teacher's folders (--exercises,
    then $MOE_WORKBOOK_EXERCISES). (folder, who) pairs; a preset name seen earlier wins."""
    found = [(resource_dir("exercises"), "moe-workbook")]
    for name in names():
        if not is_builtin(name):
            folder = _package_folder(module_name(name))
            if folder is not None:
                found.append((folder / "exercises", f"the {name} package"))
    extra = _folders + [Path(f) for f in os.environ.get(ENVIRONMENT, "").split(os.pathsep) if f.strip()]
    return found + [(folder, str(folder)) for folder in extra]


def _package_folder(module: str) -> Path | None:
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError, AttributeError):
        return None
    places = list(found.submodule_search_locations or []) if found else []
    return Path(places[0]) if places else None


def presets() -> tuple[Preset, ...]:
    """Every preset, in course order (the package's, then installed kinds', then a teacher's)."""
    return _load()[0]


def problems() -> tuple[str, ...]:
    """One line for each preset file that could not be read (bad TOML, unknown exercise, ...)."""
    return _load()[1]


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[Preset, ...], tuple[str, ...]]:
    found: dict[str, Preset] = {}
    bad = []
    for folder, who in folders():
        paths = sorted(folder.glob("*.toml")) if folder.is_dir() else []
        if not paths and who not in ("moe-workbook",) and folder in _folders:
            bad.append(f"no presets (*.toml) in {quoted(folder)}")
        for path in paths:
            try:
                item = _read(path)
            except (SpecError, OSError) as err:
                bad.append(f"preset {quoted(path.name)} from {who} skipped: {err}")
                continue
            if item.name in found:
                if who != "moe-workbook":
                    bad.append(f"preset {quoted(path.name)} from {who} skipped: a preset of that name exists")
                continue
            found[item.name] = item
    return tuple(sorted(found.values(), key=lambda p: (p.order, p.name))), tuple(bad)


def _read(path: Path) -> Preset:
    """One preset file: size-limited before parsing; title, exercise (a known kind) and params."""
    if path.stat().st_size > MAX_PRESET_BYTES:
        raise SpecError(f"larger than {MAX_PRESET_BYTES >> 10} KiB")
    try:
        data = tomllib.loads(path.read_bytes()[:MAX_PRESET_BYTES + 1].decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise SpecError(f"not valid TOML: {' '.join(str(err).split())[:100]}") from None
    if not _NAME.fullmatch(path.stem):
        raise SpecError("its file name must be lower-case letters, digits and dashes")
    exercise, title, params = data.get("exercise"), data.get("title"), data.get("params", {})
    if not isinstance(exercise, str) or exercise not in names():
        raise SpecError(f"unknown exercise {quoted(exercise)}: installed are {', '.join(names())}")
    if not isinstance(title, str) or not title.strip() or not isinstance(params, dict):
        raise SpecError("it needs a title = \"...\" and a [params] table")
    try:
        seed, order = int(data.get("seed", 1)), int(data.get("order", 100))
    except (TypeError, ValueError):
        raise SpecError("seed and order must be whole numbers") from None
    return Preset(path.stem, title[:200], exercise, MappingProxyType(params), seed, order)


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
