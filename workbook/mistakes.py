"""The common mistakes of MoE hand calculations, each made on purpose: the problem solved the wrong way.

Every exercise names its own mistakes in its kind module (MISTAKES): each takes a solved variant
and returns the steps it changes, {step id: values in the step's own shape} (or a list of such,
when the mistake can go two ways), computed as a learner making that mistake would; `made`
gathers those that can happen on this variant's sheet, and check.py compares a wrong step of the
learner's with them and names the mistake it matches.
Leaves out: reading answers and grading (check.py).
"""

from workbook.kinds import part


def made(sol) -> list[tuple[str, dict]]:
    """Every mistake that can happen on this variant's sheet, as (name, the steps it changes), from
    its kind's MISTAKES (none when the kind names no mistakes)."""
    out = []
    for name, mistake in part(sol.spec.kind, "MISTAKES", ()):
        changed = mistake(sol)
        out += [(name, c) for c in (changed if isinstance(changed, list) else [changed]) if c]
    return out
