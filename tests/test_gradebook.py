"""The gradebook (`moe-workbook grade`): a class's answer files graded against their exam.

An exam of 30 students is made here (its manifest only: nothing is laid out), and their answer
files are worked out here with plain fractions (no workbook code but the key's own values): most
right, some with planted mistakes (weights not renormalised, a slip in one score carried on,
indices from 0, steps left empty), one student handing in twice, one file for another exam's
variant, one that is not TOML, one student handing in nothing."""

import csv
import json
import os
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbook.check import AnswersError, grade, groups, read_answers
from workbook.cli import cli
from workbook.exam import build_exam, plan_exam
from workbook.gradebook import mark_class, read_manifest
from workbook.presets import preset
from workbook.roster import Student
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.values import expected
from workbook.write import write_all

NAMES = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Zoë Rüsk", "李雷", "=1+1 <b>bold</b>"] + \
        [f"Student {n:02d}" for n in range(7, 31)]
NOT_RENORMALISED = {3, 9, 15}   # rows (1-based) with the top-k weights not renormalised
SLIP = {5, 11}                  # a slip (+1) in t2's first score, carried through every later step
ZERO_BASED = {7, 13}            # indices counted from 0 in the top-k and the routing table
HALF_DONE = {6, 17}              # steps 3 to 5 left empty
TWICE, MISSING = 29, 30
RENORM = "the top-k weights not renormalised over the chosen experts"
ZERO = "indices counted from 0; the sheet counts from 1"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="moe-workbook")


def learner(sol, slip=False, renormalise=True, zero_based=False) -> dict:
    """{ref: value or None} of a learner's whole sheet, worked out with fractions."""
    S = [[int(v) for v in row] for row in sol.step("scores").exact]
    if slip:
        S[1][0] += 1
    experts, out, chosen = len(S[0]), {}, []
    for t, row in enumerate(S, 1):
        low = min(row)
        powers = [Fraction(3) ** (v - low) for v in row]
        probs = [p / sum(powers) for p in powers]
        top = sorted(range(experts), key=lambda e: (-probs[e], e))[:2]
        weights = [probs[e] / sum(probs[e] for e in top) if renormalise else probs[e] for e in top]
        chosen.append(top)
        out[f"row_sum[{t}][1]"] = sum(powers)
        for e in range(experts):
            out[f"scores[{t}][{e + 1}]"], out[f"powers[{t}][{e + 1}]"], out[f"probs[{t}][{e + 1}]"] = \
                row[e], powers[e], probs[e]
        for r, e in enumerate(top, 1):
            out[f"topk[{t}][{r}]"] = e + 1 - zero_based
            out[f"weights[{t}][{r}]"] = weights[r - 1]
    for e in range(experts):
        mine = [t for t, top in enumerate(chosen, 1) if e in top]
        out[f"load[{e + 1}][1]"] = len(mine)
        for i in range(len(S)):
            out[f"routing[{e + 1}][{i + 1}]"] = mine[i] - zero_based if i < len(mine) else None
    return out


def answer_text(sol, values: dict, name: str = "", empty_steps=()) -> str:
    lines = [f'code = "{sol.code}"'] + ([f"name = {json.dumps(name, ensure_ascii=False)}"] if name else [])
    for g in groups(build_sheet(sol)):
        rows = [["" if values[c.ref] is None or g.number in empty_steps else str(values[c.ref]) for c in row]
                for row in g.rows]
        lines.append(f"{g.key} = {json.dumps(rows, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def score(sol, values: dict, empty_steps=()) -> tuple[int, int]:
    """(right, counted) as the gradebook should give: a box counts when the key or the learner has
    a value there; it is right when the learner's value is the key's (all exact fractions here)."""
    right = total = 0
    for g in groups(build_sheet(sol)):
        for row in g.rows:
            for c in row:
                want, given = expected(c), None if g.number in empty_steps else values[c.ref]
                if want is None and given is None:
                    continue
                total += 1
                right += given is not None and want is not None and Fraction(str(want)) == Fraction(given)
    return right, total


@pytest.fixture(scope="module")
def exam(tmp_path_factory):
    """The exam folder (manifest and record, as `exam --format moodle` leaves it, without Moodle)
    and the answer folder; {row: (sol, right, counted)}."""
    root = tmp_path_factory.mktemp("grading")
    plan = plan_exam([preset("token-choice-5x6")], 2026, tuple(Student(i, n) for i, n in enumerate(NAMES, 1)))
    folder, answers = root / "exam", root / "answers"
    write_all(folder, build_exam(plan, pdf=False), record=True)
    answers.mkdir()
    expect = {}
    for a in plan:
        row, sol = a.student.row, a.solutions[0][1]
        if row == MISSING:
            continue
        values = learner(sol, slip=row in SLIP, renormalise=row not in NOT_RENORMALISED, zero_based=row in ZERO_BASED)
        empty = (3, 4, 5) if row in HALF_DONE else ()
        (answers / f"{row:02d}.toml").write_text(answer_text(sol, values, a.student.name, empty), encoding="utf-8")
        expect[row] = (sol, *score(sol, values, empty))
    # handed in twice: the later file (by modification time) is the right one, though first by name
    twice = plan[TWICE - 1].solutions[0][1]
    (answers / f"{TWICE:02d}.toml").write_text(answer_text(twice, learner(twice, renormalise=False)))
    (answers / f"{TWICE:02d}-again.toml").write_text(answer_text(twice, learner(twice)))
    os.utime(answers / f"{TWICE:02d}.toml", ns=(1_000_000_000 * 10**9,) * 2)
    os.utime(answers / f"{TWICE:02d}-again.toml", ns=(2_000_000_000 * 10**9,) * 2)
    expect[TWICE] = (twice, *score(twice, learner(twice)))
    other = solve(preset("token-choice-5x6").spec(seed=99))  # another exam's variant
    (answers / "stranger.toml").write_text(answer_text(other, learner(other)))
    (answers / "broken.toml").write_text("this is not TOML = = [\n")
    (answers / "notes.txt").write_text("not an answer file: left out of a folder's *.toml")
    return folder, answers, expect


@pytest.fixture(scope="module")
def graded(exam):
    folder, answers, expect = exam
    result = run("grade", folder, answers)
    with open(folder / "gradebook.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return result, rows


def test_every_student_has_a_row_with_their_score(exam, graded):
    folder, _, expect = exam
    result, rows = graded
    assert result.exit_code == 1, result.output  # a file had a problem: the gradebook is written all the same
    assert [str(folder / n) for n in ("gradebook.csv", "class-report.html", "class-report.pdf")] == result.stdout.split()
    assert not (folder / "gradebook.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert [int(r["row"]) for r in rows] == list(range(1, 31))
    head = list(rows[0])
    assert head[:6] == ["row", "name", "id", "form", "code", "preset"] and head[-5:] == ["right", "boxes", "percent", "file", "note"]
    assert "step 4 Top-2 experts per token and their weights: right" in head
    for r in rows:
        row = int(r["row"])
        if row == MISSING:
            assert r["note"] == "missing" and r["right"] == r["percent"] == r["file"] == ""
            assert r["step 1 Router scores: right"] == ""
            continue
        sol, right, total = expect[row]
        assert (r["code"], int(r["right"]), int(r["boxes"])) == (sol.code, right, total), row
        assert float(r["percent"]) == round(100 * right / total, 1)
        steps = sum(int(r[k]) for k in head if k.startswith("step") and k.endswith(": right"))
        assert steps == right
    by_row = {int(r["row"]): r for r in rows}
    assert by_row[1]["percent"] == "100.0" and by_row[1]["name"] == "Ada Lovelace"
    assert by_row[6]["name"] == "'=1+1 <b>bold</b>"  # never run as a formula
    assert by_row[3]["step 4 Top-2 experts per token and their weights: right"] == "12"  # 12 weights wrong of 24
    assert by_row[TWICE]["file"].endswith(f"{TWICE:02d}-again.toml") and by_row[TWICE]["percent"] == "100.0"
    assert by_row[17]["step 3 Router probabilities: right"] == "0"


def answers_of(result) -> str:
    return str(Path(result.stdout.split()[0]).parent.parent / "answers")


def test_the_problems_are_one_line_each(graded):
    result, _ = graded
    lines = result.stderr.splitlines()
    assert sum(line.startswith("unreadable: ") and "broken.toml" in line for line in lines) == 1
    assert sum(line.startswith("not in this exam: ") and "stranger.toml" in line for line in lines) == 1
    twice = [line for line in lines if line.startswith("handed in twice: ")]
    assert len(twice) == 1 and f"{TWICE:02d}-again.toml', the latest by modification time" in twice[0]
    assert twice[0].endswith(f"not '{answers_of(result)}/{TWICE:02d}.toml'")
    assert "not valid TOML" in next(line for line in lines if "broken.toml" in line)
    assert [line for line in lines if line.startswith("missing: ")] == [
        f"missing: Student 30: no file for variant {json.loads(Path(result.stdout.split()[0]).with_name('manifest.json').read_text())[29]['codes']} (token-choice-5x6)"]
    assert len(lines) == 4


def test_the_class_report_names_the_mistakes_with_counts_and_the_problems(exam, graded):
    folder, _, _ = exam
    html = (folder / "class-report.html").read_text(encoding="utf-8")
    assert "<svg" in html and html.count("<rect") > 10
    assert f"<td>{RENORM}</td><td class=\"count\">{len(NOT_RENORMALISED)}</td>" in html
    assert f"<td>{ZERO}</td><td class=\"count\">{len(ZERO_BASED)}</td><td>Step 4, Step 5</td>" in html
    assert "<td>token-choice-5x6: Step 1 (Router scores)</td><td class=\"count\">2</td>" in html  # the slips
    assert "follows from the student&#39;s own Step 1" in html  # carried errors, counted apart
    for row in ZERO_BASED:  # a mistake repeated across steps
        assert f"<td>{NAMES[row - 1]}</td>" in html.split("Students who need a word")[1]
    assert f"{ZERO}, in Step 4 and Step 5" in html
    words = html.split("Students who need a word")[1].split("<h2>")[0]
    assert "<td>Student 17</td>" in words and "; rows left empty in Step 3, Step 4 and Step 5</td>" in words
    left_empty = html.split("<h3>Left empty</h3>")[1].split("<h2>")[0]  # counted apart from the slips
    assert left_empty.count('<td class="count">2</td>') == 3 and "Step 3 (Router probabilities)" in left_empty
    slips = html.split("<h3>Slips</h3>")[1].split("<h3>")[0]
    assert slips.count("<tr><td>") == 1
    assert "<td>=1+1 &lt;b&gt;bold&lt;/b&gt;</td>" in html and "<b>" not in html  # a name is text
    problems = html.split("<h2>Problems</h2>")[1]
    for kind in ("unreadable", "not in this exam", "handed in twice", "missing"):
        assert f'<span class="kind">{kind}</span>' in problems


def test_the_pdf_has_pages(exam, graded):
    from pypdf import PdfReader

    reader = PdfReader(exam[0] / "class-report.pdf")
    assert len(reader.pages) >= 2
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Most common mistakes" in text and "renormalised" in text


def test_a_second_run_is_refused_without_force_and_replaces_with_it(exam, graded):
    folder, answers, _ = exam
    before = (folder / "gradebook.csv").read_bytes()
    again = run("grade", folder, answers)
    assert again.exit_code == 1 and len(again.stderr.splitlines()) == 1 and "--force" in again.stderr
    assert (folder / "gradebook.csv").read_bytes() == before
    good = sorted(answers.glob("[0-2][0-9].toml"))[:28]  # no problem file: only a missing student
    forced = run("grade", folder, *good, "--force")
    assert forced.exit_code == 0, forced.output
    assert "replaced in" in forced.stderr and all(line.startswith(("replaced in", "missing: "))
                                                  for line in forced.stderr.splitlines())
    assert (folder / "gradebook.csv").read_bytes() != before
    assert sorted(json.loads((folder / ".moe-workbook-files.json").read_text())["files"]) == [
        "class-report.html", "class-report.pdf", "gradebook.csv", "manifest.csv", "manifest.json"]
    (folder / "gradebook.csv").write_text("edited by hand\n")
    refused = run("grade", folder, answers, "--force")  # a gradebook changed since is never replaced
    assert refused.exit_code == 1 and "changed since" in refused.stderr
    assert (folder / "gradebook.csv").read_text() == "edited by hand\n"


def test_bad_input_is_one_line_with_status_2(exam, tmp_path):
    folder, answers, _ = exam
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, words in [((tmp_path, answers), "no manifest.json"), ((folder, empty), "no answer files"),
                        ((folder, tmp_path / "nosuch.toml"), "does not exist")]:
        result = run("grade", *args)
        assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and words in result.stderr, result.output
    huge = tmp_path / "huge"
    huge.mkdir()
    with open(huge / "manifest.json", "wb") as file:
        file.truncate(64 << 20)  # sparse: refused by its size, never read
    result = run("grade", huge, answers)
    assert result.exit_code == 2 and "at most 16 MiB" in result.stderr and len(result.stderr.splitlines()) == 1
    (huge / "manifest.json").write_text('{"not": "a manifest"}')
    result = run("grade", huge, answers)
    assert result.exit_code == 2 and "not an exam's manifest" in result.stderr


def test_forms_are_told_apart_by_the_typed_name(tmp_path):
    """With forms, students share a code: each file goes to the student its `name` names."""
    plan = plan_exam([preset("token-choice-5x6")], 7, tuple(Student(i, n) for i, n in enumerate(
        ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"], 1)), forms=2)
    write_all(tmp_path, build_exam(plan, pdf=False), record=True)
    sol = plan[0].solutions[0][1]
    assert plan[2].solutions[0][1].code == sol.code  # rows 1 and 3 have form A
    files = []
    for name, values in (("grace hopper", learner(sol)), ("Ada", learner(sol, renormalise=False)),
                         ("Someone Else", learner(sol))):
        files.append(tmp_path / f"{name}.toml")
        files[-1].write_text(answer_text(sol, values, name))
    book = mark_class(read_manifest(tmp_path), files)
    graded = {line.student.name: line.percent for line in book.lines if line.student and line.result}
    assert graded["Grace Hopper"] == 100.0 and graded["Ada Lovelace"] < 100
    assert [p.kind for p in book.problems] == ["not matched", "missing", "missing"]
    assert book.lines[-1].student is None and book.lines[-1].name == "Someone Else" and book.lines[-1].percent == 100.0


def test_an_answer_file_may_carry_the_student_s_name(tmp_path):
    sol = solve(preset("token-choice-5x6").spec(seed=3))
    sheet = build_sheet(sol)
    text = answer_text(sol, learner(sol), "Zoë Rüsk")
    assert grade(sol, sheet, read_answers(text, sol.code)).all_right
    for bad, words in (("name = 7", "must be text"), (f'name = "{"x" * 201}"', "at most 200")):
        with pytest.raises(AnswersError, match=words):
            grade(sol, sheet, read_answers(text.replace('name = "Zoë Rüsk"', bad), sol.code))
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    assert run("check", sol.code, path).exit_code == 0
