"""A class roster: a CSV file with a column of names and, optionally, a column of ids.

Reads files up to 32 MiB (checked by size before reading). Decodes by byte-order mark (UTF-32,
UTF-16 - Excel's "Unicode Text" - or UTF-8); without one, UTF-8 and, failing that, Latin-1
(Windows-1252), as spreadsheets export them. Lines may end in LF, CRLF or CR; cells are separated
by commas, semicolons or tabs. With a header, the names are the column headed "name" (or
"first name" + "surname" joined); without one, the first column. The id column is the one headed
"id" (or given by name). Refuses, in one line naming the file (and the student, where it is about
one): an unreadable or oversized file, UTF-16 without a byte-order mark, a binary file (xlsx, PNG),
a CSV the csv module cannot read (e.g. a cell over its field limit), an empty roster, a missing id
column that was asked for, more than 10,000 students, a name longer than 200 characters, a name
or id holding a control character, a lone surrogate or U+FFFE/U+FFFF (`bad_character`, which the
command line can use for its own text), duplicate names without ids to tell them apart, duplicate
ids. For a class set that is printed, check_drawable refuses the first name holding a character
no installed font draws (fonts.py), which would print as an empty box. Whatever a message quotes
from the file goes through errors.quoted. Names are kept as written (the templates escape them).
Leaves out: which variant a student gets (exam.py).
"""

import codecs
import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from workbook.errors import QUOTE_LIMIT, SpecError, quoted
from workbook.fonts import named, remedy, undrawable

MAX_NAME = 200
MAX_STUDENTS = 100_000  # a class set as large as --variants allows
MAX_BYTES = 32 * 1024 * 1024
_SAVE_AS = 'open it in the spreadsheet and save it as "CSV UTF-8" (an .xlsx workbook must be saved as CSV)'
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32-LE"), (codecs.BOM_UTF32_BE, "UTF-32-BE"),  # before UTF-16: FF FE 00 00
         (codecs.BOM_UTF16_LE, "UTF-16-LE"), (codecs.BOM_UTF16_BE, "UTF-16-BE"), (codecs.BOM_UTF8, "UTF-8"))
_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")  # categories Cc and Cs, two noncharacters
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")  # controls but tab and line ends; U+FFFD


class RosterError(SpecError):
    """A roster that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Student:
    row: int    # 1-based position in the roster: with the exam seed it fixes the student's variants
    name: str
    id: str = ""


def bad_character(text: str) -> str | None:
    """The first character a name may not hold (a control character, a lone surrogate, U+FFFE or
    U+FFFF: they make the Moodle XML invalid), as 'U+0007', or None. Format characters such as
    U+200F RIGHT-TO-LEFT MARK are allowed."""
    found = _BAD.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def _kind(text: str) -> str:
    code = ord(_BAD.search(text).group())
    return ("a control character" if code < 0xD800 else "a lone surrogate" if code < 0xE000
            else "a noncharacter")


def _q(text) -> str:
    """quoted(), cut shorter while its escapes make it long: a message stays a few hundred characters."""
    limit = QUOTE_LIMIT
    shown = quoted(text, limit)
    while len(shown) > 100 and limit > 8:
        limit //= 2
        shown = quoted(text, limit)
    return shown


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            raw = file.read(MAX_BYTES + 1) if size <= MAX_BYTES else b""
    except (OSError, ValueError) as err:
        raise RosterError(f"cannot read roster {_q(path)}: {getattr(err, 'strerror', None) or err}") from None
    if size > MAX_BYTES or len(raw) > MAX_BYTES:
        raise RosterError(f"roster {_q(path)} is larger than {MAX_BYTES // 2**20} MiB: "
                          "a class roster is a few kilobytes; is it the right file?")
    return raw


def _text(path: Path) -> str:
    raw = _read(path)
    bom, encoding = next(((b, e) for b, e in _BOMS if raw.startswith(b)), (b"", "UTF-8"))
    raw = raw[len(bom):]
    if not bom and b"\0" in raw:
        odd, even = raw[1::2].count(0), raw[0::2].count(0)
        if max(odd, even) * 16 >= len(raw) and min(odd, even) * 8 <= max(odd, even):  # NULs on one side
            raise RosterError(f"roster {_q(path)} looks like UTF-16 without a byte-order mark: {_SAVE_AS}")
        raise RosterError(f"roster {_q(path)} is not a text file: {_SAVE_AS}")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        if encoding != "UTF-8":
            raise RosterError(f"roster {_q(path)} starts with a {encoding} byte-order mark but is not "
                              f"{encoding} (byte {err.start + len(bom)}): {_SAVE_AS}") from None
        text = raw.decode("cp1252", errors="replace")  # Latin-1 / Windows exports
    odd_ones = len(_NOT_TEXT.findall(text))
    if odd_ones > 3 and odd_ones * 10 > len(text):  # one stray control character gets its own message
        raise RosterError(f"roster {_q(path)} is not a text file: {_SAVE_AS}")
    return text.replace("\r\n", "\n").replace("\r", "\n")  # old Macs end lines in CR alone


_HEADERS = {"name", "student", "student name", "full name", "first name", "firstname", "given name",
            "surname", "last name", "lastname", "family name", "id", "student id", "email", "e-mail"}


def _split(path: Path, text: str) -> list[list[str]]:
    """Rows of cells; the delimiter (comma, semicolon or tab, as spreadsheets export) is detected."""
    first = next((line for line in text.split("\n") if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    try:  # a header and one student too many are enough to refuse a roster that is too long
        while len(rows) < MAX_STUDENTS + 2:
            line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            if any("\n" in cell for cell in row):  # a quote opened and closed lines later
                raise RosterError(f"roster {_q(path)}, line {line}: a quote (\") opens a cell that runs on "
                                  f"to line {reader.line_num}: close it, or remove it")
            if any(cell.strip() for cell in row):
                rows.append(row)
        return rows
    except csv.Error as err:
        if "field limit" in str(err):
            err = f"a cell is longer than {csv.field_size_limit()} characters (a quote left open?)"
        raise RosterError(f"roster {_q(path)}, line {reader.line_num}: cannot read it as CSV: {err}") from None


def _name_columns(path: Path, header: list[str]) -> list[int]:
    """The column of names, or the first-name and surname columns to join."""
    for wanted in ("name", "student name", "full name", "student"):
        if wanted in header:
            return [header.index(wanted)]
    first = next((header.index(h) for h in ("first name", "firstname", "given name") if h in header), None)
    last = next((header.index(h) for h in ("surname", "last name", "lastname", "family name") if h in header), None)
    if first is not None and last is not None:
        return [first, last]
    raise RosterError(f"roster {_q(path)} has a header ({_q(', '.join(header))}) but no column of names: "
                      "head it 'name' (or 'first name' and 'surname')")


def read_roster(path, id_column: str | None = None) -> tuple[Student, ...]:
    """'roster.csv' with rows 'name,id / Ada Lovelace,17' -> (Student(1, 'Ada Lovelace', '17'),).
    Without a header the first column holds the names."""
    path = Path(path)
    rows = _split(path, _text(path))
    if not rows:
        raise RosterError(f"roster {_q(path)} is empty: give one student name per line")
    header = [cell.strip().lower() for cell in rows[0]]
    wanted = (id_column or "id").strip().lower()
    has_header = bool(_HEADERS & set(header)) or wanted in header
    name_at = _name_columns(path, header) if has_header else [0]
    id_at = header.index(wanted) if has_header and wanted in header else None
    if id_column and id_at is None:
        raise RosterError(f"roster {_q(path)} has no column {_q(id_column)} (its columns: {_q(', '.join(rows[0]))})")
    if id_at is not None and id_at in name_at:
        raise RosterError(f"roster {_q(path)}: the id column is also the name column")
    body = rows[1:] if has_header else rows
    if len(body) > MAX_STUDENTS:
        raise RosterError(f"roster {_q(path)} has more than {MAX_STUDENTS} students: is it the right file?")
    students = []
    for i, row in enumerate(body, 1):
        name = " ".join(" ".join(row[k] for k in name_at if k < len(row)).split())
        where = f"roster {_q(path)}, student {i}"
        if not name:
            raise RosterError(f"{where}: the name is empty")
        if len(name) > MAX_NAME:
            raise RosterError(f"{where}: the name is longer than {MAX_NAME} characters")
        ident = row[id_at].strip() if id_at is not None and id_at < len(row) else ""
        for what, text in (("name", name), ("id", ident)):
            if bad_character(text):
                raise RosterError(f"{where}: the {what} {_q(text)} holds {_kind(text)} ({bad_character(text)}): "
                                  "remove it")
        students.append(Student(i, name, ident))
    if not students:
        raise RosterError(f"roster {_q(path)} has a header but no students")
    _check_unique(path, students, id_at is not None)
    return tuple(students)


def check_drawable(path, students: tuple[Student, ...]) -> None:
    """Refuse, naming the student and the characters, the first name that holds a character no
    installed font draws: printed, it would be an empty box. Each distinct character is looked up
    once, however long the roster."""
    for s in students:
        missing = undrawable(s.name)
        if missing:
            raise RosterError(f"roster {_q(Path(path))}, student {s.row}: no installed font draws {named(missing)} "
                              f"in the name {_q(s.name)}; {remedy(missing)}")


def _check_unique(path: Path, students: list[Student], with_ids: bool) -> None:
    seen: dict[tuple, int] = {}
    for s in students:
        key = (s.name.casefold(), s.id) if with_ids else (s.name.casefold(),)
        if key in seen:
            what = f"name {_q(s.name)} and id {_q(s.id)}" if with_ids else f"name {_q(s.name)}"
            advice = "give them different ids" if with_ids else "add an id column to tell them apart"
            raise RosterError(f"roster {_q(path)}: students {seen[key]} and {s.row} have the same {what}; {advice}")
        seen[key] = s.row
    if with_ids:
        ids: dict[str, int] = {}
        for s in students:
            if s.id and s.id in ids:
                raise RosterError(f"roster {_q(path)}: students {ids[s.id]} and {s.row} have the same id {_q(s.id)}")
            ids[s.id] = s.row
