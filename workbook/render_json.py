"""The JSON contract, schema moe-workbook/1: one object per variant (see README).

`exact` holds strings that sympy.sympify parses back to the exact value; `decimal` the same shape
as floats. Leaves out: anything about the printed layout.
"""

import json
import re

from workbook.code import omitted
from workbook.formatting import exact_text
from workbook.sheet import build_sheet, conventions
from workbook.solutions import worked
from workbook.solve import Solution

SCHEMA = "moe-workbook/1"


def _nested(value, leaf):
    if isinstance(value, tuple):
        return [_nested(v, leaf) for v in value]
    return leaf(value)


def _line(ln) -> dict:
    """A worked line as JSON: a reason has no expression, value or boxes."""
    value = None if not ln.expression else _nested(ln.value, exact_text)
    return {"cells": list(ln.cells), "text": ln.text, "expression": ln.expression or None, "value": value}


def solution_dict(sol: Solution, sheet=None, working: bool = True) -> dict:
    # Parameters the variant code leaves out are left out here too, so JSON written before an
    # option existed (token choice without capacity) stays byte for byte the same.
    left_out = omitted(sol.spec)
    params = {k: v for k, v in sol.spec.params.items() if k not in left_out}
    working = {w.step: w for w in worked(sol, sheet or build_sheet(sol))} if working else {}
    steps = []
    for s in sol.steps:
        step = {"id": s.id, "title": s.title, "exact": _nested(s.exact, exact_text), "decimal": _nested(s.exact, float)}
        if s.id in working:
            step |= {"meaning": working[s.id].meaning, "working": [_line(ln) for ln in working[s.id].lines]}
        steps.append(step)
    return {
        "schema": SCHEMA,
        "code": sol.code,
        "exercise": sol.spec.kind,
        "seed": sol.spec.seed,
        "params": params,
        "conventions": list(conventions(sol)),
        "inputs": sol.problem.inputs(),
        "steps": steps,
    }


_FLAT_LIST = re.compile(r"\[([^\[\]{}]*)\]")


def render_json(sol: Solution, compact: bool = False, sheet=None, working: bool = True) -> str:
    """Solution -> JSON text ending in a newline: indented with each innermost list on one line,
    or (compact) the whole object on one line, for JSON Lines. Without `working`: the key alone
    (each step's exact and decimal values), as the determinism tests freeze it."""
    data = solution_dict(sol, sheet, working)
    if compact:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    text = json.dumps(data, indent=1, ensure_ascii=False)
    return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\s*\n\s*", ", ", m[1].strip()) + "]", text) + "\n"
