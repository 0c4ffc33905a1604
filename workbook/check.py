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
import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction

from workbook.errors import SpecError
from workbook.layout import Grid, cells
from workbook.mistakes import MISTAKES
from workbook.sheet import build_sheet

ABS_TOL, REL_TOL = 0.01, 0.01
_REF = re.compile(r"(\w+)((?:\[\d+\])+)")


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


def parse_value(value):
    """3 -> Fraction(3); '27/37' -> Fraction(27, 37); '−0.5' -> Fraction(-1, 2); 0.73 -> 0.73;
    '' -> None; 'abc' -> 'abc' (not a number: marked wrong)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return value
    text = str(value).strip().replace("−", "-").replace(",", ".").replace(" ", "")
    if not text:
        return None
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return text


def expected(cell):
    """A blank's key value: exact when the sheet knows it, else read from the printed answer."""
    if cell.value is not None:
        v = cell.value
        return Fraction(int(v.p), int(v.q)) if v.is_Rational else float(v)
    text = (cell.answer or cell.decimal).replace("−", "-").replace("≈", "").replace(",", "")
    if not text:
        return None
    try:
        return Fraction(text)
    except ValueError:
        return float(cell.decimal.replace("−", "-")) if cell.decimal else None


def is_right(given, want, abs_tol=ABS_TOL, rel_tol=REL_TOL) -> bool:
    if want is None:
        return given is None
    if given is None or isinstance(given, str):
        return False
    if isinstance(given, Fraction) and isinstance(want, Fraction) and given == want:
        return True
    return abs(float(given) - float(want)) <= max(abs_tol, rel_tol * abs(float(want)))


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
    results = []
    for g in groups(sheet):
        rows = answers.get(g.key, [])
        for i, row in enumerate(g.rows):
            given_row = rows[i] if i < len(rows) and isinstance(rows[i], list) else []
            for j, cell in enumerate(row):
                given = parse_value(given_row[j]) if j < len(given_row) else None
                want = expected(cell)
                results.append(CellResult(g.key, i + 1, j + 1, cell.ref, given, want,
                                          is_right(given, want, abs_tol, rel_tol)))
    learner = {c.ref: c.given for c in results}
    steps = []
    for number, title in dict.fromkeys((g.number, g.title) for g in groups(sheet)):
        mine = [c for c in results if c.key.split("_")[0] == f"step{number}"]
        wrong_ids = list(dict.fromkeys(step_id_of(c.ref) for c in mine if not c.right))
        reasons = tuple(r for sid in wrong_ids for r in [_reason(sol, sheet, sid, learner, abs_tol, rel_tol)] if r)
        steps.append(StepResult(number, title, sum(c.right for c in mine), len(mine), reasons))
    return Report(tuple(results), tuple(steps))


def step_id_of(ref: str) -> str:
    return ref.split("[")[0]


def _reason(sol, sheet, step_id, learner, abs_tol, rel_tol) -> str:
    carried = _carried(sol, sheet, step_id, learner, abs_tol, rel_tol)
    if carried:
        return carried
    mine = {ref: v for ref, v in learner.items() if step_id_of(ref) == step_id}
    for name, mistake in MISTAKES:
        made = mistake(sol)
        for changed in made if isinstance(made, list) else [made]:
            if step_id not in changed:
                continue
            wrong = mistaken_cells(sol, changed, step_id)
            if wrong is not None and wrong.keys() == mine.keys() and all(
                    is_right(mine[r], wrong[r], abs_tol, rel_tol) for r in mine):
                return f"{step_id}: {name}"
    return ""


def mistaken_cells(sol, changed: dict, step_id: str):
    """The values a learner making the mistake writes in the cells of `step_id`, by cell ref."""
    steps = tuple(dataclasses.replace(s, exact=changed[s.id]) if s.id in changed else s for s in sol.steps)
    try:
        sheet = build_sheet(dataclasses.replace(sol, steps=steps))
    except (IndexError, KeyError, ValueError, TypeError):
        return None
    return {c.ref: expected(c) for c in cells(sheet.sections) if c.blank and step_id_of(c.ref) == step_id}


# Carried errors: a step recomputed from the learner's own earlier numbers -----------------------

def _grid_of(learner: dict, step_id: str) -> dict:
    """{(i, j): value} of one step's cells, 1-based, from refs like 'probs[2][3]'."""
    out = {}
    for ref, v in learner.items():
        m = _REF.fullmatch(ref)
        if m and m.group(1) == step_id:
            idx = tuple(int(x) for x in re.findall(r"\d+", m.group(2)))
            out[idx] = v
    return out


def _rows(grid: dict) -> dict:
    rows: dict = {}
    for (i, *rest), v in sorted(grid.items()):
        rows.setdefault(i, []).append(v)
    return rows


def _recompute(sol, step_id, learner):
    """(source step, {ref: value}) of `step_id` computed from the learner's own source step."""
    base = sol.spec.params.get("gate")
    b = {"softmax3": 3, "softmax2": 2, "softmax": None}.get(base)
    def numbers(grid):
        return all(isinstance(v, (Fraction, float)) for v in grid.values()) and grid
    if step_id == "powers" and b:
        src = _grid_of(learner, "scores")
        if not numbers(src):
            return None
        rows = _rows(src)
        return "scores", {f"powers[{i}][{j + 1}]": Fraction(b) ** int(v - min(r)) if float(v - min(r)).is_integer() else None
                          for i, r in rows.items() for j, v in enumerate(r)}
    if step_id == "row_sum":
        src = _grid_of(learner, "powers")
        if not numbers(src):
            return None
        return "powers", {f"row_sum[{i}][1]": sum(r) for i, r in _rows(src).items()}
    if step_id == "probs":
        powers, sums = _grid_of(learner, "powers"), _grid_of(learner, "row_sum")
        if not (numbers(powers) and numbers(sums)) or any(v == 0 for v in sums.values()):
            return None
        return "powers", {f"probs[{i}][{j + 1}]": v / sums[(i, 1)] for i, r in _rows(powers).items()
                          for j, v in enumerate(r)}
    if step_id == "weights" and "topk" in sol.has:
        probs = _grid_of(learner, "probs")
        if not numbers(probs):
            return None
        rows = _rows(probs)
        out = {}
        for t, chosen in enumerate(sol.step("topk").exact, 1):
            picked = [rows[t][int(e) - 1] for e in chosen]
            total = sum(picked) if sol.spec.params.get("renormalize") else 1
            out.update({f"weights[{t}][{r + 1}]": p / total for r, p in enumerate(picked)})
        return "probs", out
    if step_id == "load" and "routing" in sol.has:
        routing = _rows(_grid_of(learner, "routing"))
        return "routing", {f"load[{e}][1]": Fraction(sum(v is not None for v in r)) for e, r in routing.items()}
    return None


def _carried(sol, sheet, step_id, learner, abs_tol, rel_tol) -> str:
    found = _recompute(sol, step_id, learner)
    if not found:
        return ""
    source, values = found
    source_cells = {ref: v for ref, v in learner.items() if step_id_of(ref) == source}
    source_right = all(is_right(v, expected(c), abs_tol, rel_tol)
                       for c in cells(sheet.sections) if c.blank and c.ref in source_cells
                       for v in [source_cells[c.ref]])
    if source_right or not values:
        return ""
    if all(ref in learner and values[ref] is not None and is_right(learner[ref], values[ref], abs_tol, rel_tol)
           for ref in values):
        number = next(g.number for g in groups(sheet) for row in g.rows for c in row if step_id_of(c.ref) == source)
        return f"{step_id}: follows from your step {number} (a carried error, not a new one)"
    return ""
