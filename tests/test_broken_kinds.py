"""A broken third-party exercise kind gets one line naming it and what is wrong, and never takes
`list` or the other kinds down.

Fake installed distributions are made at test time: a temporary folder on sys.path holding
fake_kinds-0.dist-info (METADATA and entry_points.txt, group moe_workbook.kinds) and the kind
packages it points at, each with a preset in its exercises/ folder: one that raises on import,
one without `steps`, one whose exact steps disagree with its float `forward`, one whose `forward`
lacks a step, one whose `steps()` raises TypeError, one whose `generate` returns the wrong shape
of problem, and one that works. A teacher's folder (--exercises DIR) holds a preset naming an
unknown kind. The registry's caches are cleared around each test and restored after it.
"""

import sys
import textwrap

import pytest
from click.testing import CliRunner

import workbook.code
import workbook.kinds
import workbook.presets
from workbook.cli import cli

BUILTIN_PRESETS = ("token-choice-5x6", "expert-choice-3e-top2", "load-balance-switch", "router-gradient-top2")

# A small working kind; each broken one below is this with one part spoiled.
GOOD = '''
from dataclasses import dataclass

import numpy as np
from sympy import Integer

from workbook.layout import Board, blank_grid, given_grid
from workbook.problem import Step
from workbook.spec import Param

TITLE = "Doubling"
PARAMS = (Param("size", "how many numbers", 2, 1, 3),)


@dataclass(frozen=True)
class Numbers:
    values: tuple

    def inputs(self):
        return {"values": list(self.values)}


def generate(spec):
    return Numbers(tuple(range(1, spec["size"] + 1)))


def steps(spec, problem):
    yield Step("double", "Double", "Double each number.", tuple(Integer(2 * v) for v in problem.values))


def forward(spec, problem):
    return {"double": np.array(problem.values, dtype=float) * 2}


def title(spec):
    return f"Doubling {spec['size']} numbers"


def conventions(sol):
    return ("Write each number twice over.",)


def hand_work(sol):
    return "Hand work: a few doublings."


def layout(sol):
    return [("Double", "Double each number.", [Board(((
        given_grid("v", [sol.problem.values]), blank_grid("2v", "double", [sol.step("double").exact])),))])]
'''

# kind name -> (what its module does differently, the words its one-line error must hold)
BROKEN = {
    "fake-import": ('raise RuntimeError("the fake kind breaks on import")\n' + GOOD,
                    ("does not import", "RuntimeError")),
    "fake-parts": (GOOD.replace("def steps(", "def not_steps("), ("lacks steps",)),
    "fake-mismatch": (GOOD.replace("* 2}", "* 3}"), ("double", "disagree")),
    "fake-forward": (GOOD.replace('return {"double": np.array(problem.values, dtype=float) * 2}', "return {}"),
                     ("double",)),
    "fake-steps": (GOOD.replace('    yield Step("double"', '    raise TypeError("steps() broke on purpose")\n'
                                '    yield Step("double"'), ("TypeError",)),
    "fake-shape": (GOOD.replace('return Numbers(tuple(range(1, spec["size"] + 1)))', 'return [1, 2]'), ()),
}
WORKING = "fake-good"


def _module(kind: str) -> str:
    return "fake_kind_" + kind.split("-")[1]


@pytest.fixture
def fake_kinds(tmp_path, monkeypatch):
    """Installs the fake distribution (sys.path) with every kind above and one preset each."""
    site = tmp_path / "site"
    info = site / "fake_kinds-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-kinds\nVersion: 0\n", encoding="utf-8")
    kinds = {name: source for name, (source, _) in BROKEN.items()} | {WORKING: GOOD}
    (info / "entry_points.txt").write_text(
        "[moe_workbook.kinds]\n" + "".join(f"{name} = {_module(name)}\n" for name in kinds), encoding="utf-8")
    for name, source in kinds.items():
        package = site / _module(name)
        (package / "exercises").mkdir(parents=True)
        (package / "__init__.py").write_text(source, encoding="utf-8")
        (package / "exercises" / f"{name}-preset.toml").write_text(
            f'title = "{name}"\nexercise = "{name}"\norder = 900\nseed = 1\n\n[params]\nsize = 2\n', encoding="utf-8")
    monkeypatch.delenv("MOE_WORKBOOK_DEBUG", raising=False)
    monkeypatch.delenv(workbook.presets.ENVIRONMENT, raising=False)
    monkeypatch.setattr(workbook.presets, "_folders", [])  # --exercises DIR adds to this list
    monkeypatch.syspath_prepend(str(site))
    _clear_caches()
    yield site
    monkeypatch.undo()
    for module in [m for m in sys.modules if m.startswith("fake_kind_")]:
        del sys.modules[module]
    _clear_caches()


def _clear_caches():
    workbook.kinds._installed.cache_clear()
    workbook.kinds.kind.cache_clear()
    workbook.presets._load.cache_clear()
    workbook.code._slot_table.cache_clear()


def run(*args):
    return CliRunner().invoke(cli, list(args), prog_name="moe-workbook")


def one_line_error(result, *words) -> str:
    """Exit 1 or 2, no traceback, and exactly one line on stderr, 'Error: ...', holding `words`."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def assert_builtin_still_solves():
    result = run("solve", "token-choice-5x6")
    assert result.exit_code == 0, result.output
    assert '"exercise": "token-choice"' in result.stdout


def test_list_survives_every_broken_kind(fake_kinds):
    result = run("list")
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.stdout.splitlines()}
    assert set(BUILTIN_PRESETS) <= listed
    assert f"{WORKING}-preset" in listed  # presets are read without importing their kind
    for line in result.stderr.splitlines():
        assert line.startswith("Note: "), result.stderr


def test_a_working_kind_beside_broken_ones_still_works(fake_kinds):
    result = run("solve", f"{WORKING}-preset")
    assert result.exit_code == 0, result.output
    assert '"exercise": "fake-good"' in result.stdout
    assert_builtin_still_solves()


FIX = ("a third-party kind's own failure must be told as that kind's, in one line, never as an internal "
       "error. Fix in workbook/solve.py: _cross_check's CheckError should name spec.kind (and, for a kind "
       "not built in, say the fault is that package's); and solve(), for a kind not built in, should turn "
       "any other exception raised in its generate/steps/forward, or a step id missing from forward's "
       "result (today a KeyError at floats[step.id]), into a WorkbookError such as \"exercise kind "
       "'fake-steps' (fake_kind_steps) failed in steps(): TypeError: ...\" (exit 1); the same for "
       "sheet.build_sheet's calls of title/layout/conventions/hand_work")


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_kind_is_one_line_naming_it(fake_kinds, tmp_path, kind):
    """Each broken kind's preset, by `solve` and by `generate`: exit 1 or 2, one line 'Error: ...'
    naming the kind and what is wrong, nothing written; then a built-in preset still solves.

    Today (workbook/ to fix, see FIX) fake-forward, fake-steps and fake-shape end in "internal
    error" (KeyError from solve._cross_check's floats[step.id]; the TypeError and AttributeError
    raised inside the kind's own steps()), and fake-mismatch's CheckError line names the step and
    the variant but not the kind."""
    out = tmp_path / "out"
    for args in (["solve", f"{kind}-preset"], ["generate", f"{kind}-preset", "--format", "json", "--out", str(out)]):
        line = one_line_error(run(*args), *BROKEN[kind][1])
        assert "internal error" not in line, f"{args[0]}: {line!r}: {FIX}"
        assert kind in line, f"{args[0]}: {line!r} does not name the kind: {FIX}"
        assert not out.exists() or not any(out.iterdir())
        assert_builtin_still_solves()


def test_a_teachers_preset_naming_an_unknown_kind(fake_kinds, tmp_path):
    folder = tmp_path / "teacher"
    folder.mkdir()
    (folder / "my-lesson.toml").write_text(textwrap.dedent('''
        title = "A kind nobody installed"
        exercise = "no-such-kind"
        [params]
        size = 2
    '''), encoding="utf-8")
    (folder / "my-good-lesson.toml").write_text(
        'title = "Doubling, my way"\nexercise = "fake-good"\n[params]\nsize = 3\n', encoding="utf-8")
    result = run("--exercises", str(folder), "list")
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.stdout.splitlines()}
    assert set(BUILTIN_PRESETS) <= listed and "my-good-lesson" in listed and "my-lesson" not in listed
    notes = [line for line in result.stderr.splitlines() if "my-lesson.toml" in line]
    assert len(notes) == 1 and notes[0].startswith("Note: ") and "no-such-kind" in notes[0], result.stderr
    one_line_error(run("--exercises", str(folder), "solve", "my-lesson"), "my-lesson")
    assert run("--exercises", str(folder), "solve", "my-good-lesson").exit_code == 0
    assert_builtin_still_solves()


def test_kinds_whose_names_share_a_code_mark_are_refused_naming_both(fake_kinds, monkeypatch):
    """Two installed kinds whose names hash alike would give codes that read as either: such a
    code is neither written nor read, and the message names both kinds."""
    import workbook.code

    code = run("solve", f"{WORKING}-preset").stdout.split('"code": "')[1].split('"')[0]
    real = workbook.code._marked
    monkeypatch.setattr(workbook.code, "_marked", lambda mark: real(mark) + ["fake-twin"] if real(mark) else [])
    one_line_error(run("solve", f"{WORKING}-preset"), "share a code mark", WORKING, "fake-twin")
    one_line_error(run("key", code, "--format", "json"), "could be from", WORKING, "fake-twin")
    assert_builtin_still_solves()
