"""Class sets at scale: what `exam` costs per student, per page, in memory and on disk.

A script, not a test. Prints one figure a line, `name: value unit`, and exits 0:

    python benchmarks/class_set.py            # 30, 100 and 500 students; jobs 1 and 2
    python benchmarks/class_set.py --quick    # 10 and 30 students, a smoke run
    python benchmarks/class_set.py --sizes 100,2000 --preset token-choice-ffn
    python benchmarks/class_set.py --resume-check 2000   # killed half-way, resumed: the same bytes?

Each run is `python -m workbook exam PRESET --variants N --jobs J` in a fresh process, into a
temporary folder removed afterwards. Figures per run: wall seconds, CPU seconds of the process
and its workers, CPU per student and per printed page (worksheets.pdf + keys.pdf pages), the
peak resident memory of the largest process (the main one, which joins the PDFs), and bytes on
disk per student. Then the speed-up from 2 processes against 1 (wall and CPU), memory growth
between the smallest and the largest class, and what 16 and 64 cores would take for 10,000 and
100,000 students if the measured CPU per student divided evenly over them (an upper bound on
speed: the join is serial).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(preset: str, students: int, jobs: int) -> dict:
    """One class set in a fresh process: wall, CPU (process and workers), peak RSS, pages, bytes."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
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


def _pages(manifest: Path) -> int:
    """Printed pages of worksheets.pdf and keys.pdf, from the manifest's page ranges."""
    rows = json.loads(manifest.read_text(encoding="utf-8"))
    last = {side: max(int(r[f"{side}_pages"].split("-")[1]) for r in rows) for side in ("worksheet", "key")}
    return sum(last.values())


def resume_check(preset: str, students: int) -> None:
    """An uninterrupted run, then the same run killed (SIGKILL) half-way and resumed with --resume:
    prints whether every file has the same bytes, and the share of the work the resumed run redid."""
    import signal

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
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
    results = {}
    for n in sizes:
        for jobs in ((1, 2) if n == sizes[0] else (2,)):
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
    first = sizes[0]
    one, two = results[(first, 1)], results[(first, 2)]
    show(f"speed-up of 2 processes, wall ({first} students)", one["wall"] / two["wall"], "x", 2)
    show(f"cpu of 2 processes against 1 ({first} students)", two["cpu"] / one["cpu"], "x", 2)
    small, large = results[(sizes[0], 2)], results[(sizes[-1], 2)]
    show(f"peak memory {sizes[-1]} against {sizes[0]} students", large["rss_kb"] / small["rss_kb"], "x", 2)
    per_student = large["cpu"] / sizes[-1]
    for machine in (16, 64):
        for n in (10_000, 100_000):
            show(f"{n} students on {machine} cores (ideal, from cpu per student)", per_student * n / machine / 60,
                 "min", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
