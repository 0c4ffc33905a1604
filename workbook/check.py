"""Check a hand calculation: a fill-in answer file for a variant, graded cell by cell, with reasons.

answers_template(sheet) writes every blank of the sheet in sheet order as TOML, one array per grid
and one row per line of the grid, each step commented with its title. grade(sol, sheet, answers)
marks each cell right or wrong: an exact fraction equal to the key, or a number within `abs_tol` or
`rel_tol` of it (0.01 and 1% by default). For a wrong step it says why when it can: "follows from
your step N" when the step is right given the learner's own earlier (wrong) numbers, a carried
error rather than a new one; else the common mistake (mistakes.py) whose numbers it matches.
read_answer_file and read_answers refuse, in one line, a file too large, not UTF-8, not TOML or
for another variant, before anything is computed from it.
Leaves out: the command line (cli.py), and the browser (render_interactive.py).
"""

import os
import re
import stat
import tomllib
from dataclasses import dataclass

from workbook.code import decode, encode, looks_like_code
from workbook.diagnosis import Finding, diagnose, mistake_boxes
from workbook.errors import CodeError, SpecError, quoted
from workbook.layout import Grid, step_id_of
from workbook.values import (ABS_TOL, REL_TOL, AmbiguousValue, box_tolerance, expected, is_right, is_whole_answer,
                             parse_value)

# The largest sheet (switch: 10 tokens, 8 experts, FFNs and jitter) has 612 boxes: its file with
# every box filled to the 64 characters a box is read up to is under 64 KiB. Four times that
# leaves room for any notes, and tomllib reads it in well under a second whatever it holds.
MAX_FILE_BYTES = 256 * 1024
# tomllib's time grows with the square of a dotted key's length (a key of 50,000 parts takes
# half a minute); an answer file's keys are plain names (step3), so a longer chain is refused unread.
MAX_KEY_PARTS = 8
MAX_NAME = 200  # a student's typed name (`name = "..."`), as a roster's names


class AnswersError(SpecError):
    """An answer file that cannot be read; the message names the problem."""


@dataclass(frozen=True)
class Group:
    key: str        # 'step3', 'step5_2' in the answer file
    number: int     # the sheet's step number
    title: str
    grid: Grid
    rows: tuple     # rows of blank cells (given cells left out), as on the sheet


def groups(sheet) -> list[Group]:
    """Every grid with blanks, in sheet order, keyed step<N> (step<N>_2, ... for a step's later grids)."""
    out = []
    for section in sheet.sections:
        n = 0
        for board in section.boards:
            for row in board.panels:
                for panel in row:
                    if isinstance(panel, Grid) and any(c.blank for line in panel.cells for c in line):
                        n += 1
                        rows = tuple(tuple(c for c in line if c.blank) for line in panel.cells)
                        key = f"step{section.number}" + (f"_{n}" if n > 1 else "")
                        out.append(Group(key, section.number, section.title, panel, rows))
    return out


def where(sheet) -> dict[str, str]:
    """Each box in the sheet's words: {'scores[2][1]': 't2 · E1 of S = X W_rᵀ'}: its row and
    column labels where the grid has them, its grid's name, and the board's caption (an expert)."""
    out = {}
    for section in sheet.sections:
        for board in section.boards:
            for line in board.panels:
                for panel in line:
                    if not isinstance(panel, Grid):
                        continue
                    name = panel.name + (f" ({board.caption})" if board.caption else "")
                    for i, row in enumerate(panel.cells):
                        for j, c in enumerate(row):
                            if c.blank and c.ref and c.ref not in out:
                                label = [panel.row_labels[i] if i < len(panel.row_labels) and panel.row_labels[i]
                                         else f"row {i + 1}",
                                         panel.col_labels[j] if j < len(panel.col_labels) and panel.col_labels[j]
                                         else f"box {j + 1}"]
                                out[c.ref] = f"{' · '.join(label)} of {name}"
    return out


def answers_template(sheet) -> str:
    """The fill-in file: a "" for every blank."""
    lines = [f"# moe-workbook answers · variant {sheet.code} · {sheet.title}",
             '# Replace each "" with your value: a whole number (3), a fraction ("27/37") or a decimal (0.73).',
             '# Leave "" where your sheet leaves a box empty. Then: moe-workbook check ' + sheet.code + " FILE",
             f'code = "{sheet.code}"', ""]
    last = None
    for g in groups(sheet):
        if g.number != last:
            lines.append(f"# Step {g.number} · {g.title}")
            last = g.number
        lines.append(f"# {g.grid.name}" + (f" (columns {', '.join(g.grid.col_labels)})" if g.grid.col_labels else ""))
        lines.append(f"{g.key} = [")
        for i, row in enumerate(g.rows):
            label = g.grid.row_labels[i] if i < len(g.grid.row_labels) else ""
            lines.append("  [" + ", ".join('""' for _ in row) + "]," + (f"  # {label}" if label else ""))
        lines += ["]", ""]
    return "\n".join(lines)


def read_answer_file(path) -> str:
    """The text of an answer file, refused in one line when it is not a regular file, is larger
    than MAX_FILE_BYTES (by its size, and never reading more than one byte past it) or is not
    UTF-8 (a byte-order mark is allowed). Opened without blocking, so a named pipe cannot hang it."""
    shown = quoted(os.fspath(path))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        with open(os.open(path, flags), "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                what = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
                raise AnswersError(f"cannot read answer file {shown}: it is {what}")
            size = os.fstat(file.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise AnswersError(_too_large(shown, f"{size:,} bytes"))
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise AnswersError(f"cannot read answer file {shown}: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:  # it grew since
        raise AnswersError(_too_large(shown, f"over {MAX_FILE_BYTES // 1024} KiB"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise AnswersError(f"answer file {shown} is not UTF-8 text (byte {err.start + 1} is "
                           f"{data[err.start]:#04x}): save it as UTF-8") from None


def _too_large(shown: str, size: str) -> str:
    return (f"answer file {shown} is {size}; an answer file is at most {MAX_FILE_BYTES // 1024} KiB "
            "(the largest sheet's, every box filled, is under 64 KiB): is it the right file?")


# TOML read one token at a time, each character once: a multi-line string, a comment, a chain of
# key parts (bare or quoted, joined by dots; a float like 1.5 is two parts), or anything else.
_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"?|'[^'\n]*'?)"""
_TOKENS = re.compile(r""""{3}[\s\S]*?"{3}|'{3}[\s\S]*?'{3}|#[^\n]*|"""
                     rf"""(?P<chain>{_PART}(?:[ \t]*\.[ \t]*{_PART})*)|[^A-Za-z0-9_"'#-]+|.""")
_PARTS = re.compile(_PART)


def _long_key(text: str):
    """The first chain of more than MAX_KEY_PARTS dotted key parts outside strings and comments."""
    for match in _TOKENS.finditer(text):
        chain = match.group("chain")
        if chain and chain.count(".") >= MAX_KEY_PARTS and len(_PARTS.findall(chain)) > MAX_KEY_PARTS:
            return chain
    return None


def read_answers(text: str, code: str) -> dict:
    """The answer file's tables, refused in one line when tomllib cannot read them (invalid TOML,
    nesting too deep, a number too long, a dotted key too long to read in reasonable time) or when
    the file's `code` is another variant's (read as the command line reads one: '10jp 82m');
    its optional `name` is checked with the tables (_check_shape)."""
    long_key = _long_key(text)
    if long_key is not None:
        raise AnswersError(f"the answer file has a dotted key of {len(_PARTS.findall(long_key))} parts "
                           f"({quoted(long_key)}); its keys are plain names like step1")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise AnswersError(f"the answer file is not valid TOML: {_one_line(str(err))}") from None
    except RecursionError:
        raise AnswersError("the answer file is not valid TOML here: its arrays or tables nest too deeply") from None
    except ValueError as err:  # a whole number over Python's 4300 digits
        raise AnswersError("the answer file is not valid TOML here: it holds a number too long to read "
                           f"({_one_line(str(err), 60)})") from None
    given = data.get("code")
    if given is None or (isinstance(given, str) and not given.strip()):
        return data
    if not isinstance(given, str):
        raise AnswersError(f"the answer file's code must be the variant code in quotes, like code = \"{code}\"; "
                           f"it has {quoted(given)}")
    mine = _variant_of(given)
    if mine is None:
        raise AnswersError(f"the answer file's code {quoted(given)} is not a variant code (this sheet's is {code})")
    if mine != _variant_of(code):
        written = "" if given.strip() == mine else f" (its code reads {quoted(given)})"
        raise AnswersError(f"the answer file is for variant {mine}{written}, not {code}")
    return data


def _variant_of(text: str):
    """The code of the variant a typed code stands for, forgiven as on the command line
    ('10jp 82m', '1OJP-82M' -> '10JP-82M'), or None when it is not a valid code."""
    if not looks_like_code(text):
        return None
    try:
        return encode(decode(text))
    except (CodeError, SpecError):
        return None


def _one_line(message: str, limit: int = 120) -> str:
    """tomllib's message on one line, cut to `limit` characters (it can repeat a key of the file),
    keeping its '(at line 3, column 7)'."""
    message = " ".join(message.split())
    where = re.search(r" ?\(at [^()]*\)\Z", message)
    body, tail = (message[:where.start()], where.group()) if where else (message, "")
    return (body if len(body) <= limit else body[:limit] + "…") + tail


@dataclass(frozen=True)
class CellResult:
    key: str
    row: int
    col: int
    ref: str
    given: object
    want: object
    right: bool


@dataclass(frozen=True)
class StepResult:
    number: int
    title: str
    right: int
    total: int
    reasons: tuple[str, ...]          # each finding in the step-id form ('powers: follows from your step 1 ...')
    findings: tuple[Finding, ...] = ()  # why, row by row, in the sheet's words (diagnosis.py)


@dataclass(frozen=True)
class Report:
    cells: tuple[CellResult, ...]
    steps: tuple[StepResult, ...]

    @property
    def right(self) -> int:
        return sum(c.right for c in self.cells)

    @property
    def all_right(self) -> bool:
        return all(c.right for c in self.cells)


def grade(sol, sheet, answers: dict, abs_tol=ABS_TOL, rel_tol=REL_TOL) -> Report:
    """Every box marked; boxes meant to stay empty and left empty are not counted."""
    _check_shape(sheet, answers)
    results = []
    for g in groups(sheet):
        rows = answers.get(g.key, [])
        for i, row in enumerate(g.rows):
            given_row = rows[i] if i < len(rows) else []
            for j, cell in enumerate(row):
                try:
                    given = parse_value(given_row[j]) if j < len(given_row) else None
                except AmbiguousValue as err:
                    raise AnswersError(f"{g.key} row {i + 1}, box {j + 1}: {err}") from None
                want = expected(cell)
                if want is None and given is None:
                    continue  # a box that stays empty on the key, left empty: nothing to mark
                results.append(CellResult(g.key, i + 1, j + 1, cell.ref, given, want,
                                          is_right(given, want, box_tolerance(cell, abs_tol), rel_tol,
                                                   is_whole_answer(cell))))
    learner = {c.ref: c.given for c in results}
    findings = diagnose(sol, sheet, learner, [c.ref for c in results if not c.right], abs_tol, rel_tol)
    steps = []
    for number, title in dict.fromkeys((g.number, g.title) for g in groups(sheet)):
        mine = [c for c in results if c.key.split("_")[0] == f"step{number}"]
        own = tuple(f for f in findings if f.number == number)
        steps.append(StepResult(number, title, sum(c.right for c in mine), len(mine),
                                tuple(f.legacy() for f in own), own))
    return Report(tuple(results), tuple(steps))


def _check_shape(sheet, answers: dict) -> None:
    """Refuse, in one line, an answer file whose tables do not match the sheet's grids, or whose
    optional `name` (the student's typed name: the gradebook tells students sharing a code by it)
    is not text of at most MAX_NAME characters."""
    known = {g.key: g for g in groups(sheet)}
    for key, value in answers.items():
        if key == "code":  # read_answers checked it
            continue
        if key == "name":
            if not isinstance(value, str):
                raise AnswersError(f"the answer file's name must be text in quotes, like name = \"Ada Lovelace\"; "
                                   f"it has {quoted(value)}")
            if len(value) > MAX_NAME:
                raise AnswersError(f"the answer file's name is {len(value)} characters long: at most {MAX_NAME}")
            continue
        if key not in known:
            raise AnswersError(f"the answer file has {quoted(key)}, which is not on this sheet "
                               f"(its keys: {', '.join(known)})")
        g = known[key]
        if not isinstance(value, list) or not all(isinstance(r, list) for r in value):
            raise AnswersError(f"{key} must be a list of rows, like [[1, 2], [3, 4]]")
        if len(value) != len(g.rows):
            raise AnswersError(f"{key} has {len(value)} rows; the sheet has {len(g.rows)}")
        for i, (row, cells_) in enumerate(zip(value, g.rows), 1):
            if len(row) != len(cells_):
                raise AnswersError(f"{key} row {i} has {len(row)} values; the sheet has {len(cells_)} boxes "
                                   'there (write "" for a box you leave empty)')
            bad = next((v for v in row if isinstance(v, (list, dict))), None)
            if bad is not None:
                raise AnswersError(f"{key} row {i} holds {quoted(bad)}; write one number or fraction per box")


def mistaken_cells(sol, changed: dict, step_id: str):
    """The values a learner making the mistake writes in the cells of `step_id`, by cell ref."""
    boxes = mistake_boxes(sol, changed)
    return None if boxes is None else {ref: v for ref, v in boxes.items() if step_id_of(ref) == step_id}


