"""The routing kinds' arithmetic (token choice, Switch, expert choice): exact steps and floats.

steps() is every value a person writes, exact (Rationals for bases 2 and 3, exp() expressions for
base e): router scores, powers, row sums, probabilities, then token choice's top-k, weights,
routing table, load (with a capacity: slots by GShard priority, dropped tokens, the smallest
capacity factor; with jitter: the jittered scores and choices) or expert choice's token index,
gating, coverage and dropped tokens, then the expert FFNs and the combine. forward() computes the
same steps independently with NumPy floats, by the route real code takes (softmax_b(s) =
softmax(s ln b), argsort for top-k), so that the two check each other; the generator tests its
candidates with it. Leaves out: generating problems (routing_generate.py) and the sheet
(routing_sheet.py).
"""

import math

import numpy as np
import sympy

from workbook.numeric import softmax_rows
from workbook.problem import Problem, Step
from workbook.spec import GATE_BASE, Spec, capacity_factor, renormalize, slots, top_k

# The token-choice family: one top-k routing engine (Switch is top-1, raw probability, with
# capacity); expert choice shares the router steps and the FFNs.
TOKEN_CHOICE = ("token-choice", "switch")
ROUTING = TOKEN_CHOICE + ("expert-choice",)


def _power(gate: str, n: int):
    """softmax3, 2 -> 9; softmax, 2 -> exp(2)."""
    base = GATE_BASE[gate]
    return sympy.exp(n) if base == "e" else sympy.Integer(base) ** n


def _order_key(value):
    """A sortable stand-in for an exact value (exact for rationals, 40 digits for exp terms)."""
    return value if value.is_Rational else value.evalf(40)


def _tidy(value):
    """Rationals stay as they are; exp() expressions become one fraction: exp(2)/(1 + exp(2))."""
    return value if value.is_Rational else sympy.cancel(sympy.together(value))


def steps(spec: Spec, problem: Problem):
    X, W, gate = problem.X, problem.W_router, spec["gate"]
    T, E = len(X), len(W)
    b = GATE_BASE[gate]
    scores = tuple(tuple(sympy.Integer(sum(x * w for x, w in zip(X[t], W[e]))) for e in range(E))
                   for t in range(T))
    yield Step("scores", "Router scores", "S = X W_rᵀ: multiply each token row of X with each column of W_rᵀ.", scores)
    powers = tuple(tuple(_power(gate, int(s - min(row))) for s in row) for row in scores)
    yield Step("powers", f"Powers of {b}",
               f"Subtract the row minimum from each score, then raise {b} to it.", powers)
    sums = tuple(sum(row) for row in powers)
    yield Step("row_sum", "Row sums", "Add up each token's powers.", sums)
    probs = tuple(tuple(_tidy(p / sums[t]) for p in powers[t]) for t in range(T))
    yield Step("probs", "Router probabilities",
               "Divide each power by its row sum: softmax over the experts, per token.", probs)
    if spec.kind in TOKEN_CHOICE:
        pairs = yield from _token_choice(spec, scores, probs)
        if problem.jitter:
            yield from _jitter(problem, scores)
    else:
        pairs = yield from _expert_choice(spec, probs)
    if problem.experts:
        yield from _ffn_steps(problem, pairs)


def _token_choice(spec: Spec, scores, probs):
    k, T, E = top_k(spec), len(scores), len(scores[0])
    topk = tuple(tuple(sorted(range(E), key=lambda e: (-scores[t][e], e))[:k]) for t in range(T))
    yield Step("topk", f"Top-{k} experts per token" if k > 1 else "Top-1 expert per token",
               f"For each token, write its {k} experts with the largest probabilities, best first."
               if k > 1 else "For each token, write the expert with the largest probability.",
               tuple(tuple(sympy.Integer(e + 1) for e in row) for row in topk), index=True)
    chosen = [[probs[t][e] for e in topk[t]] for t in range(T)]
    if renormalize(spec):
        weights = tuple(tuple(_tidy(p / sum(row)) for p in row) for row in chosen)
        how = f"Renormalise: divide each chosen probability by the sum of the token's {k}."
    else:
        weights = tuple(tuple(row) for row in chosen)
        how = "Copy the chosen probabilities (not renormalised)."
    yield Step("weights", "Gate weights", how, weights)
    routing = tuple(tuple(t for t in range(T) if e in topk[t]) for e in range(E))
    yield Step("routing", "Routing table",
               "For each expert, list the tokens routed to it, in token order.",
               tuple(tuple(sympy.Integer(t + 1) for t in r) for r in routing), index=True)
    yield Step("load", "Expert load", "Count the tokens of each expert.",
               tuple(sympy.Integer(len(r)) for r in routing), index=True)
    served = [[(t, weights[t][topk[t].index(e)]) for t in r] for e, r in enumerate(routing)]
    if capacity_factor(spec) is not None:
        served = yield from _capacity(spec, topk, weights, routing)
    return [(t, e, w) for e in range(E) for t, w in served[e]]


def _capacity(spec: Spec, topk, weights, routing):
    """Slots claimed by priority: all first choices in token order, then all second choices, ..."""
    k, T, E, C = top_k(spec), len(topk), spec["experts"], slots(spec)
    cf = capacity_factor(spec)
    yield Step("capacity", "Capacity", f"C = floor(cf × k × T / E) = floor({cf} × {k} × {T} / {E}).",
               (sympy.Integer(C),), index=True)
    served = [[] for _ in range(E)]
    kept = [[0] * k for _ in range(T)]
    for r in range(k):
        for t in range(T):
            e = topk[t][r]
            if len(served[e]) < C:
                served[e].append((t, weights[t][r]))
                kept[t][r] = 1
    order = "in token order" if k == 1 else "every 1st choice in token order, then every 2nd choice, ..."
    yield Step("kept", "Kept or dropped", f"Tokens claim the C slots of their expert {order}: "
               "write 1 for a choice that gets a slot, 0 for one that is dropped.",
               tuple(tuple(sympy.Integer(v) for v in row) for row in kept), index=True)
    yield Step("served", "Tokens served", "For each expert, list the tokens that got its slots, in slot order.",
               tuple(tuple(sympy.Integer(t + 1) for t, _ in s) for s in served), index=True)
    dropped = tuple(sympy.Integer(t + 1) for t in range(T) if not any(kept[t]))
    yield Step("dropped", "Dropped tokens", "Name the tokens with no choice kept: the layer gives them 0 "
               "and the residual carries x_t on.", (dropped,), index=True)
    most = max(len(r) for r in routing)
    yield Step("min_capacity_factor", "Smallest capacity factor that drops nothing",
               "C must reach the largest load: cf = largest load × E / (k × T).",
               (sympy.Rational(most * E, k * T),))
    return served


def _jitter(problem: Problem, scores):
    """Jitter: the inputs times the given multipliers u, the new scores and the new top-1."""
    X, W = problem.X, problem.W_router
    u = [[sympy.Rational(v, 10) for v in row] for row in problem.jitter]
    js = tuple(tuple(sum(u[t][i] * X[t][i] * W[e][i] for i in range(len(W[e]))) for e in range(len(W)))
               for t in range(len(X)))
    yield Step("jitter_scores", "Jittered scores", "S' = (u ⊙ X) W_rᵀ: multiply each x by its u first.", js)
    first = [max(range(len(row)), key=lambda e: (row[e], -e)) for row in scores]
    choice = [max(range(len(row)), key=lambda e: (row[e], -e)) for row in js]
    yield Step("jitter_choice", "Top-1 after jitter", "For each token, the expert with the largest jittered score.",
               tuple(sympy.Integer(e + 1) for e in choice), index=True)
    yield Step("changed", "Changed expert?", "Write 1 where the jittered choice differs from the top-1 before, else 0.",
               tuple(sympy.Integer(int(a != b)) for a, b in zip(first, choice)), index=True)


def _expert_choice(spec: Spec, probs):
    c, T, E = spec["capacity"], len(probs), len(probs[0])
    index = tuple(tuple(sorted(range(T), key=lambda t: (-_order_key(probs[t][e]), t))[:c]) for e in range(E))
    yield Step("token_index", f"Token index matrix I (top-{c} per expert)",
               f"For each expert (a column of P), write its {c} tokens with the largest probabilities, best first.",
               tuple(tuple(sympy.Integer(t + 1) for t in row) for row in index), index=True)
    gating = tuple(tuple(probs[t][e] for t in index[e]) for e in range(E))
    yield Step("gating", "Gating matrix G", "Copy each chosen token's probability (not renormalised).", gating)
    coverage = tuple(sympy.Integer(sum(row.count(t) for row in index)) for t in range(T))
    yield Step("coverage", "Coverage per token", "Count how many experts chose each token.", coverage, index=True)
    dropped = tuple(sympy.Integer(t + 1) for t in range(T) if coverage[t] == 0)
    yield Step("dropped", "Dropped tokens",
               "Name the tokens no expert chose: the layer gives them 0.", (dropped,), index=True)
    return [(index[e][j], e, gating[e][j]) for e in range(E) for j in range(c)]


def _ffn_steps(problem: Problem, pairs):
    hidden, relu, outs = [], [], []
    X, d = problem.X, len(problem.X[0])
    y = [[sympy.Integer(0)] * d for _ in X]
    for e, ex in enumerate(problem.experts):
        rows = [(t, w) for t, ee, w in pairs if ee == e]
        h = tuple(tuple(sympy.Integer(sum(X[t][i] * ex.W1[i][j] for i in range(d)) + ex.b1[j])
                        for j in range(len(ex.b1))) for t, _ in rows)
        r = tuple(tuple(max(v, sympy.Integer(0)) for v in row) for row in h)
        o = tuple(tuple(sympy.Integer(sum(row[j] * ex.W2[j][i] for j in range(len(row))) + ex.b2[i])
                        for i in range(d)) for row in r)
        for (t, w), o_row in zip(rows, o):
            y[t] = [acc + w * v for acc, v in zip(y[t], o_row)]
        hidden.append(h)
        relu.append(r)
        outs.append(o)
    yield Step("ffn_hidden", "Expert pre-activations", "H = X_e W1 + b1 for the tokens of each expert.", tuple(hidden))
    yield Step("ffn_relu", "ReLU", "Replace every negative value of H by 0.", tuple(relu))
    yield Step("ffn_out", "Expert outputs", "O = ReLU(H) W2 + b2.", tuple(outs))
    yield Step("output", "Layer output",
               "y_t = sum over the token's experts of gate weight x that expert's output row.",
               tuple(tuple(_tidy(v) for v in row) for row in y))


def _ranked(values: np.ndarray, n: int) -> np.ndarray:
    return np.argsort(-values, kind="stable")[:n]


def forward(spec: Spec, problem: Problem) -> dict:
    """Every step of the layer as floats (indices 1-based), keyed by the step ids of solve.py."""
    X = np.array(problem.X, dtype=float)
    W = np.array(problem.W_router, dtype=float)
    scores = X @ W.T
    base = math.e if GATE_BASE[spec["gate"]] == "e" else float(GATE_BASE[spec["gate"]])
    powers = base ** (scores - scores.min(axis=1, keepdims=True))
    out = {"scores": scores, "powers": powers, "row_sum": powers.sum(axis=1),
           "probs": softmax_rows(scores, spec["gate"])}
    probs = out["probs"]
    T, E = probs.shape
    if spec.kind in TOKEN_CHOICE:
        k = top_k(spec)
        topk = np.array([_ranked(probs[t], k) for t in range(T)])
        chosen = np.take_along_axis(probs, topk, axis=1)
        weights = chosen / chosen.sum(axis=1, keepdims=True) if renormalize(spec) else chosen
        routing = [[t for t in range(T) if e in topk[t]] for e in range(E)]
        out |= {"topk": topk + 1, "weights": weights,
                "load": np.array([len(r) for r in routing], dtype=float),
                "routing": [[t + 1 for t in r] for r in routing]}
        served = [[(t, weights[t][list(topk[t]).index(e)]) for t in r] for e, r in enumerate(routing)]
        if capacity_factor(spec) is not None:
            served = _capacity_floats(spec, topk, weights, out)
        if problem.jitter:
            out |= _jitter_floats(X, W, problem, topk[:, 0])
        pairs = [(t, e, w) for e in range(E) for t, w in served[e]]
    else:
        c = spec["capacity"]
        index = np.array([_ranked(probs[:, e], c) for e in range(E)])
        gating = np.take_along_axis(probs.T, index, axis=1)
        coverage = np.array([(index == t).sum() for t in range(T)], dtype=float)
        out |= {"token_index": index + 1, "gating": gating, "coverage": coverage,
                "dropped": [t + 1 for t in range(T) if coverage[t] == 0]}
        pairs = [(index[e][j], e, gating[e][j]) for e in range(E) for j in range(c)]
    if problem.experts:
        out |= _ffn_floats(X, problem, pairs)
    return out


def _capacity_floats(spec: Spec, topk: np.ndarray, weights: np.ndarray, out: dict):
    """GShard priority: every first choice, in token order, then every second choice, ...;
    a choice past the expert's C slots is dropped. Returns each expert's (token, weight) served."""
    T, k = topk.shape
    E, C = spec["experts"], slots(spec)
    kept = np.zeros((T, k))
    served = [[] for _ in range(E)]
    for r in range(k):
        for t in range(T):
            e = topk[t, r]
            if len(served[e]) < C:
                kept[t, r] = 1.0
                served[e].append((t, weights[t, r]))
    out |= {"capacity": [float(C)], "kept": kept,
            "served": [[t + 1 for t, _ in s] for s in served],
            "dropped": [t + 1 for t in range(T) if not kept[t].any()],
            "min_capacity_factor": [out["load"].max() * E / (k * T)]}
    return served


def _jitter_floats(X: np.ndarray, W: np.ndarray, problem: Problem, first: np.ndarray) -> dict:
    """Scores of the jittered inputs (u * x) W_rᵀ, their top-1, and which tokens change expert."""
    u = np.array(problem.jitter, dtype=float) / 10
    scores = (u * X) @ W.T
    choice = scores.argmax(axis=1)
    return {"jitter_scores": scores, "jitter_choice": choice + 1, "changed": (choice != first).astype(float)}


def _ffn_floats(X: np.ndarray, problem: Problem, pairs) -> dict:
    hidden, relu, expert_out = [], [], []
    y = np.zeros_like(X)
    for e, ex in enumerate(problem.experts):
        rows = [(t, w) for t, ee, w in pairs if ee == e]
        Xe = X[[t for t, _ in rows]].reshape(len(rows), X.shape[1])
        h = Xe @ np.array(ex.W1, dtype=float) + np.array(ex.b1, dtype=float)
        r = np.maximum(h, 0.0)
        o = r @ np.array(ex.W2, dtype=float) + np.array(ex.b2, dtype=float)
        for (t, w), o_row in zip(rows, o):
            y[t] += w * o_row
        hidden.append(h)
        relu.append(r)
        expert_out.append(o)
    return {"ffn_hidden": hidden, "ffn_relu": relu, "ffn_out": expert_out, "output": y}
