"""Render a Sheet as one self-contained HTML document (worksheet or answer key).

The key's template extends the worksheet's and fills only its answer blocks, so the two keep the
same layout. An edition-2 sheet (drawn boards) also has a pair document for the PDF step: the key
with the worksheet's own texts in it, each side's marked, laid out once for both PDFs. Autoescape
is on; CSS is inlined; nothing is fetched. Leaves out: PDF (render_pdf.py).
"""

import base64
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from workbook import __version__
from workbook.drawing import draw_board
from workbook.errors import SpecError, quoted
from workbook.resources import resource_dir
from workbook.sheet import Sheet

PAGE_SIZES = {"a4": "A4", "letter": "letter"}
DRAWN = 3  # the layout revision from which boards are drawn (drawing.py) instead of tables
SIDE_LABELS = {"worksheet": "Worksheet", "key": "Answer key"}


class TemplateProblem(SpecError):
    """A school's own template that does not render; the message names the template and line."""


@lru_cache(maxsize=None)
def environment(template_dir: str = "") -> jinja2.Environment:
    """The package's templates; a school's own folder, when given, overrides any of them.

    Sandboxed (Jinja2's immutable sandbox): a template reads the values it is given and calls the
    documented helpers (draw, embed), and nothing else: no attributes starting with '_', no
    changing what it is given, no Python reached through a function's globals."""
    loaders = [jinja2.FileSystemLoader(template_dir)] if template_dir else []
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders + [jinja2.FileSystemLoader(str(resource_dir("templates")))]),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    for name in ("lipsum", "cycler", "joiner"):  # not among the documented helpers
        env.globals.pop(name, None)
    env.globals["embed"] = lambda name: _data_uri(Path(template_dir or resource_dir("templates")), name)
    return env


def _template_problem(err: BaseException, template_dir: str, first: str) -> str:
    """'template problem in worksheet.html, line 3: division by zero' (the template and line from
    Jinja2's error, or from the template frames of its traceback)."""
    name, line = getattr(err, "name", None) or getattr(err, "filename", None), getattr(err, "lineno", None)
    if not line:
        tb, folder = err.__traceback__, str(Path(template_dir).resolve())
        while tb is not None:  # Jinja2 rewrites the traceback so template frames carry template lines
            filename = tb.tb_frame.f_code.co_filename
            if filename.endswith((".html", ".css")) or filename.startswith(folder):
                name, line = filename, tb.tb_lineno
            tb = tb.tb_next
    if isinstance(err, RecursionError):
        why = "it includes or extends itself (endless recursion)"
    elif isinstance(err, UnicodeDecodeError):
        why = "it is not UTF-8 text"
    else:
        why = getattr(err, "message", None) or str(err) or type(err).__name__
    where = f" in {Path(name or first).name}"
    at = f", line {line}" if line else ""
    return f"template problem{where}{at}: {' '.join(str(why).split())[:160]}"


def _data_uri(folder: Path, name: str) -> str:
    """embed('logo.png') in a template -> 'data:image/png;base64,...': the file travels inside the
    HTML, so the PDF step still fetches nothing. Only files inside the template folder."""
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        raise jinja2.TemplateError(f"embed({quoted(name)}): no such file in the template folder {quoted(folder)}")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def render_html(sheet: Sheet, answer_key: bool = False, template_dir: str = "", pair: bool = False) -> str:
    """Sheet -> HTML text of its worksheet, or of its answer key (or of the pair, see Printable).
    Whatever goes wrong in a school's own templates (a syntax error, 1/0, a template that includes
    itself, a file that is not UTF-8, a sandbox refusal) is a TemplateProblem naming the template
    and its line."""
    if not template_dir:
        return _render(sheet, answer_key, "", pair)
    try:
        return _render(sheet, answer_key, str(template_dir), pair)
    except (Exception, RecursionError) as err:
        first = "key.html" if answer_key or pair else "worksheet.html"
        raise TemplateProblem(_template_problem(err, str(template_dir), first)) from None


def _render(sheet: Sheet, answer_key: bool, template_dir: str, pair: bool) -> str:
    template = environment(template_dir).get_template("key.html" if answer_key or pair else "worksheet.html")
    return template.render(sheet=sheet, page_size=PAGE_SIZES[sheet.paper], version=__version__,
                           drawn=sheet.revision >= DRAWN, draw=draw_board, answer_key=answer_key or pair,
                           pair=pair, labels=SIDE_LABELS)


@dataclass(frozen=True)
class Printable:
    """What the PDF step lays out for one sheet: the pair document (edition 2 with the package's
    templates: one layout, both PDFs, each with its title from `titles`) or the worksheet and
    the key (each titled by its own template)."""

    htmls: tuple[str, ...]
    titles: tuple[str, str]


def printable(sheet: Sheet, template_dir: str = "") -> Printable:
    titles = tuple(f"{sheet.title} · {SIDE_LABELS[side]} {sheet.code}" for side in ("worksheet", "key"))
    if sheet.revision >= DRAWN and not template_dir:
        return Printable((render_html(sheet, pair=True),), titles)
    return Printable((render_html(sheet, False, template_dir), render_html(sheet, True, template_dir)), titles)
