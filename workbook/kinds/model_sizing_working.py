"""The model-sizing sheet's worked solution, and its later counts from the learner's own numbers.

Both come from the plan (model_configs.Count): a count's line writes its products in the
configuration's numbers and its earlier counts by the values found before ('total = 3·583,483,392
+ 58·11,507,286,016 + 1,853,365,248 = 671,026,404,352'); a big number fills its boxes three digits
each, a decimal is rounded half up to 2 places, as the sheet says. `carried` works a count that
rests on earlier ones from the learner's boxes (read and split as sizing_carried does).
Leaves out: the counts themselves (model_configs.py) and the sheet (model_sizing.py).
"""

from fractions import Fraction

from workbook.kinds.model_configs import Count, computed, counts
from workbook.kinds.sizing_carried import _boxes, _printed, _read, _widths
from workbook.kinds.sizing_working import _boxed, _rounded
from workbook.working import Term, Working


def _term(count: Count, known: dict) -> Term:
    """The count's sum written out: products of the configuration's values, then coefficient ×
    each earlier count's value; a negative term subtracted."""
    text, src = [], []
    for factors in count.products:
        sign = -1 if factors[0] < 0 else 1
        fs = [abs(factors[0]), *factors[1:]]
        fs = [f for f in fs if f != 1] or [1]  # −1 · V · d is written − V · d
        text.append((sign, "·".join(f"{f:,}" for f in fs)))
        src.append((sign, "*".join(str(f) for f in fs)))
    for coef, sid in count.refs:
        v = int(known[sid])
        text.append((1, f"{v:,}" if coef == 1 else f"{coef:,}·{v:,}"))
        src.append((1, str(v) if coef == 1 else f"{coef}*{v}"))
    return Term(_joined(text), _joined(src).replace("−", "-"))


def _joined(parts) -> str:
    out = ""
    for i, (sign, t) in enumerate(parts):
        out += (t if sign > 0 else f"−{t}") if i == 0 else (f" + {t}" if sign > 0 else f" − {t}")
    return out


def working(sol) -> list[Working]:
    m, known = sol.problem, computed(sol.problem)
    out = []
    for c in counts(m):
        term = _term(c, known)
        if c.divisor == 1:
            line = _boxed(c.label, term, known[c.id], c.id)
        else:
            term = Term(f"({term.text}) / {c.divisor:,}" if (len(c.products) + len(c.refs)) > 1 or c.products
                        else f"{term.text} / {c.divisor:,}", f"({term.src})/{c.divisor}")
            line = _rounded(c.label, term, known[c.id], [f"{c.id}[1]"])
        out.append(Working(c.id, c.meaning, (line,)))
    return out


def carried(sol, step_id: str, learner: dict):
    """(source step(s), {ref: value}) of a count worked from the learner's own earlier counts, or None
    (a count from the configuration alone, or a source the learner left empty or unreadable)."""
    from workbook.kinds.model_sizing import layout

    count = next((c for c in counts(sol.problem) if c.id == step_id), None)
    if count is None or not count.refs:
        return None
    w = _widths(sol, layout)
    total = Fraction(sum(_prod(f) for f in count.products))
    for coef, sid in count.refs:
        v = _read(learner, w, sid)
        if v is None:
            return None
        total += coef * v
    sources = tuple(sid for _, sid in count.refs)
    if count.divisor != 1:
        boxes = {f"{step_id}[1]": _printed(total / count.divisor)}
    else:
        if total.denominator != 1:
            return None
        boxes = _boxes(int(total), w, step_id)
        if not boxes:
            return None
    return (sources if len(sources) > 1 else sources[0]), boxes


def _prod(factors) -> int:
    out = 1
    for f in factors:
        out *= f
    return out
