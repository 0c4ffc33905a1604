"""The routing kinds' parameters (token choice, Switch, expert choice) and their combined checks.

Declared once here for the three kind modules: the table drives validation, variant codes and
messages (spec.py), so it is append only. Leaves out: everything computed from them.
"""

import math
from fractions import Fraction

from workbook.errors import SpecError
from workbook.spec import CAPACITY_FACTORS, GATE_BASE, GATES, MAX_SPREAD, Param

COMMON = (
    Param("tokens", "tokens T (rows of X)", 6, 2, 10),
    Param("experts", "experts E", 5, 2, 8),
    Param("d_model", "model width d (columns of X)", 3, 1, 4),
    Param("d_ff", "hidden width h of each expert FFN", 2, 1, 4),
    Param("gate", "gate function", "softmax3", choices=GATES),
    Param("ffn", "include expert FFNs and the combine", False),
)
CAPACITY = Param("capacity_factor", "capacity factor cf: C = floor(cf * k * T / E) slots per expert",
                 "none", choices=CAPACITY_FACTORS)


def check_router(v: dict) -> None:
    """Every routing sheet: distinct router rows with entries in -2..2 for each expert."""
    rows = 5 ** v["d_model"] - 1
    if v["experts"] > rows:
        raise SpecError(f"{v['experts']} experts need d-model >= 2: with d-model {v['d_model']} "
                        f"there are only {rows} different router rows")


def check_top_k(v: dict) -> None:
    """Token choice and Switch: k < E, a capacity with 1 <= C < T, k + 1 distinct powers <= 81, and
    jitter only with d-model >= 2."""
    check_router(v)
    if v.get("jitter") and v["d_model"] == 1:
        raise SpecError("the jitter question needs d-model >= 2: with d-model 1 a multiplier scales all of a "
                        "token's scores alike, so no token can change expert")
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
    if _closest_gap(v["gate"], k) < 0.01:
        raise SpecError(f"top-k ({k}) with {v['gate']}: the two smallest of a token's top {k + 1} "
                        f"probabilities would be under 0.01 apart; use top-k <= {k - 1}")


def _closest_gap(gate: str, k: int) -> float:
    """The best a token's top k+1 can do: powers b^0 .. b^k, the two smallest (b - 1) / Σ apart
    (more experts only make Σ larger). softmax2, k = 6: 1/127 < 0.01."""
    b = math.e if GATE_BASE[gate] == "e" else GATE_BASE[gate]
    return (b - 1) / sum(b ** i for i in range(k + 1))


def capacity_bound(tokens: int, experts: int) -> int:
    """The largest expert-choice capacity built for every seed: min(floor((T-1)/2), floor(2T/(E-1))).
    Beyond it some token must stay in the bottom T - c of every column while every column's top
    c + 1 stay 0.01 apart, which the sheets rarely allow (measured: benchmarks/coverage.py)."""
    return min((tokens - 1) // 2, 2 * tokens // (experts - 1))


def expert_choice_unsupported(v: dict) -> str:
    """Why these expert-choice sizes lie outside those built for every seed ('' when inside):
    d-model 3 or 4, capacity up to capacity_bound, and at least 2 with 3 experts and 8+ tokens."""
    T, E, c = v["tokens"], v["experts"], v["capacity"]
    if v["d_model"] < 3:
        return "d-model 3 or 4"
    if c > capacity_bound(T, E):
        return f"capacity at most {capacity_bound(T, E)} with {T} tokens and {E} experts"
    if E == 3 and T >= 8 and c == 1:
        return "capacity at least 2 with 3 experts and 8 or more tokens"
    return ""
