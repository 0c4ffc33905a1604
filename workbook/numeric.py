"""Float helpers shared by the kinds' independent NumPy computations and generators.

softmax with any base by the route real code takes (softmax_b(s) = softmax(s ln b)), rounding as
a person does, and the "well separated" test that keeps selections readable at 2 decimals.
Leaves out: any exercise's own computation (kinds/).
"""

import math

import numpy as np

from workbook.spec import GATE_BASE


def log_base(gate: str) -> float:
    """'softmax3' -> ln 3."""
    base = GATE_BASE[gate]
    return 1.0 if base == "e" else math.log(base)


def softmax_rows(scores: np.ndarray, gate: str) -> np.ndarray:
    """[[3, 1, 0]] with softmax3 -> [[27/37, 3/37, 1/37]] as floats (max-shifted, natural exp)."""
    z = scores * log_base(gate)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def round2(x: float) -> float:
    """Round half up to 2 decimals, as a person does: 0.125 -> 0.13."""
    return math.floor(x * 100 + 0.5 + 1e-9) / 100


def well_separated(values) -> bool:
    """Sorted descending, neighbours differ by >= 0.01 and stay in order at 2 decimals."""
    v = sorted(values, reverse=True)
    return all(a - b >= 0.01 - 1e-12 and round2(a) > round2(b) for a, b in zip(v, v[1:]))


def well_separated_rows(values: np.ndarray, n: int) -> np.ndarray:
    """well_separated of each row's n largest values, for many rows at once (the same tests on the
    same floats): a boolean per row."""
    v = -np.sort(-values, axis=1)[:, :n]
    r = np.floor(v * 100 + 0.5 + 1e-9) / 100
    return ((v[:, :-1] - v[:, 1:] >= 0.01 - 1e-12) & (r[:, :-1] > r[:, 1:])).all(axis=1)
