"""A class roster: a CSV file with a column of names and, optionally, a column of ids.

Reads UTF-8 (with or without a byte-order mark) and, failing that, Latin-1 (Windows-1252), as
spreadsheets export them. The name column is the one headed "name" (any case), else the first;
the id column is the one headed "id" (or given by name). Refuses, in one line: a missing file,
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


def read_roster(path, id_column: str | None = None) -> tuple[Student, ...]:
    """'roster.csv' with rows 'name,id / Ada Lovelace,17' -> (Student(1, 'Ada Lovelace', '17'),)."""
    path = Path(path)
    rows = [r for r in csv.reader(io.StringIO(_text(path))) if any(cell.strip() for cell in r)]
    if not rows:
        raise RosterError(f"roster {str(path)!r} is empty: give one student name per line")
    header = [cell.strip().lower() for cell in rows[0]]
    has_header = "name" in header or (id_column or "id").lower() in header
    name_at = header.index("name") if "name" in header else 0
    id_at = None
    wanted = (id_column or "id").lower()
    if wanted in header:
        id_at = header.index(wanted)
    elif id_column:
        raise RosterError(f"roster {str(path)!r} has no column {id_column!r} (its columns: {', '.join(rows[0])})")
    body = rows[1:] if has_header else rows
    students = []
    for i, row in enumerate(body, 1):
        name = " ".join(row[name_at].split()) if name_at < len(row) else ""
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
            raise RosterError(f"roster {str(path)!r}: students {seen[key]} and {s.row} have the same {what}; "
                              "add an id column to tell them apart")
        seen[key] = s.row
    if with_ids:
        ids: dict[str, int] = {}
        for s in students:
            if s.id and s.id in ids:
                raise RosterError(f"roster {str(path)!r}: students {ids[s.id]} and {s.row} have the same id {s.id!r}")
            ids[s.id] = s.row
