"""Softmax with a temperature τ, by hand: an example exercise kind for moe-workbook.

Given router scores S (T x E small integers) and a temperature τ, the learner divides the scores
by τ, takes the powers 3^(s/τ − row min) (base 3 keeps them whole numbers, at most 81), the row
sums and the probabilities, then finds each token's top-1 probability at τ and at a second
temperature τ′: the smaller temperature gives the sharper distribution. The scores are
constructed, not searched for: multiples of 2 when either temperature is 2 (so s/τ is a whole
number), spread so that every power stays <= 81 at both temperatures, and one clear best expert
per token. Leaves out: top-k selection and everything after it (token-choice does that).

The parts below follow workbook/kinds/protocol.py, in its order; docs/writing-an-exercise.md
walks through them.
"""

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from sympy import Integer, Rational

from workbook.errors import SpecError
from workbook.layout import Board, blank_grid, given_grid, labels
from workbook.numeric import well_separated
from workbook.problem import Matrix, Step, as_matrix
from workbook.spec import Param

BASE = 3
MAX_POWER = 81                        # 3^4: the largest power a sheet asks for
TEMPERATURES = ("0.5", "1.0", "2.0")  # as Param.check writes numbers: temperature = 2 reads "2.0"
MAX_SCORE = 6                         # |s| <= 6 on every sheet
MAX_CARRIED_SPREAD = 8                # a learner's z spread beyond this is not followed (3^8 = 6561)


# --- the problem ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoresProblem:
    """Router scores S (T x E), and the two temperatures as exact strings ('2', '1/2')."""

    S: Matrix
    tau: str
    tau_other: str

    def inputs(self) -> dict:
        return {"S": [list(row) for row in self.S], "tau": self.tau, "tau_other": self.tau_other}


def temperatures(spec) -> tuple[Rational, Rational]:
    """The sheet's τ and the comparison's τ′, exact: ('2.0', '0.5') -> (2, 1/2)."""
    return Rational(spec["temperature"]), Rational(spec["compare"])


def shown(tau) -> str:
    """A temperature as the sheet writes it: 2 -> '2', 1/2 -> '0.5'. Not '1/2', which a
    worksheet would then show beside answers such as a probability of 1/2."""
    return f"{float(tau):g}"


def generate(spec) -> ScoresProblem:
    """Seeded, by construction (no search, no rejection): each row puts one expert at a level
    `high` and the others below it, in units of `unit` (2 when either temperature is 2, so that
    s/τ is whole), shifted by -1, 0 or +1 units. Levels stop at 4 · min(τ, τ′) / unit, so every
    power 3^((s − row min)/τ) is at most 81. Row t's best expert is the (t mod E)-th of a shuffle
    of the experts, so neighbouring rows never have the same best expert."""
    T, E = spec["tokens"], spec["experts"]
    taus = temperatures(spec)
    unit = 2 if 2 in taus else 1
    top = int(4 * min(taus) / unit)          # (1, 2): 2; (1/2, 1): 2; (1/2, 2): 1
    rng = np.random.default_rng(spec.seed)
    best = rng.permutation(E)
    rows = []
    for t in range(T):
        high = int(rng.integers(1, top + 1))
        levels = rng.integers(0, high, size=E)   # every other expert strictly below the best
        levels[best[t % E]] = high
        shift = int(rng.integers(-1, 2))
        rows.append(unit * (levels + shift))
    tau, other = taus
    return ScoresProblem(as_matrix(rows), str(tau), str(other))


# --- the exact steps --------------------------------------------------------------------------

def _chain(S: Matrix, tau) -> dict:
    """Every exact value of the softmax at temperature `tau`: z, powers, row sums, P, top-1."""
    z = tuple(tuple(Rational(s) / tau for s in row) for row in S)
    powers = tuple(tuple(Integer(BASE) ** (v - min(row)) for v in row) for row in z)
    sums = tuple(sum(row) for row in powers)
    probs = tuple(tuple(p / n for p in row) for row, n in zip(powers, sums))
    return {"scaled": z, "powers": powers, "row_sum": sums, "probs": probs,
            "top1": tuple(max(row) for row in probs)}


def steps(spec, problem: ScoresProblem):
    tau, other = temperatures(spec)
    here, there = _chain(problem.S, tau), _chain(problem.S, other)
    yield Step("scaled", "Scores divided by the temperature",
               f"z_te = s_te / τ with τ = {shown(tau)}.", here["scaled"])
    yield Step("powers", "Powers of 3", "3^(z_te − row min): subtract each row's smallest z first "
               "(softmax forgets a shift, and the powers stay whole numbers).", here["powers"])
    yield Step("row_sum", "Row sums", "Add up each row of powers.", here["row_sum"])
    yield Step("probs", "Probabilities", "P_te = 3^(z_te − row min) / row sum.", here["probs"])
    yield Step("powers_other", f"Powers of 3 at τ′ = {shown(other)}",
               f"The same scores at τ′ = {shown(other)}: 3^(s_te/τ′ − row min).", there["powers"])
    yield Step("top1", f"Top-1 probability at τ = {shown(tau)}",
               "Each token's largest probability (from the probabilities above).", here["top1"])
    yield Step("top1_other", f"Top-1 probability at τ′ = {shown(other)}",
               "Each token's largest power at τ′ divided by the sum of its row's powers at τ′.", there["top1"])
    yield Step("sharper", "The sharper temperature",
               "Write the temperature whose top-1 probabilities are the larger: its distribution is the sharper.",
               (tau if sum(here["top1"]) > sum(there["top1"]) else other,))


# --- the independent float computation ---------------------------------------------------------

def forward(spec, problem: ScoresProblem) -> dict:
    """The route real code takes: logits s/τ · ln 3, softmax with the row maximum subtracted and
    natural exp. The powers are then read back from P (P_te / min_j P_tj = 3^(z_te − row min)),
    the row sums as 1 / min_j P_tj: no power of 3 is taken here."""
    here, there = (_float_chain(problem.S, spec[name]) for name in ("temperature", "compare"))
    sharper = spec["temperature"] if here["top1"].sum() > there["top1"].sum() else spec["compare"]
    return here | {"powers_other": there["powers"], "top1_other": there["top1"], "sharper": [float(sharper)]}


def _float_chain(S: Matrix, tau: str) -> dict:
    z = np.array(S, dtype=float) / float(Fraction(tau))
    logits = z * np.log(BASE)
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    low = P.min(axis=1, keepdims=True)
    return {"scaled": z, "powers": P / low, "row_sum": 1 / low[:, 0], "probs": P, "top1": P.max(axis=1)}


# --- the sheet ---------------------------------------------------------------------------------

def title(spec) -> str:
    tau, other = temperatures(spec)
    return (f"Softmax temperature: {spec['tokens']} tokens, {spec['experts']} experts, "
            f"τ = {shown(tau)} vs τ′ = {shown(other)}")


def conventions(sol) -> tuple[str, ...]:
    tau, other = temperatures(sol.spec)
    return ("Router scores S are given, one token per row (T × E). Every index you write starts at 1.",
            "Softmax with temperature τ and base 3 (the by-hand stand-in for e), over the experts of one "
            "token: P_te = 3^(s_te/τ) / Σ_j 3^(s_tj/τ). Code computes softmax(z · ln 3) with z = s / τ.",
            "Subtract each row's smallest z before the powers: softmax forgets a shift, and every power "
            f"here is a whole number of at most {MAX_POWER}.",
            f"τ > 1 flattens the distribution, τ < 1 sharpens it (τ → 0 is the argmax). This sheet: "
            f"τ = {shown(tau)}, and τ′ = {shown(other)} to compare.",
            "Answers: exact fractions; decimals rounded half up to 2 places.")


def hand_work(sol) -> str:
    T, E = sol.spec["tokens"], sol.spec["experts"]
    return (f"Hand work: {T * E} divisions by τ, {2 * T * E} powers, {2 * T} row sums, "
            f"{T * E + T} divisions.")


def layout(sol) -> list:
    p, s, spec = sol.problem, sol.step, sol.spec
    T, E = spec["tokens"], spec["experts"]
    tau, other = temperatures(spec)
    tok, exp_ = labels("t", T), labels("E", E)
    column = lambda step_id: [[v] for v in s(step_id).exact]
    return [
        (s("scaled").title, s("scaled").instruction, [Board((
            (given_grid("S (given)", p.S, tok, exp_),
             blank_grid(f"z = s / {shown(tau)}", "scaled", s("scaled").exact, tok, exp_)),
        ))]),
        ("Powers of 3 and row sums", s("powers").instruction + " " + s("row_sum").instruction, [Board((
            (blank_grid("3^(z − row min)", "powers", s("powers").exact, tok, exp_),
             blank_grid("Σ", "row_sum", column("row_sum"), tok, ("sum",))),
        ))]),
        (s("probs").title, s("probs").instruction, [Board((
            (blank_grid("P", "probs", s("probs").exact, tok, exp_, wide=True),),
        ))]),
        (f"The same scores at τ′ = {shown(other)}",
         " ".join(s(i).instruction for i in ("powers_other", "top1", "top1_other", "sharper")), [Board((
             (blank_grid("3^(s/τ′ − row min)", "powers_other", s("powers_other").exact, tok, exp_),
              blank_grid("at τ", "top1", column("top1"), tok, ("top-1 P",), wide=True),
              blank_grid("at τ′", "top1_other", column("top1_other"), tok, ("top-1 P",), wide=True),
              blank_grid("sharper", "sharper", [s("sharper").exact], (), ("τ",), wide=True)),
         ))]),
    ]


# --- the worked solution (solutions.worked checks every line against the key) -----------------

def working(sol) -> list:
    """Every step worked in the variant's numbers: each row's first box written out, every
    one-value box, and why the sharper temperature is the one it is. Built with
    workbook.working's terms, so that each line's text and its sympy expression are one."""
    from workbook.working import Term, Working, claim, factor, joined, line, num, power, reason
    from workbook.working import shown as exact  # an exact value with its decimal ('9/13 ≈ 0.69')

    s, S = sol.step, sol.problem.S
    tau, other = temperatures(sol.spec)
    z, powers, sums, probs = (s(i).exact for i in ("scaled", "powers", "row_sum", "probs"))
    rows = range(len(S))

    def exponent(v, low):  # 3^(z − row min), the subtraction written out
        return Term(f"3^({num(v).text} − {factor(low).text})", f"3**(({v}) - ({low}))")

    other_z = [[Rational(v) / other for v in row] for row in S]
    return [
        Working("scaled", f"Dividing by τ = {shown(tau)} stretches (τ < 1) or shrinks (τ > 1) every gap between "
                "a token's scores; only the gaps matter to softmax.",
                tuple(line(f"z[t{t + 1},E1] = s / τ", joined((num(S[t][0]), factor(tau)), "/"), z[t][0],
                           [f"scaled[{t + 1}][1]"]) for t in rows)),
        Working("powers", "Subtracting the row minimum changes no probability and keeps the powers whole.",
                tuple(line(f"t{t + 1}: 3^(z − row min)", exponent(z[t][0], min(z[t])), powers[t][0],
                           [f"powers[{t + 1}][1]"], then=power(3, z[t][0] - min(z[t]))) for t in rows)),
        Working("row_sum", "The row sum is the softmax's denominator.",
                tuple(line(f"Σ t{t + 1}", joined((num(v) for v in powers[t]), "+"), sums[t], [f"row_sum[{t + 1}][1]"])
                      for t in rows)),
        Working("probs", "Each row of P adds up to 1: how the token's weight is shared among the experts.",
                tuple(line(f"P[t{t + 1},E1] = power / Σ", joined((num(powers[t][0]), factor(sums[t])), "/"),
                           probs[t][0], [f"probs[{t + 1}][1]"]) for t in rows)),
        Working("powers_other", f"The same scores at τ′ = {shown(other)}: only the temperature changed.",
                tuple(line(f"t{t + 1}: 3^(s/τ′ − row min)", exponent(other_z[t][0], min(other_z[t])),
                           s("powers_other").exact[t][0], [f"powers_other[{t + 1}][1]"]) for t in rows)),
        Working("top1", "A token's top-1 probability: how sure the router is of its best expert.",
                tuple(claim(f"t{t + 1}: the largest P is {exact(max(probs[t]))}", max(probs[t]), [f"top1[{t + 1}][1]"])
                      for t in rows)),
        Working("top1_other", f"The same at τ′ = {shown(other)}: the largest power over its row's sum.",
                tuple(line(f"t{t + 1}: largest power / Σ at τ′",
                           joined((num(max(row)), factor(sum(row))), "/"), s("top1_other").exact[t],
                           [f"top1_other[{t + 1}][1]"]) for t, row in enumerate(s("powers_other").exact))),
        Working("sharper", "The smaller temperature gives the sharper distribution: its top-1 probabilities are larger.",
                (reason(f"Σ top-1 at τ = {exact(sum(s('top1').exact))}; at τ′ = {exact(sum(s('top1_other').exact))}."),
                 claim(f"The sharper temperature: τ = {shown(s('sharper').exact[0])}", s("sharper").exact[0],
                       ["sharper[1][1]"]))),
    ]


# --- the common mistakes (check names the one a wrong step matches) ----------------------------

def _as_if(sol, tau_used) -> list[dict]:
    """The steps a learner writes who works at `tau_used(τ)` where the sheet means τ: the
    sheet's chain when τ is the one mistaken, and the comparison's when τ′ is (a list: either can
    happen on its own). Nothing when the mistake changes nothing (τ = 1)."""
    tau, other = temperatures(sol.spec)
    out = []
    if tau_used(tau) != tau:
        wrong = _chain(sol.problem.S, tau_used(tau))
        out.append({i: wrong[i] for i in ("scaled", "powers", "row_sum", "probs", "top1")})
    if tau_used(other) != other:
        wrong = _chain(sol.problem.S, tau_used(other))
        out.append({"powers_other": wrong["powers"], "top1_other": wrong["top1"]})
    return out


def _temperature_ignored(sol) -> list[dict]:
    """The softmax of s itself: τ left out (the same as working at τ = 1)."""
    return _as_if(sol, lambda tau: Integer(1))


def _multiplied(sol) -> list[dict]:
    """s · τ instead of s / τ (the same as working at 1/τ)."""
    return _as_if(sol, lambda tau: 1 / tau)


MISTAKES = (
    ("the temperature ignored: softmax of s instead of s/τ", _temperature_ignored),
    ("multiplied by τ instead of divided (s · τ instead of s / τ)", _multiplied),
)


# --- carried errors (optional): a step right given the learner's own earlier numbers ------------

_REF = re.compile(r"(\w+)\[(\d+)\]\[(\d+)\]\Z")


def _grid(learner: dict, step_id: str):
    """{row: [values]} of a step as the learner wrote it, or None unless every box holds a number."""
    rows: dict[int, dict[int, object]] = {}
    for ref, value in learner.items():
        m = _REF.match(ref)
        if m and m[1] == step_id:
            rows.setdefault(int(m[2]), {})[int(m[3])] = value
    if not rows or not all(isinstance(v, (Fraction, float)) for r in rows.values() for v in r.values()):
        return None
    return {i: [r[j] for j in sorted(r)] for i, r in rows.items()}


def carried(sol, step_id: str, learner: dict):
    """Powers from the learner's z, row sums from their powers, probabilities from their powers
    and row sums, top-1 from their probabilities, top-1 at τ′ from their powers at τ′, the sharper
    temperature from their two top-1 columns. Bounded: a row whose z is not whole, or spread wider
    than MAX_CARRIED_SPREAD, is not followed (a hostile answer file must not make 3^(10^30))."""
    if step_id == "powers":
        z = _grid(learner, "scaled")
        if z is None:
            return None
        rows = {i: r for i, r in z.items() if all(isinstance(v, Fraction) and v.denominator == 1 for v in r)
                and max(r) - min(r) <= MAX_CARRIED_SPREAD}
        return ("scaled", {f"powers[{i}][{j + 1}]": Fraction(BASE) ** int(v - min(r))
                           for i, r in rows.items() for j, v in enumerate(r)}) if rows else None
    if step_id == "top1_other":
        powers = _grid(learner, "powers_other")
        if powers is None:
            return None
        return "powers_other", {f"top1_other[{i}][1]": max(r) / sum(r) for i, r in powers.items() if sum(r) != 0}
    if step_id == "sharper":
        here, there = _grid(learner, "top1"), _grid(learner, "top1_other")
        if here is None or there is None:
            return None
        tau, other = temperatures(sol.spec)
        sharper = tau if sum(r[0] for r in here.values()) > sum(r[0] for r in there.values()) else other
        return ("top1", "top1_other"), {"sharper[1][1]": Fraction(str(sharper))}
    if step_id == "row_sum":
        powers = _grid(learner, "powers")
        return None if powers is None else ("powers", {f"row_sum[{i}][1]": sum(r) for i, r in powers.items()})
    if step_id == "probs":
        powers, sums = _grid(learner, "powers"), _grid(learner, "row_sum")
        if powers is None or sums is None or any(r[0] == 0 for r in sums.values()):
            return None
        return ("powers", "row_sum"), {f"probs[{i}][{j + 1}]": v / sums[i][0]
                                       for i, r in powers.items() if i in sums for j, v in enumerate(r)}
    if step_id == "top1":
        probs = _grid(learner, "probs")
        return None if probs is None else ("probs", {f"top1[{i}][1]": max(r) for i, r in probs.items()})
    return None


# --- the promises this kind keeps (optional; the stress test runs it over many seeds) ----------

def contract(sol) -> list[str]:
    """The hand-friendliness promises a variant breaks, in words; [] when it keeps them all."""
    broken = []
    S, T = sol.problem.S, sol.spec["tokens"]
    if any(abs(v) > MAX_SCORE for row in S for v in row):
        broken.append(f"a score beyond ±{MAX_SCORE}")
    if not all(v.is_Integer for row in sol.step("scaled").exact for v in row):
        broken.append("s / τ is not a whole number everywhere")
    for step_id in ("powers", "powers_other"):
        values = [v for row in sol.step(step_id).exact for v in row]
        if not all(v.is_Integer and 1 <= v <= MAX_POWER for v in values):
            broken.append(f"{step_id}: a power that is not a whole number from 1 to {MAX_POWER}")
    tau, other = temperatures(sol.spec)
    there = _chain(S, other)
    for t in range(T):
        for name, probs in (("τ", sol.step("probs").exact[t]), ("τ′", there["probs"][t])):
            ordered = sorted((float(v) for v in probs), reverse=True)
            if not well_separated(ordered[:2]):
                broken.append(f"token {t + 1}: its top-1 at {name} is not clear of the runner-up at 2 decimals")
        sharp, flat = sol.step("top1").exact[t], there["top1"][t]
        if tau > other:
            sharp, flat = flat, sharp
        if not float(sharp - flat) >= 0.01:
            broken.append(f"token {t + 1}: the smaller temperature's top-1 is not visibly larger")
    if T > 1 and len({tuple(v - min(row) for v in row) for row in S}) == 1:
        broken.append("every token has the same scores up to a shift")
    return broken


# --- the exercise's declaration (workbook/kinds/protocol.py) -----------------------------------

TITLE = "Softmax with a temperature"
PARAMS = (
    Param("tokens", "tokens T (rows of S)", 4, 2, 6),
    Param("experts", "experts E (columns of S)", 3, 2, 5),
    Param("temperature", "the sheet's temperature τ", "2.0", choices=TEMPERATURES),
    Param("compare", "a second temperature τ′, to compare the top-1 probability at", "1.0", choices=TEMPERATURES),
)


def check(values: dict) -> None:
    """The two temperatures must differ: there is nothing to compare otherwise."""
    if values["temperature"] == values["compare"]:
        raise SpecError(f"temperature and compare are both {values['temperature']}: choose two different "
                        f"temperatures from {', '.join(TEMPERATURES)}")
