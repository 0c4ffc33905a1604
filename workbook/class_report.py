"""The class report: a graded class (gradebook.Gradebook) as HTML and PDF pages for the teacher.

The score distribution (a histogram), success per step (bars, per preset), the commonest
mistakes with their counts and an example each (carried errors, slips and rows left empty apart),
the students who need a word, and the problems; pictures drawn as inline SVG, the page from
templates/class-report.html. gradebook_files gives the gradebook's three files. Leaves out:
grading (gradebook.py), the command line and writing files.
"""

from dataclasses import dataclass

from markupsafe import Markup, escape

from workbook.gradebook import FILES, LOW, Gradebook, Line, gradebook_csv

@dataclass(frozen=True)
class Mistake:
    """A cause of wrong rows, counted over the class's sheets, with one example."""

    what: str
    sheets: int
    steps: str        # 'Step 4, Step 5'
    example: str      # 'variant 7, Step 4 (Top-2 experts ...), t1 and t3'


@dataclass(frozen=True)
class Word:
    who: str
    code: str
    percent: object
    why: str


def _and(items: list[str]) -> str:
    """['t1'] -> 't1'; ['t1', 't2', 't5'] -> 't1, t2 and t5'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def _label(line: Line) -> str:
    return line.name or (line.student.label if line.student else line.file)


def _row(ref: str) -> str:
    """A box's row, as findings name rows: 'probs[5][2]' -> 'probs[5]' (diagnosis.row_of)."""
    return ref[:ref.rindex("[")] if "[" in ref else ref


def findings(line: Line):
    """(kind, the step, the finding) of every finding on a graded sheet; kind is 'carried', 'empty'
    (rows left empty: a slip that is no slip), 'slips' or 'named'."""
    for step in line.result["steps"] if line.result else ():
        filled = {_row(box["ref"]) for box in step["boxes"] if box["given"] is not None}
        for f in step["findings"]:
            if f["carried_from"]:
                kind = "carried"
            elif f.get("empty"):
                kind = "empty"
            elif f["slip"]:
                kind = "slips" if set(f["row_refs"]) & filled else "empty"
            else:
                kind = "named"
            yield kind, step, f


def mistakes(book: Gradebook) -> dict[str, list[Mistake]]:
    """{'named': ..., 'carried': ..., 'slips': ..., 'empty': ...}: the named mistakes by cause,
    the carried errors, the slips and the rows left empty by step; each counted once per sheet
    (with the steps it was seen in and its first example), commonest first."""
    groups: dict[tuple, dict] = {}
    for line in book.lines:
        for kind, step, f in findings(line):
            where = f"{line.preset}: Step {step['number']} ({step['title']})"
            what = {"carried": f"{where} follows from the student's own Step {f['carried_from']}",
                    "named": f["cause"]}.get(kind, where)
            g = groups.setdefault((kind, what), {"sheets": set(), "steps": {}, "example":
                                  f"{_label(line)}, Step {step['number']} ({step['title']}), {_and(f['rows'])}"})
            g["sheets"].add(id(line))
            g["steps"][f"Step {step['number']}"] = None
    out: dict[str, list[Mistake]] = {"named": [], "carried": [], "slips": [], "empty": []}
    for (kind, what), g in groups.items():
        out[kind].append(Mistake(what, len(g["sheets"]), ", ".join(g["steps"]), g["example"]))
    for kind in out:
        out[kind].sort(key=lambda m: (-m.sheets, m.what))
    return out


def need_a_word(book: Gradebook) -> list[Word]:
    """The students to talk to: a sheet under LOW percent, a named mistake made in two steps or
    more, or slips in two steps or more (and the steps they left rows of empty, said with these).
    Lowest scores first."""
    out = []
    for line in book.lines:
        if not line.result:
            continue
        seen: dict[str, dict] = {}
        for kind, step, f in findings(line):
            if kind != "carried":
                seen.setdefault(f["cause"] if kind == "named" else kind, {})[f"Step {step['number']}"] = None
        why = [f"scored {line.percent:g}%"] if line.percent < LOW else []
        why += [f"{'slips in' if cause == 'slips' else cause + ', in'} {_and(list(steps))}"
                for cause, steps in seen.items() if len(steps) > 1 and cause != "empty"]
        if why and "empty" in seen:
            why.append(f"rows left empty in {_and(list(seen['empty']))}")
        if why:
            out.append(Word(_label(line), line.code, line.percent, "; ".join(why)))
    return sorted(out, key=lambda w: (w.percent, w.who))


_TEXT = 'font-family="DejaVu Sans, sans-serif" font-size="9"'


def histogram(percents: list[float]) -> Markup:
    """The score distribution as inline SVG: a bar per tenth (0–9 % … 90–99 %) and one for 100 %."""
    labels = [f"{10 * i}–{10 * i + 9}" for i in range(10)] + ["100"]
    counts = [0] * 11
    for p in percents:
        counts[10 if p >= 100 else int(p // 10)] += 1
    width, height, top, bar = 560, 150, max(counts + [1]), 560 / 11
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 30}" '
             f'width="{width}" height="{height + 30}" role="img" aria-label="score distribution" {_TEXT}>',
             f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#000" stroke-width="1"/>']
    for i, (label, n) in enumerate(zip(labels, counts)):
        h = (height - 16) * n / top
        x = i * bar
        if n:
            parts.append(f'<rect x="{x + 4:.1f}" y="{height - h:.1f}" width="{bar - 8:.1f}" height="{h:.1f}" '
                         'fill="#888" stroke="#000" stroke-width="0.6"/>')
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - h - 4:.1f}" text-anchor="middle">{n}</text>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height + 14}" text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{width / 2}" y="{height + 28}" text-anchor="middle">score (%)</text></svg>')
    return Markup("".join(parts))


def bars(items: list[tuple[str, float]]) -> Markup:
    """Horizontal bars as inline SVG: (label, share from 0 to 1) each, its percentage at its end."""
    width, label_w, row = 560, 250, 18
    height = row * len(items) + 4
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="share of boxes right per step" {_TEXT}>']
    scale = width - label_w - 50
    for i, (label, share) in enumerate(items):
        y = i * row + 2
        shown = label if len(label) <= 44 else label[:43] + "…"
        parts.append(f'<text x="0" y="{y + 12}">{escape(shown)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{scale}" height="{row - 6}" fill="none" '
                     'stroke="#bbb" stroke-width="0.6"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{scale * share:.1f}" height="{row - 6}" fill="#888" '
                     'stroke="#000" stroke-width="0.6"/>')
        parts.append(f'<text x="{label_w + scale + 6}" y="{y + 12}">{100 * share:.0f}%</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def step_success(book: Gradebook) -> dict[str, Markup]:
    """{preset: bars of the share of boxes right per step, over the preset's graded sheets}."""
    sums: dict[str, dict] = {}
    for line in book.lines:
        if line.result:
            for st in line.result["steps"]:
                score = sums.setdefault(line.preset, {}).setdefault(f"{st['number']} {st['title']}", [0, 0])
                score[0] += st["right"]
                score[1] += st["total"]
    return {preset: bars([(label, right / max(total, 1)) for label, (right, total) in steps.items()])
            for preset, steps in sums.items()}


def class_report_html(book: Gradebook, exam: str, paper: str = "a4") -> str:
    from statistics import mean, median

    from workbook.render_html import PAGE_SIZES, environment

    graded = [line for line in book.lines if line.result]
    percents = [line.percent for line in graded]
    facts = {"students": len({line.student.row for line in book.lines if line.student}),
             "sheets": len([line for line in book.lines if line.student]), "graded": len(graded),
             "mean": f"{mean(percents):.1f}" if percents else "", "median": f"{median(percents):g}" if percents else ""}
    return environment().get_template("class-report.html").render(
        exam=exam, page_size=PAGE_SIZES[paper], facts=facts, histogram=histogram(percents),
        success=step_success(book), mistakes=mistakes(book), words=need_a_word(book), problems=book.problems,
        low=LOW)


def gradebook_files(book: Gradebook, exam: str, paper: str = "a4") -> list[tuple[str, bytes]]:
    """gradebook.csv, class-report.html and class-report.pdf, as (name, bytes)."""
    from workbook.render_pdf import print_alone

    html = class_report_html(book, exam, paper)
    return list(zip(FILES, (gradebook_csv(book), html.encode(), print_alone(html)[0])))


