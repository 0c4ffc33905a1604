"""Carried errors in the sizing kind: a learner's early slip in one expert's parameter count, worked
on through the layer, the totals, the FLOPs and the memory, is recomputed by sizing's `carried`
from the learner's own boxes (big numbers three digits to a box), and check names the later rows
"follows from your Step N".

The learner's numbers are worked out here by hand with plain integers (no workbook code).

The model (a small SwiGLU one, kB): d 12, h 48, L 4, n_q 4, n_kv 1, d_head 3, V 64, E 8, top-2, m 2, K_s 2.
Key: expert 3·12·48 = 1,728; attention 2·12·4·3 + 2·12·1·3 = 360; router 8·12 = 96; norms 24;
layer 360 + 8·1,728 + 96 + 24 = 14,304; used 360 + 2·1,728 + 120 = 3,936; dense 360 + 1,728 + 24
= 2,112; embeddings 2·64·12 + 12 = 1,548; total 4·14,304 + 1,548 = 58,764; active 17,292.
The learner writes the expert as 1,828 (828 in the units box) and works on from it:
layer 14,304 + 800 = 15,104; used 3,936 + 200 = 4,136; dense 2,212; total 4·15,104 + 1,548 =
61,964; active 4·4,136 + 1,548 = 18,092; dense counterpart 4·2,212 + 1,548 = 10,396; every other
layer 2·(15,104 + 2,212) + 1,548 = 36,180 and 2·(4,136 + 2,212) + 1,548 = 14,244; FLOPs 36,184
and 123,928; bytes 123,928, 61,964, 30,982; kB 123.93, 61.96, 30.98 (key 117.53, 58.76, 29.38).
active / total 18,092 / 61,964 = 0.29, as the key's 0.29: right, not a wrong row.
"""

from fractions import Fraction as F

import pytest

from workbook.check import grade, groups
from workbook.kinds.sizing import carried
from workbook.kinds.sizing_configs import Model
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.spec import make_spec

SMALL = Model("generated", "swiglu", 12, 48, 4, 4, 1, 3, 64, 8, 2, 2, 2, "kB")


def small():
    return solve(make_spec("sizing", {"config": "generated"}, 0), SMALL)


def big(step: str, n: int, row: int = 1, width: int = 5) -> dict:
    """The boxes of a whole number as the sheet lays it out: three digits to a box, box 1 the units,
    the leading boxes empty: big('x', 61964) -> x[1][1] '964', x[1][2] '61', x[1][3..5] ''."""
    text = f"{n:,}".split(",")[::-1]
    return {f"{step}[{row}][{j}]": text[j - 1] if j <= len(text) else "" for j in range(1, width + 1)}


SLIP = big("expert_params", 1828)
CARRIED = (big("layer_params", 15104) | big("layer_active", 4136) | big("dense_layer_params", 2212)
           | big("total_params", 61964) | big("active_params", 18092) | big("dense_params", 10396)
           | big("alternating_total", 36180) | big("alternating_active", 14244)
           | big("flops_per_token", 36184) | big("dense_flops", 123928)
           | big("memory_bytes", 123928, 1) | big("memory_bytes", 61964, 2) | big("memory_bytes", 30982, 3)
           | {"memory_kb[1]": "123.93", "memory_kb[2]": "61.96", "memory_kb[3]": "30.98"})


def answer_file(sol, texts: dict) -> dict:
    """The key in every box, the learner's own text where `texts` gives it."""
    data = {"code": sol.code}
    for g in groups(build_sheet(sol)):
        data[g.key] = [[texts.get(c.ref, c.answer) for c in row] for row in g.rows]
    return data


def findings(sol, texts: dict) -> dict:
    """{(step, 'carried' / 'slip' / the mistake): the row refs} of check's findings."""
    report = grade(sol, build_sheet(sol), answer_file(sol, texts))
    return {(f.step, f.cause or ("carried" if f.carried else "slip")): f.keys
            for s in report.steps for f in s.findings}


def learner(texts: dict) -> dict:
    """{ref: value} as check reads the boxes (an empty box left out)."""
    return {ref: F(t) for ref, t in texts.items() if t != ""}


def boxes(texts: dict, step: str) -> dict:
    return {ref: (F(t) if t else None) for ref, t in texts.items() if ref.startswith(step + "[")}


def test_the_hand_worked_key():
    sol = small()
    assert sol.step("expert_params").exact[0] == 1728 and sol.step("layer_params").exact[0] == 14304
    assert (sol.step("total_params").exact[0], sol.step("active_params").exact[0]) == (58764, 17292)


@pytest.mark.parametrize("step, source", [
    ("layer_params", ("expert_params", "attention_params", "norm_params", "router_params")),
    ("layer_active", ("expert_params", "attention_params", "norm_params", "router_params")),
    ("dense_layer_params", ("expert_params", "attention_params", "norm_params")),
    ("total_params", ("layer_params", "embedding_params")),
    ("active_params", ("layer_active", "embedding_params")),
    ("dense_params", ("dense_layer_params", "embedding_params")),
    ("alternating_total", ("layer_params", "dense_layer_params", "embedding_params")),
    ("alternating_active", ("layer_active", "dense_layer_params", "embedding_params")),
    ("flops_per_token", "active_params"),
    ("dense_flops", "total_params"),
    ("memory_bytes", "total_params"),
])
def test_each_big_number_is_worked_from_the_learners_boxes(step, source):
    sol = small()
    key = {c.ref: c.answer for g in groups(build_sheet(sol)) for row in g.rows for c in row}
    mine = key | SLIP | CARRIED
    got = carried(sol, step, learner(mine))
    assert got == (source, boxes(mine, step))


def test_the_decimals_compare_as_printed():
    sol = small()
    key = {c.ref: c.answer for g in groups(build_sheet(sol)) for row in g.rows for c in row}
    mine = key | SLIP | CARRIED
    assert carried(sol, "memory_kb", learner(mine)) == (
        "memory_bytes", {"memory_kb[1]": F("123.93"), "memory_kb[2]": F("61.96"), "memory_kb[3]": F("30.98")})
    assert carried(sol, "active_fraction", learner(mine)) == (("active_params", "total_params"),
                                                              {"active_fraction[1]": F("0.29")})


def test_check_names_the_slip_once_and_the_kb_as_carried():
    found = findings(small(), SLIP | CARRIED)
    assert found[("expert_params", "slip")] == ("expert_params[1]",)
    assert found[("memory_kb", "carried")] == ("memory_kb",)  # one-index boxes: the grid is one row
    assert not any(cause not in ("carried", "slip") for _, cause in found)


def test_check_names_every_later_big_number_as_carried():
    found = findings(small(), SLIP | CARRIED)
    later = ["layer_params", "layer_active", "dense_layer_params", "total_params", "active_params", "dense_params",
             "alternating_total", "alternating_active", "flops_per_token", "dense_flops"]
    for step in later:
        assert found.get((step, "carried")) == (f"{step}[1]",), step
    assert found.get(("memory_bytes", "carried")) == ("memory_bytes[1]", "memory_bytes[2]", "memory_bytes[3]")


@pytest.mark.parametrize("bad", [
    {"expert_params[1][3]": F(5), "expert_params[1][2]": None},  # an empty box after a filled one
    {"expert_params[1][1]": F(1000)},        # not a three-digit group
    {"expert_params[1][1]": F(15, 2)},       # not a whole number
    {"expert_params[1][1]": F(-1)},
    {"expert_params[1][1]": "seven"},
    # 999,999,999,001,728 (under 10^15): the layer, 8 times it, is over 10^15 and would not fit five boxes
    {"expert_params[1][5]": F(999), "expert_params[1][4]": F(999), "expert_params[1][3]": F(999)},
])
def test_a_box_that_is_no_group_is_not_followed(bad):
    sol = small()
    key = {c.ref: c.answer for g in groups(build_sheet(sol)) for row in g.rows for c in row}
    assert carried(sol, "layer_params", learner(key)) is not None
    mine = {ref: v for ref, v in (learner(key) | bad).items() if v is not None}
    assert carried(sol, "layer_params", mine) is None


def test_a_bad_total_stops_only_what_is_worked_from_it():
    sol = small()
    key = {c.ref: c.answer for g in groups(build_sheet(sol)) for row in g.rows for c in row}
    mine = learner(key) | {"total_params[1][5]": F(1000)}
    assert carried(sol, "flops_per_token", mine) is not None  # from active, which is fine
    assert carried(sol, "dense_flops", mine) is None
    assert carried(sol, "memory_bytes", mine) is None
