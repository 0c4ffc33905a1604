"""Worked solutions of one variant: its kind's working for every step, checked like the key.

Every line is computed by the kind (kinds/, built with working.py), never typed; this module
refuses any line (CheckError) whose expression, parsed by sympy, is not its value, or whose value
is not the key's value in every box the line names. So a worked solution can be wrong no more than
the key. `sections` places each step's working under the sheet's step that holds its boxes.
Leaves out: which lines a kind writes (kinds/), the lines' pieces (working.py), drawing (render_*).
"""

from fractions import Fraction
from functools import lru_cache

import sympy
from sympy.parsing.sympy_parser import parse_expr, rationalize, standard_transformations

from workbook.errors import CheckError
from workbook.kinds import guarded, part
from workbook.layout import Sheet, cells, faded_rows, scaffolded, step_id_of
from workbook.solve import Solution
from workbook.values import expected
from workbook.working import Working

PRECISION = 40  # digits to which a base-e line must agree with its box
READ = standard_transformations + (rationalize,)  # as sympify(text, rational=True) reads it: 0.8 -> 4/5


@lru_cache(maxsize=1 << 16)
def _parsed(expression: str):
    """An expression as sympy reads it; the same text recurs from variant to variant (a row
    sum of 27 + 9 + 1 + 3): read once, its value kept (sympy values never change)."""
    return parse_expr(expression, global_dict=_names(), transformations=READ)


@lru_cache(maxsize=1)
def _names() -> dict:
    """sympy's names, gathered once (parse_expr would import them again for every line)."""
    names: dict = {}
    exec("from sympy import *", names)  # noqa: S102 (a fixed import, no input)
    return names


def worked(sol: Solution, sheet: Sheet) -> tuple[Working, ...]:
    """Every step's working, in step order, each line checked against `sheet`'s key (CheckError
    otherwise); () for a kind without working."""
    make = part(sol.spec.kind, "working")
    if make is None:
        return ()
    with guarded(sol.spec.kind, "working()"):
        found = tuple(make(sol))
    boxes = {c.ref: c for c in cells(sheet.sections) if c.blank and c.ref}
    for item in found:
        for ln in item.lines:
            _check(sol, item.step, ln, boxes)
    return found


def sections(sheet: Sheet, working: tuple[Working, ...]) -> dict[int, tuple[Working, ...]]:
    """{section number: the working of the steps whose boxes it holds}; a step with no box on the
    sheet goes with the section before it."""
    home = {}
    for section in sheet.sections:
        for cell in cells((section,)):
            if cell.ref:
                home.setdefault(step_id_of(cell.ref), section.number)
    out: dict[int, list] = {s.number: [] for s in sheet.sections}
    last = sheet.sections[0].number if sheet.sections else 0
    for item in working:
        last = home.get(item.step, last)
        out.setdefault(last, []).append(item)
    return {n: tuple(items) for n, items in out.items()}


def scaffold(sol: Solution, sheet: Sheet, level: str) -> Sheet:
    """layout.scaffolded, with the faded scaffold's worked examples worked out for it."""
    examples = first_rows(sheet, worked(sol, sheet)) if level == "faded" else ()
    return scaffolded(sheet, level, examples)


def first_rows(sheet: Sheet, working: tuple[Working, ...]) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """The faded scaffold's worked examples: per step number, the lines that fill a box of the
    first row of a grid it fills (layout.faded_rows), in working order."""
    out = []
    for section in sheet.sections:
        firsts = {c.ref for board in section.boards for row in board.panels for panel in row
                  if faded_rows(panel) for c in panel.cells[0] if c.blank}
        lines = tuple(ln.text for w in working for ln in w.lines if firsts.intersection(ln.cells))
        if lines:
            out.append((section.number, lines))
    return tuple(out)


def _check(sol: Solution, step: str, ln, boxes: dict) -> None:
    where = f"exercise {sol.spec.kind}, variant {sol.code}, step {step!r}: the worked line {ln.text!r}"
    if not ln.expression:
        if ln.cells:
            raise CheckError(f"{where} names boxes but gives no expression")
        return
    try:
        parsed = _parsed(ln.expression)
    except (sympy.SympifyError, SyntaxError, TypeError, NameError) as err:
        raise CheckError(f"{where} has an expression sympy cannot read: {err}") from None
    values = ln.value if isinstance(ln.value, tuple) else (ln.value,)
    parsed = tuple(parsed) if isinstance(parsed, (tuple, sympy.Tuple)) else (parsed,)
    if len(parsed) != len(values) or not all(_same(a, b) for a, b in zip(parsed, values)):
        raise CheckError(f"{where}: its expression {ln.expression!r} is not its value {ln.value}")
    if ln.cells and len(ln.cells) != len(values):
        if len(values) != 1:
            raise CheckError(f"{where} names {len(ln.cells)} boxes for {len(values)} values")
        values = values * len(ln.cells)
    for ref, value in zip(ln.cells, values):
        box = boxes.get(ref)
        if box is None:
            raise CheckError(f"{where} names {ref}, which is not a box of the sheet")
        want = box.value if box.value is not None else expected(box)
        if want is None or not _same(value, want):
            raise CheckError(f"{where} gives {value} for {ref}, whose key holds {want}")


def _same(a, b) -> bool:
    """Exact equality of two values (sympy numbers or Fractions); base-e ones to 40 digits."""
    if isinstance(b, Fraction):
        b = sympy.Rational(b.numerator, b.denominator)
    elif isinstance(b, float):
        return abs(float(a) - b) <= 1e-9 * max(1.0, abs(b))
    a, b = sympy.sympify(a), sympy.sympify(b)
    if a.is_Rational and b.is_Rational:
        return a == b
    return abs(sympy.N(a - b, PRECISION)) < sympy.Rational(1, 10 ** (PRECISION - 5))
