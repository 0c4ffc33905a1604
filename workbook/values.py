"""What a learner wrote, and when it counts as right: parsing a typed value and the tolerance rule.

An exact fraction equal to the key is right; so is a number within `abs_tol` or `rel_tol` of it
(0.01 and 1% by default). Shared by the terminal checker and the carried-error rules; the
interactive page's script applies the same rule. Leaves out: which boxes there are (check.py).
"""

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


def is_right(given, want, abs_tol=ABS_TOL, rel_tol=REL_TOL) -> bool:
    if want is None:
        return given is None
    if given is None or isinstance(given, str):
        return False
    if isinstance(given, Fraction) and isinstance(want, Fraction) and given == want:
        return True
    return abs(float(given) - float(want)) <= max(abs_tol, rel_tol * abs(float(want)))
