"""Diagnosis row by row (issue 15): several mistakes on one sheet each named on their rows, in the
sheet's words; fractions compared exactly; `check --json`.

The learner's sheets are worked out here with plain fractions and floats (no workbook code), so
the diagnosis is tested against an independent wrong calculation."""

import json
import math
from fractions import Fraction

import pytest
from conftest import learner_answers
from click.testing import CliRunner

from workbook.check import grade
from workbook.cli import cli
from workbook.code import decode
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.values import Exact, expected, is_right, parse_value

CODE = "10JP-82M"  # token-choice-5x6 (edition 2): the issue's own example


def learner_sheet(sol, slip_row=None, base_e_row=None, renormalise=True) -> dict:
    """{ref: text} of a learner's whole router chain: a slip (+1) in one token's first score,
    carried on; base e in another token's powers; weights renormalised or not."""
    S = [[int(v) for v in row] for row in sol.step("scores").exact]
    if slip_row is not None:
        S[slip_row][0] += 1
    out = {}
    for t, row in enumerate(S):
        low = min(row)
        powers = [math.e ** (v - low) if t == base_e_row else Fraction(3) ** (v - low) for v in row]
        total = sum(powers)
        probs = [p / total for p in powers]
        top = sorted(range(len(row)), key=lambda e: (-float(probs[e]), e))[:2]
        chosen = [probs[e] for e in top]
        weights = [p / sum(chosen) for p in chosen] if renormalise else chosen
        for e in range(len(row)):
            out[f"scores[{t + 1}][{e + 1}]"] = S[t][e]
            out[f"powers[{t + 1}][{e + 1}]"] = powers[e]
            out[f"probs[{t + 1}][{e + 1}]"] = probs[e]
        out[f"row_sum[{t + 1}][1]"] = total
        for r in range(2):
            out[f"topk[{t + 1}][{r + 1}]"] = top[r] + 1
            out[f"weights[{t + 1}][{r + 1}]"] = weights[r]
    return out


@pytest.fixture(scope="module")
def sol():
    return solve(decode(CODE))


def findings(sol, values):
    report = grade(sol, build_sheet(sol), learner_answers(sol, values))
    return {(f.step, f.cause or ("carried" if f.carried else "slip"), f.own): f.rows
            for s in report.steps for f in s.findings}


def test_three_mistakes_on_one_sheet_are_each_named_on_their_rows(sol):
    """The issue's file: a slip in t2 carried through, base e in t5, weights not renormalised."""
    found = findings(sol, learner_sheet(sol, slip_row=1, base_e_row=4, renormalise=False))
    assert found[("scores", "slip", False)] == ("t2",)
    assert found[("powers", "carried", False)] == ("t2",)
    assert found[("powers", "e used where the sheet uses its base (3 or 2)", False)] == ("t5",)
    assert found[("row_sum", "carried", False)] == ("t2", "t5")
    assert found[("probs", "carried", False)] == ("t2", "t5")
    renorm = "the top-k weights not renormalised over the chosen experts"
    assert found[("weights", renorm, False)] == ("t1", "t3", "t4", "t6")
    assert found[("weights", renorm, True)] == ("t2", "t5")  # made on the learner's own (wrong) probabilities
    assert len(found) == 7


@pytest.mark.parametrize("row", [0, 3, 5])
def test_base_e_in_one_row_only_is_named_on_that_row(sol, row):
    found = findings(sol, learner_sheet(sol, base_e_row=row))
    assert found[("powers", "e used where the sheet uses its base (3 or 2)", False)] == (f"t{row + 1}",)
    assert set(found) == {("powers", "e used where the sheet uses its base (3 or 2)", False),
                          ("row_sum", "carried", False), ("probs", "carried", False), ("weights", "carried", False)}
    assert found[("weights", "carried", False)] == (f"t{row + 1}",)


def test_each_mistake_alone_is_named_and_a_right_sheet_has_none(sol):
    assert findings(sol, learner_sheet(sol)) == {}
    found = findings(sol, learner_sheet(sol, renormalise=False))
    assert found == {("weights", "the top-k weights not renormalised over the chosen experts", False):
                     ("t1", "t2", "t3", "t4", "t5", "t6")}


def test_a_fraction_is_an_exact_claim_and_a_decimal_is_judged_with_the_tolerance():
    assert isinstance(parse_value("3/115"), Exact) and not isinstance(parse_value("0.03"), Exact)
    assert not is_right(parse_value("3/115"), Fraction(3, 121))      # 0.0261 and 0.0248: within 0.01, but not equal
    assert not is_right(parse_value("9/94"), Fraction(1, 10))        # un-renormalised, 0.0957 against 0.1
    assert is_right(parse_value("6/242"), Fraction(3, 121))          # any equal fraction
    assert is_right(parse_value("0.03"), Fraction(3, 121)) and is_right(parse_value("0.1"), Fraction(9, 94))
    assert is_right(parse_value("7/10"), 0.7047)                     # a fraction against a base-e key: the tolerance


def test_check_speaks_the_sheet_s_words_and_its_json_reports_the_same(sol, tmp_path):
    values = learner_sheet(sol, slip_row=1, base_e_row=4, renormalise=False)
    data = learner_answers(sol, values)
    path = tmp_path / "mine.toml"
    path.write_text("\n".join(f'{k} = "{v}"' if k == "code" else f"{k} = {json.dumps(v, ensure_ascii=False)}"
                              for k, v in data.items()), encoding="utf-8")
    text = CliRunner().invoke(cli, ["check", CODE, str(path)], prog_name="moe-workbook")
    assert text.exit_code == 1
    assert "why: 3^(s − row min), t5: e used where the sheet uses its base (3 or 2)" in text.stdout
    assert "why: Σ, t2 and t5: follows from your 3^(s − row min) (Step 2): a carried error, not a new one" in text.stdout
    assert "why: weight, t2 and t5: the top-k weights not renormalised over the chosen experts (on your own earlier numbers)" in text.stdout
    assert "t5 · E1 of 3^(s − row min) [step2 row 5, box 1]: you wrote 7.389" in text.stdout
    assert "row_sum" not in text.stdout and "step2_2 row 5, box 1]" in text.stdout
    result = CliRunner().invoke(cli, ["check", CODE, str(path), "--json"], prog_name="moe-workbook")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["schema"] == "moe-workbook-check/1" and report["code"] == CODE
    assert report["right"] == sum(b["right"] for s in report["steps"] for b in s["boxes"])
    assert report["total"] == sum(len(s["boxes"]) for s in report["steps"]) and report["all_right"] is False
    step2 = report["steps"][1]
    assert step2["number"] == 2 and step2["title"] == "Powers of 3"
    base_e = next(f for f in step2["findings"] if f["cause"] and f["cause"].startswith("e used"))
    assert base_e["rows"] == ["t5"] and base_e["row_refs"] == ["powers[5]"] and base_e["grid"] == "3^(s − row min)"
    carried = next(f for f in step2["findings"] if f["grid"] == "Σ")
    assert carried["carried_from"] == 2 and carried["cause"] is None and carried["rows"] == ["t2", "t5"]
    box = next(b for b in step2["boxes"] if b["ref"] == "powers[5][1]")
    written = data["step2"][4][0]  # what the file holds in that box
    assert box == {"ref": "powers[5][1]", "where": "t5 · E1 of 3^(s − row min)", "file": {"table": "step2", "row": 5, "box": 1},
                   "given": repr(written), "key": str(expected_key(sol, "powers[5][1]")), "right": False}


def expected_key(sol, ref):
    from workbook.layout import cells
    return next(expected(c) for c in cells(build_sheet(sol).sections) if c.ref == ref)
