"""Shared fixtures: every preset solved over many seeds, once per test session; a headless
Chromium per test module; printed pages as pictures."""

import os
import shutil
import subprocess
from functools import lru_cache

import pytest

from workbook.errors import GenerationError
from workbook.presets import presets
from workbook.solve import solve

SEEDS = range(int(os.environ.get("MOE_SEEDS", "200")))


@lru_cache(maxsize=None)
def solved(preset_name: str, seed: int):
    p = next(p for p in presets() if p.name == preset_name)
    return solve(p.spec(seed=seed))


@pytest.fixture(params=[p.name for p in presets()])
def preset_name(request):
    return request.param


def solve_or_refused(spec):
    """The solution, or None when the generator refuses the parameters in its one clear way."""
    try:
        return solve(spec)
    except GenerationError as err:
        assert "could not build a hand-friendly" in str(err)
        return None


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven by Playwright (its own browser download is not used)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def pictures(pdf: bytes, folder, tag: str, dpi: int = 60) -> list[bytes]:
    """Each page of a PDF as a grey picture (poppler's pdftoppm, installed by .ci/run)."""
    assert shutil.which("pdftoppm"), "pdftoppm is missing: apt-get install poppler-utils"
    path = folder / f"{tag}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(path), str(folder / tag)], check=True)
    return [p.read_bytes() for p in sorted(folder.glob(f"{tag}-*.pgm"))]


def learner_answers(sol, values: dict) -> dict:
    """An answer file's tables: the key in every box, the learner's numbers where `values`
    ({ref: value}) gives them; fractions as 'p/q', floats to 4 places as a learner writes them."""
    from workbook.check import groups
    from workbook.sheet import build_sheet
    from workbook.values import expected

    def text(v):
        if v is None:
            return ""
        return round(v, 4) if isinstance(v, float) else str(v)

    data = {"code": sol.code}
    for g in groups(build_sheet(sol)):
        data[g.key] = [[text(values[c.ref]) if c.ref in values else text(expected(c)) for c in row] for row in g.rows]
    return data
