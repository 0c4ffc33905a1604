"""The shared-experts sheet's worked solutions (DeepSeekMoE and DeepSeek-V3), in the variant's numbers.

For every step: what it means, the operation written out for each row's first box (every box of a
grid of 6 or fewer, every single value), and the reason behind every choice: a token's top K_r
(and whether the bias b decided it), which matrix W is which routed expert, the sign that moves
each bias, the experts a token gains or loses. Each line is built from the solved steps and the
problem with working.py's terms; solutions.py checks it against the key. Leaves out: the
arithmetic itself and the sheet (shared_experts.py; imported inside the functions, so that the
kind module can import this one without a cycle).
"""

import sympy

from workbook.formatting import decimal2, pretty, tenths
from workbook.layout import ordinal
from workbook.working import Term, Working, claim, factor, joined, line, num, power, reason, ties

SMALL = 6  # a grid of this many boxes or fewer is worked box by box


def working(sol) -> list[Working]:
    v3 = sol.spec["variant"] == "v3"
    out = [_sigmoid(sol), _selection(sol)] if v3 else [_probs(sol)]
    out += [_topk(sol, v3), _gates(sol, v3), _shared(sol), _routed(sol), _output(sol)]
    if v3:
        out += [_load(sol), _bias_new(sol), _topk_new(sol), _changed(sol)]
    return out


def _paren(term: Term) -> Term:
    return Term(f"({term.text})", term.src)


def _dot(xs, ws) -> Term:
    """2·(−1) + 0·1"""
    return joined((joined((factor(x), factor(w)), "·") for x, w in zip(xs, ws)), "+")


def _boxes(rows: int, cols: int):
    """(row, column) of the boxes worked out: each row's first, every box of a small grid."""
    if rows * cols <= SMALL:
        return [(i, j) for i in range(rows) for j in range(cols)]
    return [(i, 0) for i in range(rows)]


def _tenths(value) -> str:
    """A bias as the sheet prints it: −1/5 -> '−0.2', 0 -> '0'."""
    return tenths(value) if value else pretty(value)


def _bias(value) -> Term:
    """A bias as a term: '−0.2' / '(-1/5)'."""
    return Term(_tenths(value), f"({value})")


def _brief(value) -> str:
    """A selection score for comparing: its exact decimal when it has one ('0.55'), else its fraction."""
    return decimal2(value).replace("-", "−") if (value * 100).is_Integer else pretty(value)


def _top(values, k: int) -> list[int]:
    return sorted(range(len(values)), key=lambda e: (-values[e], e))[:k]


def _probs(sol) -> Working:
    return Working("probs", "The router's softmax (base 3) over the routed experts only: each row of P says how "
                   "much the token wants each routed expert. Subtracting the row minimum cancels in the division "
                   "and keeps the powers whole. The shared experts take no part: they need no router.",
                   softmax_lines(sol.problem.S, sol.step("probs").exact))


def softmax_lines(S, P) -> tuple:
    """Each token's first probability worked out: 3^(S − row min) over the row's sum (DeepSeekMoE's
    and DeepSeek-V2's softmax with base 3; the group-routing sheets' too)."""
    lines = []
    for t, row in enumerate(S):
        low = min(row)
        powers = [power(3, v - low) for v in row]
        whole = [num(sympy.Integer(3) ** (v - low)) for v in row]
        term = joined((powers[0], _paren(joined(powers, "+"))), "/")
        then = joined((whole[0], _paren(joined(whole, "+"))), "/")
        lines.append(line(f"t{t + 1} (row min {pretty(low)}): P[t{t + 1},E1] = 3^(S[t{t + 1},E1] − min) / "
                          f"Σ 3^(S − min)", term, P[t][0], [f"probs[{t + 1}][1]"], then=then))
    return tuple(lines)


def _sigmoid(sol) -> Working:
    S, s = sol.problem.S, sol.step("sigmoid").exact
    lines = []
    for t, row in enumerate(S):
        n = row[0]
        p = power(3, n)
        term = joined((p, Term(f"({p.text} + 1)", f"({p.src}) + 1")), "/")
        big = pretty(sympy.Integer(3) ** abs(n))
        then = Term(f"{big} / ({big} + 1)" if n >= 0 else f"1 / (1 + {big})", "")
        lines.append(line(f"t{t + 1}: S[t{t + 1},E1] = {pretty(n)}; s[t{t + 1},E1] = 3^S / (3^S + 1)", term, s[t][0],
                          [f"sigmoid[{t + 1}][1]"], then=then))
    seen = {}
    for row, values in zip(S, s):
        for n, v in zip(row, values):
            seen.setdefault(n, v)
    lines.append(reason("s depends on the score alone, so equal scores give equal s: "
                        + ", ".join(f"score {pretty(n)} → {pretty(seen[n])}" for n in sorted(seen)) + "."))
    return Working("sigmoid", "DeepSeek-V3 scores each routed expert on its own with a sigmoid (base 3 here): an "
                   "affinity s between 0 and 1, no softmax across the experts, so the row need not add up to 1.",
                   tuple(lines))


def _selection(sol) -> Working:
    s, sel, bias = sol.step("sigmoid").exact, sol.step("selection").exact, sol.problem.bias
    b0 = sympy.Rational(bias[0], 10)
    lines = [line(f"(s + b)[t{t + 1},E1] = s[t{t + 1},E1] + b[E1]", joined((num(s[t][0]), _bias(b0)), "+"),
                  sel[t][0], [f"selection[{t + 1}][1]"]) for t in range(len(s))]
    lines.append(reason("Each column adds its own expert's b: "
                        + ", ".join(f"b[E{e + 1}] = {_tenths(sympy.Rational(v, 10))}" for e, v in enumerate(bias))
                        + "."))
    return Working("selection", "The bias b is DeepSeek-V3's balancing knob: it moves an expert up or down the "
                   "ranking when experts are picked, and nowhere else (the weights use s alone).", tuple(lines))


def _topk(sol, v3: bool) -> Working:
    K = sol.spec["top_k"]
    by = sol.step("selection" if v3 else "probs").exact
    name = "s + b" if v3 else "P"
    lines = []
    for t, row in enumerate(sol.step("topk").exact):
        picked = [int(e) - 1 for e in row]
        which = f"the {K} largest {name}" if K > 1 else f"the largest {name}"
        lines.append(claim(f"t{t + 1}: {which}: " + ", ".join(f"E{e + 1} ({pretty(by[t][e])})" for e in picked),
                           tuple(row), [f"topk[{t + 1}][{r + 1}]" for r in range(K)]))
        lines += ties(by[t], picked, f"t{t + 1}")
        if v3:
            lines += _bias_decides(sol.step("sigmoid").exact[t], picked, K, t)
    meaning = (f"Each token keeps the {K} routed expert{'s' if K > 1 else ''} it ranks highest, best first"
               + (" (by s + b)" if v3 else "") + "; a tie would go to the lower expert number. The shared experts "
               "are not chosen: they are always on.")
    return Working("topk", meaning, tuple(lines))


def _bias_decides(s, picked, K: int, t: int) -> list:
    """A reason line when s alone (no bias) would have picked other experts, or ties at the cut."""
    order = sorted(s, reverse=True)
    if K < len(s) and order[K - 1] == order[K]:
        tied = [e for e in range(len(s)) if s[e] == order[K - 1]]
        won = [e for e in picked if e in tied]
        return [reason(f"t{t + 1}: by s alone " + ", ".join(f"E{e + 1}" for e in tied) + f" tie at "
                       f"{pretty(order[K - 1])} for the last place{'s' if len(won) > 1 else ''}; the bias b decides: "
                       + ", ".join(f"E{e + 1}" for e in won) + ".")]
    alone = _top(s, K)
    if set(alone) == set(picked):
        return []
    return [reason(f"t{t + 1}: the bias decides: by s alone it would take "
                   + ", ".join(f"E{e + 1} ({pretty(s[e])})" for e in alone) + ".")]


def _gates(sol, v3: bool) -> Working:
    from workbook.kinds.shared_experts import SCALE
    top, g = sol.step("topk").exact, sol.step("gates").exact
    K = sol.spec["top_k"]
    lines = []
    if v3:
        s = sol.step("sigmoid").exact
        for t, r in _boxes(len(top), K):
            chosen = [s[t][int(e) - 1] for e in top[t]]
            total = joined((num(v) for v in chosen), "+")
            term = Term(f"{tenths(SCALE)}·{factor(chosen[r]).text} / ({total.text})",
                        f"({SCALE})*({chosen[r]})/({total.src})")
            label = (f"g[t{t + 1},{ordinal(r)}] = {tenths(SCALE)} · s[t{t + 1},E{int(top[t][r])}] / ("
                     + " + ".join(f"s[t{t + 1},E{int(e)}]" for e in top[t]) + ")")
            lines.append(line(label, term, g[t][r], [f"gates[{t + 1}][{r + 1}]"]))
        lines.append(_gate_sum(g))
        meaning = (f"The weights use the affinities s without the bias: renormalised over the selected experts, "
                   f"then scaled by {tenths(SCALE)}, so each token's weights add up to {tenths(SCALE)}.")
    else:
        P = sol.step("probs").exact
        for t, r in _boxes(len(top), K):
            e = int(top[t][r])
            lines.append(line(f"g[t{t + 1},{ordinal(r)}] = P[t{t + 1},E{e}]", num(P[t][e - 1]), g[t][r],
                              [f"gates[{t + 1}][{r + 1}]"]))
        lines.append(_gate_sum(g))
        meaning = ("A gate is the selected expert's probability as it is, not renormalised: a token's gates add up "
                   "to less than 1 (the unselected experts' share is simply left out).")
    return Working("gates", meaning, tuple(lines))


def _gate_sum(g):
    """t1's gates added up (no box): 2.5 in V3, less than 1 in DeepSeekMoE."""
    return line("t1: Σ g", joined((num(v) for v in g[0]), "+"), sum(g[0]))


def _shared(sol) -> Working:
    X, W, Ks = sol.problem.X, sol.problem.W, sol.spec["shared"]
    out = sol.step("shared_out").exact
    lines = []
    for t, j in _boxes(len(X), len(X[0])):
        dots = [_dot(X[t], [r[j] for r in W[i]]) for i in range(Ks)]
        term = dots[0] if Ks == 1 else joined((_paren(d) for d in dots), "+")
        then = None
        if Ks > 1:
            then = joined((num(sum(x * r[j] for x, r in zip(X[t], W[i]))) for i in range(Ks)), "+")
        label = f"shared[t{t + 1},{j + 1}] = " + " + ".join(f"x_t{t + 1} · W{i + 1}[:,{j + 1}]" for i in range(Ks))
        lines.append(line(label, term, out[t][j], [f"shared_out[{t + 1}][{j + 1}]"], then=then))
    return Working("shared_out", "Shared experts see every token, with weight 1 and no router: they hold the common "
                   "knowledge every token needs, so the routed experts are free to specialise (DeepSeekMoE). "
                   "Here " + (f"W1 to W{Ks} are" if Ks > 1 else "W1 is") + " shared.", tuple(lines))


def _routed(sol) -> Working:
    X, W, Ks = sol.problem.X, sol.problem.W, sol.spec["shared"]
    top, g, out = sol.step("topk").exact, sol.step("gates").exact, sol.step("routed_out").exact
    lines = []
    for t, j in _boxes(len(X), len(X[0])):
        experts = [int(e) for e in top[t]]
        mats = [Ks + e for e in experts]  # routed Ee is the matrix W(Ks + e) on the sheet
        dots = [_dot(X[t], [r[j] for r in W[m - 1]]) for m in mats]
        values = [sum(x * r[j] for x, r in zip(X[t], W[m - 1])) for m in mats]
        term = joined((joined((factor(w), _paren(d)), "·") for w, d in zip(g[t], dots)), "+")
        then = joined((joined((factor(w), factor(v)), "·") for w, v in zip(g[t], values)), "+")
        label = (f"t{t + 1} → " + ", ".join(f"E{e} (W{m})" for e, m in zip(experts, mats)) + f": routed[t{t + 1},"
                 f"{j + 1}] = " + " + ".join(f"g[t{t + 1},{ordinal(r)}]·x_t{t + 1}·W{m}[:,{j + 1}]"
                                             for r, m in enumerate(mats)))
        lines.append(line(label, term, out[t][j], [f"routed_out[{t + 1}][{j + 1}]"], then=then))
    return Working("routed_out", "Only a token's selected routed experts run on it, each output scaled by its gate "
                   f"g. On the sheet routed E1 is W{Ks + 1}, E2 is W{Ks + 2}, and so on.", tuple(lines))


def _output(sol) -> Working:
    X, shared, routed, h = (sol.problem.X, sol.step("shared_out").exact, sol.step("routed_out").exact,
                            sol.step("output").exact)
    lines = []
    for t, j in _boxes(len(X), len(X[0])):
        ref = f"[t{t + 1},{j + 1}]"
        lines.append(line(f"h{ref} = x{ref} + shared{ref} + routed{ref}",
                          joined((num(X[t][j]), num(shared[t][j]), num(routed[t][j])), "+"), h[t][j],
                          [f"output[{t + 1}][{j + 1}]"]))
    return Working("output", "The layer's output adds three parts: the residual x (the token itself), the shared "
                   "experts' output at weight 1, and the gated routed output.", tuple(lines))


def _load(sol) -> Working:
    top, load = sol.step("topk").exact, sol.step("load").exact
    T, E, K = len(top), len(load), sol.spec["top_k"]
    lines = []
    for e, n in enumerate(load):
        who = [f"t{t + 1}" for t, row in enumerate(top) if sympy.Integer(e + 1) in row]
        lines.append(claim(f"load E{e + 1} = {pretty(n)}: " + (", ".join(who) + " selected it" if who else
                                                                "no token selected it"), n, [f"load[1][{e + 1}]"]))
    mean = sympy.Rational(T * K, E)
    lines.append(line("mean load = T·K_r / E_r", Term(f"{T}·{K} / {E}", f"{T}*{K}/{E}"), mean))
    return Working("load", "How many tokens each routed expert got in this batch (from the top-K_r table, not the "
                   "new one); the balancing compares each load with the mean.", tuple(lines))


def _bias_new(sol) -> Working:
    from workbook.kinds.shared_experts import GAMMA
    load, new = sol.step("load").exact, sol.step("bias_new").exact
    T, E, K = len(sol.problem.S), len(load), sol.spec["top_k"]
    mean = sympy.Rational(T * K, E)
    lines = []
    for e, (b, n) in enumerate(zip(sol.problem.bias, load)):
        b = sympy.Rational(b, 10)
        sign = sympy.sign(mean - n)
        diff = joined((num(mean), num(n)), "−")
        term = Term(f"{_bias(b).text} + {tenths(GAMMA)}·sign({diff.text})",
                    f"({b}) + ({GAMMA})*sign({diff.src})")
        then = joined((_bias(b), _bias(GAMMA * sign)), "+")
        lines.append(line(f"new b[E{e + 1}] = b + {tenths(GAMMA)}·sign(mean − load E{e + 1})", term, new[e],
                          [f"bias_new[1][{e + 1}]"], then=then))
    return Working("bias_new", f"Auxiliary-loss-free balancing: an expert above the mean load loses {tenths(GAMMA)} "
                   "of bias, so fewer tokens select it next time; one below the mean gains it; one at the mean keeps "
                   "its bias (sign(0) = 0). No loss term, no gradient.", tuple(lines))


def _topk_new(sol) -> Working:
    K = sol.spec["top_k"]
    s, new, top = sol.step("sigmoid").exact, sol.step("bias_new").exact, sol.step("topk_new").exact
    lines = []
    for t, row in enumerate(top):
        values = [a + b for a, b in zip(s[t], new)]
        picked = [int(e) - 1 for e in row]
        which = f"the {K} largest" if K > 1 else "the largest"
        lines.append(claim(f"t{t + 1}: s + new b = " + ", ".join(f"E{e + 1} {_brief(v)}" for e, v in enumerate(values))
                           + f"; {which}: " + ", ".join(f"E{e + 1}" for e in picked),
                           tuple(row), [f"topk_new[{t + 1}][{r + 1}]" for r in range(K)]))
        lines += ties(values, picked, f"t{t + 1}")
    return Working("topk_new", "The next batch's routing: the same affinities s, ranked with the updated biases.",
                   tuple(lines))


def _changed(sol) -> Working:
    before, after, changed = sol.step("topk").exact, sol.step("topk_new").exact, sol.step("changed").exact
    lines = []
    for t, (a, b) in enumerate(zip(before, after)):
        old, new = (", ".join(f"E{int(e)}" for e in sorted(r)) for r in (a, b))
        if set(a) != set(b):
            gone = ", ".join(f"E{int(e)}" for e in sorted(set(a) - set(b)))
            came = ", ".join(f"E{int(e)}" for e in sorted(set(b) - set(a)))
            text = f"t{t + 1}: {{{old}}} → {{{new}}}: leaves {gone} for {came}: 1"
        elif tuple(a) != tuple(b):
            text = f"t{t + 1}: {{{old}}} both times (only the order moved): 0"
        else:
            text = f"t{t + 1}: {{{old}}} both times: 0"
        lines.append(claim(text, changed[t], [f"changed[{t + 1}][1]"]))
    return Working("changed", "The update balances by moving tokens: a token changes experts where the new biases "
                   "carry an underloaded expert above one it had selected, or an overloaded one below the next. "
                   "Only the set of experts counts, not their order.", tuple(lines))
