"""Every exercise is a kind: one module each, behind one protocol (kinds/protocol.py).

This package's registry maps an exercise name to its module: the built-in kinds below, and any
kind a teacher's package installs under the entry-point group `moe_workbook.kinds` (the entry
point's name is the exercise, its value the module). Modules are imported on first use only, so
the command line starts without numpy or sympy. A third-party kind that cannot be imported, or
that lacks a required part, is refused in one line naming it (SpecError) and never takes the
other kinds down. The routing kinds (token-choice, switch, expert-choice) share their arithmetic
in the routing_* helper modules. Leaves out: the pipeline itself (solve, sheet, check, renderers),
which calls kinds only through this registry.
"""

import importlib
import re
from contextlib import contextmanager
from functools import lru_cache

from workbook.errors import CheckError, SpecError, WorkbookError, quoted

BUILTIN = {
    "token-choice": "workbook.kinds.token_choice",
    "expert-choice": "workbook.kinds.expert_choice",
    "switch": "workbook.kinds.switch",
    "load-balance": "workbook.kinds.load_balance",
    "sizing": "workbook.kinds.sizing",
    "expert-parallel": "workbook.kinds.expert_parallel",
    "quantize": "workbook.kinds.quantize",
    "router-gradient": "workbook.kinds.router_gradient",
    "shared-experts": "workbook.kinds.shared_experts",
    "group-routing": "workbook.kinds.group_routing",
    "model-sizing": "workbook.kinds.model_sizing",
    "microscaling": "workbook.kinds.microscaling",
}
GROUP = "moe_workbook.kinds"
REQUIRED = ("PARAMS", "TITLE", "generate", "steps", "forward", "title", "conventions", "hand_work", "layout")
_NAME = re.compile(r"[a-z][a-z0-9-]{0,40}")


@lru_cache(maxsize=1)
def _installed() -> dict[str, str]:
    """Third-party kinds: {exercise name: module name} from the entry points (built-ins win)."""
    from importlib.metadata import entry_points

    found = {}
    try:
        points = entry_points(group=GROUP)
    except Exception:  # a broken distribution's metadata must not take the command line down
        return {}
    for point in points:
        if point.name not in BUILTIN and _NAME.fullmatch(point.name):
            found[point.name] = point.value.split(":")[0].strip()
    return found


def names() -> tuple[str, ...]:
    """Every exercise name: the built-in kinds in course order, then the installed ones by name."""
    return tuple(BUILTIN) + tuple(sorted(_installed()))


def module_name(name: str) -> str | None:
    """The module of an exercise, without importing it; None for an unknown one."""
    return BUILTIN.get(name) or _installed().get(name)


def is_builtin(name: str) -> bool:
    return name in BUILTIN


@lru_cache(maxsize=None)
def kind(name: str):
    """The module of exercise `name`, imported and checked. SpecError, in one line naming the kind,
    for an unknown exercise or a third-party kind that does not import or lacks a required part."""
    where = module_name(name)
    if where is None:
        raise SpecError(f"unknown exercise {quoted(name)}: choose one of {', '.join(names())}")
    try:
        module = importlib.import_module(where)
    except Exception as err:  # a third party's bug, told in one line
        if is_builtin(name):
            raise
        raise SpecError(f"exercise kind {name!r} ({where}) does not import: "
                        f"{type(err).__name__}: {' '.join(str(err).split())[:120]}") from None
    missing = [part for part in REQUIRED if not hasattr(module, part)]
    if missing:
        raise SpecError(f"exercise kind {name!r} ({where}) lacks {', '.join(missing)}: "
                        "see docs/writing-an-exercise.md")
    return module


def part(name: str, attribute: str, default=None):
    """An optional part of a kind (MISTAKES, check, carried, contract, SLOTS, ...), or `default`."""
    return getattr(kind(name), attribute, default)


@contextmanager
def guarded(name: str, what: str):
    """Around a call into kind `name`'s `what`: a third-party kind's own failure (any exception
    that is not one of ours) becomes one line naming the kind and the part (CheckError); a
    built-in kind's is a bug of ours and stays as it is."""
    try:
        yield
    except WorkbookError:
        raise
    except Exception as err:
        if is_builtin(name):
            raise
        raise CheckError(f"exercise kind {name!r} ({module_name(name)}) failed in {what}: "
                         f"{type(err).__name__}: {' '.join(str(err).split())[:160]}") from None
