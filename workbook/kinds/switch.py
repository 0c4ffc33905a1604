"""Switch routing (Fedus et al. 2021): top-1 with raw-probability weights and a capacity factor,
the dropped tokens, the smallest capacity factor that drops none, and the jitter question.

Switch is token choice with k = 1: the arithmetic is shared (routing_*); this module declares the
exercise. Leaves out: top-k (token_choice.py).
"""

from workbook.kinds.routing_checks import MISTAKES, carried, contract  # noqa: F401 (the kind's parts)
from workbook.kinds.routing_generate import generate  # noqa: F401
from workbook.kinds.routing_sheet import conventions, hand_work, layout, page_experts  # noqa: F401
from workbook.kinds.routing_sheet import describe as title  # noqa: F401
from workbook.kinds.routing_steps import forward, steps  # noqa: F401
from workbook.kinds.routing_working import working  # noqa: F401
from workbook.kinds.routing_params import CAPACITY, COMMON, check_top_k
from workbook.spec import CAPACITY_FACTORS, Param

TITLE = "Switch routing"
PARAMS = (
    Param("tokens", "tokens T (rows of X)", 8, 2, 10),
    Param("experts", "experts E", 4, 2, 8),
) + COMMON[2:] + (
    Param("capacity_factor", CAPACITY.help, "1.0", choices=CAPACITY_FACTORS[1:]),
    Param("jitter", "add the jitter question: given multipliers u, does any token change expert?", False),
)
SLOTS = ((2, ()),)

check = check_top_k
