"""The load-balance sheet's worked solution: P, the top-k, f and P̄, L_aux, the z-loss, in the variant's numbers.

For every step: what it means, the operation written out (each row's first box of P, every box of
the one-row grids, every single value, every token's ln Σ exp(z)), and the reason behind every
choice (a token's top k, the tokens each expert counts, the shared row sum). Each line is built from
the solved steps (load_balance.py) with working.py's terms; solutions.py checks it against the key.
Leaves out: the arithmetic itself and the sheet (load_balance.py).
"""

import math
from decimal import Decimal

import sympy

from workbook.formatting import decimal2, pretty
from workbook.working import Line, Term, Working, claim, factor, joined, line, num, power, reason

_PLACES = 4  # the α-scaled losses' decimals, as the sheet prints them


def working(sol) -> list[Working]:
    from workbook.kinds.load_balance import ALPHA  # here: load_balance imports this module
    S = sol.problem.S
    sums = [sum(3 ** (s - min(row)) for s in row) for row in S]
    shared = sums[0] if len(set(sums)) == 1 else None  # every row's Σ_j 3^(s − row min), when one
    return [_probs(sol, sums, shared), _topk(sol), _counts(sol), _f(sol), _pbar(sol, sums, shared),
            _f_pbar(sol), _aux_unscaled(sol), _aux_loss(sol, ALPHA), _aux_balanced(sol, ALPHA),
            _aux_collapsed(sol, ALPHA), _lse(sol, sums, shared), _z_loss(sol)]


def _alpha(alpha) -> Term:
    """α as the sheet writes it: 0.01."""
    return Term(format(Decimal(int(alpha.p)) / Decimal(int(alpha.q)), "f"), f"({alpha})")


def _paren(term: Term) -> Term:
    return Term(f"({term.text})", term.src)


def _line4(label: str, term: Term, value, cells) -> Line:
    """line() with the decimal to 4 places, as the sheet prints an α-scaled loss."""
    value = sympy.sympify(value)
    value_text = pretty(value)
    middle = f" = {term.text}" if term.text.replace(" ", "") != value_text.replace(" ", "") else ""
    tail = "" if value.is_Integer else f" ≈ {decimal2(value, _PLACES).replace('-', '−')}"
    return Line(f"{label}{middle} = {value_text}{tail}", term.src, value, tuple(cells))


def _probs(sol, sums, shared) -> Working:
    S, P = sol.problem.S, sol.step("probs").exact
    lines = []
    for t, row in enumerate(S):
        low = min(row)
        top = Term(f"3^({pretty(row[0])} − {pretty(low)})", f"3**(({row[0]}) - ({low}))")
        label = f"t{t + 1}: row min {pretty(low)}; P[t{t + 1},E1]"
        if t == 0 or shared is None:  # the row sum written out
            powers = joined((num(3 ** (s - low)) for s in row), "+")
            lines.append(line(label, joined((top, _paren(powers)), "/"), P[t][0], [f"probs[{t + 1}][1]"],
                              then=Term(f"{pretty(3 ** (row[0] - low))}/{sums[t]}", "")))
            if t == 0 and shared is not None and len(S) > 1:
                lines.append(reason(f"Every row of S is one pattern shuffled, plus 0 or 1: after subtracting its "
                                    f"minimum, every row has the same powers, so every row's sum is {shared}."))
        else:
            lines.append(line(label, joined((top, num(shared)), "/"), P[t][0], [f"probs[{t + 1}][1]"],
                              then=Term(f"{pretty(3 ** (row[0] - low))}/{shared}", "")))
    return Working("probs", "Each row of P is the token's softmax in base 3: how strongly the router wants each "
                   "expert. Subtracting the row minimum changes nothing (it cancels in the division) and keeps "
                   "the powers small.", tuple(lines))


def _topk(sol) -> Working:
    S, P, k = sol.problem.S, sol.step("probs").exact, sol.spec["top_k"]
    top = sol.step("topk").exact
    lines = [reason("3^s grows with s, so the largest P are the largest scores: read them off S.")]
    for t, row in enumerate(top):
        picked = [int(e) - 1 for e in row]
        ranked = ", ".join(f"E{e + 1} ({pretty(P[t][e])})" for e in picked)
        what = f"the {k} largest P" if k > 1 else "the largest P"
        lines.append(claim(f"t{t + 1}: {what}: {ranked}", tuple(row), [f"topk[{t + 1}][{r + 1}]" for r in range(k)]))
        for e in picked:
            rivals = [j for j in range(e + 1, len(S[t])) if S[t][j] == S[t][e]]
            if rivals:
                lines.append(reason(f"t{t + 1}: E{e + 1} and {', '.join(f'E{j + 1}' for j in rivals)} tie at "
                                    f"{pretty(P[t][e])}; the lower number goes first."))
    meaning = ("Each token goes to the expert it wants most (Switch, top-1): these hard choices are what f counts."
               if k == 1 else f"Each token goes to its {k} most probable experts: these hard choices are what f counts.")
    return Working("topk", meaning, tuple(lines))


def _counts(sol) -> Working:
    T, E, k = sol.spec["tokens"], sol.spec["experts"], sol.spec["top_k"]
    top, counts = sol.step("topk").exact, sol.step("counts").exact
    lines = []
    for e, n in enumerate(counts):
        who = [f"t{t + 1}" for t, row in enumerate(top) if sympy.Integer(e + 1) in row]
        rule = f"top-1 is E{e + 1}" if k == 1 else f"E{e + 1} among their top {k}"
        lines.append(claim(f"count_E{e + 1} = {pretty(n)}: {', '.join(who) if who else 'no token'} ({rule})", n,
                           [f"counts[1][{e + 1}]"]))
    fair = sympy.Rational(T * k, E)
    over = [f"E{e + 1}" for e, n in enumerate(counts) if n > fair]
    under = [f"E{e + 1}" for e, n in enumerate(counts) if n < fair]
    sides = [f"{', '.join(who)} {side}" for who, side in ((over, "above it"), (under, "below")) if who]
    lines.append(reason(f"The counts add up to T·k = {T}·{k} = {T * k}; the fair share is T·k/E = {T * k}/{E} = "
                        f"{pretty(fair)}" + (": " + ", ".join(sides) if sides else "") + "."))
    return Working("counts", "How many tokens each expert must process: the bars show which experts get more than "
                   "their fair share T·k/E and which get less.", tuple(lines))


def _f(sol) -> Working:
    T, k = sol.spec["tokens"], sol.spec["top_k"]
    counts, f = sol.step("counts").exact, sol.step("f").exact
    lines = [line(f"f_E{e + 1} = count_E{e + 1} / T", joined((num(n), num(T)), "/"), f[e], [f"f[1][{e + 1}]"])
             for e, n in enumerate(counts)]
    if k > 1:
        lines.append(reason(f"The f_i add up to k = {k}: each token is counted once for each of its {k} experts."))
    return Working("f", "f_i is the share of the tokens routed to expert i. It counts hard choices, so it is a "
                   "constant for the gradient: the loss can only act through P̄.", tuple(lines))


def _pbar(sol, sums, shared) -> Working:
    T, P, pbar = sol.spec["tokens"], sol.step("probs").exact, sol.step("pbar").exact
    lines = []
    for e, value in enumerate(pbar):
        label = f"P̄_E{e + 1} = (P[t1,E{e + 1}] + … + P[t{T},E{e + 1}]) / T"
        if shared is not None:  # one denominator: add the numerators
            tops = [P[t][e] * shared for t in range(T)]
            term = joined((_paren(joined((num(v) for v in tops), "+")), Term(f"({shared}·{T})", f"({shared}*{T})")), "/")
            then = Term(f"{pretty(sum(tops))}/{shared * T}", "")
        else:
            term = joined((_paren(joined((num(P[t][e]) for t in range(T)), "+")), num(T)), "/")
            then = None
        lines.append(line(label, term, value, [f"pbar[1][{e + 1}]"], then=then))
    return Working("pbar", "P̄_i is the router's mean probability for expert i: unlike f_i it changes smoothly with "
                   "the scores, so the gradient of L_aux flows through it.", tuple(lines))


def _f_pbar(sol) -> Working:
    f, pbar, prod = sol.step("f").exact, sol.step("pbar").exact, sol.step("f_pbar").exact
    lines = [line(f"f_E{e + 1} · P̄_E{e + 1}", joined((factor(f[e]), factor(pbar[e])), "·"), prod[e],
                  [f"f_pbar[1][{e + 1}]"]) for e in range(len(f))]
    return Working("f_pbar", "Each product weights an expert's mean probability by its load: the busiest experts "
                   "count most, so the loss pushes hardest on their probabilities.", tuple(lines))


def _aux_unscaled(sol) -> Working:
    E, prod = sol.spec["experts"], sol.step("f_pbar").exact
    value = sol.step("aux_unscaled").exact[0]
    total = joined((num(v) for v in prod), "+")
    term = joined((num(E), _paren(total)), "·")
    then = Term(f"{E}·{factor(sum(prod)).text}", "")
    return Working("aux_unscaled", "E · Σ f_i P̄_i is k when the routing is perfectly balanced and grows as the "
                   "load concentrates; multiplying by E makes it independent of the number of experts.",
                   (line("E · Σ f_i P̄_i", term, value, ["aux_unscaled[1][1]"], then=then),))


def _aux_loss(sol, alpha) -> Working:
    unscaled, value = sol.step("aux_unscaled").exact[0], sol.step("aux_loss").exact[0]
    term = joined((_alpha(alpha), factor(unscaled)), "·")
    return Working("aux_loss", "α keeps the auxiliary loss small beside the main loss: it nudges the router "
                   "towards an even load without overriding what the tokens need.",
                   (_line4("L_aux = α · (E · Σ f_i P̄_i)", term, value, ["aux_loss[1][1]"]),))


def _aux_balanced(sol, alpha) -> Working:
    E, k = sol.spec["experts"], sol.spec["top_k"]
    value, loss = sol.step("aux_balanced").exact[0], sol.step("aux_loss").exact[0]
    term = joined((_alpha(alpha), num(k)), "·")
    side = "above" if loss > value else "below" if loss < value else "at"
    return Working("aux_balanced", "Under uniform routing every f_i = k/E and every P̄_i = 1/E, and L_aux = α · k: "
                   "the loss is built to be smallest there (Switch), so lowering it pushes the router towards an "
                   "even load.",
                   (reason(f"Every f_i = k/E = {k}/{E} and P̄_i = 1/E = 1/{E}: E · Σ f_i P̄_i = "
                           f"{E}·{E}·({k}/{E})·(1/{E}) = k = {k}."),
                    _line4("balanced L_aux = α · k", term, value, ["aux_balanced[1][1]"]),
                    reason(f"This sheet's L_aux = {decimal2(loss, _PLACES)} is {side} it"
                           + (": its routing is not balanced." if side == "above" else "."))))


def _aux_collapsed(sol, alpha) -> Working:
    E, k = sol.spec["experts"], sol.spec["top_k"]
    value = sol.step("aux_collapsed").exact[0]
    term = joined((_alpha(alpha), num(E)), "·")
    who = "the same expert: its f_i = 1 and its P̄_i = 1" if k == 1 else \
        f"the same {k} experts: their f_i = 1 and their P̄_i add up to 1"
    return Working("aux_collapsed", "The worst case: the router has collapsed onto the same expert(s), which do all "
                   "the work while the others learn nothing; L_aux = α · E is E/k times the balanced value.",
                   (reason(f"Every token sends everything to {who}, so Σ f_i P̄_i = 1."),
                    _line4("collapsed L_aux = α · E", term, value, ["aux_collapsed[1][1]"])))


def _lse(sol, sums, shared) -> Working:
    S, lse = sol.problem.S, sol.step("lse").exact
    total = shared if shared is not None else "(its row sum)"
    lines = [reason(f"exp(z) = 3^s and 3^s_tj = 3^(row min) · 3^(s_tj − row min), so Σ_j exp(z_tj) = 3^(row min) · "
                    f"{total} (the row sum of P's powers) and ln Σ exp(z_tj) = (row min) · ln 3 + ln {total}.")]
    for t, row in enumerate(S):
        low, n = min(row), sums[t]
        term = Term(f"ln({power(3, low).text}·{n})", f"log(3**({low})*({n}))")
        lines.append(line(f"t{t + 1}: row min {pretty(low)}; ln Σ exp(z_t{t + 1})", term, lse[t], [f"lse[{t + 1}][1]"]))
    logs = sorted({3, *sums})
    lines.append(reason("From the table: " + ", ".join(f"ln {n} = {math.log(n):.4f}" for n in logs) + "."))
    return Working("lse", "ln Σ exp(z) measures how large the token's logits are as a whole. Softmax forgets a "
                   "shift of the row (a row raised by 1 has the same P), ln Σ exp(z) does not: it grows by ln 3.",
                   tuple(lines))


def _z_loss(sol) -> Working:
    T, lse = sol.spec["tokens"], sol.step("lse").exact
    value = sol.step("z_loss").exact[0]
    groups: dict = {}
    for v in lse:  # equal rows together, in order of first appearance
        groups[v] = groups.get(v, 0) + 1
    parts = []
    for v, c in groups.items():
        sq = f"({pretty(v)})²" if isinstance(v, sympy.Add) else f"{pretty(v)}²"
        parts.append(Term(f"{c}·{sq}" if c > 1 else sq, f"{c}*({v})**2"))
    term = joined((Term(f"(1/{T})", f"(1/{T})"), _paren(joined(parts, "+"))), "·")
    rows = "ln Σ exp(z): " + "; ".join(", ".join(f"t{t + 1}" for t, w in enumerate(lse) if w == v) + f": {pretty(v)}" for v in groups)
    return Working("z_loss", "The z-loss penalises large logits: squared, it grows fast with them, so it keeps the "
                   "router's numbers small and its softmax stable in low precision (ST-MoE adds it with a small "
                   "weight).",
                   (reason(rows), line("L_z = (1/T) · Σ_t (ln Σ exp(z_t))²", term, value, ["z_loss[1][1]"])))
