"""The JSON contract, schema moe-workbook/1: one object per variant (see README).

`exact` holds strings that sympy.sympify parses back to the exact value; `decimal` the same shape
as floats. Leaves out: anything about the printed layout.
"""

import json
import re

from workbook.code import omitted
from workbook.formatting import exact_text
from workbook.sheet import conventions
from workbook.solve import Solution

SCHEMA = "moe-workbook/1"


def _nested(value, leaf):
    if isinstance(value, tuple):
        return [_nested(v, leaf) for v in value]
    return leaf(value)


def solution_dict(sol: Solution) -> dict:
    # Parameters the variant code leaves out are left out here too, so JSON written before an
    # option existed (token choice without capacity) stays byte for byte the same.
    left_out = omitted(sol.spec)
    params = {k: v for k, v in sol.spec.params.items() if k not in left_out}
    return {
        "schema": SCHEMA,
        "code": sol.code,
        "exercise": sol.spec.kind,
        "seed": sol.spec.seed,
        "params": params,
        "conventions": list(conventions(sol)),
        "inputs": sol.problem.inputs(),
        "steps": [{"id": s.id, "title": s.title, "exact": _nested(s.exact, exact_text),
                   "decimal": _nested(s.exact, float)} for s in sol.steps],
    }


_FLAT_LIST = re.compile(r"\[([^\[\]{}]*)\]")


def render_json(sol: Solution, compact: bool = False) -> str:
    """Solution -> JSON text ending in a newline: indented with each innermost list on one line,
    or (compact) the whole object on one line, for JSON Lines."""
    data = solution_dict(sol)
    if compact:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    text = json.dumps(data, indent=1, ensure_ascii=False)
    return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\s*\n\s*", ", ", m[1].strip()) + "]", text) + "\n"
