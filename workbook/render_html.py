"""Render a Sheet as one self-contained HTML document (worksheet or answer key).

The key's template extends the worksheet's and fills only its answer blocks, so the two keep the
same layout. Autoescape is on; CSS is inlined; nothing is fetched. Leaves out: PDF (render_pdf.py).
"""

from functools import lru_cache

import jinja2

from workbook import __version__
from workbook.resources import resource_dir
from workbook.sheet import Sheet

PAGE_SIZES = {"a4": "A4", "letter": "letter"}


@lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(sheet: Sheet, answer_key: bool = False) -> str:
    """Sheet -> HTML text of its worksheet, or of its answer key."""
    template = environment().get_template("key.html" if answer_key else "worksheet.html")
    return template.render(sheet=sheet, page_size=PAGE_SIZES[sheet.paper], version=__version__)
