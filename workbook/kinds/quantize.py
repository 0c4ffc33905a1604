"""Symmetric absmax quantisation of small expert matrices (INT8, INT4) and a whole model's memory.

Each expert's matrix W_e (one-decimal weights) gets its own scale = max|w| / q_max (127 for INT8,
7 for INT4); the learner finds x = w / scale, q = round(x) half to even (clipped to ±q_max, which
absmax never needs), ŵ = q · scale, the error w − ŵ and its largest size per expert, then a whole
model's weights (Mixtral 8x7B or DeepSeek-V3) in GB at 16, 8 and 4 bits and what each saves.
Every max|w| is a multiple of 0.7, so the INT4 scales are 0.2 to 0.5, and one weight is planted on
a tie where half to even differs from school rounding (INT4: x = 2.5 -> 2; INT8 alone can only tie
at ±63.5, so there x = −63.5 -> −64, where rounding half up gives −63). Leaves out: zero points
(asymmetric), per-channel and per-group scales, the scales' own bytes, activations and KV cache.
"""

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy
from sympy import Rational

from workbook.errors import GenerationError, SpecError
from workbook.formatting import decimal2, tenths
from workbook.kinds.model_configs import computed, load
from workbook.kinds.quantize_working import working  # noqa: F401
from workbook.layout import Board, Cell, Grid, answer_free, labels
from workbook.problem import Matrix, Step, as_matrix
from workbook.spec import Param

QMAX = {"int8": 127, "int4": 7}
# Mixtral's count comes from its configuration (models/mixtral-8x7b.toml, model_configs); DeepSeek-V3's
# is the published, rounded 671B, which the codes printed with it keep (the sheet says what its
# configuration gives: 671,026,404,352, the sizing-deepseek-v3 sheet's count).
PARAMETERS = {"mixtral-8x7b": int(computed(load("mixtral-8x7b"))["total"]), "deepseek-v3": 671 * 10 ** 9}
_MODELS = {"mixtral-8x7b": ("Mixtral 8x7B", "from its config, both embedding matrices counted"),
           "deepseek-v3": ("DeepSeek-V3", "671B in all as published, rounded: its config.json gives "
                           f"{int(computed(load('deepseek-v3'))['total']):,} without the MTP module, as the "
                           "sizing-deepseek-v3 sheet counts it; 37B active per token")}
BITS = (16, 8, 4)
_ABSMAX = (14, 21, 28, 35)                          # tenths: INT4 scales 0.2, 0.3, 0.4, 0.5
_TIES = {14: (1, 5, 9, 13), 28: (2, 10, 18, 26)}    # tenths with w · 7 / max|w| = 0.5, 2.5, 4.5, 6.5
_PLACES = {"scale_int8": 6, "w_hat_int8": 4, "error_int8": 4, "max_error_int8": 4}
_TRIES = 500
_PAGE_MM = 184


@dataclass(frozen=True)
class QuantizeProblem:
    """One matrix per expert, in tenths: 13 means w = 1.3."""

    W: tuple[Matrix, ...]

    def inputs(self) -> dict:
        return {"W": [[[v / 10 for v in row] for row in m] for m in self.W]}


def formats(spec) -> tuple[str, ...]:
    """'both' -> ('int8', 'int4'); 'int4' -> ('int4',)."""
    return ("int8", "int4") if spec["bits"] == "both" else (spec["bits"],)


def generate(spec) -> QuantizeProblem:
    """Seeded: absmax values not all equal, a planted tie, both signs, and every expert with some
    rounding error in every format (with both, INT4's largest error above INT8's in every expert)."""
    E, r, c = spec["experts"], spec["rows"], spec["cols"]
    if r * c < 2:
        raise GenerationError("could not build a hand-friendly quantize problem with 1 × 1 matrices: the "
                              "only weight is its own absmax, so nothing rounds; use rows × cols >= 2")
    rng = np.random.default_rng(spec.seed)
    for _ in range(_TRIES):
        tops = [int(m) for m in rng.choice(_ABSMAX, size=E)]
        if (E > 1 and len(set(tops)) == 1) or not set(tops) & set(_TIES):
            continue
        tied = rng.choice([e for e in range(E) if tops[e] in _TIES])
        problem = QuantizeProblem(tuple(as_matrix(_matrix(rng, m, r, c, spec["bits"] if e == tied else None))
                                        for e, m in enumerate(tops)))
        f, a = forward(spec, problem), np.array(problem.W)
        errors = [f[f"max_error_{fmt}"] for fmt in formats(spec)]
        int4_worse = len(errors) == 1 or (errors[1] > errors[0]).all()
        if a.min() < 0 < a.max() and all(e.min() > 1e-12 for e in errors) and int4_worse:
            return problem
    raise GenerationError(f"could not build a hand-friendly quantize problem with {E} experts of {r} × {c}")


def _matrix(rng, m: int, r: int, c: int, tie) -> np.ndarray:
    """r x c weights in −m..m tenths, one of them ±m; `tie` plants, elsewhere, an INT4 tie (m 14:
    ±5 -> x = ±2.5) or, for 'int8' alone, −m/2 (x = −63.5)."""
    a = rng.integers(-m, m + 1, size=r * c)
    place = rng.permutation(r * c)
    a[place[0]] = m * rng.choice((-1, 1))
    if tie is not None:
        a[place[1]] = -m // 2 if tie == "int8" else rng.choice(_TIES[m]) * rng.choice((-1, 1))
    return a.reshape(r, c)


def round_half_even(x):
    """Nearest integer, a tie to the even one: 5/2 -> 2, 7/2 -> 4, −1/2 -> 0, 381/14 -> 27."""
    low = sympy.floor(x)
    rest = x - low
    return low + (1 if rest > Rational(1, 2) or (rest == Rational(1, 2) and low % 2) else 0)


def _each(mats, f):
    """f(e, value) over every entry of every expert's matrix, keeping the shape."""
    return tuple(tuple(tuple(f(e, v) for v in row) for row in m) for e, m in enumerate(mats))


def steps(spec, problem: QuantizeProblem):
    W = _each(problem.W, lambda e, a: Rational(a, 10))
    top = tuple(max(abs(w) for row in m for w in row) for m in W)
    yield Step("absmax", "Absmax per expert", "max|w| over all the weights of each expert's matrix.", top)
    for fmt in formats(spec):
        qmax, name = QMAX[fmt], fmt.upper()
        scale = tuple(m / qmax for m in top)
        yield Step(f"scale_{fmt}", f"{name} scale", f"scale = max|w| / {qmax}, one per expert.", scale)
        x = _each(W, lambda e, w: w / scale[e])
        yield Step(f"x_{fmt}", f"w / scale ({name})", f"x = w / scale = w · {qmax} / max|w|.", x)
        q = _each(x, lambda e, v: min(max(round_half_even(v), -qmax), qmax))
        yield Step(f"q_{fmt}", f"{name} codes q", f"q = round(x), a tie to the even integer, clipped to ±{qmax}.", q)
        w_hat = _each(q, lambda e, v: v * scale[e])
        yield Step(f"w_hat_{fmt}", f"Dequantised ŵ ({name})", "ŵ = q · scale.", w_hat)
        error = tuple(tuple(tuple(a - b for a, b in zip(*rows)) for rows in zip(*ms)) for ms in zip(W, w_hat))
        yield Step(f"error_{fmt}", f"Error ({name})", "error = w − ŵ.", error)
        yield Step(f"max_error_{fmt}", f"Largest |error| ({name})",
                   "The largest |w − ŵ| of each expert: never more than scale / 2.",
                   tuple(max(abs(v) for row in m for v in row) for m in error))
    n = PARAMETERS[spec["model"]]
    yield Step("memory_gb", "Weights in GB at 16, 8, 4 bits", "N × bits / 8 bytes, in GB (10⁹ bytes).",
               tuple(Rational(n * b, 8 * 10**9) for b in BITS))
    yield Step("saved_gb", "Saved against 16 bits", "N × (16 − bits) / 8 bytes, in GB, at 8 and at 4 bits.",
               tuple(Rational(n * (16 - b), 8 * 10**9) for b in BITS[1:]))


def forward(spec, problem: QuantizeProblem) -> dict:
    """As array code does it, on weights kept as integer tenths: in binary floats 0.1 / (1.4 / 7)
    is 0.5000000000000001 and would round up, while 1 · 7 / 14 is exactly 0.5."""
    A = np.array(problem.W, dtype=np.int64)
    M = np.abs(A).max(axis=(1, 2))
    out = {"absmax": M / 10}
    for fmt in formats(spec):
        qmax = QMAX[fmt]
        x = A * qmax / M[:, None, None]
        q = np.clip(np.round(x), -qmax, qmax)               # np.round: half to even
        scale = M / (10 * qmax)
        error = A / 10 - q * scale[:, None, None]
        out |= {f"scale_{fmt}": scale, f"x_{fmt}": x, f"q_{fmt}": q, f"w_hat_{fmt}": q * scale[:, None, None],
                f"error_{fmt}": error, f"max_error_{fmt}": np.abs(error).max(axis=(1, 2))}
    n, bits = PARAMETERS[spec["model"]], np.array(BITS, dtype=float)
    return out | {"memory_gb": n * bits / 8 / 1e9, "saved_gb": n * (16 - bits[1:]) / 8 / 1e9}


def title(spec) -> str:
    fmts = " and ".join(f.upper() for f in formats(spec))
    many = "s" if spec["experts"] > 1 else ""
    return (f"Quantising expert weights: {spec['experts']} expert{many} of {spec['rows']} × {spec['cols']}, "
            f"{fmts}, and the memory of {_MODELS[spec['model']][0]}")


def conventions(sol) -> tuple[str, ...]:
    fmts = formats(sol.spec)
    qmax = " and ".join(f"q_max = {QMAX[f]} for {f.upper()}" for f in fmts)
    unused = " and ".join(f"−{QMAX[f] + 1}" for f in fmts)
    model, source = _MODELS[sol.spec["model"]]
    return (f"Each expert's weight matrix W_e ({sol.spec['rows']} × {sol.spec['cols']}) is given to one decimal. "
            "Experts are quantised independently: one scale per expert matrix. Every index starts at 1.",
            f"Symmetric absmax: scale = max|w| / q_max, {qmax} (codes −q_max..q_max; {unused} unused).",
            "x = w / scale; q = round(x), clipped to [−q_max, q_max]: absmax never needs the clip, the largest "
            "|w| gives exactly ±q_max. Dequantised ŵ = q · scale; error = w − ŵ, at most scale / 2 in size.",
            "Rounding: half to even, as NumPy (np.round) and PyTorch (torch.round): a tie goes to the even "
            "neighbour, 0.5 → 0, 2.5 → 2, 3.5 → 4, −2.5 → −2, −63.5 → −64. Other values go to the nearest "
            "integer." + (" The exact value decides a tie: code that rounds the printed decimals in float32 or "
                          "float64 can land on the other side of a planted tie (0.1 is not exact in binary)."
                          if answer_free(sol.spec) else ""),
            f"Memory: all N parameters of {model} ({source}) at 16 bits (bf16, 2 bytes), 8 bits (1 byte)"
            " or 4 bits (½ byte); GB = 10⁹ bytes (not 2³⁰). Saved = N × (16 − bits) / 8 bytes. "
            "Scales are not counted (real INT4 keeps a 16-bit scale per 32 to 128 weights: +0.125 to 0.5 bit "
            "per weight); weights only, no activations or KV cache.",
            "Answers: exact; decimals for reading rounded half up, to 2 places"
            + (" (INT8 scale: 6; INT8 ŵ and errors: 4)" if "int8" in fmts else "")
            + "; GB to 2 places, ≈ where rounded.")


def hand_work(sol) -> str:
    E, n, f = sol.spec["experts"], sol.spec["rows"] * sol.spec["cols"], len(formats(sol.spec))
    return (f"Hand work: {E} maxima, {E * f} scales, {E * n * f} divisions with rounding, {E * n * f} "
            f"multiplications and as many subtractions, {E * f} largest errors, 5 memory figures.")


def _answer(value, ref: str, wide: bool = True, approx: bool = False) -> Cell:
    """Exact decimals where they end, 5/2 -> '2.5'; else the fraction over its decimal (places by
    step, _PLACES), 381/14 -> '381/14' over '27.21'; with approx only '≈93.41'."""
    places = _PLACES.get(ref.split("[")[0], 2)
    for k in range(places + 1):
        if (value * 10**k).is_Integer:
            return Cell(answer=decimal2(value, k).replace("-", "−"), blank=True, wide=wide, ref=ref)
    dec = decimal2(value, places).replace("-", "−")
    return Cell(answer="≈" + dec if approx else str(value).replace("-", "−"), decimal="" if approx else dec,
                blank=True, wide=wide, ref=ref)


def _given(name, matrix, wide: bool = False) -> Grid:
    """A given weight matrix; `wide` (answer-free sheets) gives −2.8 room clear of its lines."""
    return Grid(name, tuple(tuple(Cell(given=tenths(Rational(a, 10)), wide=wide) for a in row) for row in matrix),
                labels("", len(matrix)), labels("", len(matrix[0])))


def _boards(groups, caption="") -> list:
    """Panels left to right, each group on a new line, wrapped to the page width; a Board per line."""
    width = lambda g: 7.8 + len(g.cells[0]) * (9.3, 15.3, 24.3)[int(g.cells[0][-1].wide)] + 3  # mm
    lines = []
    for group in groups:
        lines.append([])
        for panel in group:
            if lines[-1] and sum(map(width, lines[-1])) + width(panel) > _PAGE_MM:
                lines.append([])
            lines[-1].append(panel)
    return [Board((tuple(line),), caption if i == 0 else "") for i, line in enumerate(lines)]


def layout(sol) -> list:
    p, s, spec = sol.problem, sol.step, sol.spec
    E, fmts = spec["experts"], formats(spec)
    exp_, given = labels("E", E), [_given(f"W{e + 1} (given)", p.W[e], answer_free(spec)) for e in range(E)]

    def per_expert(name, ids, heads):
        return Grid(name, tuple(tuple(_answer(s(i).exact[e], f"{i}[{e + 1}]") for i in ids) for e in range(E)),
                    exp_, heads)

    def matrix(name, step_id, e, wide):
        cells_ = tuple(tuple(_answer(v, f"{step_id}[{e + 1}][{i + 1}][{j + 1}]", wide) for j, v in enumerate(row))
                       for i, row in enumerate(s(step_id).exact[e]))
        return Grid(f"{name} (E{e + 1})", cells_, labels("", spec["rows"]), labels("", spec["cols"]))

    scale_ids = ("absmax",) + tuple(f"scale_{f}" for f in fmts)
    scales = per_expert("per expert", scale_ids, ("max|w|",) + tuple(f"{f.upper()} scale" for f in fmts))
    sections = [("Absmax and scale of each expert", " ".join(s(i).instruction for i in scale_ids),
                 _boards([given + [scales]]))]
    roomy = answer_free(spec)  # cells with room for −1911/1270 and −2.8 clear of their lines
    for f in fmts:
        wide, boards = f == "int8", []
        for e in range(E):
            boards += _boards([[given[e], matrix("x = w / scale", f"x_{f}", e, True), matrix("q", f"q_{f}", e, wide)],
                               [matrix("ŵ = q · scale", f"w_hat_{f}", e, (2 if wide else 1) if roomy else wide),
                                matrix("error w − ŵ", f"error_{f}", e, wide or roomy)]], f"Expert E{e + 1}")
        text = " ".join(s(i + f).instruction for i in ("x_", "q_", "w_hat_", "error_")) + " Watch for ties."
        sections.append((f"{f.upper()}: q_max = {QMAX[f]}", text, boards))
    errors = per_expert("largest |w − ŵ|", tuple(f"max_error_{f}" for f in fmts), tuple(f.upper() for f in fmts))
    sections.append(("The largest error of each expert", s(f"max_error_{fmts[0]}").instruction,
                     [Board(((errors,),))]))
    memory = tuple(Grid(s(i).title, (tuple(_answer(v, f"{i}[{j + 1}]", approx=True) for j, v in enumerate(s(i).exact)),),
                        (), heads) for i, heads in (("memory_gb", ("16-bit", "8-bit", "4-bit")),
                                                    ("saved_gb", ("8-bit", "4-bit"))))
    sections.append((f"Memory of the whole model: N = {PARAMETERS[spec['model']]:,} parameters",
                     s("memory_gb").instruction + " " + s("saved_gb").instruction, [Board((memory,))]))
    return sections


def _rounded_half_up(sol) -> list:
    """Quantisation: a tie (x = n + 1/2) rounded as at school instead of to the even neighbour as
    NumPy and PyTorch round: half up (−63.5 -> −63) or half away from zero (−2.5 -> −3, 2.5 -> 3),
    the two ways schools teach; each, per format, where it differs from the key."""
    def away(x):
        n = sympy.floor(abs(x) + sympy.Rational(1, 2))
        return n if x >= 0 else -n

    def up(x):
        return sympy.floor(x + sympy.Rational(1, 2))

    out = []
    for fmt in ("int8", "int4"):
        if f"x_{fmt}" not in sol.has:
            continue
        for school in (away, up):
            q = tuple(tuple(tuple(school(x) for x in row) for row in matrix) for matrix in sol.step(f"x_{fmt}").exact)
            if q != sol.step(f"q_{fmt}").exact and {f"q_{fmt}": q} not in out:
                out.append({f"q_{fmt}": q})
    return out


MISTAKES = (
    ("a tie rounded half up (away from zero) instead of to the even neighbour", _rounded_half_up),
)


# --- the exercise's declaration (kinds/protocol.py) ------------------------------------------

TITLE = "Quantising expert weights"
PARAMS = (
    Param("experts", "experts, each quantised with its own scale", 2, 1, 4),
    Param("rows", "rows of each expert's weight matrix", 2, 1, 4),
    Param("cols", "columns of each expert's weight matrix", 3, 1, 6),
    Param("bits", "target format", "both", choices=("int8", "int4", "both")),
    Param("model", "the whole model of the memory question", "mixtral-8x7b",
          choices=("mixtral-8x7b", "deepseek-v3")),
)
SLOTS = ((7, ()),)


def check(v: dict) -> None:
    """A 1 × 1 matrix has nothing to round."""
    if v["rows"] * v["cols"] < 2:
        raise SpecError("a 1 × 1 matrix has nothing to round (its only weight is its own max): "
                        "give rows × cols >= 2")


# --- carried errors: a step worked from the learner's own earlier numbers ---------------------

_CARRIED_MAX = 10**6          # beyond this (or a denominator beyond it) a box is no hand calculation
_QREF = re.compile(r"(\w+?)((?:\[\d+\])+)")


def _number(v):
    """A learner's box as a Fraction (a float stays a float), or None: not a number, or huge."""
    if isinstance(v, float):
        return v if abs(v) <= _CARRIED_MAX else None
    if isinstance(v, Fraction) and abs(v) <= _CARRIED_MAX and v.denominator <= _CARRIED_MAX:
        return Fraction(v)
    return None


def _mine(learner: dict, step_id: str) -> dict | None:
    """{(index, ...): number} of one step's boxes (1-based), None when a box of it is empty or not
    a number (or huge)."""
    out = {}
    for ref, v in learner.items():
        if not ref.startswith(step_id + "["):
            continue
        m = _QREF.fullmatch(ref)
        if not m or m.group(1) != step_id:
            continue
        n = _number(v)
        if n is None:
            return None
        out[tuple(int(i) for i in m.group(2)[1:-1].split("]["))] = n
    return out or None


def _exact(v) -> Fraction:
    """A float as the decimal it was written as (2.5 -> 5/2), for rounding."""
    return Fraction(str(v)) if isinstance(v, float) else v


def _round_even(x) -> int:
    low = x.numerator // x.denominator
    rest = x - low
    return low + (1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and low % 2) else 0)


def carried(sol, step_id: str, learner: dict):
    """(source step(s), {ref: value}) of `step_id` from the learner's own earlier numbers: the
    scales from their max|w|, x from their scale, q from their x (half to even, clipped), ŵ from
    their q and scale, the error from their ŵ, the largest error from their errors, and what is
    saved from their memory figures. None when the source is not filled in with numbers."""
    m = re.fullmatch(r"(scale|x|q|w_hat|error|max_error)_(int8|int4)", step_id)
    if step_id == "saved_gb":
        mem = _mine(learner, "memory_gb")
        if not mem or not all((j,) in mem for j in (1, 2, 3)):
            return None
        return "memory_gb", {f"saved_gb[{j}]": mem[(1,)] - mem[(j + 1,)] for j in (1, 2)}
    if not m or step_id not in sol.has:
        return None
    what, fmt = m.groups()
    qmax = QMAX[fmt]
    W = [[[Fraction(a, 10) for a in row] for row in mat] for mat in sol.problem.W]
    entries = [(e, i, j) for e, mat in enumerate(W) for i, row in enumerate(mat) for j in range(len(row))]
    ref = lambda e, i, j: f"{step_id}[{e + 1}][{i + 1}][{j + 1}]"
    if what == "scale":
        top = _mine(learner, "absmax")
        if not top:
            return None
        return "absmax", {f"{step_id}[{e}]": v / qmax for (e, *_), v in top.items()}
    if what == "x":
        scale = _mine(learner, f"scale_{fmt}")
        if not scale or any(v == 0 for v in scale.values()):
            return None
        return f"scale_{fmt}", {ref(e, i, j): W[e][i][j] / scale[(e + 1,)] for e, i, j in entries if (e + 1,) in scale}
    if what == "q":
        x = _mine(learner, f"x_{fmt}")
        if not x:
            return None
        return f"x_{fmt}", {f"{step_id}[{e}][{i}][{j}]": Fraction(min(max(_round_even(_exact(v)), -qmax), qmax))
                            for (e, i, j), v in x.items()}
    if what == "w_hat":
        q, scale = _mine(learner, f"q_{fmt}"), _mine(learner, f"scale_{fmt}")
        if not q or not scale:
            return None
        return (f"q_{fmt}", f"scale_{fmt}"), {f"{step_id}[{e}][{i}][{j}]": v * scale[(e,)]
                                              for (e, i, j), v in q.items() if (e,) in scale}
    if what == "error":
        w_hat = _mine(learner, f"w_hat_{fmt}")
        if not w_hat:
            return None
        return f"w_hat_{fmt}", {ref(e, i, j): W[e][i][j] - w_hat[(e + 1, i + 1, j + 1)]
                                for e, i, j in entries if (e + 1, i + 1, j + 1) in w_hat}
    error = _mine(learner, f"error_{fmt}")
    if not error:
        return None
    top: dict = {}
    for (e, *_), v in error.items():
        top[e] = max(top.get(e, 0), abs(v))
    return f"error_{fmt}", {f"{step_id}[{e}]": v for e, v in top.items()}
