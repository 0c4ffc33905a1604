"""How a wrong box is worked: the worked line `check` prints under a step's first wrong box.

The line is the worked solution's (solutions.py) for that very box, or for the first box of its
row when the working writes out one box per row. When the step's error is carried (the step is
right given the learner's own earlier numbers, diagnosis.py), the line is worked again with those
numbers: the kind's working() run on the solution with the learner's earlier boxes in place of
the key's, so the learner sees their own numbers go through the right operation. That line is not
checked against the key (its numbers are the learner's); the key's line is.
Leaves out: grading (check.py), the lines themselves (kinds/, working.py).
"""

import sympy
from sympy.parsing.sympy_parser import parse_expr

from workbook.diagnosis import with_learner
from workbook.kinds import part
from workbook.layout import step_id_of
from workbook.solutions import READ, worked
from workbook.working import shown

def how(sol, sheet, report, number: int) -> str:
    """'P[t2,E1] = power / Σ t2 = 81/94 ≈ 0.86' for step `number`'s first wrong box; prefixed
    'with your numbers: ' when the step's error is carried; '' when there is no wrong box or no line."""
    mine = [c for c in report.cells if c.key.split("_")[0] == f"step{number}" and not c.right]
    wrong = next((c for c in mine if c.given is not None), mine[0] if mine else None)  # a written box first
    step = next((s for s in report.steps if s.number == number), None)
    if wrong is None or step is None:
        return ""
    key_line, row_only = _line_for([ln for w in worked(sol, sheet) for ln in w.lines], wrong.ref)
    if key_line is None:
        return ""
    text = key_line.text
    sid = step_id_of(wrong.ref)
    if any(r.startswith(f"{sid}: follows from your step") for r in step.reasons):
        mine = _worked_with(sol, {c.ref: c.given for c in report.cells}, sid)
        line, _ = _line_for(mine, wrong.ref) if mine else (None, False)
        line = _revalued(line) if line is not None else None
        if line is not None:
            text = f"with your numbers: {line}"
    return text + (" (each box of the row works the same way)" if row_only else "")


def _revalued(line):
    """A line worked with the learner's numbers ends in the key's value (the kind takes a step's
    own value from the key): its expression, evaluated, gives the value those numbers lead to.
    None for a line that cannot be (a claim, whose expression is its value)."""
    ending = shown(line.value) if line.expression and not isinstance(line.value, tuple) else ""
    if not ending or not line.text.endswith(ending) or line.expression == str(line.value):
        return None
    try:
        value = parse_expr(line.expression, transformations=READ)
    except Exception:  # an expression the learner's numbers break (a division by zero): no line
        return None
    if not value.is_number or value.has(sympy.zoo, sympy.nan):
        return None
    return line.text[: -len(ending)] + shown(sympy.nsimplify(value) if value.is_Float else value)


def _line_for(lines, ref: str):
    """The line that fills box `ref`, else the one for the first box of its row: (line, row_only)."""
    for ln in lines:
        if ref in ln.cells:
            return ln, False
    row = ref.rsplit("[", 1)[0] + "["
    for ln in lines:
        if any(c.startswith(row) and c.count("[") == ref.count("[") for c in ln.cells):
            return ln, True
    return None, False


def _worked_with(sol, learner: dict, step_id: str):
    """The kind's working lines with the learner's numbers in every step before `step_id`
    (their boxes that hold a number; the key's value elsewhere); None when it cannot be worked."""
    make = part(sol.spec.kind, "working")
    mine = with_learner(sol, learner, before=step_id) if make else None
    if mine is None:
        return None
    try:
        return [ln for w in make(mine) for ln in w.lines]
    except Exception:  # the learner's numbers may not fit the working (a fraction where an index goes): the key's line
        return None
