"""The public contract check passes for every built-in kind (python -m workbook.stresstest)."""

import pytest

from conftest import SEEDS
from workbook.kinds import BUILTIN
from workbook.presets import presets
from workbook.stresstest import main, stresstest


def _first_preset(kind: str) -> str:
    return next(p.name for p in presets() if p.exercise == kind)


@pytest.mark.parametrize("kind", list(BUILTIN))
def test_every_builtin_kind_passes_the_stress_test(kind):
    # the worked solutions of these presets are checked over the same seeds by test_worked.py
    report = stresstest(_first_preset(kind), seeds=max(len(SEEDS), 1), pairs=1, sheets=10, working=False)
    assert report.ok, "\n".join(report.lines())
    assert report.seeds == max(len(SEEDS), 1) and report.pairs == 1


def test_a_broken_promise_is_reported_by_seed(monkeypatch):
    from workbook.kinds import kind as kind_module

    module = kind_module("load-balance")
    monkeypatch.setattr(module, "contract", lambda sol: ["odd seed"] if sol.spec.seed % 2 else [], raising=False)
    report = stresstest("load-balance", seeds=4, pairs=0, sheets=0)
    assert sorted(report.failures) == [1, 3]
    assert report.lines()[0] == "load-balance: 4 seeds, 0 laid out as PDF: 2 seeds broke a promise"
    assert report.lines()[1] == "  seed 1: breaks its promise: odd seed"


def test_the_command(capsys):
    assert main(["sizing-eight-experts", "--seeds", "3", "--pairs", "0"]) == 0
    assert "sizing-eight-experts: 3 seeds" in capsys.readouterr().out
    assert main(["no-such-thing"]) == 2
    assert "Error: no preset or exercise kind named" in capsys.readouterr().err


def test_the_leak_check_sees_answers_that_a_page_shows():
    """The worksheet check compares the worksheet with one rendered from hidden answers: the key,
    which shows them, differs; the worksheet does not."""
    from workbook.render_html import render_html
    from workbook.sheet import build_sheet
    from workbook.solve import solve
    from workbook.stresstest import _answers_hidden

    sheet = build_sheet(solve(presets()[0].spec()))
    assert render_html(sheet, True) != render_html(_answers_hidden(sheet), True)
    assert render_html(sheet, False) == render_html(_answers_hidden(sheet), False)


def test_the_routing_contract_names_a_broken_promise():
    import dataclasses

    from workbook.kinds import kind as kind_module
    from workbook.solve import solve

    sol = solve(presets()[0].spec())
    contract = kind_module(sol.spec.kind).contract
    assert contract(sol) == []
    big = dataclasses.replace(sol.problem, X=((5,) + sol.problem.X[0][1:],) + sol.problem.X[1:])
    assert "an input beyond ±3" in contract(dataclasses.replace(sol, problem=big))
    steps = tuple(dataclasses.replace(s, exact=tuple(1 for _ in s.exact)) if s.id == "load" else s for s in sol.steps)
    assert "no expert above the fair share and one below" in contract(dataclasses.replace(sol, steps=steps))
