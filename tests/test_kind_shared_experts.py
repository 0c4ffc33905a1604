"""shared-experts: the contract over every preset x seeds, hand-worked examples, random parameters."""

import pytest
from hypothesis import given, settings, strategies as st
from sympy import Rational as R

from conftest import SEEDS, solve_or_refused, solved
from workbook.kinds.shared_experts import SharedProblem
from workbook.presets import presets
from workbook.solve import solve
from workbook.spec import make_spec

PRESETS = [p.name for p in presets() if p.exercise == "shared-experts"]


def _apart(values, n) -> bool:
    v = sorted(values, reverse=True)[:n]
    return all(a - b >= R(1, 100) for a, b in zip(v, v[1:]))


def check_contract(sol) -> None:
    """From the definitions: small integer inputs; no near-tie where a selection is made; shared
    experts enter with weight 1 (h - x - routed = Σ shared x W_i); DeepSeekMoE gates sum to less
    than 1 (not renormalised); V3 weights sum to 2.5, and the bias update moves some token."""
    spec, p = sol.spec, sol.problem
    K, Ks, d = spec["top_k"], spec["shared"], spec["d_model"]
    assert all(abs(v) <= 2 for row in p.X + p.S for v in row), sol.code
    first = "selection" if spec["variant"] == "v3" else "probs"
    for row in sol.step(first).exact:
        assert _apart(row, K + 1), sol.code
    for t, x in enumerate(p.X):
        shared = [sum(x[i] * p.W[k][i][j] for k in range(Ks) for i in range(d)) for j in range(d)]
        h, routed = sol.step("output").exact[t], sol.step("routed_out").exact[t]
        assert [h[j] - x[j] - routed[j] for j in range(d)] == shared, sol.code
    for g in sol.step("gates").exact:
        assert (sum(g) == R(5, 2)) if spec["variant"] == "v3" else (sum(g) < 1), sol.code
    if spec["variant"] == "v3":
        assert 1 in sol.step("changed").exact, sol.code
        for row, b in zip(sol.step("sigmoid").exact, [sol.step("bias_new").exact] * len(p.S)):
            assert _apart([a + c for a, c in zip(row, b)], K + 1), sol.code


@pytest.mark.parametrize("name", PRESETS)
def test_contract_holds_for_every_preset_and_seed(name):
    for seed in SEEDS:
        check_contract(solved(name, seed))


W_SHARED = ((1, 0), (0, 1))      # identity: the shared expert passes x through
W_E1 = ((2, 0), (0, 0))          # keeps 2 x1
W_E2 = ((0, 0), (0, 2))          # keeps 2 x2
W_E3 = ((1, 1), (1, 1))          # (x1 + x2, x1 + x2)


def test_deepseekmoe_by_hand():
    """One token x = (1, 2), one shared expert (identity), three routed, top-2, base 3.

    Scores (1, 0, -1) -> powers 3^(s + 1) = (9, 3, 1), sum 13 -> P = (9/13, 3/13, 1/13).
    Top-2: E1, E2 with gates 9/13 and 3/13 (not renormalised: they sum to 12/13).
    shared = x I = (1, 2); E1: x W = (2, 0); E2: x W = (0, 4).
    routed = 9/13 (2, 0) + 3/13 (0, 4) = (18/13, 12/13).
    h = x + shared + routed = (1 + 1 + 18/13, 2 + 2 + 12/13) = (44/13, 64/13).
    """
    spec = make_spec("shared-experts", {"tokens": 2, "experts": 3, "shared": 1, "top_k": 2, "d_model": 2}, 0)
    problem = SharedProblem(((1, 2), (1, 2)), ((1, 0, -1), (1, 0, -1)), (W_SHARED, W_E1, W_E2, W_E3))
    sol = solve(spec, problem)
    assert sol.step("probs").exact[0] == (R(9, 13), R(3, 13), R(1, 13))
    assert sol.step("topk").exact[0] == (1, 2)
    assert sol.step("gates").exact[0] == (R(9, 13), R(3, 13))
    assert sol.step("shared_out").exact[0] == (1, 2)
    assert sol.step("routed_out").exact[0] == (R(18, 13), R(12, 13))
    assert sol.step("output").exact[0] == (R(44, 13), R(64, 13))


def test_deepseek_v3_by_hand():
    """Two tokens x = (1, 2), three routed experts, top-1... top-2 here, biases b = (0, 0, 0.2).

    t1 scores (1, 0, 0): s = (3/4, 1/2, 1/2); s + b = (0.75, 0.5, 0.7) -> E1, E3.
    Weights: (3/4, 1/2) / (5/4) x 2.5 = (3/2, 1).  routed = 3/2 (2, 0) + 1 (3, 3) = (6, 3).
    t2 scores (0, 1, -1): s = (1/2, 3/4, 1/4); s + b = (0.5, 0.75, 0.45) -> E2, E1; weights
    (3/4, 1/2) / (5/4) x 2.5 = (3/2, 1); routed = 3/2 (0, 4) + 1 (2, 0) = (2, 6).
    Load (2, 1, 1), mean 2·2/3 = 4/3: b <- b + 0.1 sign(4/3 - load) = (-0.1, 0.1, 0.3).
    Again: t1 s + b = (0.65, 0.6, 0.8) -> E3, E1 (same set: not changed);
    t2 s + b = (0.4, 0.85, 0.55) -> E2, E3: changed (E1 was dropped for E3).
    """
    spec = make_spec("shared-experts", {"tokens": 2, "experts": 3, "shared": 1, "top_k": 2, "d_model": 2,
                                        "variant": "v3"}, 0)
    problem = SharedProblem(((1, 2), (1, 2)), ((1, 0, 0), (0, 1, -1)), (W_SHARED, W_E1, W_E2, W_E3), (0, 0, 2))
    sol = solve(spec, problem)
    assert sol.step("sigmoid").exact == ((R(3, 4), R(1, 2), R(1, 2)), (R(1, 2), R(3, 4), R(1, 4)))
    assert sol.step("topk").exact == ((1, 3), (2, 1))
    assert sol.step("gates").exact == ((R(3, 2), 1), (R(3, 2), 1))
    assert sol.step("routed_out").exact == ((6, 3), (2, 6))
    assert sol.step("load").exact == (2, 1, 1)
    assert sol.step("bias_new").exact == (R(-1, 10), R(1, 10), R(3, 10))
    assert sol.step("topk_new").exact == ((3, 1), (2, 3))
    assert sol.step("changed").exact == (0, 1)


@settings(max_examples=40, deadline=None)
@given(tokens=st.integers(2, 6), experts=st.integers(3, 6), shared=st.integers(1, 2), top_k=st.integers(1, 3),
       d_model=st.integers(1, 3), variant=st.sampled_from(["deepseekmoe", "v3"]), seed=st.integers(0, 10**6))
def test_contract_holds_or_a_clear_error(tokens, experts, shared, top_k, d_model, variant, seed):
    spec = make_spec("shared-experts", {"tokens": tokens, "experts": experts, "shared": shared,
                                        "top_k": min(top_k, experts - 1),
                                        "d_model": d_model, "variant": variant}, seed)
    sol = solve_or_refused(spec)
    if sol is not None:
        check_contract(sol)
