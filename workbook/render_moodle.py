"""Moodle XML: one embedded-answers (Cloze) question per student variant and exercise.

The file follows Moodle's question XML format: a <quiz> holding a category question (the exam's
own category, under the course's top) and one <question type="cloze"> per sheet, each with its
<name>, <questiontext format="html"> (the sheet's conventions, steps and grids as HTML tables,
every blank a NUMERICAL field {1:NUMERICAL:=value:tolerance}, and a box that stays empty on the
key a SHORTANSWER field whose answer is "-", so the number of fields gives nothing away), <generalfeedback>, <penalty>,
<hidden> and <idnumber> (the variant code). Whole numbers must be exact; any other value is
accepted within 1% or one unit of its last printed decimal place, whichever is larger, so an exact
fraction typed as a decimal is right. Pictures to draw stay on paper. Leaves out: grading
anything Moodle cannot check (drawings) and uploading.
"""

import dataclasses
import html
from fractions import Fraction
from xml.sax.saxutils import escape

from workbook.layout import Figure, Grid
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


def _grid(grid: Grid) -> str:
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
            # a box that stays empty gets a field too (answer "-"): no field count gives the key away
            cells.append(f"<td>{_field(*answer)}</td>" if answer else "<td>{1:SHORTANSWER:=-}</td>")
        rows.append(f"<tr><th>{_text(label)}</th>" + "".join(cells) + "</tr>")
    return (f"<table border=\"1\" style=\"border-collapse: collapse; margin: 4px 0\"><caption>"
            f"{_text(grid.name)}</caption>{''.join(rows)}</table>")


def question_html(sheet) -> str:
    parts = [f"<p><b>{_text(sheet.title)}</b> (variant {sheet.code})</p>",
             "<p>Type - in a box that stays empty.</p>", "<ul>"]
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
                        parts.append(_grid(panel))
                    elif isinstance(panel, Figure):
                        parts.append(f"<p><i>{_text(panel.name)}: draw it on the printed sheet.</i></p>")
    return "\n".join(parts)


def render_moodle(exam: str, plan, paper: str = "a4", options: dict | None = None) -> str:
    """The whole exam as Moodle XML text: a category, then one cloze question per sheet (the
    exam's --title and --scaffold apply; each question's idnumber is its code and roster row)."""
    options = options or {}
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>",
           '  <question type="category">',
           # Moodle reads '/' as a category separator and '//' as a slash in a name
           f"    <category><text>$course$/top/{escape(exam.replace('/', '//'))}</text></category>",
           '    <info format="html"><text></text></info>',
           "  </question>"]
    for a in plan:
        for name, sol in a.solutions:
            sheet = scaffold(sol, build_sheet(sol, paper), options.get("scaffold") or "standard")
            if options.get("title"):
                sheet = dataclasses.replace(sheet, title=options["title"])
            text = question_html(sheet).replace("]]>", "]]]]><![CDATA[>")
            out += ['  <question type="cloze">',
                    f"    <name><text>{escape(f'{exam} · {a.label} · {name} · {sol.code}')}</text></name>",
                    f'    <questiontext format="html"><text><![CDATA[{text}]]></text></questiontext>',
                    '    <generalfeedback format="html"><text></text></generalfeedback>',
                    "    <penalty>0.3333333</penalty>",
                    "    <hidden>0</hidden>",
                    f"    <idnumber>{escape(f'{sol.code}-{a.student.row}')}</idnumber>",
                    "  </question>"]
    out.append("</quiz>")
    return "\n".join(out) + "\n"
