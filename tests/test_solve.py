"""The exact solver against the independent NumPy forward pass, over every preset x 200 seeds."""

import numpy as np
import pytest
import sympy

from conftest import SEEDS, solved
from workbook.errors import CheckError
from workbook.kinds import kind as kind_module
from workbook.presets import presets
from workbook.solve import leaves, solve
from workbook.spec import make_spec

REQUIRED = {
    "token-choice": {"scores", "probs", "topk", "weights", "load"},
    "expert-choice": {"scores", "probs", "token_index", "gating", "coverage"},
    "load-balance": {"probs", "topk", "counts", "f", "pbar", "aux_loss", "aux_balanced", "aux_collapsed",
                     "lse", "z_loss"},
    "switch": {"scores", "probs", "topk", "weights", "load", "capacity", "kept", "served", "dropped",
               "min_capacity_factor"},
}


def test_exact_agrees_with_float_for_every_step(preset_name):
    for seed in SEEDS:
        sol = solved(preset_name, seed)
        floats = kind_module(sol.spec.kind).forward(sol.spec, sol.problem)
        for step in sol.steps:
            expected = [floats["dropped"]] if step.id == "dropped" else floats[step.id]
            exact = [float(v) for v in leaves(step.exact)]
            approx = [float(v) for v in leaves(expected)]
            assert len(exact) == len(approx), (sol.code, step.id)
            np.testing.assert_allclose(exact, approx, rtol=1e-9, atol=1e-9, err_msg=f"{sol.code} {step.id}")


@pytest.mark.parametrize("preset_name", [p.name for p in presets() if p.exercise in REQUIRED])
def test_every_required_step_is_there(preset_name):
    sol = solved(preset_name, 0)
    need = REQUIRED[sol.spec.kind] | ({"output"} if sol.spec.params.get("ffn") else set())
    if sol.spec.params.get("capacity_factor", "none") != "none":
        need |= REQUIRED["switch"]
    if sol.spec.params.get("jitter"):
        need |= {"jitter_scores", "jitter_choice", "changed"}
    assert need <= sol.has


def test_rows_of_p_sum_to_one_exactly(preset_name):
    if "probs" not in solved(preset_name, 0).has:
        return  # kinds without router probabilities (sizing, quantize, ...)
    for seed in range(20):
        sol = solved(preset_name, seed)
        for row in sol.step("probs").exact:
            assert sum(row) == 1


@pytest.mark.parametrize("gate", ["softmax2", "softmax"])
@pytest.mark.parametrize("kind", ["token-choice", "expert-choice", "switch"])
def test_other_gates_agree_too(kind, gate):
    for seed in range(15):
        sol = solve(make_spec(kind, {"gate": gate, "ffn": True}, seed))
        probs = sol.step("probs").exact
        if gate == "softmax":
            assert any(v.atoms(sympy.exp) or v.has(sympy.E) for row in probs for v in row)
        for step in sol.steps:
            for v in leaves(step.exact):
                assert sympy.sympify(str(v)).equals(v)


def test_a_disagreement_is_an_error_not_a_silent_key(monkeypatch):
    exercise = kind_module(presets()[0].exercise)
    real = exercise.forward

    def wrong(spec, problem):
        out = real(spec, problem)
        out["probs"] = out["probs"] + 1e-6
        return out

    monkeypatch.setattr(exercise, "forward", wrong)
    with pytest.raises(CheckError, match="probs"):
        solve(presets()[0].spec())
