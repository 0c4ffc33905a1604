"""Sizing a published model from its configuration: the headline figures, checked by hand.

The learner counts, from the model's config.json values (given on the sheet, named as the file
names them), one layer's parts (attention, grouped-query or multi-head latent; one routed
expert; the shared experts; the router; the norms), each kind of layer as stored and as used by
one token, the whole model's total and active parameters, the same in billions beside the figure
its makers published (rounded, or counted another way: the sheet says which), FLOPs per token and
the weights' memory at 16, 8 and 4 bits. DeepSeek-V3 adds its multi-token-prediction module,
Switch-Base-8 the placement question (MoE in every other block), gpt-oss the active count as
OpenAI counts it, and GPT-4's rumoured numbers make a what-if sheet, labelled as rumour. The
models are data (models/*.toml, each naming its source); model_configs.py holds the plan of
every count, which drives the steps, the rows, the worked lines and the carried check alike.
Leaves out: the KV cache, activations, quantisation scales and attention's context-length FLOPs.
"""

import numpy as np

from workbook.formatting import decimal2
from workbook.kinds.model_configs import BITS, GB, MODELS, PUBLISHED, computed, counts, load
from workbook.kinds.model_sizing_working import carried, working  # noqa: F401
from workbook.kinds.model_weights import forward_counts
from workbook.kinds.sizing import _WIDTH, _groups
from workbook.kinds.sizing import _places as sizing_places
from workbook.layout import Board, Cell, Grid
from workbook.problem import Step
from workbook.spec import Param

_GIVEN_PER_ROW = 6


def generate(spec):
    """The model's published configuration (the seed changes nothing: a model has one size)."""
    return load(spec["model"])


def steps(spec, m):
    known = computed(m)
    for c in counts(m):
        yield Step(c.id, c.label[0].upper() + c.label[1:], f"{c.label}: {c.rule}.", (known[c.id],))


def forward(spec, m) -> dict:
    """The same figures another way: every weight's shape, summed per layer with NumPy (model_weights)."""
    return {sid: np.array([v], dtype=float) for sid, v in forward_counts(m).items()}


def title(spec) -> str:
    m = load(spec["model"])
    if m.family == "rumour":
        return "What if? GPT-4's rumoured size (a rumour, never confirmed): parameters, FLOPs and memory"
    return f"Sizing {m.name} from its configuration: parameters, FLOPs per token and memory"


def conventions(sol) -> tuple[str, ...]:
    m = sol.problem
    if m.family == "rumour":
        return (f"RUMOUR, NOT FACT: these numbers come from {m.source}. The sheet asks what they would imply.",
                "N = parameters of one expert, S = shared parameters (attention and the rest) every token uses, "
                "E experts, k per token.",
                "FLOPs per token ≈ 2 × active parameters (one multiply and one add per weight used).",
                "Memory of the weights = parameters × bits / 8 bytes; GB = 10⁹ bytes (not GiB = 2³⁰). "
                "Decimals rounded half up to 2 places.")
    lines = [f"Configuration: {m.source} (names as in the file: {_names(m)}).",
             "A matrix a × b holds a·b parameters; a bias or norm weight of length n holds n. Every stored parameter "
             "is counted; buffers that are not trained weights are not.",
             "Active = what one token uses: every weight of the layers it passes through but the experts it is not "
             "routed to, and everything outside the layers (the embeddings too, as Mixtral's 12.9B counts them).",
             *m.conventions,
             f"Published: {m.published}.",
             "FLOPs per token ≈ 2 × active parameters (one multiply and one add per weight used; attention's "
             "context-length term left out).",
             "Memory of the weights = parameters × bits / 8 bytes; GB = 10⁹ bytes (not GiB = 2³⁰); weights only (no "
             "quantisation scales, KV cache or activations).",
             "Big numbers go three digits to a box (×10¹², ×10⁹, ×10⁶, ×10³, ×1). Decimals rounded half up to 2 places."]
    return tuple(lines)


def _names(m) -> str:
    return ", ".join(f"{symbol} = {name}" for symbol, name, _ in _givens(m))


def hand_work(sol) -> str:
    n = len(sol.steps)
    return f"Hand work: {n} numbers, each a sum of products of the configuration's values or of numbers found before."


# --- the sheet ---------------------------------------------------------------------------------

_SYMBOLS = (  # (symbol on the sheet, config.json name)
    ("d", "hidden_size"), ("d", "d_model"), ("h", "intermediate_size"), ("h", "d_ff"),
    ("h_moe", "moe_intermediate_size"), ("h_s", "shared_expert_intermediate_size"), ("L", "num_hidden_layers"),
    ("L_enc", "num_layers"), ("L_dec", "num_decoder_layers"), ("step_enc", "encoder_sparse_step"),
    ("step_dec", "decoder_sparse_step"),
    ("dense", "first_k_dense_replace"), ("V", "vocab_size"), ("n_q", "num_attention_heads"), ("n_h", "num_heads"),
    ("n_kv", "num_key_value_heads"), ("d_head", "head_dim"), ("d_kv", "d_kv"), ("r_q", "q_lora_rank"),
    ("r_kv", "kv_lora_rank"), ("d_nope", "qk_nope_head_dim"), ("d_rope", "qk_rope_head_dim"), ("d_v", "v_head_dim"),
    ("buckets", "relative_attention_num_buckets"),
    ("E", "num_local_experts"), ("E", "n_routed_experts"), ("E", "num_experts"), ("K_s", "n_shared_experts"),
    ("k", "num_experts_per_tok"), ("E", "experts"), ("N", "expert_parameters"), ("k", "experts_per_token"),
    ("S", "shared_parameters"))


def _givens(m) -> list[tuple[str, str, object]]:
    """(symbol, config name, value) of every configuration value the counts use, in the sheet's order."""
    config = dict(m.config)
    return [(s, name, config[name]) for s, name in _SYMBOLS if name in config]


def _given_board(m) -> Board:
    rows, givens = [], _givens(m)
    for i in range(0, len(givens), _GIVEN_PER_ROW):
        part = givens[i:i + _GIVEN_PER_ROW]
        rows.append((Grid("the configuration (given)" if i == 0 else "",
                          (tuple(Cell(given=f"{v:,}", wide=True) for *_, v in part),), (),
                          tuple(s for s, *_ in part)),))
    return Board(tuple(rows))


def _places(name, sol, ids) -> Grid:
    """A place-value grid, one count per row, three digits to a box: sizing's own."""
    return sizing_places(name, sol, [(_label(sol, sid).replace("\u00a0", " "), sid) for sid in ids])


def _label(sol, sid) -> str:
    return next(c.label for c in counts(sol.problem) if c.id == sid).replace(" ", "\u00a0")


def _decimals(name, sol, ids, published=None, heading="published") -> Grid:
    lines = []
    for sid in ids:
        cell = Cell(answer=decimal2(sol.step(sid).exact[0]), blank=True, wide=True, ref=f"{sid}[1]")
        lines.append((cell, Cell(given=published[sid], wide=True)) if published else (cell,))
    cols = ("yours", heading) if published else ("",)
    return Grid(name, tuple(lines), tuple(_label(sol, s) for s in ids), cols)


def layout(sol) -> list:
    m, plan = sol.problem, counts(sol.problem)
    sections, given = [], [] if m.family == "rumour" else [_given_board(m)]
    if m.family == "rumour":
        c = dict(m.config)
        given = [Board(((Grid("the rumour (given)", (tuple(Cell(given=_short(c[n]), wide=True) for n in
                                                         ("experts", "expert_parameters", "experts_per_token",
                                                          "shared_parameters")),), (), ("E", "N", "k", "S")),),))]
    order = []
    for c in plan:
        if c.section not in order:
            order.append(c.section)
    for title in order:
        ids = [c.id for c in plan if c.section == title]
        text = " ".join(f"{c.label[0].upper() + c.label[1:]}: {c.rule}." for c in plan if c.section == title)
        whole = [i for i in ids if next(c for c in plan if c.id == i).divisor == 1]
        parts = [i for i in ids if i not in whole]
        panels = []
        if whole:
            panels.append(_places("parameters" if title != "FLOPs and memory" else "FLOPs", sol, whole))
        if parts and title in PUBLISHED:
            pub = {"total_billions": _published_text(m.published_total), "active_billions":
                   _published_text(m.published_active)}
            panels.append(_decimals("in billions", sol, parts, pub, "rumoured" if m.family == "rumour" else "published"))
        elif parts:
            panels.append(_decimals("GB" if m.family != "rumour" else "GB, GPUs", sol, parts))
        boards = ([*given] if not sections else []) + [Board((tuple(panels),))]
        note = _note(m, title)
        sections.append((title, text + note, boards))
    return sections


def _short(n: int) -> str:
    """111000000000 -> '111 × 10⁹' (a rumour's round numbers, short enough for a box); 16 -> '16'."""
    return f"{n // 10 ** 9} × 10⁹" if n >= 10 ** 9 and n % 10 ** 9 == 0 else f"{n:,}"


def _published_text(b: float) -> str:
    """671 -> '671B', 0.619 -> '619M', 1800 -> '1.8T', 0 -> '—' (none published)."""
    if not b:
        return "—"
    return f"{b * 1000:g}M" if b < 1 else f"{b:g}B" if b < 1000 else f"{b / 1000:g}T"


def _note(m, title) -> str:
    return f" {m.note}" if title in PUBLISHED and m.note else ""


# --- common mistakes ------------------------------------------------------------------------------

def _flops_without_two(sol) -> dict:
    return {"flops": (sol.step("active").exact[0],)}


def _bits_as_bytes(sol) -> dict:
    return {f"memory_{b}": (8 * sol.step(f"memory_{b}").exact[0],) for b in BITS}


def _gib(sol) -> dict:
    return {f"memory_{b}": (sol.step(f"memory_{b}").exact[0] * GB / 2 ** 30,) for b in BITS}


def _one_embedding(sol) -> dict:
    m = sol.problem
    if "outside" not in sol.has or m.family == "switch":
        return {}
    d, V = m["hidden_size"], m["vocab_size"]
    return {"outside": (V * d + d,)}


def _every_expert_used(sol) -> dict:
    return {"moe_used": (sol.step("moe_layer").exact[0],)} if "moe_used" in sol.has else {}


def _shared_left_out(sol) -> dict:
    if "shared" not in sol.has or "moe_used" not in sol.has:
        return {}
    return {"moe_used": (sol.step("moe_used").exact[0] - sol.step("shared").exact[0],)}


MISTAKES = (
    ("FLOPs taken as the parameters: the 2 (a multiply and an add per weight) left out", _flops_without_two),
    ("bits taken as bytes: the memory not divided by 8", _bits_as_bytes),
    ("GiB (2³⁰ bytes) taken for GB (10⁹ bytes)", _gib),
    ("one embedding matrix counted: this model unties the input embedding and the output head", _one_embedding),
    ("every expert counted as used: a token runs only its top-k", _every_expert_used),
    ("the shared experts left out of what a token uses: they take every token", _shared_left_out),
)


def contract(sol) -> list[str]:
    """Every whole number fits the sheet's place-value rows (five boxes of three digits)."""
    return [f"{s.id} needs more than {_WIDTH} boxes" for s in sol.steps
            if s.exact[0].is_Integer and len(_groups(s.exact[0])) > _WIDTH]


# --- the exercise's declaration (kinds/protocol.py) ------------------------------------------

TITLE = "Sizing a published model"
PARAMS = (
    Param("model", "the model whose configuration the sheet gives", "deepseek-v3", choices=MODELS),
)
SLOTS = ((10, ()),)
