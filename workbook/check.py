"""Check a hand calculation: a fill-in answer file for a variant, graded cell by cell, with reasons.

answers_template(sheet) writes every blank of the sheet in sheet order as TOML, one array per grid
and one row per line of the grid, each step commented with its title. grade(sol, sheet, answers)
marks each cell right or wrong: an exact fraction equal to the key, or a number within `abs_tol` or
`rel_tol` of it (0.01 and 1% by default). For a wrong step it says why when it can: "follows from
your step N" when the step is right given the learner's own earlier (wrong) numbers, a carried
error rather than a new one; else the common mistake (mistakes.py) whose numbers it matches.
Leaves out: files and the command line (cli.py), and the browser (render_interactive.py).
"""

import dataclasses
import tomllib
from dataclasses import dataclass

from workbook.carried import carried
from workbook.errors import SpecError
from workbook.layout import Grid, cells, step_id_of
from workbook.mistakes import made
from workbook.sheet import build_sheet
from workbook.values import ABS_TOL, REL_TOL, expected, is_right, is_whole_answer, parse_value



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


def read_answers(text: str, code: str) -> dict:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise AnswersError(f"the answer file is not valid TOML: {err}") from None
    if data.get("code") and str(data["code"]).replace("-", "").upper() != code.replace("-", "").upper():
        raise AnswersError(f"the answer file is for variant {data['code']}, not {code}")
    return data


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
    reasons: tuple[str, ...]


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
                given = parse_value(given_row[j]) if j < len(given_row) else None
                want = expected(cell)
                if want is None and given is None:
                    continue  # a box that stays empty on the key, left empty: nothing to mark
                results.append(CellResult(g.key, i + 1, j + 1, cell.ref, given, want,
                                          is_right(given, want, abs_tol, rel_tol, is_whole_answer(cell))))
    learner = {c.ref: c.given for c in results}
    steps = []
    for number, title in dict.fromkeys((g.number, g.title) for g in groups(sheet)):
        mine = [c for c in results if c.key.split("_")[0] == f"step{number}"]
        wrong_ids = list(dict.fromkeys(step_id_of(c.ref) for c in mine if not c.right))
        reasons = tuple(r for sid in wrong_ids for r in [_reason(sol, sheet, sid, learner, abs_tol, rel_tol)] if r)
        steps.append(StepResult(number, title, sum(c.right for c in mine), len(mine), reasons))
    return Report(tuple(results), tuple(steps))


def _check_shape(sheet, answers: dict) -> None:
    """Refuse, in one line, an answer file whose tables do not match the sheet's grids."""
    known = {g.key: g for g in groups(sheet)}
    for key, value in answers.items():
        if key == "code":
            continue
        if key not in known:
            raise AnswersError(f"the answer file has {key!r}, which is not on this sheet "
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
                raise AnswersError(f"{key} row {i} holds {bad!r}; write one number or fraction per box")


def _reason(sol, sheet, step_id, learner, abs_tol, rel_tol) -> str:
    follows = carried(sol, sheet, step_id, learner, abs_tol, rel_tol)
    if follows:
        return follows
    order = [s.id for s in sol.steps]
    matches = [(name, changed) for name, changed in made(sol)
               if step_id in changed and _written(sol, changed, step_id, learner, abs_tol, rel_tol)]
    # two mistakes can come within tolerance of each other: the one whose earlier steps are the
    # learner's too is the likelier (a z-loss not squared, not a log-sum-exp the learner got right)
    for name, changed in matches:
        if all(_written(sol, changed, s, learner, abs_tol, rel_tol)
               for s in changed if order.index(s) < order.index(step_id)):
            return f"{step_id}: {name}"
    return f"{step_id}: {matches[0][0]}" if matches else ""


def _written(sol, changed: dict, step_id: str, learner: dict, abs_tol, rel_tol) -> bool:
    """The learner's boxes of `step_id` hold what the mistake puts there (a box empty on both
    sides is not in `learner`, and counts as the same)."""
    wrong = mistaken_cells(sol, changed, step_id)
    mine = {ref: v for ref, v in learner.items() if step_id_of(ref) == step_id}
    return wrong is not None and all(is_right(mine.get(r), wrong.get(r), abs_tol, rel_tol)
                                     for r in wrong.keys() | mine.keys())


def mistaken_cells(sol, changed: dict, step_id: str):
    """The values a learner making the mistake writes in the cells of `step_id`, by cell ref."""
    steps = tuple(dataclasses.replace(s, exact=changed[s.id]) if s.id in changed else s for s in sol.steps)
    try:
        sheet = build_sheet(dataclasses.replace(sol, steps=steps))
    except (IndexError, KeyError, ValueError, TypeError):
        return None
    return {c.ref: expected(c) for c in cells(sheet.sections) if c.blank and step_id_of(c.ref) == step_id}


