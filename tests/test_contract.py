"""The hand-friendliness contract, checked with exact values on every preset x 200 seeds,
and on random parameter choices (hypothesis)."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import SEEDS, solve_or_refused, solved
from workbook.errors import SpecError
from workbook.presets import presets
from workbook.solve import solve
from sympy import Rational as R

from workbook.spec import CAPACITY_FACTORS, GATE_BASE, make_spec


def _r2(v) -> Decimal:
    f = v if v.is_Rational else v.evalf(40)
    d = Decimal(int(f.p)) / Decimal(int(f.q)) if f.is_Rational else Decimal(str(f))
    return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _separated(values) -> bool:
    v = sorted(values, key=lambda x: float(x), reverse=True)
    return all(float(a - b) >= 0.01 - 1e-12 and _r2(a) > _r2(b) for a, b in zip(v, v[1:]))


def check_contract(sol) -> None:
    if sol.spec.kind == "load-balance":
        return check_load_balance(sol)
    spec, p = sol.spec, sol.problem
    ints = [v for row in p.X + p.W_router for v in row]
    for ex in p.experts:
        ints += [v for row in ex.W1 + ex.W2 for v in row] + list(ex.b1) + list(ex.b2)
    assert all(abs(v) <= 3 for v in ints), sol.code
    base = GATE_BASE[spec["gate"]]
    for row in sol.step("scores").exact:
        spread = max(row) - min(row)
        if base != "e":
            assert base ** spread <= 81, sol.code
    probs = sol.step("probs").exact
    if spec.kind in ("token-choice", "switch"):
        k = spec.params.get("top_k", 1)
        for row in probs:
            assert _separated(sorted(row, key=float, reverse=True)[:k + 1]), sol.code
        load = [int(v) for v in sol.step("load").exact]
        fair = spec["tokens"] * k / spec["experts"]
        assert max(load) > fair and min(load) < fair, sol.code
        if "capacity" in sol.has:
            check_capacity(sol, k, load)
        if p.jitter:
            assert all(8 <= u <= 12 for row in p.jitter for u in row), sol.code
            for row in sol.step("jitter_scores").exact:
                best = sorted(row, reverse=True)
                assert best[0] - best[1] >= R(1, 10), sol.code
            assert 1 in sol.step("changed").exact, sol.code
    else:
        c = spec["capacity"]
        for column in zip(*probs):
            assert _separated(sorted(column, key=float, reverse=True)[:c + 1]), sol.code
        coverage = [int(v) for v in sol.step("coverage").exact]
        assert min(coverage) == 0 and max(coverage) >= 2, sol.code
    if p.experts:
        pre = [v for h in sol.step("ffn_hidden").exact for row in h for v in row]
        assert min(pre) < 0 < max(pre), sol.code


def check_load_balance(sol) -> None:
    """Scores 0..4 (powers <= 81); every row of P shares one denominator; no tie among the top k+1
    of a row; some expert above the fair share and one below; rows shifted by 0 and by 1 both occur;
    the balanced and collapsed values are alpha*k and alpha*E; the loss lies between them or above."""
    spec, S = sol.spec, sol.problem.S
    k, T, E = spec["top_k"], spec["tokens"], spec["experts"]
    assert all(0 <= v <= 4 for row in S for v in row), sol.code
    probs = sol.step("probs").exact
    assert len({max(v.q for v in row) for row in probs}) == 1, sol.code
    for row in probs:
        assert _separated(sorted(row, reverse=True)[:k + 1]), sol.code
    counts = [int(v) for v in sol.step("counts").exact]
    assert sum(counts) == T * k and max(counts) > T * k / E > min(counts), sol.code
    assert {min(row) for row in S} == {0, 1}, sol.code
    assert sol.step("aux_balanced").exact == (R(k, 100),) and sol.step("aux_collapsed").exact == (R(E, 100),)
    assert R(k, 100) < sol.step("aux_loss").exact[0] <= R(E, 100), sol.code


def check_capacity(sol, k, load) -> None:
    """Capacity keeps its promises, checked from the definitions rather than the solver's loop:
    every expert serves min(load, C) choices; a dropped choice only where its expert is full;
    some choice is dropped; the smallest capacity factor is exactly the one that drops nothing."""
    spec = sol.spec
    T, E = spec["tokens"], spec["experts"]
    C = int(sol.step("capacity").exact[0])
    assert C == int(R(spec["capacity_factor"]) * k * T / E)
    served = [len(r) for r in sol.step("served").exact]
    assert served == [min(n, C) for n in load], sol.code
    kept = sol.step("kept").exact
    assert any(v == 0 for row in kept for v in row), sol.code  # the teaching moment
    dropped = [t + 1 for t, row in enumerate(kept) if not any(row)]
    assert list(sol.step("dropped").exact[0]) == dropped
    cf = sol.step("min_capacity_factor").exact[0]
    assert int(cf * k * T / E) >= max(load) > int((cf - R(1, 100)) * k * T / E), sol.code


# Routing and load balance are checked here; every other kind's contract lives in its own
# tests/test_kind_*.py, over all of its presets and the same seeds.
HERE = ("token-choice", "expert-choice", "switch", "load-balance")


@pytest.mark.parametrize("name", [p.name for p in presets() if p.exercise in HERE])
def test_contract_holds_for_every_preset_and_seed(name):
    for seed in SEEDS:
        check_contract(solved(name, seed))


def test_every_preset_has_a_contract_test():
    import pathlib
    from workbook.kinds import is_builtin

    kinds = {p.exercise for p in presets() if is_builtin(p.exercise)} - set(HERE)  # installed kinds test themselves
    files = {f.name for f in pathlib.Path(__file__).parent.glob("test_kind_*.py")}
    assert {f"test_kind_{k.replace('-', '_')}.py" for k in kinds} <= files


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["token-choice", "expert-choice", "switch"]),
       capacity_factor=st.sampled_from(CAPACITY_FACTORS), jitter=st.booleans(),
       tokens=st.integers(4, 10), experts=st.integers(2, 6), d_model=st.integers(2, 4),
       pick=st.integers(1, 3), gate=st.sampled_from(["softmax3", "softmax2", "softmax"]),
       ffn=st.booleans(), seed=st.integers(0, 10**6))
def test_contract_holds_or_a_clear_error(kind, capacity_factor, jitter, tokens, experts, d_model, pick,
                                         gate, ffn, seed):
    params = {"tokens": tokens, "experts": experts, "d_model": d_model, "gate": gate, "ffn": ffn}
    if kind == "switch":
        params |= {"capacity_factor": "1.0" if capacity_factor == "none" else capacity_factor, "jitter": jitter}
    elif kind == "token-choice":
        params |= {"top_k": min(pick, experts - 1), "capacity_factor": capacity_factor}
    else:
        params["capacity"] = min(pick, tokens - 2)
    try:
        spec = make_spec(kind, params, seed)
    except SpecError as err:  # refused up front: C < 1 or C >= T, or expert choice with 2 experts
        assert "capacity factor" in str(err) or (kind == "expert-choice" and experts == 2), str(err)
        return
    sol = solve_or_refused(spec)
    if sol is not None:
        check_contract(sol)


def test_same_spec_same_problem():
    spec = make_spec("expert-choice", {"ffn": True}, 42)
    assert solve(spec) == solve(spec)


@settings(max_examples=40, deadline=None)
@given(tokens=st.integers(4, 10), experts=st.integers(2, 6), top_k=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_load_balance_contract_holds_or_a_clear_error(tokens, experts, top_k, seed):
    try:
        spec = make_spec("load-balance", {"tokens": tokens, "experts": experts, "top_k": top_k}, seed)
    except SpecError as err:
        assert top_k >= experts and "top-k" in str(err)
        return
    sol = solve_or_refused(spec)
    if sol is not None:
        check_contract(sol)
