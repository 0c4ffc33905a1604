"""The printed pages themselves, audited (tests/page_audit.py): no two glyphs collide, no drawn line
runs through or touches a glyph, nothing off the page or within 3 mm of its edge, no text under 5 pt;
and every step's heading is on the page of its whole instruction and its first grid.

Every preset, worksheet and key, once, on the twelve pairs of paper (A4, Letter) and offered size
(7 to 12 pt) in turn, so that every size is audited on both papers; laid out as `exam PRESET
--variants 1 --font-size N` lays them out. With `-m full_audit`: every preset on both papers at
every size. The whole grid (every size for every
preset, and the presets' own seeds) is `python benchmarks/page_audit.py`.
"""

import dataclasses
import io

import pytest
from page_audit import audit
from pypdf import PdfReader

from workbook.exam import plan_exam
from workbook.layout import Grid
from workbook.presets import preset, presets
from workbook.render_html import printable
from workbook.render_pdf import lay_out, print_sheets
from workbook.sheet import build_sheet

OTHER_SIZES = (7, 8, 10, 11, 12)
NAMES = [p.name for p in presets()]
# each preset once, the twelve paper and size pairs in turn (so each pair on several presets)
PAIRS = [(paper, size) for size in (9,) + OTHER_SIZES for paper in ("a4", "letter")]
CASES = [(name, *PAIRS[i % len(PAIRS)]) for i, name in enumerate(NAMES)]


FULL = [(name, paper, size) for name in NAMES for paper in ("a4", "letter") for size in sorted((9,) + OTHER_SIZES)]


@pytest.mark.parametrize("name, paper, size", CASES, ids=[f"{n}-{p}-{s}pt" for n, p, s in CASES])
def test_printed_pages_pass_the_audit(name, paper, size):
    _audited(name, paper, size)


@pytest.mark.full_audit
@pytest.mark.parametrize("name, paper, size", FULL, ids=[f"{n}-{p}-{s}pt" for n, p, s in FULL])
def test_every_sheet_passes_the_audit(name, paper, size):
    _audited(name, paper, size)


def _audited(name: str, paper: str, size: int) -> None:
    sol = plan_exam([preset(name)], 1, variants=1)[0].solutions[0][1]
    sheet = dataclasses.replace(build_sheet(sol, paper), font_size=0.0 if size == 9 else float(size))
    pdfs = print_sheets([[lay_out(printable(sheet))]]).pdfs
    for side in ("worksheet", "key"):
        problems = audit(pdfs[side])
        assert not problems, f"{name} {paper} {size} pt {side} ({sol.code}):\n" + "\n".join(problems[:8])
    _headings_stay_with_their_boxes(sheet, pdfs["worksheet"], f"{name} {paper} {size} pt")


def _headings_stay_with_their_boxes(sheet, pdf: bytes, what: str) -> None:
    """Each step's heading is on the page of its whole instruction and its first grid's name."""
    pages = [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]
    for section in sheet.sections:
        at = next(i for i, text in enumerate(pages) if f"Step {section.number} ·" in text)
        end = " ".join(section.instruction.split()[-4:])
        assert end in pages[at], f"{what}: Step {section.number}'s instruction runs past page {at + 1}"
        first = next((panel.name for board in section.boards for row in board.panels for panel in row
                      if isinstance(panel, Grid)), None)
        if first:
            assert " ".join(first.split()) in pages[at], f"{what}: Step {section.number}'s '{first}' is not on page {at + 1}"


def test_every_offered_size_is_audited_on_both_papers():
    assert {(paper, size) for _, paper, size in CASES} >= {(p, s) for p in ("a4", "letter") for s in (9,) + OTHER_SIZES}


SOLUTIONS = [(name, paper, size) for name in NAMES for paper, size in (("a4", 9), ("letter", 12))]


@pytest.mark.full_audit
@pytest.mark.parametrize("name, paper, size", SOLUTIONS, ids=[f"{n}-{p}-{s}pt" for n, p, s in SOLUTIONS])
def test_worked_solutions_pass_the_audit(name, paper, size):
    """The third side (the key with the working under each step), at the default size on A4 and
    the largest on Letter."""
    from workbook.render_html import render_solutions
    from workbook.render_pdf import single_pdf
    from workbook.solutions import sections, worked

    sol = plan_exam([preset(name)], 1, variants=1)[0].solutions[0][1]
    sheet = dataclasses.replace(build_sheet(sol, paper), font_size=0.0 if size == 9 else float(size))
    problems = audit(single_pdf(render_solutions(sheet, sections(sheet, worked(sol, sheet)))))
    assert not problems, f"{name} {paper} {size} pt solutions ({sol.code}):\n" + "\n".join(problems[:8])
