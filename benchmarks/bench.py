"""Benchmarks for moe-workbook: how fast variants are solved, sheets rendered and the course built.

A script, not a test. Prints one figure a line, `name: value unit`, and exits 0:

    python benchmarks/bench.py               # full run (a few minutes)
    python benchmarks/bench.py --quick       # fewer repetitions, a smoke run
    python benchmarks/bench.py --json f.json # also write the figures as JSON

Figures: machine facts; variants solved per second (exact solve with its NumPy cross-check,
generation included) and generated per second, per preset and overall; seconds per worksheet+key
PDF pair per preset and the share of that spent outside WeasyPrint; the full `build` job in-process
and as a subprocess; start-up of a fresh `python -m workbook` process for `--help`, `solve` and
`generate --format pdf` (wall and CPU), and whether `--help` and `solve` import what they must not.
Timings use time.perf_counter; each figure is the median over its repetitions. Nothing is written
into output/: the subprocess build and generate write into temporary folders, removed afterwards.
"""

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import resource  # child-process CPU time; Unix only
except ImportError:
    resource = None

ROOT = Path(__file__).resolve().parent.parent

try:
    import workbook  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT))
    import workbook  # noqa: F401

# pairs_from_build: take each preset's PDF pair time from the in-process build_course() run (it
# does the same work per preset) instead of rendering the pairs a second time; keeps --quick short.
FULL = {"seeds": 200, "solve_reps": 3, "pdf_reps": 3, "build_reps": 2, "startup_reps": 5, "pairs_from_build": False}
QUICK = {"class_size": 6, "seeds": 30, "solve_reps": 1, "pdf_reps": 1, "build_reps": 1, "startup_reps": 3, "pairs_from_build": True}
STARTUP_PRESET = "token-choice-5x6"


class Figures:
    """Collects figures, printing each as `name: value unit` the moment it is known."""

    def __init__(self):
        self.rows = []

    def add(self, name: str, value, unit: str = "", digits: int = 3) -> None:
        shown = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
        print(f"{name}: {shown}" + (f" {unit}" if unit else ""), flush=True)
        self.rows.append({"name": name, "value": value, "unit": unit})


def note(text: str) -> None:
    """Progress on stderr, so stdout holds the figures only."""
    print(f"# {text}", file=sys.stderr, flush=True)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _env() -> dict:
    """Environment for subprocesses: this checkout first on the path, works without installing."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _run(args: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    """Run `python <args>` from the repository root; (wall seconds, result). Raises on failure."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=_env(), capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return elapsed, result


def _child_cpu() -> float:
    """User + system CPU seconds of every finished child process so far (0 without `resource`)."""
    if resource is None:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine(fig: Figures) -> None:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    fig.add("cpu count", os.cpu_count(), "cpus")
    fig.add("cpus usable", affinity, "cpus")
    fig.add("cpu model", _cpu_model())
    fig.add("platform", platform.platform())
    fig.add("python", platform.python_version(), platform.python_implementation())
    fig.add("weasyprint version", _version("weasyprint"))  # metadata only: the import is timed later
    fig.add("numpy version", _version("numpy"))
    fig.add("sympy version", _version("sympy"))
    fig.add("moe-workbook version", workbook.__version__)
    load(fig, "at start")


def load(fig: Figures, when: str) -> None:
    """The 1-minute load average, and a reference loop: other work on the machine, or a virtual
    machine's host running it slower for a while, slows every figure down (on the 2-core test
    machine, by up to 40% within an hour); compare the loop's time before comparing two runs."""
    if hasattr(os, "getloadavg"):
        fig.add(f"load average 1 min {when}", os.getloadavg()[0], "", 2)
    start = time.perf_counter()
    for _ in range(10_000_000):
        pass
    fig.add(f"reference loop (10^7 empty Python iterations) {when}", time.perf_counter() - start, "s", 2)


def solve_rates(fig: Figures, cfg: dict) -> None:
    """1. Variants solved (generated + exact + cross-checked) per second; generation alone per second."""
    from workbook.presets import presets
    from workbook.solve import generate_problem as generate, solve

    seeds = range(1, cfg["seeds"] + 1)
    note(f"solving {len(seeds)} seeds per preset, {cfg['solve_reps']} repetition(s)")
    solve(presets()[0].spec(seed=0))  # warm-up: lazy imports, caches
    totals = {"solve": [], "generate": [], "exact": []}
    for p in presets():
        specs = [p.spec(seed=s) for s in seeds]
        times = {"solve": [], "generate": [], "exact": []}
        for _ in range(cfg["solve_reps"]):
            start = time.perf_counter()
            for s in seeds:
                solve(p.spec(seed=s))
            times["solve"].append(time.perf_counter() - start)
            start = time.perf_counter()
            problems = [generate(p.spec(seed=s)) for s in seeds]
            times["generate"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for spec, problem in zip(specs, problems):
                solve(spec, problem)
            times["exact"].append(time.perf_counter() - start)
        for key, values in times.items():
            totals[key].append(values)
        fig.add(f"solve rate {p.name}", len(seeds) / statistics.median(times["solve"]), "variants/s", 1)
        fig.add(f"generate rate {p.name}", len(seeds) / statistics.median(times["generate"]), "variants/s", 1)
        fig.add(f"exact solve+check rate (no generation) {p.name}",
                len(seeds) / statistics.median(times["exact"]), "variants/s", 1)
    for key, label in (("generate", "generate rate"), ("solve", "solve rate")):
        rates = {p.name: len(seeds) / statistics.median(t) for p, t in zip(presets(), totals[key])}
        slowest = min(rates, key=rates.get)
        fig.add(f"slowest {label}: {slowest}", rates[slowest], "variants/s", 1)
    n = len(seeds) * len(presets())
    for key, label in (("solve", "solve rate"), ("generate", "generate rate"),
                       ("exact", "exact solve+check rate (no generation)")):
        per_rep = [sum(t[r] for t in totals[key]) for r in range(cfg["solve_reps"])]
        fig.add(f"{label} overall", n / statistics.median(per_rep), "variants/s", 1)


def import_weasyprint(fig: Figures) -> None:
    already = "weasyprint" in sys.modules
    from workbook import render_pdf

    start = time.perf_counter()
    render_pdf.import_weasyprint()  # as the program does: its libraries found by soname
    fig.add("weasyprint import", time.perf_counter() - start, "s")
    if already:
        fig.add("weasyprint import note", "already imported before timing (figure too low)")
    start = time.perf_counter()
    render_pdf.render_pdf("<p>warm-up</p>")  # first layout loads fonts (fontconfig) once per process
    fig.add("weasyprint first render (warm-up, tiny page)", time.perf_counter() - start, "s")


def course_run() -> tuple[float, dict, list, float]:
    """One build_course() call: (seconds, {preset: seconds since the previous preset}, files, CPU seconds)."""
    from workbook.course import build_course

    marks = {}
    cpu = time.process_time()
    last = start = time.perf_counter()

    def progress(name):
        nonlocal last
        now = time.perf_counter()
        marks[name] = now - last
        last = now

    files = build_course(progress=progress)
    return time.perf_counter() - start, marks, files, time.process_time() - cpu


def _outside(preset) -> float:
    """Seconds for everything of a PDF pair but WeasyPrint: solve, build_sheet, the HTML to lay out."""
    from workbook.render_html import printable
    from workbook.sheet import build_sheet
    from workbook.solve import solve

    start = time.perf_counter()
    printable(build_sheet(solve(preset.spec())))
    return time.perf_counter() - start


def pdf_pairs(fig: Figures, cfg: dict):
    """2 and 3. Seconds per worksheet+key PDF pair; share of it spent outside WeasyPrint.

    Returns the build_course() run it used, if any (cfg["pairs_from_build"]), for build_job.
    """
    from workbook.presets import presets
    from workbook.render_html import printable
    from workbook.render_pdf import lay_out, print_sheets
    from workbook.sheet import build_sheet
    from workbook.solve import solve

    _outside(presets()[0])  # warm-up: compiles the Jinja2 templates once
    course = None
    if cfg["pairs_from_build"]:
        note("timing each preset's PDF pair inside one build_course() run")
        course = course_run()
        fig.add("pdf pair method", "per preset inside build_course(); outside weasyprint timed apart (median of 3)")
    else:
        note(f"rendering a worksheet+key PDF pair per preset, {cfg['pdf_reps']} repetition(s)")
        fig.add("pdf pair method", f"solve+build_sheet+printable+lay_out+print_sheets, median of {cfg['pdf_reps']}")
    all_outside, all_total = [], []
    for p in presets():
        if course:
            total = [course[1][p.name]]
            outside = [statistics.median(_outside(p) for _ in range(3))]
        else:
            outside, total = [], []
            for _ in range(cfg["pdf_reps"]):
                start = time.perf_counter()
                sheet = build_sheet(solve(p.spec()))
                ready = printable(sheet)
                middle = time.perf_counter()
                pdfs = list(print_sheets([[lay_out(ready)]]).pdfs.values())
                end = time.perf_counter()
                assert all(pdf.startswith(b"%PDF") for pdf in pdfs)
                outside.append(middle - start)
                total.append(end - start)
        all_outside.append(outside)
        all_total.append(total)
        fig.add(f"pdf pair {p.name}", statistics.median(total), "s/pair")
        fig.add(f"pdf pair outside weasyprint {p.name}", statistics.median(outside), "s")
        fig.add(f"pdf pair inside weasyprint {p.name}", statistics.median(total) - statistics.median(outside), "s")
        fig.add(f"pdf pair share outside weasyprint {p.name}", 100 * sum(outside) / sum(total), "%", 2)
    reps = len(all_total[0])
    fig.add("pdf pairs all presets", statistics.median(sum(t[r] for t in all_total) for r in range(reps)), "s")
    fig.add("pdf pair share outside weasyprint overall",
            100 * sum(map(sum, all_outside)) / sum(map(sum, all_total)), "%", 2)
    return course


def build_job(fig: Figures, cfg: dict, course=None) -> None:
    """4. The full build: build_course() in-process, and `python -m workbook build` as a subprocess."""
    runs = [course] if course else []
    note(f"build_course() in-process, {cfg['build_reps'] - len(runs)} more repetition(s)")
    while len(runs) < cfg["build_reps"]:
        runs.append(course_run())
    fig.add("build_course in-process", statistics.median(r[0] for r in runs), "s")
    fig.add("build_course in-process cpu", statistics.median(r[3] for r in runs), "s")
    fig.add("build_course files", len(runs[-1][2]), "files")

    note(f"python -m workbook build --out <tmpdir>, {cfg['build_reps']} repetition(s)")
    times, cpus = [], []
    for _ in range(cfg["build_reps"]):
        with tempfile.TemporaryDirectory(prefix="moe-bench-") as tmp:
            before = _child_cpu()
            elapsed, _ = _run(["-m", "workbook", "build", "--out", tmp])
            cpus.append(_child_cpu() - before)
            written = len(list(Path(tmp).iterdir()))
        times.append(elapsed)
    fig.add("build subprocess wall", statistics.median(times), "s")
    if resource is not None:
        fig.add("build subprocess cpu", statistics.median(cpus), "s")
    fig.add("build subprocess files", written, "files")


def _startup_commands(out: str) -> list[tuple[str, list[str]]]:
    """(figure label, arguments) of the commands whose start-up is timed."""
    return [("--help", ["--help"]),
            (f"solve {STARTUP_PRESET}", ["solve", STARTUP_PRESET]),
            (f"generate {STARTUP_PRESET} --format pdf", ["generate", STARTUP_PRESET, "--format", "pdf", "--out", out])]


def _imported(args: list[str]) -> set[str]:
    """Every module `python -m workbook ARGS` imports: an untimed run with -X importtime (stderr)."""
    _, result = _run(["-X", "importtime", "-m", "workbook", *args])
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def startup(fig: Figures, cfg: dict) -> None:
    """5. Start-up of a fresh `python -m workbook` process, wall and CPU time (its children's
    too: WeasyPrint's library lookup runs some), median of the repetitions, taken in turn: `--help`,
    `solve PRESET`, `generate PRESET --format pdf` (one variant: start-up and the whole command);
    what `--help` and `solve` import."""
    reps = cfg["startup_reps"]
    note(f"start-up of --help, solve and generate --format pdf, {reps} repetition(s) each")
    with tempfile.TemporaryDirectory(prefix="moe-bench-") as tmp:
        commands = _startup_commands(tmp)
        walls = {label: [] for label, _ in commands}
        cpus = {label: [] for label, _ in commands}
        for rep in range(reps):
            for label, args in _startup_commands(str(Path(tmp) / f"run-{rep}")):  # a new folder each time
                before = _child_cpu()
                elapsed, result = _run(["-m", "workbook", *args])
                cpus[label].append(_child_cpu() - before)
                walls[label].append(elapsed)
                if args[0] == "solve":
                    json.loads(result.stdout)  # the solution must be valid JSON
    for label, _ in commands:
        fig.add(f"startup {label}", statistics.median(walls[label]), "s")
        if resource is not None:
            fig.add(f"startup {label} cpu", statistics.median(cpus[label]), "s")
    start = time.perf_counter()
    _run(["-c", "pass"])
    fig.add("startup bare python (reference)", time.perf_counter() - start, "s")

    heavy = ("numpy", "sympy", "jinja2", "weasyprint")
    modules = _imported(["--help"])
    loaded = [name for name in heavy if name in {m.split(".")[0] for m in modules}]
    fig.add("startup --help imports numpy, sympy, jinja2 or weasyprint",
            f"yes: {', '.join(loaded)} (it must not)" if loaded else "no")
    fig.add("startup --help modules imported", len(modules), "modules")
    modules = _imported(["solve", STARTUP_PRESET])
    imported = any(m.split(".")[0] == "weasyprint" for m in modules)
    fig.add("startup solve imports weasyprint", "yes (it must not)" if imported else "no")
    fig.add("startup solve modules imported", len(modules), "modules")


def editions(fig: Figures, cfg: dict) -> None:
    """6a. One token-choice-ffn variant's worksheet + key PDFs, in edition 1 (grids as tables, two
    layouts) and in edition 2 (drawn boards, one layout for both): what edition 2 saves per pair."""
    from workbook.render_html import printable
    from workbook.render_pdf import lay_out, print_sheets
    from workbook.sheet import build_sheet
    from workbook.solve import solve
    from workbook.presets import preset
    from workbook.spec import make_spec

    spec = preset("token-choice-ffn").spec()
    seconds = {}
    for edition in (1, 2):
        sheet = build_sheet(solve(make_spec(spec.kind, spec.params, spec.seed, edition)))
        ready = printable(sheet)
        runs = []
        for _ in range(cfg["pdf_reps"]):
            start = time.perf_counter()
            print_sheets([[lay_out(ready)]])
            runs.append(time.perf_counter() - start)
        seconds[edition] = statistics.median(runs)
        fig.add(f"token-choice-ffn pdf pair, edition {edition} ({'tables' if edition == 1 else 'drawn boards, one layout'})",
                seconds[edition], "s", 3)
    fig.add("drawn boards speed-up per pair", seconds[1] / seconds[2], "x", 2)


def class_set(fig: Figures, cfg: dict) -> None:
    """6. The exam: a class set of token-choice-ffn (worksheet + key per student), laid out on one
    process and on every core: seconds, seconds per page, and the speed-up from parallel layout.
    The target is under 10 s for 30 students on a 2-core machine."""
    from workbook.exam import build_exam, plan_exam
    from workbook.presets import preset

    students = cfg.get("class_size", 30)
    cores = os.cpu_count() or 1
    plan = plan_exam([preset("token-choice-ffn")], 1, variants=students)
    timings = {}
    for jobs in sorted({1, cores}):
        note(f"exam token-choice-ffn --variants {students}, {jobs} process(es)")
        cpu = time.process_time() + _child_cpu()
        start = time.perf_counter()
        files = dict(build_exam(plan, jobs=jobs))
        timings[jobs] = time.perf_counter() - start
        fig.add(f"class set of {students} ({jobs} process{'es' if jobs > 1 else ''})", timings[jobs], "s", 2)
        fig.add(f"class set of {students} ({jobs} process{'es' if jobs > 1 else ''}), CPU time of all processes",
                time.process_time() + _child_cpu() - cpu, "s", 2)
    from pypdf import PdfReader
    import io
    pages = sum(len(PdfReader(io.BytesIO(files[n])).pages) for n in ("worksheets.pdf", "keys.pdf"))
    fig.add("class set pages (worksheets + keys, with blank pads)", pages, "pages")
    fig.add("class set seconds per page", timings[cores] / pages, "s", 3)
    fig.add("class set speed-up from parallel layout", timings[1] / timings[cores], "x", 2)
    if students == 30:
        fig.add("class set target (30 students under 10 s) met", "yes" if timings[cores] < 10 else "no")
    else:
        fig.add("class set target (30 students under 10 s) met", f"not measured ({students} students in a quick run)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke run under a minute")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the figures as JSON to FILE")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL

    run_start = time.perf_counter()
    fig = Figures()
    fig.add("mode", "quick" if args.quick else "full")
    machine(fig)
    solve_rates(fig, cfg)
    import_weasyprint(fig)
    course = pdf_pairs(fig, cfg)
    build_job(fig, cfg, course)
    startup(fig, cfg)
    editions(fig, cfg)
    class_set(fig, cfg)
    load(fig, "at end")
    fig.add("total run time", time.perf_counter() - run_start, "s", 1)

    if args.json:
        args.json.write_text(json.dumps({"mode": "quick" if args.quick else "full", "config": cfg,
                                         "figures": fig.rows}, indent=2) + "\n", encoding="utf-8")
        note(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
