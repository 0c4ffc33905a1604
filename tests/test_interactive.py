"""The interactive worksheet in a real headless Chromium (Debian's chromium, driven by Playwright).

The page is opened from a file with every network request refused; values are typed into the
boxes and the marks and reasons are read back."""


import pytest

from workbook.layout import cells
from workbook.presets import preset
from workbook.render_interactive import render_interactive
from workbook.sheet import build_sheet
from workbook.solve import solve


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    sol = solve(preset("token-choice-ffn").spec())
    sheet = build_sheet(sol)
    path = tmp_path_factory.mktemp("interactive") / "sheet.html"
    path.write_text(render_interactive(sol, sheet), encoding="utf-8")
    return sol, sheet, path


@pytest.fixture
def page(browser, variant):
    _, _, path = variant
    page = browser.new_page()
    problems = []
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
               else (problems.append(route.request.url), route.abort()))
    page.goto(path.as_uri())
    yield page
    assert problems == []  # no script error, nothing fetched
    page.close()


def blanks(sheet):
    return [c for c in cells(sheet.sections) if c.blank]


def typed(value) -> str:
    """What a learner types for an exact value: '27/37', '-3', or a decimal for an e-expression."""
    if value is None:
        return ""
    return str(value) if value.is_Rational else f"{float(value):.4f}"


def fill(page, sheet, values: dict):
    """Type into the boxes: {cell ref: text}."""
    boxes = page.locator("input.cell")
    for i, c in enumerate(blanks(sheet)):
        if c.ref in values:
            boxes.nth(i).fill(values[c.ref])


def marks(page, sheet, step_id):
    out = {}
    for i, c in enumerate(blanks(sheet)):
        if c.ref.split("[")[0] == step_id:
            out[c.ref] = page.locator("input.cell").nth(i).evaluate("e => e.parentElement.className")
    return out


def test_the_answers_are_not_in_the_page_as_text(variant):
    sol, sheet, path = variant
    html = path.read_text(encoding="utf-8")
    fractions = {str(v) for row in sol.step("probs").exact for v in row if not v.is_Integer}
    assert fractions and not any(f in html for f in fractions)
    assert "<input" in html and html.count('class="cell"') == len(blanks(sheet))


def test_right_and_wrong_boxes_are_marked(page, variant):
    sol, sheet, _ = variant
    key = {c.ref: typed(c.value) for c in blanks(sheet) if c.ref.startswith("scores")}
    key["scores[1][1]"] = str(int(sol.step("scores").exact[0][0]) + 5)
    fill(page, sheet, key)
    page.click("#check")
    got = marks(page, sheet, "scores")
    assert "wrong" in got.pop("scores[1][1]")
    assert all("right" in v for v in got.values())
    from workbook.values import expected
    counted = sum(expected(c) is not None for c in blanks(sheet))  # padding boxes left empty are not counted
    assert page.inner_text("#overall") == f"Overall: {len(got)}/{counted} right"
    assert page.inner_text("#step-1 .score") == f"{len(got)}/{len(got) + 1} right"


def test_decimals_within_tolerance_and_fractions_are_right(page, variant):
    sol, sheet, _ = variant
    probs = sol.step("probs").exact[0]
    fill(page, sheet, {"probs[1][1]": f"{float(probs[0]):.2f}",             # a decimal within 0.01
                       "probs[1][2]": f"{probs[1].p * 3}/{probs[1].q * 3}"})  # an unreduced fraction
    page.click("#check")
    got = marks(page, sheet, "probs")
    assert "right" in got["probs[1][1]"] and "right" in got["probs[1][2]"]
    assert "right" not in got["probs[1][3]"] and "wrong" not in got["probs[1][3]"]  # empty: unmarked


def test_a_common_mistake_is_named(page, variant):
    """Weights not renormalised: the learner copies the chosen probabilities."""
    sol, sheet, _ = variant
    probs, topk = sol.step("probs").exact, sol.step("topk").exact
    values = {f"weights[{t + 1}][{r + 1}]": typed(probs[t][int(e) - 1]) for t, row in enumerate(topk)
              for r, e in enumerate(row)}
    fill(page, sheet, values)
    page.click("#check")
    step = next(s.number for s in sheet.sections if "weights" in s.instruction.lower() or "Renormalise" in s.instruction)
    assert page.inner_text(f"#step-{step} .reason") == ("weight, t1, t2, t3 and t4: the top-k weights not "
                                                        "renormalised over the chosen experts")


def test_a_carried_error_is_marked_as_such(page, variant):
    """One wrong score; the learner's powers follow from it: t1's row follows from their S (Step 1),
    in the words of `check`; the other rows are right, so not named."""
    sol, sheet, _ = variant
    scores = [list(r) for r in sol.step("scores").exact]
    scores[0][0] += 1
    values = {f"scores[{t + 1}][{e + 1}]": str(v) for t, row in enumerate(scores) for e, v in enumerate(row)}
    for t, row in enumerate(scores):
        low = min(row)
        values.update({f"powers[{t + 1}][{e + 1}]": str(3 ** (v - low)) for e, v in enumerate(row)})
    fill(page, sheet, values)
    page.click("#check")
    assert page.inner_text("#step-2 .reason") == ("3^(s − row min), t1: follows from your S = X W_rᵀ (Step 1): "
                                                  "a carried error, not a new one")



def test_two_mistakes_in_two_rows_of_one_step_are_each_named(page, variant):
    """Base e in t1's powers and a slip in t3's (the other rows right): each row is named with its
    own cause, in the words `check` writes (diagnosis.Finding.text), and a row left empty is not."""
    import math

    from workbook.check import grade, groups

    sol, sheet, _ = variant
    values = {c.ref: typed(c.value) for c in blanks(sheet) if c.ref.startswith("scores")}
    for t, row in enumerate(sol.step("scores").exact):
        low = min(row)
        values.update({f"powers[{t + 1}][{e + 1}]": f"{math.exp(v - low):.4f}" if t == 0 else str(3 ** (v - low))
                       for e, v in enumerate(row)})
    values["powers[3][1]"] = str(int(values["powers[3][1]"]) + 4)
    fill(page, sheet, values)
    page.click("#check")
    text = page.inner_text("#step-2 .reason")
    assert text == ("3^(s − row min), t1: e used where the sheet uses its base (3 or 2) · "
                    "3^(s − row min), t3: none of the known mistakes gives these numbers: work it again"), text
    answers = {"code": sol.code} | {g.key: [[values.get(c.ref, "") for c in row] for row in g.rows] for g in groups(sheet)}
    step = next(s for s in grade(sol, sheet, answers).steps if s.number == 2)
    assert text == " · ".join(f.text() for f in step.findings if f.step == "powers")  # as `check` says it


def test_show_step_reveals_one_step(page, variant):
    sol, sheet, _ = variant
    page.click("#step-3 .show-step")
    boxes = page.locator("input.cell")
    for i, c in enumerate(blanks(sheet)):
        shown = boxes.nth(i).input_value()
        if c.ref.startswith("probs"):
            assert shown == c.answer.replace("−", "-")
        elif c.ref.startswith("scores"):
            assert shown == ""
    page.click("#check")
    assert all("right" in v for v in marks(page, sheet, "probs").values())


def test_weights_from_wrong_probabilities_are_a_carried_error(page, variant):
    """The learner's t1 probabilities are off (P_11 + 0.1 and P_12 - 0.1); their weights renormalise
    those same numbers correctly: the weights step follows from the probabilities step."""
    sol, sheet, _ = variant
    probs = [[float(v) for v in row] for row in sol.step("probs").exact]
    probs[0][0] += 0.1
    probs[0][1] -= 0.1
    values = {f"probs[{t + 1}][{e + 1}]": f"{v:.6f}" for t, row in enumerate(probs) for e, v in enumerate(row)}
    for t, row in enumerate(sol.step("topk").exact):
        picked = [probs[t][int(e) - 1] for e in row]
        values.update({f"weights[{t + 1}][{r + 1}]": f"{v / sum(picked):.6f}" for r, v in enumerate(picked)})
    fill(page, sheet, values)
    page.click("#check")
    step = next(s.number for s in sheet.sections if "Renormalise" in s.instruction)
    assert page.inner_text(f"#step-{step} .reason") == "weight, t1: follows from your P (Step 3): a carried error, not a new one"


def _one_per_kind():
    """Every preset: in the everyday run the first of each exercise kind, the others with the full
    audit (`pytest -m full_audit`, which .ci/run runs too)."""
    from workbook.presets import presets

    seen, out = set(), []
    for p in presets():
        out.append(pytest.param(p.name, id=p.name, marks=() if p.exercise not in seen else pytest.mark.full_audit))
        seen.add(p.exercise)
    return out


@pytest.mark.parametrize("name", _one_per_kind())
def test_every_preset_page_shows_and_checks_its_whole_key(browser, tmp_path, name):
    """Show every step, then Check: every box right, on every kind of sheet."""
    sol = solve(preset(name).spec())
    sheet = build_sheet(sol)
    path = tmp_path / "sheet.html"
    path.write_text(render_interactive(sol, sheet), encoding="utf-8")
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(path.as_uri())
    for button in page.locator(".show-step").all():
        button.click()
    page.click("#check")
    from workbook.values import expected
    total = sum(expected(c) is not None for c in blanks(sheet))
    assert page.inner_text("#overall") == f"Overall: {total}/{total} right", name
    assert errors == []
    page.close()


def test_a_carried_error_inside_an_expert(page, variant):
    """One copied value of X wrong in the first expert's first row; H, ReLU(H) and O follow from it."""
    sol, sheet, _ = variant
    p = sol.problem
    t = int(sol.step("routing").exact[0][0])  # the first token of E1
    x = list(p.X[t - 1])
    x[0] += 1
    ex = p.experts[0]
    h = [sum(x[d] * ex.W1[d][j] for d in range(len(x))) + ex.b1[j] for j in range(len(ex.b1))]
    r = [max(v, 0) for v in h]
    o = [sum(r[j] * ex.W2[j][k] for j in range(len(r))) + ex.b2[k] for k in range(len(ex.b2))]
    values = {f"ffn_x[1][1][{d + 1}]": str(v) for d, v in enumerate(x)}
    values.update({f"ffn_hidden[1][1][{j + 1}]": str(v) for j, v in enumerate(h)})
    values.update({f"ffn_relu[1][1][{j + 1}]": str(v) for j, v in enumerate(r)})
    values.update({f"ffn_out[1][1][{k + 1}]": str(v) for k, v in enumerate(o)})
    fill(page, sheet, values)
    page.click("#check")
    step = next(s.number for s in sheet.sections if s.title == "Expert FFNs")
    text = page.inner_text(f"#step-{step} .reason")
    assert "H, E1 row 1: follows from your [X_e 1] (Step 6): a carried error, not a new one" in text, text
    assert "O, E1 row 1: follows from your [ReLU(H) 1] (Step 6)" in text, text
    assert text.startswith("[X_e 1], E1 row 1: none of the known mistakes gives these numbers"), text  # the slip itself


def test_absurd_input_is_wrong_not_carried(page, variant):
    """A score of 1000 makes 3^(s - min) infinite in the page: no box can match it."""
    sol, sheet, _ = variant
    fill(page, sheet, {"scores[1][1]": "1000", "powers[1][1]": "7", "probs[1][1]": "1/0"})
    page.click("#check")
    assert page.inner_text("#step-2 .reason") == ("3^(s − row min), t1: none of the known mistakes gives these "
                                                  "numbers: work it again")
    assert "wrong" in marks(page, sheet, "probs")["probs[1][1]"]


def test_an_exercise_s_own_mistake_is_named_in_the_page(browser, tmp_path):
    """test_kind_sizing's small model: 380 written for 760 FLOPs per token (box 1 holds the units;
    the thousands box stays empty on both): the page names the factor 2 left out."""
    from workbook.kinds.sizing_configs import Model
    from workbook.spec import make_spec

    sol = solve(make_spec("sizing", {"config": "generated"}, 0), Model("generated", "relu", 4, 8, 2, 2, 1, 2, 10, 4, 1, 2, 1, "kB"))
    sheet = build_sheet(sol)
    path = tmp_path / "sheet.html"
    path.write_text(render_interactive(sol, sheet), encoding="utf-8")
    page = browser.new_page()
    page.goto(path.as_uri())
    fill(page, sheet, {"flops_per_token[1][1]": "380"})
    page.click("#check")
    step = next(s.number for s in sheet.sections if any(c.ref.startswith("flops_per_token") for c in cells((s,))))
    text = page.inner_text(f"#step-{step} .reason")
    assert "FLOPs taken as the parameters: the 2" in text and "none of the known mistakes" not in text, text
    page.close()


def test_the_page_reads_a_box_as_the_terminal_checker_does(page):
    """values.parse_value's rules in the browser: limits, the decimal comma, the ambiguous comma."""
    from fractions import Fraction

    from workbook.values import AmbiguousValue, parse_value

    for text in ["3", "27/37", "-0.5", "0,73", "0,125", "1,5", "24,576", "1,234,567", "1e5", "1e30", "1e31",
                 "1e400", "nan", "x" * 70, "2/0", "99999999999999999999999999999999/1", "", "abc", " None "]:
        shown = page.evaluate("t => { const v = parse(t); return v === null ? 'empty' : v === NONE ? 'none' : "
                              "Array.isArray(v) ? v[0] + '/' + v[1] : Number.isNaN(v) ? 'wrong' : String(v); }", text)
        try:
            want = parse_value(text)
        except AmbiguousValue:
            want = "wrong"  # the file is refused; the page marks the box wrong
        if want is None:
            want = "empty"
        elif isinstance(want, str):
            want = "none" if want.lower() == "none" else "wrong"  # the key's word for an empty box
        if want in ("wrong", "empty", "none"):
            assert shown == want, (text, shown)
        else:
            assert Fraction(shown) == Fraction(want), (text, shown, want)


def test_none_is_right_where_the_key_says_none(browser, tmp_path):
    """A box the key leaves empty ('none': no dropped token) is right holding 'none', as `check`
    reads it; 'none' in a box that wants a number is wrong."""
    from workbook.values import expected

    sol = solve(preset("token-choice-capacity").spec())
    sheet = build_sheet(sol)
    path = tmp_path / "sheet.html"
    path.write_text(render_interactive(sol, sheet), encoding="utf-8")
    page = browser.new_page()
    page.goto(path.as_uri())
    empty = next(c for c in blanks(sheet) if expected(c) is None)
    number = next(c for c in blanks(sheet) if expected(c) is not None)
    fill(page, sheet, {empty.ref: "None", number.ref: "none"})
    page.click("#check")
    got = {c.ref: page.locator("input.cell").nth(i).evaluate("e => e.parentElement.className")
           for i, c in enumerate(blanks(sheet)) if c.ref in (empty.ref, number.ref)}
    assert "right" in got[empty.ref] and "wrong" in got[number.ref], got
    page.close()


def test_show_working_shows_the_step_s_worked_solution(page, variant):
    """'Show working' under a step: its meaning and lines, the very text of solutions.worked; the
    lines are not in the page as plain text before."""
    from workbook.solutions import worked

    sol, sheet, path = variant
    first = worked(sol, sheet)[0]
    assert first.lines[0].text not in path.read_text(encoding="utf-8")
    page.locator("#step-1 .show-working").click()
    shown = page.inner_text("#step-1 .working")
    assert first.meaning in shown and all(ln.text in shown for ln in first.lines)
    page.locator("#step-1 .show-working").click()
    assert not page.locator("#step-1 .working").is_visible()


def test_enter_in_a_box_checks_as_the_check_button_does(page, variant):
    """Enter in a box marks the boxes and scores the steps just as a click on Check does; the box
    keeps its text and focus. An Enter that confirms an input method's characters checks nothing."""
    sol, sheet, _ = variant
    key = {c.ref: typed(c.value) for c in blanks(sheet) if c.ref.startswith("scores")}
    key["scores[1][1]"] = str(int(sol.step("scores").exact[0][0]) + 5)
    fill(page, sheet, {ref: v for ref, v in key.items() if ref != "scores[1][2]"})
    box = page.locator("input.cell").nth(next(i for i, c in enumerate(blanks(sheet)) if c.ref == "scores[1][2]"))
    box.click()
    box.dispatch_event("keydown", {"key": "Enter", "isComposing": True})  # an input method's Enter
    assert page.inner_text("#overall").startswith("Fill in")
    box.type(key["scores[1][2]"])
    box.press("Enter")
    by_enter = marks(page, sheet, "scores"), page.inner_text("#overall"), page.inner_text("#step-1 .score")
    assert "wrong" in by_enter[0]["scores[1][1]"] and "right" in by_enter[0]["scores[1][2]"]
    assert by_enter[1].startswith("Overall: ") and box.input_value() == key["scores[1][2]"]
    assert box.evaluate("e => e === document.activeElement")
    page.click("#check")
    assert (marks(page, sheet, "scores"), page.inner_text("#overall"), page.inner_text("#step-1 .score")) == by_enter


def test_save_my_answers_writes_the_file_check_reads(page, variant, tmp_path):
    """'Save my answers' downloads the answer file: the code, the typed name, every box as typed;
    `check` grades it as the page does."""
    from workbook.check import grade, read_answers

    sol, sheet, _ = variant
    key = {c.ref: typed(c.value) for c in blanks(sheet) if c.ref.startswith(("scores", "powers"))}
    key["scores[1][1]"] = str(int(sol.step("scores").exact[0][0]) + 5)
    fill(page, sheet, key)
    page.fill("#student", 'Zoë "Z" O\\Brien')
    with page.expect_download() as info:
        page.click("#save")
    download = info.value
    assert download.suggested_filename == f"{sol.code}-answers.toml"
    path = tmp_path / "mine.toml"
    download.save_as(path)
    answers = read_answers(path.read_text(encoding="utf-8"), sol.code)
    assert answers["name"] == 'Zoë "Z" O\\Brien'
    report = grade(sol, sheet, answers)
    marked = {c.ref: c.right for c in report.cells if c.given is not None}
    assert set(marked) == set(key) and marked.pop("scores[1][1]") is False and all(marked.values())
