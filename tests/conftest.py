"""Shared fixtures: every preset solved over many seeds, once per test session."""

import os
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
