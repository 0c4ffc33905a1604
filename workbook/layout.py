"""The sheet model: what goes where on the page, for worksheet and key alike.

A Sheet is sections of numbered steps; each section holds boards, and a board places panels the
"by hand" way (W above, X to the left, the product at the crossing). A panel is a Grid of cells or
a Figure. A Cell is either given (a number printed on both sheets) or blank (empty on the
worksheet, the answer on the key). The templates only walk this structure; the helpers below make
grids from exact values. Leaves out: which steps an exercise has (sheet.py), HTML and file formats.
"""

from dataclasses import dataclass, field, replace

from workbook.formatting import decimal2, is_whole, pretty
from workbook.spec import SCAFFOLDS  # noqa: F401 (layout's own name for them too)


@dataclass(frozen=True)
class Cell:
    given: str = ""      # printed on both sheets
    answer: str = ""     # exact answer, key only (blank cells)
    decimal: str = ""    # 2-decimal value beside a non-integer answer
    blank: bool = False
    wide: int = False    # room for a fraction and its decimal (1); for a long exact value (2), a line (3)
    ref: str = ""        # step id and position, e.g. 'probs[2][3]' (1-based)
    value: object = None  # a blank's exact value (sympy), for checking answers; never printed


@dataclass(frozen=True)
class Grid:
    name: str
    cells: tuple[tuple[Cell, ...], ...]
    row_labels: tuple[str, ...] = ()
    col_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figure:
    """A drawing: on the key the SVG picture, on the worksheet an empty frame of the same size."""

    name: str
    svg: str
    width_mm: float
    height_mm: float


@dataclass(frozen=True)
class Board:
    """Panels placed in rows and columns; None leaves a gap. `caption` names the board."""

    panels: tuple[tuple[Grid | Figure | None, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    instruction: str
    boards: tuple[Board, ...]


@dataclass(frozen=True)
class Sheet:
    title: str
    code: str
    exercise: str
    seed: int
    conventions: tuple[str, ...]
    hand_work: str
    sections: tuple[Section, ...]
    paper: str = "a4"
    blanks: int = field(default=0)
    # Layout revision: 1 keeps the bytes of sheets whose codes were printed before revision 2
    # (key and worksheet headers of equal height) existed; every later exercise uses 2.
    revision: int = 1
    # A class set's own touches (exam.py): the student's name on the name line and in the footer,
    # the form letter beside the code, and a font size; all empty for a plain sheet.
    student: str = ""
    form: str = ""
    font_size: float = 0.0
    # Faded worked examples (scaffold 'faded'): per step number, the worked lines of its first
    # rows, printed under the step on both sides.
    examples: tuple[tuple[int, tuple[str, ...]], ...] = ()

    @property
    def name_size(self) -> float:
        """Points for the student's name so that it fits its 78 mm line: 10, down to 5 for long names."""
        return round(min(10.0, max(5.0, 78 / (0.19 * max(len(self.student), 1)))), 1)


def answer_free(spec) -> bool:
    """Edition 3 on: every box, row, frame and page break of a worksheet depends on the parameters
    only, never on the answers (where a number of rows is an answer, the most the parameters
    allow, spare rows left empty); the key tells its answers apart without colour too. Earlier
    editions keep the layout their codes were printed with."""
    return spec.edition >= 3


def given_grid(name, rows, row_labels=(), col_labels=()) -> Grid:
    return Grid(name, tuple(tuple(Cell(given=pretty(v)) for v in row) for row in rows),
                tuple(row_labels), tuple(col_labels))


def answer_cell(value, ref: str, wide: int, places: int = 2, full: bool = False) -> Cell:
    """A blank for an exact value: the exact text (and a decimal under a non-integer). Without
    `full`, a long non-rational one (over 9 characters) shows its decimal alone (the exact form
    in JSON); with it (answer-free sheets' long cells), the exact text too."""
    text = pretty(value)
    dec = "" if is_whole(value) else decimal2(value, places).replace("-", "−")
    if not value.is_Rational and len(text) > 9 and not full:
        text = ""  # long e-expressions: the decimal alone on the page, the exact form in JSON
    return Cell(answer=text, decimal=dec, blank=True, wide=wide, ref=ref, value=value)


def blank_grid(name, step_id, rows, row_labels=(), col_labels=(), wide=False, width=None, places=2,
               full: bool = False) -> Grid:
    """Blank cells for the exact values in `rows`; ragged rows are padded to `width` blanks."""
    width = width if width is not None else max((len(r) for r in rows), default=0)
    cells = []
    for i, row in enumerate(rows):
        line = [answer_cell(v, f"{step_id}[{i + 1}][{j + 1}]", wide, places, full) for j, v in enumerate(row)]
        line += [Cell(blank=True, wide=wide, ref=f"{step_id}[{i + 1}][{j + 1}]")
                 for j in range(len(row), width)]
        cells.append(tuple(line))
    return Grid(name, tuple(cells), tuple(row_labels), tuple(col_labels))


def labels(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i + 1}" for i in range(n))


def step_id_of(ref: str) -> str:
    """A cell's step id from its ref: 'probs[2][3]' -> 'probs'."""
    return ref.split("[")[0]


def ordinal(i: int) -> str:
    """0 -> '1st', 3 -> '4th'."""
    return ("1st", "2nd", "3rd")[i] if i < 3 else f"{i + 1}th"


def cells(sections):
    """Every cell of the sheet, in reading order."""
    for sec in sections:
        for board in sec.boards:
            for row in board.panels:
                for grid in row:
                    if isinstance(grid, Grid):
                        for line in grid.cells:
                            yield from line




def scaffolded(sheet: Sheet, level: str, examples: tuple = ()) -> Sheet:
    """How much help the sheet gives. 'standard': as built. 'guided': the first row of every grid
    to fill is printed filled in, as a worked start. 'faded' (faded worked examples, Renkl and
    Atkinson): in every grid of two rows or more, the first row filled in and worked out under
    the step (`examples`: solutions.first_rows), the second row filled in but for its last box,
    the rest blank. 'exam': only the inputs and the answer spaces: no step instructions and no
    hand-work line (the conventions box stays)."""
    if level == "standard":
        return sheet
    if level == "exam":
        sections = tuple(replace(s, instruction="") for s in sheet.sections)
        return replace(sheet, sections=sections, hand_work="")
    fill = _faded if level == "faded" else _guided
    sections = tuple(replace(s, boards=tuple(replace(b, panels=tuple(tuple(fill(p) for p in row)
                                                                    for row in b.panels)) for b in s.boards))
                     for s in sheet.sections)
    return replace(sheet, sections=sections, blanks=sum(c.blank for c in cells(sections)),
                   examples=examples if level == "faded" else ())


def _given(cell: Cell) -> Cell:
    """A blank printed filled in (its answer as a given), where the key has one."""
    return Cell(given=cell.answer or cell.decimal, wide=cell.wide) if cell.blank and (cell.answer or cell.decimal) else cell


def _guided(panel):
    if not isinstance(panel, Grid) or not panel.cells:
        return panel
    return replace(panel, cells=(tuple(_given(c) for c in panel.cells[0]),) + panel.cells[1:])


def faded_rows(panel) -> bool:
    """A grid the faded scaffold fills: two rows or more, with boxes to fill."""
    return isinstance(panel, Grid) and len(panel.cells) >= 2 and any(c.blank for c in panel.cells[0])


def _faded(panel):
    """First row filled in; second row filled in but for its last box with an answer."""
    if not faded_rows(panel):
        return panel
    second = panel.cells[1]
    last = max((j for j, c in enumerate(second) if c.blank and (c.answer or c.decimal)), default=-1)
    return replace(panel, cells=(tuple(_given(c) for c in panel.cells[0]),
                                 tuple(c if j == last else _given(c) for j, c in enumerate(second)))
                   + panel.cells[2:])
