"""Sizing a Mixture-of-Experts model by hand: parameters, FLOPs per token and memory.

From a configuration the learner counts one expert (SwiGLU 3·d·h, or ReLU 2·d·h + h + d),
attention with grouped-query heads, router and norms, then one MoE layer stored and used, the
whole model's total and active parameters against its dense counterpart, FLOPs per token
(≈ 2 × active), the weights' memory at 16, 8 and 4 bits, MoE in every other layer, and the
fine-grained split (top-k -> top-mk, C(E, k) against C(mE, mk)) with K_s shared experts.
Configs: Mixtral 8x7B (46,702,792,704 / 12,879,925,248), a small generated model, and eight
experts of N parameters (8N / 2N). Big numbers go three digits to a box. Leaves out: the KV
cache, activations, quantisation scales and attention's context-length FLOPs.
"""

from math import comb

import numpy as np
import sympy
from sympy import Integer, Rational

from workbook.formatting import decimal2
from workbook.kinds.sizing_configs import (BITS, UNIT, Experts, Model, attention_params, counting_rules, draw_experts,
                                           draw_model, expert_params, layer_sizes, mixtral)
from workbook.kinds.sizing_carried import carried  # noqa: F401
from workbook.kinds.sizing_working import working  # noqa: F401
from workbook.layout import Board, Cell, Grid, answer_cell, answer_free
from workbook.problem import Step
from workbook.spec import Param

_PLACES = ("×10¹⁵", "×10¹²", "×10⁹", "×10⁶", "×10³", "×1")
_WIDTH = 5  # boxes of a place-value grid on an answer-free sheet (up to 10^15)


def generate(spec):
    """Seeded: Mixtral's published config (the seed picks the split m, K_s), N, or a small model."""
    rng = np.random.default_rng(spec.seed)
    return {"mixtral-8x7b": mixtral, "eight-experts": draw_experts}.get(spec["config"], draw_model)(rng)


def steps(spec, p):
    m, k, E, Ks = p.segments, p.top_k, p.experts, p.shared
    if isinstance(p, Experts):
        N = Integer(p.expert_params)
        total, active, fine = E * N, k * N, N / m
        yield Step("total_params", "Stored", f"Stored: all E = {E} experts, E · N.", (total,))
        yield Step("active_params", "Used per token", f"Used per token: its top-{k}, k · N.", (active,))
        yield Step("expert_fraction", "Share of the experts used", "Share of the experts a token uses: k / E.",
                   (Rational(k, E),))
    else:
        total, active = yield from _model_steps(p, answer_free(spec))
        fine = Integer(expert_params(p.ffn, p.d_model, p.d_ff // m))
    yield Step("flops_per_token", "FLOPs per token", "FLOPs per token ≈ 2 × active parameters.", (2 * active,))
    yield Step("dense_flops", "FLOPs per token, dense of the same size",
               "A dense model of the same size would use every parameter: 2 × total.", (2 * total,))
    yield Step("memory_bytes", "Memory in bytes", "Bytes = total parameters × bits / 8, at 16, 8 and 4 bits.",
               tuple(total * b / 8 for b in BITS))
    yield Step(f"memory_{p.unit.lower()}", f"Memory in {p.unit}", f"{p.unit} = bytes / {UNIT[p.unit]:,}.",
               tuple(total * b / 8 / UNIT[p.unit] for b in BITS))
    yield Step("fine_expert_params", "One fine-grained expert",
               f"Split every expert {m} ways: one fine expert is " + ("N / m." if isinstance(p, Experts) else
                                                                       "the same FFN at width h / m."), (fine,))
    yield Step("fine_top_k", "Fine experts per token", f"A token now uses m · k = {m} · {k} of them,", (Integer(m * k),),
               index=True)
    yield Step("fine_active_params", "Fine-expert parameters per token",
               "so m · k × one fine expert per token (compare k × one expert).", (m * k * fine,))
    if answer_free(spec):  # the same words for every seed: the numbers are in the grid 'the split'
        yield Step("combinations", "Expert sets a token can use",
                   "Sets of experts a token can use: C(E, k) before, C(mE, mk) after.",
                   (sympy.binomial(E, k), sympy.binomial(m * E, m * k)))
        yield Step("shared_combinations", "With shared experts",
                   "With K_s shared experts always on, the router picks mk − K_s of the other mE − K_s: "
                   "C(mE − K_s, mk − K_s).", (sympy.binomial(m * E - Ks, m * k - Ks),))
        return
    yield Step("combinations", "Expert sets a token can use",
               f"Sets of experts a token can use: C(E, k) = C({E}, {k}) before, C(mE, mk) = C({m * E}, {m * k}) after.",
               (sympy.binomial(E, k), sympy.binomial(m * E, m * k)))
    yield Step("shared_combinations", "With shared experts",
               f"With K_s = {Ks} shared expert{'s' if Ks > 1 else ''} always on, the router picks mk − K_s of the other mE − K_s: "
               f"C({m * E - Ks}, {m * k - Ks}).", (sympy.binomial(m * E - Ks, m * k - Ks),))


def _model_steps(p: Model, symbolic: bool = False):
    """The model's steps. `symbolic` (answer-free sheets): the instructions name the given values
    (d, h, L, V, ...) instead of repeating the seed's numbers, so they are as long for every seed."""
    d, h, L, E, k, half = p.d_model, p.d_ff, p.layers, p.experts, p.top_k, p.layers // 2
    n = (dict(d="d", L="L", half="L/2", V="V") if symbolic else dict(d=d, L=L, half=half, V=p.vocab))
    e, attn = Integer(expert_params(p.ffn, d, h)), Integer(attention_params(d, p.q_heads, p.kv_heads, p.head_dim))
    if symbolic:
        yield Step("expert_params", "One expert", "One expert: 3 · d · h for a SwiGLU FFN, 2 · d · h + h + d for "
                   "a ReLU one (the model says which).", (e,))
        yield Step("attention_params", "Attention", "Attention: W_q and W_o d · n_q · d_head each, W_k and W_v "
                   "d · n_kv · d_head each.", (attn,))
    else:
        how = (f"SwiGLU, 3 · d · h = 3 · {d} · {h}" if p.ffn == "swiglu" else
               f"ReLU, 2 · d · h + h + d = 2 · {d} · {h} + {h} + {d}")
        yield Step("expert_params", "One expert", f"One expert ({how}).", (e,))
        yield Step("attention_params", "Attention", f"Attention: W_q and W_o d · n_q · d_head each, W_k and W_v d · n_kv · d_head "
                   f"each: 2 · {d} · {p.q_heads} · {p.head_dim} + 2 · {d} · {p.kv_heads} · {p.head_dim}.", (attn,))
    router, norms = Integer(E * d), Integer(2 * d)
    yield Step("router_params", "Router", "Router: E · d." if symbolic else f"Router: E · d = {E} · {d}.", (router,))
    yield Step("norm_params", "Norms", f"Norms: two RMSNorm weights, 2 · {n['d']}.", (norms,))
    layer, used, dense = attn + E * e + router + norms, attn + k * e + router + norms, attn + e + norms
    yield Step("layer_params", "One MoE layer, stored", "A MoE layer stores attention + E experts + router + norms", (layer,))
    yield Step("layer_active", "One MoE layer, used per token", "and uses attention + k experts + router + norms per token;",
               (used,))
    yield Step("dense_layer_params", "One dense layer", "a dense layer is attention + one FFN + norms.", (dense,))
    outside = Integer(2 * p.vocab * d + d)
    yield Step("embedding_params", "Embeddings and final norm", f"Embeddings (untied: input and output, V · d each) "
               f"and the final norm: 2 · {n['V']} · {n['d']} + {n['d']}.", (outside,))
    total, active = L * layer + outside, L * used + outside
    yield Step("total_params", "Total parameters", f"Total: {n['L']} MoE layers stored + embeddings and final norm.", (total,))
    yield Step("active_params", "Active parameters", f"Active: {n['L']} MoE layers as used + the same.", (active,))
    yield Step("dense_params", "Dense counterpart", f"Dense counterpart: {n['L']} dense layers + the same.",
               (L * dense + outside,))
    yield Step("expert_fraction", "Share of the experts used", "Shares: k / E", (Rational(k, E),))
    yield Step("active_fraction", "Share of the model used", "and active / total.", (active / total,))
    yield Step("alternating_total", "Every other layer MoE: total",
               f"MoE in every other layer: {n['half']} MoE layers + {n['half']} dense layers + embeddings and final norm;",
               (half * (layer + dense) + outside,))
    yield Step("alternating_active", "Every other layer MoE: active", f"active: {n['half']} MoE layers as used + "
               f"{n['half']} dense layers + the same.", (half * (used + dense) + outside,))
    return total, active


def forward(spec, p) -> dict:
    """The same numbers another way: weight shapes, per-layer tables summed with NumPy, math.comb."""
    m, k, E, Ks = p.segments, p.top_k, p.experts, p.shared
    out = {}
    if isinstance(p, Experts):
        sizes, picked = np.full(E, float(p.expert_params)), np.arange(E) < k
        total, active = sizes.sum(), sizes[picked].sum()
        fine = p.expert_params / m
        out |= {"total_params": [total], "active_params": [active], "expert_fraction": [picked.mean()]}
    else:
        s, table = layer_sizes(p, p.d_ff)
        L = p.layers
        every, dense, alt = table(np.ones(L)), table(np.zeros(L)), table(np.arange(L) % 2)
        stored, used = [0, 1, 2, 3], [0, 1, 2, 4]
        total, active = every[:, stored].sum() + s["outside"], every[:, used].sum() + s["outside"]
        fine = layer_sizes(p, p.d_ff // m)[0]["ffn"]
        out |= {"expert_params": [s["ffn"]], "attention_params": [s["attention"]], "router_params": [s["router"]],
                "norm_params": [s["norms"]], "layer_params": [every[0, stored].sum()],
                "layer_active": [every[0, used].sum()], "dense_layer_params": [dense[0, stored].sum()],
                "embedding_params": [s["outside"]], "total_params": [total], "active_params": [active],
                "dense_params": [dense[:, stored].sum() + s["outside"]], "expert_fraction": [k / E],
                "active_fraction": [active / total],
                "alternating_total": [alt[:, stored].sum() + s["outside"]],
                "alternating_active": [alt[:, used].sum() + s["outside"]]}
    memory = total * np.array(BITS) / 8
    return out | {"flops_per_token": [2 * active], "dense_flops": [2 * total], "memory_bytes": memory,
                  f"memory_{p.unit.lower()}": memory / UNIT[p.unit], "fine_expert_params": [fine],
                  "fine_top_k": [m * k], "fine_active_params": [m * k * fine],
                  "combinations": [float(comb(E, k)), float(comb(m * E, m * k))],
                  "shared_combinations": [float(comb(m * E - Ks, m * k - Ks))]}


def title(spec) -> str:
    return {"mixtral-8x7b": "Sizing Mixtral 8x7B: parameters, FLOPs per token and memory",
            "eight-experts": "Eight experts, top-2: what is stored, what is used",
            "generated": "Sizing a small MoE model: parameters, FLOPs and memory"}[spec["config"]]


def conventions(sol) -> tuple[str, ...]:
    return counting_rules(sol.problem, answer_free(sol.spec)) + (
        "Big numbers go three digits to a box (×10⁹, ×10⁶, ×10³, ×1). Decimals rounded half up to 2 places.",)


def hand_work(sol) -> str:
    n = sum(len(s.exact) for s in sol.steps)
    return f"Hand work: {n} numbers, 3 of them binomial coefficients; every product from the given configuration."


def _groups(n) -> list[str]:
    """Three digits to a box: 46702792704 -> ['46', '702', '792', '704']."""
    return f"{int(n):,}".split(",")


def _places(name: str, sol, pairs) -> Grid:
    """A place-value grid: one number per row, three digits to a box, right-aligned; a label never wraps.
    pairs: (label, step id) or (label, step id, index). Each box has its own ref, the number then
    the box counted from the units: 'total_params[1][2]' is its thousands, whatever the grid's width."""
    rows = [(lab, sid, i, sol.step(sid).exact[i]) for lab, sid, *at in pairs if sid in sol.has for i in (at or [0])]
    width = max(len(_groups(v)) for *_, v in rows)
    if answer_free(sol.spec):  # as many boxes as any configuration needs: the width tells nothing
        assert width <= _WIDTH, f"{name}: {width} boxes of three digits"
        width = _WIDTH
    lines = []
    for _, sid, i, v in rows:
        g = [""] * (width - len(_groups(v))) + _groups(v)
        lines.append(tuple(Cell(answer=x, blank=True, ref=f"{sid}[{i + 1}][{width - j}]") for j, x in enumerate(g)))
    return Grid(name, tuple(lines), tuple(r[0].replace(" ", "\u00a0") for r in rows), _PLACES[-width:])


def _given(name, pairs) -> Grid:
    return Grid(name, (tuple(Cell(given=f"{v:,}" if isinstance(v, int) else v, wide=True) for _, v in pairs),),
                (), tuple(label for label, _ in pairs))


def _decimals(name, sol, pairs) -> Grid:
    """One wide cell per row: a short fraction with its decimal (k / E), or the decimal alone."""
    lines = []
    for _, sid, i in pairs:
        v, ref = sol.step(sid).exact[i], f"{sid}[{i + 1}]"
        short = sid == "expert_fraction"
        lines.append((answer_cell(v, ref, True) if short else Cell(answer=decimal2(v), blank=True, wide=True, ref=ref),))
    return Grid(name, tuple(lines), tuple(label.replace(" ", "\u00a0") for label, *_ in pairs), ("",))


def _section(sol, title, ids, boards, note=""):
    return title, " ".join(sol.step(i).instruction for i in ids if i in sol.has) + note, boards


def _board(*panels) -> Board:
    return Board((tuple(panels),))


def layout(sol) -> list:
    p, model = sol.problem, isinstance(sol.problem, Model)
    m, E, k, Ks = p.segments, p.experts, p.top_k, p.shared
    unit, bits = f"memory_{p.unit.lower()}", [f"{b} bits" for b in BITS]
    shares = _decimals("shares", sol, [(lab, i, 0) for lab, i in (("k / E", "expert_fraction"),
                                                                    ("active / total", "active_fraction")) if i in sol.has])
    sections = []
    if model:
        layer = [("one expert", "expert_params"), ("attention", "attention_params"), ("router", "router_params"),
                 ("norms", "norm_params"), ("MoE layer, stored", "layer_params"), ("MoE layer, used", "layer_active"),
                 ("dense layer", "dense_layer_params")]
        whole = [("embeddings + final norm", "embedding_params"), ("total", "total_params"),
                 ("active", "active_params"), ("dense counterpart", "dense_params")]
        given = _board(_given("the model (given)", [("d", p.d_model), ("h", p.d_ff), ("layers L", p.layers),
                                                    ("vocab V", p.vocab), ("FFN", "SwiGLU" if p.ffn == "swiglu" else "ReLU")]),
                       _given("heads and experts (given)", [("n_q", p.q_heads), ("n_kv", p.kv_heads),
                                                            ("d_head", p.head_dim), ("E", E), ("k", k)]))
        alt = [("total", "alternating_total"), ("active", "alternating_active")]
        sections += [
            _section(sol, "One layer", [i for _, i in layer], [given, _board(_places("parameters", sol, layer))]),
            _section(sol, "The whole model", [i for _, i in whole] + ["expert_fraction", "active_fraction"],
                     [_board(_places("parameters", sol, whole), shares)],
                     f" Is the total {E} × the dense counterpart? Only the FFNs are copied {E} times."),
            _section(sol, "MoE in every other layer", [i for _, i in alt], [_board(_places("parameters", sol, alt))])]
    else:
        whole = [("stored", "total_params"), ("used per token", "active_params")]
        n = _groups(p.expert_params)
        n = [""] * (_WIDTH - len(n)) * answer_free(sol.spec) + n
        N = Grid("N (given)", (tuple(Cell(given=g) for g in n),), ("N",), _PLACES[-len(n):])
        given = _board(N, _given("experts and top-k (given)", [("E", E), ("k", k)]))
        sections.append(_section(sol, "Stored and used", [i for _, i in whole] + ["expert_fraction"],
                                 [given, _board(_places("parameters", sol, whole), shares)]))
    flops = [("MoE: 2 × active", "flops_per_token"), ("dense, same size", "dense_flops")]
    sets = [(f"C({E}, {k})", "combinations", 0), (f"C({m * E}, {m * k})", "combinations", 1),
            (f"C({m * E - Ks}, {m * k - Ks}) with K_s", "shared_combinations")]
    if answer_free(sol.spec):  # the same labels for every configuration (the numbers are in the text)
        sets = [("C(E, k)", "combinations", 0), ("C(mE, mk)", "combinations", 1),
                ("C(mE−K_s, mk−K_s)", "shared_combinations")]
    split = Grid("the split", ((Cell(given=str(m)), Cell(given=str(Ks)),
                                answer_cell(sol.step("fine_top_k").exact[0], "fine_top_k[1]", False)),), (), ("m", "K_s", "mk"))
    fine = [("one fine expert", "fine_expert_params"),
            ("per token (mk)" if answer_free(sol.spec) else "per token (mk of them)", "fine_active_params")]
    return sections + [
        _section(sol, "FLOPs per token", [i for _, i in flops], [_board(_places("FLOPs per token", sol, flops))]),
        _section(sol, "Memory of the weights", ["memory_bytes", unit], [_board(
            _places("bytes", sol, [(b, "memory_bytes", i) for i, b in enumerate(bits)]),
            _decimals(p.unit, sol, [(b, unit, i) for i, b in enumerate(bits)]))]),
        _section(sol, "Fine-grained and shared experts",
                 ["fine_expert_params", "fine_top_k", "fine_active_params", "combinations", "shared_combinations"],
                 [Board(((split, _places("parameters", sol, fine)), (None, _places("expert sets", sol, sets))))]
                 if answer_free(sol.spec) else  # five-box grids: two rows of one board, within the page
                 [_board(split, _places("parameters", sol, fine), _places("expert sets", sol, sets))])]


def _flops_without_two(sol) -> dict:
    """FLOPs per token taken as the parameters: the 2 (a multiply and an add) left out."""
    return {"flops_per_token": (sol.step("flops_per_token").exact[0] / 2,),
            "dense_flops": (sol.step("dense_flops").exact[0] / 2,)}


def _bits_as_bytes(sol) -> dict:
    """Memory as parameters × bits, not divided by 8."""
    unit = next(s.id for s in sol.steps if s.id.startswith("memory_") and s.id != "memory_bytes")
    return {"memory_bytes": tuple(8 * v for v in sol.step("memory_bytes").exact),
            unit: tuple(8 * v for v in sol.step(unit).exact)}


def _ordered(sol) -> dict:
    """Expert sets counted as ordered choices, n! / (n − k)!, not as sets C(n, k)."""
    p = sol.problem
    m, k, E, Ks = p.segments, p.top_k, p.experts, p.shared
    ordered = lambda n, r: sympy.ff(n, r)
    return {"combinations": (ordered(E, k), ordered(m * E, m * k)),
            "shared_combinations": (ordered(m * E - Ks, m * k - Ks),)}


MISTAKES = (
    ("FLOPs taken as the parameters: the 2 (a multiply and an add per weight) left out", _flops_without_two),
    ("bits taken as bytes: the memory not divided by 8", _bits_as_bytes),
    ("expert sets counted in order (n!/(n − k)!), not as sets C(n, k)", _ordered),
)


# --- the exercise's declaration (kinds/protocol.py) ------------------------------------------

TITLE = "Sizing: parameters, FLOPs and memory"
PARAMS = (
    Param("config", "the model: a small generated one, or a published configuration", "generated",
          choices=("generated", "mixtral-8x7b", "eight-experts")),
)
SLOTS = ((5, ()),)
