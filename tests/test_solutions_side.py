"""The worked solutions as a side (issue 14): `generate --sides ...solutions`, `key CODE --worked`,
`exam --solutions`, and the JSON's working; read back with pypdf."""

import io
import json
import re

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from workbook.cli import cli

pytestmark = pytest.mark.pdf


def run(*args):
    return CliRunner().invoke(cli, list(args), prog_name="moe-workbook")


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_generate_writes_the_third_side_and_key_worked_gives_its_bytes(tmp_path):
    result = run("generate", "expert-choice-3e-top2", "--sides", "worksheet,key,solutions", "--out", str(tmp_path / "g"))
    assert result.exit_code == 0, result.output
    (solutions,) = (tmp_path / "g").glob("*-solutions.pdf")
    code = re.search(r"expert-choice-3e-top2-(.+)-solutions\.pdf", solutions.name)[1]
    text = " ".join(text_of(solutions.read_bytes()).split())
    assert "Worked solutions" in text and code in text
    assert "S[t1,E1] = x_t1 · w_E1 = " in text and "the 2 largest P in column E1" in text
    data = json.loads(next((tmp_path / "g").glob("*.json")).read_text())
    probs = next(s for s in data["steps"] if s["id"] == "probs")
    assert probs["meaning"] and probs["working"][0]["cells"] == ["probs[1][1]"]
    assert probs["working"][0]["value"] == probs["exact"][0][0]
    result = run("key", code, "--worked", "--format", "pdf,html", "--out", str(tmp_path / "k"))
    assert result.exit_code == 0, result.output
    (again,) = (tmp_path / "k").glob(f"*-{code}-solutions.pdf")  # named after the exercise, not the preset
    assert again.read_bytes() == solutions.read_bytes()
    assert "Worked solutions" in again.with_suffix(".html").read_text()


def test_bad_sides_are_refused_in_one_line(tmp_path):
    result = run("generate", "token-choice-5x6", "--sides", "worksheet,answers", "--out", str(tmp_path))
    assert result.exit_code == 2 and result.output.strip() == "Error: unknown side 'answers': choose from worksheet, key, solutions"
    result = run("key", "10JP-83J", "--worked", "--worksheet", "--out", str(tmp_path))
    assert result.exit_code == 2 and "not both" in result.output
    assert not list(tmp_path.iterdir())


def test_exam_solutions_book_has_every_student_on_an_odd_page(tmp_path):
    out = tmp_path / "exam"
    result = run("exam", "expert-choice-3e-top2", "--variants", "3", "--solutions", "--per-student", "--out", str(out))
    assert result.exit_code == 0, result.output
    book = PdfReader(io.BytesIO((out / "solutions.pdf").read_bytes()))
    rows = list(__import__("csv").DictReader(io.StringIO((out / "manifest.csv").read_text(encoding="utf-8-sig"))))
    starts = []
    for row in rows:
        first, last = (int(v) for v in row["solutions_pages"].split("-"))
        starts.append(first)
        alone = PdfReader(io.BytesIO((out / row["solutions_file"]).read_bytes()))
        assert len(alone.pages) == last - first + 1
        assert [p.extract_text() for p in alone.pages] == [book.pages[i].extract_text() for i in range(first - 1, last)]
        assert row["codes"] in book.pages[first - 1].extract_text()
    assert all(p % 2 == 1 for p in starts) and len(book.pages) % 2 == 0
    top = [item.title for item in book.outline if not isinstance(item, list)]
    assert top == [f"variant {i}" for i in (1, 2, 3)]


def test_faded_scaffold_works_the_first_row_and_leaves_the_second_its_last_box():
    """--scaffold faded (Renkl and Atkinson): in every grid of two rows or more the first row is
    filled in and its working printed under the step, the second row filled in but for its last
    box, the rest blank; the same on worksheet and key."""
    from workbook.layout import Grid, faded_rows
    from workbook.presets import preset
    from workbook.render_html import render_html
    from workbook.sheet import build_sheet
    from workbook.solutions import scaffold, worked
    from workbook.solve import solve

    sol = solve(preset("token-choice-capacity").spec())
    plain = build_sheet(sol)
    faded = scaffold(sol, plain, "faded")
    grids = [(a, b) for s, t in zip(plain.sections, faded.sections) for x, y in zip(s.boards, t.boards)
             for r, q in zip(x.panels, y.panels) for a, b in zip(r, q) if isinstance(a, Grid)]
    assert any(faded_rows(a) for a, _ in grids)
    for a, b in grids:
        if not faded_rows(a):
            assert a == b
            continue
        assert not any(c.blank for c in b.cells[0] if c.answer or c.decimal)
        answered = [j for j, c in enumerate(a.cells[1]) if c.blank and (c.answer or c.decimal)]
        assert [j for j, c in enumerate(b.cells[1]) if c.blank and (c.answer or c.decimal)] == answered[-1:]
        assert b.cells[2:] == a.cells[2:]
    lines = {ln.text for w in worked(sol, plain) for ln in w.lines}
    shown = [text for _, texts in faded.examples for text in texts]
    assert shown and set(shown) <= lines and any(t.startswith("S[t1,E1] = ") for t in shown)
    for answer_key in (False, True):
        html = render_html(faded, answer_key)
        assert "Worked example" in html and "S[t1,E1] = x_t1 · w_E1" in html
    assert "Worked example" not in render_html(plain, False)
