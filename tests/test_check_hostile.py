"""`check` against hostile answer files: every refusal one line (exit 2), every odd value a wrong
box, and never a traceback, an "internal error" or a hang.

The sweeps run the whole command (click's CliRunner) over answer files made from the real
template of every preset, each box filled with hostile values, alone or beside right ones so that
the carried-error and common-mistake paths run on them too."""

import json
import os
import re
import stat
from fractions import Fraction as F
from functools import lru_cache

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import workbook.check as check_module
from workbook.diagnosis import diagnose
from workbook.check import (MAX_FILE_BYTES, AnswersError, answers_template, grade, groups, read_answer_file,
                            read_answers)
from workbook.cli import _shown, cli
from workbook.layout import step_id_of
from workbook.presets import preset, presets
from workbook.sheet import build_sheet
from workbook.solve import solve
from workbook.values import parse_value

ROUTING = "expert-choice-3e-top2"  # the smallest routing preset: powers, sums, probabilities, FFNs
HOSTILE = ("1e5000", "1e400", "-1e400", "1e100000000", "nan", "inf", "0", "-0", "1/0", "0/0",
           "99999999999999999999999999", 10**50, "3/121", "", "x" * 100, "24,576")
ACCEPTED = tuple(v for v in HOSTILE if v != "24,576")  # the ambiguous comma refuses the whole file
# every value on a sample of presets: two routing sheets (with FFNs, with capacity) and one other
SAMPLE = ("token-choice-ffn", "expert-choice-3e-top2", "shared-experts-v3")


@lru_cache(maxsize=None)
def sheet_of(name: str):
    sol = solve(preset(name).spec())
    sheet = build_sheet(sol)
    return sol, sheet, answers_template(sheet)


def toml(value) -> str:
    """A box's TOML: a whole number as it is, anything else as a string."""
    return str(value) if isinstance(value, int) else json.dumps(value)


def key_value(cell) -> str:
    """The key's own value of a box, as a learner writes it."""
    if cell.value is not None:
        return str(cell.value) if cell.value.is_Rational else repr(float(cell.value))
    return (cell.answer or cell.decimal or "").replace("≈", "").replace("−", "-").replace(",", "")


def filled(name: str, values, right_every: int = 0, write=None) -> str:
    """The preset's template with its boxes filled in sheet order from `values` (cycling), each
    written as `write` says (default toml()); with `right_every` = n, every n-th box holds the
    key's own value instead."""
    write = write or toml
    sol, sheet, template = sheet_of(name)
    boxes = iter([c for g in groups(sheet) for row in g.rows for c in row])
    count = iter(range(10**9))
    values = list(values)

    def box(_):
        n, cell = next(count), next(boxes)
        if right_every and n % right_every == 0:
            return toml(key_value(cell))
        return write(values[n % len(values)])

    return "\n".join(re.sub('""', box, line) if line.startswith("  [") else line
                     for line in template.splitlines())


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="moe-workbook")


def survives(result) -> None:
    """Exit 0, 1 or 2; never an internal error; a refusal (2) is one line 'Error: ...'."""
    text = result.stdout + result.stderr
    assert result.exit_code in (0, 1, 2), text[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "internal error" not in text and "Traceback" not in text, text[-2000:]
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and len(lines[0]) < 400, result.stderr


def check_text(tmp_path, name: str, text: str):
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    result = run("check", sheet_of(name)[0].code, path, "--show-key")
    survives(result)
    return result


# The sweeps ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [p.name for p in presets()])
def test_every_preset_survives_hostile_values_alone_and_beside_right_ones(tmp_path, name):
    every = check_text(tmp_path, name, filled(name, ACCEPTED))
    assert every.exit_code == 1 and "Overall: " in every.stdout
    mixed = check_text(tmp_path, name, filled(name, ACCEPTED, right_every=2))
    assert mixed.exit_code == 1 and "Overall: " in mixed.stdout
    for line in mixed.stdout.splitlines():
        assert len(line) < 300, line  # _shown cuts every value
    comma = check_text(tmp_path, name, filled(name, ["24,576"], right_every=3))
    assert comma.exit_code == 2 and re.search(r"Error: step\d+(_\d+)? row \d+, box \d+: '24,576' is ambiguous",
                                              comma.stderr), comma.stderr


@pytest.mark.parametrize("name", SAMPLE)
@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:24])
def test_each_hostile_value_in_every_box_and_beside_right_ones(tmp_path, name, value):
    for right_every in (0, 2):
        result = check_text(tmp_path, name, filled(name, [value], right_every))
        if value == "24,576":
            assert result.exit_code == 2 and "write 24576 or 24.576" in result.stderr
        else:
            assert result.exit_code == 1


def test_the_key_itself_still_checks_right(tmp_path):
    for name in SAMPLE:
        result = check_text(tmp_path, name, filled(name, [""], right_every=1))
        assert result.exit_code == 0, result.stdout


# The file: size, encoding, what it is -----------------------------------------------------------

def test_a_file_over_the_limit_is_refused_by_its_size(tmp_path):
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(AnswersError, match=r"is 262,145 bytes; an answer file is at most 256 KiB"):
        read_answer_file(path)
    path.write_bytes(b"#" * MAX_FILE_BYTES)
    assert len(read_answer_file(path)) == MAX_FILE_BYTES
    path.write_bytes(b"#" * (10 << 20))
    result = run("check", "10JP-82M", path)
    survives(result)
    assert result.exit_code == 2 and "at most 256 KiB" in result.stderr


def test_a_file_that_says_it_is_small_is_read_only_one_byte_past_the_limit(tmp_path, monkeypatch):
    """A file whose size the system does not know (as in /proc) is read up to the limit and one byte."""
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * (3 * MAX_FILE_BYTES))
    real = os.fstat

    def fstat(fd):
        info = real(fd)
        return os.stat_result((info.st_mode, *info[1:6], 0, *info[7:]))

    monkeypatch.setattr(check_module.os, "fstat", fstat)
    with pytest.raises(AnswersError, match="over 256 KiB"):
        read_answer_file(path)


def test_a_file_not_in_utf8_is_refused_in_one_line_and_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('code = "10JP-82M"\n# réponses\n'.encode("latin-1"))
    result = run("check", "10JP-82M", path)
    survives(result)
    assert result.exit_code == 2 and "is not UTF-8 text (byte 22 is 0xe9)" in result.stderr
    path.write_bytes(b"\xef\xbb\xbf" + b'code = "10JP-82M"\n')
    assert read_answers(read_answer_file(path), "10JP-82M") == {"code": "10JP-82M"}


def test_a_folder_a_device_a_pipe_and_a_missing_file_are_refused_without_waiting(tmp_path):
    for path, words in [(tmp_path, "cannot read answer file"), (tmp_path / "none.toml", "No such file")]:
        result = run("check", "10JP-82M", path)
        survives(result)
        assert result.exit_code == 2 and words in result.stderr
    if os.path.exists("/dev/zero"):
        with pytest.raises(AnswersError, match="not a regular file"):
            read_answer_file("/dev/zero")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        with pytest.raises(AnswersError, match="not a regular file"):
            read_answer_file(fifo)  # no writer: a blocking open would wait forever


# TOML that tomllib cannot read, or reads too slowly ----------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("a = " + "[" * 1000 + "]" * 1000, "nest too deeply"),
    ("a = " + "{b = " * 1000 + "1" + "}" * 1000, "nest too deeply"),
    ("a = " + "9" * 4400, "a number too long to read"),
    ("step1 = [[" + "9" * 5000 + "]]", "a number too long to read"),
    ("a" + ".a" * 50000 + " = 1", "a dotted key of 50001 parts"),
    ("[" + "a." * 50000 + "a]", "a dotted key of 50001 parts"),
    ("a" + " . 'a'" * 50000 + " = 1", "a dotted key of 50001 parts"),
    ('"' + "k" * 100000 + '" = 1\n"' + "k" * 100000 + '" = 2', "not valid TOML"),
    ("[" + "k" * 100000 + "]\n[" + "k" * 100000 + "]", "not valid TOML"),
    ("code = ", "not valid TOML"),
    ("\x00", "not valid TOML"),
])
def test_toml_that_cannot_be_read_is_refused_in_one_line(text, words):
    with pytest.raises(AnswersError, match=re.escape(words)) as err:
        read_answers(text, "10JP-82M")
    message = str(err.value)
    assert "\n" not in message and len(message) < 300, message


def test_the_key_length_screen_leaves_real_files_alone():
    """Decimals, dates, comments, strings and multi-line strings full of dots are not keys."""
    text = filled("token-choice-5x6", ["0.73", 1.5, "1.2.3.4.5.6.7.8.9.10"]) + (
        "\n# notes: 1.2.3.4.5.6.7.8.9.10.11\nnotes = '''\na.b.c.d.e.f.g.h.i.j\n'''\n")
    data = read_answers(text, sheet_of("token-choice-5x6")[0].code)
    assert data["notes"].strip() == "a.b.c.d.e.f.g.h.i.j"
    assert read_answers("a.b.c.d.e.f.g.h = 1", "10JP-82M")["a"]["b"]["c"]


# The file's own code --------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["10JP-82M", "10jp 82m", " 10jp-82m ", "1OJP-82M", "10JP82M", ""])
def test_the_files_code_is_forgiven_as_on_the_command_line(code):
    assert read_answers(f'code = "{code}"', "10JP-82M")["code"] == code


@pytest.mark.parametrize("line, words", [
    ('code = "11A7-G2H"', "the answer file is for variant 11A7-G2H, not 10JP-82M"),
    ('code = "11a7 g2h"', "for variant 11A7-G2H (its code reads '11a7 g2h'), not 10JP-82M"),
    ('code = "10JP-82N"', "code '10JP-82N' is not a variant code (this sheet's is 10JP-82M)"),
    ('code = "' + "Z" * 5000 + '"', "code 'ZZZZ"),
    ("code = 1082", "must be the variant code in quotes"),
    ("code = [1, 2]", "it has '[1, 2]'"),
    ("[code]\na = 1", "must be the variant code in quotes"),
])
def test_a_code_for_another_variant_or_no_code_is_refused_and_quoted(line, words):
    with pytest.raises(AnswersError, match=re.escape(words)) as err:
        read_answers(line, "10JP-82M")
    assert len(str(err.value)) < 250


# One box's value ------------------------------------------------------------------------------------

def test_parse_values_documented_examples_still_hold():
    assert parse_value(3) == F(3) and parse_value("27/37") == F(27, 37) and parse_value("−0.5") == F(-1, 2)
    assert parse_value(0.73) == 0.73 and parse_value("") is None and parse_value("abc") == "abc"
    assert parse_value("0,73") == F(73, 100) and parse_value("1,5") == F(3, 2) and parse_value("0,125") == F(1, 8)
    assert parse_value(" 6 / 26 ".replace(" ", "")) == F(3, 13) and parse_value("1e-3") == F(1, 1000)
    assert parse_value("99999999999999999999999999") == F(99999999999999999999999999)


@pytest.mark.parametrize("value", ["1e5000", "1e400", "-1e400", "1e100000000", "1e10000000", "1e999", "1e31",
                                   "1e-31", "nan", "inf", "-inf", "NaN", "1/0", "0/0", "x" * 100, "1" * 65,
                                   "1/" + "9" * 31, "9" * 31 + "/" + "9" * 31, "2" * 32, 10**50, -10**31,
                                   float("inf"), float("nan"), 1e300, True, "1,234\nfoo", "a,b,c", "24,576/3"],
                         ids=lambda v: repr(v)[:24])
def test_values_beyond_any_sheet_are_wrong_without_being_computed(value):
    assert isinstance(parse_value(value), str)


def test_a_whole_number_too_long_to_write_out_is_still_a_wrong_answer():
    assert parse_value(10**5000).startswith("a whole number of about 5001 digits")


@pytest.mark.parametrize("text, advice", [
    ("24,576", "a thousands separator or a decimal comma?): write 24576 or 24.576"),
    ("-1,000", "write -1000 or -1.000"),
    ("1,234,567", "thousands separators?): write 1234567"),
    ("0,1,2", "more than one comma"),
])
def test_an_ambiguous_comma_names_its_box(text, advice):
    sol, sheet, _ = sheet_of("token-choice-5x6")
    data = read_answers(filled("token-choice-5x6", [""]), sol.code)
    data["step2"][4][0] = text
    with pytest.raises(AnswersError) as err:
        grade(sol, sheet, data)
    assert str(err.value).startswith(f"step2 row 5, box 1: {text!r} is ambiguous (")
    assert advice in str(err.value)


# Downstream of an accepted but hostile value ---------------------------------------------------------

def test_carried_errors_from_huge_zero_and_tiny_values_are_simply_not_followed():
    sol, sheet, _ = sheet_of("token-choice-5x6")
    data = read_answers(filled("token-choice-5x6", [""], right_every=1), sol.code)
    data["step1"][0] = [10**30, "99999999999999999999999999", "1e30", "-1e30", 0]  # scores: powers of these
    data["step2"][0] = ["0", "0", "0", "0", "0"]                                     # powers
    data["step2_2"][0] = ["0"]                                                       # a row sum of 0
    data["step2_2"][1] = [5e-324]                                                    # divided by, overflows
    report = grade(sol, sheet, data)
    assert not report.all_right


@pytest.mark.parametrize("value", [F(10**5000), F(10**5000, 3), F(1, 10**5000), F(-(10**400)), 1e308,
                                   float("nan"), "1e100000000", F(10**30), 5e-324], ids=lambda v: type(v).__name__)
def test_carried_never_raises_on_values_it_cannot_follow(value):
    """Values no answer file gives (parse_value refuses them) but a caller might: not followed."""
    sol, sheet, _ = sheet_of(ROUTING)
    report = grade(sol, sheet, read_answers(filled(ROUTING, [""], right_every=1), sol.code))
    learner = {c.ref: c.given for c in report.cells}
    for ref in learner:
        if step_id_of(ref) in ("scores", "powers", "row_sum", "probs", "ffn_x", "ffn_hidden", "ffn_relu"):
            learner[ref] = value
    assert isinstance(diagnose(sol, sheet, learner, list(learner)), list)  # every step's carried rule tried


@pytest.mark.parametrize("value", [F(10**5000), F(10**5000, 3), F(1, 10**5000), F(10**90, 7), F(27, 37),
                                   float("inf"), 1e300, "x" * 1000, "24,576", None, 10**5000, b"\x00"],
                         ids=lambda v: type(v).__name__)
def test_shown_prints_any_value_in_a_line_of_about_80_characters(value):
    shown = _shown(value)
    assert isinstance(shown, str) and len(shown) <= 90 and "\n" not in shown
    assert _shown(F(27, 37)) == "27/37 (0.73)" and _shown(2.5) == "2.5" and _shown("abc") == "'abc'"


# Random files (hypothesis) --------------------------------------------------------------------------

BOX = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=80),
    st.integers(),
    st.floats(),
    st.builds(lambda a, b: f"{a}/{b}", st.integers(), st.integers()),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-99, 99), st.integers(-10**9, 10**9)),
    st.from_regex(r"-?\d{1,4}([.,]\d{0,4})*", fullmatch=True),
)
FRAGMENTS = ("step1", "step2_2", "code", "=", " ", "\n", "[", "]", "[[", "{", "}", ",", ".", '"', "'", '"""',
             "'''", "#", "\\", "1", "1e400", "9" * 50, "nan", "inf", "-", "/", '"10JP-82M"', "\x00", "é", "\t")


def _box_toml(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else "-inf" if value == -float("inf")
                                             else repr(value))
    return str(value)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(boxes=st.lists(BOX, min_size=1, max_size=40), right_every=st.sampled_from([0, 2, 3]))
def test_random_values_in_every_box(workdir, boxes, right_every):
    text = filled(ROUTING, boxes, right_every, write=_box_toml)
    path = workdir / "random.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    survives(run("check", sheet_of(ROUTING)[0].code, path))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=200),
       splice=st.booleans(), at=st.integers(0, 10**6))
def test_random_toml_ish_text(workdir, pieces, splice, at):
    text = "".join(pieces)
    if splice:  # into a real file, somewhere
        template = filled(ROUTING, [""], right_every=1)
        at %= len(template) + 1
        text = template[:at] + text + template[at:]
    path = workdir / "random.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    survives(run("check", sheet_of(ROUTING)[0].code, path))
