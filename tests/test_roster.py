"""Hostile rosters: each is read right or refused by a one-line RosterError naming the file."""

import codecs
import os
import sys
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import workbook.roster as roster_module
from workbook.errors import SpecError
from workbook.roster import MAX_BYTES, MAX_NAME, MAX_STUDENTS, RosterError, Student, bad_character, read_roster


def write(tmp_path, data, name="class.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def refused(path, *words, id_column=None) -> str:
    """The message of the RosterError reading `path`, after checking it is one line with `words`."""
    with pytest.raises(RosterError) as err:
        read_roster(path, id_column)
    message = str(err.value)
    assert isinstance(err.value, SpecError)
    assert "\n" not in message and "\r" not in message and len(message.splitlines()) == 1
    assert path.name in message
    for word in words:
        assert word in message, (word, message)
    return message


def names(path, id_column=None):
    return [s.name for s in read_roster(path, id_column)]


# 1. Size --------------------------------------------------------------------------------------------

class SpyOpen:
    """Path.open that records every read's size."""

    def __init__(self):
        self.reads = []
        self.real = Path.open

    def __call__(spy, path, *args, **kwargs):
        real = spy.real(path, *args, **kwargs)

        class File:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                real.close()

            def fileno(self):
                return real.fileno()

            def read(self, size=-1):
                spy.reads.append(size)
                return real.read(size)
        return File()


def test_an_oversized_roster_is_refused_by_its_size_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "class.csv"
    with open(path, "wb") as file:
        file.truncate(MAX_BYTES + 1)  # sparse: no 32 MiB written
    spy = SpyOpen()
    monkeypatch.setattr(Path, "open", lambda path, *args, **kwargs: spy(path, *args, **kwargs))
    refused(path, "larger than 32 MiB")
    assert spy.reads == []


def test_a_roster_is_read_at_most_to_one_byte_over_the_limit(tmp_path, monkeypatch):
    path = write(tmp_path, "name\nAda\n")
    spy = SpyOpen()
    monkeypatch.setattr(Path, "open", lambda path, *args, **kwargs: spy(path, *args, **kwargs))
    assert names(path) == ["Ada"]
    assert spy.reads == [MAX_BYTES + 1]


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs a file whose stat size is 0")
def test_a_file_larger_than_its_stat_size_is_still_cut_at_the_limit(monkeypatch):
    monkeypatch.setattr(roster_module, "MAX_BYTES", 100)
    refused(Path("/proc/self/maps"), "larger than 0 MiB")


def test_a_missing_file_or_a_directory_is_one_line(tmp_path):
    refused(tmp_path / "nope.csv", "cannot read roster")
    (tmp_path / "dir.csv").mkdir()
    refused(tmp_path / "dir.csv", "cannot read roster")


# 2. Encodings ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, bom", [
    ("utf-32-le", codecs.BOM_UTF32_LE), ("utf-32-be", codecs.BOM_UTF32_BE),
    ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-8", codecs.BOM_UTF8), ("utf-8", b""), ("cp1252", b""),
])
def test_byte_order_marks_choose_the_encoding(tmp_path, encoding, bom):
    path = write(tmp_path, bom + "name,id\nZoë Ñúñez,1\nJosé,2\n".encode(encoding))
    assert read_roster(path) == (Student(1, "Zoë Ñúñez", "1"), Student(2, "José", "2"))


def test_excel_unicode_text_is_read_with_its_header(tmp_path):
    text = "Name\tID\r\nZoë Ñúñez\t17\r\nИван Петров\t18\r\n"
    path = write(tmp_path, codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "class.txt")
    assert read_roster(path) == (Student(1, "Zoë Ñúñez", "17"), Student(2, "Иван Петров", "18"))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", ["name\nAda\nAlan\n", "name\nИван\nПётр\n"])
def test_utf16_without_a_bom_is_refused_with_advice(tmp_path, encoding, text):
    refused(write(tmp_path, text.encode(encoding)), "UTF-16 without a byte-order mark", '"CSV UTF-8"')


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91h6",
    b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml",  # an .xlsx is a zip
    b"name\nAda\x00Lovelace\n",
    bytes(range(1, 32)) * 20,  # no NUL, but no text either
])
def test_binary_files_are_not_text(tmp_path, data):
    refused(write(tmp_path, data, "class.xlsx"), "not a text file", '"CSV UTF-8"', ".xlsx")


def test_a_truncated_utf16_file_is_refused(tmp_path):
    data = codecs.BOM_UTF16_LE + "name\nAda\n".encode("utf-16-le")[:-1]
    refused(write(tmp_path, data), "UTF-16-LE byte-order mark", '"CSV UTF-8"')


def test_invalid_utf8_falls_back_to_windows_1252(tmp_path):
    assert names(write(tmp_path, "name\nJosé\nFrançois …\n".encode("cp1252"))) == ["José", "François …"]
    assert names(write(tmp_path, codecs.BOM_UTF8 + "name\nJosé\n".encode("cp1252"))) == ["José"]


# 3. Line endings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_lf_crlf_and_cr_rosters_read_the_same(tmp_path, end):
    text = end.join(["name;id", "Ada Lovelace;17", '"Turing, Alan";18', ""])
    assert read_roster(write(tmp_path, text)) == (Student(1, "Ada Lovelace", "17"), Student(2, "Turing, Alan", "18"))


# 4. CSV errors and long names -----------------------------------------------------------------------

def test_a_cell_over_the_csv_field_limit_is_one_line(tmp_path):
    message = refused(write(tmp_path, 'name\nAda\n"' + "x" * 140_000 + "\n"), "line ", "131072 characters")
    assert len(message) < 400


def test_other_csv_errors_are_one_line(tmp_path, monkeypatch):
    class Broken:
        line_num = 2

        def __iter__(self):
            return self

        def __next__(self):
            raise roster_module.csv.Error("something odd")
    monkeypatch.setattr(roster_module.csv, "reader", lambda *args, **kwargs: Broken())
    refused(write(tmp_path, "name\nAda\n"), "line 2: cannot read it as CSV", "something odd")


def test_a_long_name_is_refused_naming_its_row(tmp_path):
    refused(write(tmp_path, "name\nAda\n" + "x" * (MAX_NAME + 1) + "\n"), "student 2", f"longer than {MAX_NAME}")
    assert names(write(tmp_path, "name\n" + "x" * MAX_NAME + "\n")) == ["x" * MAX_NAME]


def test_too_many_students_are_refused(tmp_path):
    rows = "\n".join(f"S{i}" for i in range(MAX_STUDENTS + 1))
    refused(write(tmp_path, rows), f"more than {MAX_STUDENTS} students")
    assert len(read_roster(write(tmp_path, "name\n" + "\n".join(f"S{i}" for i in range(MAX_STUDENTS))))) == MAX_STUDENTS


# 5. Control characters ------------------------------------------------------------------------------

@pytest.mark.parametrize("cell, what, code", [
    ("Ada\x07", "name", "U+0007"), ("Ad\x7fa", "name", "U+007F"), ("Ada\x9b", "name", "U+009B"),
    ("Ada\x00", "name", "U+0000"), ("Ada\ufffe", "name", "U+FFFE"), ("Ada\uffff", "name", "U+FFFF"),
])
def test_a_name_with_a_control_character_is_refused(tmp_path, cell, what, code):
    data = codecs.BOM_UTF16_LE + f"name\nGrace\nAlan\n{cell}\n".encode("utf-16-le")  # U+0000 needs a BOM
    message = refused(write(tmp_path, data), "student 3", f"the {what} {cell!r}", f"({code})", "remove it")
    kind = "a noncharacter" if code in ("U+FFFE", "U+FFFF") else "a control character"
    assert kind in message


def test_an_id_with_a_control_character_is_refused(tmp_path):
    refused(write(tmp_path, 'name,id\nAda,1\nAlan,1\x078\n'), "student 2", "the id '1\\x078'", "(U+0007)")


def test_a_cell_running_over_lines_is_refused_naming_where_its_quote_opens(tmp_path):
    """A stray quote would fold the rest of the class into one student."""
    refused(write(tmp_path, 'name,id\n"Ann,1\nBob,2\nCarl,3\nDee,4\n'), "line 2", "runs on to line 5")
    refused(write(tmp_path, 'name,id\nAda,1\nAlan,"1\n8"\n'), "line 3", "runs on to line 4")


def test_the_example_message(tmp_path):
    path = write(tmp_path, "name\nGrace\nAlan\nAda\x07\n")
    with pytest.raises(RosterError) as err:
        read_roster(path)
    assert str(err.value) == (f"roster {str(path)!r}, student 3: the name 'Ada\\x07' holds a control character "
                              "(U+0007): remove it")


def test_format_characters_and_whitespace_controls_are_kept_or_folded(tmp_path):
    text = "name\n\u200fمحمد علي\u200f\nשרה\u200e כהן\n\"Ada\tLovelace\"\n"
    assert names(write(tmp_path, text)) == ["\u200fمحمد علي\u200f", "שרה\u200e כהן", "Ada Lovelace"]


def test_bad_character_follows_the_unicode_categories():
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        forbidden = unicodedata.category(ch) in ("Cc", "Cs") or ch in "\ufffe\uffff"
        assert bad_character(ch) == (f"U+{code:04X}" if forbidden else None), hex(code)
    assert bad_character("Ada \ud800 \x07") == "U+D800"
    assert bad_character("Ada\u200f Lovelace") is None


# 6. Quotes are cut ----------------------------------------------------------------------------------

def test_quotes_from_the_file_are_cut(tmp_path):
    long = "y" * 150
    for text, id_column in [(f"{long},email\n1,a@b.c\n", "email"), (f"name,{long}\nAda,1\n", "matrikel"),
                            (f"name\n{long}\n{long}\n", None), (f"name,id\n{long},1\n{long}\u2028,1\n", None),
                            (f"name\n{long}\x07\n", None)]:
        path = write(tmp_path, text)
        message = refused(path, id_column=id_column)
        assert "y" * 81 not in message and "…" in message and len(message) < 400, message
    refused(write(tmp_path, "name\nAda\n"), "no column '" + "z" * 80 + "…'", id_column="z" * 100)


def test_heavily_escaped_quotes_are_cut_shorter(tmp_path):
    name = "\U000e0001" * 100  # format characters: allowed, but repr shows each in 10 characters
    message = refused(write(tmp_path, f"name\n{name}\n{name}\n"), "same name")
    assert len(message) < 250


# 7. What already worked -----------------------------------------------------------------------------

def test_current_behaviour_is_kept(tmp_path):
    assert read_roster(write(tmp_path, "ID,First name,Surname\n17,Ada,Lovelace\n")) == (Student(1, "Ada Lovelace", "17"),)
    assert names(write(tmp_path, "Ada\nAlan\n")) == ["Ada", "Alan"]
    assert names(write(tmp_path, "name\n<b>Bold</b> & Co\n")) == ["<b>Bold</b> & Co"]
    assert read_roster(write(tmp_path, "name;matrikel\nAda;17\n"), "Matrikel") == (Student(1, "Ada", "17"),)
    refused(write(tmp_path, ""), "empty")
    refused(write(tmp_path, "\r\n \r\n"), "empty")
    refused(write(tmp_path, "name\n"), "no students")
    refused(write(tmp_path, "name\nAda\nada\n"), "same name")
    refused(write(tmp_path, "name,id\nAda,1\nAlan,1\n"), "same id")
    refused(write(tmp_path, "id,email\n17,a@b.c\n"), "no column of names")


# Anything at all ------------------------------------------------------------------------------------

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252"]
cells = st.text(st.sampled_from('Ada Zoë"\'\t\x07\x00\r\n,;') | st.characters(), max_size=12)
rosters = st.builds(lambda rows, sep, end: end.join(sep.join(row) for row in rows),
                    st.lists(st.lists(cells, max_size=4), max_size=8), st.sampled_from([",", ";", "\t"]),
                    st.sampled_from(["\n", "\r\n", "\r"]))
texts = st.builds(lambda text, encoding: text.encode(encoding, errors="replace"),
                  rosters | st.text(), st.sampled_from(ENCODINGS))
headers = st.sampled_from([b"", b"name\n", b"name,id\n", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE])
data = texts | st.binary(max_size=300) | st.builds(bytes.__add__, headers, st.binary(max_size=100))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=data, id_column=st.none() | st.just("id") | st.text(max_size=5))
def test_any_bytes_are_read_or_refused_in_one_line(data, id_column):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "class.csv"
        path.write_bytes(data)
        try:
            students = read_roster(path, id_column)
        except RosterError as err:
            message = str(err)
            assert len(message.splitlines()) == 1 and "\n" not in message and len(message) <= 400, message
            assert "class.csv" in message
            return
    assert isinstance(students, tuple) and students
    for i, student in enumerate(students, 1):
        assert isinstance(student, Student) and student.row == i
        assert student.name and student.name == " ".join(student.name.split()) and len(student.name) <= MAX_NAME
        assert bad_character(student.name) is None and bad_character(student.id) is None
