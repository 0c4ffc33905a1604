"""The sizing sheet's worked solution: every count written out in the configuration's numbers.

For every step: what it means, then the product or sum that gives it from the givens (d, h, L, V,
n_q, n_kv, d_head, E, k, N, m, K_s) and the numbers found before, with the reason where a choice
or a comparison teaches something (grouped-query heads, why active < total, the 2 FLOPs of a
weight, the bias a fine ReLU expert repeats). A big number fills several boxes, three digits to a
box: its line names each box (units first from the right) with the three digits it holds, and
its expression gives each group from the same product. Decimals are rounded half up to 2 places
as the sheet says, in the expression too. Leaves out: the arithmetic (sizing.py) and the sheet.
"""

import sympy
from sympy import Integer

from workbook.formatting import decimal2
from workbook.kinds.sizing_configs import BITS, UNIT, Experts
from workbook.working import Line, Term, Working, factor, joined, line, reason


def working(sol) -> list[Working]:
    p = sol.problem
    out = _experts(sol) if isinstance(p, Experts) else _model(sol)
    out += _flops(sol) + _memory(sol) + _fine(sol)
    return out


# --- terms and lines ------------------------------------------------------------------------

def _n(value) -> Term:
    """A whole number as the sheet prints a given: 14336 -> '14,336' (never negative here)."""
    return Term(f"{int(value):,}", str(int(value)))


def _join(terms, shown: str, source: str) -> Term:
    """working.joined without its parentheses around every term: the counts are whole and
    positive, and a sum inside a product comes in _paren, so the expression reads the same and
    sympy has a third as many tokens to read (the check's cost is its parsing)."""
    terms = list(terms)
    return Term(shown.join(t.text for t in terms), source.join(t.src for t in terms))


def _product(*terms) -> Term:
    return _join(terms, "·", "*")


def _sum(*terms) -> Term:
    return _join(terms, " + ", " + ")


def _over(a: Term, b: Term) -> Term:
    """a / b, b a number or a parenthesised product."""
    return _join((a, b), " / ", "/")


def _paren(term: Term) -> Term:
    return Term(f"({term.text})", f"({term.src})")


def _boxed(label: str, term: Term, value, step_id: str, row: int = 1) -> Line:
    """'total = 32·1,451,270,144 + 262,148,096 = 46,702,792,704': the value fills the row's boxes
    three digits each ('total_params[1][4]' holds 46, ... '[1][1]' 704); the expression gives each
    group of the same term, so each box is checked against the product that makes it."""
    value = int(value)
    text = f"{value:,}"
    places = range(len(text.split(",")) - 1, -1, -1)  # highest place first, as the boxes read
    groups = tuple(Integer(value // 1000 ** g % 1000) for g in places)
    src = "(" + "".join(f"({term.src}) // {1000 ** g} % 1000, " for g in places) + ")"
    middle = "" if term.text.replace(" ", "") == text else f" = {term.text}"
    return Line(f"{label}{middle} = {text}", src, groups, tuple(f"{step_id}[{row}][{g + 1}]" for g in places))


def _rounded(label: str, term: Term, value, cells) -> Line:
    """'active / total = a / b ≈ 0.28': the 2-place decimal the box holds, rounded half up
    (the sheet's rule) in the expression too: ⌊100·x + ½⌋ / 100 for x ≥ 0."""
    near = sympy.floor(value * 100 + sympy.Rational(1, 2)) / 100
    sign = "=" if near == value else "≈"
    return Line(f"{label} = {term.text} {sign} {decimal2(value)}", f"floor(({term.src})*100 + 1/2)/100", near,
                tuple(cells))


def _binomial(n: int, r: int) -> Term:
    """C(32, 8) written out: 32·31·…·25 / (8·7·…·1), with the smaller of r and n − r."""
    r = min(r, n - r)
    if r == 0:
        return Term("1", "1")
    top = _product(*(_n(n - i) for i in range(r)))
    if r == 1:
        return top
    bottom = _product(*(_n(r - i) for i in range(r)))
    return _over(top, _paren(bottom))


def _ratio(a, b) -> str:
    """'= 4' or '≈ 3.63': a / b for reading, 2 places (the nearest whole number once it is big)."""
    r = sympy.Rational(int(a), int(b))
    if r.is_Integer:
        return f"= {int(r):,}"
    return "≈ " + (f"{int(sympy.floor(r + sympy.Rational(1, 2))):,}" if r >= 100 else decimal2(r))


def _one(sol, step_id):
    return sol.step(step_id).exact[0]


# --- eight experts of N -----------------------------------------------------------------------

def _experts(sol) -> list[Working]:
    p = sol.problem
    E, k, N = p.experts, p.top_k, p.expert_params
    frac = sol.step("expert_fraction").exact[0]
    return [
        Working("total_params", "Every expert is stored, whichever tokens use it: the memory holds all E of them.",
                (_boxed("stored = E · N", _product(_n(E), _n(N)), _one(sol, "total_params"), "total_params"),)),
        Working("active_params", "A token runs only its top-k experts: the other E − k are stored but idle for it, "
                "so it uses far fewer parameters than the layer holds.",
                (_boxed("used per token = k · N", _product(_n(k), _n(N)), _one(sol, "active_params"), "active_params"),)),
        Working("expert_fraction", "The share of the experts, and so of this layer's parameters, one token uses.",
                (line("k / E", joined((factor(k), factor(E)), "/"), frac, ["expert_fraction[1]"]),)),
    ]


# --- a whole model ------------------------------------------------------------------------------

_WORDS = {  # the sheet's row labels, as the working names the numbers found before
    "expert_params": "one expert", "attention_params": "attention", "router_params": "router",
    "norm_params": "norms", "layer_params": "MoE layer, stored", "layer_active": "MoE layer, used",
    "dense_layer_params": "dense layer", "embedding_params": "embeddings + final norm",
    "total_params": "total", "active_params": "active", "dense_params": "dense counterpart",
}


def _model(sol) -> list[Working]:
    p = sol.problem
    d, h, L, V, E, k = p.d_model, p.d_ff, p.layers, p.vocab, p.experts, p.top_k
    nq, nkv, dh = p.q_heads, p.kv_heads, p.head_dim
    v = {i: _one(sol, i) for i in _WORDS}
    n = {i: _n(x) for i, x in v.items()}
    swiglu = p.ffn == "swiglu"
    out = []

    if swiglu:
        expert = _boxed("one expert = 3·d·h", _product(_n(3), _n(d), _n(h)), v["expert_params"], "expert_params")
        what = "SwiGLU has three matrices, W1 and W3 d × h and W2 h × d, and no biases"
    else:
        expert = _boxed("one expert = 2·d·h + h + d", _sum(_product(_n(2), _n(d), _n(h)), _n(h), _n(d)),
                        v["expert_params"], "expert_params")
        what = "ReLU has two matrices, W1 d × h and W2 h × d, and two biases, b1 (h) and b2 (d)"
    out.append(Working("expert_params", f"One expert is one FFN, the weights a token meets only when the router "
                       f"sends it there: {what}.", (expert,)))

    attention = _sum(_product(_n(2), _n(d), _n(nq), _n(dh)), _product(_n(2), _n(d), _n(nkv), _n(dh)))
    lines = [_boxed("attention = 2·d·n_q·d_head + 2·d·n_kv·d_head", attention, v["attention_params"],
                    "attention_params")]
    if nkv < nq:
        lines.append(reason(f"n_kv = {nkv} < n_q = {nq}: each key/value head serves {nq // nkv} query heads "
                            f"(grouped-query attention), so W_k and W_v are 1/{nq // nkv} the size of W_q and W_o."))
    else:
        lines.append(reason(f"n_kv = n_q = {nq}: every query head has its own key/value head."))
    out.append(Working("attention_params", "Attention is not split into experts: every token uses all of it.",
                       tuple(lines)))

    out.append(Working("router_params", "The router holds one row of d weights per expert, to score a token against "
                       "each expert: tiny next to the experts, and used by every token.",
                       (_boxed("router = E·d", _product(_n(E), _n(d)), v["router_params"], "router_params"),)))
    out.append(Working("norm_params", "An RMSNorm has one weight per model dimension; a layer has two, before "
                       "attention and before the FFN.",
                       (_boxed("norms = 2·d", _product(_n(2), _n(d)), v["norm_params"], "norm_params"),)))

    def parts(experts):
        return n["attention_params"], experts, n["router_params"], n["norm_params"]

    out.append(Working("layer_params", "Stored: the layer keeps all E experts, whichever a token picks.",
                       (_boxed("MoE layer, stored = attention + E·(one expert) + router + norms",
                               _sum(*parts(_product(_n(E), n["expert_params"]))), v["layer_params"], "layer_params"),)))
    out.append(Working("layer_active", "A token runs only its top-k experts: the E − k others are stored but idle "
                       "for it, so it uses far fewer parameters than the layer holds.",
                       (_boxed("MoE layer, used = attention + k·(one expert) + router + norms",
                               _sum(*parts(_product(_n(k), n["expert_params"]))), v["layer_active"], "layer_active"),)))
    out.append(Working("dense_layer_params", "The dense layer of the same width: one FFN in place of the E experts, "
                       "and no router.",
                       (_boxed("dense layer = attention + one expert + norms",
                               _sum(n["attention_params"], n["expert_params"], n["norm_params"]),
                               v["dense_layer_params"], "dense_layer_params"),)))

    out.append(Working("embedding_params", "Outside the layers: the input embedding (V × d), the output head "
                       "(d × V, untied: a second matrix) and the final norm (d).",
                       (_boxed("embeddings + final norm = 2·V·d + d", _sum(_product(_n(2), _n(V), _n(d)), _n(d)),
                               v["embedding_params"], "embedding_params"),)))

    def whole(layer):
        return _sum(_product(_n(L), layer), n["embedding_params"])

    out.append(Working("total_params", "Everything stored: this sets the memory.",
                       (_boxed("total = L·(MoE layer, stored) + embeddings", whole(n["layer_params"]),
                               v["total_params"], "total_params"),)))
    out.append(Working("active_params", "Everything one token uses: this sets the compute per token (Mixtral's "
                       "12.9B active is counted this way).",
                       (_boxed("active = L·(MoE layer, used) + embeddings", whole(n["layer_active"]),
                               v["active_params"], "active_params"),)))
    out.append(Working("dense_params", "The dense model of the same width stores one FFN per layer: the MoE model "
                       "stores E, but a token uses k of them.",
                       (_boxed("dense counterpart = L·(dense layer) + embeddings", whole(n["dense_layer_params"]),
                               v["dense_params"], "dense_params"),
                        reason(f"total / dense counterpart {_ratio(v['total_params'], v['dense_params'])}, "
                               f"not E = {E}: only the FFNs are copied E times; attention and embeddings are not."))))

    frac = sol.step("expert_fraction").exact[0]
    share = sol.step("active_fraction").exact[0]
    out.append(Working("expert_fraction", "The share of a layer's experts one token uses.",
                       (line("k / E", joined((factor(k), factor(E)), "/"), frac, ["expert_fraction[1]"]),)))
    compare = "more than" if share > frac else "not more than"
    out.append(Working("active_fraction", "The share of the whole stored model one token uses.",
                       (_rounded("active / total", _over(n["active_params"], n["total_params"]), share,
                                 ["active_fraction[1]"]),
                        reason(f"{compare.capitalize()} k / E = {decimal2(frac)}: attention, router, norms and "
                               "embeddings serve every token; only the experts are shared out."))))

    half = L // 2

    def alt(moe):
        return _sum(_product(_n(half), _paren(_sum(moe, n["dense_layer_params"]))), n["embedding_params"])

    out.append(Working("alternating_total", "Switch and GShard put experts in every other layer: L/2 layers keep "
                       "their dense FFN, which stores far fewer parameters.",
                       (_boxed("total = L/2·(MoE layer, stored + dense layer) + embeddings", alt(n["layer_params"]),
                               _one(sol, "alternating_total"), "alternating_total"),)))
    out.append(Working("alternating_active", "A token uses k experts in each MoE layer and the one FFN in each "
                       "dense layer.",
                       (_boxed("active = L/2·(MoE layer, used + dense layer) + embeddings", alt(n["layer_active"]),
                               _one(sol, "alternating_active"), "alternating_active"),)))
    return out


# --- every configuration: FLOPs, memory, the split ---------------------------------------------

def _flops(sol) -> list[Working]:
    total, active = _one(sol, "total_params"), _one(sol, "active_params")
    return [
        Working("flops_per_token", "Each weight a token uses costs one multiply and one add: about 2 FLOPs per "
                "active parameter.",
                (_boxed("MoE: 2 × active", _product(_n(2), _n(active)), _one(sol, "flops_per_token"), "flops_per_token"),)),
        Working("dense_flops", "A dense model storing as many parameters would use every one of them for each token.",
                (_boxed("dense, same size: 2 × total", _product(_n(2), _n(total)), _one(sol, "dense_flops"), "dense_flops"),
                 reason(f"The MoE model does total / active {_ratio(total, active)} times less work per token "
                        "for the same stored parameters."))),
    ]


def _memory(sol) -> list[Working]:
    p = sol.problem
    total = _one(sol, "total_params")
    unit_id, size = f"memory_{p.unit.lower()}", UNIT[p.unit]
    memory = sol.step("memory_bytes").exact
    in_bytes = [_boxed(f"{b} bits: total × {b} / 8", _over(_product(_n(total), _n(b)), _n(8)), memory[i],
                       "memory_bytes", i + 1) for i, b in enumerate(BITS)]
    in_units = [_rounded(f"{b} bits: bytes / {size:,}", _over(_n(memory[i]), _n(size)),
                         sol.step(unit_id).exact[i], [f"{unit_id}[{i + 1}]"]) for i, b in enumerate(BITS)]
    unit_words = ("a GB is 10⁹ bytes, not a GiB (2³⁰)" if p.unit == "GB" else "a kB is 1,000 bytes (a small model)")
    return [Working("memory_bytes", "A weight of b bits takes b / 8 bytes: 2 in bf16, 1 at 8 bits, ½ at 4 bits. Memory "
                    "follows the total, not the active parameters: every expert must be stored.", tuple(in_bytes)),
            Working(unit_id, f"The same bytes in {p.unit}: {unit_words}.", tuple(in_units))]


def _fine(sol) -> list[Working]:
    p = sol.problem
    m, k, E, Ks = p.segments, p.top_k, p.experts, p.shared
    fine = _one(sol, "fine_expert_params")
    if isinstance(p, Experts):
        size = _boxed("one fine expert = N / m", _over(_n(p.expert_params), _n(m)), fine, "fine_expert_params")
        before, before_text = Integer(k * p.expert_params), f"k · N = {k} · {p.expert_params:,}"
    else:
        width = _paren(_over(_n(p.d_ff), _n(m)))
        if p.ffn == "swiglu":
            size = _boxed("one fine expert = 3·d·(h/m)", _product(_n(3), _n(p.d_model), width), fine,
                          "fine_expert_params")
        else:
            size = _boxed("one fine expert = 2·d·(h/m) + h/m + d",
                          _sum(_product(_n(2), _n(p.d_model), width), width, _n(p.d_model)), fine, "fine_expert_params")
        one = _one(sol, "expert_params")
        before, before_text = Integer(k * one), f"k · (one expert) = {k} · {int(one):,}"
    used = _one(sol, "fine_active_params")
    if used == before:
        same = reason(f"The same as before the split, {before_text} = {int(before):,}: the split changes which "
                      "experts a token can combine, not its compute.")
    else:
        same = reason(f"Before the split, {before_text} = {int(before):,}; now (mk − k)·d = {int(used - before):,} "
                      "more: each fine ReLU expert has its own output bias b2 of d.")
    relu = not isinstance(p, Experts) and p.ffn == "relu"
    same_size = ("the same weight matrices in all (each fine expert has its own output bias b2)" if relu else
                 "the same parameters in all")
    mk = sol.step("fine_top_k").exact[0]
    sets = sol.step("combinations").exact
    shared = _one(sol, "shared_combinations")
    combos = [_boxed(f"C(E, k) = C({E}, {k})", _binomial(E, k), sets[0], "combinations", 1),
              _boxed(f"C(mE, mk) = C({m * E}, {m * k})", _binomial(m * E, m * k), sets[1], "combinations", 2),
              reason(f"C(mE, mk) / C(E, k) {_ratio(sets[1], sets[0])}: that many times as many expert sets to "
                     f"choose from, for {'about ' * relu}the same parameters per token.")]
    return [
        Working("fine_expert_params", "Fine-grained segmentation (DeepSeekMoE) cuts every expert into m narrower "
                f"ones, 1/m of the width: {same_size}, m times as many experts.", (size,)),
        Working("fine_top_k", "To keep the compute per token, a token picks m times as many of the smaller experts.",
                (line("mk = m · k", _product(factor(m), factor(k)), mk, ["fine_top_k[1]"]),)),
        Working("fine_active_params", "The expert parameters one token uses after the split.",
                (_boxed("per token (mk) = mk · (one fine expert)", _product(_n(mk), _n(fine)), used,
                        "fine_active_params"), same)),
        Working("combinations", "C(n, r) = n! / (r! (n − r)!) counts the sets of r experts out of n: the more sets, "
                "the more finely a token's mix of experts can specialise.", tuple(combos)),
        Working("shared_combinations", "Shared experts take every token, so nobody chooses them: the router picks "
                "only the other mk − K_s experts, among the other mE − K_s.",
                (_boxed(f"C(mE − K_s, mk − K_s) = C({m * E - Ks}, {m * k - Ks})", _binomial(m * E - Ks, m * k - Ks),
                        shared, "shared_combinations"),)),
    ]
