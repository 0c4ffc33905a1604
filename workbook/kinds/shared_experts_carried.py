"""The shared-experts kind's carried errors: each later step of the sheet worked from the
learner's own numbers of the steps it depends on.

DeepSeekMoE: the top-K_r from their probabilities; the gates from their probabilities and top-K_r.
DeepSeek-V3: s + b from their s; the top-K_r from their s + b; the weights from their s and
top-K_r; the load from their top-K_r; the new biases from their load; the new top-K_r from their s
and new biases; 'changed' from their two top-K_r. Both: the routed output from their gates (and
top-K_r), h from their shared and routed outputs. A top-K_r row is taken from the learner where it
is a valid choice (K_r different experts, 1 to E_r), else the key's.
Leaves out: the first step (from the given scores: nothing of the learner's to follow) and the
shared output (from the given x and W only).
"""

from fractions import Fraction

from workbook.kinds.own_numbers import one_row, own_grid, row, whole


def _constants() -> tuple:
    """(the routed scaling factor, the bias update speed) of shared_experts, as Fractions."""
    from workbook.kinds import shared_experts  # imported here: shared_experts imports this module

    return tuple(Fraction(int(v.p), int(v.q)) for v in (shared_experts.SCALE, shared_experts.GAMMA))


def _sign(v) -> int:
    return (v > 0) - (v < 0)


def _top(values, k: int):
    """The k largest, best first (1-based); None when a tie among the top k + 1 makes the choice
    or its order unclear."""
    order = sorted(range(len(values)), key=lambda e: (-values[e], e))
    head = [values[e] for e in order[:k + 1]]
    if len(set(head)) < len(head):
        return None
    return [e + 1 for e in order[:k]]


def _choices(sol, learner: dict, step_id: str = "topk") -> dict:
    """{t: the experts of token t (1-based)}: the learner's row where it is a valid choice, else
    the key's."""
    E, K = sol.spec["experts"], sol.spec["top_k"]
    grid = own_grid(learner, step_id)
    out = {}
    for t, key in enumerate(sol.step(step_id).exact, 1):
        theirs = row(grid, t, K, whole)
        valid = theirs is not None and len(set(theirs)) == K and all(1 <= e <= E for e in theirs)
        out[t] = theirs if valid else [int(e) for e in key]
    return out


def _learner_choices(sol, learner: dict, step_id: str):
    """Every row of the learner's top-K_r when each is a valid choice, else None."""
    E, K, T = sol.spec["experts"], sol.spec["top_k"], sol.spec["tokens"]
    grid = own_grid(learner, step_id)
    out = {}
    for t in range(1, T + 1):
        theirs = row(grid, t, K, whole)
        if theirs is None or len(set(theirs)) != K or not all(1 <= e <= E for e in theirs):
            return None
        out[t] = theirs
    return out


def _xw(sol, t: int, i: int) -> list:
    """x_t W_i (0-based token t, 0-based expert i of the K_s + E_r), as Fractions."""
    p = sol.problem
    x, W = p.X[t], p.W[i]
    d = len(x)
    return [Fraction(int(sum(x[a] * W[a][j] for a in range(d)))) for j in range(d)]


def carried(sol, step_id: str, learner: dict):
    """(source step(s), {ref: value}) of `step_id` worked from the learner's own earlier boxes (see
    the module's docstring); None when the step follows nothing of theirs or a box it needs is
    empty or not a sensible number. Only sums, products and one division per row: bounded."""
    SCALE, GAMMA = _constants()
    spec = sol.spec
    T, E, K, Ks = spec["tokens"], spec["experts"], spec["top_k"], spec["shared"]
    d = len(sol.problem.X[0])
    v3 = spec["variant"] == "v3"
    bias = [Fraction(b, 10) for b in sol.problem.bias]
    first = "sigmoid" if v3 else "probs"
    if step_id == "selection" and v3:
        grid = own_grid(learner, "sigmoid")
        out = {}
        for t in range(1, T + 1):
            s = row(grid, t, E)
            if s is not None:
                out.update({f"selection[{t}][{e + 1}]": v + bias[e] for e, v in enumerate(s)})
        return ("sigmoid", out) if out else None
    if step_id == "topk":
        source = "selection" if v3 else "probs"
        grid = own_grid(learner, source)
        out = {}
        for t in range(1, T + 1):
            values = row(grid, t, E)
            top = _top(values, K) if values is not None else None
            if top is not None:
                out.update({f"topk[{t}][{r + 1}]": Fraction(e) for r, e in enumerate(top)})
        return (source, out) if out else None
    if step_id == "gates":
        grid, chosen = own_grid(learner, first), _choices(sol, learner)
        out = {}
        for t in range(1, T + 1):
            values = row(grid, t, E)
            if values is None:
                continue
            picked = [values[e - 1] for e in chosen[t]]
            if v3:
                total = sum(picked)
                if total <= 0:
                    continue
                picked = [SCALE * g / total for g in picked]
            out.update({f"gates[{t}][{r + 1}]": g for r, g in enumerate(picked)})
        return ((first, "topk"), out) if out else None
    if step_id == "routed_out":
        grid, chosen = own_grid(learner, "gates"), _choices(sol, learner)
        out = {}
        for t in range(1, T + 1):
            g = row(grid, t, K)
            if g is None:
                continue
            comps = [_xw(sol, t - 1, Ks + e - 1) for e in chosen[t]]
            out.update({f"routed_out[{t}][{j + 1}]": sum(g[r] * comps[r][j] for r in range(K)) for j in range(d)})
        return (("gates", "topk"), out) if out else None
    if step_id == "output":
        shared, routed = own_grid(learner, "shared_out"), own_grid(learner, "routed_out")
        X = sol.problem.X
        out = {}
        for t in range(1, T + 1):
            a, b = row(shared, t, d), row(routed, t, d)
            if a is not None and b is not None:
                out.update({f"output[{t}][{j + 1}]": Fraction(int(X[t - 1][j])) + a[j] + b[j] for j in range(d)})
        return (("shared_out", "routed_out"), out) if out else None
    if not v3:
        return None
    if step_id == "load":
        chosen = _learner_choices(sol, learner, "topk")
        if chosen is None:
            return None
        return "topk", {f"load[1][{e}]": Fraction(sum(e in r for r in chosen.values())) for e in range(1, E + 1)}
    if step_id == "bias_new":
        load = one_row(learner, "load", E, whole)
        if load is None:
            return None
        mean = Fraction(T * K, E)
        return "load", {f"bias_new[1][{e + 1}]": bias[e] + GAMMA * _sign(mean - n) for e, n in enumerate(load)}
    if step_id == "topk_new":
        grid, new_b = own_grid(learner, "sigmoid"), one_row(learner, "bias_new", E)
        if new_b is None:
            return None
        out = {}
        for t in range(1, T + 1):
            s = row(grid, t, E)
            top = _top([v + b for v, b in zip(s, new_b)], K) if s is not None else None
            if top is not None:
                out.update({f"topk_new[{t}][{r + 1}]": Fraction(e) for r, e in enumerate(top)})
        return (("sigmoid", "bias_new"), out) if out else None
    if step_id == "changed":
        before, after = _learner_choices(sol, learner, "topk"), _learner_choices(sol, learner, "topk_new")
        if before is None or after is None:
            return None
        return ("topk", "topk_new"), {f"changed[{t}][1]": Fraction(int(set(before[t]) != set(after[t])))
                                      for t in range(1, T + 1)}
    return None
