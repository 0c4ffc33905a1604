"""The routing kinds' checking: their common mistakes, and their carried errors.

MISTAKES: each takes a solved routing variant and returns the steps it changes, {step id: values
in the step's own shape} (or a list of such, when the mistake can go two ways), computed as a
learner making that mistake would; a mistake that cannot happen on a sheet (W untransposed when W
is not square, capacity when there is none) returns {}. carried(): a step recomputed from the
learner's own earlier numbers, so that check.py can say "follows from your step N".
Leaves out: reading answers and grading (check.py, diagnosis.py, mistakes.py).
"""

import re
from fractions import Fraction

import sympy
from sympy import Integer

from workbook.kinds.routing_steps import ROUTING, TOKEN_CHOICE
from workbook.spec import GATE_BASE, capacity_factor, renormalize, top_k

_REF = re.compile(r"(\w+)((?:\[\d+\])+)")
_FFN_SOURCE = {"ffn_hidden": "ffn_x", "ffn_relu": "ffn_hidden", "ffn_out": "ffn_relu"}


def _has(sol, *ids) -> bool:
    """The variant has these steps (and is a routing sheet, whose problem has X, W_r and experts)."""
    return sol.spec.kind in ROUTING and all(i in sol.has for i in ids)


def _softmax(rows, base):
    """Rows of scores -> rows of b^(s - row min) / Σ: base 3 gives fractions, base 'e' exp() terms."""
    out = []
    for row in rows:
        low = min(row)
        powers = [sympy.exp(s - low) if base == "e" else Integer(base) ** (s - low) for s in row]
        out.append(tuple(sympy.cancel(p / sum(powers)) for p in powers))
    return tuple(out)


def softmax_over_tokens(sol) -> dict:
    """P normalised down each column (over tokens) instead of along each row (over experts)."""
    if not _has(sol, "scores", "probs"):
        return {}
    columns = _softmax(list(zip(*sol.step("scores").exact)), GATE_BASE[sol.spec["gate"]])
    return {"probs": tuple(zip(*columns))}


def base_e(sol) -> dict:
    """e where the sheet uses 3 (or 2): powers e^(s - min) and their softmax."""
    if not _has(sol, "scores", "powers") or GATE_BASE[sol.spec["gate"]] == "e":
        return {}
    scores = sol.step("scores").exact
    powers = tuple(tuple(sympy.exp(s - min(row)) for s in row) for row in scores)
    return {"powers": powers, "row_sum": tuple(sum(r) for r in powers), "probs": _softmax(scores, "e")}


def weights_not_renormalised(sol) -> dict:
    """Token choice with renormalising: the chosen probabilities copied as they are."""
    if sol.spec.kind not in TOKEN_CHOICE or not renormalize(sol.spec) or not _has(sol, "topk", "probs"):
        return {}
    probs = sol.step("probs").exact
    return {"weights": tuple(tuple(probs[t][int(e) - 1] for e in row) for t, row in enumerate(sol.step("topk").exact))}


def renormalised_in_expert_choice(sol) -> dict:
    """Expert choice: each expert's gates divided by their sum, as token choice would."""
    if not _has(sol, "gating"):
        return {}
    return {"gating": tuple(tuple(sympy.cancel(g / sum(row)) for g in row) for row in sol.step("gating").exact)}


def bottom_k(sol) -> dict:
    """The k smallest instead of the k largest: experts per token, or tokens per expert."""
    if not _has(sol, "probs"):
        return {}
    probs = sol.step("probs").exact
    key = lambda v: v if v.is_Rational else v.evalf(30)
    if _has(sol, "topk") and sol.spec.kind in TOKEN_CHOICE:
        k = top_k(sol.spec)
        return {"topk": tuple(tuple(Integer(e + 1) for e in sorted(range(len(row)), key=lambda e: (key(row[e]), e))[:k])
                              for row in probs)}
    if _has(sol, "token_index"):
        c = sol.spec["capacity"]
        columns = list(zip(*probs))
        return {"token_index": tuple(tuple(Integer(t + 1) for t in sorted(range(len(col)), key=lambda t: (key(col[t]), t))[:c])
                                     for col in columns)}
    return {}


def relu_forgotten(sol) -> dict:
    """H used as it is: negative pre-activations kept, and the expert outputs computed from them."""
    if not _has(sol, "ffn_hidden", "ffn_out"):
        return {}
    hidden = sol.step("ffn_hidden").exact
    outs = []
    for e, ex in enumerate(sol.problem.experts):
        outs.append(tuple(tuple(sum(row[j] * ex.W2[j][i] for j in range(len(row))) + ex.b2[i]
                                for i in range(len(ex.b2))) for row in hidden[e]))
    return {"ffn_relu": hidden, "ffn_out": tuple(outs)}


def w_untransposed(sol) -> dict:
    """S = X W_r instead of X W_rᵀ: the columns of W_r taken as the experts (only a square W_r allows it)."""
    if not _has(sol, "scores") or len(sol.problem.W_router) != len(sol.problem.W_router[0]):
        return {}
    X, W = sol.problem.X, sol.problem.W_router
    return {"scores": tuple(tuple(Integer(sum(x[i] * W[i][e] for i in range(len(x)))) for e in range(len(W)))
                            for x in X)}


def zero_based(sol) -> dict:
    """Every index written from 0: experts, tokens, dropped tokens."""
    out = {}
    if not _has(sol):
        return out
    for step in ("topk", "token_index", "routing", "served", "dropped", "jitter_choice"):
        if step in sol.has:
            out[step] = tuple(tuple(v - 1 for v in row) if isinstance(row, tuple) else row - 1
                              for row in sol.step(step).exact)
    return out


def capacity_off_by_one(sol) -> list:
    """C one too large or one too small, and the slots claimed with it: two ways to be off."""
    if not _has(sol, "capacity", "kept") or capacity_factor(sol.spec) is None:
        return []
    C = int(sol.step("capacity").exact[0])
    topk = [[int(e) - 1 for e in row] for row in sol.step("topk").exact]
    out = []
    for wrong in (C + 1, C - 1):
        count = [0] * sol.spec["experts"]
        kept = [[0] * len(row) for row in topk]
        for r in range(len(topk[0])):
            for t, row in enumerate(topk):
                if count[row[r]] < wrong:
                    count[row[r]] += 1
                    kept[t][r] = 1
        out.append({"capacity": (Integer(wrong),), "kept": tuple(tuple(Integer(v) for v in row) for row in kept)})
    return out


def dropped_gets_x(sol) -> dict:
    """A dropped token given its input x as the layer's output, instead of 0."""
    if not _has(sol, "output", "dropped"):
        return {}
    dropped = {int(t) - 1 for t in sol.step("dropped").exact[0]}
    if not dropped:
        return {}
    output = sol.step("output").exact
    return {"output": tuple(tuple(Integer(v) for v in sol.problem.X[t]) if t in dropped else row
                            for t, row in enumerate(output))}


MISTAKES = (
    ("softmax over the tokens (down each column) instead of over the experts (along each row)", softmax_over_tokens),
    ("e used where the sheet uses its base (3 or 2)", base_e),
    ("the top-k weights not renormalised over the chosen experts", weights_not_renormalised),
    ("the gates renormalised, which expert choice does not do", renormalised_in_expert_choice),
    ("the smallest values picked (bottom-k) instead of the largest", bottom_k),
    ("ReLU forgotten: negative values of H kept", relu_forgotten),
    ("W_r used untransposed (X W_r instead of X W_rᵀ)", w_untransposed),
    ("indices counted from 0; the sheet counts from 1", zero_based),
    ("the capacity off by one (C = floor(cf·k·T/E), rounded down)", capacity_off_by_one),
    ("a dropped token given x instead of 0 (the residual adds x later, outside the layer)", dropped_gets_x),
)


def _grid_of(learner: dict, step_id: str) -> dict:
    """{(i, j): value} of one step's cells, 1-based, from refs like 'probs[2][3]'."""
    out = {}
    for ref, v in learner.items():
        m = _REF.fullmatch(ref)
        if m and m.group(1) == step_id:
            idx = tuple(int(x) for x in re.findall(r"\d+", m.group(2)))
            out[idx] = v
    return out


def _rows(grid: dict) -> dict:
    rows: dict = {}
    for (i, *rest), v in sorted(grid.items()):
        rows.setdefault(i, []).append(v)
    return rows


def _power(b: int, n):
    """b**n for a whole n of sensible size, else None (a typo like 1000 is not followed)."""
    if not float(n).is_integer() or abs(n) > 40:
        return None
    return Fraction(b) ** int(n)


def carried(sol, step_id, learner):
    """(source step, {ref: value}) of `step_id` computed from the learner's own source step: the
    router chain (powers from scores, row sums from powers, probabilities from both, weights from
    the probabilities, load from the routing table) and, in each expert, H from the copied rows of
    X, ReLU(H) from H and the output rows from ReLU(H); expert choice's gates from the probabilities
    at the key's token indices, the smallest capacity factor from the load, and the layer output
    from the gate weights (or gates) and the expert outputs. None when the step is not one of these
    or the learner's source is not filled in."""
    base = sol.spec.params.get("gate")
    b = {"softmax3": 3, "softmax2": 2, "softmax": None}.get(base)
    def numbers(grid):
        return all(isinstance(v, (Fraction, float)) for v in grid.values()) and grid
    if step_id == "powers" and b:
        src = _grid_of(learner, "scores")
        if not numbers(src):
            return None
        rows = _rows(src)
        return "scores", {f"powers[{i}][{j + 1}]": _power(b, v - min(r)) for i, r in rows.items() for j, v in enumerate(r)}
    if step_id == "row_sum":
        src = _grid_of(learner, "powers")
        if not numbers(src):
            return None
        return "powers", {f"row_sum[{i}][1]": sum(r) for i, r in _rows(src).items()}
    if step_id == "probs":
        powers, sums = _grid_of(learner, "powers"), _grid_of(learner, "row_sum")
        if not (numbers(powers) and numbers(sums)) or any(v == 0 for v in sums.values()):
            return None
        return ("powers", "row_sum"), {f"probs[{i}][{j + 1}]": v / sums[(i, 1)] for i, r in _rows(powers).items()
                                       for j, v in enumerate(r) if (i, 1) in sums}
    if step_id == "weights" and "topk" in sol.has:
        probs = _grid_of(learner, "probs")
        if not numbers(probs):
            return None
        rows = _rows(probs)
        out = {}
        for t, chosen in enumerate(sol.step("topk").exact, 1):
            picked = [rows[t][int(e) - 1] for e in chosen] if t in rows else []
            total = sum(picked) if sol.spec.params.get("renormalize") else 1
            if not picked or total == 0:
                continue
            out.update({f"weights[{t}][{r + 1}]": p / total for r, p in enumerate(picked)})
        return "probs", out
    experts = sol.problem.experts
    if step_id in _FFN_SOURCE and experts:
        source = _FFN_SOURCE[step_id]
        rows: dict = {}
        for (e, i, j), v in sorted(_grid_of(learner, source).items()):
            rows.setdefault((e, i), []).append(v)
        out = {}
        for (e, i), row in rows.items():
            if not all(isinstance(v, (Fraction, float)) for v in row):
                continue  # a row not filled in yet
            ex = experts[e - 1]
            if step_id == "ffn_relu":
                new = [max(v, 0) for v in row]
            elif step_id == "ffn_hidden":
                new = [sum(x * ex.W1[d][j] for d, x in enumerate(row)) + ex.b1[j] for j in range(len(ex.b1))]
            else:
                new = [sum(r * ex.W2[j][k] for j, r in enumerate(row)) + ex.b2[k] for k in range(len(ex.b2))]
            out.update({f"{step_id}[{e}][{i}][{k + 1}]": v for k, v in enumerate(new)})
        return (source, out) if out else None
    if step_id == "load" and "routing" in sol.has:
        routing = _rows(_grid_of(learner, "routing"))
        return "routing", {f"load[{e}][1]": Fraction(sum(v is not None for v in r)) for e, r in routing.items()}
    if step_id == "gating" and "token_index" in sol.has:
        probs = _grid_of(learner, "probs")
        if not numbers(probs) or not _bounded(probs.values()):
            return None
        return "probs", {f"gating[{e}][{j}]": probs[(int(t), e)]
                         for e, row in enumerate(sol.step("token_index").exact, 1)
                         for j, t in enumerate(row, 1) if (int(t), e) in probs}
    if step_id == "min_capacity_factor" and "load" in sol.has and "topk" in sol.has:
        load = _grid_of(learner, "load")
        if not numbers(load) or not _bounded(load.values()):
            return None
        T, E, k = len(sol.step("topk").exact), len(sol.step("load").exact), len(sol.step("topk").exact[0])
        return "load", {"min_capacity_factor[1][1]": Fraction(max(load.values())) * E / (k * T)}
    if step_id == "output" and experts and "ffn_out" in sol.has:
        return _output(sol, learner)
    return None


_CARRIED_MAX = 10 ** 6  # a learner's number beyond this (or a denominator beyond it) is not followed


def _bounded(values) -> bool:
    return all(abs(v) <= _CARRIED_MAX and (isinstance(v, float) or v.denominator <= _CARRIED_MAX) for v in values)


def _output(sol, learner):
    """y_t = Σ the learner's gate weight (weights, or expert choice's gating) × the learner's output
    row of that expert for t, over the key's (token, expert, slot) pairs; a token with a row of
    the learner's missing is left out."""
    outs = _grid_of(learner, "ffn_out")
    if "token_index" in sol.has:
        source = "gating"
        gates = _grid_of(learner, "gating")
        pairs = [(int(t), e, j, (e, j)) for e, row in enumerate(sol.step("token_index").exact, 1)
                 for j, t in enumerate(row, 1)]
    elif "weights" in sol.has and "topk" in sol.has:
        source = "weights"
        gates = _grid_of(learner, "weights")
        lists = sol.step("served" if "served" in sol.has else "routing").exact
        topk = sol.step("topk").exact
        pairs = [(int(t), e, j, (int(t), [int(x) for x in topk[int(t) - 1]].index(e) + 1))
                 for e, row in enumerate(lists, 1) for j, t in enumerate(row, 1)]
    else:
        return None
    good = lambda v: isinstance(v, (Fraction, float)) and _bounded((v,))
    d = len(sol.problem.X[0])
    y = {t: [Fraction(0)] * d for t in range(1, len(sol.problem.X) + 1)}
    for t, e, j, g in pairs:
        row = [outs.get((e, j, i)) for i in range(1, d + 1)]
        w = gates.get(g)
        if t not in y or not good(w) or not all(good(v) for v in row):
            y.pop(t, None)
            continue
        y[t] = [a + w * o for a, o in zip(y[t], row)]
    out = {f"output[{t}][{i}]": v for t, row in y.items() for i, v in enumerate(row, 1)}
    return ((source, "ffn_out"), out) if out else None


def contract(sol) -> list[str]:
    """The hand-friendliness promises this routing variant breaks, in words ([] when it keeps
    them): inputs |v| <= 3, powers <= 81, selections well apart at 2 decimals, the teaching moment
    (an expert above the fair share and one below; a dropped choice with a capacity; a token that
    changes expert under jitter; expert choice: a token nobody chooses and one chosen twice), and
    ReLU inputs of both signs with FFNs."""
    from workbook.numeric import well_separated
    from workbook.spec import fair_share

    spec, p, broken = sol.spec, sol.problem, []
    values = [v for row in p.X + p.W_router for v in row]
    for ex in p.experts:
        values += [v for row in ex.W1 + ex.W2 for v in row] + list(ex.b1) + list(ex.b2)
    if any(abs(v) > 3 for v in values):
        broken.append("an input beyond ±3")
    base = GATE_BASE[spec["gate"]]
    if base != "e" and any(base ** (max(r) - min(r)) > 81 for r in sol.step("scores").exact):
        broken.append("a power above 81")
    probs = [[float(v) for v in row] for row in sol.step("probs").exact]
    if spec.kind in TOKEN_CHOICE:
        k = top_k(spec)
        if not all(well_separated(sorted(row, reverse=True)[:k + 1]) for row in probs):
            broken.append(f"a token's top {k + 1} probabilities too close to tell apart")
        load, fair = [int(v) for v in sol.step("load").exact], fair_share(spec)
        if not (max(load) > fair > min(load)):
            broken.append("no expert above the fair share and one below")
        if "kept" in sol.has and all(v for row in sol.step("kept").exact for v in row):
            broken.append("no choice dropped although the sheet has a capacity")
        if p.jitter and 1 not in sol.step("changed").exact:
            broken.append("no token changes expert under jitter")
    else:
        c = spec["capacity"]
        if not all(well_separated(sorted(col, reverse=True)[:c + 1]) for col in zip(*probs)):
            broken.append(f"an expert's top {c + 1} probabilities too close to tell apart")
        coverage = [int(v) for v in sol.step("coverage").exact]
        if not (min(coverage) == 0 and max(coverage) >= 2):
            broken.append("no token left unchosen, or none chosen twice")
    if p.experts:
        pre = [v for h in sol.step("ffn_hidden").exact for row in h for v in row]
        if not (min(pre) < 0 < max(pre)):
            broken.append("the ReLU inputs are not of both signs")
    return broken
