"""HTML -> PDF with WeasyPrint: the HTML renderer plus one conversion step.

WeasyPrint is imported here only, on first use, so `solve` and `--help` stay fast. Nothing is
fetched: every URL is refused, and the sheets use fonts installed on the system. The PDF carries
no dates, and the embedded font subsets get a fixed timestamp (fontTools reads SOURCE_DATE_EPOCH),
so the same HTML gives the same bytes. Leaves out: layout (the templates) and files.
"""

import io
import os
from contextlib import contextmanager

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


def _weasyprint():
    import weasyprint
    from weasyprint.urls import URLFetcher

    class RefuseAll(URLFetcher):
        """Refuse every fetch: a sheet is self-contained, never a network or file read."""

        def fetch(self, url, headers=None):
            if url.startswith("data:"):  # inline content (an embedded logo), not a fetch
                return super().fetch(url, headers)
            raise ValueError(f"moe-workbook fetches nothing: {url}")

    return weasyprint, RefuseAll


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
    sheet). Together they take about a quarter off a sheet's layout in a class set."""
    if not _process:
        from weasyprint.text.fonts import FontConfiguration
        _process.update(fonts=FontConfiguration(), images={})
    return _process["fonts"], _process["images"]


SIDES = ("worksheet", "key")
_MARKS = {"worksheet": "only-key", "key": "only-ws"}  # what each side leaves out of a pair layout


def side_documents(printable, wanted=SIDES) -> tuple:
    """A render_html.Printable -> (worksheet, key) laid-out documents (None for a side not
    wanted). A pair is laid out once; each side is that layout without the other side's marked
    boxes, so both have the same pages by construction, and gets its own PDF title."""
    import copy

    from weasyprint.document import Page

    if len(printable.htmls) == 2:
        return tuple(documents([html])[0] if side in wanted else None
                     for side, html in zip(SIDES, printable.htmls))
    pair = documents(list(printable.htmls))[0]
    docs = []
    for side, title in zip(SIDES, printable.titles):
        doc = pair.copy([Page(_without(page._page_box, _MARKS[side])) for page in pair.pages])
        doc.metadata = copy.copy(doc.metadata)  # copies share it otherwise
        doc.metadata.title = title
        docs.append(doc)
    return tuple(docs)


def _without(box, mark: str):
    """A laid-out box tree without the boxes of elements of class `mark`; boxes with nothing
    removed below them are shared, the others copied (the layout itself is left as it is)."""
    children = getattr(box, "children", None)
    if not children:
        return box
    kept = [_without(child, mark) for child in children if not _marked(child, mark)]
    if len(kept) == len(children) and all(a is b for a, b in zip(kept, children)):
        return box
    new = box.copy()
    new.children = kept
    return new


def _marked(box, mark: str) -> bool:
    element = getattr(box, "element", None)
    return element is not None and mark in (element.get("class") or "").split()


class JoinedPdf:
    """PDFs joined page after page into one (qpdf, through pikepdf, copies the pages' objects in
    C++: about ten times faster than reading and rewriting them in Python, which mattered for a
    class set's 240 pages). The same parts in the same order give the same bytes."""

    def __init__(self):
        import pikepdf

        self._pikepdf = pikepdf
        self._pdf = pikepdf.Pdf.new()
        self._parts = []  # the joined pages' streams are read from their parts when saved

    def add(self, part: bytes) -> None:
        self._parts.append(self._pikepdf.Pdf.open(io.BytesIO(part)))
        self._pdf.pages.extend(self._parts[-1].pages)

    def pdf(self, title: str) -> bytes:
        self._pdf.docinfo["/Title"] = title
        buffer = io.BytesIO()
        self._pdf.save(buffer, deterministic_id=True)
        return buffer.getvalue()


def render_pdf(html: str) -> bytes:
    """One HTML text -> PDF bytes."""
    return write_pdf(documents([html])[0])


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
