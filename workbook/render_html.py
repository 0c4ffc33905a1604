"""Render a Sheet as one self-contained HTML document (worksheet or answer key).

The key's template extends the worksheet's and fills only its answer blocks, so the two keep the
same layout. An edition-2 sheet (drawn boards) also has a pair document for the PDF step: the key
with the worksheet's own texts in it, each side's marked, laid out once for both PDFs. Autoescape
is on; CSS is inlined; nothing is fetched. Leaves out: PDF (render_pdf.py).
"""

import base64
import dataclasses
import mimetypes
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import Namespace

from workbook import __version__
from workbook.drawing import draw_board
from workbook.errors import SpecError, quoted
from workbook.resources import resource_dir
from workbook.sheet import Sheet

PAGE_SIZES = {"a4": "A4", "letter": "letter"}
DRAWN = 3  # the layout revision from which boards are drawn (drawing.py) instead of tables
SIDE_LABELS = {"worksheet": "Worksheet", "key": "Answer key", "solutions": "Worked solutions"}


class TemplateProblem(SpecError):
    """A school's own template that does not render; the message names the template and line."""




def _plain(obj) -> bool:
    """The plain data a template reads: the sheet and its parts, the drawn boards (dataclasses of
    this package), never the exact values behind them."""
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type) and type(obj).__module__.startswith("workbook.")


_STR_METHODS = frozenset({"upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith",
                          "endswith", "split", "isdigit"})
_DICT_METHODS = frozenset({"items", "keys", "values", "get"})
MAX_REPEAT = 10_000          # 'x' * n and [..] * n in a template
MAX_OUTPUT = 32 << 20        # characters a template may write
RENDER_SECONDS = 20          # a school's template that takes longer is stopped


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, narrowed to what a sheet's template needs: the fields of the
    sheet's plain data and a few string and dict methods. No method of any other object (the
    exact values behind the answers are sympy objects, whose methods can evaluate text), no huge
    repetition or power."""

    intercepted_binops = frozenset({"*", "**"})
    # Each decision depends on the object's type, the attribute's name and whether its value is
    # callable, nothing else (Jinja's own checks are by type and name too): made once per process
    # (a sheet reads about 800 attributes, the same few dozen kinds again and again)
    _decided: dict = {}
    _DECIDED_MAX = 4096

    def is_safe_attribute(self, obj, attr, value):
        key = (type(obj), attr, callable(value))
        safe = self._decided.get(key)
        if safe is None:
            safe = self._decide(obj, attr, value)
            if len(self._decided) < self._DECIDED_MAX:
                self._decided[key] = safe
        return safe

    def _decide(self, obj, attr, value) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if _plain(obj) or isinstance(obj, (Namespace, LoopContext)):  # fields, namespace(), loop.index
            return not callable(value) or (isinstance(obj, LoopContext) and attr == "cycle")
        if isinstance(obj, str):
            return attr in _STR_METHODS
        if isinstance(obj, dict):
            return attr in _DICT_METHODS
        return False

    def call_binop(self, context, operator, left, right):
        if operator == "*" and any(isinstance(a, (str, list, tuple)) for a in (left, right)):
            count = right if isinstance(left, (str, list, tuple)) else left
            if isinstance(count, int) and abs(count) > MAX_REPEAT:
                raise SecurityError(f"repeating something {count} times is more than a sheet needs")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError(f"a power of {right} is more than a sheet needs")
        return super().call_binop(context, operator, left, right)


def _bounded(filter_function, limit: int = 1000):
    """A width filter (center, indent, wordwrap, truncate) refusing widths over `limit`."""
    def run(value, width=80, *args, **kwargs):
        if isinstance(width, int) and abs(width) > limit:
            raise SecurityError(f"a width of {width} is more than a sheet needs")
        return filter_function(value, width, *args, **kwargs)
    return run


@lru_cache(maxsize=None)
def environment(template_dir: str = "") -> jinja2.Environment:
    """The package's templates; a school's own folder, when given, overrides any of them.

    Sandboxed (_Sandbox, Jinja2's immutable sandbox narrowed): a template reads the values it is
    given and calls the documented helpers (draw, embed), and nothing else: no attributes
    starting with '_', no method of the values behind the answers, no changing what it is given,
    no Python reached through a function's globals."""
    loaders = [jinja2.FileSystemLoader(template_dir)] if template_dir else []
    env = _Sandbox(
        loader=jinja2.ChoiceLoader(loaders + [jinja2.FileSystemLoader(str(resource_dir("templates")))]),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    for name in ("lipsum", "cycler", "joiner"):  # not among the documented helpers
        env.globals.pop(name, None)
    for name in ("center", "indent", "wordwrap", "truncate"):
        env.filters[name] = _bounded(env.filters[name])
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


def render_solutions(sheet: Sheet, working: dict, template_dir: str = "") -> str:
    """The worked solutions: the key with each step's working under its boxes (`working`:
    solutions.sections' {step number: Working, ...}), from solutions.html."""
    if not template_dir:
        return _render(sheet, True, "", False, "solutions.html", working)
    try:
        return _render(sheet, True, str(template_dir), False, "solutions.html", working)
    except (Exception, RecursionError) as err:
        raise TemplateProblem(_template_problem(err, str(template_dir), "solutions.html")) from None


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


def _render(sheet: Sheet, answer_key: bool, template_dir: str, pair: bool, name: str = "",
            working: dict | None = None) -> str:
    template = environment(template_dir).get_template(name or ("key.html" if answer_key or pair else "worksheet.html"))
    values = dict(sheet=sheet, page_size=PAGE_SIZES[sheet.paper], version=__version__,
                  drawn=sheet.revision >= DRAWN, draw=draw_board, answer_key=answer_key or pair,
                  pair=pair, labels=SIDE_LABELS)
    if working is not None:
        values.update(working=working, labels=dict(SIDE_LABELS, key=SIDE_LABELS["solutions"]))
    if not template_dir:
        return template.render(**values)
    with _time_limit(RENDER_SECONDS):  # a school's template: bounded in time and in size
        parts, size = [], 0
        for piece in template.generate(**values):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise SecurityError(f"it writes more than {MAX_OUTPUT >> 20} million characters")
            parts.append(piece)
        return "".join(parts)


@contextmanager
def _time_limit(seconds: int):
    """Stop what runs inside after `seconds` (main thread only: elsewhere, no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SecurityError(f"it took longer than {seconds} s to render")

    before = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


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
