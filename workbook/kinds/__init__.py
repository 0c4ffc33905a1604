"""Exercise kinds beyond routing, one module each, each a whole exercise in the R/exams way.

A kind module holds, for its exercise: generate(spec) -> problem (seeded, bounded work, a frozen
dataclass with inputs() for JSON); steps(spec, problem) -> exact Steps; forward(spec, problem) ->
the same steps as NumPy floats, computed the other way round; and for the sheet title(spec),
conventions(sol), hand_work(sol) and layout(sol) -> [(title, instruction, [Board, ...]), ...].
solve.py checks steps against forward; sheet.py numbers the sections. The routing kinds
(token-choice, switch, expert-choice) keep their own pipeline modules (generate, solve, sheet),
which these modules may reuse. Leaves out: the command line and every file format.
"""

from workbook.kinds import expert_parallel, load_balance, quantize, router_gradient, shared_experts, sizing

KIND_MODULES = {
    "load-balance": load_balance,
    "sizing": sizing,
    "expert-parallel": expert_parallel,
    "quantize": quantize,
    "router-gradient": router_gradient,
    "shared-experts": shared_experts,
}
