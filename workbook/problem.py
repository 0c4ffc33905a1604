"""A generated problem: the integer inputs of one variant. Plain, frozen data.

Leaves out: how the numbers are chosen (generate.py) and what follows from them (solve.py).
"""

from dataclasses import dataclass

Matrix = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Expert:
    """One ReLU FFN: FFN(x) = ReLU(x W1 + b1) W2 + b2, with W1 d x h and W2 h x d."""

    W1: Matrix
    b1: tuple[int, ...]
    W2: Matrix
    b2: tuple[int, ...]


@dataclass(frozen=True)
class Problem:
    """X (T x d), the router W_router (E x d) and, when the FFN part is on, one Expert per expert."""

    X: Matrix
    W_router: Matrix
    experts: tuple[Expert, ...] = ()


def as_matrix(rows) -> Matrix:
    """[[1, -2], [0, 3]] (lists or arrays) -> ((1, -2), (0, 3)) of plain ints."""
    return tuple(tuple(int(v) for v in row) for row in rows)
