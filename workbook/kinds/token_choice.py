"""Token choice: each token takes its top-k experts (Mixtral-style renormalised weights, or not),
optionally with a capacity per expert (GShard priority: every 1st choice before any 2nd choice).

The arithmetic is shared with Switch and expert choice (routing_steps, routing_generate,
routing_sheet, routing_checks); this module declares the exercise. Leaves out: Switch (switch.py).
"""

from workbook.kinds.routing_checks import MISTAKES, carried, contract  # noqa: F401 (the kind's parts)
from workbook.kinds.routing_generate import generate  # noqa: F401
from workbook.kinds.routing_sheet import conventions, hand_work, layout, page_experts  # noqa: F401
from workbook.kinds.routing_sheet import describe as title  # noqa: F401
from workbook.kinds.routing_steps import forward, steps  # noqa: F401
from workbook.kinds.routing_working import working  # noqa: F401
from workbook.kinds.routing_params import CAPACITY, COMMON, check_top_k
from workbook.spec import Param

TITLE = "Token-choice routing"
PARAMS = COMMON + (
    Param("top_k", "experts per token k", 2, 1, 7),
    Param("renormalize", "renormalise the top-k weights (Mixtral)", True),
    CAPACITY,
)
SLOTS = ((0, ("capacity_factor",)), (3, ()))  # slot 0: the first printed codes, without capacity

check = check_top_k
