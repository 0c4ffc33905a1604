"""The moe-workbook command line: parse, call the library, print what was written.

Library errors become one-line messages: exit 2 for bad input (usage), 1 for anything else.
Start-up stays fast: at import this module loads click and the light modules its options need
(errors, spec's constants); the library (numpy, sympy, Jinja2, WeasyPrint) is imported inside
the commands that use it, so `--help`, `-V`, `list` and every `COMMAND -h` load none of it and
`solve` no renderer (tests/test_startup.py checks). Leaves out: every computation (the library
does it).
"""

import errno
import importlib
import math
import os
import re
import signal
import sys
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import click

from workbook import __version__
from workbook.errors import QUOTE_LIMIT, SpecError, CodeError, WorkbookError, quoted
from workbook.spec import CAPACITY_FACTORS, GATES, MAX_SEED, SCAFFOLDS, make_spec, parse_param



def _lazy(module: str, name: str):
    """A stand-in for `from module import name` that imports the module on its first call, so
    the command line starts without it (and a test can still replace the name here)."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported on first use."
    return call


decode = _lazy("workbook.code", "decode")
looks_like_code = _lazy("workbook.code", "looks_like_code")
preset = _lazy("workbook.presets", "preset")
presets = _lazy("workbook.presets", "presets")
unknown_preset = _lazy("workbook.presets", "unknown_preset")
parse_formats = _lazy("workbook.formats", "parse_formats")
render = _lazy("workbook.formats", "render")
render_json = _lazy("workbook.render_json", "render_json")   # numpy and sympy: solved variants only
solve = _lazy("workbook.solve", "solve")                     # numpy and sympy
build_sheet = _lazy("workbook.sheet", "build_sheet")         # sympy
write_all = _lazy("workbook.write", "write_all")

DEFAULT_OUT = Path("output")


class BadInput(click.ClickException):
    """Bad input from the user: one line, exit status 2."""

    exit_code = 2


class FiniteRange(click.FloatRange):
    """A number in a range, never nan or inf (a FloatRange lets nan through: no comparison fails)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{quoted(value)} is not a number in the range {self.min} to {self.max}", param, ctx)
        return number


class Interrupted(BaseException):
    """Ctrl-C, carried past click (whose own handling would print a blank line first)."""


class OneLineGroup(click.Group):
    """Every error, click's own included, as one line 'Error: ...'; never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        if not args:  # bare `moe-workbook`: the help, as a request rather than an error
            with self.make_context(prog_name or "moe-workbook", ["--help"], resilient_parsing=True) as ctx:
                click.echo(self.get_help(ctx))
            sys.exit(0)
        previous = signal.signal(signal.SIGTERM, _terminated)  # SIGTERM unwinds like Ctrl-C: no leftovers
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            sys.stdout.flush()
        except click.ClickException as err:  # click's own usage messages quote a value whole: cut it
            message = err.format_message()
            _fail(_short_quotes(message) if isinstance(err, click.UsageError) else message, err.exit_code)
        except (click.Abort, KeyboardInterrupt, Interrupted):
            _fail("interrupted", 130, at_once=True)
        except Terminated:
            _fail("stopped (SIGTERM)", 143, at_once=True)
        except WorkbookError as err:
            _fail(str(err), 2 if isinstance(err, (SpecError, CodeError)) else 1)
        except OSError as err:  # standard output on a full disk, a closed pipe (`| head`: quietly)
            _quiet_stdout()
            if err.errno == errno.EPIPE:
                sys.exit(1)
            _fail(f"cannot write the output: {err.strerror or err}", 1)
        except RecursionError:
            _fail("the input is nested too deeply to read", 2)
        except Exception as err:  # a bug of ours: one line for the user, the traceback on request
            if os.environ.get("MOE_WORKBOOK_DEBUG"):
                raise
            _fail(f"internal error ({type(err).__name__}: {err}); please report it, "
                  "and set MOE_WORKBOOK_DEBUG=1 to see the traceback", 1)
        finally:
            signal.signal(signal.SIGTERM, previous)
        sys.exit(rv if isinstance(rv, int) else 0)


class Terminated(BaseException):
    """SIGTERM arrived: unwind (temporary files removed, workers ended), then exit 143."""


def _terminated(signum, frame):
    raise Terminated()


_MAX_ERROR = 400


def _fail(message: str, status: int, at_once: bool = False):
    """'Error: ...' on one line of stderr (at most a few hundred characters), then exit; `at_once`
    (interrupted: every `finally` has run) skips the interpreter's exit handlers, which would wait
    for worker threads."""
    line = " ".join(str(message).split())
    if len(line) > _MAX_ERROR:
        line = line[:_MAX_ERROR - 1] + "…"
    try:
        click.echo(f"Error: {line}", err=True)
    except OSError:
        pass
    if at_once:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)
    sys.exit(status)


_LONG_QUOTE = re.compile(r"""(['"])([^'"]{%d,})\1""" % (QUOTE_LIMIT + 1))


def _short_quotes(message: str) -> str:
    """click's own messages quote a refused value whole: cut each quote to its first 80 characters."""
    return _LONG_QUOTE.sub(lambda m: f"{m[1]}{m[2][:QUOTE_LIMIT]}…{m[1]}", message)


def _quiet_stdout():
    """Standard output failed: point it at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _library(fn, *args, **kwargs):
    """Call the library, turning its errors into click's (usage errors exit 2, others 1)."""
    try:
        return fn(*args, **kwargs)
    except (SpecError, CodeError) as err:
        raise BadInput(str(err)) from None
    except WorkbookError as err:
        raise click.ClickException(str(err)) from None


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="moe-workbook")
@click.option("--exercises", "exercise_dirs", multiple=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of your own presets (*.toml), besides the package's (repeatable; "
                   "also $MOE_WORKBOOK_EXERCISES).")
def cli(exercise_dirs):
    """Printable by-hand worksheets and exact answer keys for Mixture-of-Experts layers.

    Example: moe-workbook build    (every preset's worksheet and key into output/)
    """
    if exercise_dirs:
        from workbook.presets import add_folder

        for folder in exercise_dirs:
            add_folder(folder)


def _variant_options(fn):
    options = [
        click.option("--seed", type=click.IntRange(0, MAX_SEED), help="Seed of the variant (default: the preset's)."),
        click.option("--gate", type=click.Choice(GATES), help="Gate: softmax3 (base 3, default), softmax2, softmax (base e)."),
        click.option("--tokens", type=int, help="Number of tokens T."),
        click.option("--experts", type=int, help="Number of experts E."),
        click.option("--d-model", type=int, help="Model width d."),
        click.option("--d-ff", type=int, help="Hidden width h of each expert FFN."),
        click.option("--top-k", type=int, help="Experts per token (token-choice)."),
        click.option("--capacity", type=int, help="Tokens per expert c (expert-choice)."),
        click.option("--renormalize/--no-renormalize", default=None, help="Renormalise top-k weights (token-choice)."),
        click.option("--capacity-factor", type=click.Choice(CAPACITY_FACTORS),
                     help="Capacity factor cf, C = floor(cf*k*T/E) slots per expert (token-choice, switch)."),
        click.option("--jitter/--no-jitter", default=None, help="Add the jitter question (switch)."),
        click.option("--ffn/--no-ffn", default=None, help="Include the expert FFNs and the combine."),
        click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
                     help="Any parameter of the exercise, e.g. --set variant=v3 (repeatable; see the README)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _overrides(kw) -> dict:
    return {k: kw[k] for k in ("gate", "tokens", "experts", "d_model", "d_ff", "top_k", "capacity",
                               "renormalize", "ffn", "capacity_factor", "jitter") if kw.get(k) is not None}


def _spec_for(name: str, seed, kw):
    """A preset name, or a variant code (its parameters are fixed; --seed may change its seed)."""
    if any(p.name == name for p in presets()):
        chosen = preset(name)
        sets = dict(_library(parse_param, chosen.exercise, a) for a in kw.get("settings", ()))
        return _library(lambda: chosen.spec(_overrides(kw) | sets, seed))
    try:
        spec = decode(name)
    except CodeError as err:
        if looks_like_code(name) and any(ch.isupper() or ch.isdigit() for ch in name):
            raise BadInput(str(err)) from None
        raise BadInput(unknown_preset(name, "; or give a variant code")) from None
    if _overrides(kw) or kw.get("settings"):
        raise BadInput("a variant code fixes every parameter: only --seed or --seeds may go with it")
    return spec if seed is None else _library(make_spec, spec.kind, spec.params, seed)


def _write(out: Path, files, remove=(), record=False) -> None:
    for path in _library(write_all, out, files, tuple(remove), record):
        click.echo(str(path))


def _say_replaced(folder: Path, change) -> None:
    """On stderr: which files of an earlier run were replaced, removed, or kept because they changed."""
    for verb, names in (("replaced", change.replaced), ("removed", change.removed),
                        ("kept (changed since an earlier run wrote it)", change.kept)):
        if names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            click.echo(f"{verb} in {folder}: {shown}", err=True)


@cli.command("list")
def list_cmd():
    """List the presets, one line each.

    Example: moe-workbook list
    """
    from workbook.presets import problems

    name_width = max(len(p.name) for p in presets())
    kind_width = max(len(p.exercise) for p in presets())
    for p in presets():
        click.echo(f"{p.name:{name_width}}  {p.exercise:{kind_width}}  {p.title}")
    for line in problems():  # a teacher's preset that cannot be read: said, the others listed
        click.echo(f"Note: {line}", err=True)


@cli.command()
@click.argument("preset_name", metavar="PRESET")
@_variant_options
@click.option("--format", "fmt", default="pdf,html,json", show_default=True, help="Comma-separated: pdf, html, json, interactive.")
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True, help="Paper size.")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True, help="Output folder.")
@click.option("--sides", default="worksheet,key", show_default=True,
              help="Comma-separated: worksheet, key, solutions (the key with the working under each step).")
def generate(preset_name, fmt, paper, out, seed, sides, **kw):
    """Write one variant's worksheet and key (and its worked solutions with --sides).

    Example: moe-workbook generate expert-choice-3e-top2 --seed 7 --format pdf --sides worksheet,key,solutions
    """
    from workbook.formats import parse_sides

    formats = _library(parse_formats, fmt)
    chosen = _library(parse_sides, sides)
    _library(preset, preset_name)  # an unknown name is refused here: generate takes presets only
    spec = _spec_for(preset_name, seed, kw)
    _emit(spec, preset_name, formats, chosen, paper, out)


@cli.command()
@click.argument("code")
@click.option("--worksheet", is_flag=True, help="Write the worksheet instead of the key.")
@click.option("--worked", is_flag=True, help="Write the worked solutions: the key with the working under each step.")
@click.option("--format", "fmt", default="pdf", show_default=True, help="Comma-separated: pdf, html, json, interactive.")
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True, help="Paper size.")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True, help="Output folder.")
def key(code, worksheet, worked, fmt, paper, out):
    """Rebuild a variant from the code printed on its sheet and write its key.

    Each file holds the very bytes `generate` wrote for that code.

    Example: moe-workbook key 10JP-81P --format pdf,html --worked
    """
    if worksheet and worked:
        raise BadInput("give --worksheet or --worked, not both")
    formats = _library(parse_formats, fmt)
    spec = _decoded(code)
    side = "worksheet" if worksheet else "solutions" if worked else "key"
    _emit(spec, spec.kind, formats, (side,), paper, out)


@cli.command()
@click.argument("preset_names", metavar="PRESET...", nargs=-1, required=True)
@click.option("--variants", type=click.IntRange(1, 100_000), help="Number of variants (sheets without names, up to 100,000).")
@click.option("--roster", type=click.Path(path_type=Path), help="CSV of student names (column 'name' or the first), optional 'id'.")
@click.option("--id-column", help="Name of the roster's id column (default: 'id' when present).")
@click.option("--forms", type=click.IntRange(1, 26), help="Forms A, B, ... of one exam instead of one variant each.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=1, show_default=True, help="Exam seed: with each student's row it fixes their variants.")
@click.option("--name", "exam_name", help="Exam name: its folder and its Moodle category (default exam-SEED).")
@click.option("--out", type=click.Path(path_type=Path), help="Exam folder (default output/NAME).")
@click.option("--force", is_flag=True, help="Replace the files of an existing exam folder.")
@click.option("--resume", is_flag=True, help="Go on with an interrupted run of the same command: students laid out "
                                             "before are kept (the same bytes as one uninterrupted run).")
@click.option("--format", "fmt", default="pdf", show_default=True, help="Comma-separated: pdf, moodle.")
@click.option("--per-student", is_flag=True, help="Also write each student's own worksheet and key PDFs.")
@click.option("--solutions", is_flag=True, help="Also write solutions.pdf: each student's key with the working under each step.")
@click.option("--csv-bom", is_flag=True, help="Start manifest.csv with a UTF-8 byte-order mark (for spreadsheet programs that need one to read names).")
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True, help="Paper size.")
@click.option("--title", help="Title printed on every sheet instead of the exercise's own.")
@click.option("--font-size", type=FiniteRange(7, 12), help="Base font size in points (default 9).")
@click.option("--template-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of templates overriding the package's (worksheet.html, key.html, sheet.css).")
@click.option("--scaffold", type=click.Choice(SCAFFOLDS), default="standard", show_default=True,
              help="faded: each step's first row worked out, the second's last box left; guided: a worked start "
                   "in each step; exam: only inputs and answer spaces.")
@click.option("--jobs", type=click.IntRange(1, 64),
              help="Processes laying out PDFs (default: one per core, one per 30 students at most).")
def exam(preset_names, variants, roster, id_column, forms, seed, exam_name, out, force, resume, fmt, per_student,
         solutions, csv_bom, paper, title, font_size, template_dir, scaffold, jobs):
    """Write a class set: a variant per student (or forms), every worksheet and every key.

    Example: moe-workbook exam token-choice-ffn --roster class.csv --format pdf,moodle
    """
    from workbook.exam import build_exam, plan_exam, shared_problems
    from workbook.roster import check_drawable, read_roster
    from workbook.write import Parts, prepare_dir, replacing

    _plain_text("--name", exam_name, MAX_EXAM_NAME)
    _plain_text("--title", title, MAX_TITLE)
    chosen = [_library(preset, name) for name in preset_names]
    if variants and (roster or forms):
        raise BadInput("--variants goes alone: with --roster each student gets a variant, with --forms each form")
    if not (variants or roster or forms):
        raise BadInput("say who the exam is for: --variants N, --roster FILE or --forms K")
    kinds = {k.strip().lower() for k in fmt.split(",") if k.strip()}
    if not kinds or kinds - {"pdf", "moodle"}:
        raise BadInput(f"unknown exam format in {quoted(fmt)}: choose from pdf, moodle")
    if id_column and not roster:
        raise BadInput("--id-column needs --roster")
    students = _library(read_roster, roster, id_column) if roster else ()
    if "pdf" in kinds:  # printed: a name or title no installed font draws would be empty boxes
        _library(check_drawable, roster, students)
        _drawable("--title", title)
    exam_name = exam_name or f"exam-{seed}"
    folder = out or DEFAULT_OUT / _folder_name(exam_name)
    with _made_for_this_run(folder):  # a run that fails takes its new, empty folder away again
        _library(prepare_dir, folder)  # a folder that cannot be written fails before minutes of layout
        _library(replacing, folder, [], force)  # and one with files in it, without --force
        plan = _library(plan_exam, chosen, seed, students, variants or 0, forms or 0, True)
        for name, (distinct, sheets) in shared_problems(plan).items():  # said before minutes of layout
            click.echo(f"Note: {name} has only {distinct} distinct problem{'s' if distinct > 1 else ''} for "
                       f"{sheets} sheets, so some students share one (manifest: problems, shared_by)", err=True)
        options = {"title": title, "font_size": font_size, "scaffold": scaffold, "solutions": solutions, "csv_bom": csv_bom,
                   "template_dir": str(template_dir) if template_dir else ""}
        moodle = exam_name if "moodle" in kinds else ""
        # each chunk of students kept as it is laid out: an interrupted run goes on with --resume
        parts = _library(Parts, folder, resume) if "pdf" in kinds else None
        try:
            with _progress(len(plan), "Laying out") as step:
                files = _library(build_exam, plan, paper, per_student, moodle, jobs or 0, options, step,
                                 "pdf" in kinds, parts)
        except BaseException:
            if parts:
                parts.tidy()
            raise
        # only an earlier run's own files, unchanged since, are replaced or removed: checked again now
        # that the names are known (and in case the folder changed during layout)
        change = _library(replacing, folder, [name for name, _ in files], force)
        _write(folder, files, change.removed, record=True)
        if parts:
            parts.finish()
        _say_replaced(folder, change)


@contextmanager
def _made_for_this_run(folder: Path):
    """A run that fails takes away the folders it made for its output, when they are still empty."""
    made, here = [], Path(folder).absolute()
    while not here.exists() and here != here.parent:
        made.append(here)
        here = here.parent
    try:
        yield
    except BaseException:
        for path in made:  # the deepest first
            try:
                path.rmdir()
            except OSError:
                break
        raise


MAX_EXAM_NAME, MAX_TITLE = 100, 200


def _plain_text(option: str, text, limit: int) -> None:
    """--name and --title reach file names, PDF titles and Moodle XML: refuse control characters
    (invalid in XML) and lengths no folder name or sheet title can hold."""
    if text is None:
        return
    from workbook.roster import bad_character

    if bad_character(text):
        raise BadInput(f"{option} {quoted(text)} holds a control character ({bad_character(text)}): remove it")
    if len(text) > limit:
        raise BadInput(f"{option} is {len(text)} characters long: at most {limit}")
    if not text.strip():
        raise BadInput(f"{option} is empty")


def _drawable(option: str, text) -> None:
    """A text printed on every sheet: refuse the characters no installed font draws (empty boxes)."""
    if text is None:
        return
    from workbook.fonts import named, remedy, undrawable

    missing = undrawable(text)
    if missing:
        raise BadInput(f"{option} {quoted(text)}: no installed font draws {named(missing)}; {remedy(missing)}")


@cli.command()
@click.argument("code")
@click.option("--out", type=click.Path(path_type=Path), help="File to write (default: print it).")
@click.option("--force", is_flag=True, help="Replace an existing file (it may hold your answers).")
def answers(code, out, force):
    """Write a fill-in answer file (TOML) with every blank of a variant's sheet, in sheet order.

    Example: moe-workbook answers 10JP-81P --out my-answers.toml
    """
    from workbook.check import answers_template

    spec = _decoded(code)
    text = answers_template(build_sheet(_library(solve, spec)))
    if out is None:
        click.echo(text, nl=False)
        return
    if out.is_file() and not out.is_symlink() and not force:  # a device, a FIFO, /dev/stdout: written through
        raise click.ClickException(f"{quoted(out)} exists and may hold your answers: use --force to replace it")
    if not out.name:
        raise BadInput("--out needs a file name")
    from workbook.write import write_file
    click.echo(str(_library(write_file, out, text.encode())))


@cli.command()
@click.argument("code")
@click.argument("answer_file", type=click.Path(path_type=Path))
@click.option("--abs-tol", type=FiniteRange(0, 1), default=0.01, show_default=True, help="Absolute tolerance for decimals.")
@click.option("--rel-tol", type=FiniteRange(0, 1), default=0.01, show_default=True, help="Relative tolerance for decimals.")
@click.option("--show-key", is_flag=True, help="Also print the key's value beside each wrong cell.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (see the README) instead of text.")
def check(code, answer_file, abs_tol, rel_tol, show_key, as_json):
    """Grade a filled-in answer file: every cell right or wrong, a score per step, and why.

    Exit status 0 only when every cell is right. Example: moe-workbook check 10JP-81P my-answers.toml
    """
    from workbook.check import grade, read_answer_file, read_answers, where
    from workbook.how import how

    spec = _decoded(code)
    text = _library(read_answer_file, answer_file)
    sol = _library(solve, spec)
    sheet = build_sheet(sol)
    report = _library(grade, sol, sheet, _library(read_answers, text, sol.code), abs_tol, rel_tol)
    if as_json:
        from workbook.check_report import report_json
        click.echo(report_json(sol, sheet, report), nl=False)
        sys.exit(0 if report.all_right else 1)
    words = where(sheet)
    for step in report.steps:
        mark = "ok" if step.right == step.total else "  "
        click.echo(f"{mark} Step {step.number} · {step.title}: {step.right}/{step.total} right")
        for finding in step.findings:
            click.echo(f"     why: {finding.text()}")
        mine = [c for c in report.cells if c.key.split("_")[0] == f"step{step.number}" and not c.right]
        empty = [c for c in mine if c.given is None]
        for c in mine:
            if c.given is not None or show_key:
                given = "nothing" if c.given is None else _shown(c.given)
                key = f", the key has {_shown(c.want)}" if show_key else ""
                click.echo(f"     {words.get(c.ref, c.ref)} [{c.key} row {c.row}, box {c.col}]: you wrote {given}{key}")
        if empty and not show_key:
            click.echo(f"     {len(empty)} box{'es' if len(empty) > 1 else ''} left empty")
        if mine and any(c.given is not None for c in mine):  # how the first wrong box is worked
            worked_line = how(sol, sheet, report, step.number)
            if worked_line:
                click.echo(f"     how: {worked_line}")
    total = len(report.cells)
    click.echo(f"Overall: {report.right}/{total} right ({100 * report.right / max(total, 1):.0f}%)")
    sys.exit(0 if report.all_right else 1)


@cli.command("grade")
@click.argument("exam_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("answer_files", metavar="ANSWER_FILE...", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True,
              help="Paper of class-report.pdf.")
@click.option("--force", is_flag=True, help="Replace the gradebook an earlier run wrote into EXAM_DIR.")
def grade_cmd(exam_dir, answer_files, paper, force):
    """Grade a class's answer files (files, or folders of *.toml) against the exam in EXAM_DIR.

    Writes gradebook.csv, class-report.html and class-report.pdf into EXAM_DIR; each problem (a
    code not in the exam, a file handed in twice, an unreadable file, a missing student) is one
    line on stderr. Exit status 0 when every file was graded, 1 when a file had a problem (the
    gradebook is written all the same). Example: moe-workbook grade output/exam-1 answers/
    """
    from workbook.gradebook import answer_files as find_answers
    from workbook.class_report import gradebook_files
    from workbook.gradebook import mark_class, read_manifest, replaced, with_record

    students = _library(read_manifest, exam_dir)
    paths = _library(find_answers, answer_files)
    _library(replaced, exam_dir, force)  # an earlier gradebook in the way: said before any grading
    with _progress(len(paths), "Grading") as step:
        book = _library(mark_class, students, paths, step)
    files = _library(gradebook_files, book, exam_dir.absolute().name, paper)
    change = _library(replaced, exam_dir, force)  # checked again: the folder may have changed meanwhile
    _write(exam_dir, _library(with_record, exam_dir, files))
    if change:
        click.echo(f"replaced in {exam_dir}: {', '.join(change)}", err=True)
    for problem in book.problems:
        click.echo(problem.line, err=True)
    sys.exit(1 if book.file_problems else 0)


def _shown(value, limit: int = 80) -> str:
    """Fraction(27, 37) -> '27/37 (0.73)'; 2.5 -> '2.5'; None -> 'an empty box'; 'abc' -> "'abc'".
    At most about `limit` characters: a longer value is cut, a fraction too long to write out
    (str() of a whole number over 4300 digits raises) is shown by its size."""
    if value is None:
        return "an empty box"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Fraction):
        if max(abs(value.numerator), value.denominator).bit_length() > 4 * limit:
            try:
                return f"about {float(value):.4g}"
            except OverflowError:
                return f"a number of about {int(abs(value.numerator).bit_length() * 0.30103)} digits"
        text = str(value) if value.denominator == 1 else f"{value} ({float(value):.2f})"
        return text if len(text) <= limit else text[:limit] + "…"
    return quoted(value if isinstance(value, str) else f"a {type(value).__name__}", limit)


def _folder_name(name: str) -> str:
    """'Midterm 2026 / group A' -> 'Midterm-2026-group-A'."""
    return re.sub(r"[^\w.-]+", "-", name).strip("-.") or "exam"


def _emit(spec, name, formats, sides, paper, out) -> None:
    from workbook.course import stem

    sol = _library(solve, spec)
    rendered = _library(render, sol, build_sheet(sol, paper), formats, sides)
    base = stem(name, sol.code, paper) if paper == "letter" else stem(name, sol.code, "a4")
    _write(out, [(base + r.suffix, r.data) for r in rendered])


def _decoded(code: str):
    """The variant a code names; a preset's name where a code goes is said so, in one line."""
    if code.strip().lower() in {p.name for p in presets()}:
        raise BadInput(f"{quoted(code.strip())} is a preset, not a variant code: give the code printed on a sheet "
                       f"(like 10JP-84G), or write this preset's sheets with `moe-workbook generate {code.strip().lower()}`")
    return _library(decode, code)


def _seed_range(text: str) -> range:
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text or "")
    if not match:
        raise BadInput(f"--seeds takes a range A-B of whole numbers, not {quoted(text)}")
    low, high = int(match[1]), int(match[2])
    if low > high:
        raise BadInput(f"--seeds range {quoted(text)} is reversed: write {high}-{low}")
    if high > MAX_SEED:
        raise BadInput(f"--seeds goes up to {MAX_SEED}")
    return range(low, high + 1)


@cli.command("solve")
@click.argument("preset_or_code")
@_variant_options
@click.option("--seeds", help="A range of seeds A-B: one JSON object per line.")
def solve_cmd(preset_or_code, seed, seeds, **kw):
    """Print the exact solution as JSON (JSON Lines for --seeds A-B).

    Example: moe-workbook solve token-choice-5x6 --seeds 1-20
    """
    if seeds is not None and seed is not None:
        raise BadInput("give --seed or --seeds, not both")
    if seeds is None:
        spec = _spec_for(preset_or_code, seed, kw)
        click.echo(render_json(_library(solve, spec)), nl=False)
        return
    for s in _seed_range(seeds):
        spec = _spec_for(preset_or_code, s, kw)
        click.echo(render_json(_library(solve, spec), compact=True), nl=False)


@cli.command()
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True, help="Paper size.")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True, help="Output folder.")
@click.option("--scaffold", type=click.Choice(SCAFFOLDS), default="standard", show_default=True,
              help="faded: each step's first row worked out, the second's last box left; guided: first rows filled in; "
                   "exam: only inputs and answer spaces.")
def build(paper, out, scaffold):
    """Build the whole workbook: every preset as PDF and HTML, plus workbook.pdf, answer-key.pdf and solutions.pdf.

    The two books open with a cover and a contents page (sheet, code, page) and start every
    sheet on an odd page, page for page alike, for double-sided printing.

    Example: moe-workbook build --paper letter
    """
    from workbook.course import build_course
    from workbook.write import prepare_dir

    _library(prepare_dir, out)  # a bad folder fails before minutes of rendering
    loading = {exercise: _loads(exercise) for exercise in dict.fromkeys(p.exercise for p in presets())}
    chosen = tuple(p for p in presets() if loading[p.exercise])
    with _progress(len(chosen), "Rendering presets") as step:
        files = _library(build_course, paper, chosen, step, os.cpu_count() or 1, scaffold)
    _write(out, files)


def _loads(exercise: str) -> bool:
    """Whether an exercise's kind loads; an installed kind that does not is skipped with a note
    (the course is built without its presets) rather than taking the whole build down."""
    from workbook.kinds import kind

    try:
        kind(exercise)
        return True
    except SpecError as err:
        click.echo(f"Note: skipped the presets of {exercise}: {err}", err=True)
        return False


@contextmanager
def _progress(total: int, label: str):
    """A progress bar on a terminal (on stderr), nothing otherwise; yields a one-step callback."""
    if not sys.stderr.isatty():
        yield lambda *_: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield lambda *_: bar.update(1)


def main():
    cli(prog_name="moe-workbook")
