"""quantize: exact against floats and the contract over every preset x seeds, a hand-worked example,
random parameters, and answers that fit their cells."""

import math
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sympy import Rational as R

from conftest import SEEDS, solve_or_refused, solved
from workbook.errors import SpecError
from workbook.kinds import kind as kind_module
from workbook.kinds.quantize import QuantizeProblem
from workbook.layout import cells
from workbook.presets import presets
from workbook.sheet import build_sheet
from workbook.solve import leaves, solve
from workbook.spec import make_spec

PRESETS = [p.name for p in presets() if p.exercise == "quantize"]
QMAX = {"int8": 127, "int4": 7}
N = {"mixtral-8x7b": 46_702_792_704, "deepseek-v3": 671 * 10**9}


def _f(v) -> F:
    return F(int(v.p), int(v.q))


def check_contract(sol) -> None:
    """From the definitions, with Python's own round() (half to even on a Fraction): weights one
    decimal (integer tenths) within ±3.5 and of both signs; every max|w| a multiple of 0.7 (INT4
    scale one decimal) and not all equal; the clip never bites and max|w| gives ±q_max; every x is
    a tie or at least 0.01 from one; every expert has some error, at most scale/2; a tie where half
    to even matters (INT4: it differs from rounding half away from zero, 2.5 -> 2; INT8 alone: it
    differs from rounding half up, −63.5 -> −64); with both formats INT4's largest error beats INT8's
    in every expert; memory N · bits / 8 bytes in GB and the savings."""
    spec, W, ex = sol.spec, sol.problem.W, lambda i: sol.step(i).exact
    E, r, c = spec["experts"], spec["rows"], spec["cols"]
    fmts = ("int8", "int4") if spec["bits"] == "both" else (spec["bits"],)
    assert len(W) == E and all(len(m) == r and all(len(row) == c for row in m) for m in W), sol.code
    flat = [a for m in W for row in m for a in row]
    assert all(isinstance(a, int) and abs(a) <= 35 for a in flat) and min(flat) < 0 < max(flat), sol.code
    tops = [max(abs(a) for row in m for a in row) for m in W]
    assert all(t > 0 and t % 7 == 0 for t in tops) and (E == 1 or len(set(tops)) > 1), sol.code
    assert [_f(v) for v in ex("absmax")] == [F(t, 10) for t in tops]
    moment, largest = False, {}
    for fmt in fmts:
        qmax = QMAX[fmt]
        for e, m in enumerate(W):
            scale = F(tops[e], 10 * qmax)
            assert _f(ex(f"scale_{fmt}")[e]) == scale, sol.code
            errors = []
            for i, row in enumerate(m):
                for j, a in enumerate(row):
                    x, q = F(a, 10) / scale, round(F(a, 10) / scale)
                    assert abs(x) <= qmax and (abs(a) != tops[e] or abs(q) == qmax), sol.code  # no clipping
                    rest = x - math.floor(x)
                    assert rest == F(1, 2) or abs(rest - F(1, 2)) >= F(1, 100), sol.code      # no near-tie
                    away, up = int(math.copysign(math.floor(abs(x) + F(1, 2)), x)), math.floor(x + F(1, 2))
                    if fmt == fmts[-1]:  # INT4 when present, else INT8 alone
                        moment |= q != (away if fmt == "int4" else up)
                    assert _f(ex(f"x_{fmt}")[e][i][j]) == x and ex(f"q_{fmt}")[e][i][j] == q, sol.code
                    assert _f(ex(f"w_hat_{fmt}")[e][i][j]) == q * scale, sol.code
                    assert _f(ex(f"error_{fmt}")[e][i][j]) == F(a, 10) - q * scale, sol.code
                    errors.append(abs(F(a, 10) - q * scale))
            assert 0 < max(errors) <= scale / 2 and _f(ex(f"max_error_{fmt}")[e]) == max(errors), sol.code
            largest[fmt, e] = max(errors)
    assert moment, f"{sol.code}: no tie where half to even matters"
    if len(fmts) == 2:
        assert all(largest["int4", e] > largest["int8", e] for e in range(E)), sol.code
    gb = [F(N[spec["model"]] * b, 8 * 10**9) for b in (16, 8, 4)]
    assert [_f(v) for v in ex("memory_gb")] == gb and [_f(v) for v in ex("saved_gb")] == [gb[0] - g for g in gb[1:]]


@pytest.mark.parametrize("name", PRESETS)
def test_exact_agrees_with_numpy_for_every_step(name):
    for seed in SEEDS:
        sol = solved(name, seed)
        floats = kind_module(sol.spec.kind).forward(sol.spec, sol.problem)
        for step in sol.steps:
            exact = [float(v) for v in leaves(step.exact)]
            approx = [float(v) for v in leaves(floats[step.id])]
            assert len(exact) == len(approx), (sol.code, step.id)
            np.testing.assert_allclose(exact, approx, rtol=1e-9, atol=1e-12, err_msg=f"{sol.code} {step.id}")


@pytest.mark.parametrize("name", PRESETS)
def test_contract_holds_for_every_preset_and_seed(name):
    assert PRESETS
    for seed in SEEDS:
        check_contract(solved(name, seed))


def test_quantize_by_hand():
    """One expert, W = (1.4, 0.5, −0.3), both formats, Mixtral 8x7B.

    max|w| = 1.4.
    INT8: scale = 1.4 / 127 = 7/635. x = w · 127 / 1.4 = (127, 635/14 ≈ 45.36, −381/14 ≈ −27.21),
    q = (127, 45, −27); ŵ = q · 7/635 = (1.4, 63/127, −189/635);
    error = (0, 0.5 − 63/127 = 1/254, −0.3 + 189/635 = −3/1270); largest 1/254 ≈ 0.0039.
    INT4: scale = 1.4 / 7 = 0.2. x = 5w = (7, 2.5, −1.5): 2.5 is a tie and goes to the even 2
    (school rounding says 3), −1.5 goes to −2; q = (7, 2, −2); ŵ = (1.4, 0.4, −0.4);
    error = (0, 0.1, 0.1); largest 0.1, 25 times INT8's.
    Memory: N = 46,702,792,704; × 2 bytes = 93.405585408 GB, × 1 = 46.702792704 GB,
    × ½ = 23.351396352 GB; saved 46.702792704 GB at 8 bits and 70.054189056 GB at 4 bits.
    """
    spec = make_spec("quantize", {"experts": 1, "rows": 1, "cols": 3, "bits": "both", "model": "mixtral-8x7b"})
    sol = solve(spec, QuantizeProblem((((14, 5, -3),),)))
    ex = lambda i: sol.step(i).exact
    assert ex("absmax") == (R(7, 5),)
    assert ex("scale_int8") == (R(7, 635),) and ex("scale_int4") == (R(1, 5),)
    assert ex("x_int8") == (((127, R(635, 14), R(-381, 14)),),)
    assert ex("q_int8") == (((127, 45, -27),),)
    assert ex("w_hat_int8") == (((R(7, 5), R(63, 127), R(-189, 635)),),)
    assert ex("error_int8") == (((0, R(1, 254), R(-3, 1270)),),)
    assert ex("x_int4") == (((7, R(5, 2), R(-3, 2)),),)
    assert ex("q_int4") == (((7, 2, -2),),)
    assert ex("w_hat_int4") == (((R(7, 5), R(2, 5), R(-2, 5)),),)
    assert ex("error_int4") == (((0, R(1, 10), R(1, 10)),),)
    assert ex("max_error_int8") == (R(1, 254),) and ex("max_error_int4") == (R(1, 10),)
    assert ex("memory_gb") == (R(93405585408, 10**9), R(46702792704, 10**9), R(23351396352, 10**9))
    assert ex("saved_gb") == (R(46702792704, 10**9), R(70054189056, 10**9))


@settings(max_examples=60, deadline=None)
@given(experts=st.integers(1, 4), rows=st.integers(1, 4), cols=st.integers(1, 6),
       bits=st.sampled_from(["int8", "int4", "both"]), model=st.sampled_from(list(N)), seed=st.integers(0, 10**6))
def test_contract_holds_or_a_clear_error(experts, rows, cols, bits, model, seed):
    params = {"experts": experts, "rows": rows, "cols": cols, "bits": bits, "model": model}
    if rows * cols == 1:  # a lone weight is its own absmax: nothing to round, refused up front
        with pytest.raises(SpecError, match="1 × 1"):
            make_spec("quantize", params, seed)
        return
    sol = solve_or_refused(make_spec("quantize", params, seed))
    if sol is not None:
        check_contract(sol)


@pytest.mark.parametrize("name", PRESETS)
def test_every_blank_has_an_answer_that_fits_its_cell(name):
    for seed in range(10):
        sheet = build_sheet(solved(name, seed))
        blanks = [cell for cell in cells(sheet.sections) if cell.blank]
        assert blanks and all(cell.answer or cell.decimal for cell in blanks)
        for cell in blanks:
            assert len(cell.answer) <= (10 if cell.wide else 4), (cell.ref, cell.answer)
            assert len(cell.decimal) <= 9, (cell.ref, cell.decimal)
