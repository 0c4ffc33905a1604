"""The group-routing sheet's worked solutions, in the variant's numbers.

For every step with boxes: what it means, each row's first box written out (the affinities, s + b,
the group scores, the weights), and the reason behind every choice: which groups a token keeps and
why, which experts it takes from them, and what it would have taken without the limit; for the
device variant, which pairs cross and what the all-to-all carries. Each line is built from the
solved steps and the problem with working.py's terms; solutions.py checks it against the key.
Leaves out: the arithmetic (group_routing, group_routing_rules) and the sheet.
"""

import sympy

from workbook.formatting import pretty, tenths
from workbook.kinds.group_routing_rules import plain_top, ranked
from workbook.kinds.shared_experts_working import softmax_lines
from workbook.working import Term, Working, claim, factor, joined, line, num, power, reason


def working(sol) -> list[Working]:
    variant = sol.spec["variant"]
    out = [_sigmoid(sol), _selection(sol)] if variant == "v3" else [_probs(sol)]
    out += [_scores(sol), _kept(sol), _topk(sol)]
    if variant == "device":
        out += [_topk_all(sol), _crossing(sol), _devices(sol), _all_to_all(sol), _saved(sol)]
    else:
        out.append(_gates(sol))
    return out


def _unit(sol) -> tuple[str, str]:
    """('group', 'G') or ('device', 'd')."""
    return ("device", "d") if sol.spec["variant"] == "device" else ("group", "G")


def _selection_values(sol):
    return sol.step("selection" if sol.spec["variant"] == "v3" else "probs").exact


def _name(sol) -> str:
    return "s + b" if sol.spec["variant"] == "v3" else "P"


def _experts(values, picked) -> str:
    """'E1 (3/4), E5 (1/2)'."""
    return ", ".join(f"E{e + 1} ({pretty(values[e])})" for e in picked)


def _probs(sol) -> Working:
    return Working("probs", "DeepSeek-V2's affinities: a softmax (base 3 here) over all the experts of the token. "
                   "Subtracting the row minimum cancels in the division and keeps the powers whole.",
                   softmax_lines(sol.problem.S, sol.step("probs").exact))


def _sigmoid(sol) -> Working:
    S, s = sol.problem.S, sol.step("sigmoid").exact
    lines = []
    for t, row in enumerate(S):
        p = power(3, row[0])
        term = joined((p, Term(f"({p.text} + 1)", f"({p.src}) + 1")), "/")
        lines.append(line(f"t{t + 1}: S[t{t + 1},E1] = {pretty(row[0])}; s = 3^S / (3^S + 1)", term, s[t][0],
                          [f"sigmoid[{t + 1}][1]"]))
    return Working("sigmoid", "DeepSeek-V3 scores each expert on its own with a sigmoid (base 3 here): an affinity "
                   "between 0 and 1, no softmax across the experts; equal scores give equal s.", tuple(lines))


def _selection(sol) -> Working:
    s, sel, bias = sol.step("sigmoid").exact, sol.step("selection").exact, sol.problem.bias
    b0 = sympy.Rational(bias[0], 10)
    b_term = Term(tenths(b0) if b0 else "0", f"({b0})")
    lines = [line(f"(s + b)[t{t + 1},E1] = s + b[E1]", joined((num(s[t][0]), b_term), "+"), sel[t][0],
                  [f"selection[{t + 1}][1]"]) for t in range(len(s))]
    return Working("selection", "The bias b moves an expert up or down the ranking when experts are chosen (groups "
                   "and experts alike), and nowhere else: the weights use s alone.", tuple(lines))


def _scores(sol) -> Working:
    unit, mark = _unit(sol)
    size, v3 = sol.spec["group_size"], sol.spec["variant"] == "v3"
    values, scores = _selection_values(sol), sol.step(f"{unit}_score").exact
    lines = []
    for t, row in enumerate(values):
        block = row[:size]
        if v3:
            two = ranked(block)[:2]
            lines.append(line(f"t{t + 1}: {mark}1 = the two largest s + b of E1..E{size}: "
                              + " + ".join(f"E{e + 1}" for e in two),
                              joined((num(block[e]) for e in two), "+"), scores[t][0], [f"group_score[{t + 1}][1]"]))
        else:
            e = ranked(block)[0]
            lines.append(claim(f"t{t + 1}: {mark}1 = its best affinity, P[E{e + 1}] = {pretty(block[e])}",
                               scores[t][0], [f"{unit}_score[{t + 1}][1]"]))
    how = "the sum of its two largest s + b" if v3 else "its single best affinity"
    return Working(f"{unit}_score", f"Each {unit} is scored by {how}: a {unit} is worth visiting when "
                   + ("two of its experts are good, not just one." if v3 else "it holds one very good expert."),
                   tuple(lines))


def _kept(sol) -> Working:
    unit, mark = _unit(sol)
    keep = sol.spec["topk_group"]
    scores, kept = sol.step(f"{unit}_score").exact, sol.step(f"{unit}_kept").exact
    lines = []
    for t, row in enumerate(scores):
        order = ranked(row)
        lines.append(claim(f"t{t + 1}: " + ", ".join(f"{mark}{g + 1} {pretty(row[g])}" for g in order)
                           + f"; the {keep} best: " + ", ".join(f"{mark}{g + 1}" for g in sorted(order[:keep])),
                           tuple(kept[t]), [f"{unit}_kept[{t + 1}][{g + 1}]" for g in range(len(row))]))
    return Working(f"{unit}_kept", f"Each token keeps its {keep} best {unit}s; every expert of the other {unit}s "
                   "is masked out (−∞), however good it is.", tuple(lines))


def _topk(sol) -> Working:
    unit, _ = _unit(sol)
    size, k = sol.spec["group_size"], sol.spec["top_k"]
    values, kept, top = _selection_values(sol), sol.step(f"{unit}_kept").exact, sol.step("topk").exact
    lines = []
    for t, row in enumerate(values):
        picked = [int(e) - 1 for e in top[t]]
        among = [e for e in range(len(row)) if kept[t][e // size]]
        lines.append(claim(f"t{t + 1}: the experts of its kept {unit}s, best first: {_experts(row, ranked(row, among))}"
                           f"; the {k} best: " + ", ".join(f"E{e + 1}" for e in picked),
                           tuple(top[t]), [f"topk[{t + 1}][{r + 1}]" for r in range(k)]))
        plain = plain_top(row, k)
        if set(plain) != set(picked):
            lines.append(reason(f"t{t + 1}: the limit decides: over all experts it would take "
                                + _experts(row, plain) + "."))
    return Working("topk", f"The top-{k} among the kept {unit}s only, by {_name(sol)}: the limit can cost a token an "
                   f"expert it ranks highly, when that expert's {unit} is not kept.", tuple(lines))


def _gates(sol) -> Working:
    top, g = sol.step("topk").exact, sol.step("gates").exact
    v3 = sol.spec["variant"] == "v3"
    aff = sol.step("sigmoid" if v3 else "probs").exact
    lines = []
    for t in range(len(top)):
        chosen = [aff[t][int(e) - 1] for e in top[t]]
        if v3:
            total = joined((num(v) for v in chosen), "+")
            term = Term(f"2.5·{factor(chosen[0]).text} / ({total.text})", f"(5/2)*({chosen[0]})/({total.src})")
            label = f"t{t + 1}: weight of E{int(top[t][0])} = 2.5 · s / Σ chosen s"
        else:
            term = Term(f"16·{factor(chosen[0]).text}", f"16*({chosen[0]})")
            label = f"t{t + 1}: weight of E{int(top[t][0])} = 16 · P"
        lines.append(line(label, term, g[t][0], [f"gates[{t + 1}][1]"]))
    meaning = ("The weights use s without the bias, renormalised over the chosen experts and scaled by 2.5: each "
               "token's weights add up to 2.5." if v3 else
               "DeepSeek-V2 keeps the chosen affinities as they are, times 16: not renormalised, so a token's "
               "weights add up to 16 times the share its chosen experts hold.")
    return Working("gates", meaning, tuple(lines))


def _topk_all(sol) -> Working:
    k, P, plain = sol.spec["top_k"], sol.step("probs").exact, sol.step("topk_all").exact
    lines = [claim(f"t{t + 1}: the {k} best of all: " + _experts(P[t], [int(e) - 1 for e in plain[t]]),
                   tuple(plain[t]), [f"topk_all[{t + 1}][{r + 1}]" for r in range(k)]) for t in range(len(P))]
    return Working("topk_all", "Without the limit, each token takes its best experts wherever they sit.", tuple(lines))


def _where(experts, size: int) -> str:
    """'E1 (d1), E6 (d3)'."""
    return ", ".join(f"E{int(e)} (d{(int(e) - 1) // size + 1})" for e in experts)


def _crossing(sol) -> Working:
    size, home = sol.spec["group_size"], sol.problem.home
    top, plain, c = sol.step("topk").exact, sol.step("topk_all").exact, sol.step("crossing").exact
    lines = [claim(f"t{t + 1} (home d{home[t]}): with the limit {_where(top[t], size)}; without "
                   f"{_where(plain[t], size)}: not on d{home[t]}: {pretty(c[t][0])} and {pretty(c[t][1])}",
                   tuple(c[t]), [f"crossing[{t + 1}][1]", f"crossing[{t + 1}][2]"]) for t in range(len(top))]
    return Working("crossing", "A pair crosses when its expert sits on another device than the token's home: the "
                   "token's vector travels there and the output comes back.", tuple(lines))


def _devices(sol) -> Working:
    size, M = sol.spec["group_size"], sol.spec["topk_group"]
    top, plain, n = sol.step("topk").exact, sol.step("topk_all").exact, sol.step("devices").exact
    lines = []
    for t in range(len(top)):
        a, b = ({(int(e) - 1) // size + 1 for e in r} for r in (top[t], plain[t]))
        lines.append(claim(f"t{t + 1}: with the limit " + ", ".join(f"d{d}" for d in sorted(a)) + "; without "
                           + ", ".join(f"d{d}" for d in sorted(b)), tuple(n[t]),
                           [f"devices[{t + 1}][1]", f"devices[{t + 1}][2]"]))
    return Working("devices", f"What the limit bounds: with it no token reaches more than M = {M} devices, so no "
                   "token talks to many devices at once.", tuple(lines))


def _all_to_all(sol) -> Working:
    d, nbytes = sol.spec["d_model"], sol.spec["bytes"]
    c, rows = sol.step("crossing").exact, sol.step("all_to_all").exact
    lines = []
    for r, name in enumerate(("with the limit", "without")):
        n, values, total = (row[r] for row in rows)
        lines.append(line(f"{name}: crossing pairs", joined((num(row[r]) for row in c), "+"), n,
                          [f"all_to_all[1][{r + 1}]"]))
        lines.append(line(f"{name}: values one way = pairs × d_model", Term(f"{n}·{d}", f"{n}*{d}"), values,
                          [f"all_to_all[2][{r + 1}]"]))
        lines.append(line(f"{name}: bytes both ways = values × {nbytes} × 2", Term(f"{values}·{nbytes}·2",
                                                                                    f"{values}*{nbytes}*2"),
                          total, [f"all_to_all[3][{r + 1}]"]))
    return Working("all_to_all", "Every crossing pair sends a d_model-wide vector to the expert (dispatch) and gets "
                   "one back (combine).", tuple(lines))


def _saved(sol) -> Working:
    rows, saved = sol.step("all_to_all").exact, sol.step("saved").exact[0]
    return Working("saved", "The traffic the device limit saves on this batch.", (
        line("saved = bytes without − bytes with", joined((num(rows[2][1]), num(rows[2][0])), "−"), saved,
             ["saved[1][1]"]),))
