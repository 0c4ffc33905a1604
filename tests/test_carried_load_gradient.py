"""Carried errors in load-balance and router-gradient: an early slip followed into the later steps
(each kind's `carried`), named as a slip where it was made and as carried where it travelled.

The learners' sheets are worked out here with plain fractions and floats (no workbook code), so
the diagnosis is tested against an independent calculation."""

import math
from fractions import Fraction

import pytest
from conftest import learner_answers

from workbook.check import grade
from workbook.kinds import load_balance, router_gradient
from workbook.presets import presets
from workbook.sheet import build_sheet
from workbook.solve import solve


def preset_sol(name, seed):
    return solve(next(p for p in presets() if p.name == name).spec(seed=seed))


def findings(sol, values) -> dict:
    report = grade(sol, build_sheet(sol), learner_answers(sol, values))
    return {(f.step, "carried" if f.carried else f.cause or "slip"): f.rows for s in report.steps for f in s.findings}


# --- load-balance -----------------------------------------------------------------------------

def load_balance_sheet(S, k, count_slip=None, prob_slip=None, lse_slip=None) -> dict:
    """{ref: value} of a learner's whole sheet from the scores S: a count off by one (expert
    `count_slip`, 0-based), P's (t, e) numerator off by one, ln Σ exp of token `lse_slip` + 0.5;
    every later step worked from their own numbers."""
    T, E = len(S), len(S[0])
    P = []
    for row in S:
        powers = [Fraction(3) ** (s - min(row)) for s in row]
        P.append([p / sum(powers) for p in powers])
    if prob_slip is not None:
        t, e = prob_slip
        P[t][e] += Fraction(1, P[t][e].denominator)
    top = [sorted(range(E), key=lambda e: (-row[e], e))[:k] for row in S]
    counts = [Fraction(sum(e in r for r in top)) for e in range(E)]
    if count_slip is not None:
        counts[count_slip] += 1
    f = [c / T for c in counts]
    pbar = [sum(P[t][e] for t in range(T)) / T for e in range(E)]
    products = [a * b for a, b in zip(f, pbar)]
    unscaled = E * sum(products)
    n = sum(3 ** (s - min(S[0])) for s in S[0])
    lse = [min(row) * math.log(3) + math.log(n) for row in S]
    if lse_slip is not None:
        lse[lse_slip] += 0.5
    out = {f"probs[{t + 1}][{e + 1}]": P[t][e] for t in range(T) for e in range(E)}
    out |= {f"topk[{t + 1}][{r + 1}]": Fraction(e + 1) for t in range(T) for r, e in enumerate(top[t])}
    for e in range(E):
        out |= {f"counts[1][{e + 1}]": counts[e], f"f[1][{e + 1}]": f[e], f"pbar[1][{e + 1}]": pbar[e],
                f"f_pbar[1][{e + 1}]": products[e]}
    out |= {"aux_unscaled[1][1]": unscaled, "aux_loss[1][1]": unscaled / 100}
    out |= {f"lse[{t + 1}][1]": v for t, v in enumerate(lse)}
    out["z_loss[1][1]"] = sum(v * v for v in lse) / T
    return out


@pytest.fixture(scope="module", params=["load-balance-switch", "load-balance-top2"])
def lb(request):
    sol = preset_sol(request.param, 3)
    return sol, [[int(v) for v in row] for row in sol.problem.S], sol.spec["top_k"]


def test_a_right_load_balance_sheet_has_no_findings(lb):
    sol, S, k = lb
    assert findings(sol, load_balance_sheet(S, k)) == {}


def test_a_count_slip_is_carried_into_f_the_products_and_both_losses(lb):
    sol, S, k = lb
    found = findings(sol, load_balance_sheet(S, k, count_slip=0))
    assert found == {("counts", "slip"): ("row 1",), ("f", "carried"): ("row 1",),
                     ("f_pbar", "carried"): ("row 1",), ("aux_unscaled", "carried"): ("row 1",),
                     ("aux_loss", "carried"): ("row 1",)}


def test_a_probability_slip_is_carried_into_the_mean_and_on(lb):
    sol, S, k = lb
    chosen = max(range(len(S[1])), key=lambda e: (S[1][e], -e))  # token 2's top expert: its f is not 0
    found = findings(sol, load_balance_sheet(S, k, prob_slip=(1, chosen)))
    assert found[("probs", "slip")] == ("t2",)
    for step in ("pbar", "f_pbar", "aux_unscaled", "aux_loss"):
        assert found[(step, "carried")] == ("row 1",)
    assert len(found) == 5


def test_a_log_sum_exp_slip_is_carried_into_the_z_loss(lb):
    sol, S, k = lb
    found = findings(sol, load_balance_sheet(S, k, lse_slip=2))
    assert found == {("lse", "slip"): ("t3",), ("z_loss", "carried"): ("row 1",)}


def test_a_top_k_slip_is_carried_into_the_counts():
    sol = preset_sol("load-balance-switch", 3)
    S = [[int(v) for v in row] for row in sol.problem.S]
    values = load_balance_sheet(S, 1)
    first = int(values["topk[1][1]"])
    other = 1 if first != 1 else 2  # token 1 sent to another expert
    values["topk[1][1]"] = Fraction(other)
    values[f"counts[1][{first}]"] -= 1
    values[f"counts[1][{other}]"] += 1
    found = findings(sol, values)
    assert found[("topk", "slip")] == ("t1",)
    assert found[("counts", "carried")] == ("row 1",)


def test_load_balance_carried_refuses_what_it_cannot_work_from():
    sol = preset_sol("load-balance-switch", 3)
    S = [[int(v) for v in row] for row in sol.problem.S]
    values = load_balance_sheet(S, 1)
    assert load_balance.carried(sol, "f", values | {"counts[1][2]": "many"}) is None
    assert load_balance.carried(sol, "f", values | {"counts[1][2]": None}) is None
    assert load_balance.carried(sol, "f", values | {"counts[1][2]": Fraction(10) ** 30}) is None
    assert load_balance.carried(sol, "z_loss", values | {"lse[1][1]": float("inf")}) is None
    assert load_balance.carried(sol, "lse", values) is None  # read from the table, not carried
    # a count of 10^30 is a slip, not followed into f
    found = findings(sol, values | {"counts[1][1]": Fraction(10) ** 30, "f[1][1]": Fraction(10) ** 30 / 8})
    assert ("f", "carried") not in found


# --- router-gradient --------------------------------------------------------------------------

def router_gradient_sheet(sol, grad_w_slip=None, swap_top=None) -> dict:
    """{ref: value} of a learner's whole sheet: dL/dw of (token, rank) off by one; token `swap_top`'s
    top-2 written in the other order; every later step worked from their own numbers."""
    p, k = sol.problem, sol.spec["top_k"]
    b = {"softmax3": 3, "softmax2": 2}[sol.spec["gate"]]
    S = [[int(v) for v in row] for row in p.S]
    T, E = len(S), len(S[0])
    out = {}
    for t, row in enumerate(S):
        top = sorted(range(E), key=lambda e: (-row[e], e))[:k]
        if t == swap_top:
            top = top[::-1]
        powers = [Fraction(b) ** (row[e] - min(row[j] for j in top)) for e in top]
        w = [q / sum(powers) for q in powers]
        g = [Fraction(sum(int(a) * int(o) for a, o in zip(p.delta[t], p.outputs[t][e]))) for e in top]
        if grad_w_slip is not None and grad_w_slip[0] == t:
            g[grad_w_slip[1]] += 1
        mean = sum(a * c for a, c in zip(w, g))
        scaled = [w[top.index(e)] * (g[top.index(e)] - mean) if e in top else Fraction(0) for e in range(E)]
        for r in range(k):
            out |= {f"topk[{t + 1}][{r + 1}]": Fraction(top[r] + 1), f"weights[{t + 1}][{r + 1}]": w[r],
                    f"grad_w[{t + 1}][{r + 1}]": g[r]}
        out[f"mean_grad[{t + 1}][1]"] = mean
        for e in range(E):
            out[f"grad_s_scaled[{t + 1}][{e + 1}]"] = scaled[e]
            out[f"grad_s[{t + 1}][{e + 1}]"] = float(scaled[e]) * math.log(b)
    return out


@pytest.fixture(scope="module", params=[1, 2, 3])
def rg(request):
    return preset_sol("router-gradient-top2", request.param)


def test_a_right_router_gradient_sheet_has_no_findings(rg):
    assert findings(rg, router_gradient_sheet(rg)) == {}


def test_a_dl_dw_slip_is_carried_into_the_mean_and_dl_ds(rg):
    found = findings(rg, router_gradient_sheet(rg, grad_w_slip=(1, 0)))
    assert found == {("grad_w", "slip"): ("t2",), ("mean_grad", "carried"): ("t2",),
                     ("grad_s_scaled", "carried"): ("t2",), ("grad_s", "carried"): ("t2",)}


def test_a_top_k_written_in_the_other_order_is_carried_into_w_and_dl_dw(rg):
    found = findings(rg, router_gradient_sheet(rg, swap_top=0))
    # the weighted mean and dL/ds do not depend on the order: right
    assert found == {("topk", "slip"): ("t1",), ("weights", "carried"): ("t1",), ("grad_w", "carried"): ("t1",)}


def test_router_gradient_carried_refuses_what_it_cannot_work_from(rg):
    values = router_gradient_sheet(rg, grad_w_slip=(0, 1))
    assert router_gradient.carried(rg, "mean_grad", values | {"grad_w[1][1]": "x"})[1].keys() == {
        "mean_grad[2][1]", "mean_grad[3][1]"}  # token 1's row is not worked from text
    assert "mean_grad[1][1]" not in router_gradient.carried(rg, "mean_grad", values | {"grad_w[1][1]": 1e30})[1]
    assert router_gradient.carried(rg, "weights", values | {"topk[1][1]": Fraction(99)})[1].keys() == {
        "weights[2][1]", "weights[2][2]", "weights[3][1]", "weights[3][2]"}
    assert router_gradient.carried(rg, "topk", values) is None
