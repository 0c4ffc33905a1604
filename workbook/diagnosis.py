"""Why boxes are wrong, row by row: a carried error, a named mistake, or a named mistake made on
the learner's own earlier numbers; several mistakes on one sheet are each named on their rows.

A row is a token's (or an expert's) line of a grid: the boxes whose refs differ only in the last
index ('probs[5][1]' ... 'probs[5][4]'). Each wrong row is explained by the most specific cause
whose numbers it holds, tried in this order:
1. carried: the row is right given the learner's own earlier numbers (the kind's `carried` part),
   where one of those earlier steps is wrong: "follows from your Step 1";
2. a named mistake (the kind's MISTAKES) made on the key's numbers;
3. a named mistake made on the learner's own numbers (the mistake plus an error carried into it:
   weights not renormalised, from probabilities of the learner's that were already wrong): on all
   their numbers, or on those of the steps before the one where the mistake starts; only on a row
   the mistake changes when made on the key's numbers (else the learner's own numbers, copied by
   a mistake that leaves the row as it is, would always fit).
The search is bounded: a few candidates per mistake in the catalogue and one carried, per row. A
row none of them explains is a slip of the learner's own, said so. A box is compared as check
marks it: a whole number exactly where the key is one (a count, an index), anything else within
the tolerance; an earlier step is wrong where check marked it wrong. Findings with the
same cause in one step are merged, naming their rows in the sheet's words (the grid's row
labels: t5, E2; an expert's row: 'E1 row 2').
Leaves out: marking boxes right or wrong (check.py), the mistakes themselves (kinds/, mistakes.py).
"""

import dataclasses
import re
from dataclasses import dataclass
from fractions import Fraction

import sympy

from workbook.kinds import part
from workbook.layout import Grid, cells, step_id_of
from workbook.mistakes import made
from workbook.sheet import build_sheet
from workbook.values import ABS_TOL, REL_TOL, box_tolerance, expected, is_right, is_whole_answer

_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Finding:
    """One cause, on some rows of one step. `cause` is the mistake's name, '' for a carried error
    (then `source` is the sheet step it follows from); `own` when the mistake was made on the
    learner's own earlier numbers."""

    step: str                 # the step id: 'probs'
    number: int               # the sheet's step number
    title: str                # the sheet's step title
    rows: tuple[str, ...]     # the rows in the sheet's words: 't2', 'E1 row 2'
    keys: tuple[str, ...]     # the rows as refs: 'probs[2]'
    cause: str = ""           # the mistake's name; '' for a carried error or a slip
    source: int = 0           # a carried error: the sheet step it follows from
    own: bool = False         # the mistake made on the learner's own earlier numbers
    symbol: str = ""          # the grid's name on the sheet: 'Σ'
    source_symbol: str = ""   # a carried error: the grid it follows from
    slip: bool = False        # no known mistake and no carried error gives these numbers
    empty: bool = False       # the rows were left empty: nothing to explain

    @property
    def carried(self) -> bool:
        return bool(self.source)

    def text(self) -> str:
        """'Σ, t2 and t5: follows from your 3^(s − row min) (Step 2): a carried error, not a new
        one' in the sheet's words."""
        rows = self.rows[0] if len(self.rows) == 1 else ", ".join(self.rows[:-1]) + " and " + self.rows[-1]
        where = f"{self.symbol}, {rows}" if self.symbol else rows
        if self.carried:
            theirs = f"your {self.source_symbol} (Step {self.source})" if self.source_symbol else f"your Step {self.source}"
            return f"{where}: follows from {theirs}: a carried error, not a new one"
        if self.empty:
            return f"{where}: left empty"
        if self.slip:
            return f"{where}: none of the known mistakes gives these numbers: work {'it' if len(self.rows) == 1 else 'them'} again"
        return f"{where}: {self.cause}" + (" (on your own earlier numbers)" if self.own else "")

    def legacy(self) -> str:
        """The step-id form: 'powers: follows from your step 1 (a carried error, not a new one)'."""
        if self.carried:
            return f"{self.step}: follows from your step {self.source} (a carried error, not a new one)"
        if self.empty:
            return f"{self.step}: left empty"
        if self.slip:
            return f"{self.step}: a slip (no known mistake)"
        return f"{self.step}: {self.cause}"


def row_of(ref: str) -> str:
    """'probs[5][2]' -> 'probs[5]'; 'ffn_hidden[1][2][3]' -> 'ffn_hidden[1][2]'."""
    return ref[:ref.rindex("[")] if "[" in ref else ref


def diagnose(sol, sheet, learner: dict, wrong: list[str], abs_tol=ABS_TOL, rel_tol=REL_TOL) -> list[Finding]:
    """Every finding for the wrong boxes `wrong` (refs), in sheet order. `learner`: {ref: value}
    of every box the learner filled or the key leaves empty."""
    context = _Context(sol, sheet, learner, abs_tol, rel_tol, wrong)
    found: dict[tuple, Finding] = {}
    wrong_rows = list(dict.fromkeys(row_of(ref) for ref in wrong))
    for key in wrong_rows:
        step = step_id_of(key)
        finding = context.explain(step, key, wrong_rows)
        merged = (finding.step, finding.cause, finding.source, finding.own, finding.slip, finding.empty)
        if merged in found:
            old = found[merged]
            finding = dataclasses.replace(old, rows=old.rows + finding.rows, keys=old.keys + finding.keys)
        found[merged] = finding
    return list(found.values())


class _Context:
    """What the explanations share, each worked out once: the sheet's rows and labels, the
    mistakes on the key's numbers and on the learner's, and their boxes."""

    def __init__(self, sol, sheet, learner, abs_tol, rel_tol, wrong=()):
        self.sol, self.sheet, self.learner = sol, sheet, learner
        self.wrong = set(wrong)  # the boxes marked wrong (a count or index exactly, as check marks it)
        self.tol = (abs_tol, rel_tol)
        self.order = [s.id for s in sol.steps]
        self.boxes = {}      # row key -> [refs of the row's boxes]
        self.label = {}      # row key -> the row in the sheet's words
        self.section = {}    # step id -> (number, title)
        self.symbol = {}     # step id -> the name of its (first) grid
        self.keyed = {}      # ref -> the key's value
        self.whole = set()   # refs of boxes whose key is a whole number (a count, an index): exact
        self.abs = {}        # ref -> its absolute tolerance (values.box_tolerance)
        for sec in sheet.sections:
            for board in sec.boards:
                for line in board.panels:
                    for panel in line:
                        if isinstance(panel, Grid):
                            self._grid(sec, panel)
        self._mistakes = {}  # 'key' / 'own' -> [(name, changed, {ref: value} or None)]
        self._carry = {}     # step id -> the kind's carried() for it

    def _grid(self, sec, grid: Grid) -> None:
        for i, line in enumerate(grid.cells):
            for c in line:
                if not (c.blank and c.ref):
                    continue
                key = row_of(c.ref)
                self.boxes.setdefault(key, []).append(c.ref)
                self.keyed[c.ref] = expected(c)
                self.abs[c.ref] = box_tolerance(c, self.tol[0])
                if is_whole_answer(c):
                    self.whole.add(c.ref)
                self.section.setdefault(step_id_of(c.ref), (sec.number, sec.title))
                self.symbol.setdefault(step_id_of(c.ref), grid.name)
                if key not in self.label:
                    self.label[key] = self._words(grid, i, key)

    @staticmethod
    def _words(grid: Grid, i: int, key: str) -> str:
        """A row in the sheet's words: its label ('t5'), else the expert and row ('E1 row 2')."""
        if i < len(grid.row_labels) and grid.row_labels[i]:
            return grid.row_labels[i]
        index = [int(n) for n in _INDEX.findall(key)]
        if len(index) >= 2:
            return f"E{index[0]} row {index[-1]}"
        return f"row {index[-1]}" if index else key

    def right(self, ref: str, value) -> bool:
        """The learner's box holds `value`: a whole number exactly in a box for one (as check
        marks it: a count of 126 does not hold 127), anything else within the tolerance."""
        whole = ref in self.whole and isinstance(value, Fraction) and value.denominator == 1
        return is_right(self.learner.get(ref), value, self.abs.get(ref, self.tol[0]), self.tol[1], whole)

    def holds(self, key: str, values: dict | None) -> bool:
        """The learner's row `key` holds exactly what `values` puts there (a box `values` leaves
        out is compared with an empty box)."""
        if not values:
            return False
        return all(self.right(ref, values.get(ref)) for ref in self.boxes.get(key, ()))

    def explain(self, step: str, key: str, wrong_rows: list[str]) -> Finding:
        number, title = self.section.get(step, (0, step))
        base = dict(step=step, number=number, title=title, rows=(self.label.get(key, key),), keys=(key,),
                    symbol=self.symbol.get(step, ""))
        if all(self.learner.get(ref) is None for ref in self.boxes.get(key, ())):
            return Finding(**base, empty=True)  # left empty: no cause to find
        source = self._carried(step, key)
        if source:
            return Finding(**base, source=self.section.get(source, (0, ""))[0], source_symbol=self.symbol.get(source, ""))
        for own in (False, True):
            matches = [(name, changed, values) for name, changed, values in self._made(own)
                       if step in changed and self.holds(key, values) and (not own or self._at_work(name, key))]
            if matches:
                name = self._likeliest(matches, key, wrong_rows)
                return Finding(**base, cause=name, own=own)
        return Finding(**base, slip=True)

    def _at_work(self, name: str, key: str) -> bool:
        """Made on the key's numbers, the mistake changes row `key`: only such a row is explained by
        the mistake made on the learner's own numbers. A mistake that leaves a row as it is (a token
        that is not dropped, a weight with no tie to round) is not at work there, whatever the
        learner carried into the row: their own numbers, copied, would otherwise always fit."""
        return any(n == name and values and any(not _same(values.get(ref), self.keyed.get(ref))
                                                for ref in self.boxes.get(key, ()))
                   for n, _, values in self._made(False))

    def _recomputed(self, step: str):
        """The kind's `carried` for `step` (worked out once per step): (sources, {ref: value}) or None."""
        if step not in self._carry:
            recompute = part(self.sol.spec.kind, "carried")
            try:
                self._carry[step] = recompute(self.sol, step, self.learner) if recompute else None
            except (ArithmeticError, ValueError, TypeError, IndexError, KeyError):
                self._carry[step] = None
        return self._carry[step]

    def _carried(self, step: str, key: str) -> str:
        """The step id the row's error is carried from ('': it is not carried)."""
        found = self._recomputed(step)
        if not found or not found[1]:
            return ""
        sources, values = found
        sources = (sources,) if isinstance(sources, str) else sources
        boxes = self.boxes.get(key, ())  # a box the recomputed row leaves None stays empty (a number's leading boxes)
        if not all(ref in values for ref in boxes) or all(values[ref] is None for ref in boxes):
            return ""
        if not self.holds(key, values):
            return ""
        for src in sources:  # the earlier step that is wrong, as check marked it (a row sum of 126 for
            if any(step_id_of(ref) == src for ref in self.wrong):  # 127 is wrong, though within 1%)
                return src
        return ""

    def _likeliest(self, matches: list, key: str, wrong_rows: list) -> str:
        """Of mistakes that fit a row, the one whose earlier steps the learner's rows also hold
        (a z-loss not squared, not a log-sum-exp the learner got right), then the one that more
        of the step's wrong rows hold (indices from 0 on every row, not bottom-k on the one row
        where the two give the same expert), else the first."""
        step = step_id_of(key)
        others = [row for row in wrong_rows if step_id_of(row) == step]

        def fit(match):
            name, changed, values = match
            earlier = [s for s in changed if self.order.index(s) < self.order.index(step)]
            held = all(self.holds(row, values) for s in earlier for row in self.boxes
                       if step_id_of(row) == s and any(self._filled(r) for r in self.boxes[row]))
            return held, sum(self.holds(row, values) for row in others)

        return max(matches, key=fit)[0] if len(matches) > 1 else matches[0][0]

    def _filled(self, ref: str) -> bool:
        return self.learner.get(ref) is not None

    def _made(self, own: bool) -> list:
        """The mistakes (name, changed steps, {ref: value} of their boxes) on the key's numbers,
        or on the learner's own: every step replaced by what the learner wrote, where they wrote
        a number, and (for a mistake worked from its own step: a plain mean that is no mistake
        where it equals the step, all pairs as local + crossing) only the steps before the one
        where the mistake starts. A mistake the learner's numbers do not fit is left out."""
        tag = "own" if own else "key"
        if tag not in self._mistakes:
            sol = with_learner(self.sol, self.learner) if own else self.sol
            out = []
            if sol is not None:
                for name, changed in _catalogue(sol):
                    out.append((name, changed, mistake_boxes(sol, changed)))
            if own:
                out += self._made_before()
            self._mistakes[tag] = out
        return self._mistakes[tag]

    def _made_before(self) -> list:
        """Each mistake of the key's catalogue made on the learner's numbers of the steps before
        the one where it starts."""
        starts: dict[str, set] = {}
        for name, changed, _ in self._made(False):
            starts.setdefault(min(changed, key=self.order.index), set()).add(name)
        out = []
        for first, names in starts.items():
            sol = with_learner(self.sol, self.learner, before=first)
            if sol is not None:
                out += [(name, changed, mistake_boxes(sol, changed)) for name, changed in _catalogue(sol, names)]
        return out


def _catalogue(sol, names=None) -> list:
    """made(sol), or only the mistakes named `names`; [] when the numbers do not fit them."""
    if names is None:
        try:
            return made(sol)
        except (ArithmeticError, ValueError, TypeError, IndexError, KeyError):
            return []
    out = []
    for name, mistake in part(sol.spec.kind, "MISTAKES", ()):
        if name in names:
            try:
                changed = mistake(sol)
            except (ArithmeticError, ValueError, TypeError, IndexError, KeyError):
                continue
            out += [(name, c) for c in (changed if isinstance(changed, list) else [changed]) if c]
    return out


def mistake_boxes(sol, changed: dict):
    """{ref: value} a learner making the mistake writes in the boxes of the steps it changes
    (the sheet laid out with those steps); None when the sheet cannot be laid out that way."""
    steps = tuple(dataclasses.replace(s, exact=changed[s.id]) if s.id in changed else s for s in sol.steps)
    try:
        sheet = build_sheet(dataclasses.replace(sol, steps=steps))
    except (IndexError, KeyError, ValueError, TypeError, ArithmeticError):
        return None
    return {c.ref: expected(c) for c in cells(sheet.sections) if c.blank and step_id_of(c.ref) in changed}


# Beyond these, a learner's number is no hand calculation of this sheet (a typo, a hostile file):
# a mistake is not worked on it (3 to the power of a score of 10^9 would never end). A sheet whose
# own numbers are larger (an all-to-all of 49,152 values, a model of 46,702,792,704 parameters)
# allows ten times its largest number, and ten times its largest denominator.
MAX_OWN = 10_000
MAX_OWN_DENOMINATOR = 10 ** 6


def _bounds(sol) -> tuple:
    """(largest magnitude, largest denominator) of a learner's number worked on for this sheet."""
    big, den = MAX_OWN, MAX_OWN_DENOMINATOR
    for s in sol.steps:
        for v in _leaves(s.exact):
            try:
                if v.is_Rational:
                    big, den = max(big, 10 * abs(int(v.p) // int(v.q)) + 10), max(den, 10 * int(v.q))
                else:
                    big = max(big, 10 * abs(float(v)))
            except (AttributeError, TypeError, ValueError, OverflowError):
                continue
    return big, den


def _leaves(value):
    if isinstance(value, tuple):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _sensible(v, bounds=(MAX_OWN, MAX_OWN_DENOMINATOR)) -> bool:
    big, den = bounds
    if isinstance(v, float):
        return abs(v) <= big
    return abs(v) <= big and v.denominator <= den


def with_learner(sol, learner: dict, before: str = ""):
    """The solution with the learner's numbers in place of the key's, box by box (only boxes
    holding a number; only steps before `before` when given); None when nothing changes, or when
    a number is beyond any hand calculation of the sheet (MAX_OWN, or ten times the sheet's own largest)."""
    bounds = _bounds(sol)
    if any(isinstance(v, (Fraction, float)) and not _sensible(v, bounds) for v in learner.values()):
        return None
    order = [s.id for s in sol.steps]
    limit = order.index(before) if before in order else len(order)
    steps, changed = [], {}
    for i, s in enumerate(sol.steps):
        mine = {ref: v for ref, v in learner.items() if step_id_of(ref) == s.id and isinstance(v, (Fraction, float))}
        if i < limit and mine:
            steps.append(dataclasses.replace(s, exact=placed(s.exact, mine, s.id)))
            changed[s.id] = mine
        else:
            steps.append(s)
    if not changed:
        return None
    # a step whose boxes are not its values one to one (a big number three digits to a box) gives
    # other boxes when laid out again: it keeps the key's values
    laid = mistake_boxes(sol, {s.id: s.exact for s in steps if s.id in changed}) or {}
    kept = {sid for sid, mine in changed.items() if all(is_right(v, laid.get(ref)) for ref, v in mine.items())}
    if not kept:
        return None
    return dataclasses.replace(sol, steps=tuple(s if s.id in kept else sol.step(s.id) for s in steps))


def _same(a, b) -> bool:
    """Two box values equal (decimals to 1e-9)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)), abs(float(b)))
    return a == b


def placed(exact, values: dict, step_id: str):
    """`exact` (nested tuples) with each value of `values` ({'probs[2][3]': Fraction}) at its ref's
    place; a one-value row takes '[t][1]', and a one-row grid of a flat step '[1][i]'. A ref
    that does not fit the shape is left out."""
    tree = _lists(exact)
    flat = isinstance(tree, list) and not any(isinstance(v, list) for v in tree)
    for ref, v in values.items():
        index = [int(i) - 1 for i in _INDEX.findall(ref[len(step_id):])]
        number = sympy.Rational(str(v)) if isinstance(v, float) else sympy.Rational(v.numerator, v.denominator)
        if flat and len(index) == 2 and index[0] == 0:
            index = index[1:]  # f[1][3]: the third value of f, written in one row
        try:
            tree = _put(tree, index, number)
        except (IndexError, ValueError, TypeError):
            continue
    return _tuples(tree)


def _put(node, index: list, value):
    if not index:
        return value
    if not isinstance(node, list):
        if any(index):
            raise IndexError(index)
        return value
    if index[0] < 0:
        raise IndexError(index)
    node[index[0]] = _put(node[index[0]], index[1:], value)
    return node


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, tuple) else value


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
