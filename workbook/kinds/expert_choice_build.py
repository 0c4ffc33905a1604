"""Expert-choice problems built by construction (edition 4 on): the sheet's teaching moment is
designed in, not hoped for and checked afterwards.

A router W is drawn; every token row in -3..3 that keeps the row rules (spread <= spec.MAX_SPREAD)
is a candidate, with its probabilities computed once. Then, in this order:
- the token nobody chooses: one of the flattest candidates (every probability near 1/E), those
  that the most candidates lie well above in the most columns first;
- the token chosen twice: a candidate well above the dropped one in two columns (its two best),
  which every later token may pass in those columns at most c - 1 times, so it stays in the top c
  of both;
- the other tokens, one at a time, each lifting the columns that still have fewer than c tokens
  above the dropped one (the shortest columns first), never clashing with a column's top c + 1
  (neighbours 0.01 apart and apart at 2 decimals), and never leaving more columns short than the
  tokens still to come can lift.
A depth-first search with a bounded number of steps makes these choices; a router on which it runs
out is replaced by the next (counted, not timed, so every machine agrees). The expert FFNs are
drawn for the finished routing, again only where the ReLU inputs lack a sign. Editions 1-3 keep
their seeded search (routing_generate.py), so their codes keep their numbers.
Leaves out: solving, and the sheet.
"""

import numpy as np

from workbook.errors import GenerationError
from workbook.kinds.routing_generate import (_columns_fault, _expert_draws, _experts_of, _hundredths,
                                             _keeps_columns_separated, _router, _valid_rows)
from workbook.kinds.routing_params import expert_choice_unsupported
from workbook.numeric import softmax_rows
from workbook.problem import Problem, as_matrix
from workbook.spec import Spec

_ROUTERS = 40        # routers before giving up
_POOL = 400          # candidate token rows per router, at most
_FLAT = 64           # flat rows weighed as the dropped token
_STEPS = 40          # search steps per router
_BRANCH = 2          # candidates tried at each choice before going back
_EXPERT_DRAWS = 20   # expert weights drawn for a finished routing
_GAP = 0.01 - 1e-12  # the least difference between neighbours (numeric.well_separated)


def generate(spec: Spec) -> Problem:
    """Spec -> Problem, deterministic in (parameters, seed); a one-line GenerationError where the
    parameters leave no such sheet within the search's bounds."""
    rng = np.random.default_rng([spec.seed, 4])
    for attempt in range(_ROUTERS):
        W = _router(rng, spec["experts"], spec["d_model"], magnitude=1 + attempt % 2)
        pool = _valid_rows(spec, W, rng)
        pool = pool[rng.permutation(len(pool))[:_POOL]]  # d-model 4 has thousands: a sample is plenty
        if len(pool) < spec["tokens"]:
            continue
        picked = _Search(spec, softmax_rows((pool @ W.T).astype(float), spec["gate"]), rng).run()
        if picked is None:
            continue
        X = pool[picked[rng.permutation(len(picked))]]  # the dropped and the double token anywhere
        if _columns_fault(softmax_rows((X @ W.T).astype(float), spec["gate"]), spec["capacity"]):
            continue  # the sheet's own floats disagree with the pool's (never seen): the next router
        experts = _experts(spec, X, W, rng) if spec["ffn"] else ()
        if experts is None:
            continue
        return Problem(as_matrix(X), as_matrix(W), experts, ())
    outside = expert_choice_unsupported(spec.params)
    raise GenerationError(
        f"could not build a hand-friendly expert-choice problem with these parameters "
        f"({', '.join(f'{k}={v}' for k, v in spec.params.items())}); "
        + (f"expert choice is built for every seed only with {outside}" if outside else
           "try fewer tokens per expert or more tokens"))


class _Search:
    """The depth-first search on one router's candidate rows: T of them (pool indexes) or None."""

    def __init__(self, spec: Spec, P: np.ndarray, rng):
        self.P, self.H, self.rng = P, _hundredths(P), rng
        self.T, self.c = spec["tokens"], spec["capacity"]
        self.pairs = np.argsort(-P, axis=1, kind="stable")[:, :2]  # each row's two best columns
        self.steps = 0

    def run(self):
        P, H = self.P, self.H
        flatness = P.max(axis=1)
        flat = np.flatnonzero(flatness <= np.quantile(flatness, 0.25))[:_FLAT]
        # the flat rows most tokens can pass: the most lifts among the best T - 1 rows above them
        above = (P[None, :, :] - P[flat, None, :] >= _GAP) & (H[None] > H[flat, None])
        room = -np.sort(-above.sum(axis=2), axis=1)[:, :self.T - 1].sum(axis=1)
        order = np.lexsort((self.rng.random(len(flat)), -room))[:_BRANCH]
        for dropped, lifts in zip(flat[order], above[order]):  # lifts: who pushes the dropped token out
            doubles = np.flatnonzero(np.take_along_axis(lifts, self.pairs, axis=1).all(axis=1))
            for double in self.rng.permutation(doubles)[:_BRANCH]:
                found = self._extend([int(dropped), int(double)], lifts)
                if found is not None:
                    return np.array(found)
                if self.steps > _STEPS:
                    return None
        return None

    def _extend(self, chosen: list, lifts: np.ndarray):
        """Depth first from `chosen` (the dropped token first, the double second)."""
        self.steps += 1
        if self.steps > _STEPS:
            return None
        short = self.c - lifts[chosen[1:]].sum(axis=0)  # per column, tokens still needed above the dropped one
        left = self.T - len(chosen)
        if left == 0:
            return chosen if (short <= 0).all() else None
        candidates = self._candidates(chosen)
        need = np.maximum(short, 0)
        gains = (lifts[candidates] & (need > 0)).sum(axis=1)
        # enough lifts left: each column short of n tokens needs n more, one token lifts a column once
        if len(candidates) == 0 or need.max() > left or need.sum() > np.sort(gains)[::-1][:left].sum():
            return None
        weights = lifts[candidates] @ need  # the shortest columns first
        order = candidates[np.lexsort((self.rng.random(len(candidates)), -weights))]
        for pick in order[:_BRANCH]:
            found = self._extend(chosen + [int(pick)], lifts)
            if found is not None or self.steps > _STEPS:
                return found
        return None

    def _candidates(self, chosen: list) -> np.ndarray:
        """Rows that may come next: not chosen yet; entering no column's top c + 1 next to a row
        too close to it; passing the double token at most c - 1 times in its two columns."""
        P, c = self.P, self.c
        rows = np.asarray(chosen)
        ok = _keeps_columns_separated(P, self.H, rows, c)
        ok[rows] = False
        double, pair = chosen[1], self.pairs[chosen[1]]
        passed = (P[rows][:, pair] > P[double, pair]).sum(axis=0)  # rows above the double, per column
        for column, count in zip(pair, passed):
            if count >= c - 1:
                ok &= P[:, column] < P[double, column]
        return np.flatnonzero(ok)


def _experts(spec: Spec, X: np.ndarray, W: np.ndarray, rng):
    """Expert weights under which the ReLU inputs over the sheet take both signs (None when
    _EXPERT_DRAWS draws find none)."""
    P = softmax_rows((X @ W.T).astype(float), spec["gate"])
    chosen = np.argsort(-P, axis=0, kind="stable")[:spec["capacity"]]  # each expert's tokens
    for _ in range(_EXPERT_DRAWS):
        drawn = _expert_draws(rng, spec)
        pre = np.concatenate([X[chosen[:, e]] @ w1 + b1 for e, (w1, b1, _, _) in enumerate(drawn)])
        if pre.min() < 0 < pre.max():
            return _experts_of(drawn)
    return None
