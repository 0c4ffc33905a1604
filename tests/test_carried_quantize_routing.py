"""Carried errors followed by `check` in the quantize kind and in the routing kinds' later steps
(the layer output, expert choice's gating, the smallest capacity factor): a slip early on is named
a slip once, and the later rows worked from it are named carried. Every learner number below is
worked by hand with plain fractions."""

from fractions import Fraction as F

import sympy

from workbook.check import grade, groups
from workbook.kinds.quantize import QuantizeProblem, carried as quantize_carried
from workbook.problem import Problem
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.spec import make_spec

from test_check import EXPERTS, W_ROUTER, X  # test_check's hand-worked router and experts


def _plain(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return v.replace("≈", "")
    if isinstance(v, sympy.Basic) and not v.is_Rational:
        return float(v)
    return str(v)


def answers_with(sol, changes: dict) -> dict:
    """The key's answers with some boxes changed (by ref)."""
    data = {"code": sol.code}
    for g in groups(build_sheet(sol)):
        data[g.key] = [[_plain(changes.get(c.ref, c.value if c.value is not None else c.answer or c.decimal))
                        for c in row] for row in g.rows]
    return data


def findings(sol, changes) -> dict:
    """{row key ('output[1]'): the finding that explains it}."""
    report = grade(sol, build_sheet(sol), answers_with(sol, changes))
    return {key: f for s in report.steps for f in s.findings for key in f.keys}


def assert_carried(found: dict, rows, sol=None):
    for row in rows:
        assert row in found, f"{row}: not marked wrong"
        assert found[row].carried, f"{row}: {found[row].text()}"


# --- quantize -------------------------------------------------------------------------------------

def quantize():
    """One expert, W = (1.4, 0.5), INT4: max|w| 1.4, scale 1/5, x (7, 5/2), q (7, 2) (the tie to
    even), ŵ (7/5, 2/5), error (0, 1/10), largest 1/10; Mixtral's memory."""
    spec = make_spec("quantize", {"experts": 1, "rows": 1, "cols": 2, "bits": "int4", "model": "mixtral-8x7b"}, 0)
    return solve(spec, QuantizeProblem(W=(((14, 5),),)))


def test_quantize_key():
    sol = quantize()
    assert sol.step("q_int4").exact == (((7, 2),),)
    assert sol.step("max_error_int4").exact == (sympy.Rational(1, 10),)


def test_a_wrong_absmax_is_carried_through_scale_x_q_w_hat_and_error():
    """max|w| written 2.1: scale 2.1 / 7 = 3/10; x = 1.4 / 0.3 = 14/3 and 0.5 / 0.3 = 5/3; q = 5 and
    2; ŵ = 5 · 3/10 = 3/2 and 2 · 3/10 = 3/5; error 7/5 − 3/2 = −1/10 and 1/2 − 3/5 = −1/10 (the
    largest |error| is still 1/10, right)."""
    sol = quantize()
    changes = {"absmax[1]": F(21, 10), "scale_int4[1]": F(3, 10),
               "x_int4[1][1][1]": F(14, 3), "x_int4[1][1][2]": F(5, 3),
               "q_int4[1][1][1]": 5, "q_int4[1][1][2]": 2,
               "w_hat_int4[1][1][1]": F(3, 2), "w_hat_int4[1][1][2]": F(3, 5),
               "error_int4[1][1][1]": F(-1, 10), "error_int4[1][1][2]": F(-1, 10)}
    found = findings(sol, changes)
    assert found["absmax"].slip
    assert_carried(found, ["scale_int4", "x_int4[1][1]", "q_int4[1][1]", "w_hat_int4[1][1]", "error_int4[1][1]"])
    assert "max_error_int4" not in found  # 1/10 either way: right
    assert found["w_hat_int4[1][1]"].source == found["q_int4[1][1]"].number


def test_a_slip_in_q_is_carried_into_w_hat_error_and_the_largest_error():
    """q written (7, 3) for (7, 2): ŵ = 3 · 1/5 = 3/5; error 1/2 − 3/5 = −1/10 (and 0); the largest
    |error| 1/10, right again. With (7, 4): ŵ 4/5, error −3/10, largest 3/10: carried."""
    sol = quantize()
    changes = {"q_int4[1][1][2]": 4, "w_hat_int4[1][1][2]": F(4, 5), "error_int4[1][1][2]": F(-3, 10),
               "max_error_int4[1]": F(3, 10)}
    found = findings(sol, changes)
    assert found["q_int4[1][1]"].slip
    assert_carried(found, ["w_hat_int4[1][1]", "error_int4[1][1]", "max_error_int4"])


def test_a_slip_in_x_is_carried_into_q_with_decimals():
    """x written 2.6 (a decimal) for 5/2: q = 3, ŵ = 3/5, error −1/10."""
    sol = quantize()
    changes = {"x_int4[1][1][2]": "2.6", "q_int4[1][1][2]": 3, "w_hat_int4[1][1][2]": F(3, 5),
               "error_int4[1][1][2]": F(-1, 10)}
    found = findings(sol, changes)
    assert found["x_int4[1][1]"].slip
    assert_carried(found, ["q_int4[1][1]", "w_hat_int4[1][1]", "error_int4[1][1]"])


def test_a_slip_in_the_memory_is_carried_into_what_is_saved():
    """16-bit memory written 94.41 GB: saved 94.41 − 46.70 = 47.71 and 94.41 − 23.35 = 71.06."""
    sol = quantize()
    changes = {"memory_gb[1]": "94.41", "saved_gb[1]": "47.71", "saved_gb[2]": "71.06"}
    found = findings(sol, changes)
    assert found["memory_gb"].slip
    assert_carried(found, ["saved_gb"])


def test_quantize_carried_refuses_what_it_cannot_follow():
    sol = quantize()
    assert quantize_carried(sol, "x_int4", {"scale_int4[1]": F(0)}) is None
    assert quantize_carried(sol, "x_int4", {"scale_int4[1]": "a fifth"}) is None
    assert quantize_carried(sol, "scale_int4", {"absmax[1]": F(10) ** 30}) is None
    assert quantize_carried(sol, "q_int4", {"x_int4[1][1][1]": None, "x_int4[1][1][2]": F(5, 2)}) is None
    assert quantize_carried(sol, "absmax", {}) is None


# --- routing ----------------------------------------------------------------------------------------

def token_choice():
    """P = (9, 3, 1)/13 and (3, 9, 1)/13; top-2 (1, 2), (2, 1); weights (3/4, 1/4) each. E1 serves
    t1, t2: O = (1, 2), (0, 0); E2 serves t1, t2: O = (0, 1), (0, 1). y1 = 3/4 (1, 2) + 1/4 (0, 1)
    = (3/4, 7/4); y2 = 3/4 (0, 1) + 1/4 (0, 0) = (0, 3/4)."""
    spec = make_spec("token-choice", {"tokens": 2, "experts": 3, "d_model": 2, "d_ff": 1, "top_k": 2, "ffn": True}, 0)
    return solve(spec, Problem(X, W_ROUTER, EXPERTS))


def test_token_choice_output_key():
    sol = token_choice()
    assert sol.step("output").exact == ((sympy.Rational(3, 4), sympy.Rational(7, 4)), (0, sympy.Rational(3, 4)))


def test_the_output_follows_the_learners_expert_outputs():
    """E1's output for t1 written (1, 3): y1 = 3/4 (1, 3) + 1/4 (0, 1) = (3/4, 5/2)."""
    sol = token_choice()
    found = findings(sol, {"ffn_out[1][1][2]": 3, "output[1][1]": F(3, 4), "output[1][2]": F(5, 2)})
    assert found["ffn_out[1][1]"].slip
    assert_carried(found, ["output[1]"])
    assert found["output[1]"].source == found["ffn_out[1][1]"].number


def test_the_output_follows_the_learners_weights():
    """t2's first weight written 2/3: y2 = 2/3 (0, 1) + 1/4 (0, 0) = (0, 2/3)."""
    sol = token_choice()
    found = findings(sol, {"weights[2][1]": F(2, 3), "output[2][2]": F(2, 3)})
    assert found["weights[2]"].slip
    assert_carried(found, ["output[2]"])
    assert found["output[2]"].source == found["weights[2]"].number


def test_an_output_not_worked_from_the_learners_numbers_is_not_carried():
    """E1's output for t1 written (1, 3) but y1 left as the key's (3/4, 7/4) changed to (3/4, 2): a slip."""
    sol = token_choice()
    found = findings(sol, {"ffn_out[1][1][2]": 3, "output[1][2]": 2})
    assert found["output[1]"].slip


def expert_choice():
    """t3 = (1, 1): scores (2, 2, −1), P = (27, 27, 1)/55. Capacity 1: E1 takes t1 (9/13 > 27/55),
    E2 t2 (9/13), E3 t1 (1/13, tied with t2: the lower token); t3 is dropped.
    y1 = 9/13 (1, 2) + 1/13 (0, 0) = (9/13, 18/13)."""
    spec = make_spec("expert-choice", {"tokens": 3, "experts": 3, "d_model": 2, "d_ff": 1, "capacity": 1,
                                       "ffn": True}, 0)
    return solve(spec, Problem(X + ((1, 1),), W_ROUTER, EXPERTS))


def test_gating_and_output_follow_the_learners_probabilities():
    """p(t1, E1) written 10/13: G for E1 = 10/13, and y1 = 10/13 (1, 2) = (10/13, 20/13)."""
    sol = expert_choice()
    assert sol.step("gating").exact == ((sympy.Rational(9, 13),), (sympy.Rational(9, 13),), (sympy.Rational(1, 13),))
    changes = {"probs[1][1]": F(10, 13), "gating[1][1]": F(10, 13),
               "output[1][1]": F(10, 13), "output[1][2]": F(20, 13)}
    found = findings(sol, changes)
    assert found["probs[1]"].slip
    assert_carried(found, ["gating[1]", "output[1]"])
    assert found["output[1]"].source == found["gating[1]"].number


def switch():
    """P t1 (3/4, 1/4), t2 (9/10, 1/10), t3 (1/4, 3/4), t4 (9/10, 1/10); top-1 E1, E1, E2, E1: loads
    (3, 1); the smallest capacity factor 3 · 2 / (1 · 4) = 3/2."""
    spec = make_spec("switch", {"tokens": 4, "experts": 2, "d_model": 2, "d_ff": 1, "ffn": True,
                                "capacity_factor": "1.0"}, 0)
    return solve(spec, Problem(((1, 0), (2, 0), (0, 1), (1, -1)), ((1, 0), (0, 1)), EXPERTS[:2]))


def test_the_smallest_capacity_factor_follows_the_learners_load():
    """E1's load written 4: cf = 4 · 2 / (1 · 4) = 2."""
    sol = switch()
    assert sol.step("min_capacity_factor").exact == (sympy.Rational(3, 2),)
    found = findings(sol, {"load[1][1]": 4, "min_capacity_factor[1][1]": 2})
    assert found["load[1]"].slip
    assert_carried(found, ["min_capacity_factor[1]"])
