"""Exact solution of one variant, step by step, checked against the float forward pass.

Every named intermediate a person writes down is a Step holding exact sympy values (Rational for
bases 2 and 3, exp() expressions for base e), from the exercise's kind (kinds/). solve() compares
every step with the kind's independent float computation (forward) and raises CheckError on any
disagreement, so a wrong key is never produced silently.
Leaves out: the exercises themselves (kinds/) and the sheet (sheet.py, render_*).
"""

from dataclasses import dataclass

import numpy as np

from workbook.code import encode
from workbook.errors import CheckError
from workbook.kinds import guarded, kind
from workbook.problem import Step
from workbook.spec import Spec

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Solution:
    spec: Spec
    code: str
    problem: object  # a Problem for routing kinds, the kind's own problem otherwise
    steps: tuple[Step, ...]

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    @property
    def has(self) -> frozenset:
        return frozenset(s.id for s in self.steps)


def generate_problem(spec: Spec):
    """The seeded problem of any exercise, from its kind."""
    return kind(spec.kind).generate(spec)


def solve(spec: Spec, problem=None) -> Solution:
    """Spec -> Solution with every step exact and cross-checked (raises CheckError)."""
    exercise = kind(spec.kind)
    with guarded(spec.kind, "generate()"):
        problem = problem or exercise.generate(spec)
    with guarded(spec.kind, "steps()"):
        steps = tuple(exercise.steps(spec, problem))
    with guarded(spec.kind, "forward()"):
        floats = exercise.forward(spec, problem)
    with guarded(spec.kind, "the check of its steps against forward()"):
        _cross_check(spec, steps, floats)
    return Solution(spec, encode(spec), problem, steps)


def leaves(value):
    """Flatten a ragged nested tuple/list/array: ((1, 2), (3,)) -> 1, 2, 3."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        yield from value.ravel().tolist()  # a numeric array's leaves at once, not item by item
    elif isinstance(value, (tuple, list, np.ndarray)):
        for item in value:
            if isinstance(item, (tuple, list, np.ndarray)):
                yield from leaves(item)
            else:  # a scalar: yielded here, not through a generator of its own
                yield item
    else:
        yield value


def _float(value) -> float:
    """float(value); a rational's as p / q (Python divides integers correctly rounded, as sympy
    does, without its arbitrary-precision detour)."""
    p, q = getattr(value, "p", None), getattr(value, "q", None)
    if type(p) is int and type(q) is int:
        return p / q
    return float(value)


def _cross_check(spec: Spec, steps, floats: dict) -> None:
    for step in steps:
        if step.id not in floats:
            raise CheckError(f"exercise {spec.kind}: forward() has no step {step.id!r} to check the exact one against")
        expected = floats[step.id] if step.id != "dropped" else [floats["dropped"]]
        exact = [_float(v) for v in leaves(step.exact)]
        approx = [float(v) for v in leaves(expected)]
        if len(exact) != len(approx) or any(abs(a - b) > TOLERANCE * max(1.0, abs(b))
                                            for a, b in zip(exact, approx)):
            raise CheckError(f"exercise {spec.kind}, step {step.id!r}: exact and float computations disagree "
                             f"for variant {encode(spec)} — please report this")
