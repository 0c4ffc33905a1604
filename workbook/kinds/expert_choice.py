"""Expert choice (Zhou et al. 2022): each expert takes its top-c tokens; the token index and gating
matrices, coverage, the tokens nobody chose, and the expert FFNs and aggregation.

The router arithmetic is shared with token choice (routing_*); this module declares the exercise.
Leaves out: token choice (token_choice.py).
"""

from workbook.errors import SpecError
from workbook.kinds import routing_checks, routing_generate, routing_sheet, routing_steps
from workbook.kinds.routing_params import COMMON, check_router
from workbook.spec import Param

TITLE = "Expert-choice routing"
PARAMS = COMMON + (
    Param("capacity", "tokens per expert c", 2, 1, 9),
)
SLOTS = ((1, ()),)


def check(v: dict) -> None:
    """E >= 3, c < T, and c <= T - 2 so that some token is left unchosen."""
    check_router(v)
    if v["experts"] < 3:
        raise SpecError("expert choice needs 3 or more experts: with 2, the two columns of P rank the "
                        "tokens in opposite orders, so no token is chosen twice while another is left out")
    c, t = v["capacity"], v["tokens"]
    if c >= t:
        raise SpecError(f"capacity ({c}) must be less than tokens ({t}): "
                        "with c = T every expert takes every token")
    if c + 2 > t:
        raise SpecError(f"capacity ({c}) must be at most tokens - 2 ({t - 2}): a sheet needs "
                        "a token that no expert chooses, and with c = T - 1 there is none")


generate = routing_generate.generate
steps = routing_steps.steps
forward = routing_steps.forward
title = routing_sheet.describe
conventions = routing_sheet.conventions
hand_work = routing_sheet.hand_work
layout = routing_sheet.layout
MISTAKES = routing_checks.MISTAKES
carried = routing_checks.carried
contract = routing_checks.contract
page_experts = routing_sheet.page_experts
