"""Every parameter range the README documents generates: "Sizes that fit a page" (the routing
exercises) and "Parameters of the other exercises".

Each kind's documented grid is swept: in full where it is small, otherwise every combination of
its two or three most constraining parameters, with every other parameter cycling through all of
its documented values (a deterministic sample; expert-parallel's d_model, 1-8192, by a few values
from either end and the middle). Each combination is either refused up front by make_spec with a
SpecError, where the README says it is not allowed, or documented as impossible and refused by
generate in its one standard line naming it, or it generates within a second (CPU) and solves
(exact steps checked against the NumPy forward pass) with the hand-friendliness contract kept,
for 3 seeds each.
"""

import itertools
import random
import time
from fractions import Fraction

import pytest

import test_contract
import test_kind_expert_parallel
import test_kind_microscaling
import test_kind_quantize
import test_kind_router_gradient
import test_kind_shared_experts
import test_kind_sizing
from workbook.errors import GenerationError, SpecError
from workbook.kinds.model_configs import MODELS
from workbook.kinds.routing_params import expert_choice_unsupported
from workbook.solve import generate_problem, solve
from workbook.spec import make_spec

SEEDS_PER_COMBINATION = 3
SECONDS = 1.0  # CPU time to generate one variant

GATES = ("softmax3", "softmax2", "softmax")
BOOLS = (False, True)
R = lambda low, high: tuple(range(low, high + 1))  # noqa: E731

# The README's documented ranges, parameter by parameter ("Sizes that fit a page" for the routing
# exercises; "Parameters of the other exercises" for the rest).
_ROUTING = {"tokens": R(2, 10), "experts": R(2, 8), "d_model": R(1, 4), "d_ff": R(1, 4),
            "gate": GATES, "ffn": BOOLS}
RANGES = {
    "token-choice": _ROUTING | {"top_k": R(1, 5), "renormalize": BOOLS,
                                "capacity_factor": ("none", "0.5", "0.75", "1.0", "1.25", "1.5", "2.0")},
    "expert-choice": _ROUTING | {"experts": R(3, 8), "capacity": R(1, 8)},
    "switch": _ROUTING | {"capacity_factor": ("0.5", "0.75", "1.0", "1.25", "1.5", "2.0"), "jitter": BOOLS},
    "load-balance": {"tokens": R(4, 10), "experts": R(2, 6), "top_k": R(1, 3)},
    "shared-experts": {"tokens": R(2, 6), "experts": R(3, 6), "shared": R(1, 2), "top_k": R(1, 3),
                       "d_model": R(1, 3), "variant": ("deepseekmoe", "v3")},
    "router-gradient": {"tokens": R(1, 4), "experts": R(3, 6), "top_k": R(2, 3), "d_model": R(1, 3),
                        "gate": GATES},
    "sizing": {"config": ("generated", "mixtral-8x7b", "eight-experts")},
    "quantize": {"experts": R(1, 4), "rows": R(1, 4), "cols": R(1, 6), "bits": ("int8", "int4", "both"),
                 "model": ("mixtral-8x7b", "deepseek-v3")},
    "expert-parallel": {"devices": R(2, 4), "experts": R(2, 8), "tokens": R(1, 4), "top_k": R(1, 2),
                        "d_model": (1, 2, 3, 7, 1024, 4095, 4096, 8191, 8192), "bytes": R(1, 4)},
    "group-routing": {"variant": ("v3", "v2", "device"), "tokens": R(2, 4), "groups": R(2, 4), "group_size": R(2, 4),
                      "topk_group": R(1, 3), "top_k": R(1, 4), "d_model": (1, 2, 4096, 5120, 8192), "bytes": R(1, 4)},
    "model-sizing": {"model": MODELS},
    "microscaling": {"format": ("mxfp4", "fp8-e4m3"), "blocks": R(1, 3), "values": R(4, 8)},
}
# Swept against each other in full; every other parameter cycles. All of them for small grids.
CROSS = {
    "token-choice": ("experts", "top_k"),
    "expert-choice": ("tokens", "capacity"),
    "switch": ("experts", "capacity_factor"),
    "load-balance": tuple(RANGES["load-balance"]),
    "shared-experts": ("tokens", "experts", "top_k", "variant"),
    "router-gradient": ("tokens", "experts", "top_k"),
    "sizing": ("config",),
    "quantize": tuple(RANGES["quantize"]),
    "expert-parallel": ("devices", "experts", "tokens", "top_k"),
    "group-routing": ("variant", "groups", "group_size", "topk_group", "top_k"),
    "model-sizing": ("model",),
    "microscaling": tuple(RANGES["microscaling"]),
}


def refused(kind: str, p: dict) -> str | None:
    """Why the README says this combination is not allowed (make_spec must refuse it), or None."""
    k = p.get("top_k", 1)
    if kind in ("token-choice", "switch", "expert-choice"):
        if p["d_model"] == 1 and p["experts"] > 4:
            return "more than 4 experts need d-model >= 2"
        if kind == "expert-choice":
            return "capacity above T - 2" if p["capacity"] > p["tokens"] - 2 else None
        if p.get("jitter") and p["d_model"] == 1:
            return "jitter with d-model 1"
        if k >= p["experts"]:
            return "top-k of E or more"
        if k > 4 and p["gate"] != "softmax2":
            return "top-k above 4 with softmax3 or softmax"
        if p["capacity_factor"] != "none":
            c = int(Fraction(p["capacity_factor"]) * k * p["tokens"] / p["experts"])
            if not 1 <= c <= p["tokens"] - 1:
                return "C outside 1..T-1"
        return None
    if kind in ("load-balance", "shared-experts", "router-gradient", "expert-parallel") and k >= p["experts"]:
        return "top-k of E or more"
    if kind == "expert-parallel" and p["experts"] % p["devices"]:
        return "experts not a multiple of devices"
    if kind == "quantize" and p["rows"] * p["cols"] < 2:
        return "a 1 x 1 matrix"
    if kind == "group-routing":
        G, size, keep, variant = p["groups"], p["group_size"], p["topk_group"], p["variant"]
        if G * size > 8:
            return "more than 8 experts"
        if keep >= G:
            return "every group kept"
        if k > keep * size:
            return "top-k above the kept groups' experts"
        if variant != "v3" and k <= keep:
            return "v2 and device: top-k not above topk-group"
        if variant == "device" and k > 3:
            return "device: top-k above 3"
        if variant != "device" and (p["d_model"], p["bytes"]) != (5120, 2):
            return "d-model and bytes outside the device variant"
    return None


def impossible(kind: str, p: dict) -> str | None:
    """What generate must name when the README documents a combination as impossible, or None."""
    if kind == "router-gradient" and p["top_k"] == 3 and p["tokens"] >= 2:
        return "top-k 3 takes tokens 1"
    return None


def combinations(kind: str, ranges: dict | None = None, cross: tuple | None = None) -> list[dict]:
    """The crossed parameters in full; each other parameter takes its values in a shuffled cycle,
    moved on (up to a few times) where that would make the README refuse the combination."""
    ranges, cross = ranges or RANGES[kind], cross or CROSS[kind]
    rng = random.Random(kind)
    cycles = {name: itertools.cycle(rng.sample(values, len(values)))
              for name, values in ranges.items() if name not in cross}
    out = []
    for values in itertools.product(*(ranges[name] for name in cross)):
        fixed = dict(zip(cross, values))
        for _ in range(60):
            params = fixed | {name: next(cycle) for name, cycle in cycles.items()}
            if refused(kind, params) is None:
                break
        out.append({name: params[name] for name in ranges})
    return out


# The crowded corner of token choice, crossed in full besides the sample above: 6 to 8 experts
# with top-3 to top-5 under every gate and d-model, where a row's top k+1 scores leave almost no
# freedom (top-4 of 8 with base 3 or e: 5 consecutive scores, the other 3 tied at the bottom).
CROWDED = combinations("token-choice", RANGES["token-choice"] | {"experts": R(6, 8), "top_k": R(3, 5)},
                       ("experts", "top_k", "gate", "d_model"))
# Switch's jitter question where a drop needs most tokens on one expert (2-3 experts, 8-10 tokens,
# capacity factor 1.5 or 2.0): some token must still change expert under the multipliers.
JITTER = combinations("switch", RANGES["switch"] | {"experts": R(2, 3), "tokens": R(8, 10), "jitter": (True,),
                                                    "capacity_factor": ("1.5", "2.0")},
                      ("experts", "gate", "d_model", "capacity_factor"))


def _seeds(kind: str, index: int) -> list[int]:
    return [1000 * j + index for j in range(SEEDS_PER_COMBINATION)]


def _kind_contract(kind: str):
    """The kind's own contract (kinds/protocol.py): the promises a variant breaks, none allowed."""
    from workbook.kinds import part

    def check(sol) -> None:
        assert part(kind, "contract")(sol) == [], sol.spec
    return check


# Each kind's own contract check, from its tests (exact values).
CONTRACTS = {kind: test_contract.check_contract for kind in ("token-choice", "expert-choice", "switch", "load-balance")}
CONTRACTS |= {"shared-experts": test_kind_shared_experts.check_contract,
              "router-gradient": test_kind_router_gradient.check_contract,
              "quantize": test_kind_quantize.check_contract, "sizing": test_kind_sizing.check_contract,
              "expert-parallel": test_kind_expert_parallel.check_expert_parallel,
              "microscaling": test_kind_microscaling.check_contract,
              "group-routing": _kind_contract("group-routing"), "model-sizing": _kind_contract("model-sizing")}


CASES = [(kind, i, params) for kind in RANGES for i, params in enumerate(combinations(kind))]
# the two corners (about half a minute of searching): every other case every day, the rest with the
# full audit (`pytest -m full_audit`, which .ci/run runs too)
CORNERS = [("token-choice", 100 + i, params) for i, params in enumerate(CROWDED)]
CORNERS += [("switch", 100 + i, params) for i, params in enumerate(JITTER)]


@pytest.mark.parametrize("kind, index, params", [pytest.param(*case, id=f"{case[0]}-{case[1]}") for case in CASES]
                         + [pytest.param(*case, id=f"{case[0]}-{case[1]}", marks=pytest.mark.full_audit if n % 2 else ())
                            for n, case in enumerate(CORNERS)])
def test_documented_combination_generates_or_is_refused(kind, index, params):
    why = refused(kind, params)
    if why is not None:
        with pytest.raises(SpecError):
            make_spec(kind, params, 0)
        return
    for seed in _seeds(kind, index):
        spec = make_spec(kind, params, seed)
        name = impossible(kind, params)
        if name is not None:
            with pytest.raises(GenerationError) as err:
                generate_problem(spec)
            message = str(err.value)
            assert message.startswith(f"could not build a hand-friendly {kind} problem with these parameters")
            assert name in message and "\n" not in message
            continue
        outside = expert_choice_unsupported(params) if kind == "expert-choice" else ""
        start = time.process_time()
        if outside:  # beyond the sizes built for every seed: built, or refused naming those sizes
            try:
                problem = generate_problem(spec)
            except GenerationError as err:
                assert f"expert choice is built for every seed only with {outside}" in str(err), str(err)
                continue
        else:
            problem = generate_problem(spec)
        spent = time.process_time() - start
        assert spent < SECONDS, f"{kind} {params} seed {seed}: generation took {spent:.2f} s"
        CONTRACTS[kind](solve(spec, problem))


def test_the_sample_covers_every_documented_value():
    """Every combination of the crossed parameters is swept, and every value of every other
    parameter appears in some combination that is meant to generate."""
    for kind, ranges in RANGES.items():
        combos = combinations(kind)
        allowed = [p for p in combos if refused(kind, p) is None and impossible(kind, p) is None]
        for name, values in ranges.items():
            if name in CROSS[kind]:
                continue
            missing = set(values) - {p[name] for p in allowed}
            assert not missing, (kind, name, missing)
        pairs = {tuple(p[name] for name in CROSS[kind]) for p in combos}
        assert len(pairs) == len(list(itertools.product(*(ranges[n] for n in CROSS[kind])))), kind
