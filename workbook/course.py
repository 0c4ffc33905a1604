"""The whole workbook: every preset's worksheet and key, plus one combined workbook and key PDF.

Returns (file name, bytes) pairs for write.py; `progress` is called once per finished preset.
Leaves out: the command line and the file system.
"""

from typing import Callable

from workbook.presets import Preset, presets
from workbook.render_html import render_html
from workbook.sheet import build_sheet
from workbook.solve import solve


def stem(name: str, code: str, paper: str) -> str:
    """('token-choice-5x6', '10JP-81P', 'letter') -> 'token-choice-5x6-10JP-81P-letter'."""
    return f"{name}-{code}" + ("-letter" if paper == "letter" else "")


def build_course(paper: str = "a4", chosen: tuple[Preset, ...] | None = None,
                 progress: Callable[[str], None] = lambda name: None) -> list[tuple[str, bytes]]:
    """Every preset as PDF + HTML worksheet and key, then workbook.pdf and answer-key.pdf."""
    from workbook.render_pdf import combine, documents, write_pdf

    files, worksheets, keys = [], [], []
    for p in chosen or presets():
        sol = solve(p.spec())
        sheet = build_sheet(sol, paper)
        base = stem(p.name, sol.code, paper)
        htmls = [render_html(sheet, False), render_html(sheet, True)]
        docs = documents(htmls)
        for side, html, doc in zip(("worksheet", "key"), htmls, docs):
            files.append((f"{base}-{side}.pdf", write_pdf(doc)))
            files.append((f"{base}-{side}.html", html.encode()))
        worksheets.append(docs[0])
        keys.append(docs[1])
        progress(p.name)
    suffix = "-letter" if paper == "letter" else ""
    files.append((f"workbook{suffix}.pdf", combine(worksheets)))
    files.append((f"answer-key{suffix}.pdf", combine(keys)))
    return files
