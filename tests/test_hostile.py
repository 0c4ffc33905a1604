"""Hostile input at the command line: nothing of the user's lost, nothing run, valid files, one line.

Each test is one case a careful tester tried (issue 11), driven through the command line in-process.
"""

import csv
import io
import json
import os
import re
import stat
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from workbook.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="moe-workbook")


def one_line_error(result, status):
    assert result.exit_code == status, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "internal error" not in lines[0], result.stderr
    return lines[0]


def moodle_exam(out, *more):
    return run("exam", "token-choice-5x6", "--variants", "2", "--format", "moodle", "--out", out, *more)


# --- --force removes only what we wrote ---------------------------------------------------------

def test_force_keeps_the_users_own_files_and_says_what_it_replaced(tmp_path):
    out = tmp_path / "exam"
    assert run("exam", "token-choice-5x6", "--variants", "2", "--format", "moodle", "--per-student",
               "--out", out).exit_code == 0
    (out / "students").mkdir(exist_ok=True)
    (out / "students" / "notes.pdf").write_bytes(b"my notes")
    (out / "my-marks.txt").write_text("Ada 9/10")
    again = moodle_exam(out, "--force", "--seed", "2")
    assert again.exit_code == 0, again.output
    assert "replaced in" in again.stderr and "moodle.xml" in again.stderr
    assert (out / "students" / "notes.pdf").read_bytes() == b"my notes"
    assert (out / "my-marks.txt").read_text() == "Ada 9/10"


def test_force_refuses_a_file_left_by_hand_where_the_exam_writes(tmp_path):
    out = tmp_path / "exam"
    out.mkdir()
    (out / "moodle.xml").write_text("a teacher's own export")
    line = one_line_error(moodle_exam(out, "--force"), 1)
    assert "not written by moe-workbook" in line
    assert (out / "moodle.xml").read_text() == "a teacher's own export"


def test_a_linked_students_folder_is_never_written_through(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "thesis.pdf").write_bytes(b"years of work")
    out = tmp_path / "exam"
    assert moodle_exam(out).exit_code == 0
    (out / "students").symlink_to(outside)
    result = run("exam", "token-choice-5x6", "--variants", "2", "--per-student", "--out", out, "--force", "--jobs", "1")
    assert "link" in one_line_error(result, 1)
    assert [p.name for p in outside.iterdir()] == ["thesis.pdf"]
    assert (outside / "thesis.pdf").read_bytes() == b"years of work"


def test_answers_to_a_device_writes_through_and_never_replaces_it(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    line = one_line_error(run("answers", "10JP-82M", "--out", "/dev/full", "--force"), 1)
    assert "No space left" in line
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert run("answers", "10JP-82M", "--out", "/dev/null").exit_code == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# --- nothing runs that the user did not write ----------------------------------------------------

@pytest.mark.parametrize("template, words", [
    ('{{ lipsum.__globals__["os"].popen("id").read() }}', "undefined"),
    ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "unsafe"),
    ("{{ sheet.__class__.__mro__ }}", "unsafe"),
    ("{{ draw.__globals__ }}", "unsafe"),
    ("{{ embed.__globals__['os'] }}", "unsafe"),
    ("{{ range.__self__ }}", "no attribute"),
    ("{% set x = sheet.sections.append(1) %}", "no attribute"),
    ("{{ 1/0 }}", "division by zero"),
    ('{% include "worksheet.html" %}', "includes or extends itself"),
    ("{% if %}", "line 1"),
])
def test_school_templates_render_sandboxed_and_fail_in_one_line(tmp_path, template, words):
    folder = tmp_path / "school"
    folder.mkdir()
    (folder / "worksheet.html").write_text(template)
    line = one_line_error(run("exam", "token-choice-5x6", "--variants", "1", "--template-dir", folder,
                              "--out", tmp_path / "exam", "--jobs", "1"), 2)
    assert "template problem in worksheet.html" in line and words in line
    assert "uid=" not in line


def test_a_template_that_is_not_utf8_or_has_no_title_is_handled(tmp_path):
    folder = tmp_path / "school"
    folder.mkdir()
    (folder / "worksheet.html").write_bytes(b"\xff\xfe{{ sheet.code }}")
    assert "not UTF-8" in one_line_error(run("exam", "token-choice-5x6", "--variants", "1", "--template-dir",
                                             folder, "--out", tmp_path / "a", "--jobs", "1"), 2)
    (folder / "worksheet.html").write_text("<html><body>{{ sheet.code }}</body></html>")
    result = run("exam", "token-choice-5x6", "--variants", "1", "--template-dir", folder,
                 "--out", tmp_path / "b", "--jobs", "1")
    assert result.exit_code == 0, result.output


def test_a_title_never_becomes_a_live_cloze_field(tmp_path):
    out = tmp_path / "exam"
    assert moodle_exam(out, "--title", "{1:SHORTANSWER:=a} Midterm }{").exit_code == 0
    quiz = ET.parse(out / "moodle.xml").getroot()
    for question in quiz.iter("question"):
        if question.get("type") != "cloze":
            continue
        text = question.find("questiontext/text").text
        assert not re.search(r"\{\d*:SHORTANSWER:=a", text)  # Moodle's cloze syntax, never the title's
        assert "&#123;1:SHORTANSWER:=a&#125; Midterm &#125;&#123;" in text


def test_a_slash_in_the_exam_name_makes_no_nested_category(tmp_path):
    out = tmp_path / "exam"
    assert moodle_exam(out, "--name", "Mid/term").exit_code == 0
    category = ET.parse(out / "moodle.xml").getroot().find("question/category/text").text
    assert category == "$course$/top/Mid//term"


# --- valid files, always ---------------------------------------------------------------------------

@pytest.mark.parametrize("option", ["--name", "--title"])
def test_control_characters_are_refused_at_the_door(tmp_path, option):
    line = one_line_error(moodle_exam(tmp_path / "exam", option, "Midterm\x0bA"), 2)
    assert "control character" in line and "U+000B" in line
    assert not (tmp_path / "exam" / "moodle.xml").exists()


def test_a_roster_name_with_a_control_character_is_refused_naming_the_row(tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text("name\nAda\nAl\x1ban\n")
    line = one_line_error(run("exam", "token-choice-5x6", "--roster", roster, "--format", "moodle",
                              "--out", tmp_path / "exam"), 2)
    assert "student 2" in line and "U+001B" in line


def test_a_utf16_roster_reads_its_header_as_the_header(tmp_path):
    roster = tmp_path / "class.txt"
    roster.write_bytes("name\tid\nZoë\t1\n李雷\t2\n".encode("utf-16"))  # Excel's "Unicode Text"
    out = tmp_path / "exam"
    assert run("exam", "token-choice-5x6", "--roster", roster, "--format", "moodle", "--out", out).exit_code == 0
    rows = list(csv.DictReader(io.StringIO((out / "manifest.csv").read_text(encoding="utf-8-sig"))))
    assert [r["name"] for r in rows] == ["Zoë", "李雷"] and [r["id"] for r in rows] == ["1", "2"]
    ET.parse(out / "moodle.xml")


def test_manifest_cells_stay_empty_when_empty_and_formulas_stay_text(tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text("name\n=HYPERLINK(\"x\")\nAda\n")
    out = tmp_path / "exam"
    assert run("exam", "token-choice-5x6", "--roster", roster, "--format", "moodle", "--out", out).exit_code == 0
    rows = list(csv.DictReader(io.StringIO((out / "manifest.csv").read_text(encoding="utf-8-sig"))))
    assert rows[0]["name"] == "'=HYPERLINK(\"x\")" and rows[1]["name"] == "Ada"
    assert all(r["id"] == "" and r["form"] == "" for r in rows)


def test_a_preset_with_few_problems_says_so_and_the_manifest_shows_who_shares(tmp_path):
    out = tmp_path / "exam"
    result = run("exam", "sizing-mixtral-8x7b", "token-choice-5x6", "--variants", "12", "--format", "moodle",
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert "sizing-mixtral-8x7b has only 4 distinct problems for 12 sheets" in result.stderr
    assert "token-choice-5x6" not in result.stderr
    rows = json.loads((out / "manifest.json").read_text())
    mixtral = [r["problems"].split()[0] for r in rows]
    routing = [r["problems"].split()[1] for r in rows]
    assert len(set(mixtral)) == 4 and len(set(routing)) == 12
    for r in rows:
        assert int(r["shared_by"].split()[0]) == mixtral.count(r["problems"].split()[0])
        assert r["shared_by"].split()[1] == "1"


# --- bad input is bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["exam", "token-choice-5x6", "--variants", "1", "--font-size", "nan"], "not a number"),
    (["check", "10JP-82M", "/dev/null", "--abs-tol", "nan"], "not a number"),
    (["exam", "sizing-mixtral-8x7b", "--variants", "1", "--template-dir", "/nonexistent-x" + "y" * 200], "y" * 40),
    (["exam", "token-choice-5x6", "--variants", "1", "--name", "x" * 300], "at most 100"),
    (["generate", "expert-choice-5e-top3", "--experts", "8", "--capacity", "6"], "hand-friendly"),
    (["solve", "x" * 5000], "unknown preset"),
    (["key", "Q" * 500], ""),
])
def test_bad_input_exits_2_in_one_short_line(tmp_path, args, words):
    line = one_line_error(run(*args, *(["--out", tmp_path / "o"] if args[0] in ("exam", "generate") else [])), 2)
    assert words in line and len(line) < 400
    assert "x" * 81 not in line and "Q" * 81 not in line


def test_standard_output_on_a_full_device_is_one_line(tmp_path):
    import subprocess
    import sys
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "workbook", "solve", "token-choice-5x6"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["Error: cannot write the output: No space left on device"]


def test_our_own_messages_keep_their_apostrophes(tmp_path):
    """Only click's quotes of a refused value are cut; a message of ours with an apostrophe is whole."""
    out = tmp_path / "exam"
    out.mkdir()
    (out / "moodle.xml").write_text("by hand")
    line = one_line_error(moodle_exam(out, "--force"), 1)
    assert line.endswith("(--force replaces only an earlier run's own files)")


@pytest.mark.parametrize("template, words", [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "longer than"),
    ("{{ 'x' * 10**10 }}", "repeating"),
    ("{{ sheet.code|center(3000000000) }}", "width"),
    ("{{ sheet.sections[0].title.ljust(10**10) }}", "unsafe"),
    ("{% set ns = namespace(v=none) %}{% for s in sheet.sections %}{% for b in s.boards %}{% for r in b.panels %}"
     "{% for p in r %}{% if p and p.cells is defined %}{% for l in p.cells %}{% for c in l %}"
     "{% if c.value is not none and ns.v is none %}{% set ns.v = c.value %}{% endif %}{% endfor %}{% endfor %}"
     "{% endif %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{{ ns.v.subs('z', '__import__(\"os\")') }}",
     "unsafe"),
])
def test_a_template_can_neither_hang_nor_reach_python_through_the_values(tmp_path, monkeypatch, template, words):
    import workbook.render_html as render_html

    monkeypatch.setattr(render_html, "RENDER_SECONDS", 2)
    folder = tmp_path / "school"
    folder.mkdir()
    (folder / "worksheet.html").write_text(template)
    line = one_line_error(run("exam", "token-choice-5x6", "--variants", "1", "--template-dir", folder,
                              "--out", tmp_path / "exam", "--jobs", "1"), 2)
    assert words in line


def test_a_failed_exam_takes_away_the_empty_folders_it_made(tmp_path):
    folder = tmp_path / "school"
    folder.mkdir()
    (folder / "worksheet.html").write_text("{{ 1/0 }}")
    out = tmp_path / "new" / "exam"
    one_line_error(run("exam", "token-choice-5x6", "--variants", "1", "--template-dir", folder,
                       "--out", out, "--jobs", "1"), 2)
    assert not (tmp_path / "new").exists()


def test_the_sandbox_decides_an_attribute_the_same_every_time(monkeypatch):
    """Decisions are remembered by (type, name, callable value): a safe field of a type never makes
    its callable namesake, a dunder or another type's method safe, in any order."""
    from workbook.render_html import _Sandbox
    from workbook.sheet import build_sheet
    from workbook.solve import solve
    from workbook.spec import make_spec

    monkeypatch.setattr(_Sandbox, "_decided", {})
    sheet = build_sheet(solve(make_spec("token-choice", {}, 1)))
    env = _Sandbox()
    for _ in range(2):
        assert env.is_safe_attribute(sheet, "code", sheet.code)
        assert not env.is_safe_attribute(sheet, "code", len)  # a callable where a field was
        assert not env.is_safe_attribute(sheet, "__class__", type(sheet))
        assert env.is_safe_attribute("text", "upper", "text".upper)
        assert not env.is_safe_attribute("text", "format", "text".format)
        assert not env.is_safe_attribute(list(sheet.sections), "append", [].append)
    assert len(_Sandbox._decided) == 6
