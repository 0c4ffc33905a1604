"""microscaling: every rounding against the formats decoded here from their bit patterns, a
hand-worked block per format, exact against floats over every preset x seeds, random parameters,
the named mistakes, a carried scale, and a worksheet whose geometry is the parameters'."""

import math
from fractions import Fraction as F

import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st
from sympy import Rational as R

from conftest import solved
from workbook.check import grade, groups
from workbook.kinds import kind as kind_module
from workbook.kinds.microscaling import MISTAKES, MicroscalingProblem, carried
from workbook.presets import presets
from workbook.sheet import build_sheet
from workbook.solve import leaves, solve
from workbook.spec import make_spec

PRESETS = [p.name for p in presets() if p.exercise == "microscaling"]
SEEDS = range(25)  # the generic suite (stress test, worked lines, no-leak) covers more seeds


# --- the formats, decoded from every bit pattern (not the code under test) ------------------------

def _e2m1(code: int):
    """S EE M: exponent bias 1; exponent 0 is subnormal (M · 0.5)."""
    s, e, m = code >> 3, (code >> 1) & 3, code & 1
    v = F(m, 2) if e == 0 else F(2) ** (e - 1) * (1 + F(m, 2))
    return (-v if s else v), m


def _e4m3fn(code: int):
    """S EEEE MMM, bias 7; exponent 0 subnormal (M/8 · 2^-6); S.1111.111 is NaN (None); no infinities."""
    s, e, m = code >> 7, (code >> 3) & 15, code & 7
    if e == 15 and m == 7:
        return None, m
    v = F(m, 8) * F(2) ** -6 if e == 0 else F(2) ** (e - 7) * (1 + F(m, 8))
    return (-v if s else v), m


FP4 = [_e2m1(c) for c in range(16)]
FP8 = [d for d in (_e4m3fn(c) for c in range(256)) if d[0] is not None]
TABLE = {"mxfp4": FP4, "fp8-e4m3": FP8}


def test_the_decoded_tables():
    assert sorted({v for v, _ in FP4 if v >= 0}) == [F(x) for x in ("0", "0.5", "1", "1.5", "2", "3", "4", "6")]
    assert len(FP8) == 254 and max(v for v, _ in FP8) == 448 and min(v for v, _ in FP8 if v > 0) == F(1, 512)
    assert F(1, 64) in {v for v, _ in FP8}  # the smallest normal, 2^-6


def ref_round(x: F, table) -> F:
    """Nearest finite value after clamping to ±largest; a tie to the code with an even mantissa."""
    top = max(v for v, _ in table)
    x = max(min(x, top), -top)
    best = min(abs(v - x) for v, _ in table)
    near = {(v, m % 2) for v, m in table if abs(v - x) == best}
    values = {v for v, _ in near}
    if len(values) == 1:
        return values.pop()
    return next(v for v, odd in sorted(near) if not odd)


def ref_neighbours(x: F, table) -> tuple[F, F]:
    values = sorted({v for v, _ in table})
    return max(v for v in values if v <= x), min(v for v in values if v >= x)


def _f(v) -> F:
    return F(int(v.p), int(v.q))


def check_contract(sol) -> None:
    """From the definitions, with the decoded tables: amax and the scale rules, every rounding,
    ŵ and the error; every block its own scale; block values short exact decimals (eighths,
    thousandths); the teaching moments: a tie that half to even decides against away from zero,
    both signs, MXFP4 a clamp from 7 or more and a value between 4 and 6 (not 5), FP8 whole scaled
    values with a block's largest at ±448 and one above 256 rounding away from zero."""
    spec = sol.spec

    def ex(step_id):  # a per-block step (one box per block, in a column) as one value per block
        rows = [[_f(v) for v in row] if isinstance(row, tuple) else _f(row) for row in sol.step(step_id).exact]
        return [row[0] for row in rows] if step_id in ("amax", "exponent", "scale", "e8m0") else rows

    mx, table = spec["format"] == "mxfp4", TABLE[spec["format"]]
    V = sol.problem.values()
    assert len(V) == spec["blocks"] and all(len(row) == spec["values"] for row in V), sol.code
    assert all((v * (8 if mx else 1000)).denominator == 1 for row in V for v in row), sol.code
    amax = [max(abs(v) for v in row) for row in V]
    assert ex("amax") == amax
    if mx:
        k = [math.floor(math.log2(a)) for a in amax]  # exact enough: amax is a short binary fraction
        assert all(F(2) ** e <= a < F(2) ** (e + 1) for e, a in zip(k, amax)), sol.code
        scale = [F(2) ** (e - 2) for e in k]
        assert ex("exponent") == k and ex("e8m0") == [e - 2 + 127 for e in k] and ex("scale") == scale
    else:
        scale = [a / 448 for a in amax]
        assert ex("scale") == scale and set(scale) <= {F(1, 1000), F(1, 500), F(1, 250)}, sol.code
    assert len(set(scale)) == len(scale), sol.code
    y = [[v / x for v in row] for row, x in zip(V, scale)]
    q = [[ref_round(v, table) for v in row] for row in y]
    assert ex("scaled") == y and ex("q") == q, sol.code
    if not mx:
        assert all(v.denominator == 1 and abs(v) <= 448 for row in y for v in row), sol.code
        assert all(max(abs(v) for v in row) == 448 for row in y), sol.code
        pairs = [[ref_neighbours(v, table) for v in row] for row in y]
        assert ex("lower") == [[p[0] for p in row] for row in pairs], sol.code
        assert ex("upper") == [[p[1] for p in row] for row in pairs], sol.code
    w_hat = [[c * x for c in row] for row, x in zip(q, scale)]
    assert ex("w_hat") == w_hat and ex("error") == [[a - b for a, b in zip(r, s)] for r, s in zip(V, w_hat)]
    flat = [v for row in y for v in row]
    away = lambda v: math.copysign(1, v) * _away_abs(abs(v), table)  # noqa: E731
    assert any(ref_round(v, table) != away(v) for v in flat), f"{sol.code}: no tie where half to even matters"
    assert min(min(r) for r in V) < 0 < max(max(r) for r in V), sol.code
    if mx:
        assert any(abs(v) >= 7 for v in flat) and any(4 < abs(v) < 6 and abs(v) != 5 for v in flat), sol.code
    else:
        assert any(abs(v) > 256 and abs(ref_round(v, table)) > abs(v) for v in flat), sol.code


def _away_abs(a: F, table) -> F:
    low, high = ref_neighbours(min(a, max(v for v, _ in table)), table)
    if low == high:
        return low
    return high if a - low >= high - a else low


# --- exact against floats, the contract ---------------------------------------------------------

@pytest.mark.parametrize("name", PRESETS)
def test_exact_agrees_with_numpy_and_the_decoded_tables(name):
    assert len(PRESETS) == 2
    for seed in SEEDS:
        sol = solved(name, seed)
        floats = kind_module("microscaling").forward(sol.spec, sol.problem)
        for step in sol.steps:
            exact = [float(v) for v in leaves(step.exact)]
            approx = [float(v) for v in leaves(floats[step.id])]
            assert len(exact) == len(approx), (sol.code, step.id)
            np.testing.assert_allclose(exact, approx, rtol=1e-9, atol=1e-12, err_msg=f"{sol.code} {step.id}")
        check_contract(sol)
        assert kind_module("microscaling").contract(sol) == [], sol.code


@settings(max_examples=12, deadline=None)
@given(fmt=st.sampled_from(["mxfp4", "fp8-e4m3"]), blocks=st.integers(1, 3), values=st.integers(4, 8),
       seed=st.integers(0, 2**32 - 1))
def test_every_documented_size_generates(fmt, blocks, values, seed):
    check_contract(solve(make_spec("microscaling", {"format": fmt, "blocks": blocks, "values": values}, seed)))


def test_the_corners_generate():
    for fmt in ("mxfp4", "fp8-e4m3"):
        for blocks, values in ((1, 4), (3, 8), (3, 4), (1, 8)):
            check_contract(solve(make_spec("microscaling", {"format": fmt, "blocks": blocks, "values": values}, 7)))


def test_sizes_outside_the_ranges_are_refused_in_one_line():
    from workbook.errors import SpecError
    for params, words in (({"values": 9}, "at most 8"), ({"values": 3}, "at least 4"), ({"blocks": 4}, "at most 3"),
                          ({"format": "nvfp4"}, "choose one of mxfp4, fp8-e4m3")):
        with pytest.raises(SpecError, match=words):
            make_spec("microscaling", params)


# --- hand-worked ------------------------------------------------------------------------------

def mxfp4_by_hand():
    """One block of 4 values V = (3.5, −1.25, 2.25, 0.375).

    amax = 3.5; 2^1 = 2 ≤ 3.5 < 4, so ⌊log2 3.5⌋ = 1 and X = 2^(1 − 2) = 0.5; E8M0 byte 126.
    V / X = (7, −2.5, 4.5, 0.75). 7 is past 6: clamped to 6 (no clamp would give 8). −2.5 is a tie
    between 2 (mantissa 0) and 3 (mantissa 1): −2 (away from zero: −3). 4.5 lies between the
    coarse 4 and 6: 4. 0.75 is a tie between 0.5 (odd) and 1 (even): 1.
    ŵ = q · 0.5 = (3, −1, 2, 0.5); error = (0.5, −0.25, 0.25, −0.125).
    Bits: 4 + 8/4 = 6 on the sheet, 4 + 8/32 = 4.25 for real blocks.
    gpt-oss-120b: 36 · 128 · (2880 · 5760 + 2880 · 2880) = 114,661,785,600 weights; values
    N/2 bytes = 57.3308928 GB, scales N/32 bytes = 3.5831808 GB, 60.9140736 GB in all, bf16 2N =
    229.3235712 GB."""
    spec = make_spec("microscaling", {"format": "mxfp4", "blocks": 1, "values": 4}, 0)
    return solve(spec, MicroscalingProblem(((28, -10, 18, 3),), 8))


def fp8_by_hand():
    """One block of 4 weights w = (0.896, −0.544, 0.614, 0.034).

    amax = 0.896; s = 0.896 / 448 = 0.002; y = w / s = (448, −272, 307, 17).
    Neighbours: 448 is representable (448, 448); −272 in 256..512 (spacing 32): (−288, −256);
    307: (288, 320); 17 in 16..32 (spacing 2): (16, 18).
    q: 448; −272 is a tie, 256 = 1.000 · 2^8 has the even mantissa: −256; 307 is 13 from 320 and
    19 from 288: 320; 17 is a tie, 16 even: 16.
    ŵ = q · 0.002 = (0.896, −0.512, 0.64, 0.032); error = (0, −0.032, −0.026, 0.002).
    Bits: 8 + 32/4 = 16 on the sheet; 8 + 32/16384 = 4097/512 for a 128 × 128 block.
    DeepSeek-V3 routed experts: 58 · 256 · 3 · 7168 · 2048 = 653,908,770,816 weights: 653.908770816
    GB of values, N/16384 · 4 bytes = 0.159645696 GB of scales, 654.068416512 GB in all, bf16
    1307.817541632 GB."""
    spec = make_spec("microscaling", {"format": "fp8-e4m3", "blocks": 1, "values": 4}, 0)
    return solve(spec, MicroscalingProblem(((896, -544, 614, 34),), 1000))


def _ex(sol, step_id):
    """A step's exact values; a per-block one (a column of one box per block) flat."""
    exact = sol.step(step_id).exact
    return tuple(row[0] for row in exact) if step_id in ("amax", "exponent", "scale", "e8m0") else exact


def test_mxfp4_by_hand():
    sol = mxfp4_by_hand()
    assert _ex(sol, "amax") == (R(7, 2),) and _ex(sol, "exponent") == (1,) and _ex(sol, "scale") == (R(1, 2),)
    assert _ex(sol, "e8m0") == (126,)
    assert _ex(sol, "scaled") == ((7, R(-5, 2), R(9, 2), R(3, 4)),)
    assert _ex(sol, "q") == ((6, -2, 4, 1),)
    assert _ex(sol, "w_hat") == ((3, -1, 2, R(1, 2)),)
    assert _ex(sol, "error") == ((R(1, 2), R(-1, 4), R(1, 4), R(-1, 8)),)
    assert _ex(sol, "bits") == (6, R(17, 4))
    assert _ex(sol, "model_gb") == (R(573308928, 10**7), R(35831808, 10**7), R(609140736, 10**7),
                                    R(2293235712, 10**7))


def test_fp8_by_hand():
    sol = fp8_by_hand()
    assert _ex(sol, "amax") == (R(896, 1000),) and _ex(sol, "scale") == (R(1, 500),)
    assert _ex(sol, "scaled") == ((448, -272, 307, 17),)
    assert _ex(sol, "lower") == ((448, -288, 288, 16),) and _ex(sol, "upper") == ((448, -256, 320, 18),)
    assert _ex(sol, "q") == ((448, -256, 320, 16),)
    assert _ex(sol, "w_hat") == ((R(896, 1000), R(-512, 1000), R(64, 100), R(32, 1000)),)
    assert _ex(sol, "error") == ((0, R(-32, 1000), R(-26, 1000), R(2, 1000)),)
    assert _ex(sol, "bits") == (16, R(4097, 512))
    assert _ex(sol, "model_gb") == (R(653908770816, 10**9), R(159645696, 10**9), R(654068416512, 10**9),
                                    R(1307817541632, 10**9))


# --- mistakes and carried errors ---------------------------------------------------------------

def _plain(v):
    return "" if v is None else str(v)


def answers_with(sol, changes: dict) -> dict:
    """The key's answers (exact fractions) with some boxes changed (by ref)."""
    data = {"code": sol.code}
    for g in groups(build_sheet(sol)):
        data[g.key] = [[_plain(changes.get(c.ref, c.value)) for c in row] for row in g.rows]
    return data


def _refs(step_id: str, values) -> dict:
    out = {}
    for i, v in enumerate(values):
        if isinstance(v, tuple) and len(v) == 1 and step_id in ("amax", "exponent", "scale", "e8m0"):
            out[f"{step_id}[{i + 1}][1]"] = v[0]
        elif isinstance(v, tuple):
            out |= {f"{step_id}[{i + 1}][{j + 1}]": w for j, w in enumerate(v)}
        else:
            out[f"{step_id}[{i + 1}]"] = v
    return out


@pytest.mark.parametrize("sol", [mxfp4_by_hand(), fp8_by_hand(), solved("mxfp4-block", 1), solved("fp8-e4m3-block", 1)],
                         ids=["mxfp4-hand", "fp8-hand", "mxfp4-preset", "fp8-preset"])
def test_every_mistake_differs_from_the_key_and_is_named(sol):
    named = 0
    for name, mistake in MISTAKES:
        found = mistake(sol)
        for wrong in (found if isinstance(found, list) else [found]):
            for step_id, values in wrong.items():
                assert values != sol.step(step_id).exact, (name, step_id)
                report = grade(sol, build_sheet(sol), answers_with(sol, _refs(step_id, values)))
                reasons = " | ".join(r for s in report.steps for r in s.reasons)
                assert name in reasons, (name, step_id, reasons)
                named += 1
    assert named >= 7


def test_each_mistake_happens_on_one_format_at_least():
    sheets = [mxfp4_by_hand(), fp8_by_hand()]
    for name, mistake in MISTAKES:
        assert any(mistake(sol) for sol in sheets), name


def findings(sol, changes) -> dict:
    report = grade(sol, build_sheet(sol), answers_with(sol, changes))
    return {key: f for s in report.steps for f in s.findings for key in f.keys}


def test_a_wrong_fp8_scale_is_carried_into_the_rounding():
    """s written 0.004 for 0.002 (amax / 224): y = w / 0.004 = (224, −136, 153.5, 8.5); neighbours
    (224, 224), (−144, −128) and (144, 160) (128..256: spacing 16), (8, 9); q = 224, −136 is a tie
    between 128 (even) and 144: −128, 153.5 -> 160 (6.5 away, 144 is 9.5), 8.5 a tie between 8 (even)
    and 9: 8; ŵ = q · 0.004 = (0.896, −0.512, 0.64, 0.032); error = (0, −0.032, −0.026, 0.002): the
    key's ŵ and errors again: a scale off by a power of two moves every y by whole binades, so the
    codes halve and ŵ comes out right."""
    sol = fp8_by_hand()
    changes = {"scale[1][1]": F(1, 250)} | _refs("scaled", ((224, F(-136), F(307, 2), F(17, 2)),))
    changes |= _refs("lower", ((224, -144, 144, 8),)) | _refs("upper", ((224, -128, 160, 9),))
    changes |= _refs("q", ((224, -128, 160, 8),))
    changes |= _refs("w_hat", ((F(896, 1000), F(-512, 1000), F(640, 1000), F(32, 1000)),))
    changes |= _refs("error", ((0, F(-32, 1000), F(-26, 1000), F(2, 1000)),))
    found = findings(sol, changes)
    assert found["scale[1]"].slip
    for row in ("scaled[1]", "lower[1]", "upper[1]", "q[1]"):
        assert found[row].carried, (row, found[row].text())
    assert "w_hat[1]" not in found and "error[1]" not in found


def test_a_wrong_mxfp4_exponent_is_carried_into_the_scale_and_the_codes():
    """k written 2 for 1 (a slip): X = 2^(2 − 2) = 1, byte 127; V / X = V = (3.5, −1.25, 2.25,
    0.375); q = (4 (3.5 a tie between 3 and 4: the even 4), −1 (1.25 a tie: 1), 2, 0.5 (0.375
    nearer 0.5)); ŵ = q · 1; error = (−0.5, −0.25, 0.25, −0.125)."""
    sol = mxfp4_by_hand()
    changes = {"exponent[1][1]": 2, "scale[1][1]": 1, "e8m0[1][1]": 127}
    changes |= _refs("scaled", ((F(7, 2), F(-5, 4), F(9, 4), F(3, 8)),))
    changes |= _refs("q", ((4, -1, 2, F(1, 2)),)) | _refs("w_hat", ((4, -1, 2, F(1, 2)),))
    changes |= _refs("error", ((F(-1, 2), F(-1, 4), F(1, 4), F(-1, 8)),))
    found = findings(sol, changes)
    assert not found["exponent[1]"].carried
    for row in ("scale[1]", "e8m0[1]", "scaled[1]", "q[1]", "w_hat[1]"):
        assert found[row].carried, (row, found[row].text())


def test_carried_refuses_what_it_cannot_follow():
    sol = fp8_by_hand()
    assert carried(sol, "scaled", {"scale[1][1]": F(0)}) is None
    assert carried(sol, "scaled", {"scale[1][1]": "a half"}) is None
    assert carried(sol, "scale", {"amax[1][1]": F(10) ** 30}) is None
    assert carried(sol, "q", {"scaled[1]": F(3)}) is None  # a box with one index: not this sheet's
    assert carried(sol, "bits", {}) is None
    assert carried(mxfp4_by_hand(), "scale", {"exponent[1][1]": F(1, 2)}) is None
    assert carried(sol, "scale", {"amax[1][1]": F(896, 1000)}) == ("amax", {"scale[1][1]": F(1, 500)})


# --- the worksheet ------------------------------------------------------------------------------

def _geometry(sheet):
    from test_no_leak import geometry
    return geometry(sheet)


@pytest.mark.parametrize("name", PRESETS)
def test_the_worksheet_is_answer_free(name):
    sheets = [build_sheet(solved(name, seed)) for seed in (3, 4)]
    assert _geometry(sheets[0]) == _geometry(sheets[1])
    for sheet in sheets:
        from workbook.layout import cells
        blanks = [c for c in cells(sheet.sections) if c.blank]
        assert blanks and all(c.answer and len(c.answer) <= 10 and len(c.decimal) <= 9 for c in blanks)
        assert all(c.wide for c in blanks)


def test_values_in_the_json_read_back():
    sol = solved("mxfp4-block", 2)
    for step in sol.steps:
        for v in leaves(step.exact):
            assert sympy.sympify(str(v)) == v
