"""The microscaling sheet's carried errors: a step worked again from the learner's own numbers.

The exponent from their amax, the scale from their exponent (MXFP4) or amax (FP8), the E8M0 byte
from their exponent, the scaled values from their scale, the neighbours and the rounding from their
scaled values, ŵ from their q and scale, the error from their ŵ. So a wrong scale is followed into
every later row of its block. Bounded: a box beyond ±10⁶ (or with a denominator beyond it) is not
followed. Leaves out: the memory steps (each box stands alone) and the arithmetic's rules
(microscaling_formats.py).
"""

import re
from fractions import Fraction

from workbook.kinds.microscaling_formats import E2M1, E4M3, nearest, neighbours

_MAX = 10**6
_REF = re.compile(r"(\w+?)((?:\[\d+\])+)")


def _number(v):
    """A box as a Fraction (a float as the decimal it was written as, 2.5 -> 5/2), or None."""
    if isinstance(v, float):
        v = Fraction(str(v)) if abs(v) <= _MAX else None
    if isinstance(v, Fraction) and abs(v) <= _MAX and v.denominator <= _MAX:
        return v
    return None


def _boxes(learner: dict, step_id: str) -> dict:
    """{(index, ...) 0-based: Fraction} of one step's boxes that hold a number."""
    out = {}
    for ref, v in learner.items():
        m = _REF.fullmatch(ref)
        if m and m.group(1) == step_id and _number(v) is not None:
            out[tuple(int(i) - 1 for i in m.group(2)[1:-1].split("]["))] = _number(v)
    return out


def _per_block(learner: dict, step_id: str, B: int):
    """One number per block (its box `step[b][1]`), or None when a box is empty or not a number."""
    found = _boxes(learner, step_id)
    return [found[(b, 0)] for b in range(B)] if all((b, 0) in found for b in range(B)) else None


def _pairs(found: dict):
    """The (block, value) boxes of a step's numbers; a box with another number of indices left out."""
    return [(at, v) for at, v in found.items() if len(at) == 2]


def carried(sol, step_id: str, learner: dict):
    """(source step(s), {ref: value}) of `step_id` from the learner's own earlier numbers, or None."""
    from workbook.kinds.microscaling import floor_log2

    mx = sol.spec["format"] == "mxfp4"
    V = sol.problem.values()
    B = len(V)
    grid = E2M1 if mx else E4M3
    if step_id == "exponent" or (step_id == "scale" and not mx):
        amax = _per_block(learner, "amax", B)
        if not amax or any(a <= 0 for a in amax):
            return None
        f = (lambda a: Fraction(floor_log2(a))) if step_id == "exponent" else (lambda a: a / 448)
        return "amax", {f"{step_id}[{b + 1}][1]": f(a) for b, a in enumerate(amax)}
    if step_id in ("scale", "e8m0"):
        k = _per_block(learner, "exponent", B)
        if not k or any(e.denominator != 1 or abs(e) > 64 for e in k):
            return None
        f = (lambda e: Fraction(2) ** int(e - 2)) if step_id == "scale" else (lambda e: e - 2 + 127)
        return "exponent", {f"{step_id}[{b + 1}][1]": f(e) for b, e in enumerate(k)}
    if step_id == "scaled":
        x = _per_block(learner, "scale", B)
        if not x or any(v == 0 for v in x):
            return None
        return "scale", {f"scaled[{b + 1}][{j + 1}]": v / x[b] for b, row in enumerate(V) for j, v in enumerate(row)}
    if step_id in ("lower", "upper", "q"):
        y = _boxes(learner, "scaled")
        pick = {"lower": lambda v: neighbours(v, grid)[0], "upper": lambda v: neighbours(v, grid)[1],
                "q": lambda v: nearest(v, grid)}[step_id]
        found = {f"{step_id}[{b + 1}][{j + 1}]": pick(v) for (b, j), v in _pairs(y)}
        return ("scaled", found) if found else None
    if step_id == "w_hat":
        q, x = _boxes(learner, "q"), _per_block(learner, "scale", B)
        if not q or not x:
            return None
        found = {f"w_hat[{b + 1}][{j + 1}]": v * x[b] for (b, j), v in _pairs(q) if b < B}
        return (("q", "scale"), found) if found else None
    if step_id == "error":
        w_hat = _boxes(learner, "w_hat")
        found = {f"error[{b + 1}][{j + 1}]": V[b][j] - v for (b, j), v in _pairs(w_hat) if b < B and j < len(V[b])}
        return ("w_hat", found) if found else None
    return None
