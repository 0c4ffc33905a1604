"""The independent float computation: a plain NumPy forward pass of the same MoE layer.

It takes the route real code takes (softmax_b(s) = softmax(s ln b), argsort for top-k), not the
exact route of solve.py, so that the two can check each other. It also serves the generator,
which tests its candidates with it. Leaves out: exact values and everything about the sheet.
"""

import math

import numpy as np

from workbook.problem import Problem
from workbook.spec import GATE_BASE, TOKEN_CHOICE, Spec, capacity_factor, renormalize, slots, top_k


def log_base(gate: str) -> float:
    """'softmax3' -> ln 3."""
    base = GATE_BASE[gate]
    return 1.0 if base == "e" else math.log(base)


def softmax_rows(scores: np.ndarray, gate: str) -> np.ndarray:
    """[[3, 1, 0]] with softmax3 -> [[27/37, 3/37, 1/37]] as floats (max-shifted, natural exp)."""
    z = scores * log_base(gate)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def round2(x: float) -> float:
    """Round half up to 2 decimals, as a person does: 0.125 -> 0.13."""
    return math.floor(x * 100 + 0.5 + 1e-9) / 100


def well_separated(values) -> bool:
    """Sorted descending, neighbours differ by >= 0.01 and stay in order at 2 decimals."""
    v = sorted(values, reverse=True)
    return all(a - b >= 0.01 - 1e-12 and round2(a) > round2(b) for a, b in zip(v, v[1:]))


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
            served = _capacity(spec, topk, weights, out)
        if problem.jitter:
            out |= _jitter(X, W, problem, topk[:, 0])
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
        out |= _ffn(X, problem, pairs)
    return out


def _capacity(spec: Spec, topk: np.ndarray, weights: np.ndarray, out: dict):
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


def _jitter(X: np.ndarray, W: np.ndarray, problem: Problem, first: np.ndarray) -> dict:
    """Scores of the jittered inputs (u * x) W_rᵀ, their top-1, and which tokens change expert."""
    u = np.array(problem.jitter, dtype=float) / 10
    scores = (u * X) @ W.T
    choice = scores.argmax(axis=1)
    return {"jitter_scores": scores, "jitter_choice": choice + 1, "changed": (choice != first).astype(float)}


def _ffn(X: np.ndarray, problem: Problem, pairs) -> dict:
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
