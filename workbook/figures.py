"""Pictures for the keys, as inline SVG that prints well in black and white.

load_bars: each expert's load as a bar, the part past the capacity C hatched as dropped, with the
capacity line and the fair share T*k/E. routing_arrows: tokens on the left, experts on the right,
one arrow per choice (1st choice thick, later ones thin), dropped choices dashed and crossed.
Each returns (svg text, width in mm, height in mm); every length inside is in millimetres.
Leaves out: where the picture goes on the sheet (sheet.py) and the worksheet's empty frame.
"""

from fractions import Fraction

_FONT = 'font-family="DejaVu Sans, sans-serif"'


_HALF = ('<marker id="half" viewBox="0 0 4 4" refX="4" refY="2" markerWidth="2" markerHeight="2" '
         'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L4,2 L0,4 z" fill="#000"/></marker>')


def _svg(width: float, height: float, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}mm" height="{height:g}mm" '
            f'viewBox="0 0 {width:g} {height:g}" {_FONT} font-size="2.6">'
            '<defs><pattern id="hatch" width="1.6" height="1.6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="1.6" stroke="#000" '
            'stroke-width="0.35"/></pattern>'
            '<marker id="head" viewBox="0 0 4 4" refX="4" refY="2" markerWidth="4" markerHeight="4" '
            'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L4,2 L0,4 z" fill="#000"/></marker>'
            + (_HALF if any("#half" in part for part in body) else "") + "</defs>"
            + "".join(body) + "</svg>")


def load_bars(loads: list[int], capacity: int | None, fair: Fraction, prefix: str = "E",
              fair_name: str = "fair T·k/E", most: int = 0) -> tuple[str, float, float]:
    """[3, 2, 0, 3], C = 2, fair 2 -> bars E1..E4 of 3, 2, 0, 3, the tops of 3 hatched past C = 2.
    `prefix` names the bars (d for devices), `fair_name` the dotted line. `most`, the highest
    load the parameters allow, fixes the picture's height (an answer-free worksheet's frame); the
    scale then shrinks so that the bars stay within 40 mm."""
    unit, bar, gap, left, bottom, top = 7.0, 8.0, 4.0, 9.0, 7.0, 5.0
    if most:
        unit = min(unit, 40.0 / most)
    highest = max(max(loads), capacity or 0, int(fair) + 1, most)
    width = left + len(loads) * (bar + gap) + 22
    height = top + highest * unit + bottom
    base = top + highest * unit

    def y(v):
        return base - float(v) * unit

    lines = [y(fair)] + ([y(capacity)] if capacity is not None else [])  # the dashed lines across the bars
    body = [f'<line x1="{left}" y1="{base}" x2="{width - 22}" y2="{base}" stroke="#000" stroke-width="0.3"/>',
            f'<line x1="{left}" y1="{base}" x2="{left}" y2="{top - 1}" stroke="#000" stroke-width="0.3"/>']
    every = 1 if not most or unit >= 3.5 else 2 if unit >= 1.8 else 5  # tick labels stay apart
    for v in range(0, highest + 1, every):
        body.append(f'<text x="{left - 1.5}" y="{y(v) + 0.9:g}" text-anchor="end">{v}</text>')
    for e, load in enumerate(loads):
        x = left + gap / 2 + e * (bar + gap)
        kept = load if capacity is None else min(load, capacity)
        if kept:
            body.append(f'<rect x="{x}" y="{y(kept):g}" width="{bar}" height="{kept * unit:g}" '
                        'fill="#c8c8c8" stroke="#000" stroke-width="0.3"/>')
        if load > kept:
            body.append(f'<rect x="{x}" y="{y(load):g}" width="{bar}" height="{(load - kept) * unit:g}" '
                        'fill="url(#hatch)" stroke="#000" stroke-width="0.3"/>')
        body.append(f'<text x="{x + bar / 2:g}" y="{base + 3.5:g}" text-anchor="middle">{prefix}{e + 1}</text>')
        body.append(f'<text x="{x + bar / 2:g}" y="{_label_y(y(load), lines) if most else y(load) - 1:g}" '
                    f'text-anchor="middle" font-weight="bold">{load}</text>')
    end = width - 22
    # the fair-share label moves below the capacity label when the two lines (nearly) meet
    shift = 3.2 if capacity is not None and abs(float(fair) - capacity) * unit < 3 else 0
    body.append(f'<line x1="{left}" y1="{y(fair):g}" x2="{end}" y2="{y(fair):g}" stroke="#000" '
                'stroke-width="0.3" stroke-dasharray="0.6 0.9"/>'
                f'<text x="{end + 1}" y="{y(fair) + 0.9 + shift:g}">{fair_name} = {_number(fair)}</text>')
    if capacity is not None:
        body.append(f'<line x1="{left}" y1="{y(capacity):g}" x2="{end}" y2="{y(capacity):g}" stroke="#000" '
                    'stroke-width="0.5" stroke-dasharray="2.5 1.2"/>'
                    f'<text x="{end + 1}" y="{y(capacity) + 0.9:g}" font-weight="bold">C = {capacity}</text>')
    return _svg(width, height, body), width, height


def _cross(x: float, y: float, r: float = 0.9) -> str:
    """A dropped choice's ×, drawn (not a glyph) over a white patch so that no line runs through it."""
    d = f"M{x - r:g} {y - r:g}L{x + r:g} {y + r:g}M{x - r:g} {y + r:g}L{x + r:g} {y - r:g}"
    return (f'<path d="{d}" stroke="#fff" stroke-width="1.3" stroke-linecap="round"/>'
            f'<path d="{d}" stroke="#000" stroke-width="0.45"/>')


def _label_y(top: float, lines: list[float]) -> float:
    """The baseline of a bar's value label: just above the bar, or higher, or inside its top, the
    first place that no dashed line runs through (the label's glyphs are about 2 mm tall)."""
    for baseline in (top - 1, top - 3.8, top + 3.0):
        if all(not (baseline - 2.4 < line < baseline + 0.8) for line in lines):
            return round(baseline, 3)
    return round(top - 1, 3)


def routing_arrows(choices: list[list[int]], kept: list[list[int]], experts: int,
                   legend: bool = False) -> tuple[str, float, float]:
    """choices[t] = the 1-based experts of token t, best first; kept[t][r] = 1 if served, 0 if dropped.
    With `legend` (answer-free sheets): rows 5.5 mm apart, experts' boxes as tall as room allows with
    the choices arriving spread down the box in token order (small heads, apart), a dropped
    choice's × drawn where lines into one expert are still apart, and a legend of the three line
    styles below."""
    step, tokens = (5.5 if legend else 7.0), len(choices)
    rows = max(tokens, experts)
    width, height = 62.0, rows * step + 4 + (13 if legend else 0)
    x_tok, x_exp = 10.0, 50.0

    def y_tok(t):
        return 2 + step / 2 + t * step * rows / tokens

    def y_exp(e):
        return 2 + step / 2 + e * step * rows / experts

    body, crosses = [], []
    box = max(5.0, step * rows / experts - 1.5) if legend else 5.0  # an expert's box, as tall as room allows
    arrivals = {}  # legend: each expert's incoming choices, spread down its box in token order
    for t, row in enumerate(choices):
        for e in row:
            arrivals.setdefault(e - 1, []).append(t)

    def arrive(t, e):
        if not legend:
            return y_exp(e)
        n, i = len(arrivals[e]), arrivals[e].index(t)
        return round(y_exp(e) - box / 2 + (i + 1) * box / (n + 1), 3)

    for t in range(tokens):
        body.append(f'<text x="{x_tok - 2}" y="{y_tok(t) + 1:g}" text-anchor="end" font-weight="bold">t{t + 1}</text>')
    for e in range(experts):
        body.append(f'<rect x="{x_exp}" y="{y_exp(e) - box / 2:g}" width="9" height="{box:g}" fill="#fff" stroke="#000" '
                    f'stroke-width="0.3"/><text x="{x_exp + 4.5}" y="{y_exp(e) + 1:g}" text-anchor="middle">E{e + 1}</text>')
    for t, (row, marks) in enumerate(zip(choices, kept)):
        for r, (e, ok) in enumerate(zip(row, marks)):
            x1, y1, x2, y2 = x_tok, y_tok(t), x_exp - 0.6, arrive(t, e - 1)
            style = 'stroke-width="0.5"' if r == 0 else 'stroke-width="0.25"'
            if ok and legend:  # small heads, each at its own place down the expert's box
                body.append(f'<line x1="{x1}" y1="{y1:g}" x2="{x2}" y2="{y2:g}" stroke="#000" {style} '
                            f'marker-end="url(#half)"/>')
            elif ok:
                body.append(f'<line x1="{x1}" y1="{y1:g}" x2="{x2}" y2="{y2:g}" stroke="#000" {style} marker-end="url(#head)"/>')
            elif legend:  # the cross drawn last, over a white patch, where lines into one expert are apart
                mx, my = round(x1 + (x2 - x1) * 0.45, 3), round(y1 + (y2 - y1) * 0.45, 3)
                body.append(f'<line x1="{x1}" y1="{y1:g}" x2="{x2}" y2="{y2:g}" stroke="#000" {style} '
                            'stroke-dasharray="1.2 0.8"/>')
                crosses.append(_cross(mx, my))
            else:
                mx, my = x1 + (x2 - x1) * 0.75, y1 + (y2 - y1) * 0.75
                body.append(f'<line x1="{x1}" y1="{y1:g}" x2="{x2}" y2="{y2:g}" stroke="#000" {style} '
                            'stroke-dasharray="1.2 0.8"/>'
                            f'<text x="{mx:g}" y="{my + 1.2:g}" text-anchor="middle" font-size="4" font-weight="bold">×</text>')
    body += crosses
    if legend:
        y0 = rows * step + 6
        for i, (style, extra, words) in enumerate((
                ('stroke-width="0.5"', ' marker-end="url(#half)"', "1st choice, kept"),
                ('stroke-width="0.25"', ' marker-end="url(#half)"', "later choice, kept"),
                ('stroke-width="0.25" stroke-dasharray="1.2 0.8"', "", "dropped"))):
            y = y0 + i * 3.6
            body.append(f'<line x1="2" y1="{y:g}" x2="14" y2="{y:g}" stroke="#000" {style}{extra}/>'
                        f'<text x="17" y="{y + 0.9:g}">{words}</text>' + (_cross(8, y) if i == 2 else ""))
    return _svg(width, height, body), width, height


def _number(value: Fraction) -> str:
    """12/5 -> '2.4', 2 -> '2'."""
    return str(int(value)) if value.denominator == 1 else f"{float(value):.2f}".rstrip("0")
