"""The whole workbook: every preset's worksheet and key, plus one combined workbook and key PDF.

Presets are laid out one per process across the machine's cores (`jobs`; 1 lays them out here,
in order, calling `progress` after each). Returns (file name, bytes) pairs for write.py.
Leaves out: the command line and the file system.
"""

import os
from typing import Callable

from workbook.presets import Preset, preset, presets
from workbook.render_html import printable, render_html
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.workers import worker_pool


def stem(name: str, code: str, paper: str) -> str:
    """('token-choice-5x6', '10JP-81P', 'letter') -> 'token-choice-5x6-10JP-81P-letter'."""
    return f"{name}-{code}" + ("-letter" if paper == "letter" else "")


def _preset_files(job) -> tuple[str, list[tuple[str, bytes]], list[bytes], list[list]]:
    """One preset: its four files (PDF and HTML, worksheet and key), its two PDFs and their
    bookmarks (binding.Mark)."""
    from workbook.render_pdf import SIDES, lay_out, print_sheets

    name, paper = job
    sol = solve(preset(name).spec())
    sheet = build_sheet(sol, paper)
    base = stem(name, sol.code, paper)
    htmls = [render_html(sheet, False), render_html(sheet, True)]
    printed = print_sheets([[lay_out(printable(sheet))]])
    pdfs = [printed.pdfs[side] for side in SIDES]
    marks = [printed.groups[0][side][2] for side in SIDES]
    files = []
    for side, html, pdf in zip(("worksheet", "key"), htmls, pdfs):
        files += [(f"{base}-{side}.pdf", pdf), (f"{base}-{side}.html", html.encode())]
    return name, files, pdfs, marks


def build_course(paper: str = "a4", chosen: tuple[Preset, ...] | None = None,
                 progress: Callable[[str], None] = lambda name: None, jobs: int = 1) -> list[tuple[str, bytes]]:
    """Every preset as PDF + HTML worksheet and key, then workbook.pdf and answer-key.pdf."""
    from workbook.binding import JoinedPdf

    work = [(p.name, paper) for p in chosen or presets()]
    results = []
    if jobs > 1 and len(work) > 1:
        with worker_pool(min(jobs, os.cpu_count() or 1, len(work))) as pool:
            for result in pool.map(_preset_files, work):
                results.append(result)
                progress(result[0])
    else:
        for job in work:
            results.append(_preset_files(job))
            progress(job[0])
    files = [f for _, preset_files, _, _ in results for f in preset_files]
    suffix = "-letter" if paper == "letter" else ""
    for side, name, title in ((0, f"workbook{suffix}.pdf", "Workbook"), (1, f"answer-key{suffix}.pdf", "Answer key")):
        merged = JoinedPdf()
        for _, _, pdfs, marks in results:  # each sheet's title and steps in the outline
            merged.add(pdfs[side], marks[side])
        files.append((name, merged.pdf(f"moe-workbook · {title}")))
    return files
