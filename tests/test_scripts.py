"""Every script a class has: names in Latin, Greek, Cyrillic, Arabic, Hebrew, CJK and Devanagari
print with a real font, and a name or title holding a character no installed font draws is
refused in one line before anything is laid out (it would print as an empty box).

Needs the Noto fonts the README installs (fonts-noto-core, fonts-noto-cjk) besides DejaVu. A
printed page is read back twice: poppler's pdftotext gives its text (right-to-left names in
their logical order), and pypdf its fonts: WeasyPrint gives a font a custom encoding exactly when
some of its glyphs are missing (drawn as .notdef boxes), and maps every glyph it draws back to
its characters (ToUnicode).
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from workbook.cli import cli
from workbook.fonts import named, remedy, undrawable

NAMES = {"latin": "Zoë Ångström-Núñez", "greek": "Σωκράτης Παπαδόπουλος", "cyrillic": "Лев Толстой",
         "arabic": "فاطمة الزهراء", "hebrew": "דוד לוי", "chinese": "李雷", "korean": "김민준",
         "devanagari": "अनन्या शर्मा"}
TITLE = "测验 · Quiz"
PRESET = "sizing-eight-experts"  # one page a sheet
BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # pdftotext marks right-to-left runs


def exam(*args: str):
    return CliRunner().invoke(cli, ["exam", PRESET, *args], prog_name="moe-workbook")


def _fonts(reader: PdfReader) -> dict[str, tuple[set[str], set[str]]]:
    """{font name: (its encodings, the characters its glyphs stand for)} over every page."""
    found = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            data = font["/ToUnicode"].get_object().get_data().decode("latin-1")
            chars = set()
            for block in re.findall(r"beginbfchar(.*?)endbfchar", data, re.S):
                for _, text in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                    chars.update(bytes.fromhex(text).decode("utf-16-be"))
            name = str(font["/BaseFont"]).split("+", 1)[-1]
            encodings, known = found.get(name, (set(), set()))
            found[name] = (encodings | {str(font["/Encoding"])}, known | chars)
    return found


@pytest.fixture(scope="module")
def class_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scripts")
    (folder / "class.csv").write_text("name\n" + "\n".join(NAMES.values()) + "\n", encoding="utf-8")
    result = exam("--roster", str(folder / "class.csv"), "--title", TITLE, "--jobs", "1", "--out", str(folder / "exam"))
    assert result.exit_code == 0, result.output
    return folder / "exam"


def test_every_name_is_printed_on_its_own_pages_in_its_script(class_set):
    rows = json.loads((class_set / "manifest.json").read_text(encoding="utf-8"))
    assert [row["name"] for row in rows] == list(NAMES.values())
    for row in rows:
        first = row["worksheet_pages"].split("-")[0]
        text = BIDI.sub("", subprocess.run(["pdftotext", "-f", first, "-l", first, "-enc", "UTF-8",
                                            str(class_set / "worksheets.pdf"), "-"],
                                           capture_output=True, text=True, check=True).stdout)
        assert TITLE in text
        if row["name"] == NAMES["devanagari"]:  # a reph is drawn after the letter it comes before
            assert set(row["name"]) <= set(text), (row["name"], text[:300])
        else:  # right-to-left names too: in their logical order
            assert f"Name {row['name']}" in text, (row["name"], text[:300])


@pytest.mark.parametrize("side", ["worksheets.pdf", "keys.pdf"])
def test_every_character_is_drawn_with_a_real_glyph_and_latin_stays_in_dejavu(class_set, side):
    fonts = _fonts(PdfReader(class_set / side))
    boxes = sorted(name for name, (encodings, _) in fonts.items() if encodings != {"/Identity-H"})
    assert not boxes, f"glyphs missing (.notdef boxes) in {boxes}"
    for script, name in NAMES.items():
        for ch in set(name + TITLE) - {" "}:
            drawn_by = sorted(font for font, (_, chars) in fonts.items() if ch in chars)
            assert drawn_by, f"{script}: {ch!r} drawn by no font"
            if ch in NAMES["latin"] + NAMES["greek"] + NAMES["cyrillic"]:
                assert "DejaVu-Sans" in drawn_by, (ch, drawn_by)  # the sheets' first choice, as before
            if script in ("chinese", "korean", "devanagari") and ch not in TITLE:
                assert all(font.startswith("Noto-") for font in drawn_by), (ch, drawn_by)


def test_a_name_no_font_draws_is_refused_in_one_line_and_nothing_is_written(tmp_path, monkeypatch):
    assert undrawable("\ue000") == "\ue000"  # a private-use character: no font here has it
    monkeypatch.chdir(tmp_path)
    Path("class.csv").write_text("name\nAda Lovelace\n李雷\nLi \ue000Lei\n", encoding="utf-8")
    result = exam("--roster", "class.csv", "--out", "exam")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "Error: roster 'class.csv', student 3: no installed font draws '\\ue000' (U+E000) in the name "
        "'Li \\ue000Lei'; no standard font has a private-use or unassigned character: remove it"]
    assert not Path("exam").exists()


def test_a_title_no_font_draws_is_refused_too(tmp_path):
    result = exam("--variants", "1", "--title", "Quiz \ue000", "--out", str(tmp_path / "exam"))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and "--title" in result.stderr and "U+E000" in result.stderr
    assert not (tmp_path / "exam").exists()


def test_moodle_alone_prints_nothing_so_it_refuses_no_name(tmp_path):
    (tmp_path / "class.csv").write_text("name\nLi \ue000Lei\n", encoding="utf-8")
    result = exam("--roster", str(tmp_path / "class.csv"), "--format", "moodle", "--out", str(tmp_path / "exam"))
    assert result.exit_code == 0, result.output
    assert "Li \ue000Lei" in (tmp_path / "exam" / "moodle.xml").read_text(encoding="utf-8")


def test_with_dejavu_alone_a_chinese_name_is_refused_naming_the_package(tmp_path):
    """The issue's machine: only fonts-dejavu-core. 李雷 would print as two empty boxes."""
    dejavu = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans"], capture_output=True, text=True).stdout
    if "DejaVu" not in dejavu:
        pytest.skip("DejaVu Sans is not installed")
    (tmp_path / "fonts.conf").write_text(
        f'<?xml version="1.0"?>\n<fontconfig><dir>{Path(dejavu).parent}</dir>'
        f'<cachedir>{tmp_path / "cache"}</cachedir></fontconfig>\n')
    (tmp_path / "class.csv").write_text("name\nAda Lovelace\nΣωκράτης\n李雷\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "workbook", "exam", PRESET, "--roster", "class.csv", "--out", "exam"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "FONTCONFIG_FILE": str(tmp_path / "fonts.conf"),
                               "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        "Error: roster 'class.csv', student 3: no installed font draws '李' (U+674E), '雷' (U+96F7) in the name "
        "'李雷'; install a font that has them (on Debian: fonts-noto-cjk)"]
    assert not (tmp_path / "exam").exists() and not proc.stdout


def test_undrawable_keeps_each_character_once_in_order_and_skips_what_draws_as_nothing():
    assert undrawable("Ada Lovelace, 李雷, فاطمة, अनन्या") == ""
    assert undrawable("\ue001a\ue000b\ue001") == "\ue001\ue000"
    assert undrawable("\u200fדוד\u200e \u200d\u2060\ufe0f\u00a0\u3000\t") == ""  # marks, joiners, spaces
    assert named("\ue000李") == "'\\ue000' (U+E000), '李' (U+674E)"
    assert named("".join(chr(0xE000 + i) for i in range(7))).endswith("and 2 more")
    assert remedy("\u0378\ue000").startswith("no standard font")  # unassigned, private use


def test_a_large_roster_is_checked_at_once():
    names = ["".join(chr(0x4E00 + (i * 7 + k * 131) % 20000) for k in range(3)) + f" Student {i}"
             for i in range(10_000)]
    start = time.process_time()
    assert not any(undrawable(name) for name in names)
    assert time.process_time() - start < 1.0
