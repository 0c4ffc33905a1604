"""The routing sheets' worked solutions (token choice, Switch, expert choice), in the variant's numbers.

For every step: what it means, the operation written out for each row's first box (every box of a
one-value row), and the reason behind every choice: a token's top k and the tie rule, the tokens
each expert takes, which choice a full expert drops and why, which token jitter moves. Each line
is built from the solved steps (routing_steps.py) with working.py's terms; solutions.py checks it
against the key. Leaves out: the arithmetic itself (routing_steps.py) and the sheet (routing_sheet.py).
"""

import sympy

from workbook.formatting import pretty, tenths
from workbook.kinds.routing_steps import TOKEN_CHOICE
from workbook.layout import ordinal
from workbook.spec import GATE_BASE, capacity_factor, renormalize, top_k
from workbook.working import Term, Working, call, claim, factor, joined, line, num, power, reason, shown, ties


def working(sol) -> list[Working]:
    spec, p = sol.spec, sol.problem
    out = [_scores(sol), _powers(sol), _row_sums(sol), _probs(sol)]
    if spec.kind in TOKEN_CHOICE:
        out += [_topk(sol), _weights(sol), _routing(sol), _load(sol)]
        if capacity_factor(spec) is not None:
            out += [_capacity(sol), _kept(sol), _served(sol), _dropped(sol, "kept"), _min_cf(sol)]
        if p.jitter:
            out += _jitter(sol)
    else:
        out += [_token_index(sol), _gating(sol), _coverage(sol), _dropped(sol, "coverage")]
    if p.experts:
        out += _ffn(sol)
    return out


def _base(sol):
    return GATE_BASE[sol.spec["gate"]]


def _dot(xs, ws) -> Term:
    """1·2 + 0·(−1) + 2·1"""
    return joined((joined((factor(x), factor(w)), "·") for x, w in zip(xs, ws)), "+")


def _scores(sol) -> Working:
    X, W = sol.problem.X, sol.problem.W_router
    S = sol.step("scores").exact
    lines = [line(f"S[t{t + 1},E1] = x_t{t + 1} · w_E1", _dot(X[t], W[0]), S[t][0], [f"scores[{t + 1}][1]"])
             for t in range(len(X))]
    return Working("scores", "A score is the dot product of a token with an expert's router row: the larger it "
                   "is, the better the token matches that expert. Each box of a row works the same way with "
                   "the next column of W_rᵀ.", tuple(lines))


def _powers(sol) -> Working:
    b, S, P = _base(sol), sol.step("scores").exact, sol.step("powers").exact
    lines = []
    for t, row in enumerate(S):
        low = min(row)
        step = Term(f"{b}^({pretty(row[0])} − {factor(low).text})", f"{'E' if b == 'e' else b}**(({row[0]}) - ({low}))")
        lines.append(line(f"t{t + 1}: row min {pretty(low)}; {b}^(S[t{t + 1},E1] − min)", step, P[t][0],
                          [f"powers[{t + 1}][1]"], then=power(b, row[0] - low)))
    return Working("powers", f"Softmax with base {b}: subtracting the row minimum leaves the probabilities the "
                   "same (it cancels in the division) and keeps every power small and whole"
                   + ("" if b != "e" else " (in base e, exact powers of e)") + ".", tuple(lines))


def _row_sums(sol) -> Working:
    P, sums = sol.step("powers").exact, sol.step("row_sum").exact
    lines = [line(f"Σ t{t + 1}", joined((num(v) for v in P[t]), "+"), sums[t], [f"row_sum[{t + 1}][1]"])
             for t in range(len(P))]
    return Working("row_sum", "The row sum is the softmax's denominator: it makes each token's probabilities "
                   "add up to 1.", tuple(lines))


def _probs(sol) -> Working:
    P, sums, probs = sol.step("powers").exact, sol.step("row_sum").exact, sol.step("probs").exact
    lines = [line(f"P[t{t + 1},E1] = power / Σ t{t + 1}", joined((num(P[t][0]), factor(sums[t])), "/"), probs[t][0],
                  [f"probs[{t + 1}][1]"]) for t in range(len(P))]
    return Working("probs", "Each row of P is a probability distribution over the experts: how much the router "
                   "wants to send the token to each.", tuple(lines))


def _ranked_text(values, picked, prefix) -> str:
    return ", ".join(f"{prefix}{i + 1} ({pretty(values[i])})" for i in picked)


def _topk(sol) -> Working:
    k = top_k(sol.spec)
    S, probs = sol.step("scores").exact, sol.step("probs").exact
    top = sol.step("topk").exact
    lines = []
    for t, row in enumerate(top):
        picked = [int(e) - 1 for e in row]
        lines.append(claim(f"t{t + 1}: the {k} largest P: {_ranked_text(probs[t], picked, 'E')}" if k > 1 else
                           f"t{t + 1}: the largest P: {_ranked_text(probs[t], picked, 'E')}",
                           tuple(row), [f"topk[{t + 1}][{r + 1}]" for r in range(k)]))
        lines += ties(S[t], picked, f"t{t + 1}", "E")
    return Working("topk", "The largest probabilities belong to the largest scores, so the scores already decide: "
                   "each token goes to the experts it matches best. A tie goes to the lower expert number.",
                   tuple(lines))


def _weights(sol) -> Working:
    powers, probs = sol.step("powers").exact, sol.step("probs").exact
    top, w = sol.step("topk").exact, sol.step("weights").exact
    lines = []
    for t, row in enumerate(top):
        label = f"w[t{t + 1},{ordinal(0)}]"
        if renormalize(sol.spec) and len(row) > 1:  # the row sum cancels: powers over the chosen powers
            chosen = joined((num(powers[t][int(e) - 1]) for e in row), "+")
            term = joined((num(powers[t][int(row[0]) - 1]), Term(f"({chosen.text})", chosen.src)), "/")
            label += f" = P[t{t + 1},E{int(row[0])}] / (" + " + ".join(f"P[t{t + 1},E{int(e)}]" for e in row) + ")"
        else:
            term = num(probs[t][int(row[0]) - 1])
            label += f" = P[t{t + 1},E{int(row[0])}]"
        lines.append(line(label, term, w[t][0], [f"weights[{t + 1}][1]"]))
    meaning = ("Renormalising makes a token's chosen weights add up to 1, so its output is a weighted average "
               "of its experts' outputs (Mixtral)." if renormalize(sol.spec) else
               "Without renormalising, a token's weights are its raw probabilities: they add up to less than 1.")
    return Working("weights", meaning, tuple(lines))


def _routing(sol) -> Working:
    k = top_k(sol.spec)
    routing = sol.step("routing").exact
    lines = []
    for e, row in enumerate(routing):
        if row:
            lines.append(claim(f"E{e + 1}: the tokens with E{e + 1} among their top {k}: "
                               + ", ".join(f"t{int(t)}" for t in row), tuple(row),
                               [f"routing[{e + 1}][{j + 1}]" for j in range(len(row))]))
        else:
            lines.append(reason(f"E{e + 1}: no token has it among its top {k}: its row stays empty."))
    return Working("routing", "Read the top-k table by expert instead of by token: who each expert must serve.",
                   tuple(lines))


def _load(sol) -> Working:
    load = sol.step("load").exact
    lines = [claim(f"load E{e + 1} = {pretty(n)} token{'s' if n != 1 else ''}", n, [f"load[{e + 1}][1]"])
             for e, n in enumerate(load)]
    T, k, E = sol.spec["tokens"], top_k(sol.spec), sol.spec["experts"]
    lines.append(reason(f"The loads add up to T × k = {T} × {k} = {T * k}; a fair share is T × k / E = "
                        f"{shown(sympy.Rational(T * k, E))} per expert."))
    return Working("load", "Token choice does not balance itself: an expert many tokens like gets more than its "
                   "fair share.", tuple(lines))


def _capacity(sol) -> Working:
    spec = sol.spec
    cf, k, T, E = capacity_factor(spec), top_k(spec), spec["tokens"], spec["experts"]
    C = sol.step("capacity").exact[0]
    cf_text = spec.params["capacity_factor"]
    term = call("floor", Term(f"{cf_text}·{k}·{T}/{E}", f"({sympy.Rational(cf.numerator, cf.denominator)})*{k}*{T}/{E}"),
                "⌊{}⌋")
    return Working("capacity", "Each expert has C slots, a capacity factor times its fair share, rounded down: "
                   "the buffer a real layer allocates per expert.",
                   (line("C = ⌊cf·k·T/E⌋", term, C, ["capacity[1][1]"]),))


def _kept(sol) -> Working:
    k, C = top_k(sol.spec), int(sol.step("capacity").exact[0])
    top = [[int(e) - 1 for e in row] for row in sol.step("topk").exact]
    kept = sol.step("kept").exact
    holds = [[] for _ in range(sol.spec["experts"])]
    lines = [reason(f"Choices claim slots {'in token order' if k == 1 else 'every 1st choice in token order, then every 2nd choice, ...'}; "
                    f"each expert has C = {C}.")]
    for r in range(k):
        for t, row in enumerate(top):
            e = row[r]
            cell = [f"kept[{t + 1}][{r + 1}]"]
            if kept[t][r]:
                holds[e].append(t)
                if t == 0 or len(holds[e]) == C:
                    full = f"; E{e + 1} is now full" if len(holds[e]) == C else ""
                    lines.append(claim(f"t{t + 1}'s {ordinal(r)} choice E{e + 1}: slot {len(holds[e])} of {C}{full}",
                                       kept[t][r], cell))
            else:
                lines.append(claim(f"t{t + 1}'s {ordinal(r)} choice E{e + 1}: dropped, E{e + 1} is full after "
                                   + ", ".join(f"t{i + 1}" for i in holds[e]), kept[t][r], cell))
    lines.append(reason("Every other choice finds a free slot: 1."))
    return Working("kept", "A capacity caps each expert's work; the choices that come too late are dropped, and "
                   "GShard's priority lets every token's first choice in before any second choice.", tuple(lines))


def _served(sol) -> Working:
    served = sol.step("served").exact
    lines = []
    for e, row in enumerate(served):
        if row:
            lines.append(claim(f"E{e + 1} serves " + ", ".join(f"t{int(t)}" for t in row) + " (in slot order)",
                               tuple(row), [f"served[{e + 1}][{j + 1}]" for j in range(len(row))]))
        else:
            lines.append(reason(f"E{e + 1} serves no token."))
    return Working("served", "The kept choices, read by expert: the rows each expert's FFN computes.", tuple(lines))


def _dropped(sol, source: str) -> Working:
    dropped = sol.step("dropped").exact[0]
    if source == "kept":
        why, every = "no choice kept", "Every token keeps at least one choice"
        meaning = ("A dropped token gets no expert at all: the layer gives it 0 and only the residual carries it "
                   "on. A larger capacity factor drops fewer tokens and costs more memory.")
    else:
        why, every = "coverage 0: no expert chose it", "Every token is chosen by at least one expert"
        meaning = ("Expert choice can never overload an expert (each takes exactly its c tokens), but a token no "
                   "expert wants is dropped.")
    if dropped:
        lines = (claim(f"Dropped ({why}): " + ", ".join(f"t{int(t)}" for t in dropped), tuple(dropped),
                       [f"dropped[1][{j + 1}]" for j in range(len(dropped))]),)
    else:
        lines = (reason(f"{every}: none is dropped (write 'none')."),)
    return Working("dropped", meaning, lines)


def _min_cf(sol) -> Working:
    spec = sol.spec
    most = max(int(v) for v in sol.step("load").exact)
    k, T, E = top_k(spec), spec["tokens"], spec["experts"]
    term = joined((Term(f"{most}·{E}", f"{most}*{E}"), Term(f"({k}·{T})", f"({k}*{T})")), "/")
    return Working("min_capacity_factor", "Nothing is dropped once C reaches the largest load; the capacity factor "
                   "that gives it is the smallest safe one for these tokens.",
                   (line("cf = largest load × E / (k × T)", term, sol.step("min_capacity_factor").exact[0],
                         ["min_capacity_factor[1][1]"]),))


def _jitter(sol) -> list[Working]:
    X, W, u = sol.problem.X, sol.problem.W_router, sol.problem.jitter
    js, choice, changed = (sol.step(i).exact for i in ("jitter_scores", "jitter_choice", "changed"))
    first = [int(row[0]) for row in sol.step("topk").exact]
    scores = []
    for t in range(len(X)):
        terms = (joined((Term(tenths(sympy.Rational(u[t][i], 10)), f"({sympy.Rational(u[t][i], 10)})"), factor(X[t][i]),
                         factor(W[0][i])), "·") for i in range(len(X[t])))
        scores.append(line(f"S′[t{t + 1},E1]", joined(terms, "+"), js[t][0], [f"jitter_scores[{t + 1}][1]"]))
    picks = [claim(f"t{t + 1}: the largest S′ is E{int(choice[t])} ({tenths(js[t][int(choice[t]) - 1])})",
                   choice[t], [f"jitter_choice[{t + 1}][1]"]) for t in range(len(X))]
    moves = [claim(f"t{t + 1} moves from E{first[t]} to E{int(choice[t])}: 1", changed[t], [f"changed[{t + 1}][1]"])
             for t in range(len(X)) if changed[t]]
    moves.append(reason("Every other token keeps its expert: 0."))
    return [Working("jitter_scores", "Jitter multiplies each input by a random factor near 1 (Switch: 0.8 to 1.2, "
                    "during training only), so the router sees slightly different tokens.", tuple(scores)),
            Working("jitter_choice", "A token whose two best scores are close can change expert: jitter makes "
                    "the router explore.", tuple(picks)),
            Working("changed", "Only the tokens near a tie move; a token with a clear favourite keeps it.",
                    tuple(moves))]


def _token_index(sol) -> Working:
    c = sol.spec["capacity"]
    probs, index = sol.step("probs").exact, sol.step("token_index").exact
    lines = []
    for e, row in enumerate(index):
        column = [probs[t][e] for t in range(len(probs))]
        picked = [int(t) - 1 for t in row]
        lines.append(claim(f"E{e + 1}: the {c} largest P in column E{e + 1}: {_ranked_text(column, picked, 't')}",
                           tuple(row), [f"token_index[{e + 1}][{j + 1}]" for j in range(c)]))
        lines += ties(column, picked, f"E{e + 1}", "t")
    return Working("token_index", "In expert choice the experts choose: each expert takes the c tokens that want it "
                   "most, reading P by column. A tie goes to the lower token number.", tuple(lines))


def _gating(sol) -> Working:
    probs, index, G = sol.step("probs").exact, sol.step("token_index").exact, sol.step("gating").exact
    lines = [line(f"G[E{e + 1},1st] = P[t{int(row[0])},E{e + 1}]", num(probs[int(row[0]) - 1][e]), G[e][0],
                  [f"gating[{e + 1}][1]"]) for e, row in enumerate(index)]
    return Working("gating", "The gate weight is the chosen token's probability for that expert, not renormalised.",
                   tuple(lines))


def _coverage(sol) -> Working:
    index, cov = sol.step("token_index").exact, sol.step("coverage").exact
    lines = []
    for t, n in enumerate(cov):
        who = [f"E{e + 1}" for e, row in enumerate(index) if sympy.Integer(t + 1) in row]
        lines.append(claim(f"t{t + 1}: chosen by {', '.join(who) if who else 'no expert'}", n, [f"coverage[1][{t + 1}]"]))
    E, c = sol.spec["experts"], sol.spec["capacity"]
    lines.append(reason(f"The coverages add up to E × c = {E} × {c} = {E * c}: every expert fills all its slots."))
    return Working("coverage", "Coverage counts how many experts process a token: some get several, some none.",
                   tuple(lines))


def _ffn(sol) -> list[Working]:
    p = sol.problem
    X = p.X
    hidden, relu, outs, y = (sol.step(i).exact for i in ("ffn_hidden", "ffn_relu", "ffn_out", "output"))
    if "served" in sol.has:
        tokens = [[int(t) for t in r] for r in sol.step("served").exact]
    elif "routing" in sol.has:
        tokens = [[int(t) for t in r] for r in sol.step("routing").exact]
    else:
        tokens = [[int(t) for t in r] for r in sol.step("token_index").exact]
    h_lines, r_lines, o_lines = [], [], []
    for e, ex in enumerate(p.experts):
        if not tokens[e]:
            h_lines.append(reason(f"E{e + 1} has no token: its grids stay empty."))
            continue
        t = tokens[e][0]
        col = [row[0] for row in ex.W1]
        term = joined((_dot(X[t - 1], col), num(ex.b1[0])), "+")
        h_lines.append(line(f"E{e + 1}, t{t}: H[1,h1] = x_t{t} · W1[:,1] + b1[1]", term, hidden[e][0][0],
                            [f"ffn_hidden[{e + 1}][1][1]"]))
        negative = next(((i, j) for i, row in enumerate(hidden[e]) for j, v in enumerate(row) if v < 0), None)
        if negative:
            i, j = negative
            r_lines.append(line(f"E{e + 1}, t{tokens[e][i]}: ReLU(H[{i + 1},h{j + 1}])",
                                call("Max", Term(f"{pretty(hidden[e][i][j])}, 0", f"({hidden[e][i][j]}), 0"), "max({})"),
                                relu[e][i][j], [f"ffn_relu[{e + 1}][{i + 1}][{j + 1}]"]))
        w2 = [row[0] for row in ex.W2]
        o_lines.append(line(f"E{e + 1}, t{t}: O[1,1] = ReLU(H)[1] · W2[:,1] + b2[1]",
                            joined((_dot(relu[e][0], w2), num(ex.b2[0])), "+"), outs[e][0][0],
                            [f"ffn_out[{e + 1}][1][1]"]))
    r_lines.append(reason("ReLU keeps a positive value and turns a negative one into 0."))
    weights = _weights_of(sol, tokens)
    y_lines = []
    for t in range(len(X)):
        parts = [(w, e, i) for (tt, e, i, w) in weights if tt == t + 1]
        if not parts:
            y_lines.append(claim(f"y[t{t + 1}] = 0: no expert took t{t + 1} (the residual carries it on)", y[t][0],
                                 [f"output[{t + 1}][1]"]))
            continue
        term = joined((joined((factor(w), factor(outs[e][i][0])), "·") for w, e, i in parts), "+")
        y_lines.append(line(f"y[t{t + 1},1] = " + " + ".join(f"w·O_E{e + 1}" for _, e, _ in parts), term, y[t][0],
                            [f"output[{t + 1}][1]"]))
    return [Working("ffn_hidden", "Each expert is a small FFN applied only to its own tokens: copy their rows of X, "
                    "then multiply by W1 and add b1 (the 1 column of [X_e 1] brings the bias in).", tuple(h_lines)),
            Working("ffn_relu", "The non-linearity, applied box by box.", tuple(r_lines)),
            Working("ffn_out", "The second layer maps back to the model width d.", tuple(o_lines)),
            Working("output", "The layer's output mixes each token's expert outputs by its gate weights; "
                    "only the chosen experts did any work.", tuple(y_lines))]


def _weights_of(sol, tokens) -> list:
    """(token, expert index, row in the expert's grids, gate weight) for every expert row."""
    out = []
    if "gating" in sol.has:
        G = sol.step("gating").exact
        for e, row in enumerate(tokens):
            out += [(t, e, i, G[e][i]) for i, t in enumerate(row)]
        return out
    top, w = sol.step("topk").exact, sol.step("weights").exact
    for e, row in enumerate(tokens):
        for i, t in enumerate(row):
            r = [int(v) for v in top[t - 1]].index(e + 1)
            out.append((t, e, i, w[t - 1][r]))
    return out

