"""The whole workbook: every preset's worksheet, key and worked solutions, plus the combined books.

Presets are laid out one per process across the machine's cores (`jobs`; 1 lays them out here,
in order, calling `progress` after each). The combined PDFs are books for double-sided printing:
a cover and a contents page (each sheet's title, code and the page it starts on), then the
sheets, each starting on an odd page. The contents is computed, never typed: the sheets are laid
out first, each padded with blank pages to the same even count in both books (so the two stay
page for page aligned), and then the cover and contents, until the number of pages they take is
the number their page numbers assumed. The worked solutions (longer: the working under each step)
are a third book, solutions.pdf, bound the same way with its own page numbers. Returns (file
name, bytes) pairs for write.py.
Leaves out: the command line and the file system.
"""

import os
from dataclasses import dataclass
from typing import Callable

from workbook import __version__
from workbook.presets import Preset, preset, presets
from workbook.render_html import PAGE_SIZES, environment, printable, render_html, render_solutions
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.workers import worker_pool

COURSE_TITLE = "Mixture-of-Experts by hand"
PAPER_NAMES = {"a4": "A4", "letter": "US Letter"}
BOOKS = (("worksheet", "workbook", "Workbook"), ("key", "answer-key", "Answer key"))  # side, file, label
SOLUTIONS = (("solutions", "solutions", "Worked solutions"),)  # a book of its own: not page for page


def stem(name: str, code: str, paper: str) -> str:
    """('token-choice-5x6', '10JP-81P', 'letter') -> 'token-choice-5x6-10JP-81P-letter'."""
    return f"{name}-{code}" + ("-letter" if paper == "letter" else "")


@dataclass(frozen=True)
class PrintedSheet:
    """One preset printed: its four files, and per side its PDF, its pages and its bookmarks
    (binding.Mark, pages from its first)."""

    name: str
    title: str
    code: str
    files: tuple
    pdfs: dict
    pages: dict
    marks: dict


@dataclass(frozen=True)
class Entry:
    """A line of the contents: the sheet's number, title, code and first page (from 1)."""

    number: int
    title: str
    code: str
    page: int


def _preset_files(job) -> PrintedSheet:
    """One preset: its six files (PDF and HTML: worksheet, key and worked solutions), its three
    PDFs, their page counts and bookmarks."""
    from workbook.render_pdf import SIDES, lay_out, print_alone, print_sheets
    from workbook.solutions import scaffold, sections, worked

    name, paper, level = job
    sol = solve(preset(name).spec())
    plain = build_sheet(sol, paper)
    sheet = scaffold(sol, plain, level)
    base = stem(name, sol.code, paper)
    htmls = [render_html(sheet, False), render_html(sheet, True), render_solutions(plain, sections(plain, worked(sol, plain)))]
    printed = print_sheets([[lay_out(printable(sheet))]])
    group = printed.groups[0]
    pdfs, pages, marks = dict(printed.pdfs), {side: group[side][0] for side in SIDES}, {side: group[side][2] for side in SIDES}
    pdfs["solutions"], pages["solutions"], marks["solutions"] = print_alone(htmls[2])
    files = []
    for side, html in zip(SIDES + ("solutions",), htmls):
        files += [(f"{base}-{side}.pdf", pdfs[side]), (f"{base}-{side}.html", html.encode())]
    return PrintedSheet(name, sheet.title, sol.code, tuple(files), pdfs, pages, marks)


def build_course(paper: str = "a4", chosen: tuple[Preset, ...] | None = None,
                 progress: Callable[[str], None] = lambda name: None, jobs: int = 1,
                 level: str = "standard") -> list[tuple[str, bytes]]:
    """Every preset as PDF + HTML worksheet, key and worked solutions, then workbook.pdf,
    answer-key.pdf and solutions.pdf; worksheet and key scaffolded at `level` (layout.scaffolded)."""
    work = [(p.name, paper, level) for p in chosen or presets()]
    sheets = []
    if jobs > 1 and len(work) > 1:
        with worker_pool(min(jobs, os.cpu_count() or 1, len(work))) as pool:
            for sheet in pool.map(_preset_files, work):
                sheets.append(sheet)
                progress(sheet.name)
    else:
        for job in work:
            sheets.append(_preset_files(job))
            progress(job[0])
    files = [f for sheet in sheets for f in sheet.files]
    suffix = "-letter" if paper == "letter" else ""
    for (_, name, _), book in zip(BOOKS + SOLUTIONS, books(sheets, paper)):
        files.append((f"{name}{suffix}.pdf", book))
    return files


def books(sheets: list[PrintedSheet], paper: str) -> list[bytes]:
    """The workbook and the answer key as books: cover, contents, then every sheet on an odd page,
    the two page for page alike; then the worked solutions as a book of their own (longer)."""
    aligned = [_even(max(sheet.pages[side] for side, _, _ in BOOKS)) for sheet in sheets]  # the same in both books
    return (_bound(sheets, aligned, paper, BOOKS)
            + _bound(sheets, [_even(sheet.pages["solutions"]) for sheet in sheets], paper, SOLUTIONS))


def _bound(sheets: list[PrintedSheet], lengths: list[int], paper: str, which) -> list[bytes]:
    """The books of the sides `which`, each sheet taking `lengths` pages."""
    from workbook.binding import JoinedPdf
    from workbook.render_pdf import blank_pdf

    fronts, front_pages = front_matter([(sheet.title, sheet.code) for sheet in sheets], lengths, paper, which)
    blank = blank_pdf(paper)
    out = []
    for side, _, label in which:
        book = JoinedPdf()
        pdf, pages, marks = fronts[side]
        book.add(pdf, marks)
        for _ in range(front_pages - pages):
            book.add(blank)
        for sheet, length in zip(sheets, lengths):  # each sheet's title and steps in the outline
            book.add(sheet.pdfs[side], sheet.marks[side])
            for _ in range(length - sheet.pages[side]):
                book.add(blank)
        out.append(book.pdf(f"moe-workbook · {label}"))
    return out


def front_matter(sheets: list[tuple[str, str]], lengths: list[int], paper: str, which=BOOKS) -> tuple[dict, int]:
    """The cover and contents of each book, for sheets (title, code) taking `lengths` pages each:
    side -> (PDF, pages, bookmarks), and the even number of pages the sheets start after (the
    same in both books: a book whose front is shorter is padded with blank pages).

    The contents' page numbers depend on how many pages the front takes, which depends on the
    contents: laid out for an assumed count, and again for a larger one while it does not fit
    (the count only grows, and the pages a contents takes are bounded, so this ends)."""
    from workbook.render_pdf import print_alone

    assumed = 2  # a cover and one page of contents
    while True:
        starts = [assumed + 1 + sum(lengths[:i]) for i in range(len(lengths))]
        entries = [Entry(i + 1, title, code, start) for i, ((title, code), start) in enumerate(zip(sheets, starts))]
        fronts = {side: print_alone(_cover_html(entries, paper, label)) for side, _, label in which}
        taken = max(pages for _, pages, _ in fronts.values())
        if taken <= assumed:
            return fronts, assumed
        assumed = _even(taken)


def _cover_html(entries: list[Entry], paper: str, side: str) -> str:
    return environment().get_template("cover.html").render(
        course=COURSE_TITLE, side=side, sheets=entries, paper=PAPER_NAMES[paper], page_size=PAGE_SIZES[paper],
        version=__version__)


def _even(pages: int) -> int:
    return pages + pages % 2
