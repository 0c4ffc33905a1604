"""The microscaling sheet: its title, conventions, hand-work line and boards.

Step 1 the scale of every block (beside the given values), step 2 every value of each block in a
column (scaled, [FP8: its two neighbours], rounded, dequantised, error), step 3 the bits per
parameter with the scale, step 4 a real model's expert weights in GB. Every box is there whatever
the answers (edition 3's answer-free worksheet). Leaves out: the arithmetic (microscaling.py) and
the worked solution (microscaling_working.py).
"""

from dataclasses import replace
from fractions import Fraction

from sympy import Rational

from workbook.formatting import decimal2
from workbook.layout import Board, Cell, Grid, labels

_PLACES = 4  # a value whose decimal ends within 4 places is written as that decimal


def decimal(value) -> str:
    """A value as the sheet writes it, where its decimal ends: 13/8 -> '1.625', −7 -> '−7'."""
    value = Rational(value.numerator, value.denominator) if isinstance(value, Fraction) else value
    k = next((k for k in range(_PLACES + 1) if (value * 10**k).is_Integer), None)
    if k is None:
        raise ValueError(f"{value} has no short decimal")
    return decimal2(value, k).replace("-", "−")


def answer(value, ref: str, approx: bool = False) -> Cell:
    """A box: the decimal where it ends within 4 places ('1.625'); else the fraction over its
    2-place decimal ('16/3', '5.33'), or with `approx` the decimal alone ('≈57.33')."""
    try:
        return Cell(answer=decimal(value), blank=True, wide=True, ref=ref, value=value)
    except ValueError:
        dec = decimal2(value, 2).replace("-", "−")
        text = "≈" + dec if approx else f"{value.p}/{value.q}".replace("-", "−")
        return Cell(answer=text, decimal="" if approx else dec, blank=True, wide=True, ref=ref, value=value)


def _fmt(spec):
    from workbook.kinds.microscaling import FORMATS
    return FORMATS[spec["format"]]


def title(spec) -> str:
    B, n, f = spec["blocks"], spec["values"], _fmt(spec)
    many = "s" if B > 1 else ""
    if spec["format"] == "mxfp4":
        return f"MXFP4 by hand: {B} block{many} of {n} values, gpt-oss-120b's experts"
    return f"FP8 E4M3 by hand: {B} block{many} of {n} weights, {f.model.name}'s experts"


def conventions(sol) -> tuple[str, ...]:
    spec, f = sol.spec, _fmt(sol.spec)
    n, model = spec["values"], f.model
    where = (f"{model.name} ({model.parameters:,} parameters counted): {model.what}. GB = 10⁹ bytes; "
             "bf16 (16 bits each) for comparison.")
    last = "Answers: exact decimals; bits to 2 places where they do not end; GB to 2 places (≈). Indices start at 1."
    if spec["format"] == "mxfp4":
        return ("MXFP4 (OCP Microscaling v1.0): a block of values shares one scale X, a power of two stored as an "
                "E8M0 byte (8 exponent bits, bias 127, no sign, no mantissa: byte = log2 X + 127); each value is "
                "an FP4 E2M1 number (1 sign, 2 exponent, 1 mantissa bit). gpt-oss stores its MoE expert weights "
                "this way.",
                "FP4 E2M1 values: ±{0, 0.5, 1, 1.5, 2, 3, 4, 6} (0.5 is its one subnormal; 6 = 1.5 · 2² the "
                "largest). Even mantissa: 0, 1, 2, 4; odd: 0.5, 1.5, 3, 6.",
                "Scale: X = 2^(⌊log2 amax⌋ − 2), amax = max|V| of the block; 2 is the largest exponent of E2M1, "
                "so amax / X lies in [4, 8).",
                "Each value: V / X rounded to the nearest FP4 value, a tie to the even mantissa (0.25 → 0, "
                "1.25 → 1, 2.5 → 2, 5 → 4, and 1.75 → 2, 3.5 → 4); beyond 6 clamped to ±6 (7 → 6). Dequantised "
                "ŵ = q · X; error = V − ŵ.",
                f"Memory: 4 bits per value + the block's 8-bit scale: 4 + 8 / block bits per parameter. Real "
                f"MXFP4 blocks hold 32 values; the sheet's blocks of {n} are hand-sized.",
                where, last)
    return ("FP8 E4M3, the \"fn\" variant (OCP FP8): 1 sign, 4 exponent bits (bias 7), 3 mantissa bits; no "
            "infinities and S.1111.111 is NaN, so the largest value is 1.75 · 2⁸ = 448. Normal values "
            "(1 + m/8) · 2^(e − 7) reach down to 2⁻⁶; subnormals (m/8) · 2⁻⁶ lie below.",
            "From 2^k up to 2^(k+1) the values are 2^(k−3) apart (see the table in Step 2): every whole number "
            "below 16 is one; 256, 288, ..., 448 are 32 apart.",
            "Per-block scaling as in DeepSeek-V3 (report section 3.3): each 128 × 128 block of a weight matrix "
            "gets s = amax / 448 (amax = max|w| of the block), so its largest |w| lands on 448; activations are "
            f"scaled per 1 × 128 tile. The sheet's blocks of {n} weights stand in for a real block's 16,384.",
            "y = w / s; its neighbours are the E4M3 values just below and just above it (both y itself when y "
            "is one); q = the nearer, a tie to the even mantissa (272, halfway between 256 = 1.000 · 2⁸ and "
            "288 = 1.001 · 2⁸, → 256). Dequantised ŵ = q · s; error = w − ŵ.",
            "Memory: 8 bits per weight + the block's scale (DeepSeek-V3 keeps it as a 32-bit float): "
            "8 + 32 / block bits per parameter.",
            where, last)


def hand_work(sol) -> str:
    B, n = sol.spec["blocks"], sol.spec["values"]
    per = B * n
    if sol.spec["format"] == "mxfp4":
        return (f"Hand work: {B} maxima, {B} powers of two, {per} divisions by X, {per} roundings, {per} "
                f"multiplications and {per} subtractions, 2 bit counts, 4 memory figures.")
    return (f"Hand work: {B} maxima, {B} divisions by 448, {per} divisions by s, {2 * per} neighbours, {per} "
            f"roundings, {per} multiplications and {per} subtractions, 2 bit counts, 4 memory figures.")


_ROWS = {"mxfp4": (("scaled", "V / X"), ("q", "q (FP4)"), ("w_hat", "ŵ = q · X"), ("error", "V − ŵ")),
         "fp8-e4m3": (("scaled", "y = w / s"), ("lower", "below"), ("upper", "above"), ("q", "q (FP8)"),
                      ("w_hat", "ŵ = q · s"), ("error", "w − ŵ"))}
_SPACING = ((1, "0.125"), (2, "0.25"), (4, "0.5"), (8, "1"), (16, "2"), (32, "4"), (64, "8"), (128, "16"), (256, "32"))


def _real(f) -> str:
    """'32'; '128 × 128 = 16,384'."""
    return f.real_label if f.real_label == str(f.real_block) else f"{f.real_label} = {f.real_block:,}"


def _per_expert(model) -> str:
    """'3 × 7168 × 2048'; '(2880 × 5760 + 2880 × 2880)'."""
    shapes = [f"{r} × {c}" for r, c in model.matrices]
    if len(set(shapes)) == 1:
        return f"{len(shapes)} × {shapes[0]}" if len(shapes) > 1 else shapes[0]
    return "(" + " + ".join(shapes) + ")"


def layout(sol) -> list:
    p, s, spec, f = sol.problem, sol.step, sol.spec, _fmt(sol.spec)
    fmt, B, n = spec["format"], spec["blocks"], spec["values"]
    mx = fmt == "mxfp4"
    sym, blocks, cols = ("V" if mx else "w"), labels("B", B), labels("", n)
    values = p.values()
    given = Grid(f"{sym} (given)", tuple(tuple(Cell(given=decimal(v), wide=True) for v in row) for row in values),
                 blocks, cols)
    ids = ("amax", "exponent", "scale", "e8m0") if mx else ("amax", "scale")
    heads = ("amax", "k", "X", "E8M0") if mx else ("amax", "s")
    per_block = Grid("per block", tuple(tuple(answer(s(i).exact[b][0], f"{i}[{b + 1}][1]") for i in ids) for b in range(B)),
                     blocks, heads)
    sections = [("The scale of each block", " ".join(s(i).instruction for i in ids),
                 [Board(((given,), (per_block,)))])]

    boards = []
    if not mx:
        spacing = Grid("E4M3 values from 2^k to 2^(k+1), 448 at most (given)",
                       (tuple(Cell(given=str(a), wide=True) for a, _ in _SPACING),
                        tuple(Cell(given=d, wide=True) for _, d in _SPACING)),
                       ("from", "apart"), ())
        boards.append(Board(((spacing,),)))
    for b in range(B):
        names = tuple(name for _, name in _ROWS[fmt])
        own = Grid(f"{sym} (given)", (tuple(Cell(given=decimal(v), wide=True) for v in values[b]),),
                   (sym.rjust(max(map(len, names))),), cols)  # as wide a label column as the grid below
        work = Grid("each value", tuple(tuple(answer(s(i).exact[b][j], f"{i}[{b + 1}][{j + 1}]") for j in range(n))
                                             for i, _ in _ROWS[fmt]), names, cols)
        boards.append(Board(((own,), (work,)), f"Block B{b + 1}: {'X' if mx else 's'} from Step 1"))
    ids = [i for i, _ in _ROWS[fmt]]
    sections.append((f"Each value to {f.element}", " ".join(s(i).instruction for i in ids) + " Watch for ties.",
                     boards))

    bits = s("bits").exact
    sections.append(("Memory per parameter, with the scale",
                     s("bits").instruction + f" The sheet's block holds {n} values; a real one {_real(f)}.",
                     [Board(((Grid("bits per parameter", ((answer(bits[0], "bits[1]"), answer(bits[1], "bits[2]")),),
                                   (), (f"{n} values", f.real_label)),),))]))
    gb = s("model_gb").exact
    heads = ("values", "scales", "in all", "bf16")
    sections.append((f"{f.model.name}'s expert weights in {f.name}",
                     f"{f.model.layers} layers × {f.model.experts} experts × {_per_expert(f.model)}"
                     + f" = {f.model.parameters:,} weights in {f.name}, one {f.scale_bits}-bit scale per block of "
                     f"{f.real_label}: the values' GB, the scales' GB, both together, and the same weights in bf16 (16 bits). "
                     + s("model_gb").instruction,
                     [Board(((Grid("GB", (tuple(replace(answer(v, f"model_gb[{j + 1}]", approx=True), wide=2)
                                          for j, v in enumerate(gb)),),
                                   (), heads),),))]))
    return sections
