"""sizing: exact against float, Mixtral's published totals, the contract over every preset x seeds,
a hand-worked example, random seeds (hypothesis), and bad input as one line."""

from dataclasses import replace
from math import comb

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from sympy import Rational as R

from conftest import SEEDS, solve_or_refused, solved
from workbook.cli import cli
from workbook.errors import SpecError
from workbook.kinds import kind as kind_module
from workbook.kinds.sizing_configs import Model
from workbook.layout import cells
from workbook.presets import presets
from workbook.sheet import build_sheet
from workbook.solve import leaves, solve
from workbook.spec import make_spec

PRESETS = [p.name for p in presets() if p.exercise == "sizing"]
MIXTRAL = Model("mixtral-8x7b", "swiglu", 4096, 14336, 32, 32, 8, 128, 32000, 8, 2, 4, 1)


def test_the_three_presets_are_there():
    assert sorted(PRESETS) == ["sizing-eight-experts", "sizing-mixtral-8x7b", "sizing-small-moe"]
    assert all(240 <= p.order <= 249 for p in presets() if p.exercise == "sizing")


@pytest.mark.parametrize("name", PRESETS)
def test_exact_agrees_with_float_for_every_step(name):
    for seed in SEEDS:
        sol = solved(name, seed)
        floats = kind_module("sizing").forward(sol.spec, sol.problem)
        assert set(floats) == sol.has, sol.code
        for step in sol.steps:
            exact = [float(v) for v in leaves(step.exact)]
            approx = [float(v) for v in leaves(floats[step.id])]
            assert len(exact) == len(approx), (sol.code, step.id)
            np.testing.assert_allclose(exact, approx, rtol=1e-12, atol=0, err_msg=f"{sol.code} {step.id}")


def test_mixtral_totals_from_the_preset_key():
    """Mixtral 8x7B, config.json: d 4096, h 14336, 32 layers, 32 query / 8 KV heads of 128, V 32000, E 8, k 2.

    Expert (SwiGLU) 3 · 4096 · 14336 = 176,160,768. Attention 2 · 4096 · 4096 + 2 · 4096 · 1024 = 41,943,040.
    Router 8 · 4096 = 32,768; norms 2 · 4096 = 8,192.
    MoE layer: 41,943,040 + 8 · 176,160,768 + 32,768 + 8,192 = 1,451,270,144; used 394,305,536.
    Embeddings 2 · 32000 · 4096 + final norm 4096 = 262,148,096.
    Total 32 · 1,451,270,144 + 262,148,096 = 46,702,792,704; active 32 · 394,305,536 + 262,148,096 = 12,879,925,248.
    Dense counterpart (one FFN, no router): 32 · 218,112,000 + 262,148,096 = 7,241,732,096 (Mistral 7B).
    """
    for seed in (0, 2, 7):
        sol = solved("sizing-mixtral-8x7b", seed)
        assert sol.step("total_params").exact == (46_702_792_704,)
        assert sol.step("active_params").exact == (12_879_925_248,)
        assert sol.step("dense_params").exact == (7_241_732_096,)
        assert sol.step("flops_per_token").exact == (25_759_850_496,)
        assert sol.step("memory_bytes").exact == (93_405_585_408, 46_702_792_704, 23_351_396_352)
        assert sol.step("memory_gb").exact[0] == R(93_405_585_408, 10**9)
    default = next(p for p in presets() if p.name == "sizing-mixtral-8x7b")
    assert solved("sizing-mixtral-8x7b", default.seed).problem == MIXTRAL  # m = 4, K_s = 1: C(32, 8), C(31, 7)
    assert solved("sizing-mixtral-8x7b", default.seed).step("combinations").exact == (28, 10_518_300)


def test_eight_experts_give_8n_and_2n():
    for seed in SEEDS:
        sol = solved("sizing-eight-experts", seed)
        N = sol.problem.expert_params
        assert (sol.problem.experts, sol.problem.top_k) == (8, 2)
        assert sol.step("total_params").exact == (8 * N,) and sol.step("active_params").exact == (2 * N,)
        assert sol.step("flops_per_token").exact == (4 * N,) and sol.step("dense_flops").exact == (16 * N,)


def check_contract(sol) -> None:
    """From the definitions, not the solver's code: counts by matrix shapes, totals by layers, binomials by
    math.comb; generated numbers small enough for a hand; teaching moments; every answer fits its boxes."""
    p, v = sol.problem, (lambda i, j=0: sol.step(i).exact[j])
    m, E, k, Ks = p.segments, p.experts, p.top_k, p.shared
    if isinstance(p, Model):
        d, h, L = p.d_model, p.d_ff, p.layers
        ffn = (lambda w: d * w + w * d + d * w) if p.ffn == "swiglu" else (lambda w: d * w + w + w * d + d)
        attn = d * p.q_heads * p.head_dim * 2 + d * p.kv_heads * p.head_dim * 2
        assert (v("expert_params"), v("attention_params"), v("router_params"), v("norm_params")) == (
            ffn(h), attn, E * d, 2 * d), sol.code
        moe, used, dense = attn + E * ffn(h) + E * d + 2 * d, attn + k * ffn(h) + E * d + 2 * d, attn + ffn(h) + 2 * d
        outside = p.vocab * d + d * p.vocab + d
        total, active = L * moe + outside, L * used + outside
        assert (v("layer_params"), v("layer_active"), v("dense_layer_params"), v("embedding_params")) == (
            moe, used, dense, outside), sol.code
        assert (v("total_params"), v("active_params"), v("dense_params")) == (total, active, L * dense + outside)
        assert v("active_fraction") == R(active, total)
        assert (v("alternating_total"), v("alternating_active")) == (
            L // 2 * (moe + dense) + outside, L // 2 * (used + dense) + outside), sol.code
        fine = ffn(h // m)
        assert v("fine_active_params") - k * ffn(h) == (0 if p.ffn == "swiglu" else (m - 1) * k * d), sol.code
    else:
        total, active, fine = E * p.expert_params, k * p.expert_params, R(p.expert_params, m)
        assert 100 * 10**6 <= p.expert_params <= 250 * 10**6 and p.expert_params % 10**6 == 0
        assert v("fine_active_params") == active
    assert (v("total_params"), v("active_params"), v("expert_fraction")) == (total, active, R(k, E))
    assert (v("flops_per_token"), v("dense_flops")) == (2 * active, 2 * total)
    assert sol.step("memory_bytes").exact == (2 * total, total, R(total, 2)) and total % 2 == 0, sol.code
    unit = {"GB": 10**9, "kB": 10**3}[p.unit]
    assert sol.step(f"memory_{p.unit.lower()}").exact == tuple(R(b, unit) for b in (2 * total, total, total // 2))
    assert (v("fine_expert_params"), v("fine_top_k")) == (fine, m * k)
    assert sol.step("combinations").exact == (comb(E, k), comb(m * E, m * k))
    assert v("shared_combinations") == comb(m * E - Ks, m * k - Ks) and 1 <= Ks < m * k
    assert comb(m * E, m * k) >= 10 * comb(E, k), sol.code  # teaching moment: splitting multiplies the choices
    if sol.spec["config"] == "generated":  # a hand multiplies these; the teaching moment: a token uses little
        assert p.d_model in (8, 12, 16) and p.d_ff <= 4 * p.d_model and p.layers <= 6 and p.vocab <= 64
        assert m * E <= 16 and m * k <= 4 and total < 10**6 and 2 * active <= total, sol.code
        assert p.d_ff % m == 0 and p.layers % 2 == 0
    if sol.spec["config"] == "mixtral-8x7b":
        assert (m, Ks) in {(2, 1), (2, 2), (4, 1), (4, 2)} and p == replace(MIXTRAL, segments=m, shared=Ks)
    check_sheet(sol)


def check_sheet(sol) -> None:
    """Every step and every value of it has a blank on the sheet, and every answer fits its box:
    three digits in a 9 mm box, six characters in a 15 mm one."""
    blanks = [c for c in cells(build_sheet(sol).sections) if c.blank]
    refs = {c.ref.split("]")[0] + "]" for c in blanks}  # 'total_params[1][2]' (a number's box) -> 'total_params[1]'
    assert len({c.ref for c in blanks}) == len(blanks), sol.code  # every box its own ref
    for step in sol.steps:
        assert {f"{step.id}[{i + 1}]" for i in range(len(step.exact))} <= refs, (sol.code, step.id)
    for c in blanks:
        assert len(c.answer) <= (6 if c.wide else 3) and len(c.decimal) <= 6, (sol.code, c.ref, c.answer)


@pytest.mark.parametrize("name", PRESETS)
def test_contract_holds_for_every_preset_and_seed(name):
    for seed in SEEDS:
        check_contract(solved(name, seed))


def test_small_relu_model_by_hand():
    """d 4, h 8, ReLU, 2 layers, 2 query heads and 1 KV head of 2, V 10, E 4, top-1; split m 2, K_s 1.

    Expert: 2 · 4 · 8 + 8 + 4 = 76. Attention: 2 · 4 · 2 · 2 + 2 · 4 · 1 · 2 = 32 + 16 = 48.
    Router 4 · 4 = 16, norms 2 · 4 = 8. MoE layer 48 + 4 · 76 + 16 + 8 = 376; used 48 + 76 + 16 + 8 = 148;
    dense layer 48 + 76 + 8 = 132. Embeddings 2 · 10 · 4 + 4 = 84.
    Total 2 · 376 + 84 = 836; active 2 · 148 + 84 = 380; dense 2 · 132 + 84 = 348. Shares 1/4 and 380/836 = 95/209.
    FLOPs 2 · 380 = 760; dense of the same size 2 · 836 = 1672. Bytes 1672, 836, 418 -> kB 1.672, 0.836, 0.418.
    Every other layer (1 + 1): 376 + 132 + 84 = 592 total, 148 + 132 + 84 = 364 active.
    Fine expert (h/2 = 4): 2 · 4 · 4 + 4 + 4 = 40; 2 per token: 80, four more than 76 (each keeps its b2).
    C(4, 1) = 4, C(8, 2) = 28; one shared: C(7, 1) = 7.
    """
    model = Model("generated", "relu", 4, 8, 2, 2, 1, 2, 10, 4, 1, 2, 1, "kB")
    sol = solve(make_spec("sizing", {"config": "generated"}, 0), model)
    expected = {"expert_params": (76,), "attention_params": (48,), "router_params": (16,), "norm_params": (8,),
                "layer_params": (376,), "layer_active": (148,), "dense_layer_params": (132,),
                "embedding_params": (84,), "total_params": (836,), "active_params": (380,), "dense_params": (348,),
                "expert_fraction": (R(1, 4),), "active_fraction": (R(95, 209),), "alternating_total": (592,),
                "alternating_active": (364,), "flops_per_token": (760,), "dense_flops": (1672,),
                "memory_bytes": (1672, 836, 418), "memory_kb": (R(1672, 1000), R(836, 1000), R(418, 1000)),
                "fine_expert_params": (40,), "fine_top_k": (2,), "fine_active_params": (80,),
                "combinations": (4, 28), "shared_combinations": (7,)}
    assert {s.id: s.exact for s in sol.steps} == expected


@settings(max_examples=60, deadline=None)
@given(config=st.sampled_from(["generated", "generated", "mixtral-8x7b", "eight-experts"]),
       seed=st.integers(0, 2**32 - 1))
def test_random_seeds_agree_and_keep_the_contract(config, seed):
    sol = solve_or_refused(make_spec("sizing", {"config": config}, seed))  # solve refuses a float disagreement
    if sol is None:
        return
    floats = kind_module("sizing").forward(sol.spec, sol.problem)
    for step in sol.steps:
        np.testing.assert_allclose([float(x) for x in step.exact], np.ravel(floats[step.id]), rtol=1e-12)
    check_contract(sol)


def test_bad_input_is_one_line():
    with pytest.raises(SpecError, match="unknown config 'gpt-4'"):
        make_spec("sizing", {"config": "gpt-4"})
    for args in (["generate", "sizing-mixtral-8x7b", "--experts", "4", "--out", "/tmp/unused"],
                 ["solve", "sizing-small-moe", "--seed", "-1"], ["solve", "sizing-eight-experts", "--top-k", "3"]):
        result = CliRunner().invoke(cli, args, prog_name="moe-workbook")
        assert result.exit_code == 2 and result.stdout == "", (args, result.output)
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: "), result.stderr
