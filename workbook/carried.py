"""Carried errors: a wrong step that is right given the learner's own earlier (wrong) numbers.

The exercise's kind recomputes a step from what the learner wrote (its `carried` part: the
routing sheets follow their router chain and each expert's FFN); if the learner's step matches
that, it is marked "follows from your step N", a carried error rather than a new one. Leaves out: the common mistakes
(mistakes.py) and grading (check.py).
"""

from workbook.kinds import part
from workbook.layout import cells, step_id_of
from workbook.values import ABS_TOL, REL_TOL, expected, is_right

def carried(sol, sheet, step_id: str, learner: dict, abs_tol=ABS_TOL, rel_tol=REL_TOL) -> str:
    """'powers: follows from your step 1 ...' when the learner's wrong step is right given their own
    wrong earlier step, else ''. `learner` maps cell refs to parsed values. A step that cannot be
    recomputed from what the learner wrote (a zero to divide by, a value too large) is not followed."""
    recompute = part(sol.spec.kind, "carried")
    try:
        found = recompute(sol, step_id, learner) if recompute else None
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
