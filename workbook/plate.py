"""Plates: a preset's pages laid out once, then each student's numbers, code and name set into them.

Every student of one preset, paper and options gets the same page geometry (layout.answer_free:
boxes, rows, frames and page breaks depend on the parameters only), so a class set need not lay
out every student's pages from scratch. A plate is one student's pair document laid out in full
(render_pdf.lay_out), with what changes from student to student taken off it:
- the boards' numbers and labels (drawing.py's blocks of monospaced text, `div.t`): each is set
  again for every student from its place in the HTML, glyph by glyph, in PDF text operators
  (Lettering, drawn by binding.py): in a monospaced font a glyph's place is a sum of advances,
  and the advances, glyph numbers and line metrics come from WeasyPrint's own layout of a line
  of every character for every role (the carrier, a hidden block laid out with the plate and
  drawn in every class set's PDF so that its font subsets hold every glyph);
- the header's and margins' own words (side marks, code and seed, name, the footers): the plate's
  text boxes are shaped again with the student's words (Pango, as WeasyPrint does) and moved as
  their anchor says (left, right or centre, measured from the plate), then drawn by WeasyPrint;
- a key's inline pictures (a chart of the student's answers): WeasyPrint's picture of the
  student's SVG in the plate's box (the skeleton keeps the <svg> tag, so its size is the same).
Everything else (grids, headings, conventions, page numbers) is drawn once per class set.

A student is set into a plate only when nothing else differs: their HTML without those parts is
the plate's, their name fits on its line in the same size, and every character of their boards
has a glyph of its role's font. Otherwise (or for a school's own templates) their pages are laid
out in full, as before. A plate whose own student's glyphs it would not place exactly where
WeasyPrint placed them is not used at all. Leaves out: drawing pages (render_pdf.py), putting
pages together (binding.py), and which students share a plate (exam.py).
"""

import html as markup
import re
import unicodedata
from dataclasses import dataclass

PX = 0.75          # PDF points per CSS pixel
MM = 96 / 25.4     # CSS pixels per millimetre
ROLES = ("given", "whole", "frac", "dec", "dec-only", "name", "row", "col")  # drawing.py's blocks
# every character a board may hold that a carrier lays out (one that is not here, or has no glyph
# in its role's font, sends the student to a full layout)
ALPHABET = ("".join(chr(c) for c in range(0x21, 0x7F)) + "\u2009\u2007\u00a0²³¹⁰⁴⁵⁶⁷⁸⁹·×÷ŵΣΔδτσμαβγεηθλπφω"
            "ᵀ—–′−≈⊙≤≥±…√∑₀₁₂₃₄₅₆₇₈₉ᵢⱼₖ")
_BLOCK = re.compile(r'<div class="t ([^"]*)" style="left: (-?[\d.]+)mm; top: (-?[\d.]+)mm; width: (-?[\d.]+)mm; '
                    r'font-size: ([\d.]+)pt; line-height: ([\d.]+)mm">([^<]*)</div>')
_DRAWN = '<div class="drawn" '
_SIDEMARK = re.compile(r'<div class="sidemark ([^"]*)">([^<]*)</div>')
_META = re.compile(r'<span>Variant <span class="code">([^<]*)</span>([^<]*)</span>')
_NAME = re.compile(r'<span class="student">([^<]*)</span>')
_KEYWORDS = re.compile(r'<meta name="keywords" content="([^"]*)">')
_PICTURE = re.compile(r"(<svg\b[^>]*>).*?</svg>", re.S)  # an inline picture (a key's chart of its answers)
_SVG = "{http://www.w3.org/2000/svg}svg"
_CARRIER = "moe-workbook-carrier"
_EMPTY = 0x0FFFFFFF  # Pango's PANGO_GLYPH_EMPTY: a zero-width character, drawn as nothing


def skeleton(html: str) -> str:
    """A student's pair HTML without what a plate sets for each student: two students with the
    same skeleton have the same pages but for those words."""
    s = re.sub(_BLOCK.pattern + r"\s*", "", html)
    s = re.sub(r"<title>.*?</title>", "", s, flags=re.S)
    s = _KEYWORDS.sub("", s)
    s = _SIDEMARK.sub(lambda m: f'<div class="sidemark {m.group(1)}"></div>', s)
    s = _META.sub("<span>Variant </span>", s)
    s = _PICTURE.sub(lambda m: m.group(1) + "</svg>", s)
    return _NAME.sub('<span class="student"></span>', s)


@dataclass(frozen=True)
class Words:
    """A student's own words on the page (HTML unescaped)."""

    code: str
    tail: str            # ' · seed 1412328989 · token-choice'
    sidemarks: dict      # class ('only-ws', 'only-key') -> text
    name: str | None     # None: an unnamed sheet
    keywords: str
    pictures: tuple = ()  # every inline picture's markup, in the HTML's order

    @classmethod
    def of(cls, html: str) -> "Words":
        meta = _META.search(html)
        name = _NAME.search(html)
        keywords = _KEYWORDS.search(html)
        return cls(markup.unescape(meta.group(1)), markup.unescape(meta.group(2)),
                   {c: markup.unescape(t) for c, t in _SIDEMARK.findall(html)},
                   _collapsed(markup.unescape(name.group(1))) if name else None,
                   markup.unescape(keywords.group(1)) if keywords else "",
                   tuple(m.group(0) for m in _PICTURE.finditer(html)))


def _collapsed(text: str) -> str:
    """Text as CSS's `white-space: normal` lays it out: runs of spaces, tabs and line ends one
    space, none at the ends; a no-break or em space stays what it is (str.split() would not)."""
    return re.sub(r"[ \t\n\r\f]+", " ", text).strip(" ")


@dataclass(frozen=True)
class Block:
    role: str       # 'given', 'whole', ...
    side: str       # '' (both), 'key' or 'worksheet'
    x: float        # mm from the board's left
    y: float        # mm from the board's top
    size: float     # pt
    line: float     # mm between lines
    text: str


def blocks(html: str) -> list[list[Block]]:
    """Each board's blocks of text, boards in the order of the HTML."""
    starts = [m.start() for m in re.finditer(re.escape(_DRAWN), html)]
    out = [[] for _ in starts]
    for m in _BLOCK.finditer(html):
        board = sum(1 for s in starts if s < m.start()) - 1
        classes = m.group(1).split()
        side = "key" if "only-key" in classes else "worksheet" if "only-ws" in classes else ""
        role = " ".join(c for c in classes if c not in ("only-key", "only-ws"))
        out[board].append(Block(role, side, float(m.group(2)), float(m.group(3)), float(m.group(5)),
                                float(m.group(6)), markup.unescape(m.group(7))))
    return out


def with_carrier(html: str) -> str:
    """The plate's HTML: the student's, with a hidden board holding a line of every character for
    each role (out of the flow: the pages do not move)."""
    lines = "".join(f'<div class="t {role}" style="left: 0mm; top: {4 * i}mm; width: 100mm; font-size: 9pt; '
                    f'line-height: 4mm">\u200b{markup.escape(ALPHABET)}</div>' for i, role in enumerate(ROLES))
    carrier = (f'<div id="{_CARRIER}" style="position: absolute; left: 0; top: 0">'
               f'<div class="drawn" style="width: 100mm; height: 40mm">{lines}</div></div>')
    at = html.index("<body>") + len("<body>")
    return html[:at] + carrier + html[at:]


@dataclass(frozen=True)
class Face:
    """A role's type: its style (WeasyPrint's), colour, and per character (glyph, advance in em)."""

    style: object
    color: tuple
    glyphs: dict
    ascent: float   # em
    height: float   # em: the line's logical height


@dataclass(frozen=True)
class Unit:
    """Words of the header or margins that change: the box that moves, its text boxes (in line
    order) with what each becomes, and the anchor that stays ('left', 'right', 'centre'); or an
    inline picture (`picture`: which of the HTML's, in order)."""

    page: int
    layer: str            # '' (both sides), 'worksheet' or 'key'
    root: object          # the box moved
    texts: tuple          # (text box, how its text is made: a function Words -> str or None)
    anchor: str
    room: float | None    # widest its words may be (None: no limit)
    picture: int = -1     # for a picture (its root a replaced box, no texts): its place among the HTML's


@dataclass(frozen=True)
class Lettering:
    """A page's board words for one side or both, to be drawn in PDF text operators over the page.
    runs: (role, size in pt, (r, g, b), x pt, y pt from the page's bottom, ((glyph, advance in
    thousandths of the size), ...)). carrier: the drawn page whose fonts the runs use; roles: the
    carrier's roles in the order it draws them."""

    runs: tuple
    carrier: int
    roles: tuple = ROLES


class Plate:
    """One laid-out student's pages with the boards' words and the header's own taken off."""

    def __init__(self, laid, html: str):
        self.laid = laid
        self.skeleton = skeleton(html)
        self.words = Words.of(html)
        self.marks = laid.marks
        pages = [p._page_box for p in laid.drawn]
        self.faces = _faces(pages)
        self.boards = _boards(pages)  # (drawn page, x px, y px) per board, in the HTML's order
        self.page_of = _page_of(laid)  # drawn page -> (sheet page, layer)
        self.units = _units(laid, self.words, self.page_of)
        self.blocks = blocks(html)
        drop = {id(u.root) for u in self.units}
        self.drawn = tuple(_page(_pruned(p, drop)) for p in pages)
        self.carrier = _page(_carrier_only(pages[0]))
        self.page_height = laid.drawn[0].height
        self.shaped: dict = {}  # id of a unit's text box -> (height, baseline) of its own words
        self.paths = {i: _paths(p._page_box, {id(u.root) for u in self.units if u.page == i})
                      for i, p in enumerate(laid.drawn)}

    def check(self) -> bool:
        """Whether the plate sets its own student's board words where WeasyPrint put them: every
        line WeasyPrint drew, the same glyphs within 0.02 pt of where the plate puts them."""
        placed: dict = {}
        for board, texts in enumerate(self.blocks):
            for b in texts:
                runs = self._runs(board, b)
                if runs is None:
                    return False
                for run in runs:
                    placed.setdefault(tuple(g for g, _ in run[5]), []).append((run[3], run[4]))
        actual = _actual_runs(self.laid, self.page_height)
        return bool(actual) and len(actual) == sum(map(len, placed.values())) and all(
            any(abs(x - px) < 0.02 and abs(y - py) < 0.02 for px, py in placed.get(tuple(glyphs), ()))
            for x, y, glyphs in actual)

    def _runs(self, board: int, b: Block):
        """A block's lines as Lettering runs (None when a character has no glyph)."""
        face = self.faces.get(b.role)
        if face is None:
            return None
        page, bx, by = self.boards[board]
        size = b.size * 96 / 72  # px
        line = b.line * MM
        runs = []
        for i, text in enumerate(b.text.split("\n")):
            glyphs = []
            if text.startswith("\u00a0"):
                return None  # a line-leading no-break space: WeasyPrint widens it (drawing.py)
            for ch in text:
                if ch not in face.glyphs:
                    return None
                glyph, advance = face.glyphs[ch]
                if glyph != _EMPTY:
                    glyphs.append((glyph, advance))
                elif advance:  # a zero-width character that is not
                    return None
            if not glyphs:
                continue
            top = by + b.y * MM + i * line
            baseline = top + (line - face.height * size) / 2 + face.ascent * size
            x = bx + b.x * MM
            runs.append((b.role, b.size, face.color, x * PX, (self.page_height - baseline) * PX,
                         tuple(glyphs), page))
        return runs

    def set(self, printable, html: str):
        """The student's sheet set into this plate (a render_pdf.LaidOut), or None when it has to
        be laid out in full."""
        if skeleton(html) != self.skeleton:
            return None
        words = Words.of(html)
        if (words.name is None) != (self.words.name is None) or _right_to_left(words.name or ""):
            return None
        letterings = {}  # (drawn page, side) -> runs
        for board, texts in enumerate(blocks(html)):
            for b in texts:
                runs = self._runs(board, b)
                if runs is None:
                    return None
                for run in runs:  # side '' : both sides show it
                    letterings.setdefault((run[6], b.side), []).append(run[:6])
        layers = _set_words(self, words)
        if layers is None:
            return None
        return self._laid(printable, words, layers, letterings)

    def _laid(self, printable, words: "Words", layers: dict, letterings: dict):
        from workbook.render_pdf import LaidOut

        drawn = list(self.drawn) + [self.carrier]
        carrier = len(drawn) - 1
        letterings = {key: Lettering(tuple(runs), carrier) for key, runs in letterings.items()}
        extra = {}
        for key, page in layers.items():  # (sheet page, side) -> a Page of the student's words
            extra[key] = len(drawn)
            drawn.append(page)
        sides = {}
        for side, entries in self.laid.sides.items():
            out = []
            for number, (base, layer) in enumerate(entries):
                parts = [base] + ([layer] if layer is not None else [])
                if (number, side) in extra:
                    parts.append(extra[(number, side)])
                parts += [letterings[k] for k in ((base, ""), (base, side)) if k in letterings]
                out.append(tuple(parts))
            sides[side] = tuple(out)
        titles = dict(zip(("worksheet", "key"), printable.titles))
        return LaidOut(self.laid.document, tuple(drawn), sides, {s: titles[s] for s in sides},
                       self.marks, words.keywords)


def _page(page_box):
    """A WeasyPrint page to draw, from a laid-out page box (WeasyPrint is loaded by then)."""
    from weasyprint.document import Page

    return Page(page_box)


def make(printable, html: str):
    """A plate from a student's pair HTML, or None where plates do not apply (a school's own
    templates, an earlier layout, a page this module does not know)."""
    from workbook.render_pdf import documents, lay_out_documents

    if len(printable.htmls) != 1 or _META.search(html) is None or not blocks(html):
        return None
    laid = lay_out_documents(documents([with_carrier(html)]), printable)
    try:
        plate = Plate(laid, html)
    except _NoPlate:
        return None
    return plate if plate.check() else None


class _NoPlate(Exception):
    pass


def _classes(box) -> list:
    element = getattr(box, "element", None)
    return (element.get("class") or "").split() if element is not None else []


def _walk(box, ancestors=()):
    yield box, ancestors
    for child in getattr(box, "children", None) or ():
        yield from _walk(child, ancestors + (box,))


def _faces(pages) -> dict:
    """role -> Face, from the carrier's lines."""
    from weasyprint.text.ffi import FROM_UNITS, ffi

    faces = {}
    for page in pages:
        for box, ancestors in _walk(page):
            if type(box).__name__ != "TextBox" or not any(_id(a) == _CARRIER for a in ancestors):
                continue
            role = next(" ".join(c for c in _classes(a) if c not in ("t",)) for a in reversed(ancestors)
                        if "t" in _classes(a))
            style = box.style
            size = style["font_size"]
            box.pango_layout.reactivate(style)
            try:
                line, _ = box.pango_layout.get_first_line()
                data = box.pango_layout.text.encode()
                glyphs, first_font, run = {}, None, line.runs[0]
                while run != ffi.NULL:
                    item, run = run.data, run.next
                    font = item.item.analysis.font
                    first_font = first_font or font
                    string = item.glyphs
                    for i in range(string.num_glyphs):
                        start = item.item.offset + string.log_clusters[i]
                        end = (item.item.offset + string.log_clusters[i + 1] if i + 1 < string.num_glyphs
                               else item.item.offset + item.item.length)
                        ch = data[start:end].decode()
                        info = string.glyphs[i]
                        if len(ch) != 1 or font != first_font or info.glyph & 0x10000000 and info.glyph != _EMPTY:
                            continue
                        glyphs[ch] = (info.glyph, info.geometry.width * FROM_UNITS / size)
            finally:
                box.pango_layout.deactivate()
            color = tuple(style["color"].to("srgb").coordinates)[:3]
            leading = (style["line_height"].value - box.height) / 2  # the carrier's half-leading
            faces[role] = Face(style, color, glyphs, (box.baseline - leading) / size, box.height / size)
    if set(faces) != set(ROLES):
        raise _NoPlate("carrier not laid out")
    return faces


def _id(box) -> str:
    element = getattr(box, "element", None)
    return (element.get("id") or "") if element is not None else ""


def _boards(pages) -> list:
    """(drawn page, x, y of the content box in px) of every board but the carrier's, in order.
    A board is on one drawn page only (the layer pages hold none of them whole)."""
    seen, out = set(), []
    for number, page in enumerate(pages):
        for box, ancestors in _walk(page):
            if "drawn" in _classes(box) and not any(_id(a) == _CARRIER for a in ancestors):
                if id(box.element) in seen:
                    continue
                seen.add(id(box.element))
                out.append((box.element, number, box.content_box_x(), box.content_box_y()))
    # tree order per page is the HTML's order; the element order across pages as well
    return [(n, x, y) for _, n, x, y in out]


def _page_of(laid) -> dict:
    out = {}
    for side, entries in laid.sides.items():
        for number, (base, layer) in enumerate(entries):
            out[base] = (number, "")
            if layer is not None:
                out[layer] = (number, side)
    return out


def _units(laid, words: Words, page_of: dict) -> list:
    """The header's and margins' words that change, with their anchors."""
    units = []
    for index, page in enumerate(laid.drawn):
        number, layer = page_of[index]
        for box, ancestors in _walk(page._page_box):
            kind = type(box).__name__
            if kind == "MarginBox" and box.at_keyword in ("@bottom-left", "@bottom-center"):
                texts = [b for b, _ in _walk(box) if type(b).__name__ == "TextBox"]
                if box.at_keyword == "@bottom-left":
                    if len(texts) != 1 or texts[0].text.count(words.code) != 1:
                        raise _NoPlate("footer")
                    left = texts[0].text.replace(words.code, "\0")
                    units.append(Unit(index, layer, box, ((texts[0], lambda w, t=left: t.replace("\0", w.code)),),
                                      "left", None))
                else:
                    if len(texts) != 1 or words.name is None:
                        raise _NoPlate("footer name")
                    units.append(Unit(index, layer, box, ((texts[0], lambda w: w.name),), "centre",
                                      _centre_room(page._page_box)))
            elif kind in ("BlockBox", "AbsolutePlaceholder") and "sidemark" in _classes(box):
                texts = [b for b, _ in _walk(box) if type(b).__name__ == "TextBox"]
                mark = next(c for c in _classes(box) if c.startswith("only-"))
                if len(texts) != 1:
                    raise _NoPlate("side mark")
                units.append(Unit(index, layer, box, ((texts[0], lambda w, m=mark: w.sidemarks.get(m)),),
                                  "right", None))
            elif kind == "TextBox" and "code" in _classes(box) and ancestors:
                item = next((a for a in reversed(ancestors) if type(a).__name__ != "InlineBox"
                             and type(a).__name__ != "LineBox"), None)
                texts = [b for b, _ in _walk(item) if type(b).__name__ == "TextBox"]
                if item is None or len(texts) != 3 or texts[0].text != "Variant ":
                    raise _NoPlate("code line")
                units.append(Unit(index, layer, item, ((texts[0], lambda w: "Variant "), (texts[1], lambda w: w.code),
                                                       (texts[2], lambda w: w.tail)), "right", None))
            elif kind == "TextBox" and "student" in _classes(box):
                holder = ancestors[-1] if type(ancestors[-1]).__name__ == "LineBox" else None
                span = ancestors[-2] if holder is not None else None
                if span is None:
                    raise _NoPlate("name")
                units.append(Unit(index, layer, box, ((box, lambda w: w.name),), "left", span.width))
    pictures = [e for e in laid.document._html.etree_element.iter(_SVG)]
    order = {id(e): i for i, e in enumerate(pictures)}
    for index, page in enumerate(laid.drawn):
        number, layer = page_of[index]
        for box, _ in _walk(page._page_box):
            if getattr(box, "element", None) is not None and box.element.tag == _SVG and hasattr(box, "replacement"):
                units.append(Unit(index, layer, box, (), "left", None, order[id(box.element)]))
    if len({u.picture for u in units if u.picture >= 0}) != len(pictures):
        raise _NoPlate("a picture not drawn whole on one page")
    return units


def _set_words(plate: Plate, words: Words):
    """(sheet page, side) -> a Page of the student's header and margin words, or None when one
    does not fit where the plate's did."""
    from weasyprint.text.line_break import split_first_line

    made: dict = {}
    for unit in plate.units:
        if unit.picture >= 0:
            root = _picture(unit.root, words.pictures[unit.picture]) if unit.picture < len(words.pictures) else None
            if root is None:
                return None
            made.setdefault(unit.page, {})[id(unit.root)] = root
            continue
        shaped = []
        for box, make in unit.texts:
            text = make(words)
            if not text:
                return None
            wrap = unit.room if box.style["white_space"] in ("normal", "pre-wrap", "pre-line") else None
            layout, _, resume, width, height, baseline = split_first_line(text, box.style, None, wrap, 0)
            if id(box) not in plate.shaped:  # the plate's own words, shaped alike: what must not change
                plate.shaped[id(box)] = split_first_line(box.text, box.style, None, wrap, 0)[4:]
            if resume is not None or (height, baseline) != plate.shaped[id(box)]:
                return None
            shaped.append((box, text, layout, width))
        grow = sum(w - box.width for box, _, _, w in shaped)
        shift = {"left": 0.0, "right": -grow, "centre": -grow / 2}[unit.anchor]
        new_texts, moved = {}, shift
        for box, text, layout, width in shaped:
            new = box.copy_with_text(text)
            new.pango_layout = layout
            if hasattr(layout, "layout"):
                layout.deactivate()
            new.width = width
            new.position_x = box.position_x + moved
            moved += width - box.width
            new_texts[id(box)] = new
        root = new_texts.get(id(unit.root)) or _replaced(unit.root, new_texts)
        made.setdefault(unit.page, {})[id(unit.root)] = root
    # one page of words per sheet page and side: the words both sides show, then the side's own
    pages = {}
    for side, entries in plate.laid.sides.items():
        for number, (base, layer) in enumerate(entries):
            trees = [_kept(plate.laid.drawn[i]._page_box, made[i], plate.paths[i]) for i in (base, layer)
                     if i in made]
            if trees:
                page = trees[0]
                for tree in trees[1:]:
                    page.children = list(page.children) + list(tree.children)
                pages[(number, side)] = _page(page)
    return pages


def _picture(box, svg: str):
    """A copy of a plate's inline picture (a replaced box) drawing the student's picture instead,
    or None when it does not parse. Its size is the plate's: the skeleton keeps the <svg> tag."""
    from xml.etree import ElementTree

    from weasyprint.images import SVGImage

    try:
        tree = ElementTree.fromstring(svg)
        old = box.replacement
        image = SVGImage(tree, old._base_url, old._url_fetcher, old._context)
    except Exception:  # a picture WeasyPrint would also refuse, or not XML: laid out in full
        return None
    new = box.copy()
    new.replacement = image
    return new


def _centre_room(page) -> float:
    """Widest the centred footer may be on a page: twice its distance to the nearer side box
    (margin boxes share the line: a wider one wraps)."""
    boxes = {b.at_keyword: b for b in page.children if type(b).__name__ == "MarginBox"}
    centre = page.margin_width() / 2
    left = boxes.get("@bottom-left")
    right = boxes.get("@bottom-right")
    room = page.margin_width()
    if left is not None:
        room = min(room, 2 * (centre - (left.position_x + left.margin_width())))
    if right is not None:
        room = min(room, 2 * (right.position_x - centre))
    return room


def _replaced(box, new_texts: dict):
    """A copy of `box` with its text boxes replaced (children copied where one changed)."""
    if id(box) in new_texts:
        return new_texts[id(box)]
    children = getattr(box, "children", None)
    if not children:
        return box
    new = box.copy()
    new.children = [_replaced(child, new_texts) for child in children]
    return new


def _kept(box, roots: dict, path: set):
    """Only the boxes in `roots` (id of a plate box -> the student's copy), with their ancestors as
    bare copies (no background, border or text of their own); `path`: the ids of the boxes on the
    way to any of them (the rest of the page is not walked)."""
    if id(box) in roots:
        return roots[id(box)]
    kept = [_kept(child, roots, path) for child in getattr(box, "children", ()) or ()
            if id(child) in path or id(child) in roots]
    return _bare(box, kept)


def _paths(page_box, roots: set) -> set:
    """The ids of the boxes of a page on the way from it to any box in `roots` (ids)."""
    out = set()
    for box, ancestors in _walk(page_box):
        if id(box) in roots:
            out.update(id(a) for a in ancestors)
    return out


def _bare(box, children):
    new = box.copy()
    new.children = children
    new.background = None
    if hasattr(new, "canvas_background"):
        new.canvas_background = None
    new.border_top_width = new.border_right_width = new.border_bottom_width = new.border_left_width = 0
    return new


def _pruned(box, drop: set):
    """A copy of a page without the boards' words, the carrier and the units (ids in `drop`)."""
    children = getattr(box, "children", None)
    if not children:
        return box
    kept = [_pruned(child, drop) for child in children
            if id(child) not in drop and "t" not in _classes(child) and _id(child) != _CARRIER]
    if len(kept) == len(children) and all(a is b for a, b in zip(kept, children)):
        return box
    new = box.copy()
    new.children = kept
    return new


def _carrier_only(page_box):
    """A page holding the carrier's lines alone: drawn in every class set's PDF, never printed."""
    carrier = next((b for b, _ in _walk(page_box) if _id(b) == _CARRIER), None)
    if carrier is None:
        raise _NoPlate("carrier")
    return _kept(page_box, {id(carrier): carrier}, _paths(page_box, {id(carrier)}))


def _actual_runs(laid, page_height: float) -> list:
    """(x pt, y pt from the bottom, glyphs) of every line of every board as WeasyPrint laid it out
    (the carrier's aside)."""
    from weasyprint.text.ffi import ffi

    out = []
    for page in laid.drawn:
        for box, ancestors in _walk(page._page_box):
            if type(box).__name__ != "TextBox" or not any("t" in _classes(a) for a in ancestors):
                continue
            if any(_id(a) == _CARRIER for a in ancestors) or not box.text.strip():
                continue
            box.pango_layout.reactivate(box.style)
            try:
                line, _ = box.pango_layout.get_first_line()
                glyphs, run = [], line.runs[0]
                while run != ffi.NULL:
                    item, run = run.data, run.next
                    for i in range(item.glyphs.num_glyphs):
                        g = item.glyphs.glyphs[i].glyph
                        if g != _EMPTY:
                            glyphs.append(g)
            finally:
                box.pango_layout.deactivate()
            out.append((box.position_x * PX, (page_height - box.position_y - box.baseline) * PX, glyphs))
    return out


def _right_to_left(text: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL", "AN", "RLE", "RLO", "RLI") for c in text)


_plates: dict = {}    # (family, skeleton digest) -> Plate, or None where none could be made
_families: dict = {}  # family -> [plates made, sheets set into them]


def lay_out(printable, family: str = ""):
    """A sheet laid out for print (render_pdf.LaidOut): set into the plate of its skeleton (made
    from the first student who has it, kept for the process), or laid out in full. `family`: the
    preset the sheet is of; where its sheets seldom share a skeleton (keys that draw a chart of
    each student's answers), no more plates are made for it after two: a plate costs a little
    more than a full layout and pays only when used again."""
    import hashlib

    from workbook.render_pdf import lay_out as full

    if len(printable.htmls) != 1:
        return full(printable)
    html = printable.htmls[0]
    key = (family, hashlib.sha256(skeleton(html).encode()).digest())
    counts = _families.setdefault(family, [0, 0])
    if key not in _plates:
        if counts[0] >= 2 and counts[1] <= counts[0]:
            return full(printable)
        if len(_plates) >= 16:  # a few presets' plates at a time (an exam of many presets)
            _plates.pop(next(iter(_plates)))
        _plates[key] = _quietly(make, printable, html)
        counts[0] += 1
    plate = _plates[key]
    laid = _quietly(plate.set, printable, html) if plate is not None else None
    if laid is None:
        return full(printable)
    counts[1] += 1
    return laid


def _quietly(step, *args):
    """A plate's step, or None where it fails: a plate only saves time, and a sheet it cannot set
    is laid out in full (a WeasyPrint whose inner boxes differ from the ones this module knows
    must cost speed, never a class set)."""
    try:
        return step(*args)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, StopIteration):
        return None
