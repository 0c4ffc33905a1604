"""Carried errors in the shared-experts and expert-parallel kinds: a learner's early slip worked
on through the later steps is named once, where it began, and the later rows are "follows from
your Step N" (each kind's `carried`).

The learners' numbers are worked out here by hand with plain fractions (no workbook code)."""

from fractions import Fraction as F

from conftest import learner_answers

from workbook.check import grade
from workbook.kinds.expert_parallel import ParallelProblem, carried as parallel_carried
from workbook.kinds.shared_experts import SharedProblem, carried as shared_carried
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.spec import make_spec

W_SHARED = ((1, 0), (0, 1))      # identity
W_E1 = ((2, 0), (0, 0))          # keeps 2 x1
W_E2 = ((0, 0), (0, 2))          # keeps 2 x2
W_E3 = ((1, 1), (1, 1))          # (x1 + x2, x1 + x2)


def findings(sol, values: dict) -> dict:
    """{(step, 'carried' / 'slip' / the mistake): the row refs} of check's findings."""
    report = grade(sol, build_sheet(sol), learner_answers(sol, values))
    out = {}
    for s in report.steps:
        for f in s.findings:
            out[(f.step, f.cause or ("carried" if f.carried else "slip"))] = f.keys
    return out


def grid(step: str, rows) -> dict:
    return {f"{step}[{i + 1}][{j + 1}]": v for i, row in enumerate(rows) for j, v in enumerate(row)}


def test_expert_parallel_slip_in_a_device_is_carried_to_the_end():
    """The sheet of test_kind_expert_parallel's by-hand example (D = 2, E = 4, top-2, d = 8, 2 bytes):
    destinations t1 (1, 2), t2 (1, 1), t3 (2, 1), t4 (2, 1). The learner looks up t1's E3 as
    device 1: t1 (1, 1). Then, by hand:
    dispatch d1 -> d1: all four of t1, t2 = 4, d1 -> d2: 0; d2 row as the key (2, 2): M = [[4, 0], [2, 2]].
    local 4 + 2 = 6, crossing 0 + 2 = 2, share 2/8 = 1/4; volume 2 x 8 = 16 values, 32 bytes, both
    ways 32 and 64. Load = column sums (6, 2); mean 8/2 = 4 (right); imbalance 6/4 = 3/2."""
    spec = make_spec("expert-parallel", {"devices": 2, "experts": 4, "tokens": 2, "top_k": 2, "d_model": 8,
                                         "bytes": 2}, 0)
    sol = solve(spec, ParallelProblem(((1, 3), (2, 1), (4, 1), (3, 1)), (1, 1, 2, 2), (1, 1, 2, 2)))
    mine = grid("destination", [(1, 1), (1, 1), (2, 1), (2, 1)])
    mine |= grid("dispatch", [(4, 0), (2, 2)])
    mine |= {"local_pairs[1][1]": 6, "crossing_pairs[1][1]": 2, "crossing_share[1][1]": F(1, 4)}
    mine |= grid("all_to_all", [(16, 32), (16, 32), (32, 64)])
    mine |= grid("load", [(6, 2)]) | {"mean_load[1][1]": 4, "imbalance[1][1]": F(3, 2)}
    found = findings(sol, mine)
    assert found[("destination", "slip")] == ("destination[1]",)
    assert found[("dispatch", "carried")] == ("dispatch[1]",)  # d2's row is right
    for step in ("local_pairs", "crossing_pairs", "crossing_share", "imbalance"):
        assert found[(step, "carried")] == (f"{step}[1]",)
    assert found[("all_to_all", "carried")] == ("all_to_all[1]", "all_to_all[2]", "all_to_all[3]")
    assert found[("load", "carried")] == ("load[1]",)
    assert set(found) == {("destination", "slip"), ("dispatch", "carried"), ("local_pairs", "carried"),
                          ("crossing_pairs", "carried"), ("crossing_share", "carried"), ("all_to_all", "carried"),
                          ("load", "carried"), ("imbalance", "carried")}
    report = grade(sol, build_sheet(sol), learner_answers(sol, mine))
    load = next(f for s in report.steps for f in s.findings if f.step == "load")
    assert load.carried and load.rows == ("load",)


def test_deepseekmoe_slip_in_a_probability_is_carried_to_h():
    """test_kind_shared_experts' DeepSeekMoE example: x = (1, 2) for both tokens, P = (9/13, 3/13,
    1/13), top-2 E1, E2. The learner writes t1's P(E2) as 4/13. Then by hand: gates t1 (9/13, 4/13);
    routed t1 = 9/13 (2, 0) + 4/13 (0, 4) = (18/13, 16/13); h t1 = (1 + 1 + 18/13, 2 + 2 + 16/13)
    = (44/13, 68/13). t2 is right throughout."""
    spec = make_spec("shared-experts", {"tokens": 2, "experts": 3, "shared": 1, "top_k": 2, "d_model": 2}, 0)
    sol = solve(spec, SharedProblem(((1, 2), (1, 2)), ((1, 0, -1), (1, 0, -1)), (W_SHARED, W_E1, W_E2, W_E3)))
    mine = {"probs[1][2]": F(4, 13), "gates[1][1]": F(9, 13), "gates[1][2]": F(4, 13),
            "routed_out[1][1]": F(18, 13), "routed_out[1][2]": F(16, 13),
            "output[1][1]": F(44, 13), "output[1][2]": F(68, 13)}
    found = findings(sol, mine)
    assert found == {("probs", "slip"): ("probs[1]",), ("gates", "carried"): ("gates[1]",),
                     ("routed_out", "carried"): ("routed_out[1]",), ("output", "carried"): ("output[1]",)}
    report = grade(sol, build_sheet(sol), learner_answers(sol, mine))
    h = next(f for s in report.steps for f in s.findings if f.step == "output")
    assert h.carried and h.rows == ("t1",)


def test_deepseek_v3_slips_are_carried_through_the_bias_update():
    """test_kind_shared_experts' V3 example: b = (0, 0, 0.2), s t1 = (3/4, 1/2, 1/2), t2 = (1/2, 3/4,
    1/4); new b = (-0.1, 0.1, 0.3); shared = x = (1, 2) for both tokens; routed (6, 3), (2, 6).
    The learner writes t1's s(E2) as 3/5 and t2's shared output as (1, 3). By hand:
    s + b t1 = (3/4, 3/5, 7/10): top-2 still E1, E3, so the weights are right;
    h t2 = (1 + 1 + 2, 2 + 3 + 6) = (4, 11);
    new s + b t1 = (3/4 - 1/10, 3/5 + 1/10, 1/2 + 3/10) = (13/20, 7/10, 4/5): E3, E2 (the key: E3, E1);
    changed t1: {E1, E3} -> {E2, E3}: 1 (the key: 0)."""
    spec = make_spec("shared-experts", {"tokens": 2, "experts": 3, "shared": 1, "top_k": 2, "d_model": 2,
                                        "variant": "v3"}, 0)
    sol = solve(spec, SharedProblem(((1, 2), (1, 2)), ((1, 0, 0), (0, 1, -1)), (W_SHARED, W_E1, W_E2, W_E3),
                                    (0, 0, 2)))
    mine = {"sigmoid[1][2]": F(3, 5), "selection[1][2]": F(3, 5),
            "shared_out[2][2]": 3, "output[2][1]": 4, "output[2][2]": 11,
            "topk_new[1][1]": 3, "topk_new[1][2]": 2, "changed[1][1]": 1}
    found = findings(sol, mine)
    assert found == {("sigmoid", "slip"): ("sigmoid[1]",), ("selection", "carried"): ("selection[1]",),
                     ("shared_out", "slip"): ("shared_out[2]",), ("output", "carried"): ("output[2]",),
                     ("topk_new", "carried"): ("topk_new[1]",), ("changed", "carried"): ("changed[1]",)}


def test_v3_load_slip_is_carried_into_the_new_biases():
    """Load written (2, 2, 1) for (2, 1, 1): mean 4/3, so b2 <- 0 - 0.1 = -0.1 (the key: +0.1);
    the new b = (-1/10, -1/10, 3/10). New s + b: t1 (13/20, 2/5, 4/5) -> E3, E1; t2 (2/5, 13/20,
    11/20) -> E2, E3: the same choices as the key's."""
    spec = make_spec("shared-experts", {"tokens": 2, "experts": 3, "shared": 1, "top_k": 2, "d_model": 2,
                                        "variant": "v3"}, 0)
    sol = solve(spec, SharedProblem(((1, 2), (1, 2)), ((1, 0, 0), (0, 1, -1)), (W_SHARED, W_E1, W_E2, W_E3),
                                    (0, 0, 2)))
    found = findings(sol, {"load[1][2]": 2, "bias_new[1][2]": F(-1, 10)})
    assert found == {("load", "slip"): ("load[1]",), ("bias_new", "carried"): ("bias_new[1]",)}


def test_carried_refuses_what_it_cannot_follow():
    """An empty box, a word, a device that does not exist, a number beyond any hand calculation:
    nothing is worked from them."""
    spec = make_spec("expert-parallel", {"devices": 2, "experts": 4, "tokens": 2, "top_k": 2, "d_model": 8,
                                         "bytes": 2}, 0)
    sol = solve(spec, ParallelProblem(((1, 3), (2, 1), (4, 1), (3, 1)), (1, 1, 2, 2), (1, 1, 2, 2)))
    dest = grid("destination", [(F(1), F(2)), (F(1), F(1)), (F(2), F(1)), (F(2), F(1))])
    assert parallel_carried(sol, "dispatch", dest)[1] == grid("dispatch", [(3, 1), (2, 2)])
    assert parallel_carried(sol, "dispatch", dest | {"destination[1][2]": F(7)}) is None
    assert parallel_carried(sol, "dispatch", dest | {"destination[1][2]": None}) is None
    assert parallel_carried(sol, "crossing_share", {"crossing_pairs[1][1]": "three"}) is None
    assert parallel_carried(sol, "all_to_all", {"crossing_pairs[1][1]": F(10) ** 30}) is None
    assert parallel_carried(sol, "imbalance", {"load[1][1]": F(5), "load[1][2]": F(3), "mean_load[1][1]": F(0)}) is None
    assert parallel_carried(sol, "imbalance", {"load[1][1]": F(5), "load[1][2]": F(3),
                                               "mean_load[1][1]": F(4)}) == (("load", "mean_load"), {"imbalance[1][1]": F(5, 4)})
    spec = make_spec("shared-experts", {"tokens": 2, "experts": 3, "shared": 1, "top_k": 2, "d_model": 2}, 0)
    sol = solve(spec, SharedProblem(((1, 2), (1, 2)), ((1, 0, -1), (1, 0, -1)), (W_SHARED, W_E1, W_E2, W_E3)))
    assert shared_carried(sol, "gates", {"probs[1][1]": F(10) ** 40, "probs[1][2]": F(1), "probs[1][3]": F(1)}) is None
    assert shared_carried(sol, "routed_out", {}) is None
    assert shared_carried(sol, "shared_out", grid("probs", sol.step("probs").exact)) is None
