"""The hand-friendliness contract, checked with exact values on every preset x 200 seeds,
and on random parameter choices (hypothesis)."""

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import SEEDS, solved
from workbook.errors import GenerationError
from workbook.solve import solve
from workbook.spec import GATE_BASE, make_spec


def _r2(v) -> Decimal:
    f = v if v.is_Rational else v.evalf(40)
    d = Decimal(int(f.p)) / Decimal(int(f.q)) if f.is_Rational else Decimal(str(f))
    return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _separated(values) -> bool:
    v = sorted(values, key=lambda x: float(x), reverse=True)
    return all(float(a - b) >= 0.01 - 1e-12 and _r2(a) > _r2(b) for a, b in zip(v, v[1:]))


def check_contract(sol) -> None:
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
    if spec.kind == "token-choice":
        k = spec["top_k"]
        for row in probs:
            assert _separated(sorted(row, key=float, reverse=True)[:k + 1]), sol.code
        load = [int(v) for v in sol.step("load").exact]
        fair = spec["tokens"] * k / spec["experts"]
        assert max(load) > fair and min(load) < fair, sol.code
    else:
        c = spec["capacity"]
        for column in zip(*probs):
            assert _separated(sorted(column, key=float, reverse=True)[:c + 1]), sol.code
        coverage = [int(v) for v in sol.step("coverage").exact]
        assert min(coverage) == 0 and max(coverage) >= 2, sol.code
    if p.experts:
        pre = [v for h in sol.step("ffn_hidden").exact for row in h for v in row]
        assert min(pre) < 0 < max(pre), sol.code


def test_contract_holds_for_every_preset_and_seed(preset_name):
    for seed in SEEDS:
        check_contract(solved(preset_name, seed))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["token-choice", "expert-choice"]),
       tokens=st.integers(4, 10), experts=st.integers(2, 6), d_model=st.integers(2, 4),
       pick=st.integers(1, 3), gate=st.sampled_from(["softmax3", "softmax2", "softmax"]),
       ffn=st.booleans(), seed=st.integers(0, 10**6))
def test_contract_holds_or_a_clear_error(kind, tokens, experts, d_model, pick, gate, ffn, seed):
    params = {"tokens": tokens, "experts": experts, "d_model": d_model, "gate": gate, "ffn": ffn}
    if kind == "token-choice":
        params["top_k"] = min(pick, experts - 1)
    else:
        params["capacity"] = min(pick, tokens - 2)
    try:
        sol = solve(make_spec(kind, params, seed))
    except GenerationError as err:
        assert "could not build a hand-friendly" in str(err)
        return
    check_contract(sol)


def test_same_spec_same_problem():
    spec = make_spec("expert-choice", {"ffn": True}, 42)
    assert solve(spec) == solve(spec)
