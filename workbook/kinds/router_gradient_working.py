"""The router-gradient sheet's worked solution: top-k, w, dL/dw, their weighted mean and dL/ds, in the variant's numbers.

For every step: what it means, the operation written out (every box of a grid of 6 boxes or fewer,
else each row's first box; every token's weighted mean; each token's selected dL/ds), and the
reason behind every choice: a token's top k, and why every expert not selected gets exactly 0.
Each line is built from the solved steps (router_gradient.py) with working.py's terms;
solutions.py checks it against the key. Leaves out: the arithmetic itself and the sheet
(router_gradient.py).
"""

import math

import sympy

from workbook.formatting import pretty
from workbook.layout import ordinal
from workbook.spec import GATE_BASE
from workbook.working import Term, Working, claim, factor, joined, line, num, power, reason

_SMALL = 6  # a grid of this many boxes or fewer is worked box by box


def working(sol) -> list[Working]:
    b = GATE_BASE[sol.spec["gate"]]
    top = [[int(e) - 1 for e in row] for row in sol.step("topk").exact]
    return [_topk(sol, top), _weights(sol, top, b), _grad_w(sol, top), _mean(sol, top),
            _scaled(sol, top, b), _grad_s(sol, top, b)]


def _ranks(sol) -> range:
    """The selected ranks worked out for each token: all of them in a small grid, else the 1st."""
    T, k = sol.spec["tokens"], sol.spec["top_k"]
    return range(k) if T * k <= _SMALL else range(1)


def _paren(term: Term) -> Term:
    return Term(f"({term.text})", term.src)


def _topk(sol, top) -> Working:
    S, k = sol.problem.S, sol.spec["top_k"]
    lines = []
    for t, row in enumerate(top):
        ranked = ", ".join(f"E{e + 1} ({pretty(S[t][e])})" for e in row)
        left = [e for e in range(len(S[t])) if e not in row]
        rest = f"; the others score at most {pretty(max(S[t][e] for e in left))}" if left else ""
        lines.append(claim(f"t{t + 1}: the {k} largest scores: {ranked}{rest}", tuple(sympy.Integer(e + 1) for e in row),
                           [f"topk[{t + 1}][{r + 1}]" for r in range(k)]))
        for e in row:
            rivals = [j for j in range(e + 1, len(S[t])) if S[t][j] == S[t][e]]
            if rivals:
                lines.append(reason(f"t{t + 1}: E{e + 1} and {', '.join(f'E{j + 1}' for j in rivals)} tie at "
                                    f"{pretty(S[t][e])}; the lower number goes first."))
    return Working("topk", "The forward pass keeps only each token's k best-scoring experts. The selection is a "
                   "hard choice: a small change of a score does not change it, so it passes no gradient.",
                   tuple(lines))


def _weights(sol, top, b) -> Working:
    S, w = sol.problem.S, sol.step("weights").exact
    lines = []
    for t, row in enumerate(top):
        names = [f"{b}^s_E{e + 1}" for e in row]
        for r in _ranks(sol):
            below = joined((power(b, S[t][e]) for e in row), "+")
            term = joined((power(b, S[t][row[r]]), _paren(below)), "/")
            then = None
            if b != "e":
                then = Term(f"{b ** S[t][row[r]]}/({' + '.join(str(b ** S[t][e]) for e in row)})", "")
            lines.append(line(f"w[t{t + 1},{ordinal(r)}] = {names[r]} / ({' + '.join(names)})", term, w[t][r],
                              [f"weights[{t + 1}][{r + 1}]"], then=then))
    if len(top[0]) > 1 and sol.spec["tokens"] * len(top[0]) > _SMALL:
        lines.append(reason("Each row's other weights work the same way; a row's weights add up to 1."))
    return Working("weights", "The weights are a softmax over the selected scores only (renormalised): they add "
                   "up to 1, and they are the only path from the scores to the output, so the gradient to s flows "
                   "through them.", tuple(lines))


def _dot(xs, ys) -> Term:
    return joined((joined((factor(x), factor(y)), "·") for x, y in zip(xs, ys)), "+")


def _grad_w(sol, top) -> Working:
    p, g = sol.problem, sol.step("grad_w").exact
    lines = []
    for t, row in enumerate(top):
        for r in _ranks(sol):
            e = row[r]
            lines.append(line(f"dL/dw[t{t + 1},{ordinal(r)}] = δ_t{t + 1} · FFN_E{e + 1}(x_t{t + 1})",
                              _dot(p.delta[t], p.outputs[t][e]), g[t][r], [f"grad_w[{t + 1}][{r + 1}]"]))
    if sol.spec["tokens"] * sol.spec["top_k"] > _SMALL:
        lines.append(reason("Each row's other boxes work the same way, with that expert's output."))
    return Working("grad_w", "y_t = Σ w_j FFN_j(x_t) is linear in each weight, so dL/dw_j is the upstream gradient "
                   "dotted with expert j's output: how much the loss would grow if the token leaned more on "
                   "expert j.", tuple(lines))


def _mean(sol, top) -> Working:
    w, g, mean = sol.step("weights").exact, sol.step("grad_w").exact, sol.step("mean_grad").exact
    lines = [line(f"t{t + 1}: Σ w_i dL/dw_i", _dot(w[t], g[t]), mean[t], [f"mean_grad[{t + 1}][1]"])
             for t in range(len(top))]
    return Working("mean_grad", "The weights add up to 1, so one can grow only if the others shrink: each expert is "
                   "judged against this weighted mean of the token's dL/dw.", tuple(lines))


def _zeros(sol, t: int, row, grid: str):
    E, k = sol.spec["experts"], sol.spec["top_k"]
    left = [e for e in range(E) if e not in row]
    names = ", ".join(f"E{e + 1}" for e in left)
    value = tuple(sympy.Integer(0) for _ in left) if len(left) > 1 else sympy.Integer(0)
    return claim(f"t{t + 1}: {names} not among its top {k}: 0", value, [f"{grid}[{t + 1}][{e + 1}]" for e in left])


def _scaled(sol, top, b) -> Working:
    w, g, mean = sol.step("weights").exact, sol.step("grad_w").exact, sol.step("mean_grad").exact
    scaled = sol.step("grad_s_scaled").exact
    label = "dL/ds" if b == "e" else f"dL/ds ÷ ln {b}"
    lines = []
    for t, row in enumerate(top):
        for r in _ranks(sol):
            e = row[r]
            diff = _paren(joined((num(g[t][r]), num(mean[t])), "−"))
            lines.append(line(f"t{t + 1}, E{e + 1} ({ordinal(r)}): {label} = w · (dL/dw − Σ w_i dL/dw_i)",
                              joined((factor(w[t][r]), diff), "·"), scaled[t][e], [f"grad_s_scaled[{t + 1}][{e + 1}]"]))
        lines.append(_zeros(sol, t, row, "grad_s_scaled"))
    lines.append(reason("A row's selected boxes add up to 0: with m = Σ w_i dL/dw_i and Σ_j w_j = 1, "
                        "Σ_j w_j (dL/dw_j − m) = m − m = 0."))
    return Working("grad_s_scaled", "A selected expert's box is its weight times how far its dL/dw lies above the "
                   "weighted mean: positive when leaning on it costs more than the average (a descent step lowers its "
                   "score), negative when less. An expert not selected gets exactly 0: top-k is a hard choice, and "
                   "the gradient flows only through the soft weights.", tuple(lines))


def _grad_s(sol, top, b) -> Working:
    scaled, grad = sol.step("grad_s_scaled").exact, sol.step("grad_s").exact
    ln_b = Term("1", "1") if b == "e" else Term(f"ln {b}", f"log({b})")
    lines = []
    for t, row in enumerate(top):
        for r in _ranks(sol):
            e = row[r]
            lines.append(line(f"t{t + 1}, E{e + 1}: dL/ds = ln {b} · (dL/ds ÷ ln {b})" if b != "e" else
                              f"t{t + 1}, E{e + 1}: dL/ds = ln e · dL/ds (ln e = 1)",
                              joined((ln_b, factor(scaled[t][e])), "·"), grad[t][e], [f"grad_s[{t + 1}][{e + 1}]"]))
        lines.append(_zeros(sol, t, row, "grad_s"))
    if b != "e":
        lines.append(reason(f"ln {b} = {math.log(b):.4f}, as the conventions give it."))
    meaning = (f"A base-{b} softmax is the softmax of s · ln {b}, so the chain rule brings one more factor ln {b}; "
               "a zero stays 0." if b != "e" else "The natural softmax needs no extra factor: ln e = 1, the same values.")
    return Working("grad_s", meaning, tuple(lines))
