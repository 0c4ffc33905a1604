"""Drawn boards (layout revision 3): every number lands in its own cell, centred.

The blocks of text are read back the other way round from how drawing.py writes them: a figure
space is one character's advance, a no-break space half of one, any other character one. Each
cell's number must sit within a quarter of a character of its cell's centre (the place computed
here from the grid's column widths), and inside the cell."""

import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest

from workbook.drawing import CELL_H, LABEL_H, MONO, NAME_H, PT, ROLES, draw_board, label_width, metrics
from workbook.layout import Grid, Cell, Board, scaffolded
from workbook.presets import presets
from workbook.render_html import render_html
from workbook.sheet import build_sheet
from workbook.solve import solve

FIGURE, HALF = "\u2007", "\u00a0"


def _spaced(text):
    return text.replace(" ", "\u2009").replace(HALF, "\u2009")


def _read(block):
    """A block -> [(line top y, text, centre x in mm)]: each run of other characters is one text."""
    advance = block.size * PT * MONO
    out = []
    for k, line in enumerate(block.text.split("\n")):
        at, run, start = block.x, "", 0.0
        for ch in line.lstrip("\u200b") + FIGURE:  # a zero-width space may lead the block
            if ch in (FIGURE, HALF):
                if run:
                    out.append((round(block.y + k * block.line, 3), run, start + len(run) * advance / 2, advance))
                    run = ""
                at += advance if ch == FIGURE else advance / 2
            else:
                if not run:
                    start = at
                run += ch
                at += advance
    return out


WIDTHS = (9.0, 15.0, 24.0, 60.0)  # mm: a number, a fraction with its decimal, a long exact value, a line


def _widths(grid: Grid, m=metrics()) -> list[float]:
    sizes = (m.cell_w, m.wide_w, m.long_w, m.line_w)
    assert sizes == tuple(round(m.grow * w, 3) for w in WIDTHS)
    return [sizes[max(int(r[j].wide) for r in grid.cells if j < len(r))]
            for j in range(max(len(r) for r in grid.cells))]


def _expected(grid: Grid, x: float, y: float, answer_key: bool, m=metrics()):
    """With m, the measures of a sheet whose cells grow with its type (revision 4): every length
    times m.grow."""
    k = m.grow
    """(role, line top, text, cell left, cell width) of every number of a grid."""
    widths = _widths(grid, m)
    assert (m.name_h, m.label_h, m.cell_h) == tuple(round(k * v, 3) for v in (NAME_H, LABEL_H, CELL_H))
    for i, row in enumerate(grid.cells):
        for j, cell in enumerate(row):
            left = x + label_width(grid, m) + sum(widths[:j])
            top = y + m.name_h + m.label_h + m.cell_h * i
            shown = []
            if not cell.blank:
                shown = [("given", cell.given)]
            elif answer_key and cell.answer and not cell.decimal:
                shown = [("whole", cell.answer)]
            elif answer_key and cell.decimal:
                shown = ([("frac", cell.answer)] if cell.answer else []) + \
                        [("dec" if cell.answer else "dec-only", cell.decimal)]
            for role, text in shown:
                if text:
                    yield role, round(top + k * ROLES[role][1], 3), _spaced(text), left, widths[j]


class _Found(dict):
    """(role, line top, text) -> places, a top matching within 0.02 mm: grown measures are rounded
    to 0.001 mm, so a line's top may differ in its last places from the one computed here."""

    def setdefault(self, key, default):
        role, top, text = key
        places = dict.setdefault(self, (role, text), [])
        places.append((top, default))
        return default

    def get(self, key, default=None):
        role, top, text = key
        spots = [spot for near, spots in dict.get(self, (role, text), []) if abs(near - top) < 0.02
                 for spot in spots]
        return spots or default

    def __getitem__(self, key):
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found


def _boards(sheet):
    for section in sheet.sections:
        yield from section.boards


CASES = [(p.name, seed, size, level) for p in presets() for seed, size, level in
         ((None, 0.0, "standard"), (5, 11.0, "guided"), (9, 7.0, "standard"), (3, 12.0, "standard"))]


@pytest.mark.parametrize("name,seed,size,level", CASES)
def test_every_number_sits_centred_in_its_own_cell(name, seed, size, level):
    preset = next(p for p in presets() if p.name == name)
    sheet = scaffolded(build_sheet(solve(preset.spec(seed=seed))), level)
    assert sheet.revision >= 3  # drawn boards
    for board in _boards(sheet):
        if not board.panels:
            continue
        grow = sheet.revision >= 4
        drawing = draw_board(board, size, grow)
        m = metrics(drawing.base, grow)
        assert drawing.base == (size or 9.0) or (grow and drawing.base >= 9.0 and drawing.width <= 186.0)
        if grow:  # a board fits the page; one set smaller than the sheet's size only where it must
            assert drawing.width <= 186.0 or drawing.base == 9.0
        found = _Found()
        for block in drawing.texts + drawing.answers:
            for top, text, centre, advance in _read(block):
                found.setdefault((block.role, top, text), []).append((centre, advance))
        for grid, x, y in drawing.grids:
            for role, top, text, left, width in _expected(grid, x, y, True, m):
                spots = found.get((role, top, text))
                assert spots, (name, grid.name, role, text)
                centre, advance = min(spots, key=lambda s: abs(s[0] - (left + width / 2)))
                assert abs(centre - (left + width / 2)) <= advance / 4 + 1e-6, (grid.name, text)
                half = len(text) * advance / 2
                assert left < centre - half and centre + half < left + width, (grid.name, text)
                # clear of the cell's lines: half the metrics' margin (1 mm from revision 4 on)
                assert min(centre - half - left, left + width - centre - half) >= m.margin / 2 - 1e-6, (grid.name, text)
            _labels_fit(grid, x, y, found, m)
        ET.fromstring(unquote(drawing.background.split(",", 1)[1]))  # a well-formed picture


def _labels_fit(grid, x, y, found, m=metrics()):
    """Row labels sit whole between the panel's left edge and the cells; column labels in their cells."""
    widths = _widths(grid, m)
    cells_left, cells_top = x + label_width(grid, m), y + m.name_h + m.label_h
    for i, label in enumerate(grid.row_labels[:len(grid.cells)]):
        if not label:
            continue
        text = _spaced(label)
        spots = found[("row", round(cells_top + m.cell_h * i, 3), text)]
        centre, advance = min(spots, key=lambda s: abs(s[0] - cells_left))
        half = len(text) * advance / 2
        assert x - advance / 4 <= centre - half and centre + half <= cells_left - 0.5, (grid.name, label)
    for j, label in enumerate(grid.col_labels[:len(widths)]):
        if not label:
            continue
        text = _spaced(label)
        left = cells_left + sum(widths[:j])
        spots = found[("col", round(y + m.name_h, 3), text)]
        centre, advance = min(spots, key=lambda s: abs(s[0] - (left + widths[j] / 2)))
        half = len(text) * advance / 2
        assert left <= centre - half and centre + half <= left + widths[j], (grid.name, label)


def test_a_board_places_panels_as_rows_and_columns_bottom_aligned():
    tall = Grid("W", tuple((Cell(given="1"),) * 2 for _ in range(3)), ("1", "2", "3"), ("a", "b"))
    short = Grid("X", ((Cell(given="2"),),), ("t1",), ("1",))
    product = Grid("S", ((Cell(blank=True, answer="3"),) * 2,), ("t1",), ("a", "b"))
    drawing = draw_board(Board(((None, tall), (short, product))))
    places = {g.name: (x, y) for g, x, y in drawing.grids}
    assert places["W"][0] == places["S"][0] > places["X"][0] == 0          # W above S, X to its left
    assert places["X"][1] == places["S"][1] > places["W"][1] == 0
    assert drawing.height == pytest.approx(NAME_H + LABEL_H + 3 * CELL_H + 1 + NAME_H + LABEL_H + CELL_H)
    assert [b.role for b in drawing.answers] == ["whole"] and "3" in drawing.answers[0].text


def test_the_worksheet_leaves_the_answers_out_and_the_key_has_them():
    sheet = build_sheet(solve(presets()[0].spec()))
    worksheet, key = render_html(sheet, False), render_html(sheet, True)
    assert 'class="t whole only-key"' in key and 'class="t whole' not in worksheet
    assert worksheet.count('class="drawn"') == key.count('class="drawn"') > 0
