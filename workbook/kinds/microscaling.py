"""Today's number formats for experts: MXFP4 blocks (as gpt-oss stores its expert weights) and FP8
E4M3 with per-block scales (as DeepSeek-V3 stores its weights), by hand.

MXFP4: each block of n values V shares one power-of-two scale X = 2^(⌊log2 amax⌋ − 2), stored as
an E8M0 byte; each V / X is rounded to the nearest FP4 E2M1 value (ties to the even mantissa,
clamped to ±6), ŵ = q · X and the error V − ŵ. FP8: each block's scale s = amax / 448; y = w / s,
its two E4M3 neighbours, the nearer one (ties to even), ŵ = q · s and the error. Then the bits per
parameter with the scale and a real model's expert weights in GB. The values are built so that
every number is a short exact decimal: MXFP4 values in eighths (X from 1/4 to 2), FP8 weights in
thousandths with s = 0.001, 0.002 or 0.004 (so y is a whole number); block 1 always holds a tie
that half to even decides (not as away from zero would), a value that clamps and one between the
coarse steps (MXFP4: 4 and 6; FP8: the step 32 above 256). Leaves out: the sheet
(microscaling_sheet.py), the worked solution (microscaling_working.py), the formats' own arithmetic
(microscaling_formats.py), activations, NVFP4 and per-tensor scales.
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from sympy import Integer, Rational

from workbook.kinds.microscaling_carried import carried  # noqa: F401
from workbook.kinds.microscaling_formats import E2M1, E4M3, nearest, neighbours, toward_zero, unbounded_fp4
from workbook.kinds.microscaling_sheet import conventions, hand_work, layout, title  # noqa: F401
from workbook.kinds.microscaling_working import working  # noqa: F401
from workbook.problem import Matrix, Step, as_matrix
from workbook.spec import Param


@dataclass(frozen=True)
class Model:
    name: str
    layers: int
    experts: int
    matrices: tuple[tuple[int, int], ...]   # each expert's quantised matrices (rows, cols)
    what: str                               # what is counted, in words

    @property
    def parameters(self) -> int:
        return self.layers * self.experts * sum(r * c for r, c in self.matrices)


@dataclass(frozen=True)
class Format:
    name: str          # 'MXFP4'
    element: str       # 'FP4 E2M1'
    bits: int          # bits of one element
    scale_bits: int    # bits of one block's scale
    real_block: int    # values per block in real use
    real_label: str    # '32', '128 × 128'
    model: Model


GPT_OSS = Model("gpt-oss-120b", 36, 128, ((2880, 5760), (2880, 2880)),
                "the MXFP4 expert matrices only: 36 layers × 128 experts × (gate_up_proj 2880 × 5760 + down_proj "
                "2880 × 2880); their bf16 biases, attention, router and embeddings are not counted")
DEEPSEEK_V3 = Model("DeepSeek-V3", 58, 256, ((7168, 2048),) * 3,
                    "the routed experts only: 58 MoE layers (of 61; the first 3 are dense) × 256 experts × 3 "
                    "matrices (gate, up, down) of 7168 × 2048; the shared experts, attention, the MTP module "
                    "and embeddings are not counted")
FORMATS = {"mxfp4": Format("MXFP4", "FP4 E2M1", 4, 8, 32, "32", GPT_OSS),
           "fp8-e4m3": Format("FP8 E4M3", "FP8 E4M3", 8, 32, 128 * 128, "128 × 128", DEEPSEEK_V3)}
UNIT = {"mxfp4": 8, "fp8-e4m3": 1000}          # values kept as whole eighths / thousandths
_MX_EXPONENTS = (-2, -1, 0, 1)                  # log2 X: X = 1/4 .. 2
_FP8_SCALES = (1, 2, 4)                         # s in thousandths: amax = 0.448, 0.896, 1.792
_MX_TIES = tuple(Fraction(v) for v in ("0.25", "1.25", "2.5", "5"))  # half to even != away from zero
_MX_COARSE = tuple(Fraction(v) for v in ("4.25", "4.5", "4.75", "5.25", "5.5", "5.75"))
_MX_CLAMPS = tuple(Fraction(v) for v in ("7", "7.25", "7.5", "7.75"))
# E4M3 ties a whole y can land on where half to even keeps the lower neighbour (away would not):
_FP8_TIES = tuple((a + b) / 2 for i, (a, b) in enumerate(zip(E4M3, E4M3[1:])) if a >= 16 and i % 2 == 0)
_FP8_TOP = 448


@dataclass(frozen=True)
class MicroscalingProblem:
    """Each block's values as whole multiples of 1/unit: unit 8 (MXFP4: 13 means 1.625) or 1000
    (FP8: 307 means 0.307)."""

    blocks: Matrix
    unit: int

    def inputs(self) -> dict:
        return {"blocks": [[v / self.unit for v in row] for row in self.blocks]}

    def values(self) -> tuple[tuple[Fraction, ...], ...]:
        return tuple(tuple(Fraction(v, self.unit) for v in row) for row in self.blocks)


def generate(spec) -> MicroscalingProblem:
    """Seeded: every block its own scale; block 1 holds the planted cases at random places, the
    rest are drawn on the block's grid; a planted tie and a planted large value of opposite signs."""
    B, n, fmt = spec["blocks"], spec["values"], spec["format"]
    rng = np.random.default_rng(spec.seed)
    build = _mx_block if fmt == "mxfp4" else _fp8_block
    scales = rng.choice(_MX_EXPONENTS if fmt == "mxfp4" else _FP8_SCALES, size=B, replace=False)
    return MicroscalingProblem(as_matrix([build(rng, int(scales[b]), n, b == 0) for b in range(B)]), UNIT[fmt])


def _mx_block(rng, exponent: int, n: int, planted: bool) -> list[int]:
    """n values in eighths, X = 2^exponent; v = V / X on a grid of 1/2 (X = 1/4) or 1/4 (else)."""
    X, grid = Fraction(2) ** exponent, Fraction(1, 2) if exponent == -2 else Fraction(1, 4)
    on = lambda pool: [v for v in pool if v % grid == 0]  # noqa: E731
    sign = int(rng.choice((-1, 1)))
    if planted:
        top = sign * _pick(rng, on(_MX_CLAMPS))
        chosen = [top, -sign * _pick(rng, on(_MX_TIES)), int(rng.choice((-1, 1))) * _pick(rng, on(_MX_COARSE))]
    else:
        chosen = [sign * _pick(rng, [v for v in on(Fraction(k, 4) for k in range(16, 32))])]
    limit = int(abs(chosen[0]) / grid)
    v = [Fraction(int(m)) * grid for m in rng.integers(-limit, limit + 1, size=n)]
    for place, value in zip(rng.permutation(n), chosen):
        v[place] = value
    return [int(x * X * 8) for x in v]


def _fp8_block(rng, scale: int, n: int, planted: bool) -> list[int]:
    """n weights in thousandths, s = scale / 1000: y = w / s whole numbers, one of them ±448."""
    sign = int(rng.choice((-1, 1)))
    chosen = [sign * _FP8_TOP]
    if planted:
        tie = _pick(rng, [t for t in _FP8_TIES if t < _FP8_TOP])
        step = int(rng.integers(0, 6))                  # the step 32 above 256: 256 + 32·step .. + 32
        high = 256 + 32 * step + int(rng.integers(17, 32))  # past the middle: rounds away from zero
        chosen += [int(-sign * tie), int(sign * high if rng.integers(2) else -sign * high)]
    y = []
    for _ in range(n):
        k = int(rng.integers(3, 9))                      # a binade from [8, 16) to [256, 448]
        y.append(int(rng.choice((-1, 1))) * int(rng.integers(2**k, min(2 ** (k + 1), _FP8_TOP))))
    for place, value in zip(rng.permutation(n), chosen):
        y[place] = value
    return [v * scale for v in y]


def _pick(rng, pool):
    return pool[int(rng.integers(len(pool)))]


# --- the exact steps ------------------------------------------------------------------------

def _rows(rows) -> tuple:
    return tuple(tuple(Rational(v.numerator, v.denominator) for v in row) for row in rows)


def _flat(values) -> tuple:
    return tuple(Rational(v.numerator, v.denominator) for v in values)


def floor_log2(x: Fraction) -> int:
    """⌊log2 x⌋ of a positive Fraction, exactly: 7.75 -> 2, 4 -> 2, 0.375 -> −2."""
    k = x.numerator.bit_length() - x.denominator.bit_length()
    return k if Fraction(2) ** k <= x else k - 1


def ceil_log2(x: Fraction) -> int:
    """⌈log2 x⌉: 7.75 -> 3, 4 -> 2."""
    k = floor_log2(x)
    return k if Fraction(2) ** k == x else k + 1


def chain(spec, V, scale=None) -> dict:
    """Every exact value (Fractions) of the blocks V (Fractions), from their scales (or the given
    `scale` per block, for a mistake carried through)."""
    fmt = spec["format"]
    amax = [max(abs(v) for v in row) for row in V]
    out = {"amax": amax}
    if fmt == "mxfp4":
        out["exponent"] = [floor_log2(a) for a in amax]
        out["scale"] = scale or [Fraction(2) ** (k - 2) for k in out["exponent"]]
        out["e8m0"] = [k - 2 + 127 for k in out["exponent"]]
    else:
        out["scale"] = scale or [a / _FP8_TOP for a in amax]
    out["scaled"] = [[v / x for v in row] for row, x in zip(V, out["scale"])]
    grid = E2M1 if fmt == "mxfp4" else E4M3
    if fmt != "mxfp4":
        pairs = [[neighbours(y, grid) for y in row] for row in out["scaled"]]
        out["lower"] = [[p[0] for p in row] for row in pairs]
        out["upper"] = [[p[1] for p in row] for row in pairs]
    out["q"] = [[nearest(y, grid) for y in row] for row in out["scaled"]]
    return out | after(out["q"], out["scale"], V)


def after(q, scale, V) -> dict:
    w_hat = [[c * x for c in row] for row, x in zip(q, scale)]
    return {"w_hat": w_hat, "error": [[v - h for v, h in zip(a, b)] for a, b in zip(V, w_hat)]}


def memory(spec) -> dict:
    """bits per parameter (the sheet's block, a real one) and the model's GB (values, scales,
    total, bf16), exactly."""
    f, n = FORMATS[spec["format"]], spec["values"]
    N = f.model.parameters
    values, scales = Fraction(N * f.bits, 8 * 10**9), Fraction(N * f.scale_bits, f.real_block * 8 * 10**9)
    return {"bits": [f.bits + Fraction(f.scale_bits, n), f.bits + Fraction(f.scale_bits, f.real_block)],
            "model_gb": [values, scales, values + scales, Fraction(N * 16, 8 * 10**9)]}


TEXT = {
    "amax": ("Largest |value| of each block", "amax = max|V| over the block's values."),
    "exponent": ("k = ⌊log2 amax⌋", "k = ⌊log2 amax⌋, the exponent of the power of two at or below amax: "
                 "2^k ≤ amax < 2^(k+1)."),
    "scale": ("Shared scale", "X = 2^(k − 2): 2 is the largest exponent of E2M1."),
    "e8m0": ("E8M0 byte of the scale", "E8M0 = the scale's byte, its exponent plus the bias 127: log2 X + 127."),
    "scaled": ("Scaled values", "V / X for each value."),
    "q": ("Rounded to FP4 E2M1", "The nearest of ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}; a tie to the even mantissa "
          "(0, 1, 2, 4); past 6 clamped to ±6."),
    "w_hat": ("Dequantised", "ŵ = q · X."),
    "error": ("Error", "error = V − ŵ."),
    "bits": ("Bits per parameter", "Element bits + the shared scale's bits / block size."),
    "model_gb": ("Expert weights in GB", "GB = 10⁹ bytes."),
}
FP8_TEXT = TEXT | {
    "amax": ("Largest |w| of each block", "amax = max|w| over the block's weights."),
    "scale": ("Block scale", "s = amax / 448, one per block (448 = the largest E4M3 value)."),
    "scaled": ("Scaled weights", "y = w / s: the block's largest |w| becomes 448."),
    "lower": ("Neighbour below", "The E4M3 value just below y (y itself when representable)."),
    "upper": ("Neighbour above", "The E4M3 value just above y (y itself when representable)."),
    "q": ("Rounded to FP8 E4M3", "The nearer neighbour; a tie to the even mantissa."),
    "w_hat": ("Dequantised", "ŵ = q · s."),
    "error": ("Error", "error = w − ŵ."),
}
PER_BLOCK = ("amax", "exponent", "scale", "e8m0")
ORDER = {"mxfp4": ("amax", "exponent", "scale", "e8m0", "scaled", "q", "w_hat", "error", "bits", "model_gb"),
         "fp8-e4m3": ("amax", "scale", "scaled", "lower", "upper", "q", "w_hat", "error", "bits", "model_gb")}


def steps(spec, problem: MicroscalingProblem):
    exact = chain(spec, problem.values()) | memory(spec)
    text = TEXT if spec["format"] == "mxfp4" else FP8_TEXT
    for step_id in ORDER[spec["format"]]:
        value = exact[step_id]
        shaped = _rows(value) if isinstance(value[0], list) else _flat(Fraction(v) for v in value)
        if step_id in PER_BLOCK:  # one box per block, in a column: its row is the block's (check's rows)
            shaped = tuple((v,) for v in shaped)
        yield Step(step_id, *text[step_id], shaped)


# --- the independent float route -------------------------------------------------------------

def _to_float_format(x: np.ndarray, mantissa_bits: int, emin: int, top: float, how=np.round) -> np.ndarray:
    """As a quantiser rounds to a small float (the OCP reference's way): each value's own exponent
    ⌊log2|x|⌋ (at least emin, where subnormals begin), the mantissa scaled to a whole number and
    rounded by `how` (np.round: half to even), then clamped to ±top."""
    e = np.maximum(np.floor(np.log2(np.where(x == 0, 1.0, np.abs(x)))), emin)
    step = np.exp2(e - mantissa_bits)
    return np.clip(how(x / step) * step, -top, top)


def forward(spec, problem: MicroscalingProblem) -> dict:
    """NumPy floats, the way real code quantises: MXFP4's shared exponent from np.log2, each
    element's mantissa rounded by np.round on its own binade; FP8 from integer thousandths
    (y = w · 448 / amax, whole numbers exactly), neighbours by floor and ceil on the binade's
    grid. Memory from the matrices' shapes and their count of blocks."""
    fmt, f = spec["format"], FORMATS[spec["format"]]
    A = np.array(problem.blocks, dtype=np.int64)
    top = np.abs(A).max(axis=1)
    out = {"amax": top / problem.unit}
    if fmt == "mxfp4":
        V = A / problem.unit
        k = np.floor(np.log2(top / problem.unit))
        X = np.exp2(k - 2)
        v = V / X[:, None]
        q = _to_float_format(v, 1, 0, 6.0)
        out |= {"exponent": k, "scale": X, "e8m0": k - 2 + 127, "scaled": v, "q": q}
    else:
        X = top / _FP8_TOP / problem.unit
        y = A * _FP8_TOP / top[:, None]
        lower = np.clip(_to_float_format(y, 3, -6, 448.0, np.floor), -448, 448)
        upper = np.clip(_to_float_format(y, 3, -6, 448.0, np.ceil), -448, 448)
        q = _to_float_format(y, 3, -6, 448.0)
        out |= {"scale": X, "scaled": y, "lower": lower, "upper": upper, "q": q}
    w_hat = q * X[:, None]
    out |= {"w_hat": w_hat, "error": A / problem.unit - w_hat}
    per_expert = sum(r * c for r, c in f.model.matrices)
    blocks = f.model.layers * f.model.experts * sum(r * c // f.real_block for r, c in f.model.matrices)
    N = float(f.model.layers * f.model.experts * per_expert)
    values, scales = N * f.bits / 8 / 1e9, blocks * f.scale_bits / 8 / 1e9
    n = spec["values"]
    out["bits"] = np.array([(n * f.bits + f.scale_bits) / n, (f.real_block * f.bits + f.scale_bits) / f.real_block])
    out["model_gb"] = np.array([values, scales, values + scales, N * 2 / 1e9])
    return out


# --- what the sheet promises, in words --------------------------------------------------------

def contract(sol) -> list[str]:
    """The promises a variant breaks ([] when it keeps them all)."""
    fmt, V = sol.spec["format"], sol.problem.values()
    ex = chain(sol.spec, V)
    broken = []
    if len(set(ex["scale"])) != len(V):
        broken.append("two blocks share a scale")
    if not all((v * UNIT[fmt]).denominator == 1 for row in V for v in row):
        broken.append("a value that is not a whole number of eighths (MXFP4) or thousandths (FP8)")
    scaled = [y for row in ex["scaled"] for y in row]
    grid = E2M1 if fmt == "mxfp4" else E4M3
    ties = [y for y in scaled if nearest(y, grid) != nearest(y, grid, "away")]
    if not ties:
        broken.append("no tie where half to even differs from away from zero")
    if min(min(row) for row in V) >= 0 or max(max(row) for row in V) <= 0:
        broken.append("values of one sign only")
    if fmt == "mxfp4":
        if not any(abs(y) >= 7 for y in scaled):
            broken.append("no value that clamps at 6 (V / X of 7 or more)")
        if not any(4 < abs(y) < 6 and abs(y) != 5 for y in scaled):
            broken.append("no value between the coarse steps 4 and 6")
        if not all(4 <= a / x < 8 for a, x in zip(ex["amax"], ex["scale"])):
            broken.append("amax / X outside [4, 8)")
        if all(a == Fraction(2) ** floor_log2(a) for a in ex["amax"]):
            broken.append("every amax a power of two (⌈log2⌉ would not differ)")
    else:
        if not all(y.denominator == 1 and abs(y) <= _FP8_TOP for y in scaled):
            broken.append("a scaled weight that is not a whole number within ±448")
        if not any(abs(y) > 256 and toward_zero(y, grid) != nearest(y, grid) for y in scaled):
            broken.append("no value above 256 that rounds away from zero")
    return broken


# --- named mistakes ---------------------------------------------------------------------------

def _exact_of(sol, step_id: str):
    """A step's values; a per-block step's as one flat tuple."""
    exact = sol.step(step_id).exact
    return tuple(row[0] for row in exact) if step_id in PER_BLOCK else exact


def _column(values) -> tuple:
    """A per-block step's shape: one box per block, (1, 2) -> ((1,), (2,))."""
    return tuple((v,) for v in values)


def _q_mistake(sol, rule) -> list[dict]:
    """q rounded by `rule` instead, where that changes it."""
    q = tuple(tuple(Rational(*_pair(rule(Fraction(int(y.p), int(y.q))))) for y in row)
              for row in _exact_of(sol, "scaled"))
    return [{"q": q}] if q != _exact_of(sol, "q") else []


def _pair(x: Fraction) -> tuple[int, int]:
    return x.numerator, x.denominator


def _grid(sol):
    return E2M1 if sol.spec["format"] == "mxfp4" else E4M3


def _away(sol):
    """A tie rounded away from zero (as at school) instead of to the even mantissa."""
    return _q_mistake(sol, lambda y: nearest(y, _grid(sol), "away"))


def _whole(sol):
    """Rounded to the nearest whole number (half to even, as for INT4/INT8) instead of to the
    nearest value of the format; FP4 clipped to ±6 still."""
    top = _grid(sol)[-1]
    return _q_mistake(sol, lambda y: max(min(Fraction(round(y)), top), -top))


def _no_clamp(sol):
    """MXFP4: V / X past 6 rounded as if E2M1 went on (7 -> 8) instead of clamped to 6."""
    return _q_mistake(sol, unbounded_fp4) if sol.spec["format"] == "mxfp4" else []


def _truncated(sol):
    """FP8: the neighbour nearer 0 taken (truncation) instead of the nearer neighbour."""
    return _q_mistake(sol, lambda y: toward_zero(y, E4M3)) if sol.spec["format"] != "mxfp4" else []


def _ceil_log2(sol):
    """MXFP4: ⌈log2 amax⌉ instead of ⌊log2 amax⌋, and the scale from it."""
    if sol.spec["format"] != "mxfp4":
        return []
    k = tuple(Integer(ceil_log2(Fraction(int(a.p), int(a.q)))) for a in _exact_of(sol, "amax"))
    if k == _exact_of(sol, "exponent"):
        return []
    return [{"exponent": _column(k)}, {"scale": _column(Integer(2) ** (e - 2) for e in k)}]


def _without_minus_two(sol):
    """MXFP4: X = 2^⌊log2 amax⌋, the largest E2M1 exponent (2) not taken off."""
    if sol.spec["format"] != "mxfp4":
        return []
    return [{"scale": _column(Integer(2) ** e for e in _exact_of(sol, "exponent"))}]


def _no_bias(sol):
    """MXFP4: the E8M0 byte without its bias 127 (the exponent of X itself)."""
    if sol.spec["format"] != "mxfp4":
        return []
    return [{"e8m0": _column(e - 2 for e in _exact_of(sol, "exponent"))}]


def _no_448(sol):
    """FP8: s = amax instead of amax / 448 (the division by 448 forgotten)."""
    if sol.spec["format"] == "mxfp4":
        return []
    return [{"scale": _column(_exact_of(sol, "amax"))}]


def _multiplied(sol):
    """V · X (or w · s) instead of V / X."""
    V = _rows(sol.problem.values())
    scale = _exact_of(sol, "scale")
    return [{"scaled": tuple(tuple(v * x for v in row) for row, x in zip(V, scale))}]


def _bits_without_scale(sol):
    """Bits per parameter without the scale: the element's bits alone."""
    b = Integer(FORMATS[sol.spec["format"]].bits)
    return [{"bits": (b, b)}]


def _error_flipped(sol):
    """The error the other way round: ŵ − V instead of V − ŵ."""
    return [{"error": tuple(tuple(-e for e in row) for row in _exact_of(sol, "error"))}]


MISTAKES = (
    ("the scale from ⌈log2 amax⌉ instead of ⌊log2 amax⌋", _ceil_log2),
    ("the scale without the − 2: X = 2^⌊log2 amax⌋ (amax / X then lands below 2, wasting FP4's range)",
     _without_minus_two),
    ("the E8M0 byte without its bias 127", _no_bias),
    ("the division by 448 forgotten: s = amax instead of amax / 448", _no_448),
    ("multiplied by the scale instead of divided by it", _multiplied),
    ("a tie rounded away from zero instead of to the even mantissa", _away),
    ("rounded to a whole number (as for INT4/INT8) instead of to the nearest value of the format", _whole),
    ("no clamp: past 6 rounded on as if FP4 went up to 8, instead of clamped to ±6", _no_clamp),
    ("cut toward zero (the smaller neighbour in size) instead of rounded to the nearer neighbour", _truncated),
    ("bits per parameter without the scale's bits", _bits_without_scale),
    ("the error the other way round: ŵ − w instead of w − ŵ", _error_flipped),
)


# --- the exercise's declaration (kinds/protocol.py) ------------------------------------------

TITLE = "Microscaling and FP8"
PARAMS = (
    Param("format", "number format: MXFP4 (OCP MX, gpt-oss) or FP8 E4M3 with block scales (DeepSeek-V3)",
          "mxfp4", choices=("mxfp4", "fp8-e4m3")),
    Param("blocks", "blocks, each with its own scale", 2, 1, 3),
    Param("values", "values per block (hand-sized: real blocks hold 32, or 128 × 128 for FP8)", 8, 4, 8),
)
SLOTS = ((12, ()),)
