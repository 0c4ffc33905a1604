"""A solved variant as a Sheet: its kind's numbered steps, title, conventions and hand work.

The kind (kinds/) lays out its steps as boards of grids and pictures; this module numbers them,
counts the blanks and picks the layout revision the variant's code was printed with.
Leaves out: the sheet model (layout.py), HTML, CSS and every file format.
"""

from workbook.code import FIRST_SLOTS, slot_of
from workbook.kinds import guarded, kind
from workbook.layout import Section, Sheet, cells
from workbook.solve import Solution


def build_sheet(sol: Solution, paper: str = "a4") -> Sheet:
    """Solution -> Sheet: the numbered steps of the exercise, laid out for hand work."""
    exercise = kind(sol.spec.kind)
    with guarded(sol.spec.kind, "its sheet (title, layout, conventions, hand_work)"):
        title, sections = exercise.title(sol.spec), exercise.layout(sol)
        numbered = tuple(Section(i + 1, head, text, tuple(boards)) for i, (head, text, boards) in enumerate(sections))
        return Sheet(title, sol.code, sol.spec.kind, sol.spec.seed, conventions(sol), hand_work(sol),
                     numbered, paper, sum(c.blank for c in cells(numbered)), _revision(sol.spec))


def _revision(spec) -> int:
    """The layout a code's sheet is drawn with, so that a printed code keeps its bytes. Edition 1:
    revision 1 for the first code slots (token choice without capacity, expert choice), 2 for the
    later ones (the key's legend on a line of its own). Edition 2: revision 3, drawn boards.
    Edition 3 on: revision 4, drawn boards whose geometry depends on the parameters only (edition 4
    changes problems, not layout)."""
    if spec.edition >= 3:
        return 4
    if spec.edition >= 2:
        return 3
    return 1 if slot_of(spec) < FIRST_SLOTS else 2


def conventions(sol: Solution) -> tuple[str, ...]:
    """Every convention this sheet uses, in words, for its conventions box (from its kind)."""
    return kind(sol.spec.kind).conventions(sol)


def hand_work(sol: Solution) -> str:
    """'Hand work: 90 multiply-adds, 30 powers, 36 divisions.' (from its kind)"""
    return kind(sol.spec.kind).hand_work(sol)
