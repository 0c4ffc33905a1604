"""The benchmark script still runs over every preset (a smoke run of one seed, nothing timed)."""

import importlib.util
from pathlib import Path


def test_benchmark_solve_rates_cover_every_preset(capsys):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"
    spec = importlib.util.spec_from_file_location("bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from workbook.presets import presets

    figures = bench.Figures()
    bench.solve_rates(figures, {"seeds": 1, "solve_reps": 1})
    names = {row["name"] for row in figures.rows}
    assert all(f"solve rate {p.name}" in names for p in presets())
