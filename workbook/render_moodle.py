"""Moodle XML: one embedded-answers (Cloze) question per student variant and exercise (per form
with --forms: the students of a form share its questions).

The file follows Moodle's question XML format: a <quiz> holding a category question (the exam's
own category, one level under the course's top) and one <question type="cloze"> per sheet, each
with its <name> (at most Moodle's 255 characters, the variant code always whole),
<questiontext format="html"> (the sheet's conventions, steps and grids as HTML tables, every
blank with a key value a NUMERICAL field {1:NUMERICAL:=value:tolerance}), <generalfeedback>,
<penalty>, <hidden> and <idnumber> (the variant code). A box that stays empty on the key (a
padding box; a dropped-tokens box when none is dropped) is, on sheets printed before edition 3,
no field: a grey cell, holding "none" where the key prints it. On an answer-free sheet (edition 3
on) which boxes stay empty is an answer (an expert's load), so each is a field like the others,
right holding "none" or "-": the question shows no more than the printed worksheet. Whole numbers must be exact; any other value is accepted
within 1% or one unit of its last printed decimal place, whichever is larger, so an exact
fraction typed as a decimal is right. Pictures to draw stay on paper. Leaves out: grading
anything Moodle cannot check (drawings) and uploading.
"""

import dataclasses
import html
from fractions import Fraction
from xml.sax.saxutils import escape

from workbook.layout import Figure, Grid, cells
from workbook.sheet import build_sheet
from workbook.solutions import scaffold
from workbook.values import expected


def cell_value(cell) -> tuple[float, float] | None:
    """A blank's (value, tolerance): 27/37 shown as '27/37' and '0.73' -> (0.7297..., 0.01);
    −3 -> (-3.0, 0); a box that stays empty -> None."""
    value = expected(cell)
    if value is None:
        return None
    if isinstance(value, Fraction) and value.denominator == 1 and not cell.decimal:
        return float(value), 0.0
    shown = (cell.decimal or cell.answer).replace("−", "-").replace("≈", "")
    places = len(shown.split(".")[1]) if "." in shown else 2
    return float(value), max(0.01 * abs(float(value)), 10.0 ** -places)


def _text(text: str) -> str:
    """Text for the question's HTML, escaped for HTML and for the cloze syntax: braces become
    character references, so a title such as '{1:SHORTANSWER:=a}' is shown, never a live field."""
    return html.escape(str(text)).replace("{", "&#123;").replace("}", "&#125;")


def _field(value: float, tolerance: float) -> str:
    return f"{{1:NUMERICAL:={value:.12g}:{tolerance:.6g}}}"


_EMPTY = "background-color: #e6e6e6"  # a box that stays empty: grey, as the key's givens


def _empty(cell) -> str:
    """A box that stays empty: no field (nothing to type, nothing graded), a grey cell with the
    key's own word for it ('none': no token dropped), or nothing for a padding box."""
    word = "none" if cell.answer.strip().lower() == "none" else ""
    return f'<td style="{_EMPTY}"><i>{word}</i></td>' if word else f'<td style="{_EMPTY}"></td>'


# An answer-free sheet (edition 3 on) must not show which boxes stay empty: that is an answer (an
# expert's load, whether a token is dropped). Each such box is a field like the others, right
# holding 'none' (or '-'), the key's word for it.
_NONE = "{1:SHORTANSWER:=none~=-}"


def _grid(grid: Grid, hidden: bool = False) -> str:
    rows = []
    if grid.col_labels:
        rows.append("<tr><th></th>" + "".join(f"<th>{_text(c)}</th>" for c in grid.col_labels) + "</tr>")
    for i, line in enumerate(grid.cells):
        label = grid.row_labels[i] if i < len(grid.row_labels) else ""
        cells = []
        for cell in line:
            if not cell.blank:
                cells.append(f"<td>{_text(cell.given)}</td>")
                continue
            answer = cell_value(cell)
            cells.append(f"<td>{_field(*answer)}</td>" if answer else f"<td>{_NONE}</td>" if hidden else _empty(cell))
        rows.append(f"<tr><th>{_text(label)}</th>" + "".join(cells) + "</tr>")
    return (f"<table border=\"1\" style=\"border-collapse: collapse; margin: 4px 0\"><caption>"
            f"{_text(grid.name)}</caption>{''.join(rows)}</table>")


def answer_free_sheet(sheet) -> bool:
    """A sheet whose boxes depend on the parameters only (layout.answer_free: revision 4 on)."""
    return sheet.revision >= 4


def question_html(sheet) -> str:
    parts = [f"<p><b>{_text(sheet.title)}</b> (variant {sheet.code})</p>"]
    hidden = answer_free_sheet(sheet)
    if hidden:
        parts.append("<p>Where your answer leaves a box empty (a spare row, no dropped token), type <i>none</i>.</p>")
    elif any(c.blank and cell_value(c) is None for c in cells(sheet.sections)):
        parts.append("<p>Grey boxes stay empty: there is nothing to type in them.</p>")
    parts.append("<ul>")
    parts += [f"<li>{_text(line)}</li>" for line in sheet.conventions] + ["</ul>"]
    for section in sheet.sections:
        parts.append(f"<h4>Step {section.number} · {_text(section.title)}</h4>"
                     f"<p>{_text(section.instruction)}</p>")
        for board in section.boards:
            if board.caption:
                parts.append(f"<p><i>{_text(board.caption)}</i></p>")
            for row in board.panels:
                for panel in row:
                    if isinstance(panel, Grid):
                        parts.append(_grid(panel, hidden))
                    elif isinstance(panel, Figure):
                        parts.append(f"<p><i>{_text(panel.name)}: draw it on the printed sheet.</i></p>")
    return "\n".join(parts)


MAX_NAME = 255  # Moodle's question name: at most 255 characters (longer ones it cuts at the end)
_SEP = " · "


def category(exam: str) -> str:
    """The exam's category, one level under the course's top: Moodle splits a category path at
    every single '/', reads '//' as a '/' inside a name and trims each name, so every '/' of the
    name is doubled, and a space keeps a doubled slash at either end of the name from joining the
    separator ('Mid/term' -> '$course$/top/Mid//term'; '/x' -> '$course$/top/ //x')."""
    name = exam.replace("/", "//")
    name = (" " if name.startswith("/") else "") + name + (" " if name.endswith("/") else "")
    return f"$course$/top/{name}"


def question_name(exam: str, who: str, preset: str, code: str) -> str:
    """'Midterm · Ada Lovelace · token-choice-5x6 · 10JP-83J', at most MAX_NAME characters: the
    code is kept whole, and the longest of the other parts are cut (ending in '…') to fit."""
    parts, room = [exam, who, preset], MAX_NAME - len(code) - len(_SEP) * 3
    if sum(map(len, parts)) > room:
        cap = max(n for n in range(1, room + 1) if sum(min(len(p), n) for p in parts) <= room)
        parts = [p if len(p) <= cap else p[:cap - 1].rstrip() + "…" for p in parts]
    return _SEP.join(parts + [code])


def sheets(plan):
    """(assignment, preset name, solution) of every question: one per student and preset, or with
    forms one per form and preset (the students of a form sit the same questions)."""
    seen = set()
    for a in plan:
        if a.form and a.form in seen:
            continue
        seen.add(a.form)
        for name, sol in a.solutions:
            yield a, name, (sol.solved() if hasattr(sol, "solved") else sol)  # a large plan keeps specs only


def render_moodle(exam: str, plan, paper: str = "a4", options: dict | None = None) -> str:
    """The whole exam as Moodle XML text: a category, then one cloze question per sheet (per form
    with forms; the exam's --title and --scaffold apply; each question's idnumber is its code and
    its roster row, or its form letter)."""
    options = options or {}
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>",
           '  <question type="category">',
           f"    <category><text>{escape(category(exam))}</text></category>",
           '    <info format="html"><text></text></info>',
           "  </question>"]
    for a, name, sol in sheets(plan):
        sheet = scaffold(sol, build_sheet(sol, paper), options.get("scaffold") or "standard")
        if options.get("title"):
            sheet = dataclasses.replace(sheet, title=options["title"])
        text = question_html(sheet).replace("]]>", "]]]]><![CDATA[>")
        who, tag = (f"form {a.form}", a.form) if a.form else (a.label, a.student.row)
        out += ['  <question type="cloze">',
                f"    <name><text>{escape(question_name(exam, who, name, sol.code))}</text></name>",
                f'    <questiontext format="html"><text><![CDATA[{text}]]></text></questiontext>',
                '    <generalfeedback format="html"><text></text></generalfeedback>',
                "    <penalty>0.3333333</penalty>",
                "    <hidden>0</hidden>",
                f"    <idnumber>{escape(f'{sol.code}-{tag}')}</idnumber>",
                "  </question>"]
    out.append("</quiz>")
    return "\n".join(out) + "\n"
