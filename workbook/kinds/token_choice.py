"""Token choice: each token takes its top-k experts (Mixtral-style renormalised weights, or not),
optionally with a capacity per expert (GShard priority: every 1st choice before any 2nd choice).

The arithmetic is shared with Switch and expert choice (routing_steps, routing_generate,
routing_sheet, routing_checks); this module declares the exercise. Leaves out: Switch (switch.py).
"""

from workbook.kinds import routing_checks, routing_generate, routing_sheet, routing_steps
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
