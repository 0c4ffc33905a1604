"""The group-routing kind's carried errors: each later step worked from the learner's own numbers.

V3: s + b from their s. Every variant: the group (device) scores from their s + b (V3) or
affinities; the kept groups from their group scores; the top-k from their s + b or affinities and
their kept groups; the weights from their s or affinities and their top-k. Device: the plain top-k
from their affinities; the pairs crossing and the devices reached from their two top-k tables; the
all-to-all from their crossing pairs; the saving from their all-to-all. A table of choices (kept
groups, top-k) is taken from the learner row by row where it is a valid choice, else the key's; a
row whose choice would hang on a tie in their numbers is not followed.
Leaves out: the first step (from the given scores) and the checking itself (diagnosis.py).
"""

from fractions import Fraction

from workbook.kinds.group_routing_rules import crossing, devices_used, group_scores, ranked
from workbook.kinds.own_numbers import own_grid, row, whole

_SCALE = {"v3": Fraction(5, 2), "v2": Fraction(16)}


def _clear(values, n: int) -> bool:
    """The n + 1 largest (as many as there are) all differ: no tie decides the first n or their order."""
    head = sorted(values, reverse=True)[:n + 1]
    return len(set(head)) == len(head)


def _kept_rows(sol, learner: dict, unit: str) -> dict:
    """{t: kept flags (0/1)} of the learner's where valid (exactly topk_group ones), else the key's."""
    G, keep = sol.spec["groups"], sol.spec["topk_group"]
    grid = own_grid(learner, f"{unit}_kept")
    out = {}
    for t, key in enumerate(sol.step(f"{unit}_kept").exact, 1):
        theirs = row(grid, t, G, whole)
        ok = theirs is not None and set(theirs) <= {0, 1} and sum(theirs) == keep
        out[t] = theirs if ok else [int(v) for v in key]
    return out


def _top_rows(sol, learner: dict, step_id: str) -> dict:
    """{t: chosen experts (0-based)}: the learner's row where it is k different experts 1..E, else the key's."""
    E, k = sol.spec["groups"] * sol.spec["group_size"], sol.spec["top_k"]
    grid = own_grid(learner, step_id)
    out = {}
    for t, key in enumerate(sol.step(step_id).exact, 1):
        theirs = row(grid, t, k, whole)
        ok = theirs is not None and len(set(theirs)) == k and all(1 <= e <= E for e in theirs)
        out[t] = [e - 1 for e in theirs] if ok else [int(e) - 1 for e in key]
    return out


def _rows(learner: dict, step_id: str, T: int, n: int) -> dict:
    grid = own_grid(learner, step_id)
    return {t: r for t in range(1, T + 1) if (r := row(grid, t, n)) is not None}


def carried(sol, step_id: str, learner: dict):
    """(source step(s), {ref: value}) of `step_id` from the learner's own earlier boxes (see the
    module's docstring); None when it follows nothing of theirs. Sums, comparisons and one division
    per row: bounded."""
    spec, p = sol.spec, sol.problem
    variant, T, G, size = spec["variant"], spec["tokens"], spec["groups"], spec["group_size"]
    keep, k, E = spec["topk_group"], spec["top_k"], spec["groups"] * spec["group_size"]
    unit = "device" if variant == "device" else "group"
    source = "selection" if variant == "v3" else "probs"
    first = "sigmoid" if variant == "v3" else "probs"
    out, src = {}, None
    if step_id == "selection" and variant == "v3":
        bias = [Fraction(b, 10) for b in p.bias]
        src = "sigmoid"
        for t, s in _rows(learner, "sigmoid", T, E).items():
            out.update({f"selection[{t}][{e + 1}]": v + bias[e] for e, v in enumerate(s)})
    elif step_id == f"{unit}_score":
        src = source
        how = "top2" if variant == "v3" else "best"
        for t, sel in _rows(learner, source, T, E).items():
            out.update({f"{step_id}[{t}][{g + 1}]": v for g, v in enumerate(group_scores(sel, size, how))})
    elif step_id == f"{unit}_kept":
        src = f"{unit}_score"
        for t, scores in _rows(learner, src, T, G).items():
            order = ranked(scores)
            if keep < G and scores[order[keep - 1]] == scores[order[keep]]:
                continue
            out.update({f"{step_id}[{t}][{g + 1}]": Fraction(int(g in order[:keep])) for g in range(G)})
    elif step_id in ("topk", "topk_all"):
        src = source if step_id == "topk_all" else (source, f"{unit}_kept")
        kept = _kept_rows(sol, learner, unit)
        for t, sel in _rows(learner, source, T, E).items():
            among = range(E) if step_id == "topk_all" else [e for e in range(E) if kept[t][e // size]]
            if not _clear([sel[e] for e in among], k):
                continue
            out.update({f"{step_id}[{t}][{r + 1}]": Fraction(e + 1) for r, e in enumerate(ranked(sel, among)[:k])})
    elif step_id == "gates" and variant != "device":
        src, top = (first, "topk"), _top_rows(sol, learner, "topk")
        for t, s in _rows(learner, first, T, E).items():
            picked = [s[e] for e in top[t]]
            if variant == "v3":
                total = sum(picked)
                if total <= 0:
                    continue
                picked = [v / total for v in picked]
            out.update({f"gates[{t}][{r + 1}]": _SCALE[variant] * v for r, v in enumerate(picked)})
    elif step_id in ("crossing", "devices") and variant == "device":
        src = ("topk", "topk_all")
        tables = (_top_rows(sol, learner, "topk"), _top_rows(sol, learner, "topk_all"))
        for t in range(1, T + 1):
            for c, table in enumerate(tables):
                v = crossing(table[t], p.home[t - 1], size) if step_id == "crossing" else devices_used(table[t], size)
                out[f"{step_id}[{t}][{c + 1}]"] = Fraction(v)
    elif step_id == "all_to_all" and variant == "device":
        src = "crossing"
        rows = _rows(learner, "crossing", T, 2)
        if len(rows) == T and all(v.denominator == 1 and 0 <= v <= k for r in rows.values() for v in map(Fraction, r)):
            d, nbytes = spec["d_model"], spec["bytes"]
            for c in range(2):
                n = sum(Fraction(r[c]) for r in rows.values())
                for j, v in enumerate((n, n * d, 2 * n * d * nbytes)):
                    out[f"all_to_all[{j + 1}][{c + 1}]"] = v
    elif step_id == "saved" and variant == "device":
        src = "all_to_all"
        a, b = (whole(learner.get(f"all_to_all[3][{c}]")) for c in (1, 2))
        if a is not None and b is not None:
            out["saved[1][1]"] = Fraction(b - a)
    return (src, out) if out else None
