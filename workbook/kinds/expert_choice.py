"""Expert choice (Zhou et al. 2022): each expert takes its top-c tokens; the token index and gating
matrices, coverage, the tokens nobody chose, and the expert FFNs and aggregation.

The router arithmetic is shared with token choice (routing_*); this module declares the exercise.
Leaves out: token choice (token_choice.py).
"""

from workbook.errors import SpecError
from workbook.kinds.routing_checks import MISTAKES, carried, contract  # noqa: F401 (the kind's parts)
from workbook.kinds import expert_choice_build, routing_generate
from workbook.kinds.routing_sheet import conventions, hand_work, layout, page_experts  # noqa: F401
from workbook.kinds.routing_sheet import describe as title  # noqa: F401
from workbook.kinds.routing_steps import forward, steps  # noqa: F401
from workbook.kinds.routing_working import working  # noqa: F401
from workbook.kinds.routing_params import COMMON, check_router
from workbook.spec import Param

TITLE = "Expert-choice routing"
PARAMS = COMMON + (
    Param("capacity", "tokens per expert c", 2, 1, 9),
)
SLOTS = ((1, ()),)


def generate(spec):
    """Edition 4 on: built by construction (expert_choice_build); editions 1-3 keep their search."""
    return (expert_choice_build if spec.edition >= 4 else routing_generate).generate(spec)


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
