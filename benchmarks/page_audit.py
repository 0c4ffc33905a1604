"""The page audit over every preset (issue 13): a table of what each printed sheet gets wrong.

A script, not a test (the audit itself is tests/page_audit.py):

    python benchmarks/page_audit.py                       # every preset, A4 and Letter, 7-12 pt
    python benchmarks/page_audit.py --presets router-gradient-top2 --sizes 9,12 --details 5
    python benchmarks/page_audit.py --keep /tmp/sheets    # also keep the PDFs to look at

For every preset, paper and base font size it lays out the worksheet and key the way `exam
PRESET --variants 1 --paper P --font-size N` does (--variant exam: the class set's first
variant, exam seed 1) and/or the way `generate PRESET` does (--variant preset: the preset's own
seed), 9 pt being the default size (no --font-size). Each side is audited; the table counts
problems by kind (collides, crosses, touches, edge, small: see tests/page_audit.py), worksheet +
key, and the lines after it show the first --details problems of each sheet that has any. Last,
how long the audit took per page. At most --jobs processes (default 2).
"""

import argparse
import dataclasses
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
try:
    import workbook  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT))

KINDS = ("collides", "crosses", "touches", "edge", "small")
SIDES = ("worksheet", "key")


def _sheets(job):
    """Worker: one preset, paper, size and variant laid out and audited; its problems by side,
    page counts and the seconds spent laying out and auditing."""
    from page_audit import audit, kind_of

    from workbook.exam import plan_exam
    from workbook.presets import preset
    from workbook.render_html import printable
    from workbook.render_pdf import lay_out, print_sheets
    from workbook.sheet import build_sheet
    from workbook.solve import solve

    name, paper, size, variant, keep = job
    t0 = time.perf_counter()
    if variant == "exam":
        sol = plan_exam([preset(name)], 1, variants=1)[0].solutions[0][1]
    else:
        sol = solve(preset(name).spec())
    sheet = dataclasses.replace(build_sheet(sol, paper), font_size=0.0 if size == 9 else float(size))
    pdfs = print_sheets([[lay_out(printable(sheet))]]).pdfs
    result = {"job": job[:4], "code": sol.code, "problems": {}, "pages": {}, "layout": time.perf_counter() - t0,
              "audit": 0.0}
    for side in SIDES:
        c0 = time.process_time()  # CPU time: the machine may be busy with other work
        found = audit(pdfs[side])
        result["audit"] += time.process_time() - c0
        result["problems"][side] = [(kind_of(p), p) for p in found]
        result["pages"][side] = _pages(pdfs[side])
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            Path(keep, f"{name}-{variant}-{paper}-{size}pt-{side}.pdf").write_bytes(pdfs[side])
    return result


def _pages(pdf: bytes) -> int:
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return len(doc.pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default="", help="comma-separated (default: every preset `list` shows)")
    parser.add_argument("--papers", default="a4,letter")
    parser.add_argument("--sizes", default="7,8,9,10,11,12", help="base font sizes in points (9: the default)")
    parser.add_argument("--variant", choices=("exam", "preset", "both"), default="exam")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--details", type=int, default=3, help="problems shown per sheet (0: none)")
    parser.add_argument("--keep", default="", help="folder to keep the PDFs in")
    args = parser.parse_args()

    from workbook.presets import presets
    from workbook.workers import worker_pool

    names = [n.strip() for n in args.presets.split(",") if n.strip()] or [p.name for p in presets()]
    papers = [p.strip() for p in args.papers.split(",") if p.strip()]
    sizes = [int(s) if float(s).is_integer() else float(s) for s in args.sizes.split(",") if s.strip()]
    variants = ("exam", "preset") if args.variant == "both" else (args.variant,)
    jobs = [(n, p, s, v, args.keep) for v in variants for n in names for p in papers for s in sizes]

    start = time.perf_counter()
    results = []
    with worker_pool(max(1, min(args.jobs, len(jobs)))) as pool:
        for i, result in enumerate(pool.map(_sheets, jobs, chunksize=1), 1):
            results.append(result)
            print(f"\r{i}/{len(jobs)} pairs laid out and audited", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    wall = time.perf_counter() - start

    width = max(len(n) for n in names)
    print(f"{'preset':<{width}}  variant paper  size  " + "  ".join(f"{k:>8}" for k in KINDS) + "   (worksheet+key)")
    totals = Counter()
    for r in results:
        name, paper, size, variant = r["job"]
        counts = {side: Counter(k for k, _ in r["problems"][side]) for side in SIDES}
        totals.update(counts["worksheet"] + counts["key"])
        cells = [f"{counts['worksheet'][k]}+{counts['key'][k]}" if counts['worksheet'][k] + counts['key'][k] else "."
                 for k in KINDS]
        print(f"{name:<{width}}  {variant:<7} {paper:<6} {size:>4}  " + "  ".join(f"{c:>8}" for c in cells))
    print(f"{'total':<{width}}  {'':<7} {'':<6} {'':>4}  " + "  ".join(f"{totals[k]:>8}" for k in KINDS))

    if args.details:
        print()
        for r in results:
            name, paper, size, variant = r["job"]
            for side in SIDES:
                found = r["problems"][side]
                if not found:
                    continue
                print(f"{name} {variant} {r['code']} {paper} {size}pt {side}: {len(found)} problem(s)")
                for _, problem in found[:args.details]:
                    print(f"    {problem}")
                if len(found) > args.details:
                    print(f"    ... and {len(found) - args.details} more")

    pages = sum(r["pages"][side] for r in results for side in SIDES)
    audit_s = sum(r["audit"] for r in results)
    layout_s = sum(r["layout"] for r in results)
    clean = sum(1 for r in results for side in SIDES if not r["problems"][side])
    print()
    print(f"sheets: {2 * len(results)} ({clean} clean), pages: {pages}")
    print(f"audit: {audit_s:.1f} s of CPU for {pages} pages, {1000 * audit_s / max(pages, 1):.0f} ms per page "
          f"(laying the sheets out: {layout_s:.1f} s); wall {wall:.0f} s on {min(args.jobs, len(jobs))} processes")


if __name__ == "__main__":
    main()
