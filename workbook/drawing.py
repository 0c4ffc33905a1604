"""Drawn boards (layout revision 3): a board's panels placed in millimetres, the cells of all its
grids one background picture, and its numbers and labels a few blocks of monospaced text.

Why: WeasyPrint's layout time grows with the number of boxes and runs of text. A grid as a table
is a box per cell and two width passes per table. Here a board is one box whose cell lines and
grey fills are one SVG background; every number of one kind (given, whole answer, fraction,
decimal, label) that sits on the same row pitch goes into one block of monospaced text, a line per
row, across all the grids of a board row. In a monospaced font every character has the same
advance, so a number's place is a count of characters (and half characters): each number sits
centred in its cell within a quarter of a character. Text too long for its cell is set smaller, in a
block of its own size. From layout revision 4, a sheet set above 9 pt gets cells grown by the same
factor (metrics). Leaves out: what the cells hold (sheet.py) and the HTML around it
(templates/worksheet.html).
"""

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from workbook.layout import Board, Figure, Grid

PT = 25.4 / 72              # millimetres per point
MONO = 1233 / 2048          # advance of every DejaVu Sans Mono glyph, in em
CELL_W, WIDE_W, CELL_H = 9.0, 15.0, 8.0
LONG_W, LINE_W = 24.0, 60.0  # a long exact value (Cell.wide 2: 14 characters), a line (3)
ROW_LABEL_W = 7.0           # the row-label column at least, its 1 mm gap to the cells included
LABEL_H = 4.0               # the column-label row
NAME_H = 3.4                # the grid's name above it
GAP_X, GAP_Y = 3.0, 1.0     # between panels of a board
TEXT_W = 186.0              # the widest a board may be: A4's text width (210 − 2 × 12 mm margins)
MARGIN = 0.6                # a number keeps at least half of this from each side of its cell
ROOMY = 2.0                 # the same from layout revision 4: a number never touches its cell's lines
FIGURE_NAME_H = 3.6
LABEL_PT, NAME_PT = 6.5, 7.5
# role -> (size relative to the sheet's base size, offset of its line's middle from the cell's, mm)
ROLES = {"given": (1.0, 0.0), "whole": (1.0, 0.0), "frac": (7.5 / 9, -1.2), "dec": (6.5 / 9, 1.4),
         "dec-only": (6.5 / 9, 0.0)}
ANSWER_ROLES = {"whole", "frac", "dec", "dec-only"}


@dataclass(frozen=True)
class Metrics:
    """A board's measures in mm (and its labels' sizes in points): the ones above, all grown by
    the same factor when the sheet's type is larger than 9 pt (layout revision 4 on), so that
    cells grow with the type."""

    cell_w: float = CELL_W
    wide_w: float = WIDE_W
    long_w: float = LONG_W
    line_w: float = LINE_W
    cell_h: float = CELL_H
    row_label_w: float = ROW_LABEL_W
    label_h: float = LABEL_H
    name_h: float = NAME_H
    label_pt: float = LABEL_PT
    name_pt: float = NAME_PT
    grow: float = 1.0  # the factor, for the answers' offsets (ROLES)
    name_room: bool = False  # a panel is as wide as its name at least (revision 4 on)
    margin: float = MARGIN  # a number keeps half of this from each side of its cell


def metrics(font_size: float = 0.0, grow: bool = False) -> Metrics:
    """The measures for a sheet's base type size. Without `grow` (layout revisions before 4),
    today's; with it, every measure times font_size / 9 above 9 pt, and room for every name."""
    if not grow:
        return _STANDARD
    k = font_size / 9 if font_size > 9 else 1.0
    return Metrics(*(round(v * k, 3) for v in (CELL_W, WIDE_W, LONG_W, LINE_W, CELL_H, ROW_LABEL_W, LABEL_H,
                                               NAME_H, LABEL_PT, NAME_PT)), k, True, ROOMY * k)


_STANDARD = Metrics()


@dataclass(frozen=True)
class Text:
    """A block of text at (x, y) mm on the board, lines `line` mm apart; every text in it is placed
    by the characters before it on its line (see _Blocks)."""

    role: str
    x: float
    y: float
    size: float          # points
    text: str
    line: float
    width: float         # fixed, so that WeasyPrint need not measure the text to size the block


@dataclass(frozen=True)
class Drawing:
    """A board drawn: its size, one background picture for all its grids, the texts of the given
    numbers and labels, the answers' texts (key only), and each grid and figure with its place
    (x, y of its top-left corner, mm)."""

    width: float
    height: float
    background: str
    texts: tuple[Text, ...]
    answers: tuple[Text, ...]
    grids: tuple[tuple[Grid, float, float], ...]
    figures: tuple[tuple[Figure, float, float], ...]
    base: float = 9.0  # the type size it was set in (points): the sheet's, or the largest that fits


def draw_board(board: Board, font_size: float = 0.0, grow: bool = False) -> Drawing:
    """Panels in rows and columns, each column as wide as its widest panel, each row as tall as its
    tallest, panels sitting on their row's bottom line: the places the table layout gave them.
    With `grow` (layout revision 4 on), cells grow with a base type size above 9 pt, as far as the
    board still fits the page's width (TEXT_W): a wider board is set in the largest size that fits."""
    base = font_size or 9.0
    m = metrics(base, grow)
    while grow and base > 9.0 and _columns(board, m)[-1] > TEXT_W:
        base = max(9.0, base - 0.5)
        m = metrics(base, grow)
    sizes, xs = _columns(board, m)[:2]
    grids, figures, y = [], [], 0.0
    for row, row_sizes in zip(board.panels, sizes):
        tall = max((h for _, h in row_sizes), default=0.0)
        for j, panel in enumerate(row):
            if panel is None:
                continue
            top = y + tall - row_sizes[j][1]
            if isinstance(panel, Grid):
                grids.append((panel, xs[j], top))
            else:
                figures.append((panel, round(xs[j], 2), round(top, 2)))
        y += tall + GAP_Y
    width = round(max([x + _size(g, m)[0] for g, x, _ in grids] + [x + _size(f, m)[0] for f, x, _ in figures]
                      + [0.0]), 2)
    height = round(max(y - GAP_Y, 0.0), 2)
    blocks = _Blocks()
    for grid, x, top in grids:
        _put_grid(blocks, grid, x, top, base, m)
    grids = [(grid, round(x, 2), round(top, 2)) for grid, x, top in grids]
    texts = blocks.texts(width, every_line=m.name_room)
    return Drawing(width, height, _background(width, height, tuple((x, y, _shape(g, m)) for g, x, y in grids), m),
                   tuple(t for t in texts if t.role not in ANSWER_ROLES),
                   tuple(t for t in texts if t.role in ANSWER_ROLES), tuple(grids), tuple(figures), base)


def _columns(board: Board, m: Metrics) -> tuple[list, list, float]:
    """Each panel's (width, height), each column's left edge, and the board's width."""
    sizes = [[_size(p, m) if p is not None else (0.0, 0.0) for p in row] for row in board.panels]
    ncols = max((len(row) for row in board.panels), default=0)
    widths = [max((r[j][0] for r in sizes if j < len(r)), default=0.0) for j in range(ncols)]
    xs = [sum(widths[:j]) + GAP_X * j for j in range(ncols)]
    return sizes, xs, (xs[-1] + widths[-1]) if ncols else 0.0


def _size(panel, m: Metrics = _STANDARD) -> tuple[float, float]:
    if isinstance(panel, Figure):  # its name: 7.5 pt DejaVu Sans, at most 0.62 em a character
        name = len(panel.name) * 7.5 * PT * 0.62 if m.name_room else 0.0
        return max(panel.width_mm + 0.6, name), panel.height_mm + 0.6 + FIGURE_NAME_H
    width = label_width(panel, m) + sum(_widths(panel, m))
    if m.name_room:  # the name starts above the cells and must end before the next panel
        width = max(width, label_width(panel, m) + (len(panel.name) + 1) * m.name_pt * PT * MONO)
    return width, m.name_h + m.label_h + m.cell_h * len(panel.cells)


def label_width(grid: Grid, m: Metrics = _STANDARD) -> float:
    """The row-label column with its gap: 7 mm, or as wide as the longest label on one line."""
    longest = max((len(label) for label in grid.row_labels), default=0)
    return max(m.row_label_w, round(longest * m.label_pt * PT * MONO + 1.5, 2))


def _widths(grid: Grid, m: Metrics = _STANDARD) -> list[float]:
    """Column widths: as wide as its widest cell (Cell.wide: 0 a number, 1 a fraction and its
    decimal, 2 a long exact value, 3 a line)."""
    n = max((len(r) for r in grid.cells), default=0)
    sizes = (m.cell_w, m.wide_w, m.long_w, m.line_w)
    return [sizes[max((int(r[j].wide) for r in grid.cells if j < len(r)), default=0)] for j in range(n)]


def _shape(grid: Grid, m: Metrics = _STANDARD) -> tuple:
    return label_width(grid, m), tuple(_widths(grid, m)), tuple(tuple(not c.blank for c in row) for row in grid.cells)


def _put_grid(blocks, grid: Grid, x: float, top: float, base: float, m: Metrics = _STANDARD) -> None:
    """A grid's name, labels, given numbers and answers, each where it goes on the board."""
    widths, left = _widths(grid, m), label_width(grid, m)
    starts = [x + left + sum(widths[:j]) for j in range(len(widths))]
    cells_top = top + m.name_h + m.label_h
    blocks.put("name", grid.name, m.name_pt, top, m.name_h, x + left, 0.0, align="left")
    for j, label in enumerate(grid.col_labels[:len(widths)]):  # a long label is set smaller
        size = min(m.label_pt, (widths[j] - m.margin) / ((len(label) + 0.5) * PT * MONO))
        blocks.put("col", label, size, top + m.name_h, m.label_h, starts[j], widths[j])
    for i, label in enumerate(grid.row_labels[:len(grid.cells)]):
        blocks.put("row", label, m.label_pt, cells_top + m.cell_h * i, m.cell_h, x, left - 1, align="right")
    for i, row in enumerate(grid.cells):
        y = cells_top + m.cell_h * i
        for j, cell in enumerate(row):
            place = (y, m.cell_h, starts[j], widths[j])
            if not cell.blank:
                _put_number(blocks, "given", cell.given, base, place, m)
            elif cell.answer and not cell.decimal:
                _put_number(blocks, "whole", cell.answer, base, place, m)
            elif cell.decimal:
                if cell.answer:
                    _put_number(blocks, "frac", cell.answer, base, place, m)
                _put_number(blocks, "dec" if cell.answer else "dec-only", cell.decimal, base, place, m)


def _put_number(blocks, role: str, text: str, base: float, place, m: Metrics = _STANDARD) -> None:
    y, line, x, width = place
    scale, dy = ROLES[role]
    dy *= m.grow
    size = base * scale
    room = (len(text) + 0.5) * PT * MONO  # per point of size, with half a character for rounding
    if size * room > width - m.margin:  # too long: smaller, in a block of its own size
        size = (width - m.margin) / room
    blocks.put(role, text, size, y + dy, line, x, width)


class _Blocks:
    """Collects texts into blocks: one per role, size and row pitch, a line per row. Each text is
    placed by counting characters from the block's left edge: figure spaces (U+2007) step one
    character, and a no-break space steps half of one (the blocks' CSS word-spacing takes half
    a character off it), so every text sits within a quarter character of its place."""

    def __init__(self):
        self.blocks: dict[tuple, dict] = {}

    def put(self, role: str, text: str, size: float, y: float, line: float, x: float, width: float,
            align: str = "centre") -> None:
        if not text:
            return
        size = round(size, 2)
        key = (role, size, round(line, 3), round(y % line, 3))
        self.blocks.setdefault(key, {}).setdefault(round(y, 3), []).append((x, width, align, text))

    def texts(self, board_width: float, every_line: bool = False) -> list[Text]:
        """The blocks as Texts. `every_line` (layout revision 4 on): every line that starts with a
        no-break space gets a zero-width space in front, not only the block's first (WeasyPrint
        does not give a line-leading no-break space its half width)."""
        out = []
        for (role, size, line, _), rows in self.blocks.items():
            advance = size * PT * MONO
            for y0, count in _runs(sorted(rows), line):
                placed = [[(round(2 * _start(x, width, align, len(text) * advance) / advance), align,
                            _spaced(text))
                           for x, width, align, text in sorted(rows.get(round(y0 + k * line, 3), []))]
                          for k in range(count)]
                left = max(min(halves for spots in placed for halves, _, _ in spots), 0) // 2  # whole characters
                lines = []
                for spots in placed:
                    chars, at = "", 2 * left  # at: half characters from the board's left edge
                    for halves, align, text in spots:
                        pad = max(halves - at, 2 if chars and align == "left" else 0)  # names never run together
                        chars += "\u2007" * (pad // 2) + "\u00a0" * (pad % 2) + text
                        at += pad + 2 * len(text)
                    lines.append(chars)
                x = round(left * advance, 3)
                if every_line:  # a line that starts with a half step keeps it half, as inside a line
                    lines = ["\u200b" + line if line.startswith("\u00a0") else line for line in lines]
                text = "\n".join(lines)
                if text.startswith("\u00a0"):  # WeasyPrint doubles the spacing of a block's very first
                    text = "\u200b" + text     # space; a zero-width space in front keeps it a half
                out.append(Text(role, x, round(y0, 3), size, text, line, round(board_width - x, 3)))
        return out


def _spaced(text: str) -> str:
    """A text's own spaces as U+2009, one full character: a space or no-break space would be
    narrowed by the blocks' word-spacing, and figure spaces are the padding."""
    return text.replace(" ", "\u2009").replace("\u00a0", "\u2009")


def _start(x: float, width: float, align: str, length: float) -> float:
    """Where a text `length` mm long starts in its cell [x, x + width], in mm."""
    if align == "left":
        return x
    if align == "right":
        return x + width - length
    return x + (width - length) / 2


def _runs(ys: list[float], line: float):
    """Line tops -> (first top, number of lines) blocks, a new block where more than one line
    would stay empty."""
    runs, first, last = [], ys[0], ys[0]
    for y in ys[1:]:
        if round((y - last) / line) > 2:
            runs.append((first, round((last - first) / line) + 1))
            first = y
        last = y
    runs.append((first, round((last - first) / line) + 1))
    return runs


@lru_cache(maxsize=512)
def _background(width: float, height: float, shapes: tuple, m: Metrics = _STANDARD) -> str:
    """Every grid of the board in one SVG: grey fills for runs of given cells, then the cell
    lines (whole lines per row and column boundary where a grid is a rectangle). Few path
    commands, because WeasyPrint parses the picture again each time it draws it."""
    grey, lines = [], []
    h = m.cell_h
    for x, y, (label_w, widths, given) in shapes:
        left, top = x + label_w, y + m.name_h + m.label_h
        edges = [round(left + sum(widths[:j]), 3) for j in range(len(widths) + 1)]
        bottom = top + h * len(given)
        for i, row in enumerate(given):
            y0 = top + h * i
            j = 0
            while j < len(row):
                k = j
                while k < len(row) and row[k] == row[j]:
                    k += 1
                if row[j]:
                    grey.append(f"M{edges[j]:g} {y0:g}H{edges[k]:g}V{y0 + h:g}H{edges[j]:g}z")
                j = k
        if all(len(row) == len(widths) for row in given):
            lines += [f"M{left:g} {top + h * i:g}H{edges[-1]:g}" for i in range(len(given) + 1)]
            lines += [f"M{e:g} {top:g}V{bottom:g}" for e in edges]
        else:
            lines += [f"M{edges[j]:g} {top + h * i:g}H{edges[j + 1]:g}V{top + h * (i + 1):g}"
                      f"H{edges[j]:g}z" for i, row in enumerate(given) for j in range(len(row))]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}mm" height="{height:g}mm" '
           f'viewBox="0 0 {width:g} {height:g}">'
           + (f'<path fill="#ececec" d="{"".join(grey)}"/>' if grey else "")
           + (f'<path fill="none" stroke="#000" stroke-width="0.3" stroke-linecap="square" d="{"".join(lines)}"/>'
              if lines else "") + "</svg>")
    return "data:image/svg+xml," + quote(svg, safe=" =:/\".-")
