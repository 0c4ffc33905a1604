"""The two small floating-point formats of the microscaling sheet, exactly: FP4 E2M1 and FP8 E4M3.

Each format is its list of non-negative values in order; the value at an even place of that list
has an even mantissa (0, 1, 2, 4 of E2M1: its last bit is 0), which is what "ties to even" picks.
Rounding is to the nearest value, a tie to the even one, a value past the largest clamped to it
(MXFP4 clamps to ±6; E4M3 "fn" has no infinities, so it saturates at ±448 the same way). All in
Fraction, so the sheet's exact steps and `carried` share one rule. Leaves out: the scales, the
sheet and the floats (microscaling.py's forward takes its own route).
"""

from bisect import bisect_left
from fractions import Fraction

# FP4 E2M1 (OCP MX v1.0): exponent bias 1, subnormal 0.5, largest 1.5 · 2^2 = 6.
E2M1 = tuple(Fraction(v) for v in ("0", "0.5", "1", "1.5", "2", "3", "4", "6"))
# FP8 E4M3 "fn": subnormals m · 2^-9 (m = 0..7), normals (1 + m/8) · 2^(e − 7) for e = 1..15,
# except e = 15, m = 7 (S.1111.111, NaN): largest 1.75 · 2^8 = 448.
E4M3 = tuple([Fraction(m, 2**9) for m in range(8)]
             + [Fraction(8 + m, 8) * Fraction(2) ** (e - 7) for e in range(1, 16) for m in range(8)
                if (e, m) != (15, 7)])
VALUES = {"mxfp4": E2M1, "fp8-e4m3": E4M3}
_E2M1_ON = E2M1 + tuple(Fraction(v) for v in (8, 12, 16, 24))  # exponents 3 and 4, for the mistake


def neighbours(x: Fraction, grid: tuple) -> tuple[Fraction, Fraction]:
    """The representable values just below and just above x (both x when it is one), signed,
    within ±largest: 307 in E4M3 -> (288, 320); −307 -> (−320, −288); 2.5 in E2M1 -> (2, 3)."""
    top = grid[-1]
    a = min(abs(Fraction(x)), top)
    i = bisect_left(grid, a)
    low, high = (grid[i], grid[i]) if grid[i] == a else (grid[i - 1], grid[i])
    return (low, high) if x >= 0 else (-high, -low)


def nearest(x: Fraction, grid: tuple, ties: str = "even") -> Fraction:
    """The nearest value, clamped to ±largest; a tie to the even mantissa (ties='even') or away
    from zero (ties='away'): 2.5 -> 2, 5 -> 4, 7 -> 6 (clamped), −0.25 -> 0; 272 in E4M3 -> 256."""
    a = min(abs(Fraction(x)), grid[-1])
    i = bisect_left(grid, a)
    if grid[i] == a:
        q = a
    else:
        low, high = grid[i - 1], grid[i]
        if a - low != high - a:
            q = low if a - low < high - a else high
        elif ties == "away":
            q = high
        else:
            q = low if (i - 1) % 2 == 0 else high
    return q if x >= 0 else -q


def toward_zero(x: Fraction, grid: tuple) -> Fraction:
    """The neighbour nearer 0 (truncation): 307 -> 288, −307 -> −288."""
    low, high = neighbours(x, grid)
    return low if x >= 0 else high


def unbounded_fp4(x: Fraction) -> Fraction:
    """E2M1 rounding as if the exponent went on past 2 (no clamp at 6): 7 -> 8 (a tie, to the
    even 8 = 1.0 · 2^3), 7.5 -> 8, 6.5 -> 6; below 6 as `nearest`."""
    return nearest(x, _E2M1_ON)


def is_even(value: Fraction, grid: tuple) -> bool:
    """Whether a representable value has an even mantissa (its place in the list is even)."""
    return grid.index(abs(value)) % 2 == 0
