"""The interactive worksheet: one self-contained HTML file where every blank is an input box.

It is the worksheet template with an input in each blank (templates/interactive.html extends
worksheet.html), plus a script: "Check" marks each box right or wrong with the tolerance of
`moe-workbook check` and says why, row by row as `check` does (diagnosis.py), each row holding a
box typed wrong is wrong: a carried error (the row right from the learner's own earlier numbers),
one of the common mistakes (whose numbers are computed here in Python by solving the problem the
wrong way), else none of them; rows with one cause are merged, in the sheet's words ('3^(s − row
min), t1: e used where ...'). Unlike `check`, a row left empty is not explained, and a mistake
is not tried on the learner's own earlier numbers; "Show step"
fills in one step from the key; "Show working" shows the step's worked solution (solutions.py,
checked against the key) under it; "Save my answers" downloads the answer file `check` and `grade`
read (the code, the typed name, every box as typed). The key travels inside the page scrambled (XOR with a key made
from the variant code, then base64), so it is not there as plain text. Works offline: nothing is
loaded from anywhere. Leaves out: grading on the server side (check.py does that in a terminal).
"""

import base64
import hashlib
import json
from fractions import Fraction

from workbook import __version__
from workbook.check import groups, mistaken_cells
from workbook.diagnosis import _Context
from workbook.layout import cells, step_id_of
from workbook.mistakes import made
from workbook.kinds import part
from workbook.values import ABS_TOL, REL_TOL, box_tolerance, expected, is_whole_answer
from workbook.render_html import PAGE_SIZES, environment
from workbook.solutions import sections, worked


def _number(value):
    if value is None:
        return None
    if isinstance(value, Fraction):
        return [value.numerator, value.denominator]
    return float(value)


def _typeable(cell) -> str:
    """What "Show step" types: the exact answer when it is a plain number or fraction ('27/37'),
    else its decimal ('ln(34)' -> '3.53')."""
    answer = cell.answer.replace("−", "-").replace("≈", "")
    try:
        Fraction(answer)
        return answer
    except ValueError:
        return cell.decimal.replace("−", "-").replace("≈", "")


def key_data(sol, sheet) -> dict:
    """Everything the page's script needs: each blank's value and shown text, its step, the
    numbers each common mistake would have put in a step's boxes, and the sheet's words for a
    row ({'powers[5]': 't5'}) and a step's grid ({'powers': '3^(s − row min)'})."""
    blanks = [c for c in cells(sheet.sections) if c.blank]
    numbers = {}
    for section in sheet.sections:
        for c in cells((section,)):
            if c.blank:
                numbers.setdefault(id(c), section.number)
    index = {}
    for i, c in enumerate(blanks):
        index.setdefault(c.ref, i)
    mistakes = []
    order = [s.id for s in sol.steps]
    for name, changed in made(sol):
        boxes = {}  # step id -> {box index: value}, or None when the mistake cannot be written here
        for step_id in changed:
            wrong = mistaken_cells(sol, changed, step_id) or {}
            written = {ref: v for ref, v in wrong.items() if v is not None}
            if not wrong or not all(ref in index for ref in written):
                boxes[step_id] = None
                continue
            own = {i: None for i, c in enumerate(blanks) if step_id_of(c.ref) == step_id}  # the rest stays empty
            boxes[step_id] = own | {index[ref]: _number(v) for ref, v in written.items()}
        for step_id, cells_ in boxes.items():
            if cells_ is not None:  # with the mistake's earlier steps, which the page prefers (as check.py)
                earlier = {i: v for s in changed if order.index(s) < order.index(step_id) and boxes[s]
                           for i, v in boxes[s].items()}
                mistakes.append({"name": name, "step": step_id, "cells": cells_, "earlier": earlier})
    page_experts = part(sol.spec.kind, "page_experts")
    experts = page_experts(sol) if page_experts else []
    working = {str(n): [{"meaning": w.meaning, "lines": [ln.text for ln in w.lines]} for w in items]
               for n, items in sections(sheet, worked(sol, sheet)).items() if items}
    # "Save my answers": each table of the answer file as rows of input numbers (its boxes are the
    # sheet's blanks, grid by grid, in the order the page has their inputs)
    count = iter(range(len(blanks)))
    tables = [{"key": g.key, "rows": [[next(count) for _ in row] for row in g.rows]} for g in groups(sheet)]
    # the sheet's words for a wrong row, as `check` writes them (diagnosis.py): each row's label
    # ('t5', 'E1 row 2') and each step's grid name ('3^(s − row min)')
    words = _Context(sol, sheet, {}, ABS_TOL, REL_TOL)
    return {"code": sheet.code, "rows": words.label, "names": words.symbol, "gate": sol.spec.params.get("gate", ""), "abs": ABS_TOL, "rel": REL_TOL,
            "experts": experts, "working": working, "groups": tables,
            "renormalize": bool(sol.spec.params.get("renormalize", False)),
            "cells": [{"ref": c.ref, "sid": step_id_of(c.ref), "step": numbers[id(c)], "want": _number(expected(c)),
                       "whole": is_whole_answer(c), "abs": box_tolerance(c), "show": _typeable(c)} for c in blanks],
            "mistakes": mistakes}


def scramble(data: dict, code: str) -> str:
    """JSON -> XOR with a SHA-256 keystream of the code -> base64 (the script reverses it)."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    stream = hashlib.sha256(code.encode()).digest()
    return base64.b64encode(bytes(b ^ stream[i % 32] for i, b in enumerate(raw))).decode()


def render_interactive(sol, sheet) -> str:
    """Solution + its sheet -> the interactive HTML page."""
    template = environment().get_template("interactive.html")
    return template.render(sheet=sheet, page_size=PAGE_SIZES[sheet.paper], version=__version__,
                           drawn=False, pair=False,  # a table keeps an input in every blank, whatever the revision
                           key_blob=scramble(key_data(sol, sheet), sheet.code),
                           key_stream=list(hashlib.sha256(sheet.code.encode()).digest()))
