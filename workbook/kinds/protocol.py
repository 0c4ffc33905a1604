"""The one protocol every exercise kind follows, written down once.

A kind is a module (the R/exams way: one exercise, one file) with the parts below. The pipeline
(spec, code, solve, sheet, check, the renderers) reaches a kind only through these names, via
the registry in kinds/__init__.py; it never names a kind. Optional parts may be left out: the
pipeline then does the generic thing (said on each). docs/writing-an-exercise.md walks through a
whole small kind. Leaves out: any implementation (see token_choice.py, load_balance.py, ...).
"""

from typing import Any, Callable, Iterable, Mapping, Protocol

import numpy as np

from workbook.layout import Board
from workbook.problem import Step
from workbook.spec import Param, Spec


class Kind(Protocol):
    """The parts of an exercise kind module."""

    TITLE: str
    """The exercise's name on a sheet and in `list`: 'Token-choice routing'."""

    PARAMS: tuple[Param, ...]
    """Every parameter: name, help, default, and its range or choices. Drives validation, the
    variant code and the error messages. Append only: a parameter added later needs a new code
    slot (SLOTS) so that printed codes keep working."""

    def generate(self, spec: Spec) -> Any:
        """The seeded problem: a frozen dataclass with `inputs() -> dict` (the JSON contract's
        `inputs`). The same spec gives the same problem on every machine. Bounded work: construct
        rows that keep the hand-friendliness promises rather than reject whole problems; raise
        GenerationError (with the standard 'could not build a hand-friendly ...' message) where the
        parameters make it impossible."""

    def steps(self, spec: Spec, problem: Any) -> Iterable[Step]:
        """Every value a person writes, step by step, exact (sympy Rationals or expressions)."""

    def forward(self, spec: Spec, problem: Any) -> Mapping[str, np.ndarray]:
        """The same steps computed independently with NumPy floats, by the route real code takes.
        solve() refuses any key whose exact and float values differ by more than 1e-9."""

    def title(self, spec: Spec) -> str:
        """The sheet's title line: 'Token-choice routing: 6 tokens, 5 experts, top-2 per token'."""

    def conventions(self, sol) -> tuple[str, ...]:
        """Every convention the sheet uses, one line each, for its conventions box."""

    def hand_work(self, sol) -> str:
        """'Hand work: 90 multiply-adds, 30 powers, 36 divisions.'"""

    def layout(self, sol) -> list[tuple[str, str, list[Board]]]:
        """The sheet's steps: (title, instruction, boards) each; sheet.py numbers them."""


class Optional(Protocol):
    """Parts a kind may leave out, and what the pipeline does without them."""

    SLOTS: tuple[tuple[int, tuple[str, ...]], ...]
    """Built-in kinds only: the variant-code slots the kind owns, each with the parameters it
    leaves out (at their defaults). Without it (every third-party kind), codes use the shared
    slot for installed kinds, marked with a hash of the exercise's name."""

    def check(self, values: dict) -> None:
        """Refuse an impossible combination of parameters (SpecError, one line naming it).
        Without it: each parameter is checked against its own range only."""

    MISTAKES: tuple[tuple[str, Callable[[Any], dict | list[dict]]], ...]
    """The common mistakes of this exercise: (what it is, the problem solved that wrong way:
    {step id: values} or a list of such). `check` names the one a learner's wrong step matches.
    Without it: wrong boxes are marked, without a name."""

    def carried(self, sol, step_id: str, learner: dict):
        """A step recomputed from the learner's own earlier numbers: (source step id(s),
        {cell ref: value}) or None. Without it: no carried errors are followed."""

    def contract(self, sol) -> list[str]:
        """The hand-friendliness promises this variant breaks, in words ([] when it keeps them);
        the stress test runs it over many seeds. Without it: only the generic checks run."""

    def working(self, sol) -> list:
        """The worked solution of every step that has boxes on the sheet: a working.Working per
        step (its step id, what the step means in plain words, and its Lines: the operation
        written out in the variant's numbers for each row's first box and every single value,
        and the reason behind every choice), built with working.py's terms so that a line's text
        and its sympy expression come from the same numbers. solutions.worked() checks every
        line against the key. Without it: the worked solutions show the key's values alone."""

    def page_experts(self, sol) -> list[dict]:
        """The expert weights the interactive page needs to follow carried errors inside each
        expert ({"W1", "b1", "W2", "b2"} each). Without it: none."""
