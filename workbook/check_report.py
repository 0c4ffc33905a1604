"""A checked answer file as data: `check --json` and the gradebook read the same report.

Schema `moe-workbook-check/1` (the README documents it): the variant, the score, and per step its
score, its findings (why, row by row: diagnosis.py) and every box that counts, in the sheet's
words and in the answer file's places. Values are text: a fraction as '27/37', a decimal as
written, an empty box as null. Leaves out: grading itself (check.py, diagnosis.py).
"""

import json
import math
from fractions import Fraction

from workbook.check import Report, where

SCHEMA = "moe-workbook-check/1"


def _text(value):
    """A box's value as text: '27/37', '0.73', 'abc' (what was written and is not a number), None."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)[:80]


def report_dict(sol, sheet, report: Report) -> dict:
    words = where(sheet)
    steps = []
    for step in report.steps:
        boxes = [c for c in report.cells if c.key.split("_")[0] == f"step{step.number}"]
        steps.append({
            "number": step.number, "title": step.title, "right": step.right, "total": step.total,
            "findings": [{"grid": f.symbol, "rows": list(f.rows), "row_refs": list(f.keys), "cause": f.cause or None,
                          "carried_from": f.source or None, "own_numbers": f.own, "slip": f.slip, "empty": f.empty, "text": f.text()}
                         for f in step.findings],
            "boxes": [{"ref": c.ref, "where": words.get(c.ref, c.ref),
                       "file": {"table": c.key, "row": c.row, "box": c.col},
                       "given": _text(c.given), "key": _text(c.want), "right": c.right} for c in boxes],
        })
    return {"schema": SCHEMA, "code": sol.code, "exercise": sol.spec.kind, "title": sheet.title,
            "right": report.right, "total": len(report.cells), "all_right": report.all_right, "steps": steps}


def report_json(sol, sheet, report: Report) -> str:
    return json.dumps(report_dict(sol, sheet, report), ensure_ascii=False, indent=1) + "\n"
