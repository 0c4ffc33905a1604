"""Class sets: rosters, the plan of variants, the PDFs a teacher prints, the manifest, Moodle XML."""

import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from workbook.cli import cli
from workbook.exam import build_exam, plan_exam
from workbook.layout import cells
from workbook.presets import preset
from workbook.render_moodle import cell_value, render_moodle
from workbook.roster import RosterError, Student, read_roster
from workbook.sheet import build_sheet

NAMES = ["Ada Lovelace", "<b>Bold</b> & Co", "Zoë Ñúñez"]


def roster(tmp_path, text: str, encoding="utf-8", name="class.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# Rosters -----------------------------------------------------------------------------------------

def test_roster_with_header_and_ids(tmp_path):
    students = read_roster(roster(tmp_path, "name,id\nAda Lovelace,17\n  Alan   Turing ,18\n"))
    assert students == (Student(1, "Ada Lovelace", "17"), Student(2, "Alan Turing", "18"))


def test_roster_without_header_takes_the_first_column(tmp_path):
    assert [s.name for s in read_roster(roster(tmp_path, "Ada\nAlan\n\n"))] == ["Ada", "Alan"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_bom_and_latin1_rosters_read_right(tmp_path, encoding):
    students = read_roster(roster(tmp_path, "name\nZoë Ñúñez\nJosé\n", encoding))
    assert [s.name for s in students] == ["Zoë Ñúñez", "José"]


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("name\n", "no students"),
    ("name\nAda\nada\n", "same name"),
    ("name,id\nAda,1\nAlan,1\n", "same id"),
    ("name\nAda\n" + "x" * 201 + "\n", "longer than 200"),
])
def test_bad_rosters_are_refused_in_one_line(tmp_path, text, words):
    with pytest.raises(RosterError, match=words) as err:
        read_roster(roster(tmp_path, text))
    assert "\n" not in str(err.value)


def test_same_names_with_different_ids_are_two_students(tmp_path):
    assert len(read_roster(roster(tmp_path, "name,id\nAda,1\nAda,2\n"))) == 2


def test_an_id_column_asked_for_must_exist(tmp_path):
    with pytest.raises(RosterError, match="no column 'matrikel'"):
        read_roster(roster(tmp_path, "name\nAda\n"), "matrikel")


# The plan ----------------------------------------------------------------------------------------

def codes(plan):
    return [[sol.code for _, sol in a.solutions] for a in plan]


def test_the_same_exam_seed_gives_the_same_set_and_a_new_student_changes_no_one_else():
    presets = [preset("token-choice-5x6"), preset("expert-choice-3e-top2")]
    three = tuple(Student(i + 1, n) for i, n in enumerate(NAMES))
    first = plan_exam(presets, 7, three)
    assert codes(first) == codes(plan_exam(presets, 7, three))
    four = plan_exam(presets, 7, three + (Student(4, "Dan"),))
    assert codes(four)[:3] == codes(first)
    assert codes(plan_exam(presets, 8, three)) != codes(first)
    for column in zip(*codes(four)):
        assert len(set(column)) == len(column)  # every student a different variant


def test_forms_share_variants_round_robin():
    students = tuple(Student(i + 1, f"S{i}") for i in range(5))
    plan = plan_exam([preset("token-choice-5x6")], 3, students, forms=2)
    assert [a.form for a in plan] == ["A", "B", "A", "B", "A"]
    assert codes(plan)[0] == codes(plan)[2] == codes(plan)[4] != codes(plan)[1]


# The printed set ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def class_set():
    students = tuple(Student(i + 1, n, str(100 + i)) for i, n in enumerate(NAMES))
    plan = plan_exam([preset("token-choice-5x6")], 11, students)
    return plan, dict(build_exam(plan, per_student=True, moodle="Midterm & <friends>", jobs=2))


def test_every_sheet_belongs_to_its_student_and_starts_on_an_odd_page(class_set):
    plan, files = class_set
    manifest = json.loads(files["manifest.json"])
    assert [row["name"] for row in manifest] == NAMES
    for side, name in (("worksheet", "worksheets.pdf"), ("key", "keys.pdf")):
        pages = [p.extract_text() for p in PdfReader(io.BytesIO(files[name])).pages]
        assert len(pages) % 2 == 0
        for a, row in zip(plan, manifest):
            first, last = (int(v) for v in row[f"{side}_pages"].split("-"))
            assert first % 2 == 1
            code = a.solutions[0][1].code
            for text in pages[first - 1:last]:
                assert a.student.name in text and code in text
                assert all(other not in text for other in NAMES if other != a.student.name)
        single = PdfReader(io.BytesIO(files[manifest[1][f"{side}_file"]]))
        assert all(NAMES[1] in p.extract_text() for p in single.pages)


def test_joined_pdfs_are_titled_and_an_exam_built_again_gives_the_same_bytes_whatever_the_cores():
    plan = plan_exam([preset("token-choice-5x6")], 3, variants=5)
    first, again = dict(build_exam(plan, jobs=1)), dict(build_exam(plan, jobs=3))
    for name, kind in (("worksheets.pdf", "worksheets"), ("keys.pdf", "answer keys")):
        assert first[name] == again[name]
        reader = PdfReader(io.BytesIO(first[name]))
        assert reader.metadata.title == f"token-choice-5x6 · {kind} · 5 students"
        assert reader.trailer["/Root"]["/Lang"] == "en"


def test_a_bookmark_per_student_opens_their_first_page_and_their_own_files_are_titled(class_set):
    plan, files = class_set
    manifest = json.loads(files["manifest.json"])
    for side, name in (("worksheet", "worksheets.pdf"), ("key", "keys.pdf")):
        reader = PdfReader(io.BytesIO(files[name]))
        students = [item for item in reader.outline if not isinstance(item, list)]
        assert [item.title for item in students] == NAMES
        assert [reader.get_destination_page_number(item) + 1 for item in students] == \
            [int(row[f"{side}_pages"].split("-")[0]) for row in manifest]
        steps = [item.title for item in reader.outline[1] if not isinstance(item, list)]
        assert steps and steps[0].startswith("Token-choice routing")  # the sheet's own headings below
        single = PdfReader(io.BytesIO(files[manifest[2][f"{side}_file"]]))
        kind = "worksheet" if side == "worksheet" else "answer key"
        assert single.metadata.title == f"{NAMES[2]} · {kind} · token-choice-5x6"


def test_manifest_csv_matches_json(class_set):
    _, files = class_set
    assert not files["manifest.csv"].startswith(b"\xef\xbb\xbf")  # a byte-order mark only when asked
    lines = files["manifest.csv"].decode("utf-8").splitlines()
    assert lines[0].split(",")[:5] == ["row", "name", "id", "form", "codes"]
    assert len(lines) == 1 + len(NAMES)
    files_ = [row["worksheet_file"] for row in json.loads(files["manifest.json"])]
    assert files_ == ["students/01-ada-lovelace-worksheet.pdf", "students/02-b-bold-b-co-worksheet.pdf",
                      "students/03-zoe-nunez-worksheet.pdf"]


def test_names_are_escaped_in_the_html():
    plan = plan_exam([preset("token-choice-5x6")], 11, (Student(1, "<script>x</script>"),))
    from workbook.exam import _html_pair
    worksheet, key = _html_pair(plan[0], plan[0].solutions[0][1], "a4", {})
    assert "<script>" not in worksheet and "&lt;script&gt;x&lt;/script&gt;" in worksheet


def test_a_200_character_name_is_shrunk_to_fit():
    from dataclasses import replace
    sheet = build_sheet(plan_exam([preset("token-choice-5x6")], 1, variants=1)[0].solutions[0][1])
    assert replace(sheet, student="x" * 200).name_size == 5.0
    assert replace(sheet, student="Ada Lovelace").name_size == 10.0


# Moodle ------------------------------------------------------------------------------------------

_FIELD = re.compile(r"\{1:NUMERICAL:=([^:}]+):([^}]+)\}")


def test_moodle_xml_has_what_the_importer_requires_and_the_key_values(class_set):
    plan, files = class_set
    root = ET.fromstring(files["moodle.xml"])
    assert root.tag == "quiz"
    category, *questions = root.findall("question")
    assert category.get("type") == "category"
    assert category.find("category/text").text == "$course$/top/Midterm & <friends>"
    assert len(questions) == len(plan)
    for q, a in zip(questions, plan):
        sol = a.solutions[0][1]
        assert q.get("type") == "cloze"
        assert q.find("name/text").text.endswith(sol.code)
        assert q.find("questiontext").get("format") == "html"
        for tag in ("generalfeedback/text", "penalty", "hidden", "idnumber"):
            assert q.find(tag) is not None, tag
        assert q.find("idnumber").text == f"{sol.code}-{a.student.row}"
        text = q.find("questiontext/text").text
        fields = _FIELD.findall(text)
        blanks = [c for c in cells(build_sheet(sol).sections) if c.blank and cell_value(c)]
        assert len(fields) == len(blanks) > 0
        empties = [c for c in cells(build_sheet(sol).sections) if c.blank and not cell_value(c)]
        # an answer-free sheet: a box that stays empty is a field like the others, right holding 'none'
        assert text.count("{1:SHORTANSWER:=none~=-}") == len(empties) > 0 and "Type -" not in text
        assert "background-color: #e6e6e6" not in text
        for (value, tolerance), cell in zip(fields, blanks):
            m = re.fullmatch(r"(\w+)\[(\d+)\](?:\[(\d+)\])?", cell.ref)
            if m and m.group(1) in sol.has:  # the exact value from the solution itself
                step, i, j = sol.step(m.group(1)).exact, int(m.group(2)), int(m.group(3) or 1)
                if isinstance(step[0], tuple):
                    exact = step[i - 1][j - 1]
                else:  # a flat step drawn as one column ([i][1]) or one row ([1][j])
                    exact = step[(i if j == 1 else j) - 1]
                assert abs(float(value) - float(exact)) <= 1e-9
                expected = 0 if exact.is_Integer else max(0.01 * abs(float(exact)), 0.01)
                assert abs(float(tolerance) - expected) < 1e-6


def test_cloze_values_and_tolerances():
    from sympy import Integer, Rational
    from workbook.layout import Cell
    assert cell_value(Cell(answer="−3", blank=True, value=Integer(-3))) == (-3.0, 0.0)
    value, tol = cell_value(Cell(answer="27/37", decimal="0.73", blank=True, value=Rational(27, 37)))
    assert abs(value - 27 / 37) < 1e-12 and tol == 0.01
    assert cell_value(Cell(decimal="2.64", blank=True)) == pytest.approx((2.64, 0.0264))
    assert cell_value(Cell(answer="≈93.41", blank=True)) == pytest.approx((93.41, 0.9341))
    assert cell_value(Cell(blank=True)) is None  # a padding box of a ragged table


# The command -------------------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(cli, list(args), prog_name="moe-workbook")


def test_exam_command_writes_the_folder_and_refuses_to_overwrite(tmp_path):
    path = roster(tmp_path, "name\nAda\nAlan\n", "cp1252")
    out = tmp_path / "exam"
    result = run("exam", "token-choice-5x6", "--roster", str(path), "--out", str(out), "--format", "pdf,moodle")
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"worksheets.pdf", "keys.pdf", "manifest.csv", "manifest.json",
                                              "moodle.xml", ".moe-workbook-files.json"}  # the record for --force
    again = run("exam", "token-choice-5x6", "--roster", str(path), "--out", str(out))
    assert again.exit_code == 1 and "--force" in again.stderr and len(again.stderr.splitlines()) == 1
    forced = run("exam", "token-choice-5x6", "--roster", str(path), "--out", str(out), "--force", "--format", "moodle")
    assert forced.exit_code == 0, forced.output


@pytest.mark.parametrize("args, words", [
    (["token-choice-5x6"], "--variants"),
    (["token-choice-5x6", "--variants", "2", "--forms", "2"], "alone"),
    (["nosuch", "--variants", "2"], "unknown preset"),
    (["token-choice-5x6", "--variants", "2", "--format", "docx"], "unknown exam format"),
    (["token-choice-5x6", "--roster", "/nonexistent/class.csv"], "cannot read roster"),
    (["token-choice-5x6", "--variants", "2", "--id-column", "id"], "--id-column needs --roster"),
])
def test_exam_bad_input_is_one_line(tmp_path, args, words):
    result = run("exam", *args, "--out", str(tmp_path / "x"))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and words in result.stderr
    assert not (tmp_path / "x").exists()


def test_empty_roster_is_one_line(tmp_path):
    result = run("exam", "token-choice-5x6", "--roster", str(roster(tmp_path, "")), "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and "empty" in result.stderr and len(result.stderr.splitlines()) == 1


# Making it the school's own ------------------------------------------------------------------------

def test_forms_print_their_letter_on_every_page(tmp_path):
    result = run("exam", "token-choice-5x6", "--forms", "2", "--out", str(tmp_path / "f"))
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "f" / "manifest.json").read_text())
    assert [row["form"] for row in manifest] == ["A", "B"]
    pages = [p.extract_text() for p in PdfReader(str(tmp_path / "f" / "worksheets.pdf")).pages]
    for row in manifest:
        first, last = (int(v) for v in row["worksheet_pages"].split("-"))
        assert all(f"form {row['form']}" in text for text in pages[first - 1:last])


def test_template_dir_overrides_a_template_and_embeds_a_logo(tmp_path):
    from workbook.exam import _html_pair
    from workbook.render_pdf import render_pdf
    from workbook.resources import resource_dir

    folder = tmp_path / "school"
    folder.mkdir()
    (folder / "sheet.css").write_text((resource_dir("templates") / "sheet.css").read_text() + "\n/* Hill School */\n")
    page = (resource_dir("templates") / "worksheet.html").read_text()
    (folder / "worksheet.html").write_text(page.replace("<header>", '<header><img alt="logo" src="{{ embed(\'logo.svg\') }}">', 1))
    (folder / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
                                     '<rect width="20" height="10"/></svg>')
    plan = plan_exam([preset("token-choice-5x6")], 1, variants=1)
    worksheet, key = _html_pair(plan[0], plan[0].solutions[0][1], "a4", {"template_dir": str(folder)})
    for page_html in (worksheet, key):  # the key extends the school's worksheet
        assert "/* Hill School */" in page_html and "data:image/svg+xml;base64," in page_html
    assert render_pdf(worksheet).startswith(b"%PDF")  # drawn from the data: URI, nothing fetched


def test_embed_refuses_files_outside_the_template_folder(tmp_path):
    import jinja2

    from workbook.render_html import _data_uri
    (tmp_path / "inside.png").write_bytes(b"x")
    assert _data_uri(tmp_path, "inside.png").startswith("data:image/png;base64,")
    with pytest.raises(jinja2.TemplateError, match="no such file"):
        _data_uri(tmp_path, "../etc/passwd")


def test_scaffolds():
    from workbook.layout import scaffolded
    sheet = build_sheet(plan_exam([preset("token-choice-5x6")], 1, variants=1)[0].solutions[0][1])
    guided = scaffolded(sheet, "guided")
    assert guided.blanks < sheet.blanks
    first_blank_grid = guided.sections[0].boards[0].panels[1][1]
    assert not any(c.blank for c in first_blank_grid.cells[0]) and all(c.blank for c in first_blank_grid.cells[1])
    exam = scaffolded(sheet, "exam")
    assert all(s.instruction == "" for s in exam.sections) and exam.hand_work == ""
    assert exam.blanks == sheet.blanks and scaffolded(sheet, "standard") is sheet


def test_title_and_font_size_reach_the_page():
    from workbook.exam import _html_pair
    plan = plan_exam([preset("token-choice-5x6")], 1, variants=1)
    worksheet, _ = _html_pair(plan[0], plan[0].solutions[0][1], "a4", {"title": "Midterm · MoE", "font_size": 10.5})
    assert "<h1>Midterm · MoE</h1>" in worksheet and "font-size: 10.5pt" in worksheet


@pytest.mark.parametrize("text, names, ids", [
    ("name;id\nAda Lovelace;17\n", ["Ada Lovelace"], ["17"]),
    ("name\tid\nAda Lovelace\t17\n", ["Ada Lovelace"], ["17"]),
    ("ID,First name,Surname\n17,Ada,Lovelace\n", ["Ada Lovelace"], ["17"]),
])
def test_spreadsheet_exports_are_read_right(tmp_path, text, names, ids):
    students = read_roster(roster(tmp_path, text))
    assert [s.name for s in students] == names and [s.id for s in students] == ids


def test_a_header_without_names_is_refused(tmp_path):
    with pytest.raises(RosterError, match="no column of names"):
        read_roster(roster(tmp_path, "id,email\n17,a@b.c\n"))


def test_idnumbers_are_unique_with_forms_and_a_roster(tmp_path):
    students = tuple(Student(i + 1, f"S{i}") for i in range(4))
    plan = plan_exam([preset("token-choice-5x6")], 3, students, forms=2)
    root = ET.fromstring(render_moodle("f", plan))
    questions = root.findall("question")[1:]
    ids = [q.find("idnumber").text for q in questions]
    assert len(set(ids)) == len(ids) == 2  # a question per form, not per student
    assert [q.find("name/text").text.split(" · ")[1] for q in questions] == ["form A", "form B"]
    assert ids == [f"{plan[0].solutions[0][1].code}-A", f"{plan[1].solutions[0][1].code}-B"]


def test_moodle_only_lays_nothing_out_and_force_clears_an_earlier_run(tmp_path):
    out = tmp_path / "e"
    first = run("exam", "token-choice-5x6", "--variants", "2", "--out", str(out), "--per-student")
    assert first.exit_code == 0, first.output
    again = run("exam", "token-choice-5x6", "--variants", "2", "--out", str(out), "--format", "moodle", "--force")
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == [".moe-workbook-files.json", "manifest.csv",
                                                                      "manifest.json", "moodle.xml"]


def test_an_exam_folder_that_is_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = run("exam", "token-choice-5x6", "--variants", "1", "--out", str(blocker))
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1 and "afile" in result.stderr


def test_manifest_cells_never_run_as_formulas(tmp_path):
    plan = plan_exam([preset("token-choice-5x6")], 1, (Student(1, "=HYPERLINK(\"x\")"),))
    files = dict(build_exam(plan, pdf=False))
    assert "'=HYPERLINK" in files["manifest.csv"].decode("utf-8")


def test_a_broken_school_template_is_one_line(tmp_path):
    folder = tmp_path / "school"
    folder.mkdir()
    (folder / "worksheet.html").write_text("{% if %}")
    result = run("exam", "token-choice-5x6", "--variants", "1", "--template-dir", str(folder), "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "template problem" in result.stderr
