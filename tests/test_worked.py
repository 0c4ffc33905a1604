"""Worked solutions (issue 14): every line computed and checked like the key, for every preset.

solutions.worked() refuses a line whose expression, parsed by sympy, is not its value, or whose
value is not the key's in a box it names; here it runs over every preset and seed (MOE_SEEDS: the even
ones every day, the odd ones with the full audit), and
each step with boxes on the sheet must have its meaning and at least one line."""

import dataclasses

import pytest
from conftest import SEEDS, solved

from workbook.errors import CheckError
from workbook.kinds import part
from workbook.layout import cells, step_id_of
from workbook.presets import preset, presets
from workbook.sheet import build_sheet
from workbook.solutions import sections, worked
from workbook.working import Line

WORKED = [p.name for p in presets() if part(p.exercise, "working") is not None]


def test_every_built_in_kind_has_working():
    from workbook.kinds import is_builtin
    assert {p.exercise for p in presets() if is_builtin(p.exercise)} <= {preset(n).exercise for n in WORKED}
    assert set(WORKED) == {p.name for p in presets()}  # the example kind too


# every preset with the even seeds every day, the odd ones with the full audit (`pytest -m
# full_audit`, which .ci/run runs too)
@pytest.mark.parametrize("name, half", [pytest.param(n, h, id=f"{n}-{'even' if h == 0 else 'odd'}",
                                                     marks=pytest.mark.full_audit if h else ())
                                        for n in WORKED for h in (0, 1)])
def test_every_line_agrees_with_the_key_for_every_seed(name, half):
    for seed in SEEDS[half::2]:
        sol = solved(name, seed)
        sheet = build_sheet(sol)
        found = worked(sol, sheet)  # raises CheckError on any line that disagrees
        boxed = {step_id_of(c.ref) for c in cells(sheet.sections) if c.blank and (c.value is not None or c.answer or c.decimal)}
        steps = {w.step: w for w in found}
        for step in sol.steps:
            if step.id in boxed:
                assert step.id in steps and steps[step.id].meaning and steps[step.id].lines, (sol.code, step.id)
        placed = sections(sheet, found)
        assert sum(len(v) for v in placed.values()) == len(found)


def test_a_wrong_line_is_refused(monkeypatch):
    """A line whose expression is not its value, or whose value is not the key's: CheckError."""
    import workbook.kinds.routing_working as rw
    sol = solved("token-choice-5x6", 0)
    sheet = build_sheet(sol)
    real = rw.working(sol)
    first = real[0].lines[0]
    for bad in (dataclasses.replace(first, expression=first.expression + " + 1"),
                dataclasses.replace(first, value=first.value + 1, expression=f"({first.expression}) + 1"),
                dataclasses.replace(first, cells=("scores[9][9]",)),
                Line("a reason naming a box", cells=first.cells)):
        monkeypatch.setattr(rw, "working", lambda s, bad=bad: [dataclasses.replace(real[0], lines=(bad,))])
        monkeypatch.setattr("workbook.kinds.token_choice.working", rw.working)
        with pytest.raises(CheckError):
            worked(sol, sheet)


def test_the_worked_example_reads_as_the_issue_asks():
    """A score written out, a row sum, a probability with its decimal, a renormalised weight."""
    sol = solved("token-choice-5x6", 0)
    text = "\n".join(ln.text for w in worked(sol, build_sheet(sol)) for ln in w.lines)
    X, W = sol.problem.X, sol.problem.W_router
    assert f"S[t1,E1] = x_t1 · w_E1 = " in text
    assert " + ".join(str(v) for v in sol.step("powers").exact[0]).replace("-", "−") in text
    assert "≈" in text and "the 2 largest P" in text
