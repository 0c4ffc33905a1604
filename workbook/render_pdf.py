"""HTML -> PDF with WeasyPrint: the HTML renderer plus one conversion step.

WeasyPrint is imported here only, on first use, so `solve` and `--help` stay fast. Nothing is
fetched: every URL is refused, and the sheets use fonts installed on the system. The PDF carries
no dates, so the same HTML gives the same bytes. Leaves out: layout (the templates) and files.
"""


def _weasyprint():
    import weasyprint
    from weasyprint.urls import URLFetcher

    class RefuseAll(URLFetcher):
        """Refuse every fetch: a sheet is self-contained, never a network or file read."""

        def fetch(self, url, headers=None):
            raise ValueError(f"moe-workbook fetches nothing: {url}")

    return weasyprint, RefuseAll


def documents(htmls: list[str]) -> list:
    """Lay out each HTML text as a WeasyPrint document (each keeps its own page x of y)."""
    weasyprint, refuse = _weasyprint()
    return [weasyprint.HTML(string=html, url_fetcher=refuse()).render() for html in htmls]


def render_pdf(html: str) -> bytes:
    """One HTML text -> PDF bytes."""
    return documents([html])[0].write_pdf()


def combine(docs: list) -> bytes:
    """Several laid-out documents -> one PDF, pages in order (page numbers stay per sheet)."""
    pages = [page for doc in docs for page in doc.pages]
    return docs[0].copy(pages).write_pdf()
