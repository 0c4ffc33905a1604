"""The JSON contract, schema moe-workbook/1: one object per variant (see README).

`exact` holds strings that sympy.sympify parses back to the exact value; `decimal` the same shape
as floats. Leaves out: anything about the printed layout.
"""

import json

from workbook.formatting import exact_text
from workbook.sheet import conventions
from workbook.solve import Solution

SCHEMA = "moe-workbook/1"


def _nested(value, leaf):
    if isinstance(value, tuple):
        return [_nested(v, leaf) for v in value]
    return leaf(value)


def solution_dict(sol: Solution) -> dict:
    p = sol.problem
    params = dict(sol.spec.params)
    return {
        "schema": SCHEMA,
        "code": sol.code,
        "exercise": sol.spec.kind,
        "seed": sol.spec.seed,
        "params": params,
        "conventions": list(conventions(sol)),
        "inputs": {
            "X": [list(r) for r in p.X],
            "W_router": [list(r) for r in p.W_router],
            "experts": [{"W1": [list(r) for r in ex.W1], "b1": list(ex.b1),
                         "W2": [list(r) for r in ex.W2], "b2": list(ex.b2)} for ex in p.experts],
        },
        "steps": [{"id": s.id, "title": s.title, "exact": _nested(s.exact, exact_text),
                   "decimal": _nested(s.exact, float)} for s in sol.steps],
    }


def render_json(sol: Solution) -> str:
    """Solution -> one JSON object on one line per variant... pretty-printed, sorted keys stable."""
    return json.dumps(solution_dict(sol), indent=1, ensure_ascii=False) + "\n"
