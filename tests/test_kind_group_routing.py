"""group-routing: hand-worked examples of DeepSeek-V3's and V2's group-limited routing and V2's
device-limited routing, exact against float over every preset, random parameters, every named
mistake, carried errors, and a worksheet that shows nothing of the answers.

The hand-worked numbers are worked out in each docstring with plain fractions (no workbook code)."""

from fractions import Fraction as F

import pytest
from conftest import learner_answers, solve_or_refused
from hypothesis import given, settings, strategies as st
from sympy import Rational as R

from test_no_leak import geometry
from workbook.check import grade
from workbook.diagnosis import mistake_boxes
from workbook.errors import SpecError
from workbook.kinds.group_routing import GroupProblem, contract
from workbook.layout import cells, step_id_of
from workbook.mistakes import made
from workbook.presets import presets
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.spec import make_spec
from workbook.values import expected

PRESETS = [p for p in presets() if p.exercise == "group-routing"]
SEEDS = range(12)


def _v3():
    """Two tokens, 4 experts in 2 groups of 2 (G1 = E1, E2; G2 = E3, E4), keep 1 group, top-2,
    biases b = (0.1, 0.2, −0.1, 0).

    t1 scores (2, −2, 1, 1): s = 3^S/(3^S + 1) = (9/10, 1/10, 3/4, 3/4); s + b = (1, 3/10, 13/20, 3/4).
    G1 = 1 + 3/10 = 13/10, G2 = 13/20 + 3/4 = 7/5: G2 kept, (0, 1). Top-2 of E3, E4: E4 (3/4), E3
    (13/20). Without the groups it would be E1 (1), E4. Weights: 2.5 · 3/4 / (3/4 + 3/4) = 5/4 each.
    t2 scores (0, 1, −1, 2): s = (1/2, 3/4, 1/4, 9/10); s + b = (3/5, 19/20, 3/20, 9/10).
    G1 = 3/5 + 19/20 = 31/20, G2 = 3/20 + 9/10 = 21/20: G1 kept, (1, 0). Top-2: E2 (19/20), E1 (3/5).
    Weights: 2.5 · (3/4, 1/2) / (5/4) = (3/2, 1)."""
    spec = make_spec("group-routing", {"variant": "v3", "tokens": 2, "groups": 2, "group_size": 2,
                                       "topk_group": 1, "top_k": 2}, 0)
    return solve(spec, GroupProblem(((2, -2, 1, 1), (0, 1, -1, 2)), (1, 2, -1, 0)))


def _device():
    """Two tokens, 4 experts on 2 devices of 2, M = 1, top-2, d_model 8, 2 bytes, both tokens at home on d2.

    t1 scores (1, 0, 2, −1): powers 3^(S + 1) = (9, 3, 27, 1), sum 40: P = (9/40, 3/40, 27/40, 1/40).
    Device bests d1 9/40, d2 27/40: d2 kept, (0, 1). Top-2 on d2: E3, E4. Without: E3, E1.
    t2 scores (1, 1, 2, −2): powers 3^(S + 2) = (27, 27, 81, 1), sum 136: P = (27, 27, 81, 1)/136.
    d1 27/136, d2 81/136: d2 kept. Top-2 on d2: E3, E4. Without: E3, then E1 and E2 tie at 27/136:
    the lower number, E1.
    Crossing (home d2): with the limit 0 and 0; without, E1 on d1 crosses: 1 and 1. Devices reached:
    1 with the limit, 2 without, for both. All-to-all: pairs 0 and 2; values 0 and 2·8 = 16; bytes
    both ways 0 and 16·2·2 = 64. Saved 64."""
    spec = make_spec("group-routing", {"variant": "device", "tokens": 2, "groups": 2, "group_size": 2,
                                       "topk_group": 1, "top_k": 2, "d_model": 8, "bytes": 2}, 0)
    return solve(spec, GroupProblem(((1, 0, 2, -1), (1, 1, 2, -2)), (), (2, 2)))


def test_deepseek_v3_by_hand():
    sol = _v3()
    assert sol.step("sigmoid").exact == ((R(9, 10), R(1, 10), R(3, 4), R(3, 4)), (R(1, 2), R(3, 4), R(1, 4), R(9, 10)))
    assert sol.step("selection").exact == ((1, R(3, 10), R(13, 20), R(3, 4)), (R(3, 5), R(19, 20), R(3, 20), R(9, 10)))
    assert sol.step("group_score").exact == ((R(13, 10), R(7, 5)), (R(31, 20), R(21, 20)))
    assert sol.step("group_kept").exact == ((0, 1), (1, 0))
    assert sol.step("topk").exact == ((4, 3), (2, 1))
    assert sol.step("gates").exact == ((R(5, 4), R(5, 4)), (R(3, 2), 1))


def test_deepseek_v2_by_hand():
    """The device example's tokens as V2's group_limited_greedy (groups = the devices): the same
    kept groups and top-2, and weights 16 · P, not renormalised: t1 16 · (27/40, 1/40) = (54/5, 2/5),
    t2 16 · (81/136, 1/136) = (162/17, 2/17)."""
    spec = make_spec("group-routing", {"variant": "v2", "tokens": 2, "groups": 2, "group_size": 2,
                                       "topk_group": 1, "top_k": 2}, 0)
    sol = solve(spec, GroupProblem(((1, 0, 2, -1), (1, 1, 2, -2))))
    assert sol.step("probs").exact[0] == (R(9, 40), R(3, 40), R(27, 40), R(1, 40))
    assert sol.step("group_score").exact == ((R(9, 40), R(27, 40)), (R(27, 136), R(81, 136)))
    assert sol.step("group_kept").exact == ((0, 1), (0, 1))
    assert sol.step("topk").exact == ((3, 4), (3, 4))
    assert sol.step("gates").exact == ((R(54, 5), R(2, 5)), (R(162, 17), R(2, 17)))


def test_device_limited_by_hand():
    sol = _device()
    assert sol.step("device_score").exact == ((R(9, 40), R(27, 40)), (R(27, 136), R(81, 136)))
    assert sol.step("device_kept").exact == ((0, 1), (0, 1))
    assert sol.step("topk").exact == ((3, 4), (3, 4))
    assert sol.step("topk_all").exact == ((3, 1), (3, 1))
    assert sol.step("crossing").exact == ((0, 1), (0, 1))
    assert sol.step("devices").exact == ((1, 2), (1, 2))
    assert sol.step("all_to_all").exact == ((0, 2), (0, 16), (0, 64))
    assert sol.step("saved").exact == (64,)


@pytest.mark.parametrize("name", [p.name for p in PRESETS])
def test_every_preset_solves_exact_against_float_and_keeps_its_promises(name):
    """solve() refuses any variant whose exact steps and NumPy forward pass differ by 1e-9."""
    preset = next(p for p in PRESETS if p.name == name)
    for seed in SEEDS:
        sol = solve(preset.spec(seed=seed))
        assert contract(sol) == [], (name, seed)


@settings(max_examples=12, deadline=None)
@given(variant=st.sampled_from(["v3", "v2", "device"]), tokens=st.integers(2, 4), groups=st.integers(2, 4),
       group_size=st.integers(2, 4), topk_group=st.integers(1, 3), top_k=st.integers(1, 4),
       seed=st.integers(0, 10**6))
def test_documented_ranges_generate_or_are_refused_in_one_line(variant, tokens, groups, group_size, topk_group,
                                                                top_k, seed):
    params = {"variant": variant, "tokens": tokens, "groups": groups, "group_size": group_size,
              "topk_group": topk_group, "top_k": top_k}
    try:
        spec = make_spec("group-routing", params, seed)
    except SpecError as err:
        assert "\n" not in str(err)
        return
    sol = solve_or_refused(spec)
    assert sol is not None, params  # every allowed combination generates (swept in full while writing the kind)
    assert contract(sol) == []


@pytest.mark.parametrize("params, words", [
    ({"groups": 4, "group_size": 3}, "at most 8"),
    ({"groups": 3, "topk_group": 3}, "below groups"),
    ({"groups": 2, "topk_group": 1, "top_k": 3}, "at most topk-group"),
    ({"variant": "v2", "topk_group": 2, "top_k": 2}, "above topk-group"),
    ({"variant": "device", "topk_group": 3, "top_k": 4}, "at most 3"),
    ({"d_model": 4096}, "variant device only"),
])
def test_impossible_combinations_are_refused(params, words):
    with pytest.raises(SpecError, match=words):
        make_spec("group-routing", params, 0)


def _findings(sol, values: dict) -> dict:
    """{(step, 'carried' / 'slip' / the mistake): the rows} of check's findings."""
    report = grade(sol, build_sheet(sol), learner_answers(sol, values))
    return {(f.step, f.cause or ("carried" if f.carried else "slip")): f.keys for s in report.steps for f in s.findings}


# Devices ranked by how many of the plain top-k they hold only differ from the best-affinity
# ranking when k >= M + 2 (the preset has M = 2, top-3): 6 experts on 2 devices, M = 1, top-3.
COUNTED = {"variant": "device", "tokens": 4, "groups": 2, "group_size": 3, "topk_group": 1, "top_k": 3}


def _mistake_sheets():
    """{mistake name: (a solved variant on which it changes some box, its changed steps)}, from
    the presets and COUNTED, a few seeds each (seed 0 of the presets already shows each of theirs)."""
    found = {}
    specs = [p.spec(seed=seed) for p in PRESETS for seed in range(4)]
    for spec in specs + [make_spec("group-routing", COUNTED, seed) for seed in range(10)]:
        sol = solve(spec)
        for name, changed in made(sol):
            found.setdefault(name, (sol, changed))
    return found


def test_every_mistake_differs_from_the_key_and_check_names_it():
    from workbook.kinds.group_routing import MISTAKES

    found = _mistake_sheets()
    assert set(found) == {name for name, _ in MISTAKES}
    for name, (sol, changed) in found.items():
        key = {c.ref: expected(c) for c in cells(build_sheet(sol).sections) if c.blank}
        wrong = mistake_boxes(sol, changed)
        first = min(changed, key=[s.id for s in sol.steps].index)
        assert any(v != key[ref] for ref, v in wrong.items() if step_id_of(ref) == first), name
        report = grade(sol, build_sheet(sol), learner_answers(sol, wrong))
        assert f"{first}: {name}" in [r for s in report.steps for r in s.reasons], (name, sol.code)


def test_v3_mistakes_by_hand():
    """On _v3(): the group scored by its single best s + b keeps G1 for t1 (1 > 3/4), so t1 takes
    E1, E2 with weights 2.5 · (9/10, 1/10) / 1 = (9/4, 1/4); the bias in the weights gives t1
    2.5 · (3/4, 13/20) / (7/5) = (75/56, 65/56)."""
    sol = _v3()
    best = dict(made(sol))["a group's score taken as its single best s + b; DeepSeek-V3 adds its two largest"]
    assert best["group_score"][0] == (1, R(3, 4)) and best["topk"][0] == (1, 2)
    assert best["gates"][0] == (R(9, 4), R(1, 4))
    bias = dict(made(sol))["the bias b used in the weights; it only picks the experts"]
    assert bias["gates"][0] == (R(75, 56), R(65, 56))


def test_a_slip_in_s_is_carried_through_the_group_scores():
    """_v3(), the learner writes t1's s(E1) as 3/4 (for 9/10): s + b = 3/4 + 1/10 = 17/20, then
    G1 = 17/20 + 3/10 = 23/20 (G2 stays 7/5: the same group kept, the rest right)."""
    found = _findings(_v3(), {"sigmoid[1][1]": F(3, 4), "selection[1][1]": F(17, 20), "group_score[1][1]": F(23, 20)})
    assert found == {("sigmoid", "slip"): ("sigmoid[1]",), ("selection", "carried"): ("selection[1]",),
                     ("group_score", "carried"): ("group_score[1]",)}


def test_a_wrong_crossing_count_is_carried_to_the_saving():
    """_device(), the learner counts t1's crossing pairs with the limit as 1 (for 0): with the
    limit 1 + 0 = 1 pair, 1 · 8 = 8 values, 8 · 2 · 2 = 32 bytes; saved 64 − 32 = 32."""
    mine = {"crossing[1][1]": 1, "all_to_all[1][1]": 1, "all_to_all[2][1]": 8, "all_to_all[3][1]": 32,
            "saved[1][1]": 32}
    found = _findings(_device(), mine)
    assert found == {("crossing", "slip"): ("crossing[1]",), ("all_to_all", "carried"): ("all_to_all[1]",
                     "all_to_all[2]", "all_to_all[3]"), ("saved", "carried"): ("saved[1]",)}


def test_the_worksheet_depends_on_the_parameters_only():
    """Every group gets its 'kept?' box, every token k boxes, whatever the answers (not a preset's sizes)."""
    params = {"variant": "v3", "tokens": 4, "groups": 2, "group_size": 4, "topk_group": 1, "top_k": 3}
    first, second = (build_sheet(solve(make_spec("group-routing", params, seed))) for seed in (3, 4))
    assert geometry(first) == geometry(second)
    assert first.conventions == second.conventions
