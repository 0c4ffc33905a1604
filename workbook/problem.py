"""A generated problem (the inputs of one variant) and a solved Step. Plain, frozen data.

Leaves out: how the numbers are chosen (each kind in kinds/) and what follows from them (solve.py).
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
    """X (T x d), the router W_router (E x d) and, when the FFN part is on, one Expert per expert.

    `jitter` (switch, when asked): the multipliers u (T x d) in tenths, 11 meaning 1.1."""

    X: Matrix
    W_router: Matrix
    experts: tuple[Expert, ...] = ()
    jitter: Matrix = ()

    def inputs(self) -> dict:
        """The inputs as plain JSON data, in the contract's names."""
        data = {"X": [list(r) for r in self.X], "W_router": [list(r) for r in self.W_router],
                "experts": [{"W1": [list(r) for r in ex.W1], "b1": list(ex.b1),
                             "W2": [list(r) for r in ex.W2], "b2": list(ex.b2)} for ex in self.experts]}
        if self.jitter:
            data["jitter"] = [[v / 10 for v in r] for r in self.jitter]
        return data


def as_matrix(rows) -> Matrix:
    """[[1, -2], [0, 3]] (lists or arrays) -> ((1, -2), (0, 3)) of plain ints."""
    return tuple(tuple(int(v) for v in row) for row in rows)


@dataclass(frozen=True)
class Step:
    """One named result: `exact` is a (possibly ragged) nested tuple of sympy numbers."""

    id: str
    title: str
    instruction: str
    exact: tuple
    index: bool = False  # 1-based indices or counts rather than quantities
