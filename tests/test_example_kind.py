"""The example exercise kind (examples/softmax-temperature), installed as a teacher would install
it, driven through the command line: listed, a worksheet and key whose pages line up, the JSON
contract, a Moodle export, the variant code's round trip, and `check` (all right for the key's
values; the planted mistake named).

The package must be installed (not skipped when missing: this test fails and says how):
    pip install ./examples/softmax-temperature
"""

import io
import json
import re
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner
from pypdf import PdfReader

from workbook.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "softmax-temperature"
DISTRIBUTION = "moe-workbook-softmax-temperature"
KIND = "softmax-temperature"
PRESET = "softmax-temperature-4x3"
INSTALL = "pip install ./examples/softmax-temperature"
IGNORED = "the temperature ignored: softmax of s instead of s/τ"
MULTIPLIED = "multiplied by τ instead of divided"


def run(*args):
    return CliRunner().invoke(cli, list(args), prog_name="moe-workbook")


def ok(*args):
    result = run(*args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module", autouse=True)
def installed():
    """The example package, installed from this checkout (not an older copy of it)."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pytest.fail(f"the example kind is not installed: run `{INSTALL}` (the README's test command and .ci/run install it)",
                    pytrace=False)
    points = [p for p in dist.entry_points if p.group == "moe_workbook.kinds"]
    assert [(p.name, p.value) for p in points] == [(KIND, "moe_softmax_temperature")]
    files = {str(f).replace("\\", "/") for f in dist.files or ()}
    assert f"moe_softmax_temperature/exercises/{PRESET}.toml" in files, \
        f"the installed wheel lacks its presets (exercises/*.toml): {sorted(files)}"
    source = EXAMPLE / "moe_softmax_temperature" / "__init__.py"
    shipped = Path(dist.locate_file("moe_softmax_temperature/__init__.py"))
    if source.is_file() and shipped.resolve() != source.resolve():
        assert shipped.read_bytes() == source.read_bytes(), \
            f"the installed example is older than examples/softmax-temperature: run `{INSTALL}` again"
    return dist


@pytest.fixture(scope="module")
def code() -> str:
    return json.loads(ok("solve", PRESET).stdout)["code"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory, code) -> dict:
    out = tmp_path_factory.mktemp("example")
    ok("generate", PRESET, "--format", "pdf,json,interactive", "--out", str(out))
    files = {p.name: p for p in out.iterdir()}
    stem = f"{PRESET}-{code}"
    assert set(files) == {f"{stem}-worksheet.pdf", f"{stem}-key.pdf", f"{stem}.json", f"{stem}-interactive.html"}
    return {"worksheet": files[f"{stem}-worksheet.pdf"], "key": files[f"{stem}-key.pdf"],
            "json": files[f"{stem}.json"], "interactive": files[f"{stem}-interactive.html"]}


def leaves(value):
    if isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def test_list_shows_the_installed_preset():
    out = ok("list").stdout
    line = next(line for line in out.splitlines() if line.startswith(PRESET + " "))
    assert KIND in line.split()
    assert "token-choice-5x6" in out  # the built-in course is still there


def test_the_code_is_an_installed_kinds_code(code):
    from workbook.code import PLUGIN_SLOT, decode, slot_of

    spec = decode(code)
    assert spec.kind == KIND and slot_of(spec) == PLUGIN_SLOT
    assert dict(spec.params) == {"tokens": 4, "experts": 3, "temperature": "2.0", "compare": "1.0"}


def test_worksheet_and_key_line_up_page_for_page(generated, code):
    ws, key = (PdfReader(io.BytesIO(generated[side].read_bytes())) for side in ("worksheet", "key"))
    assert len(ws.pages) == len(key.pages) >= 1
    n = len(ws.pages)
    data = json.loads(generated["json"].read_text(encoding="utf-8"))
    answers = {e for step in data["steps"] for e in leaves(step["exact"]) if "/" in e}
    key_text = ""
    for i, (a, b) in enumerate(zip(ws.pages, key.pages), 1):
        assert (a.mediabox.width, a.mediabox.height) == (b.mediabox.width, b.mediabox.height)
        ta, tb = a.extract_text(), b.extract_text()
        assert re.findall(r"Step \d+ ·", ta) == re.findall(r"Step \d+ ·", tb), i  # same steps, same page
        for text, side in ((ta, "Worksheet"), (tb, "Answer key")):
            assert code in text and f"page {i} of {n}" in text and side in text
        assert not [f for f in answers if f in ta], "the worksheet shows an answer"
        key_text += tb
    assert re.findall(r"Step (\d+) ·", key_text) == ["1", "2", "3", "4"]
    squashed = re.sub(r"\s+", "", key_text)
    assert all(f in squashed for f in answers), sorted(f for f in answers if f not in squashed)


def test_json_contract(generated, code):
    data = json.loads(generated["json"].read_text(encoding="utf-8"))
    assert data["schema"] == "moe-workbook/1" and data["code"] == code and data["exercise"] == KIND
    assert data["params"]["temperature"] == "2.0" and data["inputs"]["tau"] == "2"
    ids = [s["id"] for s in data["steps"]]
    assert ids == ["scaled", "powers", "row_sum", "probs", "powers_other", "top1", "top1_other", "sharper"]
    for step in data["steps"]:
        exact, decimal = list(leaves(step["exact"])), list(leaves(step["decimal"]))
        assert len(exact) == len(decimal) > 0, step["id"]
        for e, d in zip(exact, decimal):
            assert abs(float(sympy.sympify(e)) - d) <= 1e-12, (step["id"], e, d)
    S = data["inputs"]["S"]
    scaled = [[sympy.Rational(v) for v in row] for row in next(s["exact"] for s in data["steps"] if s["id"] == "scaled")]
    assert scaled == [[sympy.Rational(v, 2) for v in row] for row in S]  # z = s / τ with τ = 2
    powers = [int(v) for v in leaves(next(s["exact"] for s in data["steps"] if s["id"] == "powers_other"))]
    assert max(powers) <= 81 and min(powers) == 1


def test_the_key_comes_back_from_its_code(generated, code, tmp_path):
    ok("key", code, "--format", "json", "--out", str(tmp_path))
    (rebuilt,) = tmp_path.glob("*.json")
    assert rebuilt.read_bytes() == generated["json"].read_bytes()
    assert json.loads(ok("solve", code).stdout) == json.loads(generated["json"].read_text(encoding="utf-8"))
    assert ok("solve", code.lower().replace("-", " ")).stdout == ok("solve", code).stdout  # typed sloppily


def test_interactive_page_carries_the_mistake(generated):
    html = generated["interactive"].read_text(encoding="utf-8")
    assert "<input" in html and "9/13" not in html  # the key is scrambled, not printed


def test_exam_with_a_moodle_export(tmp_path):
    ok("exam", PRESET, "--variants", "3", "--format", "pdf,moodle", "--out", str(tmp_path / "exam"), "--jobs", "1")
    folder = tmp_path / "exam"
    assert {"worksheets.pdf", "keys.pdf", "moodle.xml"} <= {p.name for p in folder.iterdir()}
    root = ET.parse(folder / "moodle.xml").getroot()
    questions = [q for q in root.findall("question") if q.get("type") == "cloze"]
    assert len(questions) == 3
    from workbook.code import decode

    for q in questions:
        code, row = q.findtext("idnumber").rsplit("-", 1)  # the variant code, then the sheet's row
        assert decode(code).kind == KIND and row.isdigit()
        text = q.findtext("questiontext/text")
        assert "Softmax temperature" in text and text.count("{1:NUMERICAL:=") == 61
    ws, keys = (PdfReader(str(folder / name)) for name in ("worksheets.pdf", "keys.pdf"))
    assert len(ws.pages) == len(keys.pages) >= 3


def _answer_file(code: str, tmp_path: Path, change=None) -> Path:
    """`answers CODE`, each grid filled with its step's exact values from `solve CODE` (in sheet
    order), after `change(steps)` plants a mistake."""
    path = tmp_path / "answers.toml"
    ok("answers", code, "--out", str(path), "--force")
    keys = re.findall(r"^(step\d+(?:_\d+)?) = \[", path.read_text(encoding="utf-8"), re.M)
    data = json.loads(ok("solve", code).stdout)
    steps = {s["id"]: s["exact"] for s in data["steps"]}
    if change:
        change(steps, data["inputs"])
    assert len(keys) == len(steps)  # one grid per step, in step order
    lines = [f'code = "{code}"']
    for key, exact in zip(keys, steps.values()):
        rows = exact if isinstance(exact[0], list) else [[v] for v in exact]
        lines.append(f"{key} = {json.dumps(rows)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_check_says_all_right_for_the_keys_values(code, tmp_path):
    out = ok("check", code, str(_answer_file(code, tmp_path))).stdout
    assert "Overall: 61/61 right (100%)" in out and "why:" not in out


def test_check_names_the_temperature_ignored(code, tmp_path):
    def ignore(steps, inputs):
        steps["scaled"] = [[str(v) for v in row] for row in inputs["S"]]  # s, not s / τ

    result = run("check", code, str(_answer_file(code, tmp_path, ignore)))
    assert result.exit_code == 1, result.output
    assert re.search(rf"why: z = s / \S+, t1, .*t4: {re.escape(IGNORED)}", result.stdout), result.stdout
    assert "Overall: " in result.stdout and "(100%)" not in result.stdout


def test_check_names_multiplied_and_follows_the_carried_error(code, tmp_path):
    """z = s · τ, and the powers, row sums and probabilities worked on from it: the mistake is
    named at step 1, and the later steps are followed as carried errors, not new ones."""
    from fractions import Fraction

    def multiply(steps, inputs):
        z = [[Fraction(v) * 2 for v in row] for row in inputs["S"]]
        powers = [[3 ** int(v - min(row)) for v in row] for row in z]
        sums = [sum(row) for row in powers]
        steps["scaled"] = [[str(v) for v in row] for row in z]
        steps["powers"] = [[str(v) for v in row] for row in powers]
        steps["row_sum"] = [str(n) for n in sums]
        steps["probs"] = [[str(Fraction(p, n)) for p in row] for row, n in zip(powers, sums)]

    result = run("check", code, str(_answer_file(code, tmp_path, multiply)))
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert re.search(rf"why: z = s / \S+, t1, .*t4: {re.escape(MULTIPLIED)}", out), out
    assert re.search(r"why: 3\^\(z − row min\), t1, .*t4: follows from your z = s / \S+ \(Step 1\)", out), out
    assert re.search(r"why: P, t1, .*t4: follows from your 3\^\(z − row min\) \(Step 2\)", out), out


def test_check_follows_a_slip_at_the_second_temperature_into_its_top_1(code, tmp_path):
    """A power at τ′ written one too large in t1's row: its top-1 at τ′, worked from it, is a
    carried error (the kind's carried follows top1_other), not a second slip."""
    from fractions import Fraction

    def slip(steps, inputs):
        row = [Fraction(v) for v in steps["powers_other"][0]]
        row[0] += 1
        steps["powers_other"][0] = [str(v) for v in row]
        steps["top1_other"][0] = str(max(row) / sum(row))

    result = run("check", code, str(_answer_file(code, tmp_path, slip)))
    assert result.exit_code == 1, result.output
    assert re.search(r"why: 3\^\(s/τ′ − row min\), t1: none of the known mistakes", result.stdout), result.stdout
    assert re.search(r"why: at τ′, t1: follows from your 3\^\(s/τ′ − row min\) \(Step 4\)", result.stdout), result.stdout
