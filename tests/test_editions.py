"""Edition 4: expert-choice and shared-experts problems built by construction; every other kind,
and every code printed before, keeps its problems.

The generated problems are checked against their promises by tests/test_contract.py and
tests/test_ranges.py (whatever the edition); here: which problems each edition gives."""

import numpy as np
import pytest

from workbook.kinds.routing_steps import forward
from workbook.presets import presets
from workbook.solve import generate_problem
from workbook.spec import EDITION, make_spec

CHANGED = {"expert-choice", "shared-experts"}


def _in_edition_3(spec):
    return make_spec(spec.kind, dict(spec.params), spec.seed, edition=3)


@pytest.mark.parametrize("preset", [p for p in presets() if p.spec().kind not in CHANGED][::3],
                         ids=lambda p: p.name)
def test_edition_4_keeps_every_other_kinds_problems(preset):
    for seed in (1, 2, 3):
        spec = preset.spec(seed=seed)
        assert spec.edition == EDITION == 4
        assert repr(generate_problem(spec)) == repr(generate_problem(_in_edition_3(spec)))


@pytest.mark.parametrize("preset", [p for p in presets() if p.spec().kind in CHANGED], ids=lambda p: p.name)
def test_edition_4_builds_new_problems_and_edition_3_keeps_its_own(preset):
    new = [repr(generate_problem(preset.spec(seed=s))) for s in range(1, 6)]
    old = [repr(generate_problem(_in_edition_3(preset.spec(seed=s)))) for s in range(1, 6)]
    assert sum(a != b for a, b in zip(new, old)) >= 4  # another generator: (nearly) every seed differs
    assert len(set(new)) == 5  # and every seed its own problem


@pytest.mark.parametrize("params", [
    {"tokens": 8, "experts": 5, "capacity": 3, "d_model": 3, "ffn": True},   # expert-choice-5e-top3
    {"tokens": 10, "experts": 3, "capacity": 4, "d_model": 4, "gate": "softmax2"},
    {"tokens": 7, "experts": 8, "capacity": 2, "d_model": 3, "gate": "softmax"},
    {"tokens": 4, "experts": 3, "capacity": 1, "d_model": 3},  # E·c < T: the double is built in
])
def test_expert_choice_is_built_with_its_teaching_moment(params):
    """Each expert's top c + 1 apart, a token no expert takes and one taken twice, for 40 seeds,
    from the floats forward() computes (the exact check is test_contract's)."""
    for seed in range(40):
        spec = make_spec("expert-choice", params, seed)
        f = forward(spec, generate_problem(spec))
        assert f["coverage"].min() == 0 and f["coverage"].max() >= 2, (params, seed)
        top = -np.sort(-f["probs"], axis=0)[:params["capacity"] + 1]
        assert (np.diff(-top, axis=0) >= 0.01 - 1e-12).all(), (params, seed)
