"""The common mistakes of MoE hand calculations, each made on purpose: the problem solved the wrong way.

Each mistake takes a solved routing variant and returns the steps it changes, {step id: values in
the step's own shape} (or a list of such, when the mistake can go two ways), computed as a learner
making that mistake would; check.py compares a wrong
step of the learner's with these and names the mistake it matches. A mistake that cannot happen on
a sheet (W untransposed when W is not square, capacity when there is none) returns {}. These are
the routing sheets' mistakes; every other exercise names its own in its kind module (MISTAKES),
and `made` gathers both.
Leaves out: reading answers and grading (check.py).
"""

import sympy
from sympy import Integer

from workbook.spec import GATE_BASE, ROUTING, TOKEN_CHOICE, capacity_factor, renormalize, top_k


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


def made(sol) -> list[tuple[str, dict]]:
    """Every mistake that can happen on this variant's sheet, as (name, the steps it changes):
    the routing sheets' mistakes above, then the exercise's own (its kind module's MISTAKES)."""
    from workbook.kinds import KIND_MODULES

    own = getattr(KIND_MODULES.get(sol.spec.kind), "MISTAKES", ())
    out = []
    for name, mistake in MISTAKES + own:
        changed = mistake(sol)
        out += [(name, c) for c in (changed if isinstance(changed, list) else [changed]) if c]
    return out
