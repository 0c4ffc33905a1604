"""The microscaling sheet's worked solution, in the variant's own numbers.

Every block's amax, exponent, scale (and E8M0 byte); for each block its first value and every
value worth a word (a tie, a clamp, a value between the coarse steps, FP8's step-32 values)
followed through the scaling, the rounding (a claim with its reason), ŵ and the error; the bits
per parameter and the model's GB. Leaves out: the arithmetic (microscaling.py) and the sheet.
"""

from fractions import Fraction

from sympy import Rational

from workbook.kinds.microscaling_formats import E2M1, E4M3, nearest, neighbours
from workbook.working import Line, Term, Working, claim, reason


def _fr(v) -> Fraction:
    return Fraction(int(v.p), int(v.q))


def _d(v) -> str:
    from workbook.kinds.microscaling_sheet import decimal
    return decimal(v)


def _src(v) -> str:
    v = Rational(v)
    return f"({v.p}/{v.q})" if v.q != 1 else f"({v.p})"


def _factor(v) -> str:
    """A value as a factor: a negative one in parentheses."""
    text = _d(v)
    return f"({text})" if text.startswith("−") else text


def _line(label: str, text: str, src: str, value, cells) -> Line:
    """'label = text = value', the middle left out when it reads as the value."""
    shown = _d(value)
    middle = "" if text == shown else f" = {text}"
    return Line(f"{label}{middle} = {shown}", src, value, tuple(cells))


def _notable(sol, b: int) -> list[int]:
    """The boxes of block b the working shows: the first, and every one worth a word."""
    mx = sol.spec["format"] == "mxfp4"
    grid = E2M1 if mx else E4M3
    out = [0]
    for j, y in enumerate(sol.step("scaled").exact[b]):
        a = abs(_fr(y))
        low, high = neighbours(a, grid)
        tie = low != high and a - low == high - a
        if tie or (mx and (a > 6 or 4 < a < 6)) or (not mx and a > 256 and low != high):
            out.append(j)
    return sorted(set(out))


def working(sol) -> list[Working]:
    from workbook.kinds.microscaling import FORMATS
    from workbook.kinds.microscaling import _exact_of
    spec, ex = sol.spec, lambda i: _exact_of(sol, i)  # a per-block step's values flat: one per block
    mx, f, n = spec["format"] == "mxfp4", FORMATS[spec["format"]], spec["values"]
    V = sol.problem.values()
    sym, sc = ("V", "X") if mx else ("w", "s")
    out = []
    amax = []
    for b, row in enumerate(V):
        j = max(range(len(row)), key=lambda i: abs(row[i]))
        v = Rational(row[j].numerator, row[j].denominator)
        amax.append(_line(f"B{b + 1}: max|{sym}| = |{sym}[{j + 1}]|", f"|{_d(v)}|", f"Abs({_src(v)})",
                          ex("amax")[b], [f"amax[{b + 1}][1]"]))
    out.append(Working("amax", f"The largest |{sym}| of a block sets its scale: it is the one value that must "
                       "still fit after scaling.", tuple(amax)))
    if mx:
        k = ex("exponent")
        out.append(Working("exponent", "The power of two at or below amax: its exponent is ⌊log2 amax⌋.", tuple(
            claim(f"B{b + 1}: 2^{k[b]} = {_d(Rational(2) ** k[b])} ≤ {_d(a)} < {_d(Rational(2) ** (k[b] + 1))} = "
                  f"2^{k[b] + 1}, so ⌊log2 amax⌋ = {k[b]}", k[b], [f"exponent[{b + 1}][1]"])
            for b, a in enumerate(ex("amax")))))
        out.append(Working("scale", "X = 2^(⌊log2 amax⌋ − 2): E2M1's largest exponent is 2, so amax / X lands "
                           "in [4, 8), at the top of FP4's range (values past 6 are clamped).", tuple(
            _line(f"B{b + 1}: X = 2^({k[b]} − 2)", f"2^{k[b] - 2}", f"2**({k[b]} - 2)", x, [f"scale[{b + 1}][1]"])
            for b, x in enumerate(ex("scale")))))
        out.append(Working("e8m0", "E8M0 stores only the exponent of X, biased by 127 (no sign, no mantissa).",
                           tuple(Line(f"B{b + 1}: byte = ({k[b]} − 2) + 127 = {byte}", f"({k[b]} - 2) + 127", byte,
                                      (f"e8m0[{b + 1}][1]",)) for b, byte in enumerate(ex("e8m0")))))
    else:
        out.append(Working("scale", "s = amax / 448 puts the block's largest |w| on 448, the largest E4M3 value: "
                           "the whole range is used and nothing overflows.", tuple(
            _line(f"B{b + 1}: s = amax / 448", f"{_d(a)} / 448", f"{_src(a)}/448", ex("scale")[b], [f"scale[{b + 1}][1]"])
            for b, a in enumerate(ex("amax")))))
    rows = {i: [] for i in ("scaled", "lower", "upper", "q", "w_hat", "error")}
    grid = E2M1 if mx else E4M3
    for b, row in enumerate(V):
        x = ex("scale")[b]
        for j in _notable(sol, b):
            v = Rational(row[j].numerator, row[j].denominator)
            y, q, h, e = ex("scaled")[b][j], ex("q")[b][j], ex("w_hat")[b][j], ex("error")[b][j]
            at, cell = f"B{b + 1}[{j + 1}]", f"[{b + 1}][{j + 1}]"
            rows["scaled"].append(_line(f"{at}: {sym} / {sc}", f"{_d(v)} / {_d(x)}", f"{_src(v)}/{_src(x)}", y,
                                        [f"scaled{cell}"]))
            if not mx:
                low, high = ex("lower")[b][j], ex("upper")[b][j]
                if low == high:
                    rows["lower"].append(claim(f"{at}: y = {_d(y)} is itself an E4M3 value: below it, {_d(low)}",
                                               low, [f"lower{cell}"]))
                    rows["upper"].append(claim(f"{at}: and above it, {_d(high)}", high, [f"upper{cell}"]))
                else:
                    rows["lower"].append(claim(f"{at}: {_spacing(y)}: below y = {_d(y)} lies {_d(low)}", low,
                                               [f"lower{cell}"]))
                    rows["upper"].append(claim(f"{at}: above y = {_d(y)} lies {_d(high)}", high, [f"upper{cell}"]))
            rows["q"].append(claim(f"{at}: q = nearest to {_d(y)} = {_d(q)}", q, [f"q{cell}"]))
            why = _why(_fr(y), grid, mx)
            if why:
                rows["q"].append(reason(f"{at}: {why}"))
            rows["w_hat"].append(_line(f"{at}: ŵ = q · {sc}", f"{_factor(q)}·{_factor(x)}", f"{_src(q)}*{_src(x)}", h,
                                       [f"w_hat{cell}"]))
            rows["error"].append(_line(f"{at}: error = {sym} − ŵ", f"{_d(v)} − {_factor(h)}", f"{_src(v)} - {_src(h)}",
                                       e, [f"error{cell}"]))
    meaning = {"scaled": f"Dividing by the scale brings the block into the format's range: {sym} / {sc}.",
               "lower": "Between 2^k and 2^(k+1), E4M3 has 8 values, 2^(k−3) apart: the value just below y.",
               "upper": "... and the value just above it (y itself when y is one).",
               "q": "The nearer of the two; a tie goes to the even mantissa (the value whose last bit is 0)"
                    + (", and past 6 the value is clamped to 6." if mx else "."),
               "w_hat": f"Dequantising multiplies the code back by the scale: the weight the model computes with.",
               "error": "What rounding lost; at most half the spacing there times the scale (more when clamped)."}
    for i in ("scaled",) + (() if mx else ("lower", "upper")) + ("q", "w_hat", "error"):
        out.append(Working(i, meaning[i], tuple(rows[i])))
    bits = ex("bits")
    out.append(Working("bits", f"Each value takes {f.bits} bits; the block's {f.scale_bits}-bit scale is shared by "
                       "all its values, so a larger block costs less per parameter.", (
        Line(f"block of {n}: {f.bits} + {f.scale_bits} / {n} = {_shown(bits[0])}", f"{f.bits} + {f.scale_bits}/{n}",
             bits[0], ("bits[1]",)),
        Line(f"block of {f.real_label} = {f.real_block:,}: {f.bits} + {f.scale_bits} / {f.real_block:,} = "
             f"{_shown(bits[1])}", f"{f.bits} + {f.scale_bits}/{f.real_block}", bits[1], ("bits[2]",)))))
    N, gb = f.model.parameters, ex("model_gb")
    out.append(Working("model_gb", f"All {N:,} counted weights are stored, whichever experts a token uses.", (
        Line(f"values: {N:,} · {f.bits} / 8 / 10⁹ = {_shown(gb[0])}", f"{N}*{f.bits}/8/10**9", gb[0], ("model_gb[1]",)),
        Line(f"scales: {N:,} / {f.real_block:,} · {f.scale_bits // 8} / 10⁹ = {_shown(gb[1])}",
             f"{N}/{f.real_block}*{f.scale_bits // 8}/10**9", gb[1], ("model_gb[2]",)),
        Line(f"in all: {_shown(gb[0])} + {_shown(gb[1])} = {_shown(gb[2])}", f"{_src(gb[0])} + {_src(gb[1])}", gb[2],
             ("model_gb[3]",)),
        Line(f"bf16: {N:,} · 2 / 10⁹ = {_shown(gb[3])}", f"{N}*2/10**9", gb[3], ("model_gb[4]",)),
        reason(f"{f.name} takes {_shown(gb[2] / gb[3] * 100)} % of bf16's bytes."))))
    return out


def _shown(v) -> str:
    """'60.9140736 ≈ 60.91'; '16/3 ≈ 5.33'; '4.25'."""
    from workbook.formatting import decimal2
    try:
        text = _d(v)
        return text if len(text.split(".")[-1]) <= 2 or "." not in text else f"{text} ≈ {decimal2(v, 2)}"
    except ValueError:
        exact = f"{v.p}/{v.q}"
        k = next((k for k in range(12) if (v * 10**k).is_Integer), None)
        if k is not None:
            exact = decimal2(v, k)
        return f"{exact} ≈ {decimal2(v, 2)}"


def _spacing(y) -> str:
    """'256 ≤ |y| < 512, spacing 32'."""
    a = abs(_fr(y))
    if a < Fraction(1, 64):
        return "below 2⁻⁶ (subnormal), spacing 2⁻⁹"
    k = a.numerator.bit_length() - a.denominator.bit_length()
    k = k if Fraction(2) ** k <= a else k - 1
    return f"{_d(Rational(2) ** k)} ≤ |y| < {_d(Rational(2) ** (k + 1))}, spacing {_d(Rational(2) ** (k - 3))}"


def _why(y: Fraction, grid: tuple, mx: bool) -> str:
    """Why a rounding comes out as it does, when it is worth a word."""
    a = abs(y)
    if mx and a > 6:
        return f"|{_d(Rational(a.numerator, a.denominator))}| is past 6, the largest FP4 value: clamped to ±6."
    low, high = neighbours(a, grid)
    if low == high:
        return ""
    q = nearest(a, grid)
    text = lambda v: _d(Rational(v.numerator, v.denominator))  # noqa: E731
    if a - low == high - a:
        away = nearest(a, grid, "away")
        other = "" if away == q else f" (away from zero would give {text(away)})"
        return (f"a tie, halfway between {text(low)} and {text(high)}: {text(q)} has the even mantissa{other}; "
                "the sign stays.")
    if mx and 4 < a < 6:
        return f"between the coarse steps 4 and 6 (2 apart): {text(q)} is nearer."
    return f"{text(q)} is nearer ({text(a - low)} from {text(low)}, {text(high - a)} from {text(high)})."
