"""The quantize sheet's worked solution: each expert's absmax, scale, codes and errors in its own numbers.

For every step: what it means, then the operation for every box of a small matrix (each row's
first box of a larger one), every scale, largest error and memory figure. A code q is a rounding:
sympy has no half-to-even function, so each q is a claim checked against its box, from x written
as the sheet writes it; every tie gets a reason line (the even neighbour, and what the other
rules would give) and is followed through ŵ and the error, where it reaches scale / 2. Values are
written as the sheet prints them: a decimal where it ends, else the fraction with its decimal.
The memory figures round half up to 2 places, in the expression too. Leaves out: the arithmetic
(quantize.py) and the sheet.
"""

import sympy
from sympy import Rational

from workbook.formatting import decimal2, tenths
from workbook.working import Line, Term, Working, claim, reason

_SMALL = 6  # a matrix of at most this many boxes is worked box by box; a larger one by each row's first box


def working(sol) -> list[Working]:
    from workbook.kinds.quantize import formats  # the kind module imports this one: import it when called
    out = [_absmax(sol)]
    for fmt in formats(sol.spec):
        out += _format(sol, fmt)
    return out + _memory(sol)


# --- how the sheet writes a value -----------------------------------------------------------

def _places(step_id: str) -> int:
    from workbook.kinds.quantize import _PLACES
    return _PLACES.get(step_id, 2)


def _decimal(value, places: int) -> str:
    return decimal2(value, places).replace("-", "−")


def _ends(value, places: int):
    """The fewest decimal places (up to `places`) at which the value ends, or None: 5/2 -> 1."""
    q = int(value.q)
    return next((k for k in range(places + 1) if 10 ** k % q == 0), None)


def _fraction(value) -> str:
    """'−1397/21', '7' (pretty() without sympy's printer: the working writes a few hundred of them)."""
    p, q = int(value.p), int(value.q)
    return ("−" if p < 0 else "") + str(abs(p)) + (f"/{q}" if q != 1 else "")


def _show(value, places: int = 2) -> str:
    """As the key's box: '2.5', '−0.1', '7'; a value that does not end within `places` as its
    fraction and decimal, '1397/21 ≈ 66.52'."""
    k = _ends(value, places)
    return _decimal(value, k) if k is not None else f"{_fraction(value)} ≈ {_decimal(value, places)}"


def _exact(value, places: int = 2) -> str:
    """A value inside an operation: its decimal where it ends, else its fraction: '0.3', '21/1270'."""
    k = _ends(value, places)
    return _decimal(value, k) if k is not None else _fraction(value)


def _term(value, places: int = 2, factor: bool = False) -> Term:
    """A value as a term; `factor`: a negative one or a fraction in parentheses ('(−5)', '(21/1270)')."""
    text = _exact(value, places)
    if factor and (text.startswith("−") or "/" in text):
        text = f"({text})"
    return Term(text, f"({value})")


def _line(label: str, term: Term, value, cells, places: int = 2) -> Line:
    """'label = term = value', the value as the sheet prints it; the term's middle left out when
    it reads as the value."""
    shown = _show(value, places)
    middle = "" if term.text == _exact(value, places) else f" = {term.text}"
    return Line(f"{label}{middle} = {shown}", term.src, value, tuple(cells))


def _at(i: int, j: int) -> str:
    return f"[{i + 1},{j + 1}]"


def _boxes(matrix, extra=()) -> list[tuple[int, int]]:
    """The boxes a matrix's working shows, in reading order: all of a small one, else each row's
    first, and `extra` (the ties, the largest error)."""
    rows, cols = len(matrix), len(matrix[0])
    return sorted({(i, j) for i in range(rows) for j in range(cols) if rows * cols <= _SMALL or j == 0} | set(extra))


def _ties(x) -> list[tuple[int, int]]:
    """The boxes whose x lies exactly halfway between two integers."""
    return [(i, j) for i, row in enumerate(x) for j, v in enumerate(row) if v - sympy.floor(v) == Rational(1, 2)]


# --- the steps --------------------------------------------------------------------------------

def _absmax(sol) -> Working:
    W = _weights(sol)
    top = sol.step("absmax").exact
    lines = []
    for e, m in enumerate(W):
        i, j = next((i, j) for i, row in enumerate(m) for j, w in enumerate(row) if abs(w) == top[e])
        w = m[i][j]
        lines.append(_line(f"E{e + 1}: max|w| = |w{_at(i, j)}|", Term(f"|{tenths(w)}|", f"Abs({w})"), top[e],
                           [f"absmax[{e + 1}]"]))
    return Working("absmax", "Symmetric absmax quantisation gives the largest |w| of each expert the largest code: "
                   "that one weight sets the expert's scale.", tuple(lines))


def _weights(sol):
    return tuple(tuple(tuple(Rational(a, 10) for a in row) for row in m) for m in sol.problem.W)


def _weight(sol, at):
    e, i, j = at
    return Rational(sol.problem.W[e][i][j], 10)  # the problem keeps tenths: 13 is w = 1.3


def _format(sol, fmt: str) -> list[Working]:
    from workbook.kinds.quantize import QMAX
    qmax, name = QMAX[fmt], fmt.upper()
    W, top = sol.problem.W, sol.step("absmax").exact
    scale, x, q, largest = (sol.step(f"{s}_{fmt}").exact for s in ("scale", "x", "q", "max_error"))
    places = _places(f"scale_{fmt}")

    scales = [_line(f"E{e + 1}: {name} scale = max|w| / {qmax}", Term(f"{tenths(top[e])} / {qmax}", f"({top[e]})/{qmax}"),
                    scale[e], [f"scale_{fmt}[{e + 1}]"], places) for e in range(len(W))]
    xs, qs, hats, errs = [], [], [], []
    for e, m in enumerate(W):
        ties = _ties(x[e])
        error = sol.step(f"error_{fmt}").exact[e]
        for i, j in _boxes(m, ties + [_largest(error, largest[e])]):  # every tie and the largest error followed through
            at = (e, i, j)
            xs.append(_x(sol, fmt, qmax, at))
            qs.append(claim(f"E{e + 1}: q{_at(i, j)} = round({_show(x[e][i][j])}) = {_fraction(q[e][i][j])}",
                            q[e][i][j], [f"q_{fmt}{_ref(at)}"]))
            if (i, j) in ties:
                qs.append(reason(_tie_text(e, i, j, x[e][i][j], q[e][i][j])))
            hats.append(_w_hat(sol, fmt, at))
            errs.append(_error(sol, fmt, at))
        if ties:
            where = ", ".join(f"x{_at(i, j)}" for i, j in ties)
            errs.append(reason(f"E{e + 1}: at the tie{'s' * (len(ties) > 1)} ({where}) |error| is exactly half a step, "
                               f"scale / 2 = {_show(scale[e] / 2, _places(f'error_{fmt}'))}: the most rounding can lose."))
    qs.append(reason(f"No x lies beyond ±{qmax} (the largest |w| gives exactly ±{qmax}), so the clip changes nothing."))

    coarser = (" INT8 has 127 steps on each side of 0, INT4 only 7: INT4's steps are 127/7 ≈ 18 times as wide."
               if fmt == "int8" and "x_int4" in sol.has else "")
    return [
        Working(f"scale_{fmt}", f"The scale is the size of one step of the code: the weight that code 1 stands for. "
                f"{name} codes run from −{qmax} to {qmax}, so the largest |w| becomes ±{qmax}." + coarser,
                tuple(scales)),
        Working(f"x_{fmt}", "x is the weight measured in steps: where it falls between the codes.", tuple(xs)),
        Working(f"q_{fmt}", f"The code is the nearest whole step, stored in {fmt[3:]} bits instead of 16; a tie "
                "(x exactly halfway) goes to the even neighbour, as np.round and torch.round do.", tuple(qs)),
        Working(f"w_hat_{fmt}", "Dequantising multiplies the code back by the scale: the weight the model computes "
                "with.", tuple(hats)),
        Working(f"error_{fmt}", "The error is what rounding lost: w − ŵ = (x − q) · scale, and |x − q| is at most ½.",
                tuple(errs)),
        Working(f"max_error_{fmt}", "The largest error of each expert, never more than half a step: a larger "
                "max|w| means a larger scale and larger errors for every weight of that expert.",
                _max_errors(sol, fmt)),
    ]


def _ref(at) -> str:
    """(expert, row, column), 0-based, as a box's ref after its step id: '[1][2][3]'."""
    return "".join(f"[{n + 1}]" for n in at)


def _x(sol, fmt: str, qmax: int, at) -> Line:
    e, i, j = at
    w, top, scale = _weight(sol, at), sol.step("absmax").exact[e], sol.step(f"scale_{fmt}").exact[e]
    if fmt == "int4":  # the scale ends (0.2 to 0.5): divide by it
        label, term = "w / scale", Term(f"{tenths(w)} / {_exact(scale)}", f"({w})/({scale})")
    else:  # 2.1 / 127 does not end: multiply by 127 / max|w| instead
        label, term = f"w · {qmax} / max|w|", Term(f"{tenths(w)}·{qmax} / {tenths(top)}", f"({w})*{qmax}/({top})")
    return _line(f"E{e + 1}: x{_at(i, j)} = {label}", term, sol.step(f"x_{fmt}").exact[e][i][j], [f"x_{fmt}{_ref(at)}"])


def _w_hat(sol, fmt: str, at) -> Line:
    e, i, j = at
    code, scale = sol.step(f"q_{fmt}").exact[e][i][j], sol.step(f"scale_{fmt}").exact[e]
    code_text = _fraction(code) if code >= 0 else f"({_fraction(code)})"
    term = Term(f"{code_text}·{_term(scale, _places(f'scale_{fmt}'), True).text}", f"({code})*({scale})")
    return _line(f"E{e + 1}: ŵ{_at(i, j)} = q · scale", term, sol.step(f"w_hat_{fmt}").exact[e][i][j],
                 [f"w_hat_{fmt}{_ref(at)}"], _places(f"w_hat_{fmt}"))


def _error(sol, fmt: str, at) -> Line:
    e, i, j = at
    w, w_hat = _weight(sol, at), sol.step(f"w_hat_{fmt}").exact[e][i][j]
    minus = _term(w_hat, _places(f"w_hat_{fmt}"))
    if minus.text.startswith("−"):
        minus = Term(f"({minus.text})", minus.src)
    return _line(f"E{e + 1}: error{_at(i, j)} = w − ŵ", Term(f"{tenths(w)} − {minus.text}", f"({w}) - {minus.src}"),
                 sol.step(f"error_{fmt}").exact[e][i][j], [f"error_{fmt}{_ref(at)}"], _places(f"error_{fmt}"))


def _max_errors(sol, fmt: str) -> tuple[Line, ...]:
    scale, largest = sol.step(f"scale_{fmt}").exact, sol.step(f"max_error_{fmt}").exact
    places = _places(f"error_{fmt}")
    out = []
    for e, m in enumerate(sol.step(f"error_{fmt}").exact):
        i, j = _largest(m, largest[e])
        out.append(_line(f"E{e + 1}: largest |w − ŵ| = |error{_at(i, j)}|", Term(f"|{_exact(m[i][j], places)}|",
                                                                                 f"Abs({m[i][j]})"),
                         largest[e], [f"max_error_{fmt}[{e + 1}]"], _places(f"max_error_{fmt}")))
        half = f"half a step, scale / 2 = {_show(scale[e] / 2, places)}"
        out.append(reason(f"E{e + 1}: exactly {half}: x{_at(i, j)} is a tie." if largest[e] == scale[e] / 2
                          else f"E{e + 1}: less than {half}."))
    return tuple(out)


def _largest(error, size) -> tuple[int, int]:
    """The first box (reading order) whose |error| is the expert's largest."""
    return next((i, j) for i, row in enumerate(error) for j, v in enumerate(row) if abs(v) == size)


def _tie_text(e: int, i: int, j: int, x, code) -> str:
    """Why a tie's code is what it is, and what the school rules would give instead."""
    low = sympy.floor(x)
    up = low + 1                                    # half up: towards +∞
    away = up if x > 0 else low                     # half away from zero
    if up != code and away != code:
        other = f" (half up or away from zero would give {_fraction(up)})"
    elif up != code:
        other = f" (half up would give {_fraction(up)})"
    else:
        other = f" (half away from zero would give {_fraction(away)})"
    return (f"E{e + 1}: x{_at(i, j)} = {_decimal(x, 1)} is a tie, halfway between {_fraction(low)} and {_fraction(up)}: "
            f"half to even gives {_fraction(code)}, the even one{other}.")


def _rounded(label: str, term: Term, value, cells) -> Line:
    """'16-bit: ... ≈ 93.41': the box's 2-place decimal, rounded half up (the sheet's rule) in the
    expression too, ⌊100·x + ½⌋ / 100 for x ≥ 0; '=' where the value ends within 2 places."""
    near = sympy.floor(value * 100 + Rational(1, 2)) / 100
    sign, text = ("=", _show(value)) if near == value else ("≈", _decimal(value, 2))
    return Line(f"{label} = {term.text} {sign} {text}", f"floor(({term.src})*100 + 1/2)/100", near, tuple(cells))


def _memory(sol) -> list[Working]:
    from workbook.kinds.quantize import BITS, PARAMETERS
    N = PARAMETERS[sol.spec["model"]]
    memory, saved = sol.step("memory_gb").exact, sol.step("saved_gb").exact
    held = [_rounded(f"{b}-bit: N · {b} / 8 / 10⁹", Term(f"{N:,}·{b} / 8 / 10⁹", f"{N}*{b}/8/10**9"), memory[i],
                     [f"memory_gb[{i + 1}]"]) for i, b in enumerate(BITS)]
    kept = [_rounded(f"{b}-bit: N · (16 − {b}) / 8 / 10⁹", Term(f"{N:,}·{16 - b} / 8 / 10⁹", f"{N}*{16 - b}/8/10**9"),
                     saved[i], [f"saved_gb[{i + 1}]"]) for i, b in enumerate(BITS[1:])]
    return [Working("memory_gb", "Memory is bits per weight times the number of weights: every expert is stored, "
                    "whichever a token uses, so all N parameters count.", tuple(held)),
            Working("saved_gb", "Against bf16, 8 bits saves half the memory and 4 bits three quarters.", tuple(kept))]
