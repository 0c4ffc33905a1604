"""The files a class set hands on (issue 15): Moodle questions, manifest.csv and students' file names."""

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest

from workbook.check import grade, groups
from workbook.exam import Assignment, _csv, _slug, build_exam, plan_exam
from workbook.layout import cells
from workbook.presets import preset
from workbook.render_moodle import MAX_NAME, category, question_name, render_moodle
from workbook.roster import Student
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.values import expected

_FIELD = re.compile(r"\{\d*:(\w+):")


def questions(xml: str) -> list:
    return [q for q in ET.fromstring(xml).findall("question") if q.get("type") == "cloze"]


# Moodle: boxes that stay empty ------------------------------------------------------------------

@pytest.fixture(scope="module")
def none_dropped():
    """token-choice-capacity's default seed drops no choice: its key prints 'none' in the first
    dropped box and leaves the rest empty."""
    sol = solve(preset("token-choice-capacity").spec())
    sheet = build_sheet(sol)
    assert any(c.answer == "none" for c in cells(sheet.sections))
    return sol, sheet


def test_on_an_answer_free_sheet_a_box_that_stays_empty_is_a_field_like_the_others(none_dropped):
    """Which boxes stay empty is an answer (an expert's load, no dropped token): the question must
    not show it, so each is a field, right holding 'none' (the key's word) or '-'."""
    sol, sheet = none_dropped
    plan = (Assignment(Student(1, "Ada"), "", (("token-choice-capacity", sol),)),)
    text = questions(render_moodle("Quiz", plan))[0].find("questiontext/text").text
    empties = [c for c in cells(sheet.sections) if c.blank and expected(c) is None]
    assert len(_FIELD.findall(text)) == sum(c.blank for c in cells(sheet.sections))
    assert text.count("{1:SHORTANSWER:=none~=-}") == len(empties) > 1
    assert "background-color: #e6e6e6" not in text and "type <i>none</i>" in text


def test_on_a_sheet_printed_before_edition_3_a_box_that_stays_empty_is_a_grey_cell():
    """Edition 2 sheets show their loads anyway: there an empty box is no field but a grey cell,
    holding 'none' where the key prints it."""
    from workbook.code import decode
    sol = solve(decode("6TM4-HJK"))  # token-choice-capacity, edition 2
    sheet = build_sheet(sol)
    plan = (Assignment(Student(1, "Ada"), "", (("token-choice-capacity", sol),)),)
    text = questions(render_moodle("Quiz", plan))[0].find("questiontext/text").text
    assert set(_FIELD.findall(text)) == {"NUMERICAL"}  # no SHORTANSWER field where '-' had to be typed
    grey = '<td style="background-color: #e6e6e6">'
    empties = [c for c in cells(sheet.sections) if c.blank and expected(c) is None]
    assert text.count(grey) == len(empties)
    assert "Type -" not in text


def test_the_fields_are_the_boxes_check_marks(none_dropped):
    """Moodle grades the same boxes as `check` does for an answer file holding the key's numbers
    and 'none' in the boxes that stay empty."""
    sol, sheet = none_dropped
    plan = (Assignment(Student(1, "Ada"), "", (("token-choice-capacity", sol),)),)
    text = questions(render_moodle("Quiz", plan))[0].find("questiontext/text").text
    answers = {"code": sol.code}
    for g in groups(sheet):
        answers[g.key] = [[str(expected(c)) if expected(c) is not None else "none" for c in row] for row in g.rows]
    report = grade(sol, sheet, answers)
    assert report.all_right and len(report.cells) == len(_FIELD.findall(text))


def test_a_sheet_with_no_empty_box_says_nothing_of_grey_boxes_or_none():
    plan = plan_exam([preset("load-balance-switch")], 1, variants=1)
    sheet = build_sheet(plan[0].solutions[0][1])
    assert all(expected(c) is not None for c in cells(sheet.sections) if c.blank)
    text = questions(render_moodle("Quiz", plan))[0].find("questiontext/text").text
    assert "Grey boxes" not in text and "SHORTANSWER" not in text


# Moodle: one question per form ------------------------------------------------------------------

def test_forms_give_one_question_per_form_and_preset_whoever_sits_them():
    students = tuple(Student(i + 1, f"Student {i + 1}") for i in range(7))
    plan = plan_exam([preset("token-choice-5x6"), preset("switch-8x4")], 5, students, forms=3)
    found = questions(render_moodle("Midterm", plan))
    names = [q.find("name/text").text for q in found]
    assert len(found) == 6 and not any("Student" in n for n in names)
    assert [n.split(" · ")[1:3] for n in names] == [[f"form {f}", p] for f in "ABC"
                                                  for p in ("token-choice-5x6", "switch-8x4")]
    ids = [q.find("idnumber").text for q in found]
    assert len(set(ids)) == 6 and all(i.endswith(("-A", "-B", "-C")) for i in ids)
    alone = plan_exam([preset("token-choice-5x6")], 5, forms=3)  # --forms 3 without a roster
    assert len(questions(render_moodle("Midterm", alone))) == 3


def test_variants_still_give_a_question_per_sheet():
    plan = plan_exam([preset("token-choice-5x6")], 2, variants=4)
    assert [q.find("idnumber").text.rsplit("-", 1)[1] for q in questions(render_moodle("M", plan))] == list("1234")


# Moodle: the category is one level ---------------------------------------------------------------

def moodle_split(path: str) -> list[str]:
    """How Moodle's importer reads a category path: split at a '/' with no '/' beside it, each
    name trimmed and its '//' read as '/' (question/format.php, split_category_path)."""
    return [part.strip().replace("//", "/") for part in re.split(r"(?<!/)/(?!/)", path)]


@pytest.mark.parametrize("name", ["Midterm", "Mid/term", "/Midterm", "Midterm/", "a///b", "/", "//x//",
                                  "Midterm & <friends>", "2025/26 MoE / week 3"])
def test_a_slash_in_the_exam_name_stays_inside_one_category(name):
    assert moodle_split(category(name)) == ["$course$", "top", name.strip()]


def test_the_category_reaches_the_file_escaped_for_xml():
    plan = plan_exam([preset("token-choice-5x6")], 2, variants=1)
    root = ET.fromstring(render_moodle("a/b & <c>", plan))
    assert root.find("question/category/text").text == "$course$/top/a//b & <c>"


# Moodle: names fit -------------------------------------------------------------------------------

def test_a_short_name_is_left_whole():
    assert question_name("Midterm", "Ada", "token-choice-5x6", "10JP-83J") == \
        "Midterm · Ada · token-choice-5x6 · 10JP-83J"


@pytest.mark.parametrize("exam, who, preset_name", [
    ("E" * 100, "N" * 200, "token-choice-5x6"),
    ("Midterm", "李" * 200, "token-choice-5x6"),
    ("E" * 100, "Ada", "p" * 300),
    ("E" * 100, "N" * 200, "p" * 300),
])
def test_a_long_name_is_cut_to_moodle_s_limit_and_keeps_its_code(exam, who, preset_name):
    name = question_name(exam, who, preset_name, "10JP-83J")
    assert len(name) <= MAX_NAME and name.endswith(" · 10JP-83J")
    parts = name.split(" · ")
    assert len(parts) == 4
    for part, whole in zip(parts, (exam, who, preset_name)):
        assert part == whole or (part.endswith("…") and whole.startswith(part[:-1]) and len(part) >= 20)


def test_a_long_student_name_and_exam_name_fit_in_the_file():
    plan = plan_exam([preset("token-choice-5x6")], 2, (Student(1, "Ζωή " + "Ü" * 196),))
    found = questions(render_moodle("Final exam " * 9, plan))
    text = found[0].find("name/text").text
    assert len(text) <= MAX_NAME and text.endswith(plan[0].solutions[0][1].code)


# manifest.csv ------------------------------------------------------------------------------------

def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def test_empty_cells_stay_empty_and_formulas_stay_text():
    rows = [{"name": "", "id": None, "a": "=1+2", "b": "+1", "c": "-1", "d": "@SUM(A1)", "e": "\tx",
             "g": "Ada", "h": 3, "i": "1-4", "j": " =x"}]
    assert read_csv(_csv(rows))[1] == ["", "", "'=1+2", "'+1", "'-1", "'@SUM(A1)", "'\tx", "Ada", "3", "1-4", " =x"]
    assert _csv([{"a": "", "b": "\rx"}]) == b"a,b\n,'\rx\n"  # no lone ' for an empty cell; CR guarded


def test_a_byte_order_mark_only_when_asked():
    plan = plan_exam([preset("token-choice-5x6")], 1, (Student(1, "Zoë"), Student(2, "李雷")))
    plain = dict(build_exam(plan, pdf=False))["manifest.csv"]
    marked = dict(build_exam(plan, pdf=False, options={"csv_bom": True}))["manifest.csv"]
    assert not plain.startswith(b"\xef\xbb\xbf") and marked == b"\xef\xbb\xbf" + plain
    rows = list(csv.DictReader(io.StringIO(plain.decode("utf-8"))))
    assert [r["name"] for r in rows] == ["Zoë", "李雷"] and all(r["id"] == "" == r["form"] for r in rows)


# Students' file names ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, slug", [
    ("Zoë Rüsk-Bing", "zoe-rusk-bing"),
    ("Zoe\u0308 Ru\u0308sk", "zoe-rusk"),  # decomposed accents
    ("Łukasz Ørsted", "lukasz-orsted"),
    ("Straße", "strasse"),
    ("Nguyễn Văn An", "nguyen-van-an"),
    ("Þórunn", "thorunn"),
    ("李雷", "li-lei"),
    ("王小明", "wang-xiao-ming"),
    ("김민준", "gim-min-jun"),
    ("Ψυχή", "psychi"),
    ("ΨΥΧΗ", "psychi"),
    ("Дмитрий Иванов", "dmitriy-ivanov"),
    ("محمد", "mhmd"),
    ("سعيد", "syd"),
    ("דוד", "dvd"),
    ("देवनागरी", "devnagri"),
    ("Zoë O'Brien <b>", "zoe-o-brien-b"),
    ("McDonald", "mcdonald"),
])
def test_names_in_every_script_give_readable_ascii(name, slug):
    assert _slug(name) == slug


def test_no_letter_is_dropped_and_the_slug_keeps_its_limits():
    assert _slug("\U0002a700") == "u2a700"  # a letter anyascii cannot spell: its code point
    assert _slug("!!!") == _slug("") == _slug("\ue000") == "student"
    long = _slug("Александра " * 10)
    assert len(long) <= 40 and not long.endswith("-") and long.startswith("aleksandra-aleksandra")
    assert _slug("Mary-Jane " + "a" * 31) == "mary-jane-" + "a" * 30
