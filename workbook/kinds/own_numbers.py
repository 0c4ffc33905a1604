"""Reading a learner's own numbers for a kind's `carried` part: a step's boxes as rows, and the
bounds beyond which a number is not followed (a typo, a hostile file).

own_grid(learner, 'dispatch') -> {1: {1: Fraction(4), 2: Fraction(2)}, 2: {...}} from refs like
'dispatch[1][2]' (1-based). number(v) -> a Fraction or float of sensible size, else None;
whole(v) -> a whole number as an int, else None.
Leaves out: the steps themselves (each kind's carried part).
"""

import math
import re
from fractions import Fraction

_REF = re.compile(r"([a-z_0-9]+)\[(\d+)\]\[(\d+)\]")
MAX_NUMBER = 10 ** 6          # beyond this a number is not followed
MAX_DENOMINATOR = 10 ** 6     # nor a fraction with a larger denominator


def own_grid(learner: dict, step_id: str) -> dict:
    """{i: {j: value}} of one step's two-index boxes."""
    out: dict = {}
    for ref, v in learner.items():
        m = _REF.fullmatch(ref)
        if m and m.group(1) == step_id:
            out.setdefault(int(m.group(2)), {})[int(m.group(3))] = v
    return out


def number(v):
    """v when it is a number of sensible size (a Fraction or a finite float), else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, Fraction):
        return v if abs(v) <= MAX_NUMBER and v.denominator <= MAX_DENOMINATOR else None
    if isinstance(v, float):
        return v if math.isfinite(v) and abs(v) <= MAX_NUMBER else None
    return None


def whole(v):
    """v as an int when it is a whole number of sensible size, else None."""
    v = number(v)
    if v is None:
        return None
    if isinstance(v, float):
        return int(v) if v.is_integer() else None
    return int(v) if v.denominator == 1 else None


def row(grid: dict, i: int, n: int, read=number):
    """Row i's n values read by `read`, or None when one is missing or not such a number."""
    cells = grid.get(i, {})
    out = [read(cells.get(j)) for j in range(1, n + 1)]
    return None if any(v is None for v in out) else out


def one_row(learner: dict, step_id: str, n: int, read=number):
    """A one-row grid's n values ('load[1][j]'), or None."""
    return row(own_grid(learner, step_id), 1, n, read)


def one_value(learner: dict, step_id: str, read=number):
    """A one-box grid's value ('local_pairs[1][1]'), or None."""
    return read(learner.get(f"{step_id}[1][1]"))
