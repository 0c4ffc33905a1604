"""A printed page's audit (issue 13): no two glyphs collide, no drawn line runs through or
touches a glyph, nothing off the page or too close to its edge.

    audit(pdf) -> list[str]     # human-readable problems, [] when the PDF is clean
    python tests/page_audit.py FILE.pdf ...

`pdf` is a path or the PDF's bytes. Each problem names the page, the text (the word the glyph
belongs to, its font and size), what it meets and where, in points from the page's top-left
corner (1 pt = 0.353 mm); each is a str with a `kind` (collides, crosses, touches, edge, small):

    p1: '(−1,' [DejaVu-Sans-Mono 9pt] touches a vertical line x=181.4 (y 447.9-516.0): 0.30 pt apart at (182.2, 478.2)

How: pdfminer.six (the parser under pdfplumber) runs each page's content, Form XObjects included
(a bound sheet lays each side's own boxes over the shared page as a form), into a small device
that keeps only what the checks need; pdfplumber's objects, dozens of attributes per glyph, took
two thirds of the time. A glyph's box is its ink, not its advance: that glyph's outline bounds in
the font embedded in the PDF (WeasyPrint embeds TrueType subsets; a CID is a glyph id), read with
fontTools and placed by the text matrix. So "1" is as narrow as its stroke and "−" as low as its
bar, and no allowance for side bearings or the font's ascent and descent is needed. A glyph
without an outline to read gets its advance by cap height over the baseline.

What counts as a line: a stroked path's segments (curves flattened into chords), its width in
force when it is painted; a thin dark filled rectangle (a border side, a rule) as the line along
its middle, its thickness the width; a box's border, which WeasyPrint fills as a ring between two
rectangles, as its four sides; the outline of any other dark filled shape (an arrowhead). Light
fills and strokes (the grey of given cells, white, hatching patterns) are backgrounds.

The checks, and their thresholds (points):

- collides: two glyphs of different texts whose ink boxes overlap by more than COLLIDE_PT in
  both directions. A glyph is not compared with its two neighbours either side in its shaped run
  (same font, size and baseline, each glyph starting where the one before ended): kerning and an
  oblique's overhang are the font's design. A superscript or a stacked fraction set tight on
  purpose has separate ink, so it passes.
- crosses / touches: a line whose ink, its width included, overlaps a glyph's ink box (crosses)
  or leaves less than CLEAR_PT between them (touches: 0.18 mm of white, less reads as touching
  in print; a caption's descender 0.9 pt above a frame reads as clear). A mark glyph (×, as the
  routing picture crosses out a dropped choice) on a line through its middle is drawn there on
  purpose: that line is not held against it; other lines through it are.
- edge: a glyph's ink or a line outside the media box (off the page) or within EDGE_MM of its
  edge (what many printers cannot print).
- small: a text set below MIN_PT.

Each problem is reported once per pair of words (collides), and once per word and line at the
word's closest glyph (crosses, touches).
"""

from __future__ import annotations

import io
import math
import sys

from fontTools.ttLib import TTFont
from pdfminer.pdfdevice import PDFTextDevice
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdftypes import PDFStream, resolve1

COLLIDE_PT = 0.3   # two texts' ink boxes may overlap this much in either direction: below what prints
CLEAR_PT = 0.5     # a line's ink keeps at least this from a glyph's ink (0.18 mm)
EDGE_MM = 3.0      # nothing within this of the paper's edge
MIN_PT = 5.0       # no text smaller than this
LIGHT = 0.75       # a fill or stroke at least this light (grey level) is a background, not a line
THIN_PT = 3.0      # a dark filled rectangle thinner than this is a line (a border side, a rule)
MARKS = frozenset("×✕✗✘")  # glyphs drawn on a line on purpose, centred on it
MM = 72 / 25.4
_BLANK = frozenset(" \u00a0\u2007\u2009\u200a\u200b\u2002\u2003\u2004\u2005\u2006\u2008\u202f\t\r\n")


class Problem(str):
    """A problem as its message, with its kind: collides, crosses, touches, edge or small."""

    kind: str

    def __new__(cls, kind: str, text: str):
        self = super().__new__(cls, text)
        self.kind = kind
        return self

    def __reduce__(self):
        return Problem, (self.kind, str(self))


def kind_of(problem: str) -> str:
    """'collides', 'crosses', 'touches', 'edge' or 'small' ('' for a plain string)."""
    return getattr(problem, "kind", "")


def audit(pdf) -> list[str]:
    """Every problem of every page of `pdf` (a path or bytes), in page order; [] when clean."""
    data = pdf if isinstance(pdf, (bytes, bytearray)) else open(pdf, "rb").read()
    resources = _Resources()
    device = _Device(resources)
    interpreter = _Interpreter(resources, device)
    problems = []
    for number, page in enumerate(PDFPage.get_pages(io.BytesIO(data)), 1):
        device.start(page)
        interpreter.process_page(page)
        problems += [Problem(p.kind, f"p{number}: {p}") for p in check_page(device.glyphs, device.segments, device.box)]
    return problems


def check_page(glyphs: list[Glyph], segments: list[tuple], box: tuple) -> list[str]:
    """The problems of one page: its glyphs, its drawn segments and its media box (x0, top, x1,
    bottom), all in points from the top-left corner."""
    _words(glyphs)
    glyphs = [g for g in glyphs if g.ink]
    return _collisions(glyphs) + _crossings(glyphs, segments) + _edges(glyphs, segments, box) + _small(glyphs)


# --- reading a page -------------------------------------------------------------------------

class Glyph:
    """A glyph as drawn: its character, font, size, ink box (x0, top, x1, bottom; points from the
    page's top-left), its run (one shaped text), its place in the page's glyphs and its word."""

    __slots__ = ("text", "font", "size", "x0", "top", "x1", "bottom", "run", "index", "word", "ink")

    def __init__(self, text, font, size, box, run, index, ink=True):
        self.text, self.font, self.size, self.run, self.index, self.ink = text, font, size, run, index, ink
        self.x0, self.top, self.x1, self.bottom = box
        self.word = text

    def label(self) -> str:
        return f"'{self.word}' [{self.font} {self.size:g}pt]"

    def where(self) -> str:
        return f"({self.x0:.1f}, {self.top:.1f})"


class _Interpreter(PDFPageInterpreter):
    """pdfminer's interpreter, the line width kept as written (user space): the device scales it
    by the transformation in force when the path is painted, as PDF says (pdfminer itself scales
    it at `w` in recent versions and not at all in older ones)."""

    def do_w(self, linewidth) -> None:
        try:
            self.graphicstate.linewidth = float(linewidth)
        except (TypeError, ValueError):
            pass


class _Resources(PDFResourceManager):
    """Fonts as pdfminer reads them, each with its glyphs' ink boxes (in em) by CID."""

    def __init__(self):
        super().__init__(caching=True)

    def get_font(self, objid, spec):
        font = super().get_font(objid, spec)
        if not hasattr(font, "audit_ink"):
            font.audit_ink = _Ink(font, spec)
            font.audit_name = str(getattr(font, "basefont", "?")).split("+", 1)[-1]
        return font


class _Ink:
    """A font's glyphs' ink boxes by CID, read from the embedded TrueType outlines as they are
    asked for: (xmin, ymin, xmax, ymax) in em, None for a glyph without ink, MISSING for a CID the
    font has no outline for (or a font fontTools cannot read: glyphs then get an estimated box)."""

    MISSING = object()

    def __init__(self, font, spec):
        self.boxes, self.glyf = {}, None
        try:
            fontfile = getattr(font, "fontfile", None)
            if fontfile is None:
                return
            spec = resolve1(spec)
            self.gid_map = None
            if "DescendantFonts" in spec:
                descendant = resolve1(resolve1(spec["DescendantFonts"])[0])
                cid_to_gid = resolve1(descendant.get("CIDToGIDMap"))
                if isinstance(cid_to_gid, PDFStream):  # else /Identity: CID = glyph id
                    raw = cid_to_gid.get_data()  # two bytes per CID
                    self.gid_map = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw) - 1, 2)]
            tt = TTFont(io.BytesIO(fontfile.get_data()), lazy=True)
            if "glyf" in tt:
                self.glyf, self.order, self.scale = tt["glyf"], tt.getGlyphOrder(), 1 / tt["head"].unitsPerEm
        except Exception:
            self.glyf = None

    def box(self, cid: int):
        if cid in self.boxes:
            return self.boxes[cid]
        found = self.MISSING
        if self.glyf is not None:
            try:
                gid = self.gid_map[cid] if self.gid_map is not None else cid
                g = self.glyf[self.order[gid]]
                if g.isComposite():
                    g.recalcBounds(self.glyf)
                if getattr(g, "numberOfContours", 0) == 0:
                    found = None
                else:
                    k = self.scale
                    found = (g.xMin * k, g.yMin * k, g.xMax * k, g.yMax * k)
            except Exception:
                found = self.MISSING
        self.boxes[cid] = found
        return found


class _Device(PDFTextDevice):
    """Collects a page's glyphs (with ink boxes) and drawn segments, top-down points."""

    def start(self, page):
        x0, y0, x1, y1 = page.mediabox
        self.height = y1 - y0  # pdfminer's page matrix puts the media box's corner at 0, 0
        self.box = (0.0, 0.0, x1 - x0, y1 - y0)
        self.glyphs, self.segments, self.run, self.last = [], [], 0, None

    def render_char(self, matrix, font, fontsize, scaling, rise, cid, *_):  # (ncs, graphicstate)
        adv = font.char_width(cid) * fontsize * scaling
        a, b, c, d, e, f = matrix
        try:
            text = font.to_unichr(cid)
        except Exception:
            text = "\ufffd"
        size = round(math.hypot(c, d) * fontsize, 2)
        name = font.audit_name
        end = (e + a * adv, f + b * adv)
        # one shaped run: same font, size and baseline, starting where the last glyph ended
        last = self.last
        if last is None or last[0] != name or last[1] != size or abs(last[3] - f) > 0.01 \
                or abs(last[2] - e) > 0.2 * size:
            self.run += 1
        self.last = (name, size, end[0], end[1])
        if text in _BLANK or not text.strip():
            self.glyphs.append(Glyph(text, name, size, (e, 0, e, 0), self.run, len(self.glyphs), False))
            return adv
        ink = font.audit_ink.box(cid)
        if ink is not _Ink.MISSING:
            if ink is None:
                self.glyphs.append(Glyph(text, name, size, (e, 0, e, 0), self.run, len(self.glyphs), False))
                return adv
            sx = fontsize * scaling
            corners = [(ink[0] * sx, ink[1] * fontsize + rise), (ink[2] * sx, ink[3] * fontsize + rise)]
        else:  # no outline: the advance, baseline to cap height
            corners = [(0.0, rise), (adv, 0.73 * fontsize + rise)]
        xs, ys = [], []
        for u in (corners[0][0], corners[1][0]):
            for v in (corners[0][1], corners[1][1]):
                xs.append(a * u + c * v + e)
                ys.append(b * u + d * v + f)
        box = (min(xs), self.height - max(ys), max(xs), self.height - min(ys))
        self.glyphs.append(Glyph(text, name, size, box, self.run, len(self.glyphs)))
        return adv

    def paint_path(self, gstate, stroke, fill, evenodd, path):
        stroked = stroke and not _light(gstate.scolor)
        filled = fill and not _light(gstate.ncolor)
        if not (stroked or filled):
            return
        a, b, c, d, e, f = self.ctm
        h = self.height
        half = float(gstate.linewidth or 0) * math.sqrt(abs(a * d - b * c)) / 2 if stroked else 0.0
        style = " (dashed)" if stroked and gstate.dash and gstate.dash[0] else ""

        def pt(x, y):
            return a * x + c * y + e, h - (b * x + d * y + f)

        subpaths, here = [], None  # each: [(point, kind of the piece ending there), ...]
        for op in path:
            kind = op[0]
            if kind == "m":
                here = pt(*op[1:3])
                subpaths.append([(here, "")])
            elif not subpaths:
                continue
            elif kind == "l":
                here = pt(*op[1:3])
                subpaths[-1].append((here, "line"))
            elif kind in ("c", "v", "y"):
                if kind == "c":
                    p1, p2, p3 = pt(*op[1:3]), pt(*op[3:5]), pt(*op[5:7])
                elif kind == "v":
                    p1, p2, p3 = here, pt(*op[1:3]), pt(*op[3:5])
                else:
                    p1, p2, p3 = pt(*op[1:3]), pt(*op[3:5]), pt(*op[3:5])
                p0 = here
                for i in range(1, 9):  # the curve as 8 chords
                    t = i / 8
                    u = 1 - t
                    subpaths[-1].append(((u ** 3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t ** 3 * p3[0],
                                          u ** 3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t ** 3 * p3[1]),
                                         "curve"))
                here = p3
            elif kind == "h":
                here = subpaths[-1][0][0]
                subpaths[-1].append((here, "line"))
        if stroked:
            for points in subpaths:
                for (p, _), (q, kind) in zip(points, points[1:]):
                    self._segment(p, q, half, kind + style)
        if filled:
            rects = [_rectangle([p for p, _ in points]) for points in subpaths]
            if len(rects) == 2 and all(rects) and _inside(*rects):  # a box's border: a ring, even-odd
                outer, inner = sorted(rects, key=lambda r: (r[2] - r[0]) * (r[3] - r[1]), reverse=True)
                for band in _bands(outer, inner):
                    self._segment(*band, "border")
                return
            for points, rect in zip(subpaths, rects):
                if rect and min(rect[2] - rect[0], rect[3] - rect[1]) < 0.01:
                    continue  # no area: nothing painted
                if rect and min(rect[2] - rect[0], rect[3] - rect[1]) < THIN_PT:
                    for band in _bands(rect, None):  # a border side or rule as a thin filled rectangle
                        self._segment(*band, "line")
                elif not stroked:  # the outline of a dark shape (an arrowhead)
                    closed = [p for p, _ in points] + [points[0][0]]
                    for p, q in zip(closed, closed[1:]):
                        self._segment(p, q, 0.0, "shape edge")

    def _segment(self, p, q, half, kind):
        if p != q:
            self.segments.append((p[0], p[1], q[0], q[1], half, kind))


def _rectangle(points):
    """The (x0, y0, x1, y1) of an axis-parallel rectangle's corners (one with no width counts), or None."""
    corners = set((round(x, 3), round(y, 3)) for x, y in points)
    xs, ys = sorted(set(x for x, _ in corners)), sorted(set(y for _, y in corners))
    if len(xs) > 2 or len(ys) > 2 or len(corners) != len(xs) * len(ys):
        return None
    return xs[0], ys[0], xs[-1], ys[-1]


def _inside(r, q) -> bool:
    """One rectangle within the other."""
    def within(a, b):
        return a[0] >= b[0] and a[1] >= b[1] and a[2] <= b[2] and a[3] <= b[3]
    return within(r, q) or within(q, r)


def _bands(outer, inner):
    """A filled rectangle (less an inner one: a border ring) as lines along its sides' middles,
    each (start, end, half width); a rectangle with no inner one is one line along its length."""
    x0, y0, x1, y1 = outer
    if inner is None:
        if x1 - x0 < y1 - y0:
            yield ((x0 + x1) / 2, y0), ((x0 + x1) / 2, y1), (x1 - x0) / 2
        else:
            yield (x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2), (y1 - y0) / 2
        return
    i0, j0, i1, j1 = inner
    for lo, hi, vertical in ((x0, i0, True), (i1, x1, True), (y0, j0, False), (j1, y1, False)):
        if hi - lo > 0.01:
            m = (lo + hi) / 2
            yield ((m, y0), (m, y1), (hi - lo) / 2) if vertical else ((x0, m), (x1, m), (hi - lo) / 2)


def _light(color) -> bool:
    """A colour that is a background: light grey, white, a pattern (hatching)."""
    if isinstance(color, (int, float)):
        color = (color,)
    if not isinstance(color, (tuple, list)) or not color or not all(isinstance(v, (int, float)) for v in color):
        return True  # a pattern, or a colour space we do not know
    if len(color) == 4:  # CMYK
        c, m, y, k = color
        return 0.3 * (1 - min(1, c + k)) + 0.59 * (1 - min(1, m + k)) + 0.11 * (1 - min(1, y + k)) >= LIGHT
    if len(color) == 3:
        return 0.3 * color[0] + 0.59 * color[1] + 0.11 * color[2] >= LIGHT
    return color[0] >= LIGHT


def _words(glyphs) -> None:
    """Each glyph's word: the inked glyphs of its run between blanks."""
    word = []
    for g in glyphs + [None]:
        if word and (g is None or not g.ink or g.run != word[-1].run):
            text = "".join(w.text for w in word)
            for w in word:
                w.word = text
            word = []
        if g is not None and g.ink:
            word.append(g)


# --- the checks -----------------------------------------------------------------------------

def _collisions(glyphs) -> list[str]:
    """Pairs of glyphs of different texts whose ink boxes overlap, found through a grid of 12 pt
    squares (a glyph is compared only with those sharing a square)."""
    cell, grid = 12.0, {}
    for i, g in enumerate(glyphs):
        for gx in range(int(g.x0 // cell), int(g.x1 // cell) + 1):
            for gy in range(int(g.top // cell), int(g.bottom // cell) + 1):
                grid.setdefault((gx, gy), []).append(i)
    pairs = set()
    for members in grid.values():
        for k, i in enumerate(members):
            for j in members[k + 1:]:
                pairs.add((i, j))
    seen, out = set(), []
    for i, j in sorted(pairs):
        g, h = glyphs[i], glyphs[j]
        if h.run == g.run and abs(h.index - g.index) <= 2:
            continue
        dx = min(g.x1, h.x1) - max(g.x0, h.x0)
        dy = min(g.bottom, h.bottom) - max(g.top, h.top)
        if dx > COLLIDE_PT and dy > COLLIDE_PT:
            key = (g.run, g.word, h.run, h.word)
            if key not in seen:
                seen.add(key)
                out.append(Problem("collides", f"{g.label()} collides with {h.label()}: {dx:.1f} x {dy:.1f} pt "
                                               f"overlap at ({max(g.x0, h.x0):.1f}, {max(g.top, h.top):.1f})"))
    return out


def _describe(seg) -> str:
    ax, ay, bx, by, _, kind = seg
    if abs(ax - bx) < 0.01:
        return f"a vertical {kind} x={ax:.1f} (y {min(ay, by):.1f}-{max(ay, by):.1f})"
    if abs(ay - by) < 0.01:
        return f"a horizontal {kind} y={ay:.1f} (x {min(ax, bx):.1f}-{max(ax, bx):.1f})"
    return f"a {kind} ({ax:.1f}, {ay:.1f})-({bx:.1f}, {by:.1f})"


def _distance(seg, x0, y0, x1, y1) -> float:
    """Distance from the segment's centre line to the box; negative inside it: how deep the line
    runs in, the deepest of nine points along its part in the box."""
    ax, ay, bx, by = seg[:4]
    # clip to the box (Liang-Barsky); if it misses, the distance to the nearest corner or end
    dx, dy = bx - ax, by - ay
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if p == 0:
            if q < 0:
                t0, t1 = 1.0, 0.0
                break
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
    if t0 <= t1:  # inside: the deepest of a few points along the part within the box
        return -max(min(px - x0, x1 - px, py - y0, y1 - py)
                    for px, py in ((ax + t * dx, ay + t * dy) for t in (t0 + (t1 - t0) * k / 8 for k in range(9))))
    best = math.inf
    for cx, cy in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
        t = max(0.0, min(1.0, ((cx - ax) * dx + (cy - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, math.hypot(ax + t * dx - cx, ay + t * dy - cy))
    for px, py in ((ax, ay), (bx, by)):
        best = min(best, math.hypot(max(x0 - px, 0, px - x1), max(y0 - py, 0, py - y1)))
    return best


def _gap(seg, x0, y0, x1, y1) -> float:
    """The white between a line's ink and a glyph's ink box; negative when they overlap: how deep
    the line runs in, across its length. A vertical or horizontal line's ink is a band of its
    width with square ends; a slanted one's, its centre line widened."""
    ax, ay, bx, by, w = seg[:5]
    if abs(ax - bx) < 1e-6:
        band = (ax - w, min(ay, by), ax + w, max(ay, by))
    elif abs(ay - by) < 1e-6:
        band = (min(ax, bx), ay - w, max(ax, bx), ay + w)
    else:
        return _distance(seg, x0, y0, x1, y1) - w
    gx, gy = max(x0 - band[2], band[0] - x1), max(y0 - band[3], band[1] - y1)
    if gx > 0 and gy > 0:
        return math.hypot(gx, gy)
    if gx > 0 or gy > 0:
        return max(gx, gy)
    if abs(ax - bx) < 1e-6:
        return -min(band[2] - x0, x1 - band[0])
    return -min(band[3] - y0, y1 - band[1])


def _crossings(glyphs, segs) -> list[str]:
    """Glyphs a line runs through (its ink overlaps theirs) or touches (closer than CLEAR_PT)."""
    if not segs:
        return []
    cell, grid = 24.0, {}  # the segments in 24 pt squares, so that each glyph meets only those near it
    for i, (ax, ay, bx, by, w, _) in enumerate(segs):
        for gx in range(int((min(ax, bx) - w) // cell), int((max(ax, bx) + w) // cell) + 1):
            for gy in range(int((min(ay, by) - w) // cell), int((max(ay, by) + w) // cell) + 1):
                grid.setdefault((gx, gy), []).append(i)
    worst = {}  # (run, word, line) -> (gap, glyph, segment): each word against each line once, at its closest
    for g in glyphs:
        near = set()
        for gx in range(int((g.x0 - CLEAR_PT - 2) // cell), int((g.x1 + CLEAR_PT + 2) // cell) + 1):
            for gy in range(int((g.top - CLEAR_PT - 2) // cell), int((g.bottom + CLEAR_PT + 2) // cell) + 1):
                near.update(grid.get((gx, gy), ()))
        for i in sorted(near):
            seg = segs[i]
            gap = _gap(seg, g.x0, g.top, g.x1, g.bottom)
            if gap >= CLEAR_PT or (g.text in MARKS and _through_middle(seg, g)):
                continue
            key = (g.run, g.word, _describe(seg))
            if key not in worst or gap < worst[key][0]:
                worst[key] = (gap, g, seg)
    out = []
    for gap, g, seg in worst.values():
        if gap < 0:
            out.append(Problem("crosses", f"{g.label()} crosses {_describe(seg)}: {-gap:.2f} pt deep at {g.where()}"))
        else:
            out.append(Problem("touches", f"{g.label()} touches {_describe(seg)}: {gap:.2f} pt apart at {g.where()}"))
    return out


def _through_middle(seg, g) -> bool:
    """The line passes within a point of the glyph's centre: the glyph marks that line."""
    cx, cy = (g.x0 + g.x1) / 2, (g.top + g.bottom) / 2
    return _distance(seg, cx - 0.01, cy - 0.01, cx + 0.01, cy + 0.01) < 1.0


def _edges(glyphs, segs, box) -> list[str]:
    """Glyphs and lines off the page or within EDGE_MM of its edge."""
    x0, top, x1, bottom = box
    m = EDGE_MM * MM
    out, seen = [], set()

    def where(a0, a1, b0, b1) -> str | None:
        if a0 < x0 or b0 < top or a1 > x1 or b1 > bottom:
            return "off the page"
        if a0 < x0 + m or b0 < top + m or a1 > x1 - m or b1 > bottom - m:
            return f"within {EDGE_MM:g} mm of its edge"
        return None

    for g in glyphs:
        problem = where(g.x0, g.x1, g.top, g.bottom)
        if problem and (g.run, g.word) not in seen:
            seen.add((g.run, g.word))
            out.append(Problem("edge", f"{g.label()} {problem} at ({g.x0:.1f}, {g.top:.1f})-({g.x1:.1f}, {g.bottom:.1f})"))
    for seg in segs:
        ax, ay, bx, by, w, _ = seg
        problem = where(min(ax, bx) - w, max(ax, bx) + w, min(ay, by) - w, max(ay, by) + w)
        if problem:
            out.append(Problem("edge", f"{_describe(seg)} {problem}"))
    return out


def _small(glyphs) -> list[str]:
    out, seen = [], set()
    for g in glyphs:
        if g.size < MIN_PT and (g.run, g.word) not in seen:
            seen.add((g.run, g.word))
            out.append(Problem("small", f"{g.label()} is set below {MIN_PT:g} pt at {g.where()}"))
    return out


if __name__ == "__main__":
    status = 0
    for path in sys.argv[1:]:
        found = audit(path)
        print(f"{path}: {len(found)} problem(s)")
        for problem in found:
            print("  " + problem)
        status |= bool(found)
    sys.exit(status)
