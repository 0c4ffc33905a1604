"""Seeded generation of hand-friendly problems: the same spec always gives the same numbers.

Every problem keeps the hand-friendliness contract:
- inputs are integers with |v| <= 3;
- in each token's row the powers b^(s - row min) stay <= 81 (spec.MAX_SPREAD);
- no near-tie a person could misread: token choice, the top k+1 probabilities of every token;
  expert choice, the top c+1 probabilities of every expert; neighbours differ by >= 0.01 and
  stay in order when rounded to 2 decimals (numeric.well_separated);
- with FFNs, the ReLU pre-activations over the sheet include both signs;
- a teaching moment: token choice, some expert above the fair share T*k/E and some below;
  expert choice, some token chosen by no expert and some by two or more.
Token rows are chosen one at a time from rows that already keep the per-row rules, and for expert
choice only rows that keep every column separated (construction, not rejection); where a random
router leaves too few such rows (token choice with top-4 of 7 or 8 experts), the router itself is
built through chosen token rows. The work is bounded (counted) and a clear GenerationError says
when the parameters make the contract impossible. Expert choice uses this search in editions 1-3
only (their codes keep their numbers); edition 4 builds it by construction (expert_choice_build.py).
Leaves out: solving.
"""

import itertools
from dataclasses import dataclass

import numpy as np

from workbook.errors import GenerationError
from workbook.kinds.routing_params import expert_choice_unsupported
from workbook.kinds.routing_steps import TOKEN_CHOICE, forward
from workbook.numeric import softmax_rows, well_separated, well_separated_rows
from workbook.problem import Expert, Problem, as_matrix
from workbook.spec import MAX_SPREAD, Spec, capacity_factor, fair_share, top_k

_POOL = 4096       # candidate token rows per router
_ROUTERS = 30      # fresh routers before giving up
_BUILDS = 12       # fresh sets of token rows per router
_EXPERT_DRAWS = 20  # fresh expert weights per set of rows
_SCREEN = {1: 1500, 2: 1500, 3: 200, 4: 100}  # routers screened by d-model when the search found none
_KEEP = 4          # screened routers built on
_CONSTRUCT = 200   # tries at a router built through chosen token rows, when screening finds none too
# what a constructed router's rows and its chosen token rows are drawn from, by d-model
_ROUTER_ROWS = {d: np.array([r for r in itertools.product(range(-2, 3), repeat=d) if any(r)]) for d in range(1, 5)}
_TOKEN_ROWS = {d: np.array([r for r in itertools.product(range(-1, 2), repeat=d) if any(r)]) for d in range(1, 5)}
_MULTIPLIERS = {d: np.array(list(itertools.product(range(8, 13), repeat=d))) for d in range(1, 5)}  # u, in tenths


def generate(spec: Spec) -> Problem:
    """Spec -> Problem, deterministic in (kind, parameters, seed, generator version). Where the
    seed's own search finds nothing, token choice screens many more routers (_screened); with a
    capacity it then screens routers for the rows that share one expert (_focused); last it builds
    a router through chosen token rows (_constructed). Each stage runs only where the ones before
    found nothing, so a variant that built before keeps its numbers. A failure outside the expert-choice sizes built
    for every seed says which sizes those are."""
    problem = _build(spec, np.random.default_rng(spec.seed))
    if problem is None and spec.kind in TOKEN_CHOICE:  # only where the seed's own search found none
        problem = _screened(spec, np.random.default_rng([spec.seed, 1]))
    if problem is None and spec.kind in TOKEN_CHOICE and capacity_factor(spec) is not None:
        problem = _focused(spec, np.random.default_rng([spec.seed, 3]))  # and only where screening found none
    if problem is None and spec.kind in TOKEN_CHOICE:  # the last resort
        problem = _constructed(spec, np.random.default_rng([spec.seed, 2]))
    if problem is not None:
        return problem
    outside = expert_choice_unsupported(spec.params) if spec.kind == "expert-choice" else ""
    raise GenerationError(
        f"could not build a hand-friendly {spec.kind} problem with these parameters ({_summary(spec)}); "
        + (f"expert choice is built for every seed only with {outside}" if outside else
           "try fewer experts, a smaller top-k/capacity or another gate"))


def _build(spec: Spec, rng) -> Problem | None:
    """The search: routers, sets of token rows, expert weights; None when it finds none."""
    for attempt in range(_ROUTERS):
        W = _router(rng, spec["experts"], spec["d_model"], magnitude=2 - attempt % 2)
        pool = _valid_rows(spec, W, rng)
        # Distinct token rows first; token choice may repeat rows only in the last third of attempts.
        repeats = spec.kind in TOKEN_CHOICE and attempt >= 2 * _ROUTERS // 3
        if len(pool) < (2 if repeats else spec["tokens"]):
            continue
        problem = _on_router(spec, W, pool, rng, repeats, _BUILDS)
        if problem is not None:
            return problem
    return None


def _screened(spec: Spec, rng) -> Problem | None:
    """Crowded token-choice sizes (8 experts, d-model 2, top-3): about one router in a hundred
    leaves token rows whose top k+1 stay apart. Screen many routers by their rows alone (cheap),
    then build on the few with the most rows. Counted, not timed, so every machine agrees."""
    found = []
    for attempt in range(_SCREEN[spec["d_model"]]):
        W = _router(rng, spec["experts"], spec["d_model"], magnitude=2)
        pool = _valid_rows(spec, W, rng)
        if len(pool) >= 2:
            found.append((-len(pool), attempt, W, pool))
    return _on_richest(spec, found, rng)


def _on_richest(spec: Spec, found: list, rng, chosen_jitter: bool = False) -> Problem | None:
    """found: (−rows, attempt, router, its rows) per router a stage kept; build on the _KEEP routers
    with the most rows (the earlier attempt first on a tie), the first whole sheet, or None.
    `chosen_jitter`: the jitter multipliers chosen (_chosen_jitter) rather than drawn."""
    for _, _, W, pool in sorted(found, key=lambda f: f[:2])[:_KEEP]:
        problem = _on_router(spec, W, pool, rng, len(pool) < spec["tokens"], 4 * _BUILDS, chosen_jitter)
        if problem is not None:
            return problem
    return None


def _focused(spec: Spec, rng) -> Problem | None:
    """A capacity that drops a choice only when (nearly) every token picks one expert (C = 6 of 8
    tokens, C = 2 of 3): screen routers for the most token rows that share one expert among their
    top k, and build on those rows alone. Counted, not timed."""
    k, found = top_k(spec), []
    for attempt in range(min(_SCREEN[spec["d_model"]], 300)):
        W = _router(rng, spec["experts"], spec["d_model"], magnitude=2)
        pool = _valid_rows(spec, W, rng)
        if len(pool) == 0:
            continue
        scores = pool @ W.T
        chooses = (scores[:, None, :] > scores[:, :, None]).sum(axis=2) < k  # row x expert: in its top k
        busy = int(chooses.sum(axis=0).argmax())  # one row alone serves too: its tokens then repeat it
        rows = pool[chooses[:, busy]]
        found.append((-len(rows), attempt, W, rows))
    if spec.params.get("jitter"):  # the jitter question: only rows some multiplier u can flip, on the
        flipping = []             # richest routers first, until _KEEP of them keep some
        for _, attempt, W, rows in sorted(found, key=lambda f: f[:2]):
            rows = rows[_flippable(rows, W)]
            if len(rows):
                flipping.append((-len(rows), attempt, W, rows))
            if len(flipping) == _KEEP:
                break
        found = flipping
    return _on_richest(spec, found, rng, True)


def _flippable(rows: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Mask of token rows whose top-1 expert some multiplier u in 0.8..1.2 (per coordinate) changes,
    with the two best jittered scores apart."""
    U = _MULTIPLIERS[rows.shape[1]]
    scores = (U[None, :, :] * rows[:, None, :]) @ W.T  # rows x multipliers x experts
    best = np.sort(scores, axis=2)
    before = (rows @ W.T).argmax(axis=1)
    return ((best[..., -1] > best[..., -2]) & (scores.argmax(axis=2) != before[:, None])).any(axis=1)


def _constructed(spec: Spec, rng) -> Problem | None:
    """The most crowded sizes (top-4 of 7 or 8 experts with base 3 or e): a row's top 5 scores
    must then be 5 consecutive integers with every other expert tied at the bottom, which almost no
    random router allows. Construct instead: choose two token rows and, for each, scores that keep
    the row rules, then pick the router's rows among the small vectors so that those rows get
    exactly those scores (_router_through). With d-model 3 or 4 every expert gets the same weight
    in one coordinate, so a token's value there moves all its scores alike: each constructed row
    brings up to 7 distinct rows with its probabilities. One expert is among the top k of each, and
    with a capacity only the rows that choose it are kept, so it gets every token and drops one.
    Build on the routers with the most rows. Counted, not timed."""
    d = spec["d_model"]
    free = d - 1 if d >= 3 else d  # coordinates that tell the experts apart
    found = []
    for attempt in range(_CONSTRUCT):
        if len(found) >= 2 * _KEEP:
            break
        X0 = _TOKEN_ROWS[free][rng.choice(len(_TOKEN_ROWS[free]), size=min(free, 2), replace=False)]
        if len(X0) == 2 and (X0[0] == -X0[1]).all():  # opposite rows cannot share a busy expert
            continue
        found_router = _router_through(rng, spec, X0)
        if found_router is None:
            continue
        W, busy = found_router
        if free < d:
            W = np.insert(W, int(rng.integers(d)), int(rng.choice((-2, -1, 1, 2))), axis=1)
        pool = _valid_rows(spec, W, rng)
        if capacity_factor(spec) is not None:  # every token shares the busy expert: C < T drops one
            scores = pool @ W.T
            pool = pool[(scores > scores[:, [busy]]).sum(axis=1) < top_k(spec)]
        if len(pool) >= 2:
            found.append((-len(pool), attempt, W, pool))
    return _on_richest(spec, found, rng, True)


def _router_through(rng, spec: Spec, X0: np.ndarray, budget: int = 1000) -> tuple[np.ndarray, int] | None:
    """(W, busy): E distinct router rows in -2..2 under which each token row of X0 gets scores that
    keep the row rules (the multiset _ranked_scores drew for it, moved by a shift per row), expert
    `busy` among the top k of every row; experts in shuffled order. A depth-first search over sets
    of router rows in a random order, at most `budget` steps; None when it finds none."""
    E, k, spread = spec["experts"], top_k(spec), MAX_SPREAD[spec["gate"]]
    ranked = [_ranked_scores(rng, spec) for _ in X0]
    if any(r is None for r in ranked):
        return None
    rows = _ROUTER_ROWS[X0.shape[1]]
    rows = rows[rng.permutation(len(rows))]
    targets = rows @ X0.T
    width = np.array([r[0] for r in ranked])  # each row's best score over its worst
    low = targets.min(axis=0) + rng.integers(0, np.maximum(1, np.ptp(targets, axis=0) - width + 1))
    targets = targets - low  # each router row's scores as pattern values
    inside = ((targets >= 0) & (targets <= spread)).all(axis=1)
    rows, targets = rows[inside], targets[inside]
    busy = np.flatnonzero(np.all([np.isin(targets[:, i], r[:k]) for i, r in enumerate(ranked)], axis=0))
    left = [list(np.bincount(r, minlength=spread + 1)) for r in ranked]  # per token row, per value
    wanted = [tuple(t) for t in targets.tolist()]
    steps = 0

    def fits(pick: int) -> bool:
        return all(left[i][v] for i, v in enumerate(wanted[pick]))

    def take(pick: int, by: int) -> None:
        for i, v in enumerate(wanted[pick]):
            left[i][v] -= by

    def extend(chosen: list[int], start: int) -> list[int] | None:
        nonlocal steps
        if len(chosen) == E:
            return chosen
        for pick in range(start, len(wanted)) if chosen else busy.tolist():
            steps += 1
            if steps > budget:
                return None
            if (chosen and pick == chosen[0]) or not fits(pick):
                continue
            take(pick, 1)
            found = extend(chosen + [pick], pick + 1 if chosen else 0)
            take(pick, -1)
            if found is not None:
                return found
        return None

    chosen = extend([], 0)
    if chosen is None:
        return None
    order = rng.permutation(E)  # expert e gets chosen[order[e]]; the busy one was chosen first
    return rows[chosen][order], int(np.flatnonzero(order == 0)[0])


def _ranked_scores(rng, spec: Spec, tries: int = 20) -> np.ndarray | None:
    """E integer scores, best first, from 0 to at most the gate's spread, whose top k+1
    probabilities stay apart (every score below the (k+1)-th may tie with it); None when `tries`
    draws keep none."""
    E, k, spread = spec["experts"], top_k(spec), MAX_SPREAD[spec["gate"]]
    for _ in range(tries):
        width = int(rng.integers(k, spread + 1))  # narrow rows fit more router rows
        top = np.sort(rng.choice(width + 1, size=k + 1, replace=False))[::-1]
        ranked = np.concatenate([top, np.sort(rng.integers(0, top[-1] + 1, size=E - k - 1))[::-1]])
        ranked -= ranked.min()
        if well_separated_rows(softmax_rows(ranked[None, :].astype(float), spec["gate"]), k + 1)[0]:
            return ranked
    return None


def _on_router(spec: Spec, W: np.ndarray, pool: np.ndarray, rng, repeats: bool, builds: int,
               chosen_jitter: bool = False) -> Problem | None:
    """Up to `builds` sets of token rows from the pool of router W, each with its jitter and
    expert weights: the first whole sheet that keeps the contract, or None."""
    pool_probs = softmax_rows((pool @ W.T).astype(float), spec["gate"])
    probs = (pool_probs, _hundredths(pool_probs), _flat(pool_probs)) if spec.kind == "expert-choice" else (pool_probs, None, None)
    for _ in range(builds):
        picked = _pick_rows(spec, pool, probs, rng, repeats)
        if picked is None:
            continue
        X = pool[picked]
        jitter = (_chosen_jitter if chosen_jitter else _jitter)(rng, X, W) if spec.params.get("jitter") else ()
        if jitter is None:
            continue
        # the routing's faults do not depend on the experts: told once per set of rows (one draw of
        # experts is still made, as before, so the same seed keeps the same numbers)
        if not spec["ffn"]:
            routing = None
        elif spec.kind == "expert-choice":  # the pool's probabilities are the rows' own: no forward()
            routing = _columns_fault(pool_probs[picked], spec["capacity"])
        else:
            routing = _sheet_fault(spec, _Routing(X, W, (), jitter))
        for _ in range(_EXPERT_DRAWS if spec["ffn"] else 1):
            drawn = _expert_draws(rng, spec) if spec["ffn"] else ()
            if routing is not None:
                break
            problem = Problem(as_matrix(X), as_matrix(W), _experts_of(drawn), jitter)
            fault = _sheet_fault(spec, problem)
            if fault is None:
                return problem
            if fault != "relu signs":
                break
    return None


def _summary(spec: Spec) -> str:
    return ", ".join(f"{k}={v}" for k, v in spec.params.items())


def _pick_rows(spec: Spec, pool: np.ndarray, probs: tuple, rng, repeats: bool = False):
    """T distinct rows of the pool (their indexes), chosen one by one (None when stuck); probs: the pool's
    probabilities and, for expert choice, their printed hundredths and its flat rows (_flat).

    Expert choice: the first row is a flat one, meant to be dropped; each later row must keep
    every expert's top c+1 probabilities well separated, and rows that lift a column that still
    needs c tokens above the dropped one are preferred. The dropped token is then shuffled in."""
    pool_probs, hundredths, flat = probs
    chosen: list[int] = []
    allowed = np.ones(len(pool), dtype=bool)
    expert_choice = spec.kind == "expert-choice"
    for _ in range(spec["tokens"]):
        if expert_choice and chosen:
            allowed &= _keeps_columns_separated(pool_probs, hundredths, chosen, spec["capacity"])
        choices = np.flatnonzero(allowed)
        if len(choices) == 0 and repeats:
            choices = np.arange(len(pool))  # scarce rows: a token row may appear twice
        if len(choices) == 0:
            return None
        if expert_choice and not chosen:  # every row is allowed yet
            choices = flat
        elif expert_choice:
            choices = _lifting(pool_probs, choices, pool_probs[chosen], spec["capacity"])
        pick = int(_one_of(rng, choices))
        chosen.append(pick)
        allowed[pick] = False
    picked = np.array(chosen)
    if expert_choice:
        picked = picked[rng.permutation(len(picked))]
    return picked


def _one_of(rng, choices: np.ndarray):
    """rng.choice(choices) for a 1-D array, the same draw (Generator.choice draws integers(0, n))
    without its checks: five times as fast, and _pick_rows draws thousands."""
    return choices[rng.integers(0, len(choices))]


def _lifting(pool_probs: np.ndarray, choices: np.ndarray, chosen_probs: np.ndarray, c: int):
    """The candidates that lift the most columns still short of c tokens above the first row."""
    dropped = chosen_probs[0]
    above = (chosen_probs[1:] > dropped + 0.01).sum(axis=0)
    short = above < c
    gains = ((pool_probs[choices] > dropped + 0.01) & short).sum(axis=1)
    return choices[gains == gains.max()]


def _flat(pool_probs: np.ndarray) -> np.ndarray:
    """The flattest quarter of the pool's rows (by their best probability): a first row to drop."""
    flatness = pool_probs.max(axis=1)
    return np.flatnonzero(flatness <= np.quantile(flatness, 0.25))


def _hundredths(probs: np.ndarray) -> np.ndarray:
    """Probabilities as the hundredths a sheet prints (rounded half up)."""
    return np.floor(probs * 100 + 0.5 + 1e-9)


def _keeps_columns_separated(pool_probs: np.ndarray, hundredths: np.ndarray, chosen, c: int) -> np.ndarray:
    """Mask of pool rows that, added to the chosen rows (pool indexes), leave each column's top
    c+1 separated: no clash (less than 0.01 apart, or the same hundredths printed) with a chosen
    row among its column's best c+1, where the row would enter them. hundredths: _hundredths of
    the pool's probabilities, worked out once per pool."""
    columns = np.arange(pool_probs.shape[1])
    best = np.asarray(chosen)[np.argsort(-pool_probs[chosen], axis=0, kind="stable")[:c + 1]]  # top x columns
    values = pool_probs[best, columns]
    clash = ((np.abs(pool_probs[:, None, :] - values) < 0.01 - 1e-12)
             | (hundredths[:, None, :] == hundredths[best, columns])).any(axis=1)
    if len(best) == c + 1:
        clash &= pool_probs > values[-1]  # a row that does not enter a column's top c+1
    return ~clash.any(axis=1)


def _router(rng, E: int, d: int, magnitude: int) -> np.ndarray:
    """E distinct rows in [-magnitude, magnitude]^d, none all zero."""
    if (2 * magnitude + 1) ** d - 1 < E:
        magnitude = 2
    place = (2 * magnitude + 1) ** np.arange(d)  # a row's number, to compare rows quickly
    zero = magnitude * place.sum()
    while True:
        W = rng.integers(-magnitude, magnitude + 1, size=(E, d))
        numbers = (W + magnitude) @ place
        if len(np.unique(numbers)) == E and (numbers != zero).all():
            return W


def _candidates(d: int, rng) -> np.ndarray:
    if 7 ** d <= _POOL:
        return np.array(list(itertools.product(range(-3, 4), repeat=d)))
    return rng.integers(-3, 4, size=(_POOL, d))


def _valid_rows(spec: Spec, W: np.ndarray, rng) -> np.ndarray:
    """Token rows whose own scores keep the per-row rules (spread, token-choice separation)."""
    rows = _candidates(W.shape[1], rng)
    scores = rows @ W.T
    keep = scores.max(axis=1) - scores.min(axis=1) <= MAX_SPREAD[spec["gate"]]
    keep &= np.abs(rows).sum(axis=1) > 0
    if spec.kind in TOKEN_CHOICE:
        keep &= well_separated_rows(softmax_rows(scores.astype(float), spec["gate"]), top_k(spec) + 1)
    return rows[keep]


def _jitter(rng, X: np.ndarray, W: np.ndarray):
    """Multipliers u in tenths (0.8 .. 1.2) under which some token changes its top-1 expert and
    every token's two best jittered scores stay apart; None when no draw manages it."""
    before = (X @ W.T).argmax(axis=1)
    for _ in range(_EXPERT_DRAWS):
        u = rng.integers(8, 13, size=X.shape)
        scores = (u * X) @ W.T  # in tenths: integers
        best = np.sort(scores, axis=1)[:, ::-1]
        if (best[:, 0] > best[:, 1]).all() and (scores.argmax(axis=1) != before).any():
            return as_matrix(u)
    return None


def _chosen_jitter(rng, X: np.ndarray, W: np.ndarray):
    """The jitter multipliers chosen rather than drawn (the generator's last stages, where strongly
    routed rows rarely flip by chance): every u in tenths 0.8..1.2 per coordinate is tried for each
    token; each token gets one that keeps its two best jittered scores apart, one token (drawn among
    those that can) one that also changes its top-1 expert. None when no token can change."""
    U = _MULTIPLIERS[X.shape[1]]
    before = (X @ W.T).argmax(axis=1)
    keep, flip = [], []
    for t, x in enumerate(X):
        scores = (U * x) @ W.T
        best = np.sort(scores, axis=1)
        apart = best[:, -1] > best[:, -2]
        keep.append(np.flatnonzero(apart))
        flip.append(np.flatnonzero(apart & (scores.argmax(axis=1) != before[t])))
    can = [t for t in range(len(X)) if len(flip[t])]
    if not can or any(len(k) == 0 for k in keep):
        return None
    changer = int(rng.choice(can))
    return as_matrix(np.array([U[int(rng.choice(flip[t] if t == changer else keep[t]))] for t in range(len(X))]))


def _expert_draws(rng, spec: Spec) -> list:
    """Each expert's W1, b1, W2, b2 as drawn (arrays): drawn even where the sheet is then refused
    for its routing, so that the seed's later draws stay where they were."""
    d, h = spec["d_model"], spec["d_ff"]
    return [(rng.integers(-2, 3, size=(d, h)), rng.integers(-1, 2, size=h), rng.integers(-2, 3, size=(h, d)),
             rng.integers(-1, 2, size=d)) for _ in range(spec["experts"])]


def _experts_of(drawn: list) -> tuple[Expert, ...]:
    return tuple(Expert(as_matrix(w1), tuple(int(v) for v in b1), as_matrix(w2), tuple(int(v) for v in b2))
                 for w1, b1, w2, b2 in drawn)


@dataclass(frozen=True)
class _Routing:
    """A problem's routing alone, as arrays (forward reads these four fields): what the routing's
    checks need, without making the Problem's tuples."""

    X: np.ndarray
    W_router: np.ndarray
    experts: tuple
    jitter: tuple


def _columns_fault(probs: np.ndarray, c: int):
    """The expert-choice routing rules (_sheet_fault's too) on the rows' probabilities (the floats forward()
    computes: softmax_rows works row by row): each expert's top c+1 apart, some token dropped
    and some chosen twice; None when both hold."""
    for column in probs.T:
        if not well_separated(np.sort(column)[::-1][:c + 1]):
            return "near-tie in an expert's column"
    chosen = np.argsort(-probs, axis=0, kind="stable")[:c]  # each expert's c tokens, as routing_steps._ranked
    coverage = np.bincount(chosen.ravel(), minlength=len(probs))
    if not (coverage.min() == 0 and coverage.max() >= 2):
        return "no dropped token or no token chosen twice"
    return None


def _sheet_fault(spec: Spec, problem: Problem):
    """None when the whole sheet keeps the contract, else the name of the rule it breaks."""
    f = forward(spec, problem)
    if spec.kind in TOKEN_CHOICE:
        fair = float(fair_share(spec))
        if not (f["load"].max() > fair and f["load"].min() < fair):
            return "no expert above and below the fair share"
        if capacity_factor(spec) is not None and f["kept"].all():
            return "nothing dropped"
    else:
        fault = _columns_fault(f["probs"], spec["capacity"])
        if fault is not None:
            return fault
    if problem.experts:
        pre = np.concatenate([h.ravel() for h in f["ffn_hidden"]])
        if not (pre.min() < 0 < pre.max()):
            return "relu signs"
    return None
