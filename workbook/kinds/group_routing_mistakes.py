"""The group-routing kind's common mistakes, each made on purpose: the sheet solved the wrong way.

Each takes a solved variant (or one holding the learner's own numbers: diagnosis.with_learner) and
returns the steps it changes, from the step where it starts on; {} where it cannot happen on this
variant or changes nothing. Leaves out: naming them to a learner (check.py, diagnosis.py).
"""

from sympy import Integer

from workbook.kinds.group_routing_rules import (V2_SCALE, V3_SCALE, plain_top, ranked, route, weights_v2,
                                                weights_v3)


def _spec(sol):
    spec = sol.spec
    return spec["variant"], spec["group_size"], spec["topk_group"], spec["top_k"]


def _selection(sol):
    return sol.step("selection" if sol.spec["variant"] == "v3" else "probs").exact


def _affinity(sol):
    return sol.step("sigmoid" if sol.spec["variant"] == "v3" else "probs").exact


def _indices(rows) -> tuple:
    return tuple(tuple(Integer(e + 1) for e in row) for row in rows)


def _gates(sol, top) -> dict:
    """The weights from the chosen experts `top` (0-based), the variant's own rule."""
    variant = sol.spec["variant"]
    if variant == "device":
        return {}
    weigh = weights_v3 if variant == "v3" else weights_v2
    return {"gates": tuple(weigh(row, t) for row, t in zip(_affinity(sol), top))}


def _rerouted(sol, how: str) -> dict:
    """Every token routed again with group score `how` ('best', 'top2', 'all'), from the group
    scores on; {} when the group scores come out as the key's."""
    variant, size, keep, k = _spec(sol)
    unit = "device" if variant == "device" else "group"
    routed = [route(row, size, keep, k, how) for row in _selection(sol)]
    scores = tuple(r[0] for r in routed)
    if scores == sol.step(f"{unit}_score").exact:
        return {}
    top = [r[2] for r in routed]
    kept = tuple(r[1] for r in routed)
    return {f"{unit}_score": scores, f"{unit}_kept": kept, "topk": _indices(top)} | _gates(sol, top)


def _best_not_top2(sol) -> dict:
    """V3: a group scored by its single best s + b."""
    return _rerouted(sol, "best") if sol.spec["variant"] == "v3" else {}


def _top2_not_best(sol) -> dict:
    """V2 and device: a group scored by the sum of its two largest affinities (V3's rule)."""
    return _rerouted(sol, "top2") if sol.spec["variant"] != "v3" else {}


def _sum_of_all(sol) -> dict:
    """Every variant: a group scored by the sum of all its experts (with groups of 2, the same as
    the sum of the two largest: named by that mistake, or no mistake in V3)."""
    return _rerouted(sol, "all") if sol.spec["group_size"] > 2 else {}


def _limit_ignored(sol) -> dict:
    """The top-k over all experts, the kept groups (devices) left out."""
    k = sol.spec["top_k"]
    top = [plain_top(row, k) for row in _selection(sol)]
    if _indices(top) == sol.step("topk").exact:
        return {}
    return {"topk": _indices(top)} | _gates(sol, top)


def _chosen(sol) -> list:
    return [[int(e) - 1 for e in row] for row in sol.step("topk").exact]


def _bias_in_weights(sol) -> dict:
    """V3: the weights made from s + b, renormalised and scaled."""
    if sol.spec["variant"] != "v3":
        return {}
    sel = sol.step("selection").exact
    picked = [[sel[t][e] for e in row] for t, row in enumerate(_chosen(sol))]
    if any(sum(row) == 0 for row in picked):
        return {}
    return {"gates": tuple(tuple(V3_SCALE * v / sum(row) for v in row) for row in picked)}


def _not_renormalised(sol) -> dict:
    """V3: 2.5 · s, without dividing by the chosen s' sum."""
    if sol.spec["variant"] != "v3":
        return {}
    s = sol.step("sigmoid").exact
    return {"gates": tuple(tuple(V3_SCALE * s[t][e] for e in row) for t, row in enumerate(_chosen(sol)))}


def _renormalised(sol) -> dict:
    """V2: 16 · P renormalised over the chosen experts (as V3 and Mixtral do)."""
    if sol.spec["variant"] != "v2":
        return {}
    return {"gates": tuple(tuple(V2_SCALE * v / sum(row) for v in row) for row in sol.step("gates").exact)}


def _scale_left_out(sol) -> dict:
    """V3 and V2: the weights without routed_scaling_factor (2.5 or 16)."""
    variant = sol.spec["variant"]
    if variant == "device":
        return {}
    scale = V3_SCALE if variant == "v3" else V2_SCALE
    return {"gates": tuple(tuple(v / scale for v in row) for row in sol.step("gates").exact)}


def _devices_by_count(sol) -> dict:
    """Device: the M devices holding the most of the token's plain top-k experts (ties by their
    best affinity), then the top-k within them."""
    if sol.spec["variant"] != "device":
        return {}
    _, size, keep, k = _spec(sol)
    P, D = sol.step("probs").exact, sol.spec["groups"]
    kept_rows, top = [], []
    for row in P:
        counts = [0] * D
        for e in plain_top(row, k):
            counts[e // size] += 1
        bests = [max(row[d * size:(d + 1) * size]) for d in range(D)]
        kept = set(sorted(range(D), key=lambda d: (-counts[d], -bests[d], d))[:keep])
        kept_rows.append(tuple(Integer(int(d in kept)) for d in range(D)))
        top.append(ranked(row, [e for e in range(len(row)) if e // size in kept])[:k])
    if tuple(kept_rows) == sol.step("device_kept").exact:
        return {}
    return {"device_kept": tuple(kept_rows), "topk": _indices(top)}


def _one_way(sol) -> dict:
    """Device: the bytes counted for the dispatch only; the combine sends every output back."""
    if sol.spec["variant"] != "device":
        return {}
    pairs, values, both = sol.step("all_to_all").exact
    one = tuple(b / 2 for b in both)
    return {"all_to_all": (pairs, values, one), "saved": (one[1] - one[0],)}


MISTAKES = (
    ("a group's score taken as its single best s + b; DeepSeek-V3 adds its two largest", _best_not_top2),
    ("a group's score taken as the sum of its two largest (V3's rule); DeepSeek-V2 takes its single best",
     _top2_not_best),
    ("a group's score taken as the sum of all its experts", _sum_of_all),
    ("the top-k taken over all experts, ignoring the groups (devices) kept", _limit_ignored),
    ("the bias b used in the weights; it only picks the experts", _bias_in_weights),
    ("the weights not renormalised: DeepSeek-V3 divides the chosen s by their sum", _not_renormalised),
    ("the weights renormalised: DeepSeek-V2 keeps the chosen affinities as they are (times 16)", _renormalised),
    ("the routed scaling factor (2.5 in V3, 16 in V2) left out of the weights", _scale_left_out),
    ("devices chosen by how many of the token's top-k experts they hold, not by their best affinity",
     _devices_by_count),
    ("the all-to-all counted one way: the combine sends every output back", _one_way),
)
