"""Load-balancing loss (Switch, and HF's top-k convention) and router z-loss (ST-MoE), by hand.

Given router scores S (T x E, integers 0..4), the learner finds P (softmax base 3), each token's
top-k, the fraction routed f_i and the mean probability P̄_i, L_aux = α E Σ f_i P̄_i set against
the balanced value (α k) and a collapsed routing (α E), then the router z-loss with a printed table
of natural logarithms. Every row of S is a shuffle of one pattern plus 0 or 1, so all rows of P
share one denominator (P̄ stays a short fraction) while the z-loss still differs from row to row:
softmax forgets a shift, the z-loss does not. Leaves out: routing with capacity (switch).
"""

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy
from sympy import Rational

from workbook.errors import GenerationError
from workbook.figures import load_bars
from workbook.kinds.load_balance_working import working  # noqa: F401
from workbook.layout import Board, Cell, Figure, Grid, answer_free, blank_grid, given_grid, labels, ordinal
from workbook.problem import Matrix, Step, as_matrix
from workbook.spec import Param, top_k_below_experts

ALPHA = Rational(1, 100)
_TRIES = 500


@dataclass(frozen=True)
class ScoresProblem:
    """Router scores S (T x E): row t is a shuffle of one pattern (minimum 0) plus 0 or 1."""

    S: Matrix

    def inputs(self) -> dict:
        return {"S": [list(r) for r in self.S]}


def generate(spec) -> ScoresProblem:
    """Seeded: some expert above the fair share T*k/E and one below, a loss visibly above the
    balanced value, and rows shifted by 0 and by 1 both present."""
    T, E, k = spec["tokens"], spec["experts"], spec["top_k"]
    rng = np.random.default_rng(spec.seed)
    for _ in range(_TRIES):
        pattern = rng.integers(0, 4, size=E)
        pattern -= pattern.min()
        if len(set(np.sort(pattern)[::-1][:k + 1])) < k + 1:
            continue  # a tie among the top k+1 of a row
        rows = np.array([rng.permutation(pattern) for _ in range(T)])
        shift = rng.integers(0, 2, size=T)
        counts = _counts(rows, k)
        fair = T * k / E
        if not (counts.max() > fair and counts.min() < fair and shift.min() < shift.max()):
            continue
        problem = ScoresProblem(as_matrix(rows + shift[:, None]))
        if forward(spec, problem)["aux_unscaled"][0] > k + 0.05:  # visibly above the balanced value
            return problem
    raise GenerationError(f"could not build a hand-friendly load-balance problem with T={T}, E={E}, k={k}")


def _counts(S: np.ndarray, k: int) -> np.ndarray:
    top = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return np.array([(top == e).sum() for e in range(S.shape[1])])


def _pattern_sum(S: Matrix) -> int:
    """Σ_j 3^(s_tj - row min), the same for every row: (2, 0, 1) -> 13."""
    return sum(3 ** (s - min(S[0])) for s in S[0])


def steps(spec, problem: ScoresProblem):
    S, k = problem.S, spec["top_k"]
    T, E = len(S), len(S[0])
    n = _pattern_sum(S)
    P = tuple(tuple(Rational(3 ** (s - min(row)), n) for s in row) for row in S)
    yield Step("probs", "Router probabilities", "P_te = 3^(s_te − row min) / Σ_j 3^(s_tj − row min).", P)
    top = tuple(tuple(sorted(range(E), key=lambda e: (-row[e], e))[:k]) for row in S)
    yield Step("topk", f"Top-{k} experts per token",
               f"Each token's {k} largest probabilities, best first." if k > 1 else "Each token's largest probability.",
               tuple(tuple(sympy.Integer(e + 1) for e in row) for row in top), index=True)
    counts = tuple(sympy.Integer(sum(e in row for row in top)) for e in range(E))
    yield Step("counts", "Tokens per expert", "Count the tokens that have expert i among their top-k.", counts, index=True)
    f = tuple(c / T for c in counts)
    yield Step("f", "Fraction routed f_i", f"f_i = count_i / T (T = {T}).", f)
    pbar = tuple(sum(P[t][e] for t in range(T)) / T for e in range(E))
    yield Step("pbar", "Mean probability P̄_i", "P̄_i = the mean of column i of P.", pbar)
    products = tuple(a * b for a, b in zip(f, pbar))
    yield Step("f_pbar", "f_i · P̄_i", "Multiply f_i by P̄_i for each expert.", products)
    unscaled = E * sum(products)
    yield Step("aux_unscaled", "E · Σ f_i P̄_i", f"Add the products and multiply by E = {E}.", (unscaled,))
    yield Step("aux_loss", "L_aux", "L_aux = α · E · Σ f_i P̄_i with α = 0.01.", (ALPHA * unscaled,))
    yield Step("aux_balanced", "L_aux, perfectly balanced", "Every f_i = k/E and P̄_i = 1/E: α · k.", (ALPHA * k,))
    yield Step("aux_collapsed", "L_aux, collapsed",
               "Every token sends everything to the same expert(s): α · E.", (ALPHA * E,))
    lse = tuple((min(row) * sympy.log(3) + sympy.log(n)) for row in S)
    yield Step("lse", "ln Σ_j exp(z_tj)",
               f"With z = s · ln 3: ln Σ_j 3^s_tj = (row min) · ln 3 + ln {n}; read both from the table.", lse)
    yield Step("z_loss", "Router z-loss L_z", "L_z = the mean over tokens of (ln Σ_j exp(z_tj))².",
               (sum(v ** 2 for v in lse) / T,))


def forward(spec, problem: ScoresProblem) -> dict:
    """The same quantities the way a framework computes them: natural logits, logsumexp, means."""
    z = np.array(problem.S, dtype=float) * math.log(3)
    P = np.exp(z - z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    T, E = P.shape
    k = spec["top_k"]
    top = np.argsort(-P, axis=1, kind="stable")[:, :k]
    mask = np.zeros_like(P)
    np.put_along_axis(mask, top, 1.0, axis=1)
    f, pbar = mask.mean(axis=0), P.mean(axis=0)
    unscaled = E * float(np.dot(f, pbar))
    lse = np.log(np.exp(z).sum(axis=1))
    return {"probs": P, "topk": top + 1, "counts": mask.sum(axis=0), "f": f, "pbar": pbar,
            "f_pbar": f * pbar, "aux_unscaled": [unscaled], "aux_loss": [0.01 * unscaled],
            "aux_balanced": [0.01 * k], "aux_collapsed": [0.01 * E], "lse": lse, "z_loss": [float(np.mean(lse ** 2))]}


def title(spec) -> str:
    rule = "Switch, top-1" if spec["top_k"] == 1 else f"top-{spec['top_k']}, HF convention"
    return f"Load balancing and z-loss: {spec['tokens']} tokens, {spec['experts']} experts, {rule}"


def conventions(sol) -> tuple[str, ...]:
    k, E = sol.spec["top_k"], sol.spec["experts"]
    if k == 1:
        aux = ("Switch load-balancing loss (Fedus et al. 2021): f_i = fraction of tokens whose top-1 is expert i "
               "(counted before any capacity drop); P̄_i = mean of P_ti over the tokens; L_aux = α · E · Σ_i f_i · P̄_i "
               "with α = 0.01. Perfectly balanced routing gives α.")
    else:
        aux = (f"Top-{k} load-balancing loss (HF transformers load_balancing_loss_func): f_i = fraction of tokens with "
               f"expert i among their top-{k} (so Σ f_i = {k}); P̄_i = mean of P_ti; L_aux = α · E · Σ_i f_i · P̄_i with "
               f"α = 0.01. Balanced routing gives α · k. (DeepSeek-V3 scales f_i by E/(kT) so that it gives α.)")
    return ("Router scores S are given, one token per row (T × E). Every index you write starts at 1.",
            "Gate: softmax with base 3 over the experts of one token, P_te = 3^s_te / Σ_j 3^s_tj "
            "(the by-hand stand-in for e).",
            aux,
            f"Collapsed routing: every token sends all its weight to the same expert(s); then L_aux = α · E = "
            f"{float(ALPHA * E):g}, the worst case.",
            "Router z-loss (ST-MoE, Zoph et al. 2022): L_z = (1/T) Σ_t (ln Σ_j exp(z_tj))² on the natural logits "
            "z = s · ln 3, so exp(z) = 3^s. The paper adds it with weight 0.001. Natural logarithms are in the table.",
            "Answers: exact fractions; decimals rounded half up to 2 places (4 places for the α-scaled losses).")


def hand_work(sol) -> str:
    T, E, k = sol.spec["tokens"], sol.spec["experts"], sol.spec["top_k"]
    return (f"Hand work: {T * E} probabilities, {T * k} selections, {2 * E + 1} divisions, "
            f"{E + T} multiplications, {T} logarithm sums.")


def layout(sol) -> list:
    p, s, spec = sol.problem, sol.step, sol.spec
    T, E, k = spec["tokens"], spec["experts"], spec["top_k"]
    tok, exp_ = labels("t", T), labels("E", E)
    n = _pattern_sum(p.S)
    counts = [int(v) for v in s("counts").exact]
    bars = load_bars(counts, None, Rational(T * k, E), most=T if answer_free(spec) else 0)
    exact = answer_free(spec)  # the key shows the exact logarithms too, in cells long enough
    # a grid's name is set monospaced, where a combining macron does not sit on its letter
    bar = (lambda name: name.replace("P̄_i", "mean P_i")) if exact else (lambda name: name)
    one = ("",)
    table = Grid("natural logarithms", ((Cell(given="ln 3", wide=True), Cell(given=f"{math.log(3):.4f}", wide=True)),
                                        (Cell(given=f"ln {n}", wide=True), Cell(given=f"{math.log(n):.4f}", wide=True))), (), ("", "value"))
    return [
        ("Router probabilities", s("probs").instruction, [Board((
            (given_grid("S (given)", p.S, tok, exp_), blank_grid("P", "probs", s("probs").exact, tok, exp_, wide=True)),
        ))]),
        ("Routing and the fraction routed", " ".join(s(i).instruction for i in ("topk", "counts", "f")), [
            Board(((blank_grid(f"top-{k}", "topk", s("topk").exact, tok, tuple(ordinal(i) for i in range(k))),
                    Figure("tokens per expert, with the fair share T·k/E (draw it)", *bars)),)),
            Board(((blank_grid("count_i", "counts", [s("counts").exact], one, exp_),),
                   (blank_grid("f_i", "f", [s("f").exact], one, exp_, wide=True),))),
        ]),
        ("Mean probability", s("pbar").instruction + " " + s("f_pbar").instruction, [Board((
            (blank_grid(bar("P̄_i"), "pbar", [s("pbar").exact], one, exp_, wide=True),),
            (blank_grid(bar("f_i · P̄_i"), "f_pbar", [s("f_pbar").exact], one, exp_, wide=True),),
        ))]),
        ("Auxiliary loss against balanced and collapsed routing",
         " ".join(s(i).instruction for i in ("aux_unscaled", "aux_loss", "aux_balanced", "aux_collapsed")), [Board((
             (blank_grid(bar("E · Σ f_i P̄_i"), "aux_unscaled", [s("aux_unscaled").exact], (), ("",), wide=True),
              blank_grid("L_aux", "aux_loss", [s("aux_loss").exact], (), ("",), wide=True, places=4),
              blank_grid("balanced", "aux_balanced", [s("aux_balanced").exact], (), ("",), wide=True, places=4),
              blank_grid("collapsed", "aux_collapsed", [s("aux_collapsed").exact], (), ("",), wide=True, places=4)),
         ))]),
        ("Router z-loss", s("lse").instruction + " " + s("z_loss").instruction, [Board((
            (table, blank_grid("ln Σ exp(z)", "lse", [[v] for v in s("lse").exact], tok, ("",),
                               wide=2 if exact else True, full=exact),
             blank_grid("L_z", "z_loss", [s("z_loss").exact], (), ("",), wide=3 if exact else True, full=exact)),
        ))]),
    ]


# --- carried errors: the later steps worked from the learner's own numbers ---------------------

_REF = re.compile(r"(\w+)\[(\d+)\]\[(\d+)\]")
_MAX_CARRIED = 10 ** 9  # a box beyond this is a typo or a hostile file: not followed


def _cells(learner: dict, step_id: str) -> dict | None:
    """{(i, j): value} of one step's boxes (1-based); None when a box is empty, not a number, or
    beyond any hand calculation (so nothing is worked from it)."""
    out = {}
    for ref, v in learner.items():
        m = _REF.fullmatch(ref)
        if m and m.group(1) == step_id:
            if isinstance(v, bool) or not isinstance(v, (Fraction, float)):
                return None
            if isinstance(v, float) and not math.isfinite(v) or abs(v) > _MAX_CARRIED:
                return None
            out[(int(m.group(2)), int(m.group(3)))] = v
    return out or None


def _one_row(learner: dict, step_id: str, n: int) -> list | None:
    """The n values of a one-row grid ('f[1][1]' ... 'f[1][n]'), every one filled, else None."""
    cells = _cells(learner, step_id)
    if cells is None or any((1, j) not in cells for j in range(1, n + 1)):
        return None
    return [cells[(1, j)] for j in range(1, n + 1)]


def carried(sol, step_id: str, learner: dict):
    """(source step(s), {ref: value}) of `step_id` worked from the learner's own earlier numbers:
    the counts from their top-k, f from the counts, P̄ from P, f · P̄ from f and P̄, E · Σ f P̄
    from the products, L_aux from E · Σ f P̄, L_z from the ln Σ exp values. None for any other step
    (P and ln Σ exp are read from the given scores and table), or when a source box is empty or not
    a number. Only sums and products: nothing here can explode, and a box beyond 10^9 is refused."""
    T, E = len(sol.problem.S), len(sol.problem.S[0])
    if step_id == "counts":
        top = _cells(learner, "topk")
        if top is None or not all(float(v).is_integer() and 1 <= v <= E for v in top.values()):
            return None
        rows: dict = {}
        for (t, _), e in top.items():
            rows.setdefault(t, set()).add(int(e))
        return "topk", {f"counts[1][{e}]": Fraction(sum(e in r for r in rows.values())) for e in range(1, E + 1)}
    if step_id == "f":
        counts = _one_row(learner, "counts", E)
        return None if counts is None else ("counts", {f"f[1][{e + 1}]": c / T for e, c in enumerate(counts)})
    if step_id == "pbar":
        P = _cells(learner, "probs")
        if P is None or any((t, e) not in P for t in range(1, T + 1) for e in range(1, E + 1)):
            return None
        return "probs", {f"pbar[1][{e}]": sum(P[(t, e)] for t in range(1, T + 1)) / T for e in range(1, E + 1)}
    if step_id == "f_pbar":
        f, pbar = _one_row(learner, "f", E), _one_row(learner, "pbar", E)
        if f is None or pbar is None:
            return None
        return ("f", "pbar"), {f"f_pbar[1][{e + 1}]": a * b for e, (a, b) in enumerate(zip(f, pbar))}
    if step_id == "aux_unscaled":
        products = _one_row(learner, "f_pbar", E)
        return None if products is None else ("f_pbar", {"aux_unscaled[1][1]": E * sum(products)})
    if step_id == "aux_loss":
        unscaled = _one_row(learner, "aux_unscaled", 1)
        if unscaled is None:
            return None
        return "aux_unscaled", {"aux_loss[1][1]": Fraction(int(ALPHA.p), int(ALPHA.q)) * unscaled[0]}
    if step_id == "z_loss":
        lse = _cells(learner, "lse")
        if lse is None or any((t, 1) not in lse for t in range(1, T + 1)):
            return None
        return "lse", {"z_loss[1][1]": sum(lse[(t, 1)] ** 2 for t in range(1, T + 1)) / T}
    return None


def _f_as_counts(sol) -> dict:
    """f_i left as the count of tokens, not divided by T; the steps after it worked from that."""
    counts, pbar, E = sol.step("counts").exact, sol.step("pbar").exact, len(sol.problem.S[0])
    products = tuple(c * p for c, p in zip(counts, pbar))
    return {"f": counts, "f_pbar": products, "aux_unscaled": (E * sum(products),),
            "aux_loss": (ALPHA * E * sum(products),)}


def _e_left_out(sol) -> dict:
    """L_aux = α Σ f_i P̄_i, without the factor E."""
    total = sum(sol.step("f_pbar").exact)
    return {"aux_unscaled": (total,), "aux_loss": (ALPHA * total,)}


def _row_min_left_out(sol) -> dict:
    """ln Σ_j exp(z_tj) taken as ln of the pattern's sum alone: the row minimum's min · ln 3 lost
    (only a sheet with rows shifted by 1 shows it)."""
    S = sol.problem.S
    if all(min(row) == 0 for row in S):
        return {}
    lse = tuple(sympy.log(_pattern_sum(S)) for _ in S)
    return {"lse": lse, "z_loss": (sum(v ** 2 for v in lse) / len(S),)}


def _z_not_squared(sol) -> dict:
    """L_z as the mean of ln Σ exp(z), not of its square."""
    lse = sol.step("lse").exact
    return {"z_loss": (sum(lse) / len(lse),)}


MISTAKES = (
    ("f_i left as a count of tokens, not divided by T", _f_as_counts),
    ("E left out of L_aux (α Σ f_i P̄_i instead of α · E · Σ f_i P̄_i)", _e_left_out),
    ("the row minimum's part (min · ln 3) left out of ln Σ exp(z)", _row_min_left_out),
    ("the z-loss not squared (the mean of ln Σ exp(z), not of its square)", _z_not_squared),
)


# --- the exercise's declaration (kinds/protocol.py) ------------------------------------------

TITLE = "Load-balancing loss and router z-loss"
PARAMS = (
    Param("tokens", "tokens T (rows of S)", 8, 4, 10),
    Param("experts", "experts E", 4, 2, 6),
    Param("top_k", "experts per token k (1: Switch; 2 or more: the HF top-k convention)", 1, 1, 3),
)
SLOTS = ((4, ()),)

check = top_k_below_experts
