"""Issue 16's presets (published models, group-limited routing, microscaling) in every form a class
uses: the JSON contract with every step, and a Moodle cloze question whose every field holds the
key's value (and the whole moodle.xml `exam` writes, for one class of them all)."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from workbook.cli import cli
from workbook.layout import cells
from workbook.presets import presets
from workbook.render_json import render_json
from workbook.render_moodle import cell_value, question_html
from workbook.sheet import build_sheet
from workbook.solve import solve

KINDS = ("model-sizing", "group-routing", "microscaling")
NEW = [p for p in presets() if p.exercise in KINDS]
_FIELD = re.compile(r"\{1:NUMERICAL:=([^:}]+):([^}]+)\}")


def test_every_new_kind_has_presets():
    assert {p.exercise for p in NEW} == set(KINDS)


@pytest.mark.parametrize("preset", NEW, ids=lambda p: p.name)
def test_json_and_moodle_hold_the_key(preset):
    sol = solve(preset.spec())
    sheet = build_sheet(sol)
    data = json.loads(render_json(sol))
    assert [s["id"] for s in data["steps"]] == [s.id for s in sol.steps]
    text = question_html(sheet)
    fields = _FIELD.findall(text)
    blanks = [c for c in cells(sheet.sections) if c.blank and cell_value(c)]
    assert len(fields) == len(blanks) > 0
    for (value, _), cell in zip(fields, blanks):
        assert abs(float(value) - cell_value(cell)[0]) <= 1e-9 * max(1.0, abs(float(value))), cell.ref


def test_one_moodle_file_for_a_class_of_every_new_preset(tmp_path):
    out = tmp_path / "exam"
    result = CliRunner().invoke(cli, ["exam", *[p.name for p in NEW], "--variants", "2", "--format", "moodle",
                                      "--out", str(out)], prog_name="moe-workbook")
    assert result.exit_code == 0, result.output
    root = ET.fromstring((out / "moodle.xml").read_text(encoding="utf-8"))
    questions = [q for q in root.findall("question") if q.get("type") == "cloze"]
    assert len(questions) == 2 * len(NEW)
