"""Checking a hand calculation: grading, carried errors, and every common mistake named right.

Each mistaken sheet below is worked out by hand in its test (plain fractions, no workbook code),
so the diagnosis is tested against an independent wrong calculation."""

import json
import math
from fractions import Fraction as F

import pytest
import sympy
from click.testing import CliRunner

from workbook.check import answers_template, grade, groups, read_answers
from workbook.cli import cli
from workbook.problem import Expert, Problem
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.spec import make_spec

X = ((1, 0), (0, 1))
W_ROUTER = ((2, 0), (1, 1), (0, -1))
EXPERTS = (
    Expert(W1=((1,), (0,)), b1=(0,), W2=((1, 2),), b2=(0, 0)),
    Expert(W1=((0,), (1,)), b1=(-1,), W2=((1, 0),), b2=(0, 1)),
    Expert(W1=((0,), (-1,)), b1=(0,), W2=((1, 1),), b2=(0, 0)),
)


def token_choice(ffn=True):
    """Scores ((2, 1, 0), (0, 1, -1)); P = (9, 3, 1)/13 and (3, 9, 1)/13; top-2 (1, 2), (2, 1)."""
    spec = make_spec("token-choice", {"tokens": 2, "experts": 3, "d_model": 2, "d_ff": 1, "top_k": 2, "ffn": ffn}, 0)
    return solve(spec, Problem(X, W_ROUTER, EXPERTS if ffn else ()))


def answers_with(sol, changes: dict) -> dict:
    """The key's own answers, as an answer file holds them, with some cells changed (by ref)."""
    sheet = build_sheet(sol)
    data = {"code": sol.code}
    for g in groups(sheet):
        data[g.key] = [[_plain(changes.get(c.ref, c.value if c.value is not None else c.answer or c.decimal))
                        for c in row] for row in g.rows]
    return data


def _plain(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return v.replace("≈", "")
    if isinstance(v, (sympy.Basic,)) and not v.is_Rational:
        return float(v)
    return str(v)


def diagnose(sol, changes) -> list[str]:
    report = grade(sol, build_sheet(sol), answers_with(sol, changes))
    return [r for s in report.steps for r in s.reasons]


def test_the_key_itself_is_all_right_and_a_blank_file_all_wrong():
    sol = token_choice()
    report = grade(sol, build_sheet(sol), answers_with(sol, {}))
    assert report.all_right and report.right == len(report.cells)
    blank = grade(sol, build_sheet(sol), {"code": sol.code})
    assert blank.right == sum(c.want is None for c in blank.cells)


def test_fractions_and_decimals_within_tolerance_are_right():
    sol = token_choice()
    answers = answers_with(sol, {"probs[1][1]": "0.69", "probs[1][2]": "6/26", "probs[1][3]": 0.077})
    assert grade(sol, build_sheet(sol), answers).all_right
    answers = answers_with(sol, {"probs[1][1]": "0.67"})
    assert not grade(sol, build_sheet(sol), answers).all_right
    assert grade(sol, build_sheet(sol), answers, abs_tol=0.03).all_right


def test_carried_error_follows_from_an_earlier_step():
    """The learner writes 3 instead of 2 for s_11; their powers then follow from their own scores:
    t1 scores (3, 1, 0) -> 3^(3, 1, 0) = (27, 3, 1), sum 31, and P = (27/31, 3/31, 1/31)."""
    sol = token_choice()
    changes = {"scores[1][1]": 3, "powers[1][1]": 27, "row_sum[1][1]": 31,
               "probs[1][1]": F(27, 31), "probs[1][2]": F(3, 31), "probs[1][3]": F(1, 31)}
    reasons = diagnose(sol, changes)
    assert "powers: follows from your step 1 (a carried error, not a new one)" in reasons
    assert "row_sum: follows from your step 2 (a carried error, not a new one)" in reasons
    assert any(r.startswith("probs: follows from your step 2") for r in reasons)


def test_softmax_over_tokens():
    """Columns instead of rows: E1 scores (2, 0) -> (9, 1)/10; E2 (1, 1) -> 1/2 each; E3 (0, -1) -> (3, 1)/4."""
    sol = token_choice()
    wrong = {"probs[1][1]": F(9, 10), "probs[2][1]": F(1, 10), "probs[1][2]": F(1, 2), "probs[2][2]": F(1, 2),
             "probs[1][3]": F(3, 4), "probs[2][3]": F(1, 4)}
    assert diagnose(sol, wrong) == ["probs: softmax over the tokens (down each column) instead of over the "
                                    "experts (along each row)"]


def test_e_instead_of_3():
    """t1: e^(2, 1, 0) / (e² + e + 1) = (0.665, 0.245, 0.090); t2: e^(1, 2, 0) / Σ = (0.245, 0.665, 0.090)."""
    import math
    sol = token_choice()
    z = math.e ** 2 + math.e + 1
    wrong = {"probs[1][1]": math.e ** 2 / z, "probs[1][2]": math.e / z, "probs[1][3]": 1 / z,
             "probs[2][1]": math.e / z, "probs[2][2]": math.e ** 2 / z, "probs[2][3]": 1 / z}
    assert diagnose(sol, wrong) == ["probs: e used where the sheet uses its base (3 or 2)"]


def test_weights_not_renormalised():
    """The chosen probabilities copied: (9/13, 3/13) for both tokens instead of (3/4, 1/4)."""
    sol = token_choice()
    wrong = {f"weights[{t}][{r}]": v for t in (1, 2) for r, v in ((1, F(9, 13)), (2, F(3, 13)))}
    assert diagnose(sol, wrong) == ["weights: the top-k weights not renormalised over the chosen experts"]


def test_bottom_k():
    """The two smallest: t1 P (9, 3, 1)/13 -> E3, E2; t2 (3, 9, 1)/13 -> E3, E1."""
    sol = token_choice(ffn=False)
    wrong = {"topk[1][1]": 3, "topk[1][2]": 2, "topk[2][1]": 3, "topk[2][2]": 1}
    assert diagnose(sol, wrong) == ["topk: the smallest values picked (bottom-k) instead of the largest"]


def test_zero_based_indices():
    """Top-2 written from 0: (0, 1) and (1, 0) instead of (1, 2) and (2, 1)."""
    sol = token_choice(ffn=False)
    wrong = {"topk[1][1]": 0, "topk[1][2]": 1, "topk[2][1]": 1, "topk[2][2]": 0}
    assert diagnose(sol, wrong) == ["topk: indices counted from 0; the sheet counts from 1"]


def test_relu_forgotten():
    """E2 serves t1 and t2: H = x2 - 1 = (-1, 0); kept as -1, the output row is -1·[1, 0] + [0, 1] = (-1, 1)."""
    sol = token_choice()
    wrong = {"ffn_relu[2][1][1]": -1, "ffn_out[2][1][1]": -1, "ffn_out[2][1][2]": 1}
    reasons = diagnose(sol, wrong)
    assert "ffn_relu: ReLU forgotten: negative values of H kept" in reasons


def test_w_untransposed():
    """Square W_r = ((2, 0), (1, 1)): X W_r takes W's rows as columns: t1 (1, 0) -> (2, 0), t2 (0, 1) -> (1, 1),
    instead of X W_rᵀ = (2, 1) and (0, 1)."""
    spec = make_spec("token-choice", {"tokens": 2, "experts": 2, "d_model": 2, "top_k": 1}, 0)
    sol = solve(spec, Problem(X, ((2, 0), (1, 1))))
    wrong = {"scores[1][1]": 2, "scores[1][2]": 0, "scores[2][1]": 1, "scores[2][2]": 1}
    assert diagnose(sol, wrong)[0] == "scores: W_r used untransposed (X W_r instead of X W_rᵀ)"


def switch():
    """The Switch example: P t1 (3/4, 1/4), t2 (9/10, 1/10), t3 (1/4, 3/4), t4 (9/10, 1/10); top-1 E1, E1,
    E2, E1; C = floor(1.0 · 1 · 4 / 2) = 2; kept (1, 1, 1, 0); t4 dropped."""
    spec = make_spec("switch", {"tokens": 4, "experts": 2, "d_model": 2, "d_ff": 1, "ffn": True,
                                "capacity_factor": "1.0"}, 0)
    return solve(spec, Problem(((1, 0), (2, 0), (0, 1), (1, -1)), ((1, 0), (0, 1)), EXPERTS[:2]))


def test_capacity_off_by_one():
    """C taken as 3: E1 keeps t1, t2 and t4, nothing is dropped: kept (1, 1, 1, 1)."""
    sol = switch()
    reasons = diagnose(sol, {"capacity[1][1]": 3, "kept[4][1]": 1})
    assert "capacity: the capacity off by one (C = floor(cf·k·T/E), rounded down)" in reasons


def test_dropped_token_given_x():
    """t4 = (1, -1) is dropped: the layer gives 0, but the learner writes x4 = (1, -1)."""
    sol = switch()
    reasons = diagnose(sol, {"output[4][1]": 1, "output[4][2]": -1})
    assert reasons == ["output: a dropped token given x instead of 0 (the residual adds x later, outside the layer)"]


def test_renormalised_in_expert_choice():
    """Expert choice, c = 1: each expert's single gate 9/13 renormalised over itself becomes 1."""
    spec = make_spec("expert-choice", {"tokens": 4, "experts": 3, "d_model": 2, "d_ff": 1, "capacity": 1,
                                       "ffn": True}, 0)
    sol = solve(spec, Problem(X + ((0, 0), (0, -1)), W_ROUTER, EXPERTS))
    wrong = {"gating[1][1]": 1, "gating[2][1]": 1, "gating[3][1]": 1}
    assert diagnose(sol, wrong) == ["gating: the gates renormalised, which expert choice does not do"]


# The commands ------------------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(cli, list(args), prog_name="moe-workbook")


def test_answers_then_check_from_the_terminal(tmp_path):
    template = run("answers", "10JP-81P")
    assert template.exit_code == 0 and 'code = "10JP-81P"' in template.stdout
    assert "# Step 1 · Router scores" in template.stdout
    real = solve(make_spec("token-choice", {}, 1, edition=1))  # the code printed in edition 1
    assert real.code == "10JP-81P"
    path = tmp_path / "mine.toml"
    right = answers_with(real, {})
    path.write_text(_toml(right))
    good = run("check", "10jp 81p", str(path))  # a code typed from paper: case and dashes forgiven
    assert good.exit_code == 0, good.output
    assert "Overall: " in good.stdout and "100%" in good.stdout
    path.write_text(_toml(answers_with(real, {"scores[1][1]": 99})))
    bad = run("check", "10JP-81P", str(path), "--show-key")
    assert bad.exit_code == 1 and "t1 · E1 of S = X W_rᵀ [step1 row 1, box 1]: you wrote 99, the key has" in bad.stdout
    assert "why: S = X W_rᵀ, t1: none of the known mistakes gives these numbers" in bad.stdout


def _toml(data: dict) -> str:
    lines = [f'code = "{data["code"]}"']
    for key, rows in data.items():
        if key != "code":
            lines.append(f"{key} = " + json.dumps(rows))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("args, status, words", [
    (["check", "10JP-81Q", "x.toml"], 2, "check character"),
    (["check", "10JP-81P", "/nonexistent.toml"], 2, "cannot read answer file"),
    (["answers", "nonsense!"], 2, "malformed"),
])
def test_check_bad_input_is_one_line(args, status, words):
    result = run(*args)
    assert result.exit_code == status and len(result.stderr.splitlines()) == 1 and words in result.stderr


def test_an_answer_file_for_another_variant_is_refused(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text('code = "11A7-G1K"\n')
    result = run("check", "10JP-81P", str(path))
    assert result.exit_code == 2 and "for variant 11A7-G1K" in result.stderr


def test_the_template_parses_and_has_every_blank():
    sol = token_choice()
    sheet = build_sheet(sol)
    data = read_answers(answers_template(sheet), sol.code)
    assert sum(len(row) for g in groups(sheet) for row in data[g.key]) == sum(c.blank for c in
                                                                             __import__("workbook.layout").layout.cells(sheet.sections))


def test_every_preset_checks_its_own_key_as_right_and_a_changed_cell_as_wrong():
    from workbook.presets import presets
    for p in presets():
        sol = solve(p.spec())
        sheet = build_sheet(sol)
        report = grade(sol, sheet, answers_with(sol, {}))
        assert report.all_right, (p.name, [c for c in report.cells if not c.right][:3])
        target = next(c for c in report.cells if c.want is not None)
        worse = grade(sol, sheet, answers_with(sol, {target.ref: "12345"}))
        assert worse.right == report.right - sum(c.ref == target.ref for c in report.cells), p.name


def test_carried_error_inside_an_expert():
    """E1 serves t1 and t2. FFN1: H = x1 (W1 = (1, 0)ᵀ, b1 = 0), ReLU, O = ReLU(H) [1, 2].
    The learner copies x_t1 wrong as (2, 0) instead of (1, 0): H = 2 (wrong, but right for that copy),
    ReLU(H) = 2 and O = (2, 4) follow from it."""
    sol = token_choice()
    rows = sol.step("routing").exact[0]
    first = rows.index(1) + 1  # E1's row for t1
    changes = {f"ffn_x[1][{first}][1]": 2, f"ffn_hidden[1][{first}][1]": 2, f"ffn_relu[1][{first}][1]": 2,
               f"ffn_out[1][{first}][1]": 2, f"ffn_out[1][{first}][2]": 4}
    reasons = diagnose(sol, changes)
    step = next(s.number for s in build_sheet(sol).sections if s.title == "Expert FFNs")
    assert f"ffn_hidden: follows from your step {step} (a carried error, not a new one)" in reasons
    assert f"ffn_relu: follows from your step {step} (a carried error, not a new one)" in reasons
    assert f"ffn_out: follows from your step {step} (a carried error, not a new one)" in reasons


@pytest.mark.parametrize("changes", [
    {"scores[1][1]": "1000", "powers[1][1]": "28"},
    {"scores[1][1]": "100000000"},
    {"probs[1][1]": "1e400"},
    {"probs[1][1]": "0", "probs[1][2]": "0"},
])
def test_absurd_values_are_marked_wrong_quickly(changes):
    sol = token_choice()
    report = grade(sol, build_sheet(sol), answers_with(sol, changes))
    assert not report.all_right


@pytest.mark.parametrize("bad, words", [
    ({"step1": 3}, "list of rows"),
    ({"step1": {"a": 1}}, "list of rows"),
    ({"step1": [[1, 2, 3]]}, "rows"),
    ({"stepx": [[1]]}, "not on this sheet"),
])
def test_answer_files_of_the_wrong_shape_are_refused(bad, words):
    from workbook.check import AnswersError
    sol = token_choice()
    with pytest.raises(AnswersError, match=words):
        grade(sol, build_sheet(sol), {"code": sol.code, **bad})


def test_a_row_of_the_wrong_length_is_refused():
    from workbook.check import AnswersError
    sol = token_choice()
    answers = answers_with(sol, {})
    answers["step1"][0] = answers["step1"][0][:-1]
    with pytest.raises(AnswersError, match="step1 row 1 has 2 values"):
        grade(sol, build_sheet(sol), answers)


def test_whole_number_answers_must_be_exact():
    sol = token_choice()
    assert not grade(sol, build_sheet(sol), answers_with(sol, {"row_sum[1][1]": "13.1"})).all_right


def test_probabilities_worked_from_a_wrong_row_sum_are_a_carried_error():
    """Σ for t1 written as 12 instead of 13; the probabilities divide by 12: 9/12, 3/12, 1/12."""
    sol = token_choice()
    changes = {"row_sum[1][1]": 12, "probs[1][1]": F(9, 12), "probs[1][2]": F(3, 12), "probs[1][3]": F(1, 12)}
    assert "probs: follows from your step 2 (a carried error, not a new one)" in diagnose(sol, changes)


def test_answers_never_overwrites_a_file_without_force(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("my work")
    result = run("answers", "10JP-81P", "--out", str(path))
    assert result.exit_code == 1 and "--force" in result.stderr and path.read_text() == "my work"
    assert run("answers", "10JP-81P", "--out", str(path), "--force").exit_code == 0
    assert path.read_text().startswith("# moe-workbook answers")


def test_quantisation_rounded_half_up_is_named():
    """One expert W = (1.4, 0.5, -0.3): INT4 scale 1.4/7 = 0.2, x = w/scale = (7, 2.5, -1.5).
    Half to even gives q = (7, 2, -2); school rounding (half away from zero) gives (7, 3, -2)."""
    from workbook.kinds.quantize import QuantizeProblem
    spec = make_spec("quantize", {"experts": 1, "rows": 1, "cols": 3, "bits": "int4"}, 0)
    sol = solve(spec, QuantizeProblem((((14, 5, -3),),)))
    assert sol.step("q_int4").exact == (((7, 2, -2),),)
    reasons = diagnose(sol, {"q_int4[1][1][2]": 3})
    assert "q_int4: a tie rounded half up (away from zero) instead of to the even neighbour" in reasons


# Each exercise's own mistakes (its kind module's MISTAKES), on the hand-worked sheets of its tests.

def load_balance():
    """test_examples' sheet: S t1 (1, 0, 0), t2 (2, 1, 1), t3 (0, 1, 0), t4 (1, 1, 2), top-1.
    counts (2, 1, 1), f = (1/2, 1/4, 1/4), P̄ = (2/5, 3/10, 3/10), f·P̄ sums to 7/20;
    ln Σ 3^s = ln 5 (t1, t3) and ln 3 + ln 5 (t2, t4)."""
    from workbook.kinds.load_balance import ScoresProblem
    spec = make_spec("load-balance", {"tokens": 4, "experts": 3, "top_k": 1}, 0)
    return solve(spec, ScoresProblem(((1, 0, 0), (2, 1, 1), (0, 1, 0), (1, 1, 2))))


def test_load_balance_f_left_as_counts():
    """f = (2, 1, 1): f·P̄ = (4/5, 3/10, 3/10), sum 7/5, E·sum = 21/5, L_aux = 21/500."""
    changes = {"f[1][1]": 2, "f[1][2]": 1, "f[1][3]": 1, "f_pbar[1][1]": F(4, 5), "f_pbar[1][2]": F(3, 10),
               "f_pbar[1][3]": F(3, 10), "aux_unscaled[1][1]": F(21, 5), "aux_loss[1][1]": F(21, 500)}
    assert "f: f_i left as a count of tokens, not divided by T" in diagnose(load_balance(), changes)


def test_load_balance_e_left_out():
    """α Σ f P̄ = 0.01 × 7/20 = 7/2000, with 7/20 in the 'E · Σ' box."""
    reasons = diagnose(load_balance(), {"aux_unscaled[1][1]": F(7, 20), "aux_loss[1][1]": F(7, 2000)})
    assert "aux_unscaled: E left out of L_aux (α Σ f_i P̄_i instead of α · E · Σ f_i P̄_i)" in reasons


def test_load_balance_row_minimum_left_out_of_the_log_sum_exp():
    """ln 5 for every token (t2 and t4 lose their ln 3); L_z = (ln 5)² = 2.590..."""
    ln5 = math.log(5)
    changes = {f"lse[{t}][1]": ln5 for t in range(1, 5)} | {"z_loss[1][1]": ln5 ** 2}
    assert "lse: the row minimum's part (min · ln 3) left out of ln Σ exp(z)" in diagnose(load_balance(), changes)


def test_load_balance_z_loss_not_squared():
    """(2 ln 5 + 2 (ln 3 + ln 5)) / 4 = ln 5 + ln 3 / 2 = 2.158..."""
    reasons = diagnose(load_balance(), {"z_loss[1][1]": math.log(5) + math.log(3) / 2})
    assert "z_loss: the z-loss not squared (the mean of ln Σ exp(z), not of its square)" in reasons


def router_gradient():
    """test_kind_router_gradient's sheet: w = (3/4, 1/4), dL/dw = (2, −2), Σ w dL/dw = 1,
    dL/ds ÷ ln 3 = (3/4, −3/4, 0)."""
    from workbook.kinds.router_gradient import GradientProblem
    spec = make_spec("router-gradient", {"tokens": 1, "experts": 3, "top_k": 2, "d_model": 2}, 0)
    return solve(spec, GradientProblem(((2, 1, 0),), ((1, -1),), (((2, 0), (0, 2), (1, 1)),)))


def test_router_gradient_ln_b_left_out():
    reasons = diagnose(router_gradient(), {"grad_s[1][1]": F(3, 4), "grad_s[1][2]": F(-3, 4)})
    assert "grad_s: ln b left out of dL/ds (a base-b softmax is a softmax of s · ln b)" in reasons


def test_router_gradient_plain_mean():
    """(2 + (−2)) / 2 = 0; dL/ds ÷ ln 3 = (3/4 · 2, 1/4 · (−2), 0) = (3/2, −1/2, 0)."""
    ln3 = math.log(3)
    changes = {"mean_grad[1][1]": 0, "grad_s_scaled[1][1]": F(3, 2), "grad_s_scaled[1][2]": F(-1, 2),
               "grad_s[1][1]": 1.5 * ln3, "grad_s[1][2]": -0.5 * ln3}
    assert "mean_grad: Σ_i w_i dL/dw_i taken as a plain mean, not weighted by w" in diagnose(router_gradient(), changes)


def shared_experts(variant: str):
    """test_kind_shared_experts' sheets. DeepSeekMoE: both tokens P = (9, 3, 1)/13, gates (9/13, 3/13).
    V3: t1 s + b = (3/4, 1/2, 7/10) picks E1, E3; t2 s + b = (1/2, 3/4, 9/20) picks E2, E1 (b = 0 there)."""
    from workbook.kinds.shared_experts import SharedProblem
    W = (((1, 0), (0, 1)), ((2, 0), (0, 0)), ((0, 0), (0, 2)), ((1, 1), (1, 1)))
    params = {"tokens": 2, "experts": 3, "shared": 1, "top_k": 2, "d_model": 2}
    if variant == "v3":
        spec = make_spec("shared-experts", params | {"variant": "v3"}, 0)
        return solve(spec, SharedProblem(((1, 2), (1, 2)), ((1, 0, 0), (0, 1, -1)), W, (0, 0, 2)))
    return solve(make_spec("shared-experts", params, 0), SharedProblem(((1, 2), (1, 2)), ((1, 0, -1), (1, 0, -1)), W))


def test_deepseekmoe_gates_renormalised():
    """(9/13, 3/13) / (12/13) = (3/4, 1/4) for both tokens."""
    changes = {f"gates[{t}][{j}]": v for t in (1, 2) for j, v in ((1, F(3, 4)), (2, F(1, 4)))}
    assert ("gates: the gates renormalised over the selected experts; DeepSeekMoE keeps the probabilities "
            "as they are") in diagnose(shared_experts("deepseekmoe"), changes)


def test_deepseek_v3_bias_in_the_weights():
    """t1: (3/4, 7/10) / (29/20) × 5/2 = (75/58, 35/29); t2 is unchanged (3/2, 1): its experts have b = 0."""
    reasons = diagnose(shared_experts("v3"), {"gates[1][1]": F(75, 58), "gates[1][2]": F(35, 29)})
    assert "gates: the bias b used in the weights; in DeepSeek-V3 it only picks the experts" in reasons


def test_deepseek_v3_scaling_factor_left_out():
    """(3/2, 1) / 2.5 = (3/5, 2/5) for both tokens."""
    changes = {f"gates[{t}][{j}]": v for t in (1, 2) for j, v in ((1, F(3, 5)), (2, F(2, 5)))}
    assert "gates: the routed scaling factor 2.5 left out of the weights" in diagnose(shared_experts("v3"), changes)


def expert_parallel():
    """test_kind_expert_parallel's sheet: dispatch [[3, 1], [2, 2]], 5 local and 3 crossing of 8
    pairs, d_model 8, 2 bytes: 24 values / 48 bytes each way; load (5, 3), mean 4."""
    from workbook.kinds.expert_parallel import ParallelProblem
    spec = make_spec("expert-parallel", {"devices": 2, "experts": 4, "tokens": 2, "top_k": 2, "d_model": 8, "bytes": 2}, 0)
    return solve(spec, ParallelProblem(((1, 3), (2, 1), (4, 1), (3, 1)), (1, 1, 2, 2), (1, 1, 2, 2)))


def test_expert_parallel_every_pair_crosses():
    """8 pairs cross: share 1, 64 values / 128 bytes each way, 128 / 256 both ways."""
    changes = {"crossing_pairs[1][1]": 8, "crossing_share[1][1]": 1, "all_to_all[1][1]": 64, "all_to_all[1][2]": 128,
               "all_to_all[2][1]": 64, "all_to_all[2][2]": 128, "all_to_all[3][1]": 128, "all_to_all[3][2]": 256}
    assert "crossing_pairs: every pair counted as crossing, the local ones too" in diagnose(expert_parallel(), changes)


def test_expert_parallel_combine_left_out():
    reasons = diagnose(expert_parallel(), {"all_to_all[3][1]": 24, "all_to_all[3][2]": 48})
    assert "all_to_all: the all-to-all counted one way: the combine sends every output back" in reasons


def test_expert_parallel_load_by_home_device():
    """Row sums (4, 4): imbalance 4 / 4 = 1."""
    reasons = diagnose(expert_parallel(), {"load[1][1]": 4, "load[1][2]": 4, "imbalance[1][1]": 1})
    assert "load: the load read by home device (rows), not by where the experts sit (columns)" in reasons


def sizing():
    """test_kind_sizing's small ReLU model: active 380, total 836, E 4, top-1, split m 2, K_s 1."""
    from workbook.kinds.sizing_configs import Model
    return solve(make_spec("sizing", {"config": "generated"}, 0),
                 Model("generated", "relu", 4, 8, 2, 2, 1, 2, 10, 4, 1, 2, 1, "kB"))


def test_sizing_flops_without_the_two():
    """380 and 836 (for 760 and 1,672): three digits to a box (box 1 the units, box 2 the thousands),
    the thousands box of 1,672 left empty."""
    changes = {"flops_per_token[1][1]": 380, "dense_flops[1][2]": None, "dense_flops[1][1]": 836}
    assert ("flops_per_token: FLOPs taken as the parameters: the 2 (a multiply and an add per weight) left out"
            in diagnose(sizing(), changes))


def test_sizing_bits_as_bytes():
    """836 × 16 = 13,376, × 8 = 6,688, × 4 = 3,344 bytes; 13.38, 6.69, 3.34 kB."""
    changes = {"memory_bytes[1][2]": 13, "memory_bytes[1][1]": 376, "memory_bytes[2][2]": 6, "memory_bytes[2][1]": 688,
               "memory_bytes[3][2]": 3, "memory_bytes[3][1]": 344}
    assert "memory_bytes: bits taken as bytes: the memory not divided by 8" in diagnose(sizing(), changes)


def test_sizing_expert_sets_counted_in_order():
    """8 · 7 = 56 ordered pairs of the 8 fine experts, for C(8, 2) = 28 sets (C(4, 1) = 4 either way)."""
    assert ("combinations: expert sets counted in order (n!/(n − k)!), not as sets C(n, k)"
            in diagnose(sizing(), {"combinations[2][1]": 56}))


def test_of_two_mistakes_within_tolerance_the_one_that_fits_the_earlier_steps_is_named():
    """On this sheet the z-loss not squared (1.936) comes within 0.02 of the z-loss worked from
    a log-sum-exp without the row minimum (1.922). A learner whose ln Σ exp(z) are right and who
    forgot the square made the first mistake, not the second."""
    sol = solve(make_spec("load-balance", {"tokens": 6, "experts": 2, "top_k": 1}, 961564))
    lse = [float(v) for v in sol.step("lse").exact]
    not_squared = sum(lse) / len(lse)
    reasons = diagnose(sol, {"z_loss[1][1]": not_squared})
    assert reasons == ["z_loss: the z-loss not squared (the mean of ln Σ exp(z), not of its square)"]


def test_an_int8_tie_rounded_half_up_is_named_too():
    """INT8 alone ties only at x = −63.5 (half to even: −64); rounded half up a learner writes −63,
    which away-from-zero rounding would not give: both school roundings are named."""
    from workbook.presets import preset
    from workbook.spec import make_spec

    params = dict(preset("quantize-int8-int4").params, bits="int8")
    sol = solve(make_spec("quantize", params, 3))
    tie = next((ref, x) for e, m in enumerate(sol.step("x_int8").exact) for i, row in enumerate(m)
               for j, x in enumerate(row) for ref in [f"q_int8[{e + 1}][{i + 1}][{j + 1}]"] if x.q == 2)
    assert tie[1] == F(-127, 2)
    reasons = diagnose(sol, {tie[0]: -63})
    assert "q_int8: a tie rounded half up (away from zero) instead of to the even neighbour" in reasons


def test_a_small_value_with_its_sign_wrong_is_wrong():
    """An FP8 error of −0.001 (the key prints three decimals): '0.001' is 0.002 away, within the
    default 0.01 but not within one unit of the last decimal the key prints, so it is wrong."""
    from workbook.layout import cells
    from workbook.presets import preset
    from workbook.values import box_tolerance

    sol = solve(preset("fp8-e4m3-block").spec())
    sheet = build_sheet(sol)
    small = next(c for c in cells(sheet.sections) if c.blank and c.answer.startswith("−0.00") and c.answer != "−0.00")
    assert box_tolerance(small) < 0.01
    data = {"code": sol.code}
    for g in groups(sheet):
        data[g.key] = [[(c.answer.replace("−", "") if c is small else c.answer.lstrip("≈")) for c in row] for row in g.rows]
    report = grade(sol, sheet, data)
    assert [c.ref for c in report.cells if not c.right] == [small.ref]
