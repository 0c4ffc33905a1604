"""HTML -> PDF with WeasyPrint: lay a sheet out, draw its pages once, bind each side's PDF.

WeasyPrint is imported here only, on first use, so `solve` and `--help` stay fast. Nothing is
fetched: every URL is refused, and the sheets use fonts installed on the system. A pair layout
(edition 2) is split page by page into what worksheet and key share and each side's own boxes;
every page is drawn once, in one PDF, and binding.py lays each side's boxes over the shared page
(drawing was a third of a class set's time, and worksheet and key share most of each page). The
PDF carries no dates, and the embedded font subsets get a fixed timestamp (fontTools reads
SOURCE_DATE_EPOCH), so the same HTML gives the same bytes. Leaves out: layout (the templates),
putting PDFs together (binding.py) and files.
"""

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

FIXED_EPOCH = "1767225600"  # 2026-01-01: the timestamp written into embedded font subsets


@contextmanager
def _fixed_font_timestamps():
    """Pin SOURCE_DATE_EPOCH while writing (unless the caller set one), then restore it."""
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = before or FIXED_EPOCH
    try:
        yield
    finally:
        if before is None:
            del os.environ["SOURCE_DATE_EPOCH"]


def write_pdf(doc) -> bytes:
    """A laid-out document -> PDF bytes, reproducibly."""
    with _fixed_font_timestamps():
        return doc.write_pdf()


# WeasyPrint opens Pango, HarfBuzz, fontconfig and GObject when it is imported (text/ffi.py),
# trying several names for each library, most of them other systems' ('libpango-1.0-0' for
# Windows, '.dylib' for macOS), with cffi's ffi.dlopen. A name that is not a file the dynamic
# loader opens goes to ctypes.util.find_library, which on Linux runs `ldconfig -p`, then gcc and
# ld: about 22 lookups, three child processes each, for every process that imports WeasyPrint
# (each `build` and `exam` worker too). Those lookups end in the soname the loader opens anyway
# (find_library returns a soname, and cffi dlopens it), so while WeasyPrint is imported each of
# its names is answered with the library's soname, opened directly. When a soname does not open
# (another system, another ABI version), that library's name gets WeasyPrint's own lookup: the
# original find_library, once. (WEASYPRINT_DLL_DIRECTORIES is Windows-only: os.add_dll_directory.)
_SONAMES = {  # the name find_library is asked for on Linux -> the library's soname
    "gobject-2.0": "libgobject-2.0.so.0",
    "pango-1.0": "libpango-1.0.so.0",
    "harfbuzz": "libharfbuzz.so.0",
    "harfbuzz-subset": "libharfbuzz-subset.so.0",  # optional for WeasyPrint
    "harfbuzz-vector": "libharfbuzz-vector.so.0",  # optional for WeasyPrint
    "fontconfig": "libfontconfig.so.1",
    "pangoft2-1.0": "libpangoft2-1.0.so.0",
}
_ALIASES = {  # every name WeasyPrint 70 tries for a library -> its name above (a new one: the original lookup)
    alias: name
    for name, aliases in {
        "gobject-2.0": ("libgobject-2.0-0", "gobject-2.0-0", "libgobject-2.0.so.0", "libgobject-2.0.0.dylib",
                        "libgobject-2.0-0.dll"),
        "pango-1.0": ("libpango-1.0-0", "pango-1.0-0", "libpango-1.0.so.0", "libpango-1.0.dylib",
                      "libpango-1.0-0.dll"),
        "harfbuzz": ("libharfbuzz-0", "harfbuzz-0.0", "libharfbuzz.so.0", "libharfbuzz.0.dylib", "libharfbuzz-0.dll"),
        "harfbuzz-subset": ("libharfbuzz-subset-0", "harfbuzz-subset-0.0", "libharfbuzz-subset.so.0",
                            "libharfbuzz-subset.0.dylib", "libharfbuzz-subset-0.dll"),
        "harfbuzz-vector": ("libharfbuzz-vector-0", "harfbuzz-vector-0.0", "libharfbuzz-vector.so.0",
                            "libharfbuzz-vector.0.dylib", "libharfbuzz-vector-0.dll"),
        "fontconfig": ("libfontconfig-1", "fontconfig-1", "libfontconfig.so.1", "libfontconfig.1.dylib",
                       "libfontconfig-1.dll"),
        "pangoft2-1.0": ("libpangoft2-1.0-0", "pangoft2-1.0-0", "libpangoft2-1.0.so.0", "libpangoft2-1.0.dylib",
                         "libpangoft2-1.0-0.dll"),
    }.items()
    for alias in (name, *aliases)
}


def _library_finder(original):
    """ctypes.util.find_library for WeasyPrint's libraries: the soname when it opens, else the
    original lookup (once per library); any other name goes to the original."""
    import ctypes

    found: dict = {}

    def find_library(name):
        library = _ALIASES.get(name)
        if library is None:
            return original(name)
        if library not in found:
            try:
                ctypes.CDLL(_SONAMES[library])
                found[library] = _SONAMES[library]
            except OSError:
                found[library] = original(library)
        return found[library]

    return find_library


@contextmanager
def _libraries_by_soname():
    """While WeasyPrint is imported (on Linux), its libraries are found without child processes."""
    if not sys.platform.startswith("linux"):
        yield
        return
    import ctypes.util

    original = ctypes.util.find_library
    ctypes.util.find_library = _library_finder(original)
    try:
        yield
    finally:
        ctypes.util.find_library = original


def import_weasyprint():
    """The weasyprint module, imported once per process with its libraries found directly."""
    if "weasyprint" not in sys.modules:
        with _libraries_by_soname():
            import weasyprint  # noqa: F401
    return sys.modules["weasyprint"]


def _weasyprint():
    weasyprint = import_weasyprint()
    from weasyprint.urls import URLFetcher

    class RefuseAll(URLFetcher):
        """Refuse every fetch: a sheet is self-contained, never a network or file read."""

        def fetch(self, url, headers=None):
            if url.startswith("data:"):  # inline content (an embedded logo), not a fetch
                return super().fetch(url, headers)
            raise ValueError(f"moe-workbook fetches nothing: {url}")

    return weasyprint, RefuseAll


def single_pdf(html: str) -> bytes:
    """One HTML document as a PDF of its own (the worked solutions: a flow of its own, not a side
    of the worksheet's pair layout)."""
    return write_pdf(documents([html])[0])


def documents(htmls: list[str]) -> list:
    """Lay out each HTML text as a WeasyPrint document (each keeps its own page x of y)."""
    weasyprint, refuse = _weasyprint()
    fonts, images = _shared()
    return [weasyprint.HTML(string=html, url_fetcher=refuse()).render(font_config=fonts, cache=images)
            for html in htmls]


_process: dict = {}


def _shared():
    """What every document of the process shares: one font configuration (setting one up costs
    about as much as laying out a page, and the sheets add no fonts of their own) and one image
    cache (the boards' grid pictures repeat from sheet to sheet: each is read once, not per
    sheet). Together they take about a tenth off a sheet's layout in a class set."""
    if not _process:
        import_weasyprint()
        from weasyprint.text.fonts import FontConfiguration
        _process.update(fonts=FontConfiguration(), images={})
    return _process["fonts"], _process["images"]


SIDES = ("worksheet", "key")
_OWN = {"worksheet": "only-ws", "key": "only-key"}  # what only one side of a pair layout shows
PT = 0.75  # PDF points per CSS pixel


@dataclass(frozen=True)
class LaidOut:
    """A sheet laid out for print. `drawn` are the pages to draw, each once; sides[side] lists
    that side's pages as (base, layer) indexes into `drawn`: for a pair layout, the page both
    sides share with the side's own layer over it; for two HTMLs, the side's page and None.
    marks[side]: the side's bookmarks (binding.Mark, pages counted from its first)."""

    document: object  # the WeasyPrint document the pages come from (its fonts and metadata)
    drawn: tuple
    sides: dict
    titles: dict
    marks: dict
    keywords: str = ""  # the PDF's keywords: 'variant 10JP-82M'


def lay_out(printable, wanted=SIDES) -> LaidOut:
    """A render_html.Printable -> its pages, bound for the sides `wanted`. A pair is laid out
    once; each page is split into what both sides show and each side's own boxes (render_html
    marks them), so both sides have the same pages by construction and what they share is drawn
    once. Both sides are always drawn, whichever are wanted: the embedded font subsets hold the
    glyphs of every drawn page, so a side's PDF would otherwise depend on whether the other side
    was asked for too (`key CODE` must give the bytes `generate` wrote)."""
    return lay_out_documents(documents(list(printable.htmls)), printable, wanted)


def lay_out_documents(laid_docs: list, printable, wanted=SIDES) -> LaidOut:
    """lay_out for documents already laid out from printable's HTMLs (plate.py lays out its own)."""
    from weasyprint.document import Page

    titles = dict(zip(SIDES, printable.titles))  # a school's template without a <title> keeps ours
    if len(printable.htmls) == 2:
        docs = dict(zip(SIDES, laid_docs))
        drawn, sides = [], {}
        for side, doc in docs.items():
            sides[side] = tuple((len(drawn) + i, None) for i in range(len(doc.pages)))
            drawn += doc.pages
        first = docs[SIDES[0]]
        return LaidOut(first, tuple(drawn), {side: sides[side] for side in wanted},
                       {side: docs[side].metadata.title or titles[side] for side in wanted},
                       {side: _marks(docs[side]) for side in wanted}, ", ".join(first.metadata.keywords or ()))
    pair = laid_docs[0]
    drawn, sides = [], {side: [] for side in SIDES}
    for page in pair.pages:
        drawn.append(Page(_without(page._page_box, *_OWN.values())))
        base = len(drawn) - 1
        for side in SIDES:
            layer = _only(page._page_box, _OWN[side])
            if layer is not None:
                drawn.append(Page(layer))
            sides[side].append((base, len(drawn) - 1 if layer is not None else None))
    return LaidOut(pair, tuple(drawn), {side: tuple(sides[side]) for side in wanted},
                   {side: titles[side] for side in wanted}, {side: _marks(pair) for side in wanted},
                   ", ".join(pair.metadata.keywords or ()))


def _without(box, *marks: str):
    """A laid-out box tree without the boxes of elements of a class in `marks`; boxes with
    nothing removed below them are shared, the others copied (the layout is left as it is)."""
    children = getattr(box, "children", None)
    if not children:
        return box
    kept = [_without(child, *marks) for child in children if not any(_marked(child, m) for m in marks)]
    if len(kept) == len(children) and all(a is b for a, b in zip(kept, children)):
        return box
    new = box.copy()
    new.children = kept
    return new


def _only(box, mark: str):
    """The boxes of elements of class `mark` in a laid-out tree, with their ancestors as bare
    copies (no background, no border: the shared page draws those); None when there are none."""
    if _marked(box, mark):
        return box
    kept = [c for c in (_only(child, mark) for child in getattr(box, "children", ()) or ()) if c is not None]
    if not kept:
        return None
    new = box.copy()
    new.children = kept
    new.background = None
    if hasattr(new, "canvas_background"):  # a page box: the html/body background, drawn on the page
        new.canvas_background = None
    new.border_top_width = new.border_right_width = new.border_bottom_width = new.border_left_width = 0
    return new


def _marked(box, mark: str) -> bool:
    element = getattr(box, "element", None)
    return element is not None and mark in (element.get("class") or "").split()


def _marks(doc) -> list:
    """A document's bookmarks (its headings) as binding.Mark tuples."""
    out = []

    def walk(tree, level):
        for label, (page, _x, y), children, _state in tree:
            out.append((level, label, page, (doc.pages[page].height - y) * PT))
            walk(children, level + 1)
    walk(doc.make_bookmark_tree(), 0)
    return out


@dataclass(frozen=True)
class Printed:
    """Sheets printed: each side's PDF, and per group of sheets (a student) a dict: side ->
    (pages, pages with the blank pad, marks with pages from the group's first); with singles,
    also 'single': side -> the group's own PDF."""

    pdfs: dict
    groups: tuple


@dataclass
class _Span:
    """A group's pages on one side: where they start, how many, how many with the pad, marks."""

    first: int
    pages: int = 0
    padded: int = 0
    marks: list = field(default_factory=list)


def print_sheets(groups: list[list[LaidOut]], pad: str = "", singles: list[dict] | None = None) -> Printed:
    """Draw every page of every sheet once (one WeasyPrint PDF) and bind each side's PDF from
    it. With `pad` (a paper size), a group whose pages on a side are odd gets a blank page, so
    the next group starts on a right-hand page when printed double-sided. With `singles` (per
    group, side -> title), each group's own PDFs too."""
    from workbook.binding import bind

    drawn, plan, spans = _paged(groups, pad)
    first = groups[0][0]
    source = write_pdf(first.document.copy(drawn))
    memo: dict = {}  # a plate's Lettering of both sides, made once
    pdfs = {side: bind(source, pages, first.titles[side],
                       [(lv, label, span[side].first + page, top) for span in spans
                        for lv, label, page, top in span[side].marks],
                       _keywords([sheet for group in groups for sheet in group]), memo)
            for side, pages in plan.items()}
    rows = []
    for i, (group, span) in enumerate(zip(groups, spans)):
        row = {side: (s.pages, s.padded, s.marks) for side, s in span.items()}
        if singles:
            row["single"] = {side: bind(source, plan[side][s.first:s.first + s.pages], singles[i][side],
                                        s.marks, _keywords(group), memo) for side, s in span.items()}
        rows.append(row)
    return Printed(pdfs, tuple(rows))


def _paged(groups: list[list[LaidOut]], pad: str):
    """Every page to draw (a page several sheets share, a plate's, once); each side's pages as
    tuples of layers: indexes into them, or plate.Lettering over them; each group's span per side."""
    drawn, plan, spans, blank = [], {side: [] for side in groups[0][0].sides}, [], None
    index: dict = {}  # id of a drawn page -> its place in `drawn`

    def place(page) -> int:
        if id(page) not in index:
            index[id(page)] = len(drawn)
            drawn.append(page)
        return index[id(page)]

    for group in groups:
        span = {side: _Span(len(pages)) for side, pages in plan.items()}
        for sheet in group:
            where = [place(page) for page in sheet.drawn]
            for side, pages in plan.items():
                here = len(pages) - span[side].first
                span[side].marks += [(lv, label, here + page, top) for lv, label, page, top in sheet.marks[side]]
                pages += [tuple(_moved(layer, where) for layer in entry if layer is not None)
                          for entry in sheet.sides[side]]
        for side, pages in plan.items():
            span[side].pages = len(pages) - span[side].first
            if pad and span[side].pages % 2:
                if blank is None:
                    blank = place(blank_page(pad))
                pages.append((blank,))
            span[side].padded = len(pages) - span[side].first
        spans.append(span)
    return drawn, plan, spans


def _moved(layer, where: list):
    """A sheet's layer with its drawn pages' indexes as the class set's."""
    if isinstance(layer, int):
        return where[layer]
    from dataclasses import replace
    return replace(layer, carrier=where[layer.carrier])


def _keywords(sheets: list[LaidOut]) -> str:
    return ", ".join(dict.fromkeys(sheet.keywords for sheet in sheets if sheet.keywords))


def render_pdf(html: str) -> bytes:
    """One HTML text -> PDF bytes."""
    return write_pdf(documents([html])[0])


def print_alone(html: str) -> tuple[bytes, int, list]:
    """One HTML text laid out alone -> its PDF bytes, its number of pages and its bookmarks
    (binding.Mark, from its headings)."""
    doc = documents([html])[0]
    return write_pdf(doc), len(doc.pages), _marks(doc)


_BLANK = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>@page {{ size: {size}; margin: 20mm; }}
p {{ font-family: "DejaVu Sans", sans-serif; font-size: 8pt; color: #777; text-align: center; margin-top: 120mm; }}
</style></head><body><p>This page is left blank for double-sided printing.</p></body></html>"""


def blank_page(paper: str):
    """One laid-out blank page of the paper size, to pad a student's sheets to an even count."""
    if paper not in _blank_pages:
        size = {"a4": "A4", "letter": "letter"}[paper]
        _blank_pages[paper] = documents([_BLANK.format(size=size)])[0].pages[0]
    return _blank_pages[paper]


_blank_pages: dict = {}


def blank_pdf(paper: str) -> bytes:
    """The blank page as a PDF of its own, to pad sheets joined from their own PDFs (course.py)."""
    if paper not in _blank_pdfs:
        _blank_pdfs[paper] = render_pdf(_BLANK.format(size={"a4": "A4", "letter": "letter"}[paper]))
    return _blank_pdfs[paper]


_blank_pdfs: dict = {}
