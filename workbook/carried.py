"""Carried errors: a wrong step that is right given the learner's own earlier (wrong) numbers.

For the chains of the routing sheets (powers from scores, row sums from powers, probabilities
from both, weights from the probabilities, load from the routing table; in each expert H from the
copied rows of X, ReLU(H) from H, and the output rows from ReLU(H)) the step is recomputed from
what the learner wrote; if the learner's step matches that, it is marked "follows
from your step N", a carried error rather than a new one. Leaves out: the common mistakes
(mistakes.py) and grading (check.py).
"""

import re
from fractions import Fraction

from workbook.layout import cells, step_id_of
from workbook.spec import ROUTING
from workbook.values import ABS_TOL, REL_TOL, expected, is_right

_REF = re.compile(r"(\w+)((?:\[\d+\])+)")
_FFN_SOURCE = {"ffn_hidden": "ffn_x", "ffn_relu": "ffn_hidden", "ffn_out": "ffn_relu"}


def _grid_of(learner: dict, step_id: str) -> dict:
    """{(i, j): value} of one step's cells, 1-based, from refs like 'probs[2][3]'."""
    out = {}
    for ref, v in learner.items():
        m = _REF.fullmatch(ref)
        if m and m.group(1) == step_id:
            idx = tuple(int(x) for x in re.findall(r"\d+", m.group(2)))
            out[idx] = v
    return out


def _rows(grid: dict) -> dict:
    rows: dict = {}
    for (i, *rest), v in sorted(grid.items()):
        rows.setdefault(i, []).append(v)
    return rows


def _power(b: int, n):
    """b**n for a whole n of sensible size, else None (a typo like 1000 is not followed)."""
    if not float(n).is_integer() or abs(n) > 40:
        return None
    return Fraction(b) ** int(n)


def _recompute(sol, step_id, learner):
    """(source step, {ref: value}) of `step_id` computed from the learner's own source step."""
    base = sol.spec.params.get("gate")
    b = {"softmax3": 3, "softmax2": 2, "softmax": None}.get(base)
    def numbers(grid):
        return all(isinstance(v, (Fraction, float)) for v in grid.values()) and grid
    if step_id == "powers" and b:
        src = _grid_of(learner, "scores")
        if not numbers(src):
            return None
        rows = _rows(src)
        return "scores", {f"powers[{i}][{j + 1}]": _power(b, v - min(r)) for i, r in rows.items() for j, v in enumerate(r)}
    if step_id == "row_sum":
        src = _grid_of(learner, "powers")
        if not numbers(src):
            return None
        return "powers", {f"row_sum[{i}][1]": sum(r) for i, r in _rows(src).items()}
    if step_id == "probs":
        powers, sums = _grid_of(learner, "powers"), _grid_of(learner, "row_sum")
        if not (numbers(powers) and numbers(sums)) or any(v == 0 for v in sums.values()):
            return None
        return ("powers", "row_sum"), {f"probs[{i}][{j + 1}]": v / sums[(i, 1)] for i, r in _rows(powers).items()
                                       for j, v in enumerate(r) if (i, 1) in sums}
    if step_id == "weights" and "topk" in sol.has:
        probs = _grid_of(learner, "probs")
        if not numbers(probs):
            return None
        rows = _rows(probs)
        out = {}
        for t, chosen in enumerate(sol.step("topk").exact, 1):
            picked = [rows[t][int(e) - 1] for e in chosen] if t in rows else []
            total = sum(picked) if sol.spec.params.get("renormalize") else 1
            if not picked or total == 0:
                continue
            out.update({f"weights[{t}][{r + 1}]": p / total for r, p in enumerate(picked)})
        return "probs", out
    experts = sol.problem.experts if sol.spec.kind in ROUTING else ()
    if step_id in _FFN_SOURCE and experts:
        source = _FFN_SOURCE[step_id]
        rows: dict = {}
        for (e, i, j), v in sorted(_grid_of(learner, source).items()):
            rows.setdefault((e, i), []).append(v)
        out = {}
        for (e, i), row in rows.items():
            if not all(isinstance(v, (Fraction, float)) for v in row):
                continue  # a row not filled in yet
            ex = experts[e - 1]
            if step_id == "ffn_relu":
                new = [max(v, 0) for v in row]
            elif step_id == "ffn_hidden":
                new = [sum(x * ex.W1[d][j] for d, x in enumerate(row)) + ex.b1[j] for j in range(len(ex.b1))]
            else:
                new = [sum(r * ex.W2[j][k] for j, r in enumerate(row)) + ex.b2[k] for k in range(len(ex.b2))]
            out.update({f"{step_id}[{e}][{i}][{k + 1}]": v for k, v in enumerate(new)})
        return (source, out) if out else None
    if step_id == "load" and "routing" in sol.has:
        routing = _rows(_grid_of(learner, "routing"))
        return "routing", {f"load[{e}][1]": Fraction(sum(v is not None for v in r)) for e, r in routing.items()}
    return None


def carried(sol, sheet, step_id: str, learner: dict, abs_tol=ABS_TOL, rel_tol=REL_TOL) -> str:
    """'powers: follows from your step 1 ...' when the learner's wrong step is right given their own
    wrong earlier step, else ''. `learner` maps cell refs to parsed values. A step that cannot be
    recomputed from what the learner wrote (a zero to divide by, a value too large) is not followed."""
    try:
        found = _recompute(sol, step_id, learner)
    except (ArithmeticError, ValueError, TypeError, IndexError, KeyError):
        return ""
    if not found:
        return ""
    sources, values = found
    sources = (sources,) if isinstance(sources, str) else sources
    blanks = [c for c in cells(sheet.sections) if c.blank]
    wrong = [src for src in sources if any(c.ref in learner and not is_right(learner[c.ref], expected(c), abs_tol, rel_tol)
                                           for c in blanks if step_id_of(c.ref) == src)]
    if not wrong or not values:
        return ""
    if all(ref in learner and values[ref] is not None and is_right(learner[ref], values[ref], abs_tol, rel_tol)
           for ref in values):
        number = next(s.number for s in sheet.sections for c in cells((s,)) if c.blank and step_id_of(c.ref) == wrong[0])
        return f"{step_id}: follows from your step {number} (a carried error, not a new one)"
    return ""
