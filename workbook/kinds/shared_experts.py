"""Shared + routed experts: DeepSeekMoE, and DeepSeek-V3 with its auxiliary-loss-free bias update.

h_t = x_t + Σ_(shared i) FFN_i(x_t) + Σ_(routed i) g_ti FFN_i(x_t). Router scores are given.
DeepSeekMoE: g = softmax (base 3) over the routed experts, kept for the top-K_r, not renormalised.
DeepSeek-V3: s = sigmoid (base 3), selection by s + b, weights = the selected s renormalised times
the scaling factor; then one bias update b_i <- b_i + γ sign(mean load − load_i) and the routing it
changes. The experts are linear maps x W_i (d x d) so the sheet stays about routing and combining.
Leaves out: the FFN inside an expert (routing sheets have it) and the gradient of the bias (none).
"""

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy
from sympy import Rational

from workbook.errors import GenerationError
from workbook.kinds.shared_experts_carried import carried  # noqa: F401
from workbook.kinds.shared_experts_working import working  # noqa: F401
from workbook.layout import Board, Cell, Grid, answer_free, blank_grid, given_grid, labels, ordinal
from workbook.numeric import well_separated_rows
from workbook.problem import Matrix, Step, as_matrix
from workbook.spec import Param, top_k_below_experts

SCALE = Rational(5, 2)   # DeepSeek-V3's routed_scaling_factor
GAMMA = Rational(1, 10)  # bias update speed, large enough to see on paper
_TRIES = 600   # editions 1-3: whole problems drawn before building one row by row
_BUILDS = 200  # row-by-row builds (V3 draws biases and rows again until the update moves a token)


@dataclass(frozen=True)
class SharedProblem:
    """X (T x d), router scores S (T x E_r), experts W (K_s shared then E_r routed, each d x d),
    and the starting biases in tenths (V3 only; 1 means 0.1)."""

    X: Matrix
    S: Matrix
    W: tuple[Matrix, ...]
    bias: tuple[int, ...] = ()

    def inputs(self) -> dict:
        data = {"X": [list(r) for r in self.X], "S": [list(r) for r in self.S],
                "experts": [[list(r) for r in w] for w in self.W]}
        if self.bias:
            data["bias"] = [b / 10 for b in self.bias]
        return data


def _sigmoid3(n: int) -> Rational:
    """3^n / (3^n + 1): 1 -> 3/4, 0 -> 1/2, -2 -> 1/10."""
    p = Rational(3) ** n
    return p / (p + 1)


def _top(values, k: int) -> tuple:
    return tuple(sorted(range(len(values)), key=lambda e: (-values[e], e))[:k])


def generate(spec) -> SharedProblem:
    """Seeded; no near-tie at any selection; V3: the bias update changes some token's experts.

    Built row by row (_construct) from the rows that keep the rules. Editions 1-3 drew whole
    problems first and built only where that found none (_drawn): their codes keep those numbers."""
    rng = np.random.default_rng(spec.seed)
    return (_drawn(spec, rng) if spec.edition < 4 else None) or _construct(spec, rng)


def _drawn(spec, rng) -> SharedProblem | None:
    """Editions 1-3: whole problems drawn and refused until one keeps the rules (None after _TRIES)."""
    T, E, K, Ks, d = (spec[n] for n in ("tokens", "experts", "top_k", "shared", "d_model"))
    v3 = spec["variant"] == "v3"
    softmax_ok = None if v3 else _softmax_ok(E, K)
    for _ in range(_TRIES):
        S = rng.integers(-2, 3, size=(T, E))
        W = rng.integers(-1, 2, size=(Ks + E, d, d))  # the same numbers as Ks + E draws of d x d
        X = rng.integers(-2, 3, size=(T, d))
        if not X.any(axis=1).all() or not W.reshape(Ks + E, -1).any(axis=1).all():
            continue
        bias = tuple(int(b) for b in rng.integers(-2, 3, size=E)) if v3 else ()
        # The same float tests as forward() makes, on the selection only: most draws fail here.
        if not (well_separated_rows(_sigmoid_rows(S) + np.array(bias, dtype=float) / 10, K + 1) if v3
                else softmax_ok[_index(S)]).all():
            continue
        problem = _problem(X, S, W, bias)
        if not v3 or _update_ok(spec, problem):
            return problem
    return None


def _problem(X, S, W, bias) -> SharedProblem:
    return SharedProblem(as_matrix(X), as_matrix(S), tuple(as_matrix(w) for w in W), bias)


def _update_ok(spec, problem: SharedProblem) -> bool:
    """V3: after the bias update every token's top K+1 is still apart, and some token changes experts."""
    f = forward(spec, problem)
    return well_separated_rows(f["selection_new"], spec["top_k"] + 1).all() and bool(f["changed"].any())


def _construct(spec, rng) -> SharedProblem:
    """Row by row: every score row from the rows whose own selection keeps its top K+1 apart, every
    x row and expert matrix from the non-zero ones. V3: the biases are drawn first and the rows kept
    apart under them; the update must then keep them apart and move some token (bounded tries)."""
    T, E, K, Ks, d = (spec[n] for n in ("tokens", "experts", "top_k", "shared", "d_model"))
    v3 = spec["variant"] == "v3"
    xs, ws = _nonzero(-2, 2, d), _nonzero(-1, 1, d * d)
    for _ in range(_BUILDS):
        bias = tuple(int(b) for b in rng.integers(-2, 3, size=E)) if v3 else ()
        ok = well_separated_rows(_affinities(E) + np.array(bias, dtype=float) / 10, K + 1) if v3 else _softmax_ok(E, K)
        pool = np.flatnonzero(ok)
        if len(pool) == 0:
            continue
        S = _all_rows(E)[rng.choice(pool, size=T, replace=len(pool) < T)]
        W = [ws[i].reshape(d, d) for i in rng.integers(0, len(ws), size=Ks + E)]
        X = xs[rng.integers(0, len(xs), size=T)]
        problem = _problem(X, S, W, bias)
        if not v3 or _update_ok(spec, problem):
            return problem
    raise GenerationError(f"could not build a hand-friendly shared-experts problem with these parameters "
                          f"({', '.join(f'{k}={v}' for k, v in spec.params.items())})")


@lru_cache(maxsize=None)
def _all_rows(n: int, low: int = -2, high: int = 2) -> np.ndarray:
    """Every row of n integers in low..high, in itertools.product order (read-only)."""
    rows = np.array(list(itertools.product(range(low, high + 1), repeat=n)), dtype=np.int64).reshape(-1, n)
    rows.flags.writeable = False
    return rows


def _nonzero(low: int, high: int, n: int) -> np.ndarray:
    rows = _all_rows(n, low, high)
    return rows[rows.any(axis=1)]


def _index(S: np.ndarray) -> np.ndarray:
    """Each row of scores in -2..2 -> its position in _all_rows: (-2, ..., -2) -> 0."""
    return (S + 2) @ (5 ** np.arange(S.shape[1] - 1, -1, -1))


def _sigmoid_rows(S: np.ndarray) -> np.ndarray:
    """The affinities s as forward() computes them."""
    return 1 / (1 + np.exp(-(S * np.log(3))))


@lru_cache(maxsize=None)
def _affinities(E: int) -> np.ndarray:
    """s of every row of E scores in -2..2 (by _index)."""
    s = _sigmoid_rows(_all_rows(E))
    s.flags.writeable = False
    return s


@lru_cache(maxsize=None)
def _softmax_ok(E: int, K: int) -> np.ndarray:
    """For every row of E scores in -2..2 (by _index): do its base-3 probabilities, computed as
    forward() does, keep their top K+1 apart?"""
    z = _all_rows(E) * np.log(3)
    P = np.exp(z - z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    ok = well_separated_rows(P, K + 1)
    ok.flags.writeable = False
    return ok


def steps(spec, problem: SharedProblem):
    X, S, K, Ks = problem.X, problem.S, spec["top_k"], spec["shared"]
    T, d = len(S), len(X[0])
    if spec["variant"] == "v3":
        s = tuple(tuple(_sigmoid3(v) for v in row) for row in S)
        yield Step("sigmoid", "Affinities s = sigmoid(score)", "s = 3^score / (3^score + 1), for each routed expert.", s)
        b = [Rational(v, 10) for v in problem.bias]
        sel = tuple(tuple(v + bb for v, bb in zip(row, b)) for row in s)
        yield Step("selection", "Selection scores s + b", "Add each expert's bias b to its affinity.", sel)
        top = tuple(_top(row, K) for row in sel)
        gates = [[s[t][e] for e in top[t]] for t in range(T)]
        gates = [[SCALE * g / sum(row) for g in row] for row in gates]
        how = "Weights: the selected s (without b), renormalised, times 2.5."
    else:
        powers = tuple(tuple(Rational(3) ** (v - min(row)) for v in row) for row in S)
        P = tuple(tuple(p / sum(row) for p in row) for row in powers)
        yield Step("probs", "Router probabilities", "Softmax with base 3 over the routed experts, per token.", P)
        top = tuple(_top(row, K) for row in P)
        gates = [[P[t][e] for e in top[t]] for t in range(T)]
        how = "Gates: the probabilities of the selected experts, not renormalised."
    yield Step("topk", f"Top-{K} routed experts", f"Each token's {K} routed experts with the largest "
               + ("s + b" if spec["variant"] == "v3" else "probability") + ", best first.",
               tuple(tuple(sympy.Integer(e + 1) for e in row) for row in top), index=True)
    yield Step("gates", "Gate weights", how, tuple(tuple(row) for row in gates))
    out = lambda x, w: tuple(sum(x[i] * w[i][j] for i in range(d)) for j in range(d))
    shared = tuple(tuple(sympy.Integer(sum(v)) for v in zip(*(out(x, problem.W[i]) for i in range(Ks)))) for x in X)
    yield Step("shared_out", "Shared experts", "Σ over the shared experts of x W_i: always on, weight 1.", shared)
    routed = tuple(tuple(sum(g * v for g, v in zip(gates[t], comp)) for comp in
                         zip(*(out(X[t], problem.W[Ks + e]) for e in top[t]))) for t in range(T))
    yield Step("routed_out", "Routed experts", "Σ over the selected routed experts of g · x W_i.", routed)
    h = tuple(tuple(X[t][j] + shared[t][j] + routed[t][j] for j in range(d)) for t in range(T))
    yield Step("output", "Layer output h", "h = x + shared + routed (the residual x included).", h)
    if spec["variant"] == "v3":
        yield from _bias_update(problem, s, top, K)


def _bias_update(problem: SharedProblem, s, top, K: int):
    T, E = len(s), len(s[0])
    load = tuple(sympy.Integer(sum(e in row for row in top)) for e in range(E))
    yield Step("load", "Load per routed expert", "Count the tokens that selected each routed expert.", load, index=True)
    mean = Rational(T * K, E)
    new_b = tuple(Rational(b, 10) + GAMMA * sympy.sign(mean - n) for b, n in zip(problem.bias, load))
    yield Step("bias_new", "Updated biases", f"b_i + 0.1 · sign(mean load − load_i), mean load = T·K_r/E_r = {mean}.",
               new_b)
    top_new = tuple(_top([v + b for v, b in zip(row, new_b)], K) for row in s)
    yield Step("topk_new", "Top-K_r after the update", "Select again by s + the new b.",
               tuple(tuple(sympy.Integer(e + 1) for e in row) for row in top_new), index=True)
    yield Step("changed", "Changed routing?", "1 for a token whose set of experts changed, else 0.",
               tuple(sympy.Integer(int(set(a) != set(b))) for a, b in zip(top, top_new)), index=True)


def forward(spec, problem: SharedProblem) -> dict:
    """Floats the framework way: natural exp of scaled logits, argsort, einsum over experts."""
    X, S = np.array(problem.X, dtype=float), np.array(problem.S, dtype=float)
    K, Ks = spec["top_k"], spec["shared"]
    W = np.array(problem.W, dtype=float)
    z = S * np.log(3)
    out = {}
    if spec["variant"] == "v3":
        s = 1 / (1 + np.exp(-z))
        b = np.array(problem.bias, dtype=float) / 10
        top = np.argsort(-(s + b), axis=1, kind="stable")[:, :K]
        w = np.take_along_axis(s, top, axis=1)
        gates = 2.5 * w / w.sum(axis=1, keepdims=True)
        out |= {"sigmoid": s, "selection": s + b}
    else:
        P = np.exp(z - z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        top = np.argsort(-P, axis=1, kind="stable")[:, :K]
        gates = np.take_along_axis(P, top, axis=1)
        out["probs"] = P
    each = np.einsum("td,edf->tef", X, W)                    # every expert on every token
    shared = each[:, :Ks].sum(axis=1)
    routed = np.einsum("tk,tkf->tf", gates, np.take_along_axis(each[:, Ks:], top[:, :, None], axis=1))
    out |= {"topk": top + 1, "gates": gates, "shared_out": shared, "routed_out": routed,
            "output": X + shared + routed}
    if spec["variant"] == "v3":
        E = S.shape[1]
        load = np.bincount(top.ravel(), minlength=E).astype(float)
        new_b = b + 0.1 * np.sign(top.size / E - load)
        top_new = np.argsort(-(s + new_b), axis=1, kind="stable")[:, :K]
        changed = np.array([set(a) != set(c) for a, c in zip(top, top_new)], dtype=float)
        out |= {"load": load, "bias_new": new_b, "topk_new": top_new + 1, "changed": changed,
                "selection_new": s + new_b}
    return out


def title(spec) -> str:
    name = "DeepSeek-V3" if spec["variant"] == "v3" else "DeepSeekMoE"
    return (f"Shared experts ({name}): {spec['tokens']} tokens, {spec['shared']} shared + "
            f"{spec['experts']} routed, top-{spec['top_k']}")


def conventions(sol) -> tuple[str, ...]:
    v3 = sol.spec["variant"] == "v3"
    lines = ["Row vectors; every index you write starts at 1. Router scores are given (T × E_r, routed experts only).",
             "Each expert here is linear, FFN_i(x) = x W_i with W_i d × d (a stand-in for the FFN).",
             "h_t = x_t + Σ_(shared i) FFN_i(x_t) + Σ_(routed i selected) g_ti FFN_i(x_t): shared experts are always "
             "on with weight 1 (DeepSeekMoE, arXiv 2401.06066); x_t is the residual."]
    if v3:
        lines += ["The routing of DeepSeek-V3 (1 shared + top-8 of 256 routed experts; its selection is also "
                  "group-limited, 4 of 8 groups kept: the group-routing sheets). Affinity s = sigmoid with base 3, "
                  "s = 3^score / (3^score + 1) (the by-hand stand-in for e).",
                  "Selection by s + b (the bias is used for selection only); weights = the selected s renormalised, "
                  "times routed_scaling_factor 2.5.",
                  "Auxiliary-loss-free balancing: after the batch, b_i <- b_i + γ · sign(mean load − load_i) with "
                  "γ = 0.1 (the usual reading of the V3 paper; it gives no formula); sign(0) = 0."]
    else:
        lines += ["The routing of DeepSeekMoE 16B and DeepSeek-V2-Lite (2 shared + top-6 of 64 routed, scaling factor "
                  "1): g = softmax with base 3 over the routed experts (the by-hand stand-in for e), kept for the "
                  "top-K_r and 0 for the rest; not renormalised. DeepSeek-V2 multiplies g by 16 (routed_scaling_factor) "
                  "and selects group-limited (the group-routing sheets)."]
    lines.append("Answers: exact fractions; decimals rounded half up to 2 places.")
    return tuple(lines)


def hand_work(sol) -> str:
    T, E, K, Ks, d = (sol.spec[n] for n in ("tokens", "experts", "top_k", "shared", "d_model"))
    return f"Hand work: {T * E} gate values, {T * (Ks + K) * d * d} multiply-adds for the experts, {T * K * d} weightings."


def layout(sol) -> list:
    p, s, spec = sol.problem, sol.step, sol.spec
    T, E, K, Ks, d = (spec[n] for n in ("tokens", "experts", "top_k", "shared", "d_model"))
    tok, exp_, dim = labels("t", T), labels("E", E), labels("", d)
    ranks = tuple(ordinal(i) for i in range(K))
    v3 = spec["variant"] == "v3"
    first = "sigmoid" if v3 else "probs"
    gate_board = [given_grid("scores (given)", p.S, tok, exp_),
                  blank_grid("s" if v3 else "P", first, s(first).exact, tok, exp_, wide=True)]
    sections = [("Router", s(first).instruction, [Board((tuple(gate_board),))])]
    if v3:
        bias = Grid("b (given)", (tuple(Cell(given=f"{b / 10:g}".replace("-", "−")) for b in p.bias),), ("b",), exp_)
        sections.append(("Selection scores", s("selection").instruction, [Board((
            (None, bias), (None, blank_grid("s + b", "selection", s("selection").exact, tok, exp_, wide=True))))]))
    sections.append(("Selection and gates", s("topk").instruction + " " + s("gates").instruction, [Board((
        (blank_grid(f"top-{K}", "topk", s("topk").exact, tok, ranks),
         blank_grid("g", "gates", s("gates").exact, tok, ranks, wide=True)),))]))
    weights = tuple(Grid(f"W{i + 1}" + (" (shared)" if i < Ks else f" = routed E{i - Ks + 1}"),
                         tuple(tuple(Cell(given=str(v).replace("-", "−")) for v in r) for r in w), dim, dim)
                    for i, w in enumerate(p.W))
    outputs = (given_grid("x", p.X, tok, dim), blank_grid("shared", "shared_out", s("shared_out").exact, tok, dim),
               blank_grid("routed", "routed_out", s("routed_out").exact, tok, dim, wide=True),
               blank_grid("h", "output", s("output").exact, tok, dim, wide=2 if answer_free(spec) else True))
    rows = tuple(tuple(weights[i:i + 4]) for i in range(0, len(weights), 4))
    sections.append(("Experts and the layer output", " ".join(s(i).instruction for i in ("shared_out", "routed_out", "output")),
                     [Board(rows + (outputs,))] if answer_free(spec) else  # one board: never split from its operands
                     [*(Board((weights[i:i + 4],)) for i in range(0, len(weights), 4)), Board((outputs,))]))
    if v3:
        sections.append(("Bias update and the new routing", " ".join(
            s(i).instruction for i in ("load", "bias_new", "topk_new", "changed")), [Board((
                (blank_grid("load", "load", [s("load").exact], ("",), exp_),),
                (blank_grid("new b", "bias_new", [s("bias_new").exact], ("b",), exp_, wide=True),),
                (blank_grid(f"new top-{K}", "topk_new", s("topk_new").exact, tok, ranks),
                 blank_grid("changed", "changed", [[v] for v in s("changed").exact], tok, ("1/0",))),
            ))]))
    return sections


def _recombined(sol, gates) -> dict:
    """Gates, and the routed output and layer output worked from them."""
    problem, Ks = sol.problem, sol.spec["shared"]
    top = [[int(e) - 1 for e in row] for row in sol.step("topk").exact]
    d = len(problem.X[0])
    out = lambda x, w: tuple(sum(x[i] * w[i][j] for i in range(d)) for j in range(d))
    routed = tuple(tuple(sum(g * v for g, v in zip(gates[t], comp))
                         for comp in zip(*(out(problem.X[t], problem.W[Ks + e]) for e in top[t])))
                   for t in range(len(top)))
    shared = sol.step("shared_out").exact
    output = tuple(tuple(problem.X[t][j] + shared[t][j] + routed[t][j] for j in range(d)) for t in range(len(top)))
    return {"gates": tuple(tuple(row) for row in gates), "routed_out": routed, "output": output}


def _renormalised(sol) -> dict:
    """DeepSeekMoE: the gates renormalised over the selected experts, as DeepSeek-V3 and Mixtral do."""
    if sol.spec["variant"] == "v3":
        return {}
    return _recombined(sol, [[g / sum(row) for g in row] for row in sol.step("gates").exact])


def _bias_in_weights(sol) -> dict:
    """DeepSeek-V3: the weights made from s + b; the bias is for selection only."""
    if sol.spec["variant"] != "v3":
        return {}
    sel, top = sol.step("selection").exact, sol.step("topk").exact
    chosen = [[sel[t][int(e) - 1] for e in row] for t, row in enumerate(top)]
    if any(sum(row) == 0 for row in chosen):
        return {}
    return _recombined(sol, [[SCALE * g / sum(row) for g in row] for row in chosen])


def _scale_left_out(sol) -> dict:
    """DeepSeek-V3: the weights renormalised but not multiplied by the scaling factor 2.5."""
    if sol.spec["variant"] != "v3":
        return {}
    return _recombined(sol, [[g / SCALE for g in row] for row in sol.step("gates").exact])


MISTAKES = (
    ("the gates renormalised over the selected experts; DeepSeekMoE keeps the probabilities as they are",
     _renormalised),
    ("the bias b used in the weights; in DeepSeek-V3 it only picks the experts", _bias_in_weights),
    ("the routed scaling factor 2.5 left out of the weights", _scale_left_out),
)


# --- the exercise's declaration (kinds/protocol.py) ------------------------------------------

TITLE = "Shared and routed experts"
PARAMS = (
    Param("tokens", "tokens T", 4, 2, 6),
    Param("experts", "routed experts E_r", 4, 3, 6),
    Param("shared", "shared experts K_s (always on)", 1, 1, 2),
    Param("top_k", "routed experts per token K_r", 2, 1, 3),
    Param("d_model", "model width d", 2, 1, 3),
    Param("variant", "deepseekmoe (softmax, no renormalising) or v3 (sigmoid, bias, scaling)",
          "deepseekmoe", choices=("deepseekmoe", "v3")),
)
SLOTS = ((9, ()),)

check = top_k_below_experts
