"""Binding: PDFs put together from pages already drawn, with pikepdf (qpdf), never drawing again.

A side's page is a drawn page with, for a pair layout, that side's own layer laid over it (the
worksheet's blanks and labels, or the key's answers, over the page both share), so what the two
sides have in common is drawn once. `bind` makes a PDF of chosen pages of one drawn PDF;
`JoinedPdf` joins PDFs (a class set's parts, a course's sheets, laid out by several processes)
into one. Both rebuild the bookmark outline, which copying pages leaves behind: a mark is
(level, label, page, top in points from the page's bottom, or None for the whole page). The
same input gives the same bytes. Leaves out: drawing (render_pdf.py) and what the pages are
(exam.py, course.py).
"""

import importlib
import io
import signal
import sys
import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

Mark = tuple[int, str, int, float | None]


def _pikepdf():
    """pikepdf, imported with Ctrl-C and SIGTERM held until it is done: a signal that lands while
    its extension sets itself up (nanobind creating its enums) aborts the whole process (SIGABRT,
    'Critical nanobind error') instead of unwinding it."""
    if "pikepdf" not in sys.modules:
        with held_signals():
            importlib.import_module("pikepdf")
    return sys.modules["pikepdf"]


@contextmanager
def held_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """Ctrl-C and SIGTERM noted, not acted on, inside the block; the first one noted is handed to
    its own handler as the block ends. Only the main thread handles signals: elsewhere, nothing held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted = []
    before = {s: signal.signal(s, lambda signum, frame: noted.append(signum)) for s in signals}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        if noted:
            handler = before[noted[0]]
            if callable(handler):
                handler(noted[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(noted[0])


def bind(drawn: bytes, pages: list[tuple], title: str, marks: list[Mark] = (),
         keywords: str = "", memo: dict | None = None) -> bytes:
    """A PDF whose page i is drawn page pages[i][0] with the rest of pages[i] laid over it in turn:
    drawn pages (their indexes; None for none) or plate.Lettering (words set in text operators).
    `memo`: the Letterings' contents already made from the same `drawn` (both sides share some)."""
    pikepdf = _pikepdf()

    source = pikepdf.Pdf.open(io.BytesIO(drawn))
    pdf = pikepdf.Pdf.new()
    fonts: dict = {}  # carrier page -> role -> (font, widths)
    uses = Counter(base for base, *_ in pages)
    for base, *layers in pages:
        if uses[base] > 1:  # a plate's page, under several students' words: a page dict of its own
            page = pikepdf.Dictionary(pdf.copy_foreign(source.pages[base].obj))  # (the copy is kept as it is)
            if isinstance(page.get("/Contents"), pikepdf.Array):
                page.Contents = pikepdf.Array(list(page.Contents))
            pdf.pages.append(pikepdf.Page(pdf.make_indirect(page)))
        else:
            pdf.pages.append(source.pages[base])
        for n, layer in enumerate(layer for layer in layers if layer is not None):
            name = "/Layer" if n == 0 else f"/Layer{n + 1}"
            if isinstance(layer, int):
                _overlay(pdf, pdf.pages[-1], pdf.copy_foreign(source.pages[layer].as_form_xobject()), name)
            else:
                if layer.carrier not in fonts:
                    fonts[layer.carrier] = _carrier_fonts(source.pages[layer.carrier], layer.roles)
                form = _lettering_form(pdf, layer, fonts[layer.carrier], pdf.pages[-1], {} if memo is None else memo)
                _overlay(pdf, pdf.pages[-1], form, name)
    for key in ("/Creator", "/Producer"):
        if key in source.docinfo:
            pdf.docinfo[key] = source.docinfo[key]
    if keywords:
        pdf.docinfo["/Keywords"] = keywords
    if "/Lang" in source.Root:
        pdf.Root.Lang = source.Root.Lang
    return _saved(pdf, title, marks)


def _overlay(pdf, page, form, name: str = "/Layer") -> None:
    """Draw `form` (a form XObject of the page's size) over `page`, named `name` in the page's own
    resources (pikepdf's add_overlay picks random names, so the bytes would change)."""
    pikepdf = _pikepdf()

    resources = pikepdf.Dictionary(page.Resources)  # own copies: drawn pages share theirs
    xobjects = pikepdf.Dictionary(resources.get("/XObject", pikepdf.Dictionary()))
    xobjects[name] = form
    resources.XObject = xobjects
    page.Resources = resources
    if name == "/Layer":
        page.contents_add(b"q\n", prepend=True)
        page.contents_add(b"\nQ\n/Layer Do\n")
    else:
        page.contents_add(f"\n{name} Do\n".encode())


def _carrier_fonts(page, roles: tuple) -> dict:
    """role -> (font object, {glyph: width}) from a plate's carrier page, which draws one line
    per role, in the order of `roles`."""
    pikepdf = _pikepdf()

    names = [operands[0] for operands, op in pikepdf.parse_content_stream(page, "Tf")]
    if len(names) != len(roles):
        raise ValueError(f"carrier page names {len(names)} fonts for {len(roles)} roles")
    out = {}
    for role, name in zip(roles, names):
        font = page.Resources.Font[name]
        widths, w = {}, list(font.DescendantFonts[0].get("/W", []))
        i = 0
        while i < len(w):
            first = int(w[i])
            if isinstance(w[i + 1], pikepdf.Array):
                for k, value in enumerate(w[i + 1]):
                    widths[first + k] = float(value)
                i += 2
            else:
                for g in range(first, int(w[i + 1]) + 1):
                    widths[g] = float(w[i + 2])
                i += 3
        out[role] = (font, widths)
    return out


def lettering_ops(lettering, fonts: dict) -> tuple[bytes, dict]:
    """A plate.Lettering's PDF content and the fonts it names (name -> role): fonts maps role ->
    (font object, widths {glyph: width in thousandths}); names are /R0, /R1, ... in the order of its roles.
    A run's glyphs advance by the font's widths; where that puts a glyph half a thousandth of the
    size or more from its place (a monospaced font's widths are rounded), a TJ adjustment moves
    it back."""
    names = {role: f"/R{i}" for i, role in enumerate(lettering.roles)}
    used, out, colour = {}, [], None
    for role, size, rgb, x, y, glyphs in lettering.runs:
        _, widths = fonts[role]
        used[names[role]] = role
        parts, drift = ["["], 0.0  # drift: how far right of its place the font's widths put the pen
        for glyph, advance in glyphs:
            if drift >= 0.5 or drift <= -0.5:
                step = round(drift)
                parts.append(f">{step}<")
                drift -= step
            parts.append(_HEX[glyph])
            drift += widths.get(glyph, 1000) - advance * 1000
        fill = "" if rgb == colour else "{} {} {} rg ".format(*map(_number, rgb))
        colour = rgb
        out.append(f"BT {names[role]} {_number(size)} Tf {fill}1 0 0 1 {_number(x)} {_number(y)} Tm "
                   f"[<{''.join(parts[1:])}>] TJ ET")
    return ("\n".join(out) + "\n").encode(), used


class _Hexes(dict):
    """A glyph number's four hex digits, made the first time the glyph is set (a sheet's few dozen
    glyphs; a table of all 65,536 took 15 ms of every start-up)."""

    def __missing__(self, glyph: int) -> str:
        if not 0 <= glyph < 1 << 16:  # a two-byte glyph number, as the fonts' Identity-H encoding has
            raise IndexError(f"glyph {glyph} has no two-byte number")
        text = self[glyph] = f"{glyph:04x}"
        return text


_HEX = _Hexes()


def _number(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def _lettering_form(pdf, lettering, fonts: dict, page, memo: dict):
    """A form XObject of the page's size drawing a plate.Lettering."""
    pikepdf = _pikepdf()

    if id(lettering) not in memo:
        memo[id(lettering)] = (lettering, lettering_ops(lettering, fonts))  # (kept alive: its id stays its own)
    content, used = memo[id(lettering)][1]
    form = pikepdf.Stream(pdf, content)
    form.Type = pikepdf.Name.XObject
    form.Subtype = pikepdf.Name.Form
    form.BBox = page.MediaBox
    form.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary({name: pdf.copy_foreign(fonts[role][0])
                                                                  for name, role in used.items()}))
    return form


class JoinedPdf:
    """PDFs joined page after page into one (qpdf copies the pages' objects in C++: about ten
    times faster than reading and rewriting them in Python, which mattered for a class set's
    240 pages), with an outline built from each part's marks."""

    def __init__(self):
        pikepdf = _pikepdf()

        self._pikepdf = pikepdf
        self._pdf = pikepdf.Pdf.new()
        self._parts = {}  # part -> its opened PDF: the joined pages' streams are read from it when saved
        self._marks: list[Mark] = []

    def add(self, part, marks: list[Mark] = ()) -> None:
        """Append every page of `part` (PDF bytes, or the path of a PDF file, read when the joined PDF
        is saved rather than held in memory); its marks' pages count from its first page. A part
        added again (a blank page) is opened once: its pages' contents and fonts are stored once."""
        first = len(self._pdf.pages)
        if part not in self._parts:
            self._parts[part] = self._pikepdf.Pdf.open(part if isinstance(part, Path) else io.BytesIO(part))
        opened = self._parts[part]
        self._pdf.pages.extend(opened.pages)
        if "/Lang" in opened.Root and "/Lang" not in self._pdf.Root:
            self._pdf.Root.Lang = opened.Root.Lang
        self._marks += [(level, label, first + page, top) for level, label, page, top in marks]

    def pdf(self, title: str) -> bytes:
        return _saved(self._pdf, title, self._marks)

    def save(self, path: Path, title: str) -> Path:
        """The joined PDF written straight to `path` (the same bytes as pdf()), not held in memory."""
        _saved(self._pdf, title, self._marks, path)
        return path


def _saved(pdf, title: str, marks: list[Mark], path: Path | None = None) -> bytes | None:
    pikepdf = _pikepdf()

    pdf.docinfo["/Title"] = title
    if marks:
        with pdf.open_outline() as outline:
            parents = {0: outline.root}  # level -> the list a mark of that level goes into
            for level, label, page, top in marks:
                item = (pikepdf.OutlineItem(label, page) if top is None
                        else pikepdf.OutlineItem(label, page, pikepdf.PageLocation.XYZ, top=round(top, 2)))
                parents[max(n for n in parents if n <= level)].append(item)  # a skipped level: one up
                parents = {n: v for n, v in parents.items() if n <= level}
                parents[level + 1] = item.children
    if path is not None:
        pdf.save(path, deterministic_id=True)
        return None
    buffer = io.BytesIO()
    pdf.save(buffer, deterministic_id=True)
    return buffer.getvalue()


class StreamedPdf:
    """PDFs joined page after page straight into a file, one part open at a time: memory stays
    the same whatever the number of parts (a class set of thousands of students), where JoinedPdf
    holds every part's objects until it saves. Each part's pages, and every object they reach
    (not their old page tree), are written out renumbered as they come; the page tree, the
    outline from the parts' marks, the document information and the cross-reference table
    close the file. The same parts give the same bytes."""

    def __init__(self, path: Path):
        import os

        Path(path).unlink(missing_ok=True)  # written anew, never through a link left in its place
        self._path = Path(path)
        self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                                       0o666), "wb")
        self._offsets: dict[int, int] = {}
        self._next = 3              # 1: the catalog, 2: the page tree, written last
        self._pages: list[int] = []
        self._marks: list[Mark] = []
        self._lang = None
        self._info: dict[str, object] = {}
        self._write(b"%PDF-1.7\n%\xbf\xf7\xa2\xfe\n")

    def _write(self, data: bytes) -> None:
        self._file.write(data)

    def _object(self, number: int, body: bytes) -> None:
        self._offsets[number] = self._file.tell()
        self._write(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    def add(self, part, marks: list[Mark] = ()) -> None:
        """Append every page of `part` (PDF bytes or a file's path)."""
        pikepdf = _pikepdf()

        first = len(self._pages)
        with pikepdf.open(part if isinstance(part, Path) else io.BytesIO(part)) as pdf:
            numbers: dict[tuple[int, int], int] = {}
            queue = []

            def ref(obj) -> bytes:
                if obj.objgen not in numbers:
                    numbers[obj.objgen] = self._next
                    self._next += 1
                    queue.append(obj)
                return b"%d 0 R" % numbers[obj.objgen]

            for page in pdf.pages:
                self._pages.append(int(ref(page.obj).split()[0]))
            while queue:
                obj = queue.pop(0)
                self._object(numbers[obj.objgen], _syntax(obj, ref, top=True))
            if self._lang is None and "/Lang" in pdf.Root:
                self._lang = pdf.Root.Lang.unparse()
            for key in ("/Creator", "/Producer"):
                if key in pdf.docinfo and key not in self._info:
                    self._info[key] = pdf.docinfo[key].unparse()
        self._marks += [(level, label, first + page, top) for level, label, page, top in marks]

    def close(self, title: str) -> None:
        """The page tree, the outline, the catalog and the cross-reference table: the file is whole."""
        pikepdf = _pikepdf()

        kids = b" ".join(b"%d 0 R" % n for n in self._pages)
        outline = self._outline()
        self._info["/Title"] = pikepdf.String(title).unparse()
        info = self._next
        self._next += 1
        self._object(info, b"<< " + b" ".join(k.encode() + b" " + v for k, v in sorted(self._info.items())) + b" >>")
        self._object(2, b"<< /Type /Pages /Count %d /Kids [ %s ] >>" % (len(self._pages), kids))
        catalog = b"<< /Type /Catalog /Pages 2 0 R" + (b" /Outlines %d 0 R" % outline if outline else b"") + (
            b" /Lang " + self._lang if self._lang else b"") + b" >>"
        self._object(1, catalog)
        start = self._file.tell()
        size = self._next
        self._write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for n in range(1, size):
            self._write(b"%010d 00000 n \n" % self._offsets[n])
        self._file.flush()
        digest = _file_digest(self._path)
        self._write(b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R /ID [ <%s> <%s> ] >>\nstartxref\n%d\n%%%%EOF\n"
                    % (size, info, digest, digest, start))
        self._file.close()

    def _outline(self) -> int | None:
        """The outline items from the marks, nested by level (a skipped level: one up), as objects."""
        pikepdf = _pikepdf()

        if not self._marks:
            return None
        root = {"children": [], "number": self._next}
        self._next += 1
        parents = {0: root}
        for level, label, page, top in self._marks:
            item = {"children": [], "number": self._next, "label": label, "page": self._pages[page], "top": top}
            self._next += 1
            parent = parents[max(n for n in parents if n <= level)]
            parent["children"].append(item)
            item["parent"] = parent["number"]
            parents = {n: v for n, v in parents.items() if n <= level}
            parents[level + 1] = item

        def count(node) -> int:
            return sum(1 + count(c) for c in node["children"])

        def write(node) -> None:
            kids = node["children"]
            parts = []
            if "label" in node:
                dest = (b"[ %d 0 R /XYZ null %s null ]" % (node["page"], _real(round(node["top"], 2)))
                        if node["top"] is not None else b"[ %d 0 R /Fit ]" % node["page"])
                parts += [b"/Title " + pikepdf.String(node["label"]).unparse(), b"/Parent %d 0 R" % node["parent"],
                          b"/Dest " + dest]
            else:
                parts.append(b"/Type /Outlines")
            if kids:
                parts += [b"/First %d 0 R" % kids[0]["number"], b"/Last %d 0 R" % kids[-1]["number"],
                          b"/Count %d" % count(node)]
            siblings = node.get("siblings", ())
            for key, other in siblings:
                parts.append(key + b" %d 0 R" % other)
            self._object(node["number"], b"<< " + b" ".join(parts) + b" >>")
            for i, kid in enumerate(kids):
                kid["siblings"] = ([(b"/Prev", kids[i - 1]["number"])] if i else []) + (
                    [(b"/Next", kids[i + 1]["number"])] if i + 1 < len(kids) else [])
                write(kid)

        write(root)
        return root["number"]


def _real(value) -> bytes:
    """A PDF number: 12, 12.5, never an exponent."""
    text = format(value, "f").rstrip("0").rstrip(".") if "." in format(value, "f") else format(value, "f")
    return (text or "0").encode()


def _file_digest(path) -> bytes:
    import hashlib

    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest().encode()


def _syntax(obj, ref, top: bool = False) -> bytes:
    """An object in PDF syntax, each indirect object it holds as a reference (`ref` numbers it);
    a page's /Parent left out (the joined file's own page tree is its parent)."""
    pikepdf = _pikepdf()
    from decimal import Decimal

    if isinstance(obj, bool):
        return b"true" if obj else b"false"
    if isinstance(obj, int):
        return b"%d" % obj
    if isinstance(obj, (Decimal, float)):
        return _real(obj)
    if obj is None:
        return b"null"
    if not top and obj.is_indirect:
        return ref(obj)
    if isinstance(obj, pikepdf.Stream):
        raw = obj.read_raw_bytes()
        entries = [(k, v) for k, v in obj.stream_dict.items() if k != "/Length"]
        head = b"<< " + b" ".join(pikepdf.Name(k).unparse() + b" " + _syntax(v, ref) for k, v in entries)
        return head + b" /Length %d >>\nstream\n" % len(raw) + raw + b"\nendstream"
    if isinstance(obj, pikepdf.Dictionary):
        page = obj.get("/Type") == pikepdf.Name.Page
        items = [(k, v) for k, v in obj.items() if not (page and k == "/Parent")]
        body = b" ".join(pikepdf.Name(k).unparse() + b" " + _syntax(v, ref) for k, v in items)
        return b"<< " + body + (b" /Parent 2 0 R" if page else b"") + b" >>"
    if isinstance(obj, pikepdf.Array):
        return b"[ " + b" ".join(_syntax(v, ref) for v in obj) + b" ]"
    return obj.unparse()
