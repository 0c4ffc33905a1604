"""What a learner wrote, and when it counts as right: parsing a typed value and the tolerance rule.

An exact fraction equal to the key is right; so is a number within `abs_tol` or `rel_tol` of it
(0.01 and 1% by default), except where the key is a whole number (a count, an index, an integer
product): that must be exact. Shared by the terminal checker and the carried-error rules; the
interactive page's script applies the same rule. Leaves out: which boxes there are (check.py).
"""

import math
from fractions import Fraction

ABS_TOL, REL_TOL = 0.01, 0.01


def parse_value(value):
    """3 -> Fraction(3); '27/37' -> Fraction(27, 37); '−0.5' -> Fraction(-1, 2); 0.73 -> 0.73;
    '' -> None; 'abc' -> 'abc' (not a number: marked wrong)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return value
    text = str(value).strip().replace("−", "-").replace(",", ".").replace(" ", "")
    if not text:
        return None
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return text


def expected(cell):
    """A blank's key value: exact when the sheet knows it, else read from the printed answer."""
    if cell.value is not None:
        v = cell.value
        return Fraction(int(v.p), int(v.q)) if v.is_Rational else float(v)
    text = (cell.answer or cell.decimal).replace("−", "-").replace("≈", "").replace(",", "")
    if not text:
        return None
    try:
        return Fraction(text)
    except ValueError:
        return float(cell.decimal.replace("−", "-")) if cell.decimal else None


def is_right(given, want, abs_tol=ABS_TOL, rel_tol=REL_TOL, whole: bool = False) -> bool:
    """Right when equal to the key, or (unless `whole`: a count or index, which must be exact)
    within abs_tol or rel_tol of it. Anything that is not a finite number is wrong."""
    if want is None:
        return given is None
    if given is None or isinstance(given, str):
        return False
    if isinstance(given, Fraction) and isinstance(want, Fraction) and given == want:
        return True
    try:
        g, w = float(given), float(want)
    except (OverflowError, ValueError):
        return False
    if not (math.isfinite(g) and math.isfinite(w)):
        return False
    if whole:
        return g == w
    return abs(g - w) <= max(abs_tol, rel_tol * abs(w))


def is_whole_answer(cell) -> bool:
    """A box whose key is a whole number printed without decimals (a count, an index, an integer
    product): such answers must be exact, as in Moodle."""
    want = expected(cell)
    return isinstance(want, Fraction) and want.denominator == 1 and not cell.decimal
