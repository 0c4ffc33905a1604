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

import io
from pathlib import Path

Mark = tuple[int, str, int, float | None]


def bind(drawn: bytes, pages: list[tuple[int, int | None]], title: str, marks: list[Mark] = (),
         keywords: str = "") -> bytes:
    """A PDF whose page i is drawn page pages[i][0] with drawn page pages[i][1] (if any) over it."""
    import pikepdf

    source = pikepdf.Pdf.open(io.BytesIO(drawn))
    pdf = pikepdf.Pdf.new()
    for base, layer in pages:
        pdf.pages.append(source.pages[base])
        if layer is not None:
            _overlay(pdf, pdf.pages[-1], source.pages[layer])
    for key in ("/Creator", "/Producer"):
        if key in source.docinfo:
            pdf.docinfo[key] = source.docinfo[key]
    if keywords:
        pdf.docinfo["/Keywords"] = keywords
    if "/Lang" in source.Root:
        pdf.Root.Lang = source.Root.Lang
    return _saved(pdf, title, marks)


def _overlay(pdf, page, layer) -> None:
    """Draw `layer` (a page of the same size) over `page`, as a form named /Layer in the page's
    own resources (pikepdf's add_overlay picks random names, so the bytes would change)."""
    import pikepdf

    resources = pikepdf.Dictionary(page.Resources)  # own copies: drawn pages share theirs
    xobjects = pikepdf.Dictionary(resources.get("/XObject", pikepdf.Dictionary()))
    xobjects.Layer = pdf.copy_foreign(layer.as_form_xobject())
    resources.XObject = xobjects
    page.Resources = resources
    page.contents_add(b"q\n", prepend=True)
    page.contents_add(b"\nQ\n/Layer Do\n")


class JoinedPdf:
    """PDFs joined page after page into one (qpdf copies the pages' objects in C++: about ten
    times faster than reading and rewriting them in Python, which mattered for a class set's
    240 pages), with an outline built from each part's marks."""

    def __init__(self):
        import pikepdf

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
    import pikepdf

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
