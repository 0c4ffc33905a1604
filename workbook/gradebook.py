"""The gradebook: a class's answer files graded against their exam, for the teacher.

read_manifest reads the exam folder's manifest.json (who has which variant codes); mark_class
reads each answer file, finds its `code`, matches it to the student whose manifest row lists that
code (by the file's typed `name` where several students share a code: forms), and grades it as
`check` does (check.grade, check_report.report_dict). Whatever goes wrong with a file is one
Problem line and the rest is graded: a code not in this exam, two files for one student's sheet
(the later by modification time is graded, the later by name on a tie; both are listed), a file
that cannot be read, a file no student matches, a typed name that is not the manifest's; a
student's sheet with no file is listed as missing. gradebook_csv gives gradebook.csv (one row
per student and sheet). Leaves out: the class report (class_report.py), the command line
(cli.py) and writing files (write.py).
"""

import csv
import hashlib
import io
import json
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


from workbook.check import AnswersError, grade, read_answer_file, read_answers
from workbook.check_report import report_dict
from workbook.code import decode, encode, looks_like_code
from workbook.errors import CodeError, OutputError, SpecError, WorkbookError, quoted
from workbook.sheet import build_sheet
from workbook.solve import solve

MAX_MANIFEST_BYTES = 16 << 20  # 100,000 students of a long roster; more is not a class
MAX_ANSWER_FILES = 20_000
FILES = ("gradebook.csv", "class-report.html", "class-report.pdf")
LOW = 60  # a sheet under this percentage: its student needs a word
_CODE = re.compile(r"""^[ \t]*(?:code|"code"|'code')[ \t]*=[ \t]*(?:"([^"\\\n]*)"|'([^'\n]*)')""", re.M)


class ManifestError(SpecError):
    """An exam folder whose manifest.json is missing or is not an exam's manifest."""


@dataclass(frozen=True)
class Student:
    """A manifest row: who, and their variant codes (one per sheet) with the presets."""

    row: int
    name: str
    id: str
    form: str
    codes: tuple[str, ...]
    presets: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.name or (f"form {self.form}" if self.form else f"variant {self.row}")


@dataclass(frozen=True)
class Line:
    """One student's sheet in the gradebook: graded (`result`: check_report's dict), or missing."""

    student: Student | None  # None: a file no student of the exam matches
    code: str
    preset: str
    name: str                # as the gradebook shows it: the manifest's, else the file's typed name
    file: str = ""
    result: dict | None = None
    note: str = ""

    @property
    def percent(self):
        return None if self.result is None else round(100 * self.result["right"] / max(self.result["total"], 1), 1)


@dataclass(frozen=True)
class Problem:
    kind: str   # 'unreadable', 'not in this exam', 'handed in twice', 'not matched', 'name differs', 'no name',
                # 'missing'
    text: str

    @property
    def line(self) -> str:
        return " ".join(f"{self.kind}: {self.text}".split())  # one line, whatever a name holds


@dataclass(frozen=True)
class Gradebook:
    lines: tuple[Line, ...]
    problems: tuple[Problem, ...]

    @property
    def file_problems(self) -> tuple[Problem, ...]:
        """The problems of files handed in (a missing student is none of them)."""
        return tuple(p for p in self.problems if p.kind != "missing")


# --- reading ---------------------------------------------------------------------------------

def read_manifest(exam_dir: Path) -> tuple[Student, ...]:
    """The students of the exam in exam_dir, from its manifest.json; ManifestError in one line when
    it is missing, larger than MAX_MANIFEST_BYTES (by its size, before it is read) or not an exam's."""
    path = Path(exam_dir) / "manifest.json"
    shown = quoted(path)
    try:
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as file:
            st = os.fstat(file.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ManifestError(f"{shown} is not a file: give the folder `moe-workbook exam` wrote")
            data = file.read(MAX_MANIFEST_BYTES + 1) if st.st_size <= MAX_MANIFEST_BYTES else b""
            if st.st_size > MAX_MANIFEST_BYTES or len(data) > MAX_MANIFEST_BYTES:  # by its size, or it grew
                raise ManifestError(f"{shown} is over {MAX_MANIFEST_BYTES >> 20} MiB; an exam's manifest is at "
                                    f"most {MAX_MANIFEST_BYTES >> 20} MiB: is it the right folder?")
    except FileNotFoundError:
        raise ManifestError(f"{quoted(Path(exam_dir))} has no manifest.json: give the folder `moe-workbook exam` "
                            "wrote") from None
    except OSError as err:
        raise ManifestError(f"cannot read {shown}: {err.strerror or err}") from None
    try:
        students = tuple(_student(r) for r in json.loads(data.decode("utf-8-sig")))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise ManifestError(f"{shown} is not an exam's manifest (a list of students with their variant codes, "
                            "as `moe-workbook exam` writes it)") from None
    if not students:
        raise ManifestError(f"{shown} lists no student")
    return students


def _student(row: dict) -> Student:
    text = {k: row.get(k) or "" for k in ("name", "id", "form", "codes", "presets")}
    if not isinstance(row["row"], int) or not all(isinstance(v, str) for v in text.values()) or not text["codes"].split():
        raise ValueError(row)
    codes = tuple(_canonical(c) or c.upper() for c in text["codes"].split())
    presets = tuple(text["presets"].split())
    return Student(row["row"], text["name"], text["id"], text["form"], codes,
                   presets + ("",) * (len(codes) - len(presets)))


def answer_files(paths) -> list[Path]:
    """The answer files named: files as given, folders searched (with their subfolders, links not
    followed) for *.toml, sorted; each file once. SpecError when there is none."""
    found: dict[str, Path] = {}
    for path in map(Path, paths):
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found.update((os.path.realpath(Path(root, n)), Path(root, n))
                             for n in sorted(names) if n.lower().endswith(".toml"))
        else:
            found.setdefault(os.path.realpath(path), path)
        if len(found) > MAX_ANSWER_FILES:
            raise SpecError(f"more than {MAX_ANSWER_FILES:,} answer files under {quoted(path)}: is it the right folder?")
    if not found:
        raise SpecError("no answer files (*.toml) to grade in " + ", ".join(quoted(Path(p)) for p in paths))
    return list(found.values())


def _canonical(text) -> str | None:
    """A typed code as the sheet prints it ('10jp 82m' -> '10JP-82M'); None when it is no code."""
    if not isinstance(text, str) or not looks_like_code(text):
        return None
    try:
        return encode(decode(text))
    except (CodeError, SpecError):
        return None


def _said(name: str) -> tuple[str, ...]:
    """A name's words, as compared: 'Zoë  RÜSK' -> ('zoë', 'rüsk')."""
    return tuple(unicodedata.normalize("NFKC", name).casefold().split())


def _same_person(typed: str, listed: str) -> bool:
    """A typed name agrees with the manifest's when the words of one are among the other's
    ('Ada' and 'Ada Lovelace'), case and spacing aside."""
    a, b = set(_said(typed)), set(_said(listed))
    return bool(a and b) and (a <= b or b <= a)


# --- grading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Handed:
    """One answer file, read and graded (or not)."""

    path: Path
    mtime: int
    code: str = ""          # the canonical code, when one was found
    typed: str = ""         # the file's `name`
    result: dict | None = None
    error: str = ""


def mark_class(students: tuple[Student, ...], paths: list[Path],
               progress: Callable[[str], None] = lambda label: None) -> Gradebook:
    """Every answer file graded and matched to its student; the problems, one line each."""
    owners: dict[str, list[Student]] = {}
    for s in students:
        for code in s.codes:
            owners.setdefault(code, []).append(s)
    solved: dict[str, tuple] = {}  # code -> (solution, sheet): solved once, whoever shares it
    handed = []
    for path in paths:
        handed.append(_mark(path, owners, solved))
        progress(str(path))
    claims, strays, problems = _sort_out(handed, owners)
    unreadable = {h.code for h in handed if h.error and h.code and len(owners[h.code]) == 1}
    lines = []
    for s in students:
        for code, preset in zip(s.codes, s.presets):
            mine = claims.get((s.row, code), {})
            for typed in sorted(mine):
                lines.append(_chosen(s, code, preset, mine[typed], problems))
            if mine:
                continue
            if code in unreadable:  # handed in, though unreadable: not missing
                lines.append(Line(s, code, preset, s.name, note="handed in an unreadable file: see the problems"))
                continue
            lines.append(Line(s, code, preset, s.name, note="missing"))
            problems.append(Problem("missing", s.label + (f" ({s.id})" if s.id else "")
                                    + f": no file for variant {code}" + (f" ({preset})" if preset else "")))
    problems.sort(key=lambda p: _KINDS.index(p.kind))
    return Gradebook(tuple(lines + strays), tuple(problems))


_KINDS = ("unreadable", "not in this exam", "handed in twice", "not matched", "name differs", "no name", "missing")


def _sort_out(handed: list, owners: dict) -> tuple[dict, list, list]:
    """Each graded file to its student: {(row, code): {typed name of an unnamed form's student, or
    (): files}}, the graded files no student matches (as Lines), and the problems so far."""
    claims: dict[tuple, dict] = {}
    strays, problems = [], []
    for h in handed:
        if h.error:
            said = quoted(h.path) in h.error  # read_answer_file's messages name the file
            problems.append(Problem("unreadable", h.error if said else f"{quoted(h.path)}: {h.error}"))
            continue
        if h.code not in owners:
            problems.append(Problem("not in this exam", f"{quoted(h.path)} is for variant {h.code}, which no student "
                                                        "of this exam has"))
            continue
        who = _owner(h, owners[h.code])
        if who is None:
            problems.append(Problem("not matched", f"{quoted(h.path)} is for variant {h.code}, shared by "
                                                   f"{len(owners[h.code])} students, and its name "
                                                   f"{quoted(h.typed) if h.typed else '(none)'} is none of theirs: "
                                                   "graded at the end of the gradebook"))
            strays.append(_line(None, h, _preset(owners[h.code][0], h.code), h.typed))
            continue
        if who.name and h.typed and not _same_person(h.typed, who.name):
            problems.append(Problem("name differs", f"{quoted(h.path)} (variant {h.code}) says {quoted(h.typed)}; the "
                                                    f"manifest gives that variant to {quoted(who.name)}: graded as theirs"))
        typed = ()
        if not who.name and who.form:  # a form handed to students the manifest does not name: told by their names
            typed = _said(h.typed) or ("", str(h.path))
            if not h.typed:
                problems.append(Problem("no name", f"{quoted(h.path)} (variant {h.code}, {who.label}) has no name = "
                                                   "\"...\": graded under its file name"))
        claims.setdefault((who.row, h.code), {}).setdefault(typed, []).append(h)
    return claims, strays, problems


def _chosen(s: Student, code: str, preset: str, files: list, problems: list) -> Line:
    """A student's sheet from the files handed in for it: the latest by modification time (the
    last by name on a tie); more than one is a problem naming them all."""
    chosen = max(files, key=lambda h: (h.mtime, str(h.path)))
    if len(files) == 1:
        return _line(s, chosen, preset, s.name or chosen.typed)
    others = ", ".join(quoted(h.path) for h in files if h is not chosen)
    who = s.label + (f" {quoted(chosen.typed)}" if not s.name and chosen.typed else "")
    problems.append(Problem("handed in twice", f"{who} (variant {code}) handed in {len(files)} files: graded "
                                               f"{quoted(chosen.path)}, the latest by modification time; not {others}"))
    return _line(s, chosen, preset, s.name or chosen.typed,
                 f"{len(files)} files handed in: graded the latest (see the problems)")


def _mark(path: Path, owners: dict, solved: dict) -> _Handed:
    """One answer file read, its code found, and graded when the code is one of the exam's."""
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = 0
    try:
        text = read_answer_file(path)
    except AnswersError as err:
        return _Handed(path, mtime, error=str(err))
    found = _CODE.search(text)
    typed_code = found and (found.group(1) if found.group(1) is not None else found.group(2))
    if not typed_code:
        try:  # not TOML, say, rather than only without a code
            read_answers(text, "")
        except AnswersError as err:
            return _Handed(path, mtime, error=str(err))
        return _Handed(path, mtime, error='it has no code: write code = "..." with the variant code printed on the sheet')
    code = _canonical(typed_code)
    if code is None:
        return _Handed(path, mtime, error=f"its code {quoted(typed_code)} is not a variant code")
    if code not in owners:
        return _Handed(path, mtime, code)
    try:
        data = read_answers(text, code)
        if _canonical(data.get("code")) != code:
            raise AnswersError('it has no code at its top: write code = "..." before the steps')
        if code not in solved:
            sol = solve(decode(code))
            solved[code] = (sol, build_sheet(sol))
        sol, sheet = solved[code]
        result = report_dict(sol, sheet, grade(sol, sheet, data))
    except WorkbookError as err:
        return _Handed(path, mtime, code, error=str(err))
    return _Handed(path, mtime, code, data.get("name") or "", result)


def _owner(h: _Handed, owners: list[Student]) -> Student | None:
    """The student a graded file belongs to: the one listing its code, or among several (forms),
    the one the file's typed name names."""
    if len(owners) == 1:
        return owners[0]
    exact = [s for s in owners if h.typed and _said(s.name) == _said(h.typed)]
    close = exact or [s for s in owners if _same_person(h.typed, s.name)]
    return close[0] if len(close) == 1 else None


def _line(student, h: _Handed, preset: str, name: str, note: str = "") -> Line:
    return Line(student, h.code, preset, name, str(h.path), h.result, note)


def _preset(student: Student, code: str) -> str:
    return student.presets[student.codes.index(code)]


# --- the gradebook as a spreadsheet ----------------------------------------------------------

def step_columns(book: Gradebook) -> list[tuple[int, str]]:
    """(number, title) of every step graded, in the order the sheets have them."""
    return list(dict.fromkeys((st["number"], st["title"]) for line in book.lines if line.result
                              for st in line.result["steps"]))


_FORMULA = tuple("=+-@\t\r")  # as manifest.csv: text a spreadsheet would run as a formula gets a '


def _cell(value):
    if value is None:
        return ""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA) else value


def gradebook_csv(book: Gradebook) -> bytes:
    """One row per student and sheet; a step's score as two columns, right and total (a cell
    '3/5' would be a date in a spreadsheet); empty cells empty; UTF-8 without a byte-order mark."""
    steps = step_columns(book)
    head = ["row", "name", "id", "form", "code", "preset"]
    for number, title in steps:
        head += [f"step {number} {title}: right", f"step {number} {title}: total"]
    head += ["right", "boxes", "percent", "file", "note"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head)
    for line in book.lines:
        s, r = line.student, line.result
        scores = {(st["number"], st["title"]): (st["right"], st["total"]) for st in r["steps"]} if r else {}
        cells = [s.row if s else "", line.name, s.id if s else "", s.form if s else "", line.code, line.preset]
        for step in steps:
            cells += list(scores.get(step, (None, None)))
        cells += [r["right"] if r else None, r["total"] if r else None, line.percent, line.file, line.note]
        writer.writerow([_cell(c) for c in cells])
    return out.getvalue().encode("utf-8")


# --- replacing an earlier gradebook ----------------------------------------------------------

def replaced(exam_dir: Path, force: bool) -> tuple[str, ...]:
    """The files of an earlier gradebook that a new one replaces. Without `force` there must be
    none; with it, each must be one moe-workbook wrote and unchanged since (write.replacing's
    rule, the exam's own files left alone). OutputError naming the first in the way otherwise."""
    from workbook.write import replacing

    present = [name for name in FILES if os.path.lexists(Path(exam_dir) / name)]
    if present and not force:
        raise OutputError(f"{quoted(Path(exam_dir))} already has a gradebook ({', '.join(present)}): use --force "
                          "to replace it")
    return replacing(exam_dir, list(FILES), True).replaced if present else ()


def with_record(exam_dir: Path, files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The files and the folder's record of what moe-workbook wrote there (write.RECORD): the
    exam's entries kept, the gradebook's added, so that a later --force replaces only these."""
    from workbook.write import RECORD, recorded

    entries = recorded(exam_dir)
    entries.update({name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files})
    record = json.dumps({"written-by": "moe-workbook", "files": entries}, indent=1, sort_keys=True) + "\n"
    return list(files) + [(RECORD, record.encode())]
