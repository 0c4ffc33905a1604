"""Every weight of a published model by name and shape, and the sheet's figures summed from them.

The independent route of model-sizing (its `forward`): `state_dict(m)` lists each tensor the way
the model's Hugging Face checkpoint names it (model.layers.3.mlp.experts.17.down_proj.weight,
(7168, 2048)), layer by layer, all of them; `forward_counts` sums their shapes with NumPy, by
name, into the figures the sheet asks for. It shares nothing with model_configs.Count's
closed forms but the configuration values. Leaves out: buffers that are not trained weights
(rotary tables, DeepSeek-V3's selection bias).
"""

import re
from functools import lru_cache

import numpy as np

from workbook.kinds.model_configs import BITS, GB, Published


def _gqa(p, m, bias_qkv=False, bias_o=False, qk_norm=False, sinks=False):
    d, nq, nkv = m["hidden_size"], m["num_attention_heads"], m["num_key_value_heads"]
    hd = m.get("head_dim") or d // nq
    yield f"{p}.q_proj.weight", (nq * hd, d)
    yield f"{p}.k_proj.weight", (nkv * hd, d)
    yield f"{p}.v_proj.weight", (nkv * hd, d)
    yield f"{p}.o_proj.weight", (d, nq * hd)
    if bias_qkv:
        yield from ((f"{p}.q_proj.bias", (nq * hd,)), (f"{p}.k_proj.bias", (nkv * hd,)), (f"{p}.v_proj.bias", (nkv * hd,)))
    if bias_o:
        yield f"{p}.o_proj.bias", (d,)
    if qk_norm:
        yield from ((f"{p}.q_norm.weight", (hd,)), (f"{p}.k_norm.weight", (hd,)))
    if sinks:
        yield f"{p}.sinks", (nq,)


def _mla(p, m):
    d, nh, ql, kvl = m["hidden_size"], m["num_attention_heads"], m["q_lora_rank"], m["kv_lora_rank"]
    nope, rope, v = m["qk_nope_head_dim"], m["qk_rope_head_dim"], m["v_head_dim"]
    yield f"{p}.q_a_proj.weight", (ql, d)
    yield f"{p}.q_a_layernorm.weight", (ql,)
    yield f"{p}.q_b_proj.weight", (nh * (nope + rope), ql)
    yield f"{p}.kv_a_proj_with_mqa.weight", (kvl + rope, d)
    yield f"{p}.kv_a_layernorm.weight", (kvl,)
    yield f"{p}.kv_b_proj.weight", (nh * (nope + v), kvl)
    yield f"{p}.o_proj.weight", (d, nh * v)


def _mlp(p, d, h):
    yield from ((f"{p}.gate_proj.weight", (h, d)), (f"{p}.up_proj.weight", (h, d)), (f"{p}.down_proj.weight", (d, h)))


def _decoder(m, attention, mlp):
    """A decoder-only model: embedding, layers (attention, MLP, two norms), final norm, head."""
    d, V = m["hidden_size"], m["vocab_size"]
    yield "model.embed_tokens.weight", (V, d)
    for i in range(m["num_hidden_layers"]):
        p = f"model.layers.{i}"
        yield from attention(f"{p}.self_attn")
        yield from mlp(i, p)
        yield f"{p}.input_layernorm.weight", (d,)
        yield f"{p}.post_attention_layernorm.weight", (d,)
    yield "model.norm.weight", (d,)
    yield "lm_head.weight", (V, d)


def _mixtral(m):
    d, h, E = m["hidden_size"], m["intermediate_size"], m["num_local_experts"]

    def moe(i, p):
        yield f"{p}.block_sparse_moe.gate.weight", (E, d)
        for e in range(E):
            q = f"{p}.block_sparse_moe.experts.{e}"
            yield from ((f"{q}.w1.weight", (h, d)), (f"{q}.w2.weight", (d, h)), (f"{q}.w3.weight", (h, d)))
    return _decoder(m, lambda p: _gqa(p, m), moe)


def _deepseek(m):
    d, E, h = m["hidden_size"], m["n_routed_experts"], m["moe_intermediate_size"]

    def mlp(i, p):
        if i < m["first_k_dense_replace"]:
            yield from _mlp(f"{p}.mlp", d, m["intermediate_size"])
            return
        yield f"{p}.mlp.gate.weight", (E, d)
        for e in range(E):
            yield from _mlp(f"{p}.mlp.experts.{e}", d, h)
        yield from _mlp(f"{p}.mlp.shared_experts", d, h * m["n_shared_experts"])
    return _decoder(m, lambda p: _mla(p, m), mlp)


def _mtp(m):
    """DeepSeek-V3's MTP module as its checkpoint stores it (model.layers.61)."""
    d, V, E, h, i = m["hidden_size"], m["vocab_size"], m["n_routed_experts"], m["moe_intermediate_size"], m["num_hidden_layers"]
    p = f"model.layers.{i}"
    yield f"{p}.embed_tokens.weight", (V, d)
    yield f"{p}.enorm.weight", (d,)
    yield f"{p}.hnorm.weight", (d,)
    yield f"{p}.eh_proj.weight", (d, 2 * d)
    yield from _mla(f"{p}.self_attn", m)
    yield f"{p}.mlp.gate.weight", (E, d)
    for e in range(E):
        yield from _mlp(f"{p}.mlp.experts.{e}", d, h)
    yield from _mlp(f"{p}.mlp.shared_experts", d, h * m["n_shared_experts"])
    yield f"{p}.input_layernorm.weight", (d,)
    yield f"{p}.post_attention_layernorm.weight", (d,)
    yield f"{p}.shared_head.norm.weight", (d,)
    yield f"{p}.shared_head.head.weight", (V, d)


def _qwen(m):
    d, E, h = m["hidden_size"], m["num_experts"], m["moe_intermediate_size"]
    shared = m.get("shared_expert_intermediate_size")

    def moe(i, p):
        yield f"{p}.mlp.gate.weight", (E, d)
        for e in range(E):
            yield from _mlp(f"{p}.mlp.experts.{e}", d, h)
        if shared:
            yield from _mlp(f"{p}.mlp.shared_expert", d, shared)
            yield f"{p}.mlp.shared_expert_gate.weight", (1, d)
    return _decoder(m, lambda p: _gqa(p, m, bias_qkv=m.get("qkv_bias", False), qk_norm=m.family == "qwen3_moe"), moe)


def _gpt_oss(m):
    d, E, h = m["hidden_size"], m["num_local_experts"], m["intermediate_size"]

    def moe(i, p):
        yield f"{p}.mlp.router.weight", (E, d)
        yield f"{p}.mlp.router.bias", (E,)
        for e in range(E):  # the checkpoint stacks the experts; one name each here, to count them one by one
            q = f"{p}.mlp.experts.{e}"
            yield from ((f"{q}.gate_up_proj", (d, 2 * h)), (f"{q}.gate_up_proj_bias", (2 * h,)),
                        (f"{q}.down_proj", (h, d)), (f"{q}.down_proj_bias", (d,)))
    return _decoder(m, lambda p: _gqa(p, m, bias_qkv=True, bias_o=True, sinks=True), moe)


def _switch(m):
    d, V, h, E = m["d_model"], m["vocab_size"], m["d_ff"], m["num_experts"]
    inner, buckets, nh = m["num_heads"] * m["d_kv"], m["relative_attention_num_buckets"], m["num_heads"]
    yield "shared.weight", (V, d)

    def attention(p, first):
        for w in "qkvo":
            yield f"{p}.{w}.weight", ((inner, d) if w != "o" else (d, inner))
        if first:
            yield f"{p}.relative_attention_bias.weight", (buckets, nh)

    for stack, n, step in (("encoder", m["num_layers"], m["encoder_sparse_step"]),
                           ("decoder", m["num_decoder_layers"], m["decoder_sparse_step"])):
        for i in range(n):
            p = f"{stack}.block.{i}.layer"
            yield from attention(f"{p}.0.SelfAttention", i == 0)
            yield f"{p}.0.layer_norm.weight", (d,)
            f = 1
            if stack == "decoder":
                yield from attention(f"{p}.1.EncDecAttention", False)
                yield f"{p}.1.layer_norm.weight", (d,)
                f = 2
            if i % step == 1:
                yield f"{p}.{f}.mlp.router.classifier.weight", (E, d)
                for e in range(E):
                    q = f"{p}.{f}.mlp.experts.expert_{e}"
                    yield from ((f"{q}.wi.weight", (h, d)), (f"{q}.wo.weight", (d, h)))
            else:
                yield from ((f"{p}.{f}.mlp.wi.weight", (h, d)), (f"{p}.{f}.mlp.wo.weight", (d, h)))
            yield f"{p}.{f}.layer_norm.weight", (d,)
        yield f"{stack}.final_layer_norm.weight", (d,)
    # lm_head.weight is tied to shared.weight: the same tensor, stored and counted once


_STATE = {"mixtral": _mixtral, "deepseek": _deepseek, "qwen2_moe": _qwen, "qwen3_moe": _qwen, "gpt_oss": _gpt_oss,
          "switch": _switch}


def state_dict(m: Published) -> list[tuple[str, tuple[int, ...]]]:
    """Every trained weight (name, shape), as the checkpoint lists them (the MTP module apart)."""
    return list(_STATE[m.family](m))


_LAYER = re.compile(r"^(?:model\.layers|encoder\.block|decoder\.block)\.(\d+)\.")
_EXPERT = re.compile(r"\.experts\.(?:expert_)?(\d+)\.")


def _sizes(names_shapes, where=lambda n: True) -> float:
    return float(np.sum([np.prod(s, dtype=np.float64) for n, s in names_shapes if where(n)] or [0.0]))


@lru_cache(maxsize=None)
def forward_counts(m: Published) -> dict:
    """{step id: float} for every figure of the sheet, from the weights' shapes."""
    if m.family == "rumour":
        return _rumour(m)
    sd = state_dict(m)
    k = m.get("num_experts_per_tok", 1)
    by_layer: dict = {}
    outside = []
    for name, shape in sd:
        hit = _LAYER.match(name)
        key = (name.split(".")[0] if m.family == "switch" else "", int(hit.group(1))) if hit else None
        (by_layer.setdefault(key, []) if key else outside).append((name, shape))

    def used(weights):
        """A layer as one token uses it: every weight but the experts beyond its first k."""
        return _sizes(weights, lambda n: not (_EXPERT.search(n) and int(_EXPERT.search(n).group(1)) >= k))

    layers = sorted(by_layer)
    stored_all = np.array([_sizes(by_layer[key]) for key in layers])
    used_all = np.array([used(by_layer[key]) for key in layers])
    out_size = _sizes(outside)
    total, active = stored_all.sum() + out_size, used_all.sum() + out_size
    first = by_layer[layers[0]]
    moe_key = next(key for key in layers if any(_EXPERT.search(n) for n, _ in by_layer[key]))
    moe = by_layer[moe_key]
    fig = {"total": total, "active": active}
    if m.family == "switch":
        fig |= _switch_figures(m, by_layer, used, out_size)
    else:
        fig |= {"attention": _sizes(first, lambda n: ".self_attn." in n),
                "expert": _sizes(moe, lambda n: ".experts.0." in n),
                "router": _sizes(moe, lambda n: n.endswith(("gate.weight", "router.weight", "router.bias"))
                                 and "shared_expert_gate" not in n),
                "norms": _sizes(first, lambda n: "layernorm.weight" in n and ".self_attn." not in n),
                "moe_layer": _sizes(moe), "moe_used": used(moe), "outside": out_size}
        shared = _sizes(moe, lambda n: ".shared_expert" in n)
        if shared:
            fig["shared"] = shared
        if m.family == "deepseek":
            dense = by_layer[layers[0]]
            fig |= {"dense_ffn": _sizes(dense, lambda n: ".mlp." in n), "dense_layer": _sizes(dense)}
            if m.get("num_nextn_predict_layers"):
                mtp = list(_mtp(m))
                copies = _sizes(mtp, lambda n: n.endswith(("embed_tokens.weight", "shared_head.head.weight")))
                fig |= {"mtp": _sizes(mtp) - copies, "with_mtp": total + _sizes(mtp)}
        if m.active_without_embedding:
            fig["active_published"] = active - _sizes(outside, lambda n: n == "model.embed_tokens.weight")
    fig |= _common(fig, m)
    return fig


def _switch_figures(m, by_layer, used, out_size) -> dict:
    enc0, dec0 = by_layer[("encoder", 0)], by_layer[("decoder", 0)]
    enc1, dec1 = by_layer[("encoder", 1)], by_layer[("decoder", 1)]
    no_bias = lambda n: "relative_attention_bias" not in n  # noqa: E731 (block 0's bias is counted outside)
    enc_moe, dec_moe = _sizes(enc1), _sizes(dec1)
    fig = {"attention": _sizes(enc1, lambda n: ".SelfAttention." in n),
           "dense_ffn": _sizes(enc0, lambda n: ".mlp." in n), "expert": _sizes(enc1, lambda n: ".expert_0." in n),
           "router": _sizes(enc1, lambda n: ".router." in n), "norm": float(m["d_model"]),
           "enc_dense": _sizes(enc0, no_bias), "enc_moe": enc_moe, "enc_used": used(enc1),
           "dec_dense": _sizes(dec0, no_bias), "dec_moe": dec_moe, "dec_used": used(dec1)}
    bias = sum(_sizes(b, lambda n: not no_bias(n)) for b in (enc0, dec0))
    fig["outside"] = out_size + bias
    n_enc, n_dec = m["num_layers"], m["num_decoder_layers"]
    fig["every_total"] = n_enc * enc_moe + n_dec * dec_moe + fig["outside"]
    fig["every_active"] = n_enc * fig["enc_used"] + n_dec * fig["dec_used"] + fig["outside"]
    return fig


def _common(fig, m) -> dict:
    active = fig.get("active_published", fig["active"])
    return {"total_billions": fig["total"] / GB, "active_billions": active / GB, "flops": 2 * fig["active"],
            **{f"memory_{b}": fig["total"] * b / 8 / GB for b in BITS}}


def _rumour(m) -> dict:
    experts = np.full(m["experts"], float(m["expert_parameters"]))
    total = experts.sum() + m["shared_parameters"]
    active = np.sort(experts)[-m["experts_per_token"]:].sum() + m["shared_parameters"]
    return {"total": total, "active": active, "total_billions": total / GB, "active_billions": active / GB,
            "flops": 2 * active, **{f"memory_{b}": total * b / 8 / GB for b in BITS},
            "gpus_16": total * 2 / (m["gpu_memory_gb"] * GB)}
