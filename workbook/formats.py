"""Output formats: a small name -> renderer table. Adding a format is one module and one line.

A renderer takes a solved variant and its sheet and returns (file suffix, bytes) pairs; only
write.py touches the file system. Each renderer imports its module when it runs (Jinja2 for
HTML, WeasyPrint for PDF), so choosing formats loads none of them. Leaves out: file names'
stems and writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from workbook.errors import SpecError, quoted

if TYPE_CHECKING:
    from workbook.sheet import Sheet
    from workbook.solve import Solution

SIDES = ("worksheet", "key")
ALL_SIDES = SIDES + ("solutions",)  # the worked solutions: the key with the working under each step


@dataclass(frozen=True)
class Rendered:
    suffix: str      # '-worksheet.pdf', '.json'
    data: bytes


def _solutions_html(sol: Solution, sheet: Sheet) -> str:
    from workbook.render_html import render_solutions
    from workbook.solutions import sections, worked

    return render_solutions(sheet, sections(sheet, worked(sol, sheet)))


def _html(sol: Solution, sheet: Sheet, sides) -> list[Rendered]:
    from workbook.render_html import render_html

    return [Rendered(f"-{side}.html", (_solutions_html(sol, sheet) if side == "solutions" else
                                      render_html(sheet, side == "key")).encode()) for side in sides]


def _pdf(sol: Solution, sheet: Sheet, sides) -> list[Rendered]:
    from workbook.render_html import printable
    from workbook.render_pdf import lay_out, print_sheets, single_pdf  # WeasyPrint loads only for a PDF

    paired = [side for side in sides if side in SIDES]
    pdfs = print_sheets([[lay_out(printable(sheet), paired)]]).pdfs if paired else {}
    if "solutions" in sides:
        pdfs["solutions"] = single_pdf(_solutions_html(sol, sheet))
    return [Rendered(f"-{side}.pdf", pdfs[side]) for side in sides]


def _json(sol: Solution, sheet: Sheet, sides) -> list[Rendered]:
    from workbook.render_json import render_json

    return [Rendered(".json", render_json(sol, sheet=sheet).encode())]


def _interactive(sol: Solution, sheet: Sheet, sides) -> list[Rendered]:
    from workbook.render_interactive import render_interactive

    return [Rendered("-interactive.html", render_interactive(sol, sheet).encode())]


FORMATS: dict[str, Callable] = {"pdf": _pdf, "html": _html, "json": _json, "interactive": _interactive}


def parse_formats(text: str) -> tuple[str, ...]:
    """'pdf, html' -> ('pdf', 'html'); SpecError for an unknown name."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    if not names:
        raise SpecError("no output format given: choose from " + ", ".join(FORMATS))
    for name in names:
        if name not in FORMATS:
            raise SpecError(f"unknown format {quoted(name)}: choose from {', '.join(FORMATS)}")
    return names


def parse_sides(text: str) -> tuple[str, ...]:
    """'worksheet, solutions' -> ('worksheet', 'solutions'); SpecError for an unknown side."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    if not names:
        raise SpecError("no side given: choose from " + ", ".join(ALL_SIDES))
    for name in names:
        if name not in ALL_SIDES:
            raise SpecError(f"unknown side {quoted(name)}: choose from {', '.join(ALL_SIDES)}")
    return tuple(side for side in ALL_SIDES if side in names)


def render(sol: Solution, sheet: Sheet, formats, sides=SIDES) -> list[Rendered]:
    """Every requested format of one variant, in memory."""
    return [r for name in formats for r in FORMATS[name](sol, sheet, sides)]
