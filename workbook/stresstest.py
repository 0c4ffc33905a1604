"""The contract check any exercise kind must pass (R/exams' stresstest_exercise), by seed.

    python -m workbook.stresstest KIND_OR_PRESET [--seeds 200] [--pairs 1]

For every seed: the variant generates and solves (solve() itself compares every exact step with
the kind's independent float computation); the kind's own promises hold (its optional
`contract(sol)`, which lists the hand-friendliness promises a variant breaks); the JSON contract
holds (schema, every `exact` parses with sympy and equals its `decimal`, the code decodes back to
the same variant; every worked line agrees with the key: solutions.worked); the same seed gives the
same JSON again (determinism). For the first `sheets` seeds the sheet
builds, has blanks and its worksheet shows no answer; for the first `pairs` seeds, the worksheet and
key are laid out as PDF and must have the same number of pages. Failures are reported by seed.
Leaves out: speed (benchmarks/) and anything about a particular kind.
"""

import argparse
import json
import sys
from dataclasses import dataclass, field
from functools import lru_cache

SCHEMA_KEYS = ("schema", "code", "exercise", "seed", "params", "conventions", "inputs", "steps")


@dataclass
class Report:
    """What the stress test found: failures by seed, and how many seeds ran."""

    target: str
    seeds: int = 0
    pairs: int = 0
    failures: dict = field(default_factory=dict)  # seed -> [what broke, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        head = (f"{self.target}: {self.seeds} seeds, {self.pairs} laid out as PDF: "
                + ("all promises kept" if self.ok else f"{len(self.failures)} seeds broke a promise"))
        return [head] + [f"  seed {seed}: {why}" for seed, whys in sorted(self.failures.items()) for why in whys]


def _target(name: str):
    """A preset name or a kind name -> (exercise, its parameters)."""
    from workbook.kinds import names
    from workbook.presets import presets

    for p in presets():
        if p.name == name:
            return p.exercise, dict(p.params)
    if name in names():
        return name, {}
    from workbook.errors import SpecError
    raise SpecError(f"no preset or exercise kind named {name!r}")


def stresstest(name: str, seeds: int = 200, pairs: int = 1, first_seed: int = 0, sheets: int = 20,
               working: bool = True) -> Report:
    """Run the contract over `seeds` seeds of a preset or a kind (its defaults); the sheet's HTML
    for the first `sheets` seeds, the PDF pair for the first `pairs`; each variant's worked
    solution checked against its key unless `working` is False."""
    exercise, params = _target(name)
    report = Report(name)
    for seed in range(first_seed, first_seed + seeds):
        report.seeds += 1
        whys = _one(exercise, params, seed, seed < first_seed + pairs, seed < first_seed + max(sheets, pairs), working)
        report.pairs += seed < first_seed + pairs
        if whys:
            report.failures[seed] = whys
    return report


def _one(exercise: str, params: dict, seed: int, lay_out: bool, sheet: bool, working: bool = True) -> list[str]:
    from workbook.kinds import part
    from workbook.render_json import render_json
    from workbook.solve import solve
    from workbook.spec import make_spec

    try:
        spec = make_spec(exercise, params, seed)
        sol = solve(spec)
    except Exception as err:  # the kind's own failure, reported by seed
        return [f"does not generate and solve: {type(err).__name__}: {' '.join(str(err).split())[:200]}"]
    whys = []
    contract = part(exercise, "contract")
    if contract is not None:
        try:
            whys += [f"breaks its promise: {w}" for w in contract(sol)]
        except Exception as err:
            whys.append(f"contract() fails: {type(err).__name__}: {err}")
    try:
        text = render_json(sol, working=working)  # its worked lines checked against the key (solutions.worked) on the way
    except Exception as err:
        whys.append(f"its worked solution fails: {type(err).__name__}: {' '.join(str(err).split())[:200]}")
        text = render_json(sol, working=False)
    whys += _json_contract(text, sol)
    try:  # the key again from the same seed (its working, a function of the key, is not made twice)
        if render_json(solve(make_spec(exercise, params, seed)), working=False) != render_json(sol, working=False):
            whys.append("not deterministic: the same seed gave other JSON")
    except Exception as err:
        whys.append(f"a second solve fails: {type(err).__name__}: {err}")
    if sheet:
        whys += _sheet(sol, lay_out)
    return whys


def _json_contract(text: str, sol) -> list[str]:
    from workbook.code import decode
    from workbook.solve import leaves

    data, whys = json.loads(text), []
    missing = [k for k in SCHEMA_KEYS if k not in data]
    if missing:
        return [f"JSON lacks {', '.join(missing)}"]
    if decode(data["code"]) != sol.spec:
        whys.append(f"the code {data['code']} does not decode to this variant")
    for step in data["steps"]:
        exact = list(leaves(step["exact"]))
        decimal = list(leaves(step["decimal"]))
        if len(exact) != len(decimal):
            whys.append(f"step {step['id']}: exact and decimal differ in shape")
            continue
        for e, d in zip(exact, decimal):
            value = _as_float(e)
            if abs(value - d) > 1e-9 * max(1.0, abs(d)):
                whys.append(f"step {step['id']}: exact {e} is not its decimal {d}")
                break
    return whys


@lru_cache(maxsize=1 << 16)
def _as_float(text: str) -> float:
    """An exact value's JSON text as sympy reads it, as a float; the same texts ('0', '27/115')
    recur in every variant: each read once."""
    import sympy

    return float(sympy.sympify(text))


def _sheet(sol, lay_out: bool) -> list[str]:
    from workbook.layout import cells
    from workbook.render_html import render_html
    from workbook.sheet import build_sheet

    whys = []
    try:
        sheet = build_sheet(sol)
    except Exception as err:
        return [f"the sheet does not build: {type(err).__name__}: {err}"]
    blanks = [c for c in cells(sheet.sections) if c.blank]
    if not blanks:
        whys.append("the sheet has no blank to fill in")
    if render_html(sheet, False) != render_html(_answers_hidden(sheet), False):
        whys.append("the worksheet shows something of the answers (it changes when they are hidden)")
    if lay_out:
        try:
            from workbook.render_pdf import lay_out as pdf_layout
            from workbook.render_html import printable

            laid = pdf_layout(printable(sheet))
            pages = {side: len(p) for side, p in laid.sides.items()}
            if len(set(pages.values())) != 1:
                whys.append(f"worksheet and key have different page counts: {pages}")
        except Exception as err:
            whys.append(f"the pair does not lay out: {type(err).__name__}: {err}")
    return whys


def _answers_hidden(sheet):
    """The same sheet with every answer (and every picture of the key) replaced by a stand-in:
    a worksheet that reveals nothing but the inputs renders the same from it."""
    import dataclasses

    from workbook.layout import Figure, Grid

    def hide(panel):
        if isinstance(panel, Grid):
            return dataclasses.replace(panel, cells=tuple(tuple(
                dataclasses.replace(c, answer="?", decimal="", value=None) if c.blank else c for c in row)
                for row in panel.cells))
        if isinstance(panel, Figure):
            return dataclasses.replace(panel, svg="")
        return panel

    sections = tuple(dataclasses.replace(sec, boards=tuple(
        dataclasses.replace(b, panels=tuple(tuple(hide(p) for p in row) for row in b.panels)) for b in sec.boards))
        for sec in sheet.sections)
    return dataclasses.replace(sheet, sections=sections)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbook.stresstest", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="a preset (token-choice-5x6) or an exercise kind (token-choice)")
    parser.add_argument("--seeds", type=int, default=200, help="how many seeds (default 200)")
    parser.add_argument("--pairs", type=int, default=1, help="how many of them to lay out as PDF (default 1)")
    args = parser.parse_args(argv)
    from workbook.errors import WorkbookError

    try:
        report = stresstest(args.target, max(1, args.seeds), max(0, args.pairs))
    except WorkbookError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
