"""model-sizing: published models from their configurations (issue 16).

Every figure is checked here against what does not come from the kind: the exact counts Hugging
Face's transformers gives when it builds the models (../shared/MOE-CONVENTIONS.md: Mixtral 8x7B,
DeepSeek-V3 without MTP, Qwen1.5-MoE), the sizing kind's own Mixtral, each maker's published
(rounded) figure, the README's table, and one layer of Qwen1.5-MoE worked out by hand below.
(The kind's forward route, summing every weight's shape by name, is compared with the closed
forms by solve() for every preset: tests/test_contract.py and friends.)

Qwen1.5-MoE-A2.7B by hand (d 2,048, h_moe 1,408, h_s 5,632, 60 experts, top-4, 24 layers, 16 heads
of 128, V 151,936, q/k/v biases): attention 4·2,048·2,048 + 3·2,048 = 16,783,360; one expert
3·2,048·1,408 = 8,650,752; shared expert and gate 3·2,048·5,632 + 2,048 = 34,605,056; router
60·2,048 = 122,880; norms 4,096; MoE layer 16,783,360 + 60·8,650,752 + 34,605,056 + 122,880 + 4,096
= 570,560,512; used 16,783,360 + 4·8,650,752 + 34,605,056 + 122,880 + 4,096 = 86,118,400;
outside 2·151,936·2,048 + 2,048 = 622,331,904; total 24·570,560,512 + 622,331,904 = 14,315,784,192;
active 24·86,118,400 + 622,331,904 = 2,689,173,504.
"""

import math
from fractions import Fraction as F
from pathlib import Path

import pytest
from conftest import learner_answers

from workbook.check import grade, groups
from workbook.kinds.model_configs import MODELS, computed, load
from workbook.kinds.model_sizing import carried
from workbook.kinds.model_weights import _mtp, state_dict
from workbook.presets import presets
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.spec import make_spec

README = Path(__file__).resolve().parents[1] / "README.md"
PRESETS = [p.name for p in presets() if p.exercise == "model-sizing"]
REAL = [k for k in MODELS if load(k).family != "rumour"]


def sol_of(model: str):
    return solve(make_spec("model-sizing", {"model": model}, 1))


def test_every_model_has_its_preset_or_is_kept_elsewhere():
    covered = {dict(p.params)["model"] for p in presets() if p.exercise == "model-sizing"}
    assert covered | {"mixtral-8x7b"} == set(MODELS)  # Mixtral 8x7B keeps its sizing preset


@pytest.mark.parametrize("model, total, active", [
    ("mixtral-8x7b", 46_702_792_704, 12_879_925_248),
    ("deepseek-v3", 671_026_404_352, None),
    ("qwen1.5-moe-a2.7b", 14_315_784_192, 2_689_173_504),
])
def test_the_counts_transformers_gives(model, total, active):
    got = computed(load(model))
    assert got["total"] == total
    assert active is None or got["active"] == active


def test_mixtral_agrees_with_the_sizing_kind():
    old = solve(make_spec("sizing", {"config": "mixtral-8x7b"}, 2))
    new = computed(load("mixtral-8x7b"))
    assert (old.step("total_params").exact[0], old.step("active_params").exact[0]) == (new["total"], new["active"])


def test_qwen_by_hand():
    got = computed(load("qwen1.5-moe-a2.7b"))
    assert [got[i] for i in ("attention", "expert", "shared", "router", "norms", "moe_layer", "moe_used", "outside")] == [
        16_783_360, 8_650_752, 34_605_056, 122_880, 4_096, 570_560_512, 86_118_400, 622_331_904]


@pytest.mark.parametrize("model", REAL)
def test_the_total_is_every_weights_shape_summed(model):
    m = load(model)
    assert sum(math.prod(shape) for _, shape in state_dict(m)) == computed(m)["total"]


def test_deepseek_v3s_mtp_module_as_the_checkpoint_stores_it():
    m = load("deepseek-v3")
    got = computed(m)
    stored = sum(math.prod(s) for _, s in _mtp(m))
    assert got["with_mtp"] == got["total"] + stored
    assert got["mtp"] == stored - 2 * 129_280 * 7_168  # without its copies of the embedding and the head


def _published_digits(b: float) -> int:
    return len(f"{b:g}".partition(".")[2])


@pytest.mark.parametrize("model", REAL)
def test_the_published_figures_are_the_counts_rounded(model):
    """Each maker's figure is the count rounded to the figure's own digits (the sheet says so), but
    Qwen3's active 3.3B, which is cut, not rounded (the sheet says that too)."""
    m = load(model)
    got = computed(m)
    for published, sid in ((m.published_total, "total_billions"), (m.published_active, "active_billions")):
        if not published:
            continue
        digits = _published_digits(published)
        value = F(int(got[sid].p), int(got[sid].q))
        if (model, sid) == ("qwen3-30b-a3b", "active_billions"):
            assert math.floor(value * 10) / F(10) == F(str(published))
            assert "cut (not rounded)" in m.note
            continue
        assert abs(value - F(str(published))) <= F(1, 2 * 10 ** digits), (model, sid, float(value))


def test_the_readme_lists_every_computed_figure():
    text = README.read_text(encoding="utf-8")
    for model in REAL:
        got = computed(load(model))
        active = got.get("active_published", got["active"])
        assert f"{int(got['total']):,}" in text and f"{int(active):,}" in text, model


def test_every_model_names_its_source_and_every_value_is_a_whole_number():
    for model in MODELS:
        m = load(model)
        assert m.source and m.published and m.note
        assert all(isinstance(v, (int, bool)) or k == "routed_scaling_factor" for k, v in m.config)


def test_the_rumour_sheet_says_rumour_and_adds_up():
    from workbook.kinds import model_sizing

    sol = sol_of("gpt-4-rumour")
    assert "rumour" in model_sizing.title(sol.spec).lower()
    assert model_sizing.conventions(sol)[0].startswith("RUMOUR, NOT FACT")
    assert sol.step("total").exact[0] == 16 * 111 * 10 ** 9 + 55 * 10 ** 9
    assert sol.step("flops").exact[0] == 2 * (2 * 111 + 55) * 10 ** 9


def test_the_worksheet_is_the_same_for_every_seed():
    a, b = (build_sheet(solve(make_spec("model-sizing", {"model": "deepseek-v2"}, s))) for s in (1, 9))
    cells = lambda sh: [[c.ref for c in row] for g in groups(sh) for row in g.rows]  # noqa: E731
    assert cells(a) == cells(b)


# --- a learner's sheet -------------------------------------------------------------------------

def big(step: str, n: int, width: int = 5) -> dict:
    text = f"{n:,}".split(",")[::-1]
    return {f"{step}[1][{j}]": text[j - 1] if j <= len(text) else "" for j in range(1, width + 1)}


def findings(sol, texts: dict) -> dict:
    report = grade(sol, build_sheet(sol), learner_answers(sol, texts))
    return {(f.step, f.cause or ("carried" if f.carried else "slip")) for s in report.steps for f in s.findings}


def test_a_slip_in_the_layer_is_carried_to_the_total_and_the_flops():
    """Qwen1.5: the MoE layer written 570,560,612 (a slip of 100): total 24·570,560,612 + 622,331,904
    = 14,315,786,592, and the key's active stays; GB at 16 bits 28.631573184 -> 28.63 (as the key)."""
    sol = sol_of("qwen1.5-moe-a2.7b")
    texts = big("moe_layer", 570_560_612) | big("total", 14_315_786_592)
    found = findings(sol, texts)
    assert ("moe_layer", "slip") in found and ("total", "carried") in found
    learner = {ref: F(t) for ref, t in texts.items() if t}
    key = {c.ref: F(c.answer) for g in groups(build_sheet(sol)) for row in g.rows for c in row if c.answer}
    source, boxes = carried(sol, "total", key | learner)
    assert source == ("moe_layer", "outside") and boxes == {r: (F(t) if t else None) for r, t in big(
        "total", 14_315_786_592).items()}


@pytest.mark.parametrize("texts, mistake", [
    (lambda g: big("flops", int(g["active"])), "FLOPs taken as the parameters"),
    (lambda g: {"memory_16[1]": f"{float(g['memory_16']) * 8:.2f}"}, "bits taken as bytes"),
    (lambda g: big("outside", 151_936 * 2_048 + 2_048), "one embedding matrix counted"),
    (lambda g: big("moe_used", int(g["moe_used"] - g["shared"])), "the shared experts left out"),
    (lambda g: big("moe_used", int(g["moe_layer"])), "every expert counted as used"),
])
def test_check_names_each_mistake(texts, mistake):
    sol = sol_of("qwen1.5-moe-a2.7b")
    got = computed(load("qwen1.5-moe-a2.7b"))
    found = findings(sol, texts(got))
    assert any(cause.startswith(mistake) for _, cause in found), found
