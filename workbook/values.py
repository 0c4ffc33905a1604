"""What a learner wrote, and when it counts as right: parsing a typed value and the tolerance rule.

A fraction equal to the key is right, and a fraction is an exact claim: one that is not equal is
wrong, however close. A decimal (or whole number) within `abs_tol` or `rel_tol` of the key is right
(0.01 and 1% by default; the 0.01 never more than one unit of the last decimal the key prints,
so '0.001' for a key of −0.001 is wrong), except where the key is a whole number (a count, an
index, an integer product): that must be exact. A box holding more than anyone writes by hand (over 64 characters,
an exponent beyond ±30, a magnitude over 10^30, a fraction with a part over 10^30, NaN or
infinity) is not computed at all: it is wrong; '24,576' (a thousands separator or a decimal comma?)
is refused. Shared by the terminal checker and the carried-error rules; the interactive page's
script applies the same tolerance, but reads '24,576' as 24.576 and has no length or exponent
limit (templates/interactive.html). Leaves out: which boxes there are (check.py).
"""

import math
import re
from fractions import Fraction

from workbook.errors import SpecError, quoted

ABS_TOL, REL_TOL = 0.01, 0.01
MAX_TEXT = 64        # characters in one box: far more than any hand-written number
MAX_EXPONENT = 30    # 1e30: far beyond any value of a sheet, and cheap to compute exactly
MAX_MAGNITUDE = 10 ** MAX_EXPONENT

_EXPONENT = re.compile(r"[eE]([-+]?\d[\d_]*)\Z")
# a comma that may be a thousands separator: after 1 to 3 digits (not a lone 0), before exactly 3
_THOUSANDS = re.compile(r"(?<![\d.])[1-9]\d{0,2},\d{3}(?!\d)")
_COMMA_NUMBER = re.compile(r"[-+]?[0-9,]+(\.[0-9]*)?([eE][-+]?[0-9]+)?")  # a number, if its commas are read


class Exact(Fraction):
    """A value written as a fraction ('3/115'): an exact claim, right only when it equals the key
    (a decimal, '0.03', is judged with the tolerance). Arithmetic on it gives plain Fractions."""


class AmbiguousValue(SpecError):
    """A box whose text reads two ways ('24,576': 24576 or 24.576); the message says how to write it."""


def parse_value(value):
    """3 -> Fraction(3); '27/37' -> Fraction(27, 37); '−0.5' -> Fraction(-1, 2); '0,73' -> Fraction(73, 100);
    0.73 -> 0.73; '' -> None; 'abc' -> 'abc' (not a number: marked wrong); '1e400', 'nan' and 10**50
    -> a string too (wrong, never computed); '24,576' and '1,234,567' raise AmbiguousValue."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return Fraction(value) if abs(value) <= MAX_MAGNITUDE else _whole_marker(value)
    if isinstance(value, float):
        return value if math.isfinite(value) and abs(value) <= MAX_MAGNITUDE else repr(value)
    text = str(value).strip().replace("−", "-").replace(" ", "")
    if not text:
        return None
    if len(text) > MAX_TEXT:
        return text  # not computed: wrong
    if "," in text:
        if text.count(",") > 1 or _THOUSANDS.search(text):
            if not _COMMA_NUMBER.fullmatch(text):
                return text  # not a number either way: wrong
            raise AmbiguousValue(_ambiguous(text))
        text = text.replace(",", ".")
    exponent = _EXPONENT.search(text)
    if exponent and abs(int(exponent.group(1))) > MAX_EXPONENT:
        return text
    try:
        number = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return text
    if abs(number) > MAX_MAGNITUDE or ("/" in text and any(abs(int(part)) > MAX_MAGNITUDE
                                                           for part in text.split("/"))):
        return text
    return Exact(number) if "/" in text else number


def _whole_marker(value: int) -> str:
    """A whole number too large to be an answer, as the text that stands for it (str() of an int
    over 4300 digits raises)."""
    try:
        return str(value)
    except ValueError:
        return f"a whole number of about {int(value.bit_length() * math.log10(2)) + 1} digits"


def _ambiguous(text: str) -> str:
    """'24,576' -> "'24,576' is ambiguous (...): write 24576 or 24.576"."""
    plain = text.replace(",", "")
    if text.count(",") == 1:
        return (f"{quoted(text)} is ambiguous (a thousands separator or a decimal comma?): "
                f"write {plain} or {text.replace(',', '.')}")
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        return f"{quoted(text)} is ambiguous (thousands separators?): write {plain}, without commas"
    return f"{quoted(text)} is ambiguous (more than one comma): write one number, with a dot for decimals"


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
    within abs_tol or rel_tol of it. A fraction the learner wrote (Exact) is an exact claim: right
    only when it equals an exact key ('3/115' for 3/121 is wrong, however close). Anything that is
    not a finite number is wrong. A box that stays empty is right left empty or holding the key's
    word for it, 'none'."""
    if want is None:
        return given is None or (isinstance(given, str) and given.strip().lower() == "none")
    if given is None or isinstance(given, str):
        return False
    if isinstance(given, Fraction) and isinstance(want, Fraction) and given == want:
        return True
    if isinstance(given, Exact) and isinstance(want, Fraction):
        return False
    try:
        g, w = float(given), float(want)
    except (OverflowError, ValueError):
        return False
    if not (math.isfinite(g) and math.isfinite(w)):
        return False
    if whole:
        return g == w
    return abs(g - w) <= max(abs_tol, rel_tol * abs(w))


def box_tolerance(cell, abs_tol=ABS_TOL) -> float:
    """The absolute tolerance of one box: `abs_tol`, but never more than one unit of the last
    decimal place its key prints ('−0.001' -> 0.001, '0.0137' -> 0.0001), so that a small value
    with its sign wrong, or a fourth decimal asked for and missed, is not taken as right."""
    text = (cell.answer or cell.decimal).replace("−", "-").replace("≈", "").strip()
    match = re.fullmatch(r"[-+]?[\d,]*\.(\d+)", text)
    return min(abs_tol, 10.0 ** -len(match.group(1))) if match else abs_tol


def is_whole_answer(cell) -> bool:
    """A box whose key is a whole number printed without decimals (a count, an index, an integer
    product): such answers must be exact, as in Moodle."""
    want = expected(cell)
    return isinstance(want, Fraction) and want.denominator == 1 and not cell.decimal
