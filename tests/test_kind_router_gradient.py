"""router-gradient: the contract over every preset x seeds, a hand-worked example, random parameters."""

import pytest
import sympy
from hypothesis import example, given, settings, strategies as st
from sympy import Rational as R

from conftest import SEEDS, solve_or_refused, solved
from workbook.kinds.router_gradient import GradientProblem
from workbook.presets import presets
from workbook.solve import solve
from workbook.spec import make_spec

PRESETS = [p.name for p in presets() if p.exercise == "router-gradient"]


def check_contract(sol) -> None:
    """From the definitions: scores 0..3; the top k+1 of every token apart; dL/dw = δ · output;
    dL/ds exactly 0 off the selection and summing to 0 over it (softmax's gradient); both signs
    over the sheet; every token has a non-zero gradient."""
    p, k = sol.problem, sol.spec["top_k"]
    assert all(0 <= v <= 3 for row in p.S for v in row), sol.code
    for t, row in enumerate(p.S):
        ranked = sorted(range(len(row)), key=lambda e: (-row[e], e))
        assert len({row[e] for e in ranked[:k + 1]}) == k + 1, sol.code
        top = [int(e) - 1 for e in sol.step("topk").exact[t]]
        assert top == ranked[:k]
        dots = [sum(a * b for a, b in zip(p.delta[t], p.outputs[t][e])) for e in top]
        assert list(sol.step("grad_w").exact[t]) == dots, sol.code
        grads = sol.step("grad_s").exact[t]
        assert all(grads[e] == 0 for e in range(len(row)) if e not in top), sol.code
        assert sympy.simplify(sum(grads)) == 0, sol.code
        assert any(g != 0 for g in grads), sol.code
    flat = [float(g) for row in sol.step("grad_s").exact for g in row]
    assert min(flat) < 0 < max(flat), sol.code


@pytest.mark.parametrize("name", PRESETS)
def test_contract_holds_for_every_preset_and_seed(name):
    for seed in SEEDS:
        check_contract(solved(name, seed))


def test_router_gradient_by_hand():
    """One token, three experts, top-2, base 3. s = (2, 1, 0): selected E1, E2.

    w = (3^2, 3^1) / (9 + 3) = (3/4, 1/4).
    δ = (1, -1); FFN_1(x) = (2, 0), FFN_2(x) = (0, 2), FFN_3(x) = (1, 1) (not selected).
    dL/dw_1 = 1·2 + (−1)·0 = 2; dL/dw_2 = 1·0 + (−1)·2 = −2.
    Σ w_i dL/dw_i = 3/4·2 + 1/4·(−2) = 1.
    dL/ds_1 ÷ ln 3 = 3/4 (2 − 1) = 3/4; dL/ds_2 ÷ ln 3 = 1/4 (−2 − 1) = −3/4; dL/ds_3 = 0.
    dL/ds = (3/4 ln 3, −3/4 ln 3, 0): they sum to 0, and E3 gets nothing though its output is not 0.
    """
    spec = make_spec("router-gradient", {"tokens": 1, "experts": 3, "top_k": 2, "d_model": 2}, 0)
    problem = GradientProblem(((2, 1, 0),), ((1, -1),), (((2, 0), (0, 2), (1, 1)),))
    sol = solve(spec, problem)
    assert sol.step("topk").exact == ((1, 2),)
    assert sol.step("weights").exact == ((R(3, 4), R(1, 4)),)
    assert sol.step("grad_w").exact == ((2, -2),)
    assert sol.step("mean_grad").exact == (1,)
    assert sol.step("grad_s_scaled").exact == ((R(3, 4), R(-3, 4), 0),)
    ln3 = sympy.log(3)
    assert sol.step("grad_s").exact == ((R(3, 4) * ln3, R(-3, 4) * ln3, 0),)


@settings(max_examples=40, deadline=None)
@given(tokens=st.integers(1, 4), experts=st.integers(3, 6), top_k=st.integers(2, 3), d_model=st.integers(1, 3),
       gate=st.sampled_from(["softmax3", "softmax2", "softmax"]), seed=st.integers(0, 10**6))
@example(tokens=2, experts=6, top_k=3, d_model=3, gate="softmax3", seed=170183)  # a token row could not be built
def test_contract_holds_or_a_clear_error(tokens, experts, top_k, d_model, gate, seed):
    spec = make_spec("router-gradient", {"tokens": tokens, "experts": experts, "top_k": min(top_k, experts - 1),
                                         "d_model": d_model, "gate": gate}, seed)
    sol = solve_or_refused(spec)
    if sol is not None:
        check_contract(sol)
