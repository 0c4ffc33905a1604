"""A class roster: a CSV file with a column of names and, optionally, a column of ids.

Reads UTF-8 (with or without a byte-order mark) and, failing that, Latin-1 (Windows-1252), as
spreadsheets export them, separated by commas, semicolons or tabs. With a header, the names are
the column headed "name" (or "first name" + "surname" joined); without one, the first column.
The id column is the one headed "id" (or given by name). Refuses, in one line: a missing file,
an empty roster, a missing id column that was asked for, duplicate names without ids to tell them
apart, duplicate ids. Names are kept as written (the templates escape them). Leaves out: which
variant a student gets (exam.py).
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from workbook.errors import SpecError

MAX_NAME = 200


class RosterError(SpecError):
    """A roster that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Student:
    row: int    # 1-based position in the roster: with the exam seed it fixes the student's variants
    name: str
    id: str = ""


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise RosterError(f"cannot read roster {str(path)!r}: {err.strerror or err}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # Latin-1 / Windows exports


_HEADERS = {"name", "student", "student name", "full name", "first name", "firstname", "given name",
            "surname", "last name", "lastname", "family name", "id", "student id", "email", "e-mail"}


def _split(text: str) -> list[list[str]]:
    """Rows of cells; the delimiter (comma, semicolon or tab, as spreadsheets export) is detected."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    return [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(cell.strip() for cell in r)]


def _name_columns(path: Path, header: list[str]) -> list[int]:
    """The column of names, or the first-name and surname columns to join."""
    for wanted in ("name", "student name", "full name", "student"):
        if wanted in header:
            return [header.index(wanted)]
    first = next((header.index(h) for h in ("first name", "firstname", "given name") if h in header), None)
    last = next((header.index(h) for h in ("surname", "last name", "lastname", "family name") if h in header), None)
    if first is not None and last is not None:
        return [first, last]
    raise RosterError(f"roster {str(path)!r} has a header ({', '.join(header)}) but no column of names: "
                      "head it 'name' (or 'first name' and 'surname')")


def read_roster(path, id_column: str | None = None) -> tuple[Student, ...]:
    """'roster.csv' with rows 'name,id / Ada Lovelace,17' -> (Student(1, 'Ada Lovelace', '17'),).
    Without a header the first column holds the names."""
    path = Path(path)
    rows = _split(_text(path))
    if not rows:
        raise RosterError(f"roster {str(path)!r} is empty: give one student name per line")
    header = [cell.strip().lower() for cell in rows[0]]
    wanted = (id_column or "id").strip().lower()
    has_header = bool(_HEADERS & set(header)) or wanted in header
    name_at = _name_columns(path, header) if has_header else [0]
    id_at = header.index(wanted) if has_header and wanted in header else None
    if id_column and id_at is None:
        raise RosterError(f"roster {str(path)!r} has no column {id_column!r} (its columns: {', '.join(rows[0])})")
    if id_at is not None and id_at in name_at:
        raise RosterError(f"roster {str(path)!r}: the id column is also the name column")
    body = rows[1:] if has_header else rows
    students = []
    for i, row in enumerate(body, 1):
        name = " ".join(" ".join(row[k] for k in name_at if k < len(row)).split())
        if not name:
            raise RosterError(f"roster {str(path)!r}, student {i}: the name is empty")
        if len(name) > MAX_NAME:
            raise RosterError(f"roster {str(path)!r}, student {i}: the name is longer than {MAX_NAME} characters")
        ident = row[id_at].strip() if id_at is not None and id_at < len(row) else ""
        students.append(Student(i, name, ident))
    if not students:
        raise RosterError(f"roster {str(path)!r} has a header but no students")
    _check_unique(path, students, id_at is not None)
    return tuple(students)


def _check_unique(path: Path, students: list[Student], with_ids: bool) -> None:
    seen: dict[tuple, int] = {}
    for s in students:
        key = (s.name.casefold(), s.id) if with_ids else (s.name.casefold(),)
        if key in seen:
            what = f"name {s.name!r} and id {s.id!r}" if with_ids else f"name {s.name!r}"
            advice = "give them different ids" if with_ids else "add an id column to tell them apart"
            raise RosterError(f"roster {str(path)!r}: students {seen[key]} and {s.row} have the same {what}; {advice}")
        seen[key] = s.row
    if with_ids:
        ids: dict[str, int] = {}
        for s in students:
            if s.id and s.id in ids:
                raise RosterError(f"roster {str(path)!r}: students {ids[s.id]} and {s.row} have the same id {s.id!r}")
            ids[s.id] = s.row
