"""Published models as data (models/*.toml), and what a person counts to size one.

Each model file holds the values of its published configuration under config.json's own names,
the source they come from, and the figures its makers published (rounded). `counts(model)` is the
sheet's plan: every number a person writes, in order, each a sum of products of configuration
values (a part of a layer: attention, one expert, the router ...) or of earlier counts (a layer,
the total, FLOPs). The same Count drives the step's value, its row on the sheet, its worked line
and the carried check, so they cannot disagree. `weight_shapes(model)` lists every weight's shape
by part, for the kind's independent NumPy route. Families: mixtral (grouped-query attention,
SwiGLU experts), deepseek (multi-head latent attention, dense first layers, shared experts, the
MTP module), qwen2_moe (qkv biases, a shared expert with its gate), qwen3_moe (query/key norms),
gpt_oss (biases, attention sinks), switch (T5 encoder-decoder, MoE in every other block) and
rumour (GPT-4's, a what-if). Leaves out: the sheet's layout (model_sizing.py).
"""

import tomllib
from dataclasses import dataclass
from functools import lru_cache

from workbook.resources import resource_dir

MODELS = ("mixtral-8x7b", "mixtral-8x22b", "deepseek-v2", "deepseek-v3", "qwen1.5-moe-a2.7b", "qwen3-30b-a3b",
          "gpt-oss-20b", "gpt-oss-120b", "switch-base-8", "gpt-4-rumour")
BITS = (16, 8, 4)
GB = 10 ** 9
_MAX_BYTES = 64 * 1024  # a model file is a page of values: anything bigger is not ours


@dataclass(frozen=True)
class Published:
    """One model: its configuration and what its makers published."""

    key: str                # 'deepseek-v3'
    name: str               # 'DeepSeek-V3'
    family: str
    source: str
    published: str          # the published figures, in words
    published_total: float  # billions, as published (rounded)
    published_active: float
    config: tuple           # ((config.json name, value), ...)
    note: str = ""          # how the published figures relate to the counts, in words
    active_without_embedding: bool = False  # the makers' active count leaves out the input embedding
    conventions: tuple = ()  # the model's own lines for the conventions box

    def __getitem__(self, name):
        return dict(self.config)[name]

    def get(self, name, default=None):
        return dict(self.config).get(name, default)

    def inputs(self) -> dict:
        return {"model": self.key, "name": self.name, "source": self.source, "config": dict(self.config),
                "published": self.published}


@lru_cache(maxsize=None)
def load(key: str) -> Published:
    """models/<key>.toml, read once."""
    path = resource_dir("models") / f"{key}.toml"
    if path.stat().st_size > _MAX_BYTES:
        raise ValueError(f"{path} is over {_MAX_BYTES} bytes")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return Published(key, data["name"], data["family"], data["source"], data["published"],
                     float(data["published_total"]), float(data["published_active"]),
                     tuple(data["config"].items()), data.get("note", ""),
                     bool(data.get("active_without_embedding", False)), tuple(data.get("conventions", ())))


@dataclass(frozen=True)
class Count:
    """One number the learner writes: Σ products of configuration values + Σ coefficient × an
    earlier count, divided by `divisor` (a decimal, 2 places) when it is not 1.

    products: ((3, 7168, 2048), ...): each a product of whole numbers.
    refs: ((58, 'moe_layer'), ...): coefficient × the count of that step id.
    """

    id: str
    label: str               # the row's label on the sheet: 'one routed expert'
    rule: str                # the rule in the configuration's names: '3 · d · h_moe'
    meaning: str             # what it means, in plain words (the worked solution's first line)
    products: tuple = ()
    refs: tuple = ()
    divisor: int = 1
    section: str = ""


def value(count: Count, known: dict):
    """The exact value of a count from the earlier ones (`known`: step id -> value)."""
    from sympy import Integer, Rational

    total = Integer(0)
    for factors in count.products:
        term = Integer(1)
        for f in factors:
            term *= Integer(f)
        total += term
    for coef, sid in count.refs:
        total += Integer(coef) * known[sid]
    return total if count.divisor == 1 else Rational(total, count.divisor)


# --- the plan of each family -------------------------------------------------------------------

_PARTS, _LAYERS, _WHOLE, _PUBLISHED, _COST = ("One layer's parts", "Layers, stored and used", "The whole model",
                                              "Against the published figures", "FLOPs and memory")
RUMOURED = "Against the rumoured figures"
PUBLISHED = (_PUBLISHED, RUMOURED)


def _gqa(m: Published, bias_qkv=False, bias_o=False, qk_norm=False, sinks=False) -> Count:
    d, nq, nkv = m["hidden_size"], m["num_attention_heads"], m["num_key_value_heads"]
    hd = m.get("head_dim") or d // nq
    products = [(2, d, nq, hd), (2, d, nkv, hd)]
    rule = "2 · d · n_q · d_head + 2 · d · n_kv · d_head"
    if bias_qkv:
        products += [(nq, hd), (2, nkv, hd)]
        rule += " + n_q · d_head + 2 · n_kv · d_head (biases of W_q, W_k, W_v)"
    if bias_o:
        products += [(d,)]
        rule += " + d (bias of W_o)"
    if qk_norm:
        products += [(2, hd)]
        rule += " + 2 · d_head (query and key norms)"
    if sinks:
        products += [(nq,)]
        rule += " + n_q (one sink per head)"
    return Count("attention", "attention", rule, "Attention with grouped-query heads: W_q and W_o are d × n_q·d_head, "
                 "W_k and W_v only d × n_kv·d_head, because n_kv key/value heads are shared by the n_q query heads.",
                 tuple(products), section=_PARTS)


def _mla(m: Published) -> Count:
    d, nh, ql, kvl = m["hidden_size"], m["num_attention_heads"], m["q_lora_rank"], m["kv_lora_rank"]
    nope, rope, v = m["qk_nope_head_dim"], m["qk_rope_head_dim"], m["v_head_dim"]
    return Count("attention", "attention (MLA)",
                 "d · r_q + r_q + r_q · n_h · (d_nope + d_rope) + d · (r_kv + d_rope) + r_kv + r_kv · n_h · (d_nope + d_v) "
                 "+ n_h · d_v · d",
                 "Multi-head latent attention: queries go down to rank r_q and back up to n_h heads; keys and values "
                 "share one low-rank latent of r_kv (plus one rotary key of d_rope for all heads), so the cache holds "
                 "r_kv + d_rope numbers per token instead of 2 · n_h · d_head. Each low-rank latent has its RMSNorm.",
                 ((d, ql), (ql,), (ql, nh, nope + rope), (d, kvl + rope), (kvl,), (kvl, nh, nope + v), (nh, v, d)),
                 section=_PARTS)


def _swiglu(id, label, d, h, meaning, copies=1, section=_PARTS, rule="3 · d · h") -> Count:
    return Count(id, label, rule, meaning, ((copies, 3, d, h) if copies > 1 else (3, d, h),), section=section)


def _whole(m: Published, blocks, outside: Count, extra=()) -> list[Count]:
    """Layers (blocks: (stored id, used id, number of them, label)), the outside parts, the total and
    the active count, then FLOPs and memory."""
    total = tuple((n, stored) for stored, _, n, _ in blocks) + ((1, outside.id),)
    active = tuple((n, used) for _, used, n, _ in blocks) + ((1, outside.id),)
    return [outside,
            Count("total", "total", " + ".join(f"{lab} × stored" for *_, lab in blocks) + " + outside the layers",
                  "Every parameter the model stores: each layer as stored, times how many there are, and the "
                  "embeddings and final norm.", refs=total, section=_WHOLE),
            Count("active", "active per token", " + ".join(f"{lab} × used" for *_, lab in blocks) + " + outside",
                  "What one token uses: each layer as used (its k routed experts, the shared ones, attention, router and "
                  "norms) and everything outside the layers (both embedding matrices counted, as Mixtral's 12.9B).",
                  refs=active, section=_WHOLE), *extra]


def _as_published(m: Published) -> list[Count]:
    """The active count as the makers count it, when they leave out the input embedding."""
    if not m.active_without_embedding:
        return []
    d, V = m["hidden_size"], m["vocab_size"]
    return [Count("active_published", "active, as published", "active − V · d",
                  "The makers count the output head but not the input embedding (a lookup: no multiply).",
                  ((-1, V, d),), refs=((1, "active"),), section=_WHOLE)]


def _published(m: Published) -> list[Count]:
    publisher_active = m.active_without_embedding
    out = [Count("total_billions", "total", "total / 10⁹",
                 f"The total in billions, to compare with the published {m.published_total:g}B.",
                 refs=((1, "total"),), divisor=GB, section=_PUBLISHED),
           Count("active_billions", "active", "active / 10⁹",
                 f"The active count in billions, to compare with the published {m.published_active:g}B.",
                 refs=((1, "active_published" if publisher_active else "active"),), divisor=GB, section=_PUBLISHED)]
    return out


def _cost() -> list[Count]:
    return [Count("flops", "FLOPs per token", "2 × active",
                  "A weight used by a token costs one multiply and one add: about 2 FLOPs per active parameter "
                  "(attention's context-length term left out).", refs=((2, "active"),), section=_COST),
            *(Count(f"memory_{b}", f"{b} bits", f"total × {b} / 8 / 10⁹",
                    f"The weights at {b} bits are total × {b} / 8 bytes; GB = 10⁹ bytes.",
                    refs=((b, "total"),), divisor=8 * GB, section=_COST) for b in BITS)]


def _norms(d) -> Count:
    return Count("norms", "norms", "2 · d", "Two RMSNorm weights per layer (before attention, before the experts).",
                 ((2, d),), section=_PARTS)


def _moe_layers(E, k, shared=False) -> list[Count]:
    """A MoE layer as stored (all E experts) and as one token uses it (its top-k), with the shared
    experts, which take every token, in both."""
    extra, words = (((1, "shared"),), " + shared") if shared else ((), "")
    parts = ((1, "attention"),) + extra + ((1, "router"), (1, "norms"))
    return [Count("moe_layer", "MoE layer, stored", f"attention + E · expert{words} + router + norms",
                  "A MoE layer stores all E routed experts" + (" and the shared ones." if shared else "."),
                  refs=parts + ((E, "expert"),), section=_LAYERS),
            Count("moe_used", "MoE layer, used", f"attention + k · expert{words} + router + norms",
                  "A token runs its top-k routed experts only" + (", and every shared expert." if shared else "."),
                  refs=parts + ((k, "expert"),), section=_LAYERS)]


def _mixtral(m: Published) -> list[Count]:
    d, V, L = m["hidden_size"], m["vocab_size"], m["num_hidden_layers"]
    E, k, h = m["num_local_experts"], m["num_experts_per_tok"], m["intermediate_size"]
    return [_gqa(m),
            _swiglu("expert", "one expert", d, h, "One SwiGLU expert: W1 and W3 are d × h, W2 is h × d, no biases."),
            Count("router", "router", "E · d", "The router: one row of d weights per expert, no bias.", ((E, d),),
                  section=_PARTS),
            _norms(d), *_moe_layers(E, k),
            *_whole(m, [("moe_layer", "moe_used", L, "L")], _outside(V, d)),
            *_published(m), *_cost()]


def _outside(V, d, rule="2 · V · d + d", meaning="The input embedding V × d and the output head d × V (untied: both "
             "stored), and the final RMSNorm.") -> Count:
    return Count("outside", "embeddings + final norm", rule, meaning, ((2, V, d), (d,)), section=_WHOLE)


def _deepseek(m: Published) -> list[Count]:
    d, V, L, dense_n = m["hidden_size"], m["vocab_size"], m["num_hidden_layers"], m["first_k_dense_replace"]
    E, k, Ks, h = m["n_routed_experts"], m["num_experts_per_tok"], m["n_shared_experts"], m["moe_intermediate_size"]
    plan = [_mla(m),
            _swiglu("dense_ffn", "dense FFN", d, m["intermediate_size"],
                    f"The first {dense_n} layer{'s are' if dense_n > 1 else ' is'} dense: one wide SwiGLU FFN of "
                    "width h (intermediate_size).", rule="3 · d · h"),
            _swiglu("expert", "one routed expert", d, h, "One routed expert: a narrow SwiGLU FFN of width h_moe "
                    "(moe_intermediate_size).", rule="3 · d · h_moe"),
            _swiglu("shared", "shared experts", d, h, "The shared experts, as wide as a routed one, take every token.",
                    copies=Ks, rule="K_s · 3 · d · h_moe"),
            Count("router", "router", "E · d", "The router: one row of d weights per routed expert"
                  + (" (V3's bias b is a buffer set by the balancing rule, not a trained weight: not counted)."
                     if m.key == "deepseek-v3" else "."), ((E, d),), section=_PARTS),
            _norms(d), *_moe_layers(E, k, shared=True),
            Count("dense_layer", "dense layer", "attention + dense FFN + norms",
                  "A dense layer has no router: every token uses all of it.",
                  refs=((1, "attention"), (1, "dense_ffn"), (1, "norms")), section=_LAYERS)]
    mtp = []
    if m.get("num_nextn_predict_layers"):
        mtp = [Count("mtp", "MTP module, its own", "MoE layer + 2 · d · d + 3 · d",
                     "The multi-token-prediction module predicts one more token: two RMSNorms (of the hidden state and "
                     "of the next token's embedding), a 2d × d projection joining them, one MoE layer and the norm "
                     "before the shared output head. It shares the embedding and the head with the main model.",
                     ((2, d, d), (3, d)), refs=((1, "moe_layer"),), section=_WHOLE),
               Count("with_mtp", "with MTP, as stored", "total + MTP + 2 · V · d",
                     "The released checkpoint stores the MTP module with its own copy of the embedding and the output "
                     "head: the figure of the files on Hugging Face.", ((2, V, d),), refs=((1, "total"), (1, "mtp")),
                     section=_WHOLE)]
    plan += _whole(m, [("dense_layer", "dense_layer", dense_n, f"{dense_n} dense"),
                       ("moe_layer", "moe_used", L - dense_n, f"{L - dense_n} MoE")], _outside(V, d),
                  extra=_as_published(m) + mtp)
    return plan + _published(m) + _cost()


def _qwen(m: Published) -> list[Count]:
    d, V, L = m["hidden_size"], m["vocab_size"], m["num_hidden_layers"]
    E, k, h = m["num_experts"], m["num_experts_per_tok"], m["moe_intermediate_size"]
    shared = m.get("shared_expert_intermediate_size")
    plan = [_gqa(m, bias_qkv=m.get("qkv_bias", False), qk_norm=m.family == "qwen3_moe"),
            _swiglu("expert", "one routed expert", d, h, "One routed expert: a narrow SwiGLU FFN of width h_moe.",
                    rule="3 · d · h_moe")]
    if shared:
        plan.append(Count("shared", "shared expert + gate", "3 · d · h_s + d",
                          "One wide shared expert (width h_s) takes every token, scaled by its own sigmoid gate (d weights).",
                          ((3, d, shared), (d,)), section=_PARTS))
    plan += [Count("router", "router", "E · d", "The router: one row of d weights per routed expert, no bias.",
                   ((E, d),), section=_PARTS),
             _norms(d), *_moe_layers(E, k, shared=bool(shared))]
    return plan + _whole(m, [("moe_layer", "moe_used", L, "L")], _outside(V, d)) + _published(m) + _cost()


def _gpt_oss(m: Published) -> list[Count]:
    d, V, L, h = m["hidden_size"], m["vocab_size"], m["num_hidden_layers"], m["intermediate_size"]
    E, k = m["num_local_experts"], m["num_experts_per_tok"]
    return [_gqa(m, bias_qkv=True, bias_o=True, sinks=True),
            Count("expert", "one expert", "3 · d · h + 2 · h + d",
                  "One SwiGLU expert with biases: gate_up_proj d × 2h and its bias 2h, down_proj h × d and its bias d.",
                  ((3, d, h), (2, h), (d,)), section=_PARTS),
            Count("router", "router", "E · d + E", "The router: E × d weights and a bias of E.", ((E, d), (E,)),
                  section=_PARTS),
            _norms(d), *_moe_layers(E, k),
            *_whole(m, [("moe_layer", "moe_used", L, "L")], _outside(V, d), extra=_as_published(m)),
            *_published(m), *_cost()]


def _rumour(m: Published) -> list[Count]:
    E, N, k, S = m["experts"], m["expert_parameters"], m["experts_per_token"], m["shared_parameters"]
    gpu = m["gpu_memory_gb"]
    return [Count("total", "total", "E · N + S", "Every expert is stored, and the shared (attention) parameters once.",
                  ((E, N), (S,)), section=_WHOLE),
            Count("active", "active per token", "k · N + S", "A token would run 2 experts and the shared parameters.",
                  ((k, N), (S,)), section=_WHOLE),
            Count("total_billions", "total", "total / 10⁹", "In billions, against the rumoured 'about 1.8 trillion'.",
                  refs=((1, "total"),), divisor=GB, section=RUMOURED),
            Count("active_billions", "active", "active / 10⁹", "In billions, against the rumoured 'about 280B'.",
                  refs=((1, "active"),), divisor=GB, section=RUMOURED),
            Count("flops", "FLOPs per token", "2 × active", "About 2 FLOPs per active parameter. The rumour quotes "
                  f"'~{m['rumoured_flops']} TFLOPs' per forward pass: per token, 2 × active is in GFLOPs.",
                  refs=((2, "active"),), section=_COST),
            *_cost()[1:],  # the memory at 16, 8 and 4 bits
            Count("gpus_16", f"{gpu} GB GPUs at 16 bits", f"total × 2 / ({gpu} · 10⁹), as a decimal",
                  f"How many {gpu} GB GPUs the 16-bit weights alone would fill (before any KV cache).",
                  refs=((2, "total"),), divisor=gpu * GB, section=_COST)]


def _switch(m: Published) -> list[Count]:
    d, V, h, E = m["d_model"], m["vocab_size"], m["d_ff"], m["num_experts"]
    nh, dkv, buckets = m["num_heads"], m["d_kv"], m["relative_attention_num_buckets"]
    enc, dec = m["num_layers"], m["num_decoder_layers"]
    enc_moe, dec_moe = enc // m["encoder_sparse_step"], dec // m["decoder_sparse_step"]
    relu = "A ReLU FFN without biases: wi is d × h, wo is h × d."
    layer = lambda i, lab, rule, meaning, refs: Count(i, lab, rule, meaning, refs=refs, section=_LAYERS)  # noqa: E731
    enc_parts, dec_parts = ((1, "attention"), (2, "norm")), ((2, "attention"), (3, "norm"))
    return [Count("attention", "one attention", "4 · d · n_h · d_kv", "One attention (self- or cross-): q, k, v and o, "
                  "each d × n_h·d_kv, no biases. A decoder block has two: its own and the one over the encoder.",
                  ((4, d, nh, dkv),), section=_PARTS),
            Count("dense_ffn", "dense FFN", "2 · d · h", relu, ((2, d, h),), section=_PARTS),
            Count("expert", "one expert", "2 · d · h", "An expert is the same ReLU FFN: the MoE block holds E of them.",
                  ((2, d, h),), section=_PARTS),
            Count("router", "router", "E · d", "The router: one row of d weights per expert, no bias.", ((E, d),),
                  section=_PARTS),
            Count("norm", "one layer norm", "d", "T5's layer norm has a scale of d and no bias; an encoder block has 2, "
                  "a decoder block 3.", ((d,),), section=_PARTS),
            layer("enc_dense", "encoder block, dense", "attention + dense FFN + 2 norms", "A dense encoder block.",
                  enc_parts + ((1, "dense_ffn"),)),
            layer("enc_moe", "encoder block, MoE", "attention + E · expert + router + 2 norms",
                  "An encoder block with a switch layer stores all E experts.", enc_parts + ((E, "expert"), (1, "router"))),
            layer("enc_used", "encoder MoE, used", "attention + 1 expert + router + 2 norms",
                  "A token runs one expert (top-1).", enc_parts + ((1, "expert"), (1, "router"))),
            layer("dec_dense", "decoder block, dense", "2 attentions + dense FFN + 3 norms", "A dense decoder block.",
                  dec_parts + ((1, "dense_ffn"),)),
            layer("dec_moe", "decoder block, MoE", "2 attentions + E · expert + router + 3 norms",
                  "A decoder block with a switch layer.", dec_parts + ((E, "expert"), (1, "router"))),
            layer("dec_used", "decoder MoE, used", "2 attentions + 1 expert + router + 3 norms",
                  "A token runs one expert.", dec_parts + ((1, "expert"), (1, "router"))),
            *_whole(m, [("enc_dense", "enc_dense", enc - enc_moe, f"{enc - enc_moe} dense encoder"),
                        ("enc_moe", "enc_used", enc_moe, f"{enc_moe} MoE encoder"),
                        ("dec_dense", "dec_dense", dec - dec_moe, f"{dec - dec_moe} dense decoder"),
                        ("dec_moe", "dec_used", dec_moe, f"{dec_moe} MoE decoder")],
                    Count("outside", "embedding, norms, biases", "V · d + 2 · d + 2 · buckets · n_h",
                          "One embedding V × d, shared by the encoder, the decoder and (tied) the output head: stored "
                          "once. A final layer norm per stack, and the relative position biases (buckets × n_h) of "
                          "each stack's first block.", ((V, d), (2, d), (2, buckets, nh)), section=_WHOLE),
                    extra=[Count("every_total", "every block MoE: total", f"{enc} · encoder MoE + {dec} · decoder MoE + outside",
                                 "The placement question: with a switch layer in every block, not every other one.",
                                 refs=((enc, "enc_moe"), (dec, "dec_moe"), (1, "outside")), section=_WHOLE),
                           Count("every_active", "every block MoE: active", f"{enc} · encoder used + {dec} · decoder used + outside",
                                 "What a token would use then: one expert per block, as now, in twice the blocks.",
                                 refs=((enc, "enc_used"), (dec, "dec_used"), (1, "outside")), section=_WHOLE)]),
            *_published(m), *_cost()]


_FAMILIES = {"switch": _switch, "mixtral": _mixtral, "deepseek": _deepseek, "qwen2_moe": _qwen, "qwen3_moe": _qwen,
             "gpt_oss": _gpt_oss, "rumour": _rumour}


@lru_cache(maxsize=None)
def counts(m: Published) -> tuple[Count, ...]:
    """Every number of the sheet, in order."""
    return tuple(_FAMILIES[m.family](m))


@lru_cache(maxsize=None)
def computed(m: Published) -> dict:
    """{step id: exact value} of every count."""
    known: dict = {}
    for c in counts(m):
        known[c.id] = value(c, known)
    return known
