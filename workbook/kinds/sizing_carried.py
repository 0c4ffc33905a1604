"""The sizing sheet's later steps worked from the learner's own earlier numbers (sizing.carried).

A big number sits three digits to a box ('total_params[1][4]' ... 'total_params[1][1]', the box
counted from the units, leading boxes left empty). Each source number is read by joining the
learner's boxes; the step is worked in whole numbers (or exact fractions for the decimals), and
the result is split back into boxes as the sheet splits it (sizing._groups, leading boxes empty:
None). Followed: a layer from the learner's expert, attention, router and norm counts; total,
active, dense and every-other-layer counts from the layer counts and embeddings; active / total;
FLOPs from active and total; bytes from total; GB / kB from bytes; a SwiGLU fine expert from the
expert (e / m); fine-expert parameters per token from the fine expert (and the learner's mk);
C(mE, mk) and C(mE − K_s, mk − K_s) from the learner's mk.
Refused (None, or the row left out): a box empty after a filled one, a box that is not a whole
number from 0 to 999, a number over 10^15, a negative or too-wide result, an mk outside 1 ... mE.
Leaves out: the steps worked from the given configuration alone (one expert, attention, router,
norms, embeddings, k / E, m · k, C(E, k)).
"""

from fractions import Fraction
from math import comb

from sympy import Rational

from workbook.formatting import decimal2
from workbook.kinds.sizing_configs import BITS, UNIT, Model

MAX_CARRIED = 10 ** 15  # a number beyond this is no hand calculation of this sheet: not followed


def _widths(sol, layout=None) -> dict:
    """{(step id, row): number of boxes} of the sheet's place-value rows (sizing's layout, or the
    kind's `layout` given: model-sizing's rows are the same)."""
    from workbook.kinds import sizing
    from workbook.layout import Grid

    layout = layout or sizing.layout
    out: dict = {}
    for _, _, boards in layout(sol):
        for board in boards:
            for line in board.panels:
                for panel in line:
                    if not isinstance(panel, Grid):
                        continue
                    for row in panel.cells:
                        for c in row:
                            if c.blank and c.ref and c.ref.count("[") == 2:
                                sid, i, _ = c.ref.replace("]", "").split("[")
                                out[(sid, int(i))] = out.get((sid, int(i)), 0) + 1
    return out


def _whole(v):
    """v as an int when it is a whole number (a Fraction or a float), else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, Fraction) and v.denominator == 1:
        return int(v)
    if isinstance(v, float) and v.is_integer() and abs(v) <= MAX_CARRIED:
        return int(v)
    return None


def _read(learner: dict, widths: dict, sid: str, row: int = 1):
    """The learner's number in row `row` of step `sid`, its boxes joined (the most significant
    first); None when empty, a box is not a whole 0 ... 999, or a box is empty after a filled one."""
    width = widths.get((sid, row))
    if not width:
        return None
    n, started = 0, False
    for j in range(width, 0, -1):
        v = learner.get(f"{sid}[{row}][{j}]")
        if v is None and not started:
            continue
        g = _whole(v)
        if g is None or not 0 <= g <= 999:
            return None
        n, started = n * 1000 + g, True
    return n if started and n <= MAX_CARRIED else None


def _boxes(value, widths: dict, sid: str, row: int = 1) -> dict:
    """{ref: box} of `value` split as the sheet splits it ({} when it does not fit the row)."""
    from workbook.kinds.sizing import _groups

    width = widths.get((sid, row), 0)
    if value is None or value < 0 or value > MAX_CARRIED:
        return {}
    groups = _groups(int(value))  # the sheet prints int(n): 4-bit bytes of an odd count lose their .5
    if len(groups) > width:
        return {}
    groups = [""] * (width - len(groups)) + groups
    return {f"{sid}[{row}][{width - j}]": (Fraction(int(g)) if g else None) for j, g in enumerate(groups)}


def _printed(value) -> Fraction:
    """A decimal box as the sheet prints it: 2 places, half up."""
    return Fraction(decimal2(Rational(value.numerator, value.denominator)))


def carried(sol, step_id: str, learner: dict):
    """(source step(s), {ref: value}) of `step_id` worked from the learner's own numbers, or None."""
    p = sol.problem
    w = _widths(sol)
    read = lambda sid, row=1: _read(learner, w, sid, row)  # noqa: E731
    m, k, E, Ks = p.segments, p.top_k, p.experts, p.shared
    model = isinstance(p, Model)

    def one(sources, value, sid=step_id):
        sources = (sources,) if isinstance(sources, str) else tuple(sources)
        boxes = _boxes(value, w, sid)
        return (sources if len(sources) > 1 else sources[0], boxes) if boxes else None

    if model and step_id in ("layer_params", "layer_active", "dense_layer_params"):
        e, a, r, n = (read(s) for s in ("expert_params", "attention_params", "router_params", "norm_params"))
        if None in (e, a, r, n):
            return None
        value = {"layer_params": a + E * e + r + n, "layer_active": a + k * e + r + n,
                 "dense_layer_params": a + e + n}[step_id]
        used = ("expert_params", "attention_params", "norm_params") + (
            () if step_id == "dense_layer_params" else ("router_params",))
        return one(used, value)
    if model and step_id in ("total_params", "active_params", "dense_params", "alternating_total",
                             "alternating_active"):
        L, half, out = p.layers, p.layers // 2, read("embedding_params")
        layer, used, dense = read("layer_params"), read("layer_active"), read("dense_layer_params")
        need = {"total_params": ("layer_params",), "active_params": ("layer_active",),
                "dense_params": ("dense_layer_params",), "alternating_total": ("layer_params", "dense_layer_params"),
                "alternating_active": ("layer_active", "dense_layer_params")}[step_id]
        got = {"layer_params": layer, "layer_active": used, "dense_layer_params": dense}
        if out is None or any(got[s] is None for s in need):
            return None
        value = {"total_params": lambda: L * layer + out, "active_params": lambda: L * used + out,
                 "dense_params": lambda: L * dense + out, "alternating_total": lambda: half * (layer + dense) + out,
                 "alternating_active": lambda: half * (used + dense) + out}[step_id]()
        return one(need + ("embedding_params",), value)
    if model and step_id == "active_fraction":
        total, active = read("total_params"), read("active_params")
        if total is None or active is None or total == 0:
            return None
        return ("active_params", "total_params"), {"active_fraction[1]": _printed(Fraction(active, total))}
    if step_id == "flops_per_token":
        active = read("active_params")
        return None if active is None else one("active_params", 2 * active)
    if step_id == "dense_flops":
        total = read("total_params")
        return None if total is None else one("total_params", 2 * total)
    if step_id == "memory_bytes":
        total = read("total_params")
        if total is None:
            return None
        out = {}
        for i, b in enumerate(BITS, 1):
            out |= _boxes(Fraction(total * b, 8), w, "memory_bytes", i)
        return ("total_params", out) if out else None
    if step_id == f"memory_{p.unit.lower()}":
        out = {}
        for i in range(1, len(BITS) + 1):
            b = read("memory_bytes", i)
            if b is not None:
                out[f"{step_id}[{i}]"] = _printed(Fraction(b, UNIT[p.unit]))
        return ("memory_bytes", out) if out else None
    if model and step_id == "fine_expert_params" and p.ffn == "swiglu":
        e = read("expert_params")
        if e is None or e % m:
            return None
        return one("expert_params", e // m)
    mk = _whole(learner.get("fine_top_k[1]"))
    mk = mk if mk is not None and 1 <= mk <= m * E else None
    if step_id == "fine_active_params":
        fine = read("fine_expert_params")
        if fine is None:
            return None
        return one(("fine_expert_params", "fine_top_k"), (mk or m * k) * fine)
    if step_id == "combinations" and mk is not None:
        boxes = _boxes(comb(m * E, mk), w, "combinations", 2)  # row 2, C(mE, mk); C(E, k) is given
        return ("fine_top_k", boxes) if boxes else None
    if step_id == "shared_combinations" and mk is not None and mk >= Ks:
        return one("fine_top_k", comb(m * E - Ks, mk - Ks))
    return None
