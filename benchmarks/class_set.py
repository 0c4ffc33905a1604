"""Class sets at scale: what `exam` costs per student, per page, in memory and on disk.

A script, not a test. Prints one figure a line, `name: value unit`, and exits 0:

    python benchmarks/class_set.py            # 30, 100 and 500 students
    python benchmarks/class_set.py --quick    # 10 and 30 students, a smoke run
    python benchmarks/class_set.py --sizes 100,2000 --preset token-choice-ffn
    python benchmarks/class_set.py --resume-check 2000   # killed half-way, resumed: the same bytes?

Each run is `python -m workbook exam PRESET --variants N --jobs J` in a fresh process, into a
temporary folder removed afterwards (after one warm-up run, so that modules are compiled once, as
an installation has them). Figures per run: wall seconds, CPU seconds of the process and its
workers, CPU per student and per printed page (worksheets.pdf + keys.pdf pages), the peak
resident memory of the largest process (the main one, which joins the PDFs), and bytes on disk
per student. The smallest class runs in one process (exam starts a worker per 30 students at
most), the second size with 1 and 2 processes: the speed-up from 2 (wall and CPU). Then memory
growth between the smallest and the largest class, and what 16 and 64 cores would take for
10,000 and 100,000 students if the measured CPU per student divided evenly over them (an upper
bound on speed: the join is serial).

Side by side with pdflatex (texlive's, `apt-get install texlive-latex-base`; skipped with a note
when it is missing): the smallest class's sheets as a LaTeX document of bordered tabulars of the
same grids (each sheet's title, code, steps, instructions, every grid with its givens, and the
answers on the key), its CPU per page against ours.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(preset: str, students: int, jobs: int) -> dict:
    """One class set in a fresh process: wall, CPU (process and workers), peak RSS, pages, bytes."""
    env = _env()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "exam"
        # a wrapper process that reports its child's rusage: RUSAGE_CHILDREN of this script would
        # mix the runs together (maxrss is a maximum over every child ever waited for)
        probe = ("import resource, subprocess, sys, json, time; t = time.perf_counter(); "
                 "r = subprocess.run(sys.argv[1:]); w = time.perf_counter() - t; "
                 "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
                 "print(json.dumps({'rc': r.returncode, 'wall': w, 'cpu': u.ru_utime + u.ru_stime, 'rss_kb': u.ru_maxrss}))")
        cmd = [sys.executable, "-c", probe, sys.executable, "-m", "workbook", "exam", preset, "--variants",
               str(students), "--jobs", str(jobs), "--out", str(out)]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        if figures["rc"] != 0:
            raise RuntimeError(f"exam exited {figures['rc']}: {done.stderr.strip()[-400:]}")
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        pages = _pages(out / "manifest.json")
    return figures | {"bytes": size, "pages": pages}


def _env() -> dict:
    """The runs' environment: this checkout first on the path, and compiled modules cached as a
    user's installation caches them (a shell with PYTHONDONTWRITEBYTECODE=1 would otherwise
    count compiling every module into every run)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _pages(manifest: Path) -> int:
    """Printed pages of worksheets.pdf and keys.pdf, from the manifest's page ranges."""
    rows = json.loads(manifest.read_text(encoding="utf-8"))
    last = {side: max(int(r[f"{side}_pages"].split("-")[1]) for r in rows) for side in ("worksheet", "key")}
    return sum(last.values())


def resume_check(preset: str, students: int) -> None:
    """An uninterrupted run, then the same run killed (SIGKILL) half-way and resumed with --resume:
    prints whether every file has the same bytes, and the share of the work the resumed run redid."""
    import signal

    env = _env()
    args = [sys.executable, "-m", "workbook", "exam", preset, "--variants", str(students)]
    with tempfile.TemporaryDirectory() as folder:
        reference, out = Path(folder) / "reference", Path(folder) / "resumed"
        start = time.perf_counter()
        subprocess.run(args + ["--out", str(reference)], cwd=ROOT, env=env, check=True, capture_output=True)
        whole = time.perf_counter() - start
        proc = subprocess.Popen(args + ["--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(whole / 2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kept = len(list((out / ".moe-workbook-parts").glob("*.json")))
        start = time.perf_counter()
        subprocess.run(args + ["--out", str(out), "--resume"], cwd=ROOT, env=env, check=True, capture_output=True)
        resumed = time.perf_counter() - start
        names = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file()
                       and not p.name.startswith(".moe-workbook"))
        same = all((out / n).read_bytes() == (reference / n).read_bytes() for n in names)
    show(f"resume {students} students: same bytes as uninterrupted", "yes" if same else "NO")
    show(f"resume {students} students: chunks kept at the kill", kept)
    show(f"resume {students} students: wall uninterrupted", whole, "s", 1)
    show(f"resume {students} students: wall of the resumed run", resumed, "s", 1)


_LATEX_CHARS = {"−": "-", "·": "$\\cdot$", "×": "$\\times$", "ᵀ": "$^T$", "≈": "$\\approx$", "—": "--",
                "#": "\\#", "$": "\\$", "%": "\\%", "&": "\\&", "_": "\\_", "{": "\\{", "}": "\\}",
                "~": "\\~{}", "^": "\\^{}", "\\": "\\textbackslash{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_CHARS.get(c, c if c.isascii() else "?") for c in str(text))


def _latex_grid(grid, key: bool) -> str:
    """A grid as a bordered tabular, its name above: 9 mm cells (15 mm wide ones), 8 mm rows,
    labels outside; top-aligned, so that a board's grids stand side by side as on our sheets."""
    columns = max((len(row) for row in grid.cells), default=0)
    if not columns:
        return ""
    width = [("15mm" if any(len(row) > j and row[j].wide for row in grid.cells) else "9mm") for j in range(columns)]
    spec = "r|" + "".join(f">{{\\centering\\arraybackslash}}p{{{w}}}|" for w in width)
    lines = [f"\\begin{{tabular}}[t]{{{spec}}}",
             f"\\multicolumn{{{columns + 1}}}{{l}}{{\\textit{{{_tex(grid.name)}}}}} \\\\",
             " & ".join([""] + [f"\\footnotesize {_tex(c)}" for c in grid.col_labels] + [""] * (columns - len(grid.col_labels)))
             + " \\\\ \\cline{2-%d}" % (columns + 1)]
    for i, row in enumerate(grid.cells):
        label = grid.row_labels[i] if i < len(grid.row_labels) else ""
        cells = []
        for cell in row:
            text = cell.given if not cell.blank else ((cell.answer + (f" {cell.decimal}" if cell.decimal else ""))
                                                      if key else "")
            cells.append(_tex(text))
        cells += [""] * (columns - len(row))
        lines.append(f"\\rule{{0pt}}{{8mm}}{_tex(label)} & " + " & ".join(cells) + " \\\\ \\cline{2-%d}" % (columns + 1))
    lines.append("\\end{tabular}")
    return "\n".join(lines)


def latex_document(preset: str, students: int) -> str:
    """What a class set of `students` prints, as a LaTeX document of bordered tabulars: per student,
    the worksheet and the key, each with its title, code, steps with their instructions and every
    grid of the sheet (the givens, and on the key the answers)."""
    sys.path.insert(0, str(ROOT))
    from workbook.exam import _sheet, plan_exam, solved
    from workbook.layout import Grid
    from workbook.presets import preset as find
    from workbook.roster import Student

    plan = plan_exam([find(preset)], 7, tuple(Student(i + 1, "") for i in range(students)), light=True)
    body = []
    for a in plan:
        sheet = _sheet(a, solved(a.solutions[0][1]), "a4", {})
        for key in (False, True):
            body.append(f"\\section*{{{_tex(sheet.title)}}}\n{'Answer key' if key else 'Worksheet'} "
                        f"\\hfill Variant \\texttt{{{_tex(sheet.code)}}} $\\cdot$ seed {sheet.seed}\\par\\medskip")
            for section in sheet.sections:
                body.append(f"\\subsection*{{Step {section.number}: {_tex(section.title)}}}\n{_tex(section.instruction)}\\par")
                for board in section.boards:
                    for row in board.panels:  # a row of a board's panels: its grids side by side
                        grids = [_latex_grid(g, key) for g in row if isinstance(g, Grid)]
                        if grids:
                            body.append("\\noindent " + "\n\\quad\n".join(grids) + "\\par\\medskip")
            body.append("\\newpage")
    return ("\\documentclass[9pt]{article}\n\\usepackage[a4paper,margin=12mm]{geometry}\n\\usepackage{array}\n"
            "\\pagestyle{plain}\n\\begin{document}\n" + "\n".join(body) + "\n\\end{document}\n")


def pdflatex_side_by_side(preset: str, students: int, ours: dict | None) -> None:
    """pdflatex's CPU per page on the same grids, against ours (`ours`: run()'s figures for the same
    class with one process)."""
    if not shutil.which("pdflatex"):
        show("pdflatex", "not installed (apt-get install texlive-latex-base): no side-by-side figure")
        return
    import pypdf

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "grids.tex").write_text(latex_document(preset, students), encoding="utf-8")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["pdflatex", "-interaction=batchmode", "-halt-on-error", "grids.tex"], cwd=folder,
                       check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        pages = len(pypdf.PdfReader(Path(folder) / "grids.pdf").pages)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    show(f"pdflatex pages, {students} students (bordered tabulars of the same grids)", pages)
    show(f"pdflatex cpu per page, {students} students", cpu / pages, "s")
    show(f"pdflatex cpu per student, {students} students", cpu / students, "s")
    if ours:
        show(f"our cpu per page against pdflatex's, {students} students", ours["cpu"] / ours["pages"] / (cpu / pages), "x", 2)
        show(f"our cpu per student against pdflatex's (the same content), {students} students",
             ours["cpu"] / cpu, "x", 2)


def _warm_up(preset: str) -> None:
    """One small run first, so that every figure counts modules already compiled, as installed."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "workbook", "exam", preset, "--variants", "1", "--out",
                        str(Path(folder) / "exam")], cwd=ROOT, env=_env(), check=True, capture_output=True)


def show(name: str, value, unit: str = "", digits: int = 3) -> None:
    shown = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    print(f"{name}: {shown}" + (f" {unit}" if unit else ""), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 and 30 students: a smoke run")
    parser.add_argument("--sizes", help="comma-separated class sizes (default 30,100,500)")
    parser.add_argument("--preset", default="token-choice-ffn")
    parser.add_argument("--resume-check", type=int, metavar="N", help="only the kill-and-resume check of N students")
    args = parser.parse_args(argv)
    if args.resume_check:
        resume_check(args.preset, args.resume_check)
        return 0
    sizes = [int(s) for s in (args.sizes or ("10,30" if args.quick else "30,100,500")).split(",")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    show("cpus usable", cores, "cpus")
    show("preset", args.preset)
    _warm_up(args.preset)
    # both process counts where 2 workers start (exam starts one per 30 students at most): the
    # largest size up to 500, or the smallest
    both = max([n for n in sizes if n <= 500] or sizes[:1])
    results = {}
    for n in sizes:
        for jobs in ((1, 2) if n == both else (1,) if n == sizes[0] else (2,)):
            print(f"# {n} students, {jobs} process{'es' if jobs > 1 else ''}", file=sys.stderr, flush=True)
            r = results[(n, jobs)] = run(args.preset, n, jobs)
            tag = f"{n} students, jobs {jobs}"
            show(f"wall {tag}", r["wall"], "s")
            show(f"cpu {tag}", r["cpu"], "s")
            show(f"cpu per student {tag}", r["cpu"] / n, "s")
            show(f"cpu per page {tag}", r["cpu"] / r["pages"], "s")
            show(f"students per minute {tag}", 60 * n / r["wall"], "", 1)
            show(f"peak memory {tag}", r["rss_kb"] / 1024, "MB", 1)
            show(f"disk per student {tag}", r["bytes"] / n / 1024, "KiB", 1)
    pdflatex_side_by_side(args.preset, sizes[0], results.get((sizes[0], 1)))
    one, two = results[(both, 1)], results[(both, 2)]
    show(f"speed-up of 2 processes, wall ({both} students)", one["wall"] / two["wall"], "x", 2)
    show(f"cpu of 2 processes against 1 ({both} students)", two["cpu"] / one["cpu"], "x", 2)
    last = max(results)
    small = results[(sizes[0], 2)] if (sizes[0], 2) in results else results[(sizes[0], 1)]
    show(f"peak memory {sizes[-1]} against {sizes[0]} students", results[last]["rss_kb"] / small["rss_kb"], "x", 2)
    per_student = results[last]["cpu"] / sizes[-1]
    for machine in (16, 64):
        for n in (10_000, 100_000):
            show(f"{n} students on {machine} cores (ideal, from cpu per student)", per_student * n / machine / 60,
                 "min", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
