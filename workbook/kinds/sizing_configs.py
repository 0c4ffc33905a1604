"""The models of the sizing exercise and their closed-form parameter counts.

Two problem shapes. A Model is a whole decoder (grouped-query attention without biases, an FFN
or E experts per layer, a router, two RMSNorms per layer and a final one, untied embeddings);
mixtral() is Mixtral 8x7B's published configuration and draw_model() a small seeded one whose
numbers a person multiplies by hand. Experts is one MoE layer of E experts of N parameters each (the
8-experts, top-2 example). Both carry the fine-grained question (m-way split, K_s shared experts).
weight_shapes and layer_sizes give the same sizes the other way, from the shapes of the weights,
for sizing.forward; counting_rules says in words what is counted. Leaves out: the steps a sheet
asks for and their layout (sizing.py).
"""

from dataclasses import asdict, dataclass
from math import comb

import numpy as np

from workbook.errors import GenerationError

BITS = (16, 8, 4)
UNIT = {"GB": 10**9, "kB": 10**3}
_TRIES = 500


@dataclass(frozen=True)
class Model:
    """A decoder: attention (q_heads, kv_heads of head_dim), E experts of width d_ff per layer."""

    config: str
    ffn: str          # "swiglu" (3 matrices, no biases) or "relu" (2 matrices with biases b1, b2)
    d_model: int
    d_ff: int
    layers: int
    q_heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    experts: int
    top_k: int
    segments: int     # m of the fine-grained question
    shared: int       # K_s of the shared-expert question
    unit: str = "GB"  # memory unit on the sheet: GB (10^9 bytes) or kB (10^3 bytes)

    def inputs(self) -> dict:
        return asdict(self) | {"tied_embeddings": False}


@dataclass(frozen=True)
class Experts:
    """One MoE layer: E experts of N parameters each, top-k."""

    expert_params: int  # N
    experts: int
    top_k: int
    segments: int
    shared: int
    unit: str = "GB"

    def inputs(self) -> dict:
        return asdict(self)


def expert_params(ffn: str, d: int, h: int) -> int:
    """SwiGLU 3·d·h, ReLU 2·d·h + h + d: ('swiglu', 4096, 14336) -> 176160768; ('relu', 4, 8) -> 76."""
    return 3 * d * h if ffn == "swiglu" else 2 * d * h + h + d


def attention_params(d: int, q_heads: int, kv_heads: int, head_dim: int) -> int:
    """W_q, W_o: d·n_q·d_head each; W_k, W_v: d·n_kv·d_head each: (4096, 32, 8, 128) -> 41943040."""
    return 2 * d * q_heads * head_dim + 2 * d * kv_heads * head_dim


def layer_params(m: Model, ffns: int, moe: bool = True) -> int:
    """Attention + `ffns` FFNs + the router (MoE layers) + 2 norms: Mixtral, 8 -> 1451270144."""
    return (attention_params(m.d_model, m.q_heads, m.kv_heads, m.head_dim)
            + ffns * expert_params(m.ffn, m.d_model, m.d_ff) + moe * m.experts * m.d_model + 2 * m.d_model)


def mixtral(rng) -> Model:
    """Mixtral 8x7B (config.json); the seed only picks the fine-grained what-if (m, K_s)."""
    return Model("mixtral-8x7b", "swiglu", 4096, 14336, 32, 32, 8, 128, 32000, 8, 2,
                 int(rng.choice([2, 4])), int(rng.choice([1, 2])))


def draw_experts(rng) -> Experts:
    """Eight experts, top-2, N a whole number of millions (100 to 250 million)."""
    return Experts(int(rng.integers(100, 251)) * 10**6, 8, 2, int(rng.choice([2, 4])), int(rng.choice([1, 2])))


def draw_model(rng) -> Model:
    """A small model: d 8 to 16, h 2d to 4d, 4 or 8 experts, 2 to 6 layers, vocabulary 32 to 64.

    Kept only if a token uses at most half of the parameters and splitting the experts multiplies
    the number of expert combinations at least tenfold (the sheet's teaching moments)."""
    for _ in range(_TRIES):
        q_heads = int(rng.choice([2, 4]))
        head_dim = int(rng.choice([2, 3, 4, 6, 8]))
        d = q_heads * head_dim
        E = int(rng.choice([4, 8]))
        k = int(rng.integers(1, E // 4 + 1))
        m = int(rng.choice([2, 4]))
        if d not in (8, 12, 16) or m * E > 16:
            continue
        model = Model("generated", str(rng.choice(["swiglu", "relu"])), d, d * int(rng.integers(2, 5)),
                      int(rng.choice([2, 4, 6])), q_heads, int(rng.choice([1, q_heads // 2])), head_dim,
                      int(rng.choice([32, 48, 64])), E, k, m, int(rng.integers(1, min(2, m * k - 1) + 1)), "kB")
        total, active = model_totals(model)
        if 2 * active <= total and comb(m * E, m * k) >= 10 * comb(E, k):
            return model
    raise GenerationError("could not build a hand-friendly sizing problem")


def model_totals(m: Model) -> tuple[int, int]:
    """(total, active) parameters, MoE in every layer: Mixtral -> (46702792704, 12879925248)."""
    outside = 2 * m.vocab * m.d_model + m.d_model
    return (m.layers * layer_params(m, m.experts) + outside,
            m.layers * layer_params(m, m.top_k) + outside)


def weight_shapes(m: Model, h: int) -> dict:
    """Every weight's shape, by part, for FFN width h: Mixtral's router -> [(8, 4096)]."""
    d, q, kv = m.d_model, m.q_heads * m.head_dim, m.kv_heads * m.head_dim
    return {"attention": [(d, q), (d, kv), (d, kv), (q, d)],
            "ffn": [(d, h), (d, h), (h, d)] if m.ffn == "swiglu" else [(d, h), (h,), (h, d), (d,)],
            "router": [(m.experts, d)], "norms": [(d,), (d,)], "outside": [(m.vocab, d), (d, m.vocab), (d,)]}


def layer_sizes(m: Model, h: int):
    """The float route: sizes summed from the weight shapes, and a per-layer table for a MoE pattern
    (1 = MoE layer) with columns attention, norms, router, FFNs stored, FFNs used."""
    s = {part: float(sum(np.prod(shape) for shape in shapes)) for part, shapes in weight_shapes(m, h).items()}

    def table(pattern):
        moe = np.asarray(pattern, dtype=float)
        return np.stack([np.full(len(moe), s["attention"]), np.full(len(moe), s["norms"]), moe * s["router"],
                         np.where(moe > 0, m.experts, 1) * s["ffn"], np.where(moe > 0, m.top_k, 1) * s["ffn"]], axis=1)
    return s, table


def counting_rules(p, fixed: bool = False) -> tuple[str, ...]:
    """What is counted and how, in words, for the conventions box. `fixed` (answer-free sheets):
    the same words whichever FFN the seed drew, so that the box is as long for every seed."""
    memory = (f"Memory of the weights = parameters × bits / 8 bytes, at 16 bits (bf16), 8 and 4 bits; weights only "
              f"(no quantisation scales, KV cache or activations). {p.unit} = {UNIT[p.unit]:,} bytes"
              + (" (not GiB = 2³⁰ bytes)." if p.unit == "GB" else " (a small model: kB, not GB)."))
    fine = ("Fine-grained segmentation (DeepSeekMoE): every expert is split into m experts of 1/m the width; "
            "top-k becomes top-mk. Shared-expert isolation: K_s of the mE fine experts take every token and the router "
            "picks mk − K_s of the other mE − K_s. C(n, r) = n! / (r! (n − r)!) counts the expert sets a token can use.")
    if isinstance(p, Experts):
        return (f"One MoE layer of E = {p.experts} experts with N = {p.expert_params:,} parameters each; a token runs "
                f"its top-{p.top_k}. Only the experts are counted here (no router, attention or embeddings); "
                "an expert has no biases, so a 1/m-width expert has N/m parameters.",
                "FLOPs per token ≈ 2 × active parameters (one multiply and one add per weight used).",
                memory, fine)
    swiglu = "SwiGLU, W2(silu(x W1) ⊙ x W3): W1 and W3 are d × h, W2 is h × d, no biases: 3·d·h parameters"
    relu = "ReLU, ReLU(x W1 + b1) W2 + b2: W1 is d × h, W2 is h × d, biases b1 (h) and b2 (d): 2·d·h + h + d parameters"
    ffn = (f"Every expert, and the dense FFN, is {swiglu} (as in Mixtral). A ReLU FFN would have 2·d·h + h + d."
           if p.ffn == "swiglu" else f"Every expert, and the dense FFN, is {relu}. (A SwiGLU FFN, as in Mixtral, "
           "has three matrices and no biases: 3·d·h.)")
    if fixed:
        ffn = (f"Every expert, and the dense FFN, is the FFN the model names: {swiglu} (as in Mixtral); or {relu}.")
    return ("A matrix a × b holds a·b parameters; a bias or norm weight of length n holds n. Every parameter is counted.",
            ffn,
            "Attention with grouped-query heads, no biases: W_q is d × (n_q·d_head), W_k and W_v are d × (n_kv·d_head) "
            "(n_kv key/value heads shared by the n_q query heads), W_o is (n_q·d_head) × d.",
            "Each MoE layer has a router E × d (no bias). Norms are RMSNorm, one weight of d: 2 per layer (before "
            "attention, before the FFN) and 1 final. Embeddings untied: input embedding V × d and output head d × V "
            "both counted.",
            "Active parameters = what one token uses: attention, norms, router, its k experts, both embedding matrices "
            "and the final norm (Mixtral's 12.9B counts so). Dense counterpart: one FFN per layer in place of the "
            "E experts, no router. MoE in every other layer (Switch, GShard): L/2 layers keep the dense FFN.",
            "FLOPs per token ≈ 2 × active parameters (one multiply and one add per weight used); attention's "
            "context-length term is left out.",
            memory, fine)
