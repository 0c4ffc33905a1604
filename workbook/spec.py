"""What an exercise is made of: its kind, its parameters, its seed. The first stage of the pipeline.

Each kind declares its parameters once (name, range or choices, default); that one table drives
validation, the variant code's layout and the error messages. Leaves out: presets on disk
(presets.py), generation and solving.
"""

from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Mapping

from workbook.errors import SpecError, quoted

# A code's edition: the problems' generator and the sheets' layout it was printed with. Edition 1:
# grids as tables; edition 2: the same problems on drawn boards (layout revision 3, a class set
# laid out several times faster). Every edition stays readable; new codes get the last one.
EDITIONS = (1, 2)
EDITION = EDITIONS[-1]
MAX_SEED = 2**32 - 1
GATES = ("softmax3", "softmax2", "softmax")
GATE_BASE = {"softmax3": 3, "softmax2": 2, "softmax": "e"}
# Largest s - row min, so that b^(s - min) <= 81 (3^4, 2^6; base e kept to 4 as well: e^4 ~ 54.6).
MAX_SPREAD = {"softmax3": 4, "softmax2": 6, "softmax": 4}


@dataclass(frozen=True)
class Param:
    """One parameter: an int in [low, high], a bool, or one of `choices`."""

    name: str
    help: str
    default: object
    low: int = 0
    high: int = 0
    choices: tuple = ()

    @property
    def radix(self) -> int:
        if self.choices:
            return len(self.choices)
        if isinstance(self.default, bool):
            return 2
        return self.high - self.low + 1

    def to_digit(self, value) -> int:
        if self.choices:
            return self.choices.index(value)
        if isinstance(self.default, bool):
            return int(value)
        return value - self.low

    def from_digit(self, digit: int):
        if self.choices:
            return self.choices[digit]
        if isinstance(self.default, bool):
            return bool(digit)
        return digit + self.low

    def check(self, value):
        """Return the value, or raise SpecError naming the parameter and its limit."""
        label = self.name.replace("_", "-")
        if self.choices and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(float(value))  # capacity_factor = 1.25 in a preset, same as "1.25"
        if self.choices:
            if value not in self.choices:
                raise SpecError(f"unknown {label} {quoted(value)}: choose one of {', '.join(self.choices)}")
            return value
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise SpecError(f"{label} must be true or false, not {quoted(value)}")
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{label} must be a whole number, not {quoted(value)}")
        if value < 1:
            raise SpecError(f"{label} must be positive, not {value}")
        if value < self.low:
            raise SpecError(f"{label} must be at least {self.low}, not {value}")
        if value > self.high:
            raise SpecError(f"{label} = {value} is too large to fit a page: at most {self.high}")
        return value


_COMMON = (
    Param("tokens", "tokens T (rows of X)", 6, 2, 10),
    Param("experts", "experts E", 5, 2, 8),
    Param("d_model", "model width d (columns of X)", 3, 1, 4),
    Param("d_ff", "hidden width h of each expert FFN", 2, 1, 4),
    Param("gate", "gate function", "softmax3", choices=GATES),
    Param("ffn", "include expert FFNs and the combine", False),
)

CAPACITY_FACTORS = ("none", "0.5", "0.75", "1.0", "1.25", "1.5", "2.0")
_CAPACITY = Param("capacity_factor", "capacity factor cf: C = floor(cf * k * T / E) slots per expert",
                  "none", choices=CAPACITY_FACTORS)

KINDS: Mapping[str, tuple[Param, ...]] = MappingProxyType({
    "token-choice": _COMMON + (
        Param("top_k", "experts per token k", 2, 1, 7),
        Param("renormalize", "renormalise the top-k weights (Mixtral)", True),
        _CAPACITY,
    ),
    "expert-choice": _COMMON + (
        Param("capacity", "tokens per expert c", 2, 1, 9),
    ),
    "switch": (
        Param("tokens", "tokens T (rows of X)", 8, 2, 10),
        Param("experts", "experts E", 4, 2, 8),
    ) + _COMMON[2:] + (
        Param("capacity_factor", _CAPACITY.help, "1.0", choices=CAPACITY_FACTORS[1:]),
        Param("jitter", "add the jitter question: given multipliers u, does any token change expert?", False),
    ),
    "load-balance": (
        Param("tokens", "tokens T (rows of S)", 8, 4, 10),
        Param("experts", "experts E", 4, 2, 6),
        Param("top_k", "experts per token k (1: Switch; 2 or more: the HF top-k convention)", 1, 1, 3),
    ),
    "shared-experts": (
        Param("tokens", "tokens T", 4, 2, 6),
        Param("experts", "routed experts E_r", 4, 3, 6),
        Param("shared", "shared experts K_s (always on)", 1, 1, 2),
        Param("top_k", "routed experts per token K_r", 2, 1, 3),
        Param("d_model", "model width d", 2, 1, 3),
        Param("variant", "deepseekmoe (softmax, no renormalising) or v3 (sigmoid, bias, scaling)",
              "deepseekmoe", choices=("deepseekmoe", "v3")),
    ),
    "router-gradient": (
        Param("tokens", "tokens T", 3, 1, 4),
        Param("experts", "experts E", 4, 3, 6),
        Param("top_k", "experts per token k (k = 1 has no router gradient through w)", 2, 2, 3),
        Param("d_model", "model width d (length of δ and of each expert output)", 2, 1, 3),
        Param("gate", "gate function", "softmax3", choices=GATES),
    ),
    "sizing": (
        Param("config", "the model: a small generated one, or a published configuration", "generated",
              choices=("generated", "mixtral-8x7b", "eight-experts")),
    ),
    "expert-parallel": (
        Param("devices", "devices D", 2, 2, 4),
        Param("experts", "experts E, spread evenly over the devices", 4, 2, 8),
        Param("tokens", "tokens that start on each device", 3, 1, 4),
        Param("top_k", "experts per token k", 2, 1, 2),
        Param("d_model", "values per token vector (d_model)", 4096, 1, 8192),
        Param("bytes", "bytes per value (2 for bf16)", 2, 1, 4),
    ),
    "quantize": (
        Param("experts", "experts, each quantised with its own scale", 2, 1, 4),
        Param("rows", "rows of each expert's weight matrix", 2, 1, 4),
        Param("cols", "columns of each expert's weight matrix", 3, 1, 6),
        Param("bits", "target format", "both", choices=("int8", "int4", "both")),
        Param("model", "the whole model of the memory question", "mixtral-8x7b",
              choices=("mixtral-8x7b", "deepseek-v3")),
    ),
})

KIND_TITLES = {"token-choice": "Token-choice routing", "expert-choice": "Expert-choice routing",
               "switch": "Switch routing", "load-balance": "Load-balancing loss and router z-loss",
               "sizing": "Sizing: parameters, FLOPs and memory", "expert-parallel": "Expert parallelism",
               "quantize": "Quantising expert weights", "router-gradient": "Router gradient",
               "shared-experts": "Shared and routed experts"}
# The token-choice family: one top-k routing engine. Switch is top-1, raw probability, with capacity.
TOKEN_CHOICE = ("token-choice", "switch")
ROUTING = TOKEN_CHOICE + ("expert-choice",)


def top_k(spec) -> int:
    return spec.params.get("top_k", 1)


def renormalize(spec) -> bool:
    return spec.params.get("renormalize", False)


def capacity_factor(spec):
    """The capacity factor as a Fraction, or None when capacity is off: '1.25' -> 5/4."""
    cf = spec.params.get("capacity_factor", "none")
    return None if cf == "none" else Fraction(cf)


def slots(spec):
    """C = floor(cf * k * T / E), or None: cf 1.0, k 1, T 8, E 4 -> 2."""
    cf = capacity_factor(spec)
    return None if cf is None else int(cf * top_k(spec) * spec["tokens"] / spec["experts"])


@dataclass(frozen=True)
class Spec:
    """One variant: exercise kind, its parameters and the seed. Plain, frozen data."""

    kind: str
    params: Mapping = field(hash=False)
    seed: int = 0
    edition: int = EDITION

    def __getitem__(self, name):
        return self.params[name]

    def __reduce__(self):  # plain data, so it pickles (to a worker process) despite the read-only params
        return _spec, (self.kind, dict(self.params), self.seed, self.edition)


def _spec(kind: str, params: dict, seed: int, edition: int) -> Spec:
    return Spec(kind, MappingProxyType(params), seed, edition)


def make_spec(kind: str, params: Mapping | None = None, seed: int = 0, edition: int = EDITION) -> Spec:
    """Fill defaults, check every parameter and their combination; raise SpecError if bad.

    make_spec("token-choice", {"experts": 4}) -> Spec(kind="token-choice", params={..., experts: 4}).
    """
    if kind not in KINDS:
        raise SpecError(f"unknown exercise {quoted(kind)}: choose one of {', '.join(KINDS)}")
    params = dict(params or {})
    schema = {p.name: p for p in KINDS[kind]}
    unknown = sorted(set(params) - set(schema))
    if unknown:
        raise SpecError(f"{kind} has no parameter {unknown[0].replace('_', '-')}")
    values = {name: p.check(params.get(name, p.default)) for name, p in schema.items()}
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise SpecError(f"seed must be a whole number from 0 to {MAX_SEED}, not {quoted(seed)}")
    _check_combination(kind, values)
    if edition not in EDITIONS:
        raise SpecError(f"edition must be one of {', '.join(map(str, EDITIONS))}, not {quoted(edition)}")
    return Spec(kind, MappingProxyType(values), seed, edition)


def _check_combination(kind: str, v: dict) -> None:
    rows = 5 ** v["d_model"] - 1 if kind in ROUTING else 0  # distinct router rows with entries in -2..2
    if kind in ROUTING and v["experts"] > rows:
        raise SpecError(f"{v['experts']} experts need d-model >= 2: with d-model {v['d_model']} "
                        f"there are only {rows} different router rows")
    if kind in ("load-balance", "router-gradient", "shared-experts", "expert-parallel") and v["top_k"] >= v["experts"]:
        raise SpecError(f"top-k ({v['top_k']}) must be less than experts ({v['experts']})")
    if kind == "quantize" and v["rows"] * v["cols"] < 2:
        raise SpecError("a 1 × 1 matrix has nothing to round (its only weight is its own max): "
                        "give rows × cols >= 2")
    if kind == "expert-parallel" and v["experts"] % v["devices"]:
        raise SpecError(f"experts ({v['experts']}) must be a multiple of devices ({v['devices']}): "
                        "each device holds E/D experts")
    if kind in TOKEN_CHOICE:
        k, e = v.get("top_k", 1), v["experts"]
        if k >= e:
            raise SpecError(f"top-k ({k}) must be less than experts ({e}): "
                            "with k = E every expert gets every token and nothing is routed")
        cf = v.get("capacity_factor", "none")
        if cf != "none":
            c = int(Fraction(cf) * k * v["tokens"] / e)
            if not 1 <= c < v["tokens"]:
                raise SpecError(f"capacity factor {cf} gives C = floor({cf} × {k} × {v['tokens']} / {e}) = {c} "
                                f"slots per expert; a sheet needs 1 <= C < tokens ({v['tokens']})")
        distinct = MAX_SPREAD[v["gate"]] + 1
        if k + 1 > distinct:
            raise SpecError(f"top-k ({k}) needs {k + 1} different scores per token, but with "
                            f"{v['gate']} the powers stay <= 81 only for top-k <= {distinct - 1}")
    elif kind == "expert-choice":
        c, t = v["capacity"], v["tokens"]
        if c >= t:
            raise SpecError(f"capacity ({c}) must be less than tokens ({t}): "
                            "with c = T every expert takes every token")
        if c + 2 > t:
            raise SpecError(f"capacity ({c}) must be at most tokens - 2 ({t - 2}): a sheet needs "
                            "a token that no expert chooses, and with c = T - 1 there is none")


def parse_param(kind: str, assignment: str) -> tuple[str, object]:
    """'variant=v3' for shared-experts -> ('variant', 'v3'); 'tokens=6' -> ('tokens', 6). SpecError if bad."""
    name, sep, text = assignment.partition("=")
    name = name.strip().replace("-", "_")
    schema = {p.name: p for p in KINDS.get(kind, ())}
    if not sep or name not in schema:
        known = ", ".join(n.replace("_", "-") for n in schema)
        raise SpecError(f"--set wants NAME=VALUE with a parameter of {kind} ({known}), not {quoted(assignment)}")
    p, text = schema[name], text.strip()
    if p.choices:
        return name, text
    if isinstance(p.default, bool):
        if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise SpecError(f"{name.replace('_', '-')} must be true or false, not {quoted(text)}")
        return name, text.lower() in ("true", "yes", "1")
    try:
        return name, int(text)
    except ValueError:
        raise SpecError(f"{name.replace('_', '-')} must be a whole number, not {quoted(text)}") from None


def fair_share(spec: Spec):
    """T*k/E for token choice: 6 tokens, top-2, 5 experts -> 12/5."""
    return Fraction(spec["tokens"] * top_k(spec), spec["experts"])


def describe(spec: Spec) -> str:
    """A one-line title: 'Token-choice routing: 6 tokens, 5 experts, top-2, softmax3'."""
    p = spec.params
    pick = f"top-{top_k(spec)} per token" if spec.kind in TOKEN_CHOICE else f"top-{p['capacity']} per expert"
    if capacity_factor(spec) is not None:
        pick += f", capacity factor {p['capacity_factor']}"
    ffn = ", expert FFNs" if p["ffn"] else ""
    return f"{KIND_TITLES[spec.kind]}: {p['tokens']} tokens, {p['experts']} experts, {pick}{ffn}"
