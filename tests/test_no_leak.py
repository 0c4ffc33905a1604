"""A worksheet reveals nothing but the inputs: its boxes, rows, frames and page breaks depend on the
parameters only, never on the answers (layout.answer_free, edition 3 on).

Two checks for every preset: the sheet model of 12 seeds has the same geometry (every grid's shape
with which cells are given, blank or wide, every picture's frame, every caption and label); and
the printed worksheets of 3 seeds (A4, 9 pt; and 2 seeds on Letter at another offered size), with
every text object taken out of the PDF's pages (pikepdf), are the same pictures page for page (the
text was laid out, so line and page breaks still count).
"""

import dataclasses
import io

import pikepdf
import pytest
from conftest import pictures as page_pictures

from workbook.layout import Figure, Grid
from workbook.presets import preset, presets
from workbook.render_html import render_html
from workbook.render_pdf import render_pdf
from workbook.sheet import build_sheet
from workbook.solve import solve

NAMES = [p.name for p in presets()]


def geometry(sheet) -> list:
    """Everything about a sheet's shape, none of its numbers."""
    out = []
    for section in sheet.sections:
        out.append(("step", section.number, section.title))
        for board in section.boards:
            out.append(("board", board.caption))
            for row in board.panels:
                for panel in row:
                    if isinstance(panel, Grid):
                        out.append((panel.name, panel.row_labels, panel.col_labels,
                                    tuple(tuple((c.blank, c.wide) for c in line) for line in panel.cells)))
                    elif isinstance(panel, Figure):
                        out.append((panel.name, panel.width_mm, panel.height_mm))
                    else:
                        out.append(None)
    return out


def _sheet(name: str, seed: int):
    return build_sheet(solve(preset(name).spec(seed=seed)))


@pytest.mark.parametrize("name", NAMES)
def test_every_seed_has_the_same_geometry(name):
    first = geometry(_sheet(name, 1))
    for seed in range(2, 13):
        assert geometry(_sheet(name, seed)) == first, f"{name}: seed {seed} differs from seed 1"


def _without_text(pdf: bytes) -> bytes:
    """The PDF with every text object (BT ... ET) taken out of its pages' content."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            kept, inside = [], False
            for operands, operator in pikepdf.parse_content_stream(page):
                name = str(operator)
                if name == "BT":
                    inside = True
                if not inside:
                    kept.append((operands, operator))
                if name == "ET":
                    inside = False
            page.Contents = doc.make_stream(pikepdf.unparse_content_stream(kept))
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()


SIZES = (7, 8, 10, 11, 12)
# Every preset at 9 pt on A4 and on Letter at another size: in the everyday run each on one of the
# two in turn, the other with the full audit (`pytest -m full_audit`, which .ci/run runs too).
PRINTS = [pytest.param(name, paper, size, id=f"{name}-{paper}-{size}pt",
                       marks=() if (i + (paper == "letter")) % 2 == 0 else pytest.mark.full_audit)
          for i, name in enumerate(NAMES) for paper, size in (("a4", 9), ("letter", SIZES[i % len(SIZES)]))]


@pytest.mark.parametrize("name, paper, size", PRINTS)
def test_worksheets_without_their_text_are_the_same_picture(name, paper, size, tmp_path):
    """Every preset at 9 pt on A4, and on Letter at another offered size (each size on several
    presets): seeds 1, 2 and 3 (two seeds off the default size) print the same pages."""
    pictures = []
    for seed in (1, 2, 3) if size == 9 else (1, 2):
        sheet = dataclasses.replace(build_sheet(solve(preset(name).spec(seed=seed)), paper),
                                    font_size=0.0 if size == 9 else float(size))
        pictures.append(page_pictures(_without_text(render_pdf(render_html(sheet))), tmp_path, f"s{seed}", dpi=30))
    for seed, pages in enumerate(pictures[1:], 2):
        assert len(pages) == len(pictures[0]), f"{name}: seed {seed} has {len(pages)} pages, seed 1 {len(pictures[0])}"
        for number, (a, b) in enumerate(zip(pictures[0], pages), 1):
            assert a == b, f"{name} {paper} {size} pt: seed {seed} page {number} differs from seed 1 without text"
