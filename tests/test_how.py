"""`check` shows how the first wrong box of a step is worked (issue 14): the worked solution's
line for that box, and, for a carried error, the same line with the learner's own numbers."""

import pytest
from click.testing import CliRunner

from workbook.check import grade, groups
from workbook.cli import cli
from workbook.code import decode
from workbook.how import how
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.values import expected

CODE = "10JP-83J"  # token-choice-5x6, edition 3


def answers(sol, sheet, changed: dict) -> dict:
    """The key in every box, but `changed` ({ref: value})."""
    out = {"code": sol.code}
    for g in groups(sheet):
        out[g.key] = [[str(changed.get(c.ref, expected(c))) if expected(c) is not None else "" for c in row]
                      for row in g.rows]
    return out


@pytest.fixture(scope="module")
def solved():
    sol = solve(decode(CODE))
    return sol, build_sheet(sol)


def test_a_slip_shows_the_key_s_working_for_that_box(solved):
    sol, sheet = solved
    s = sol.step("scores").exact
    report = grade(sol, sheet, answers(sol, sheet, {"scores[2][3]": s[1][2] + 1}))
    text = how(sol, sheet, report, 1)
    assert text.startswith("S[t2,E1] = x_t2 · w_E1 = ") and text.endswith("(each box of the row works the same way)")
    assert f"= {s[1][0]}".replace("-", "−") in text
    assert how(sol, sheet, report, 2) == ""  # a step with nothing wrong


def test_a_carried_error_is_worked_with_the_learner_s_numbers(solved):
    sol, sheet = solved
    scores = [list(r) for r in sol.step("scores").exact]
    scores[1][0] += 1
    low = min(scores[1])
    powers = [3 ** (v - low) for v in scores[1]]
    changed = {"scores[2][1]": scores[1][0]} | {f"powers[2][{e + 1}]": p for e, p in enumerate(powers)}
    report = grade(sol, sheet, answers(sol, sheet, changed))
    assert any("follows from your step 1" in r for r in report.steps[1].reasons)
    text = how(sol, sheet, report, 2)
    assert text.startswith("with your numbers: t2: row min ")
    assert text.endswith(f"= {powers[0]}") and f"3^({scores[1][0]} − ".replace("-", "−") in text


def test_check_prints_the_line(solved, tmp_path):
    sol, sheet = solved
    s = sol.step("scores").exact
    data = answers(sol, sheet, {"scores[2][1]": s[1][0] + 1})
    path = tmp_path / "answers.toml"
    path.write_text("\n".join(f'{k} = "{v}"' if k == "code" else f"{k} = {v!r}".replace("'", '"')
                              for k, v in data.items()), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", CODE, str(path)], prog_name="moe-workbook")
    assert result.exit_code == 1, result.output
    assert "     how: S[t2,E1] = x_t2 · w_E1 = " in result.output
