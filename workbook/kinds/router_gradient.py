"""Backward through a top-k router: from the upstream gradient to dL/dw and dL/ds, by hand.

Given each token's router scores s (E integers), its upstream gradient δ = dL/dy (d integers) and
every expert's output FFN_j(x_t) (d integers), the learner selects the top k, finds the
renormalised weights w = softmax_b over the selected scores, dL/dw_j = δ · FFN_j(x_t), and
dL/ds_j = ln(b) · w_j · (dL/dw_j − Σ_i w_i dL/dw_i) for the selected experts: 0 for every other
expert, because the gradient flows through the soft weights and not through the selection.
Leaves out: gradients into X and W_r (dL/dW_r = Σ_t dL/ds_t ⊗ x_t is one more product).
"""

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

from workbook.errors import GenerationError
from workbook.kinds.router_gradient_working import working  # noqa: F401
from workbook.layout import Board, Cell, Grid, answer_free, blank_grid, given_grid, labels, ordinal
from workbook.numeric import log_base, well_separated
from workbook.problem import Matrix, Step, as_matrix
from workbook.spec import GATES, GATE_BASE, Param, top_k_below_experts

_TRIES = 400
_LEVELS = 4  # scores 0..3 (powers <= 27)


@dataclass(frozen=True)
class GradientProblem:
    """Scores S (T x E), upstream gradients delta (T x d), outputs[t][e] = FFN_e(x_t) (d values)."""

    S: Matrix
    delta: Matrix
    outputs: tuple[Matrix, ...]

    def inputs(self) -> dict:
        return {"S": [list(r) for r in self.S], "delta": [list(r) for r in self.delta],
                "outputs": [[list(o) for o in row] for row in self.outputs]}


def generate(spec) -> GradientProblem:
    """Seeded: no tie among a token's top k+1 probabilities, powers <= 27, not every token with the
    same weights, and over the sheet dL/ds of both signs with no token whose gradients are all zero.

    Top-3 with 2 or more tokens is refused at once: the top 4 of scores 0..3 kept apart are always
    3, 2, 1, 0, so every token would select 3, 2, 1 and get the same weights."""
    T, E, k, d = spec["tokens"], spec["experts"], spec["top_k"], spec["d_model"]
    if k + 1 == _LEVELS and T > 1:
        raise GenerationError(
            f"could not build a hand-friendly router-gradient problem with these parameters ({_summary(spec)}): "
            f"a token's top {k + 1} scores in 0..3 kept apart are always 3, 2, 1, 0, so every token would get "
            f"the same top-{k} weights; top-k {k} takes tokens 1")
    rng = np.random.default_rng(spec.seed)
    for _ in range(_TRIES):
        S = np.array([_row(rng, E, k, spec["gate"]) for _ in range(T)])
        delta = rng.integers(-2, 3, size=(T, d))
        outputs = rng.integers(-2, 3, size=(T, E, d))
        problem = GradientProblem(as_matrix(S), as_matrix(delta), tuple(as_matrix(o) for o in outputs))
        f = forward(spec, problem)
        g = f["grad_s"]
        rows_alive = (np.abs(g).max(axis=1) > 1e-9).all()
        varied = T == 1 or len({tuple(np.round(w, 9)) for w in f["weights"]}) > 1
        if rows_alive and varied and g.min() < -1e-9 and g.max() > 1e-9:
            return problem
    raise GenerationError(f"could not build a hand-friendly router-gradient problem with these parameters "
                          f"({_summary(spec)})")


def _summary(spec) -> str:
    return ", ".join(f"{name}={value}" for name, value in spec.params.items())


def _row(rng, E: int, k: int, gate: str) -> np.ndarray:
    """One token's scores in 0..3 (powers <= 27) whose top k+1 probabilities are well apart."""
    for _ in range(_TRIES):
        row = rng.integers(0, 4, size=E)
        p = np.exp(row * log_base(gate))
        if well_separated(np.sort(p / p.sum())[::-1][:k + 1]):
            return row
    raise GenerationError(f"could not build a hand-friendly router-gradient problem with these parameters "
                          f"(experts={E}, top_k={k}): no token row of {E} scores in 0..3 kept its top {k + 1} apart")


def _power(gate: str, n: int):
    """('softmax3', 2) -> 9; ('softmax', 2) -> exp(2)."""
    base = GATE_BASE[gate]
    return sympy.exp(n) if base == "e" else sympy.Integer(base) ** n


def steps(spec, problem: GradientProblem):
    S, k, gate = problem.S, spec["top_k"], spec["gate"]
    T, E = len(S), len(S[0])
    b = GATE_BASE[gate]
    ln_b = sympy.Integer(1) if b == "e" else sympy.log(b)
    top = tuple(tuple(sorted(range(E), key=lambda e: (-row[e], e))[:k]) for row in S)
    yield Step("topk", f"Top-{k} experts per token", f"Each token's {k} largest scores, best first.",
               tuple(tuple(sympy.Integer(e + 1) for e in row) for row in top), index=True)
    weights = []
    for t, row in enumerate(top):
        low = min(S[t][e] for e in row)
        powers = [_power(gate, S[t][e] - low) for e in row]
        weights.append(tuple(sympy.cancel(p / sum(powers)) for p in powers))
    yield Step("weights", "Weights w (softmax over the selected)",
               f"w_j = {b}^s_j / Σ_(i selected) {b}^s_i, renormalised over the token's {k} experts.", tuple(weights))
    grad_w = tuple(tuple(sympy.Integer(sum(a * o for a, o in zip(problem.delta[t], problem.outputs[t][e])))
                         for e in row) for t, row in enumerate(top))
    yield Step("grad_w", "dL/dw_j", "dL/dw_j = δ_t · FFN_j(x_t): the dot product of the upstream "
               "gradient with that expert's output.", grad_w)
    mean = tuple(sympy.cancel(sum(w * g for w, g in zip(weights[t], grad_w[t]))) for t in range(T))
    yield Step("mean_grad", "Σ_i w_i dL/dw_i", "The weighted mean of the token's dL/dw.", mean)
    scaled = tuple(tuple(sympy.cancel(weights[t][top[t].index(e)] * (grad_w[t][top[t].index(e)] - mean[t]))
                         if e in top[t] else sympy.Integer(0) for e in range(E)) for t in range(T))
    yield Step("grad_s_scaled", f"dL/ds_j ÷ ln {b}" if b != "e" else "dL/ds_j (ln e = 1)",
               "w_j (dL/dw_j − Σ_i w_i dL/dw_i) for a selected expert; exactly 0 for every other expert.", scaled)
    yield Step("grad_s", "dL/ds_j", f"Multiply by ln {b}." if b != "e" else "The same (ln e = 1).",
               tuple(tuple(ln_b * v for v in row) for row in scaled))


def forward(spec, problem: GradientProblem) -> dict:
    """Matrix form, as autograd does it: dL/ds_sel = ln b · (diag(w) − w wᵀ) dL/dw, scattered into zeros."""
    S = np.array(problem.S, dtype=float)
    T, E = S.shape
    k, lb = spec["top_k"], log_base(spec["gate"])
    top = np.argsort(-S, axis=1, kind="stable")[:, :k]
    z = np.take_along_axis(S, top, axis=1) * lb
    w = np.exp(z - z.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    out = np.array(problem.outputs, dtype=float)              # T x E x d
    grad_w = np.einsum("td,ted->te", np.array(problem.delta, dtype=float), out)
    grad_w = np.take_along_axis(grad_w, top, axis=1)
    grad_s = np.zeros((T, E))
    mean = np.empty(T)
    for t in range(T):
        jac = np.diag(w[t]) - np.outer(w[t], w[t])
        grad_s[t, top[t]] = lb * jac @ grad_w[t]
        mean[t] = w[t] @ grad_w[t]
    return {"topk": top + 1, "weights": w, "grad_w": grad_w, "mean_grad": mean,
            "grad_s_scaled": grad_s / lb, "grad_s": grad_s}


def title(spec) -> str:
    return (f"Router gradient: {spec['tokens']} tokens, {spec['experts']} experts, top-{spec['top_k']}, "
            f"{spec['gate']}")


def conventions(sol) -> tuple[str, ...]:
    b = GATE_BASE[sol.spec["gate"]]
    ln = "ln e = 1" if b == "e" else f"ln {b} = {math.log(b):.4f}"
    return ("Each token's router scores s are given (E per token); every index you write starts at 1.",
            f"The token's top-{sol.spec['top_k']} experts by score; their weights w = softmax with base {b} over the "
            f"selected scores only (renormalised, Mixtral): w_j = {b}^s_j / Σ_(i selected) {b}^s_i.",
            "y_t = Σ_(j selected) w_j FFN_j(x_t). δ_t = dL/dy_t is given, and so is each expert's output FFN_j(x_t).",
            "dL/dw_j = δ_t · FFN_j(x_t).",
            f"dL/ds_j = ln {b} · w_j · (dL/dw_j − Σ_i w_i dL/dw_i) for a selected expert ({ln}: softmax with base {b} "
            f"is softmax(s · ln {b})).",
            "dL/ds_j = 0 for every expert not selected: top-k has no gradient; it flows only through the soft weights.",
            "Answers: exact fractions; decimals rounded half up to 2 places.")


def hand_work(sol) -> str:
    T, E, k, d = (sol.spec[n] for n in ("tokens", "experts", "top_k", "d_model"))
    return f"Hand work: {T * k} weights, {T * k * d} multiply-adds for dL/dw, {T * k * 2} for dL/ds, {T * (E - k)} zeros."


def layout(sol) -> list:
    p, s, spec = sol.problem, sol.step, sol.spec
    T, E, k = spec["tokens"], spec["experts"], spec["top_k"]
    tok, exp_ = labels("t", T), labels("E", E)
    ranks = tuple(ordinal(i) for i in range(k))
    exact = answer_free(spec)  # the key shows dL/ds exactly too, in cells long enough
    long_e = exact and GATE_BASE[spec["gate"]] == "e"  # and base-e weights and gradients
    vec = lambda v: "(" + ", ".join(str(x).replace("-", "−") for x in v) + ")"
    outputs = Grid("FFN_j(x_t) (given)", tuple(tuple(Cell(given=vec(o), wide=True) for o in row)
                                                for row in p.outputs), tok, exp_)
    return [
        ("Selection and weights", s("topk").instruction + " " + s("weights").instruction, [Board((
            (given_grid("s (given)", p.S, tok, exp_), blank_grid(f"top-{k}", "topk", s("topk").exact, tok, ranks),
             blank_grid("w", "weights", s("weights").exact, tok, ranks, wide=2 if long_e else True, full=long_e)),
        ))]),
        ("dL/dw", s("grad_w").instruction + " " + s("mean_grad").instruction, [Board((
            (outputs,),
            (given_grid("δ = dL/dy (given)", p.delta, tok, labels("", spec["d_model"])),
             blank_grid("dL/dw_j", "grad_w", s("grad_w").exact, tok, ranks, wide=True),
             blank_grid("Σ w_i dL/dw_i", "mean_grad", [[v] for v in s("mean_grad").exact], tok, ("",),
                        wide=2 if long_e else True, full=long_e)),
        ))]),
        ("dL/ds", s("grad_s_scaled").instruction + " " + s("grad_s").instruction, [Board((
            (blank_grid(s("grad_s_scaled").title, "grad_s_scaled", s("grad_s_scaled").exact, tok, exp_,
                        wide=2 if long_e else True, full=long_e),),
            (blank_grid("dL/ds", "grad_s", s("grad_s").exact, tok, exp_, wide=2 if exact else True, full=exact),),
        ))]),
    ]


# --- carried errors: the later steps worked from the learner's own numbers ---------------------

_REF = re.compile(r"(\w+)\[(\d+)\]\[(\d+)\]")
_MAX_CARRIED = 10 ** 9  # a box beyond this is a typo or a hostile file: not followed


def _rows_of(learner: dict, step_id: str, width: int) -> dict:
    """{t: [value of box 1 .. width]} of the tokens whose row of `step_id` is filled in with
    numbers of sensible size (a row with an empty box, text, or a number beyond 10^9 is left out)."""
    cells: dict = {}
    for ref, v in learner.items():
        m = _REF.fullmatch(ref)
        if m and m.group(1) == step_id:
            cells[(int(m.group(2)), int(m.group(3)))] = v
    rows = {}
    for t in {t for t, _ in cells}:
        row = [cells.get((t, j)) for j in range(1, width + 1)]
        if all(isinstance(v, (Fraction, float)) and not isinstance(v, bool) and math.isfinite(v)
               and abs(v) <= _MAX_CARRIED for v in row):
            rows[t] = row
    return rows


def _chosen(learner: dict, E: int, k: int) -> dict:
    """{t: [0-based experts]} of the tokens whose top-k row holds k different indices 1..E."""
    out = {}
    for t, row in _rows_of(learner, "topk", k).items():
        if all(float(v).is_integer() and 1 <= v <= E for v in row) and len(set(row)) == k:
            out[t] = [int(v) - 1 for v in row]
    return out


def carried(sol, step_id: str, learner: dict):
    """(source step(s), {ref: value}) of `step_id` worked from the learner's own earlier numbers:
    the weights and dL/dw from their top-k (the given scores, δ and outputs of the experts they
    chose), the weighted mean from w and dL/dw, dL/ds ÷ ln b from w, dL/dw, the mean and top-k, and
    dL/ds from dL/ds ÷ ln b. None for any other step. The powers are of the given scores (0..3)
    only, and the rest is sums and products of boxes of at most 10^9: nothing can explode."""
    p, k = sol.problem, sol.spec["top_k"]
    T, E = len(p.S), len(p.S[0])
    b = GATE_BASE[sol.spec["gate"]]
    if step_id in ("weights", "grad_w"):
        out = {}
        for t, row in _chosen(learner, E, k).items():
            if not 1 <= t <= T:
                continue
            if step_id == "grad_w":
                values = [Fraction(sum(int(a) * int(o) for a, o in zip(p.delta[t - 1], p.outputs[t - 1][e])))
                          for e in row]
            else:
                low = min(p.S[t - 1][e] for e in row)
                powers = [math.exp(p.S[t - 1][e] - low) if b == "e" else Fraction(b) ** int(p.S[t - 1][e] - low)
                          for e in row]
                values = [v / sum(powers) for v in powers]
            out.update({f"{step_id}[{t}][{r + 1}]": v for r, v in enumerate(values)})
        return "topk", out
    if step_id == "mean_grad":
        w, g = _rows_of(learner, "weights", k), _rows_of(learner, "grad_w", k)
        return ("weights", "grad_w"), {f"mean_grad[{t}][1]": sum(a * c for a, c in zip(w[t], g[t]))
                                       for t in w if t in g}
    if step_id == "grad_s_scaled":
        w, g = _rows_of(learner, "weights", k), _rows_of(learner, "grad_w", k)
        mean, top = _rows_of(learner, "mean_grad", 1), _chosen(learner, E, k)
        out = {}
        for t in w:
            if t in g and t in mean and t in top:
                for e in range(E):
                    r = top[t].index(e) if e in top[t] else None
                    out[f"grad_s_scaled[{t}][{e + 1}]"] = (Fraction(0) if r is None
                                                           else w[t][r] * (g[t][r] - mean[t][0]))
        return ("mean_grad", "grad_w", "weights", "topk"), out
    if step_id == "grad_s":
        ln_b = Fraction(1) if b == "e" else math.log(b)
        return "grad_s_scaled", {f"grad_s[{t}][{e + 1}]": ln_b * v
                                 for t, row in _rows_of(learner, "grad_s_scaled", E).items() for e, v in enumerate(row)}
    return None


def _ln_b_left_out(sol) -> dict:
    """dL/ds without the factor ln b (a base-3 or base-2 softmax is a softmax of s · ln b)."""
    if GATE_BASE[sol.spec["gate"]] == "e":
        return {}
    return {"grad_s": sol.step("grad_s_scaled").exact}


def _plain_mean(sol) -> dict:
    """Σ_i w_i dL/dw_i taken as the plain mean of the token's dL/dw, and dL/ds worked from it."""
    top = [[int(e) - 1 for e in row] for row in sol.step("topk").exact]
    weights, grad_w = sol.step("weights").exact, sol.step("grad_w").exact
    mean = tuple(sympy.Rational(sum(row), len(row)) for row in grad_w)
    if mean == sol.step("mean_grad").exact:
        return {}
    b = GATE_BASE[sol.spec["gate"]]
    ln_b = sympy.Integer(1) if b == "e" else sympy.log(b)
    scaled = tuple(tuple(sympy.cancel(weights[t][row.index(e)] * (grad_w[t][row.index(e)] - mean[t]))
                         if e in row else sympy.Integer(0) for e in range(len(sol.problem.S[0])))
                   for t, row in enumerate(top))
    return {"mean_grad": mean, "grad_s_scaled": scaled, "grad_s": tuple(tuple(ln_b * v for v in row) for row in scaled)}


MISTAKES = (
    ("ln b left out of dL/ds (a base-b softmax is a softmax of s · ln b)", _ln_b_left_out),
    ("Σ_i w_i dL/dw_i taken as a plain mean, not weighted by w", _plain_mean),
)


# --- the exercise's declaration (kinds/protocol.py) ------------------------------------------

TITLE = "Router gradient"
PARAMS = (
    Param("tokens", "tokens T", 3, 1, 4),
    Param("experts", "experts E", 4, 3, 6),
    Param("top_k", "experts per token k (k = 1 has no router gradient through w; k = 3 takes 1 token)", 2, 2, 3),
    Param("d_model", "model width d (length of δ and of each expert output)", 2, 1, 3),
    Param("gate", "gate function", "softmax3", choices=GATES),
)
SLOTS = ((8, ()),)

check = top_k_below_experts
