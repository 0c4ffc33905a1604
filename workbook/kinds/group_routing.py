"""Group-limited routing as DeepSeek publishes it, and DeepSeek-V2's device-limited routing.

Three variants of one kind. `v3` (DeepSeek-V3 inference/model.py Gate; HF models/deepseek_v3):
affinities s = sigmoid (base 3), selection by s + b with a bias b per expert (selection only),
the experts in n_group equal groups, a group scored by the sum of its two largest s + b, the
topk_group best groups kept and the other groups' experts masked, the top-k experts of the kept
groups chosen, weights = the chosen s over their sum times routed_scaling_factor 2.5. `v2`
(DeepSeek-V2's "group_limited_greedy"): softmax affinities (base 3), a group scored by its single
best affinity, weights the chosen affinities times 16, not renormalised. `device`: V2's
device-limited routing, the groups being devices: each token's M best devices by their best
affinity, top-k within them; then the pairs that cross the all-to-all (per pair, there and back,
as in expert_parallel) with the limit and without it, so the learner sees what the limit saves.
Router scores are given; the sheets are hand-sized (at most 8 experts, 4 tokens) and every cut is
clear of ties. Leaves out: the FFNs and the combine (shared_experts has them), the bias update
(shared_experts), node-limited routing across nodes (V3's M = 4 nodes), capacity.
"""

from dataclasses import dataclass

import numpy as np
from sympy import Integer, Rational

from workbook.errors import GenerationError, SpecError
from workbook.kinds.group_routing_carried import carried  # noqa: F401
from workbook.kinds.group_routing_mistakes import MISTAKES  # noqa: F401
from workbook.kinds.group_routing_rules import (crossing, devices_used, plain_top, route, sigmoid3, softmax3,
                                                volume, weights_v2, weights_v3)
from workbook.kinds.group_routing_sheet import conventions, hand_work, layout, title  # noqa: F401
from workbook.kinds.group_routing_working import working  # noqa: F401
from workbook.numeric import well_separated_rows
from workbook.problem import Matrix, Step, as_matrix
from workbook.spec import Param

_TRIES = 300   # candidate rows drawn at once, per row of the sheet
_BUILDS = 40   # whole sheets assembled from such rows before giving up
LN3 = np.log(3)


@dataclass(frozen=True)
class GroupProblem:
    """Router scores S (T x E, whole numbers -2..2); V3: the biases in tenths (1 means 0.1);
    device: each token's home device (1-based)."""

    S: Matrix
    bias: tuple[int, ...] = ()
    home: tuple[int, ...] = ()

    def inputs(self) -> dict:
        data = {"S": [list(r) for r in self.S]}
        if self.bias:
            data["bias"] = [b / 10 for b in self.bias]
        if self.home:
            data["home"] = list(self.home)
        return data


def sizes(spec) -> tuple[int, int, int, int, int]:
    """(tokens, experts, group size, groups kept, top-k)."""
    return (spec["tokens"], spec["groups"] * spec["group_size"], spec["group_size"], spec["topk_group"],
            spec["top_k"])


def rule(spec) -> str:
    """The group score of the variant: V3 the sum of the two largest, V2 and devices the best."""
    return "top2" if spec["variant"] == "v3" else "best"


# --- floats, the way real code routes (also the generator's tests) ----------------------------

def _affinity(S: np.ndarray, variant: str) -> np.ndarray:
    z = S * LN3
    if variant == "v3":
        return 1 / (1 + np.exp(-z))
    P = np.exp(z - z.max(axis=1, keepdims=True))
    return P / P.sum(axis=1, keepdims=True)


def _route(sel: np.ndarray, size: int, keep: int, k: int, how: str) -> dict:
    """Rows of selection scores routed as model.py does: view as (groups, size), group scores,
    topk of groups, the other groups masked with -inf, topk of the rest (argsort, stable)."""
    N, E = sel.shape
    by_group = sel.reshape(N, E // size, size)
    scores = -np.sort(-by_group, axis=2)[:, :, :2].sum(axis=2) if how == "top2" else by_group.max(axis=2)
    kept = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(kept, np.argsort(-scores, axis=1, kind="stable")[:, :keep], True, axis=1)
    masked = np.where(np.repeat(kept, size, axis=1), sel, -np.inf)
    top = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    return {"scores": scores, "kept": kept, "masked": masked, "top": top}


def _clear(spec, sel: np.ndarray, routed: dict) -> np.ndarray:
    """Per row: the cut between kept and dropped groups, and the kept experts' top k + 1, are
    apart at 2 decimals (numeric.well_separated); V3: every chosen s + b above 0 (HF masks with
    0.0, model.py with -inf: the two then agree); device: the plain top k + 1 apart as well."""
    _, _, _, keep, k = sizes(spec)
    ranked = -np.sort(-routed["scores"], axis=1)
    ok = well_separated_rows(ranked[:, keep - 1:keep + 1], 2)
    with np.errstate(invalid="ignore"):
        ok &= well_separated_rows(routed["masked"], min(k + 1, keep * spec["group_size"]))
    if spec["variant"] == "v3":
        ok &= np.take_along_axis(sel, routed["top"], axis=1).min(axis=1) > 0
    if spec["variant"] == "device":
        ok &= well_separated_rows(sel, k + 1)
    return ok


def _binds(spec, sel: np.ndarray, routed: dict) -> np.ndarray:
    """Rows whose limited choice differs (as a set) from the plain top-k over all experts."""
    k = spec["top_k"]
    plain = np.sort(np.argsort(-sel, axis=1, kind="stable")[:, :k], axis=1)
    return (np.sort(routed["top"], axis=1) != plain).any(axis=1)


def _other_rule_matters(spec, sel: np.ndarray, routed: dict) -> np.ndarray:
    """Rows whose kept groups change under the other variant's group score (best vs top-2 sum)."""
    _, _, size, keep, k = sizes(spec)
    other = _route(sel, size, keep, k, "best" if rule(spec) == "top2" else "top2")
    return (other["kept"] != routed["kept"]).any(axis=1)


# --- generate -------------------------------------------------------------------------------

def generate(spec) -> GroupProblem:
    """Seeded and built row by row: every row's cuts clear of ties; one row where the limit
    changes the experts (the plain top-k would differ), one (where any can be found) where the
    other variant's group score would keep other groups; device: the homes drawn so that the
    limit saves all-to-all traffic on the sheet."""
    T, E, size, keep, k = sizes(spec)
    variant = spec["variant"]
    rng = np.random.default_rng(spec.seed)
    for _ in range(_BUILDS):
        bias = tuple(int(b) for b in rng.integers(-2, 3, size=E)) if variant == "v3" else ()
        rows = [_row(spec, rng, bias, need) for need in (["binds", "rule"] + ["any"] * (T - 2))[:T]]
        if any(r is None for r in rows):
            continue
        rows = [rows[i] for i in rng.permutation(T)]
        S = np.array(rows)
        if variant != "device":
            return GroupProblem(as_matrix(S), bias)
        home = _homes(spec, rng, S)
        if home is not None:
            return GroupProblem(as_matrix(S), (), home)
    raise GenerationError(f"could not build a hand-friendly group-routing problem with these parameters "
                          f"({', '.join(f'{n}={v}' for n, v in spec.params.items())})")


def _row(spec, rng, bias, need: str):
    """One row of scores keeping the cuts clear; `need`: 'binds' (the limit changes the choice),
    'rule' (the other group score would too; any clear row where none is found), 'any'."""
    _, E, size, keep, k = sizes(spec)
    S = rng.integers(-2, 3, size=(_TRIES, E))
    sel = _affinity(S, spec["variant"]) + np.array(bias or [0] * E) / 10
    routed = _route(sel, size, keep, k, rule(spec))
    ok = _clear(spec, sel, routed)
    if need == "binds":
        ok &= _binds(spec, sel, routed)
    if need == "rule":
        better = ok & _other_rule_matters(spec, sel, routed)
        ok = better if better.any() else ok
    found = np.flatnonzero(ok)
    return S[found[0]] if len(found) else None


def _homes(spec, rng, S: np.ndarray):
    """Each token's home device, drawn; a few draws until the limit saves crossing pairs on the
    whole sheet (None when none does)."""
    T, E, size, keep, k = sizes(spec)
    D = spec["groups"]
    sel = _affinity(S, "device")
    limited = _route(sel, size, keep, k, "best")["top"] // size + 1
    plain = np.argsort(-sel, axis=1, kind="stable")[:, :k] // size + 1
    for _ in range(_TRIES):
        home = rng.integers(1, D + 1, size=T)
        if (limited != home[:, None]).sum() < (plain != home[:, None]).sum():
            return tuple(int(h) for h in home)
    return None


# --- exact steps ------------------------------------------------------------------------------

def _indices(rows) -> tuple:
    return tuple(tuple(Integer(e + 1) for e in row) for row in rows)


def steps(spec, problem: GroupProblem):
    T, E, size, keep, k = sizes(spec)
    variant = spec["variant"]
    if variant == "v3":
        s = tuple(tuple(sigmoid3(v) for v in row) for row in problem.S)
        yield Step("sigmoid", "Affinities s = sigmoid(score)", "s = 3^score / (3^score + 1), expert by expert.", s)
        b = [Rational(v, 10) for v in problem.bias]
        sel = tuple(tuple(v + bb for v, bb in zip(row, b)) for row in s)
        yield Step("selection", "Selection scores s + b", "Add each expert's bias b (for choosing only).", sel)
    else:
        s = sel = tuple(softmax3(row) for row in problem.S)
        yield Step("probs", "Affinities", "Softmax with base 3 over all experts, per token.", s)
    routed = [route(row, size, keep, k, rule(spec)) for row in sel]
    unit, kept = ("device", "devices") if variant == "device" else ("group", "groups")
    how = ("the sum of its two largest s + b" if variant == "v3" else "its single best affinity")
    yield Step(f"{unit}_score", f"{unit.capitalize()} scores", f"A {unit}'s score is {how}.",
               tuple(r[0] for r in routed))
    best = f"the {keep} best {kept}" if keep > 1 else f"the best {unit}"
    yield Step(f"{unit}_kept", f"Kept {kept}", f"1 for {best} of each token, 0 for the others (their experts "
               "are masked).", tuple(r[1] for r in routed), index=True)
    top = [r[2] for r in routed]
    experts = f"{k} best experts" if k > 1 else "best expert"
    yield Step("topk", f"Top-{k} of the kept {kept}", f"Each token's {experts} of its kept {kept} by "
               + ("s + b" if variant == "v3" else "affinity") + (", best first." if k > 1 else "."), _indices(top),
               index=True)
    if variant == "v3":
        yield Step("gates", "Weights", "The chosen s (without b) over their sum, times 2.5.",
                   tuple(weights_v3(row, t) for row, t in zip(s, top)))
    elif variant == "v2":
        yield Step("gates", "Weights", "The chosen affinities times 16 (not renormalised).",
                   tuple(weights_v2(row, t) for row, t in zip(s, top)))
    else:
        yield from _traffic(spec, problem, s, top)


def _traffic(spec, problem: GroupProblem, P, top):
    """The device variant's last steps: the plain top-k, the pairs that cross and the devices
    each token reaches, with the limit and without, and the all-to-all volume of both."""
    T, E, size, keep, k = sizes(spec)
    plain = [plain_top(row, k) for row in P]
    yield Step("topk_all", f"Top-{k} without the limit", f"Each token's {k} best experts over all the devices, "
               "best first.", _indices(plain), index=True)
    yield Step("crossing", "Pairs that cross", "Chosen experts not on the token's home device: with the limit, "
               "and without.", tuple((Integer(crossing(a, h, size)), Integer(crossing(b, h, size)))
                                     for a, b, h in zip(top, plain, problem.home)), index=True)
    yield Step("devices", "Devices reached", "How many devices hold the token's chosen experts: with the limit "
               "(at most M), and without.", tuple((Integer(devices_used(a, size)), Integer(devices_used(b, size)))
                                                  for a, b in zip(top, plain)), index=True)
    pairs = [sum(crossing(t, h, size) for t, h in zip(rows, problem.home)) for rows in (top, plain)]
    rows = tuple(zip(*(tuple(Integer(v) for v in volume(n, spec["d_model"], spec["bytes"])) for n in pairs)))
    yield Step("all_to_all", "All-to-all volume", f"Crossing pairs (add up step 4); values = pairs × "
               f"{spec['d_model']} (d_model); bytes = values × {spec['bytes']} × 2 (dispatch, and the combine back).",
               rows, index=True)
    yield Step("saved", "What the limit saves", "Bytes without the limit − bytes with it.",
               (rows[2][1] - rows[2][0],), index=True)


# --- floats -------------------------------------------------------------------------------

def forward(spec, problem: GroupProblem) -> dict:
    """Floats the framework way: natural exp of the scaled logits, the scores viewed as (groups,
    size), group topk, masked_fill(-inf), argsort; one-hot placement for the traffic."""
    T, E, size, keep, k = sizes(spec)
    variant = spec["variant"]
    S = np.array(problem.S, dtype=float)
    s = _affinity(S, variant)
    out = {}
    if variant == "v3":
        sel = s + np.array(problem.bias, dtype=float) / 10
        out |= {"sigmoid": s, "selection": sel}
    else:
        sel = s
        out["probs"] = s
    routed = _route(sel, size, keep, k, rule(spec))
    unit = "device" if variant == "device" else "group"
    top = routed["top"]
    out |= {f"{unit}_score": routed["scores"], f"{unit}_kept": routed["kept"].astype(float), "topk": top + 1}
    w = np.take_along_axis(s, top, axis=1)
    if variant == "v3":
        out["gates"] = 2.5 * w / w.sum(axis=1, keepdims=True)
    elif variant == "v2":
        out["gates"] = 16.0 * w
    else:
        out |= _float_traffic(spec, problem, sel, top)
    return out


def _float_traffic(spec, problem: GroupProblem, P: np.ndarray, top: np.ndarray) -> dict:
    T, E, size, keep, k = sizes(spec)
    D = spec["groups"]
    plain = np.argsort(-P, axis=1, kind="stable")[:, :k]
    place = np.eye(D)[np.arange(E) // size]               # expert -> device, one-hot (E x D)
    home = np.eye(D)[np.array(problem.home) - 1]          # token -> home device (T x D)
    out = {"topk_all": plain + 1}
    cross, reach, pairs = [], [], []
    for chosen in (top, plain):
        mask = np.zeros((T, E))
        np.put_along_axis(mask, chosen, 1.0, axis=1)
        per_device = mask @ place                          # pairs of each token on each device
        c = per_device.sum(axis=1) - (per_device * home).sum(axis=1)
        cross.append(c)
        reach.append((per_device > 0).sum(axis=1))
        pairs.append(c.sum())
    out["crossing"] = np.stack(cross, axis=1)
    out["devices"] = np.stack(reach, axis=1)
    d, nbytes = spec["d_model"], spec["bytes"]
    out["all_to_all"] = np.array([[n, n * d, n * d * nbytes * 2] for n in pairs]).T
    out["saved"] = np.array([(pairs[1] - pairs[0]) * d * nbytes * 2])
    return out


# --- promises -------------------------------------------------------------------------------

def contract(sol) -> list[str]:
    """The promises a variant breaks, in words: scores whole in -2..2; every cut and the order of
    the chosen experts clear at 2 decimals; the limit changes some token's experts; device: the
    limit saves traffic and no token reaches more than M devices with it."""
    spec, p = sol.spec, sol.problem
    broken = []
    if any(abs(v) > 2 for row in p.S for v in row):
        broken.append("a score beyond ±2")
    f = forward(spec, p)
    sel = f["selection"] if spec["variant"] == "v3" else f["probs"]
    routed = _route(sel, spec["group_size"], spec["topk_group"], spec["top_k"], rule(spec))
    if not _clear(spec, sel, routed).all():
        broken.append("a selection within 0.01 of a tie")
    if not _binds(spec, sel, routed).any():
        broken.append("the limit changes no token's experts")
    if spec["variant"] == "device":
        if sol.step("saved").exact[0] <= 0:
            broken.append("the limit saves no all-to-all traffic")
        if any(row[0] > spec["topk_group"] for row in sol.step("devices").exact):
            broken.append("a token reaches more than M devices under the limit")
    return broken


# --- the exercise's declaration (kinds/protocol.py) ------------------------------------------

VARIANTS = ("v3", "v2", "device")
TITLE = "Group-limited routing"
PARAMS = (
    Param("variant", "v3 (sigmoid, bias, top-2-sum group scores), v2 (softmax, best-affinity group scores, "
          "× 16) or device (V2's device-limited routing and its all-to-all)", "v3", choices=VARIANTS),
    Param("tokens", "tokens T", 3, 2, 4),
    Param("groups", "expert groups n_group (devices D for variant device)", 4, 2, 4),
    Param("group_size", "experts per group (per device)", 2, 2, 4),
    Param("topk_group", "groups kept per token, topk_group (devices M)", 2, 1, 3),
    Param("top_k", "experts per token k", 2, 1, 4),
    Param("d_model", "values per token vector (variant device only; DeepSeek-V2: 5120)", 5120, 1, 8192),
    Param("bytes", "bytes per value (variant device only; 2 for bf16)", 2, 1, 4),
)
SLOTS = ((11, ()),)
MAX_EXPERTS = 8


def check(v: dict) -> None:
    """At most 8 experts; some group dropped; k experts in the kept groups; V2 and device: k above
    topk_group (else the plain top-k already lies in the kept groups); device: k at most 3;
    d_model and bytes only for the device variant."""
    G, size, keep, k, variant = v["groups"], v["group_size"], v["topk_group"], v["top_k"], v["variant"]
    if G * size > MAX_EXPERTS:
        raise SpecError(f"groups × group-size = {G * size} experts: at most {MAX_EXPERTS} fit a page")
    if keep >= G:
        raise SpecError(f"topk-group ({keep}) must be below groups ({G}): keeping every group limits nothing")
    if k > keep * size:
        raise SpecError(f"top-k ({k}) must be at most topk-group × group-size = {keep * size}: "
                        "the kept groups must hold k experts")
    if variant != "v3" and k <= keep:
        raise SpecError(f"with variant {variant}, top-k ({k}) must be above topk-group ({keep}): a group scored by "
                        "its best affinity would always keep the plain top-k")
    if variant == "device" and k > 3:
        raise SpecError(f"with variant device, top-k ({k}) must be at most 3: the plain top-k and the next expert "
                        "must all differ, and scores -2..2 give 5 values")
    if variant != "device" and (v["d_model"], v["bytes"]) != (5120, 2):
        raise SpecError("d-model and bytes are for variant device only (the all-to-all volume)")
