"""The group-routing kind's rules, exactly, on one token's numbers: DeepSeek-V3's and V2's
group-limited selection, and what a device-limited choice sends over the all-to-all.

Experts sit in contiguous groups of `size` (group g holds experts g·size + 1 .. (g + 1)·size; in
the device variant a group is a device). A group's score is a rule over its experts' selection
values (V3: the sum of its two largest; V2: its single best); the `keep` best groups are kept;
the k best experts of the kept groups are chosen, best first. Ties go to the lower number (the
generator keeps every cut clear of them, so the rule never decides a sheet's answer).
route([0.85, 0.35, 0.6, 0.55], 2, 1, 1, top2) -> group scores (6/5, 23/20), kept (1, 0), chosen (0,).
Works on sympy numbers and on Fractions alike (the carried part follows a learner's own numbers
with Fractions). Leaves out: floats (group_routing.forward), the sheet (group_routing_sheet).
"""

from sympy import Integer, Rational

V3_SCALE = Rational(5, 2)   # DeepSeek-V3's routed_scaling_factor
V2_SCALE = Integer(16)      # DeepSeek-V2's routed_scaling_factor


def sigmoid3(n: int) -> Rational:
    """3^n / (3^n + 1): 1 -> 3/4, 0 -> 1/2, −2 -> 1/10."""
    p = Rational(3) ** n
    return p / (p + 1)


def softmax3(row) -> tuple:
    """Base-3 softmax of whole scores, the row minimum subtracted: (1, 0, −1) -> (9/13, 3/13, 1/13)."""
    low = min(row)
    powers = [Integer(3) ** (v - low) for v in row]
    total = sum(powers)
    return tuple(p / total for p in powers)


def top2_sum(values):
    """V3's group score: the sum of the two largest, (0.85, 0.35, 0.6) -> 1.45."""
    return sum(sorted(values, reverse=True)[:2])


def best(values):
    """V2's group (or device) score: the single largest."""
    return max(values)


def total(values):
    """Every expert of the group added up (a mistake: V3 takes only the two largest)."""
    return sum(values)


RULES = {"top2": top2_sum, "best": best, "all": total}


def ranked(values, among=None) -> list[int]:
    """Indices best first, ties to the lower index: (1, 3, 3) -> [1, 2, 0]."""
    return sorted(range(len(values)) if among is None else among, key=lambda i: (-values[i], i))


def group_scores(values, size: int, rule: str) -> tuple:
    """Each group's score by `rule`: (0.85, 0.35, 0.6, 0.55), size 2, top2 -> (1.2, 1.15)."""
    return tuple(RULES[rule](values[g * size:(g + 1) * size]) for g in range(len(values) // size))


def kept_groups(scores, keep: int) -> tuple:
    """1 for each of the `keep` best groups, else 0: (6/5, 23/20), keep 1 -> (1, 0)."""
    chosen = set(ranked(scores)[:keep])
    return tuple(Integer(int(g in chosen)) for g in range(len(scores)))


def chosen(values, kept, size: int, k: int) -> tuple[int, ...]:
    """The k best experts (0-based) of the kept groups, best first."""
    among = [e for e in range(len(values)) if kept[e // size]]
    return tuple(ranked(values, among)[:k])


def route(values, size: int, keep: int, k: int, rule: str) -> tuple:
    """(group scores, kept flags, chosen experts 0-based) of one token."""
    scores = group_scores(values, size, rule)
    kept = kept_groups(scores, keep)
    return scores, kept, chosen(values, kept, size, k)


def plain_top(values, k: int) -> tuple[int, ...]:
    """The k best experts over all groups (no limit), 0-based, best first."""
    return tuple(ranked(values)[:k])


def weights_v3(s, picked, scale=V3_SCALE) -> tuple:
    """The chosen s (no bias) over their sum, times 2.5: s (3/4, 1/2) -> (3/2, 1)."""
    chosen_s = [s[e] for e in picked]
    return tuple(scale * v / sum(chosen_s) for v in chosen_s)


def weights_v2(P, picked, scale=V2_SCALE) -> tuple:
    """The chosen probabilities times 16, not renormalised: P 9/13 -> 144/13."""
    return tuple(scale * P[e] for e in picked)


def crossing(picked, home: int, size: int) -> int:
    """Pairs whose expert is on another device than the token's home (1-based):
    experts (0, 3), size 2, home 1 -> 1."""
    return sum(e // size + 1 != home for e in picked)


def devices_used(picked, size: int) -> int:
    """How many devices hold the chosen experts: (0, 1, 4), size 2 -> 2."""
    return len({e // size for e in picked})


def volume(pairs, d_model: int, nbytes: int) -> tuple:
    """(crossing pairs, values one way, bytes dispatch + combine): 3, 5120, 2 -> (3, 15360, 61440)."""
    values = pairs * d_model
    return (pairs, values, 2 * values * nbytes)
