"""Expert parallelism: exact against float, the contract from the definitions, one example by hand,
and random parameters that either keep the contract or fail with a clear one-line error."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sympy import Rational as R

from conftest import SEEDS, solve_or_refused, solved
from workbook.errors import SpecError
from workbook.kinds import kind as kind_module
from workbook.kinds.expert_parallel import ParallelProblem
from workbook.presets import presets
from workbook.solve import leaves, solve
from workbook.spec import make_spec

KIND = "expert-parallel"
PRESETS = [p.name for p in presets() if p.exercise == KIND]
STEPS = ["destination", "dispatch", "local_pairs", "crossing_pairs", "crossing_share", "all_to_all", "load",
         "mean_load", "imbalance"]


def values(sol, step_id):
    return sol.step(step_id).exact


def test_there_are_presets_with_two_and_four_devices():
    assert {solved(name, 0).spec["devices"] for name in PRESETS} >= {2, 4}


@pytest.mark.parametrize("name", PRESETS)
def test_exact_agrees_with_float_for_every_step(name):
    for seed in SEEDS:
        sol = solved(name, seed)
        assert [s.id for s in sol.steps] == STEPS
        floats = kind_module(KIND).forward(sol.spec, sol.problem)
        for step in sol.steps:
            exact = [float(v) for v in leaves(step.exact)]
            approx = [float(v) for v in leaves(floats[step.id])]
            assert len(exact) == len(approx), (sol.code, step.id)
            np.testing.assert_allclose(exact, approx, rtol=1e-9, atol=1e-9, err_msg=f"{sol.code} {step.id}")


def check_expert_parallel(sol) -> None:
    """Checked from the definitions, not the solver's loops: expert e on device ceil(e·D/E), token t
    on device ceil(t/n); every token has k distinct experts; the dispatch matrix counts the pairs by
    (home, expert's device), so its rows add up to n·k and its diagonal to the local pairs; the
    volumes are crossing pairs × d × bytes, the same back for the combine; the load is the pairs per
    device; and the teaching moment: pairs both stay and cross, and some device is overloaded."""
    spec, p = sol.spec, sol.problem
    D, E, n, k, d, b = (spec[q] for q in ("devices", "experts", "tokens", "top_k", "d_model", "bytes"))
    T, pairs = D * n, D * n * k
    assert E % D == 0 and k < E, sol.code
    assert p.placement == tuple(-(-e * D // E) for e in range(1, E + 1)), sol.code
    assert p.home == tuple(-(-t // n) for t in range(1, T + 1)), sol.code
    assert len(p.routing) == T and all(len(set(r)) == k == len(r) and set(r) <= set(range(1, E + 1))
                                       for r in p.routing), sol.code
    assert values(sol, "destination") == tuple(tuple(-(-e * D // E) for e in r) for r in p.routing), sol.code
    M = values(sol, "dispatch")
    expected = [[sum(p.home[t] == i and -(-e * D // E) == j for t in range(T) for e in p.routing[t])
                 for j in range(1, D + 1)] for i in range(1, D + 1)]
    assert [list(r) for r in M] == expected, sol.code
    assert [sum(r) for r in M] == [n * k] * D, sol.code
    local, crossing = values(sol, "local_pairs")[0], values(sol, "crossing_pairs")[0]
    assert local == sum(M[i][i] for i in range(D)) and local + crossing == pairs, sol.code
    assert values(sol, "crossing_share") == (R(crossing, pairs),)
    one_way = (crossing * d, crossing * d * b)
    assert values(sol, "all_to_all") == (one_way, one_way, (2 * one_way[0], 2 * one_way[1])), sol.code
    load = values(sol, "load")
    assert list(load) == [sum(M[i][j] for i in range(D)) for j in range(D)] and sum(load) == pairs, sol.code
    assert values(sol, "mean_load") == (n * k,)
    assert values(sol, "imbalance") == (R(max(load), n * k),)
    # the teaching moment, and the sizes the sheet promises
    assert 0 < local < pairs and local >= pairs // (2 * D), sol.code
    assert 1 < values(sol, "imbalance")[0] <= 2 and max(load) - n * k <= max(1, n * k // 2), sol.code


@pytest.mark.parametrize("name", PRESETS)
def test_contract_holds_for_every_preset_and_seed(name):
    for seed in SEEDS:
        check_expert_parallel(solved(name, seed))


def test_expert_parallel_by_hand():
    """Two devices, four experts, two tokens per device, top-2, d_model 8, 2 bytes per value.

    Placement in blocks of E/D = 2: E1, E2 on d1; E3, E4 on d2. Tokens t1, t2 start on d1, t3, t4 on d2.
    Routing t1 (E1, E3), t2 (E2, E1), t3 (E4, E1), t4 (E3, E1) -> devices t1 (1, 2), t2 (1, 1),
    t3 (2, 1), t4 (2, 1).
    Dispatch (row = home, column = expert's device): d1 -> d1: t1·E1, t2·E2, t2·E1 = 3; d1 -> d2: t1·E3 = 1;
    d2 -> d1: t3·E1, t4·E1 = 2; d2 -> d2: t3·E4, t4·E3 = 2. M = [[3, 1], [2, 2]], rows add up to n·k = 4.
    Local = 3 + 2 = 5, crossing = 1 + 2 = 3 of 8 pairs: share 3/8.
    Dispatch volume 3 × 8 = 24 values, × 2 = 48 bytes; the combine the same; both ways 48 values, 96 bytes.
    Load = column sums (5, 3); mean 8 / 2 = 4; imbalance 5/4 (E1 takes all four tokens, so d1 is overloaded).
    """
    spec = make_spec(KIND, {"devices": 2, "experts": 4, "tokens": 2, "top_k": 2, "d_model": 8, "bytes": 2}, 0)
    problem = ParallelProblem(((1, 3), (2, 1), (4, 1), (3, 1)), (1, 1, 2, 2), (1, 1, 2, 2))
    sol = solve(spec, problem)
    assert values(sol, "destination") == ((1, 2), (1, 1), (2, 1), (2, 1))
    assert values(sol, "dispatch") == ((3, 1), (2, 2))
    assert values(sol, "local_pairs") == (5,) and values(sol, "crossing_pairs") == (3,)
    assert values(sol, "crossing_share") == (R(3, 8),)
    assert values(sol, "all_to_all") == ((24, 48), (24, 48), (48, 96))
    assert values(sol, "load") == (5, 3) and values(sol, "mean_load") == (4,)
    assert values(sol, "imbalance") == (R(5, 4),)
    check_expert_parallel(sol)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(devices=st.integers(2, 4), experts=st.integers(2, 8), tokens=st.integers(1, 4), top_k=st.integers(1, 2),
       d_model=st.integers(1, 8192), nbytes=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_contract_holds_or_a_clear_error(devices, experts, tokens, top_k, d_model, nbytes, seed):
    params = {"devices": devices, "experts": experts, "tokens": tokens, "top_k": top_k,
              "d_model": d_model, "bytes": nbytes}
    try:
        spec = make_spec(KIND, params, seed)
    except SpecError as err:  # refused up front, in one line naming the rule
        message = str(err)
        assert "\n" not in message
        assert ("multiple" in message and experts % devices) or ("top-k" in message and top_k >= experts), message
        return
    sol = solve_or_refused(spec)
    if sol is not None:
        check_expert_parallel(sol)
