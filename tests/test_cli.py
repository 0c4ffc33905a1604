"""The moe-workbook command line, driven in-process with click's CliRunner.

Checks help and version, the README's command list, `list`, `solve` (JSON, codes, --seeds, no
WeasyPrint), `generate` and `key` (file names, determinism, one small PDF), that every bad input
is one line "Error: ..." with exit status 2 (usage) or 1 (other) and writes nothing, and that
variant codes typed sloppily are accepted while mistyped ones are refused.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbook.cli import cli
from workbook.presets import presets

ROOT = Path(__file__).parent.parent
COMMANDS = ("list", "generate", "key", "solve", "build", "exam", "answers", "check", "grade")
SMALLEST = "expert-choice-3e-top2"          # 3 experts, 5 tokens: the cheapest preset to render
TC = "token-choice-5x6"                     # 5 experts, 6 tokens, top-2
EC = "expert-choice-3e-top2"                # 5 tokens, capacity 2
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32, as in workbook/code.py
ALIASES = {"0": "O", "1": "IL"}             # letters the decoder reads as these digits


def run(*args):
    return CliRunner().invoke(cli, list(args), prog_name="moe-workbook")


def ok(*args):
    result = run(*args)
    assert result.exception is None, result.output
    assert result.exit_code == 0, result.output
    return result


def solve_json(*args) -> dict:
    return json.loads(ok("solve", *args).stdout)


def preset_code(name: str) -> str:
    return solve_json(name)["code"]


def assert_one_line_error(result, status: int, *words: str):
    """Exit `status`, stderr exactly one line 'Error: ...' naming the problem, no traceback."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == status, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert len(lines[0]) > len("Error: ") + 10, lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert result.stdout == "", result.stdout
    return lines[0]


def assert_nothing_written(out: Path):
    assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())


# 1. Help, examples and version ------------------------------------------------------------------

def test_every_command_is_registered():
    assert set(cli.commands) == set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_and_an_example(name):
    command = cli.commands[name]
    assert command.help and command.help.strip()
    assert command.get_short_help_str().strip()
    assert "Example:" in command.help
    assert f"moe-workbook {name}" in command.help.split("Example:", 1)[1]


def test_group_has_help_and_an_example():
    assert cli.help and "Example:" in cli.help


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_group_help(flag):
    result = ok(flag)
    assert "Usage: moe-workbook" in result.stdout
    assert "Example:" in result.stdout
    for name in COMMANDS:
        assert name in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("name", COMMANDS)
def test_command_help(name, flag):
    result = ok(name, flag)
    assert f"Usage: moe-workbook {name}" in result.stdout
    assert "Example:" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag):
    from workbook import __version__
    result = ok(flag)
    assert result.stdout.strip() == f"moe-workbook, version {__version__}"


# 2. README names every command -------------------------------------------------------------------

def test_readme_names_every_command():
    readme = ROOT / "README.md"
    assert readme.is_file(), "README.md is missing at the repository root"
    text = readme.read_text(encoding="utf-8")
    missing = [name for name in COMMANDS if f"`moe-workbook {name}" not in text]
    assert not missing, f"README.md does not show these commands as `moe-workbook NAME ...`: {missing}"


# 3. list ------------------------------------------------------------------------------------------

def test_list_prints_one_line_per_preset():
    result = ok("list")
    lines = result.stdout.splitlines()
    known = presets()
    assert {"token-choice-5x6", "token-choice-ffn", "expert-choice-5e-top2", "expert-choice-3e-top2",
            "expert-choice-5e-top3"} <= {p.name for p in known}
    assert len(lines) == len(known)
    for line, p in zip(lines, known):
        assert line.split()[0] == p.name
        assert p.exercise in line
        assert p.title in line
    assert result.stderr == ""


# 4. solve -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [p.name for p in presets()])
def test_solve_preset_prints_json_and_its_code_gives_the_same(name):
    first = ok("solve", name).stdout
    data = json.loads(first)
    assert data["schema"] == "moe-workbook/1"
    for key in ("code", "exercise", "params", "conventions", "inputs", "steps"):
        assert key in data, key
    p = next(p for p in presets() if p.name == name)
    assert data["exercise"] == p.exercise
    assert data["seed"] == p.seed
    assert ok("solve", data["code"]).stdout == first


def test_solve_seed_range_prints_json_lines():
    result = ok("solve", TC, "--seeds", "1-5")
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    objects = [json.loads(line) for line in lines]
    assert [o["seed"] for o in objects] == [1, 2, 3, 4, 5]
    assert all(o["schema"] == "moe-workbook/1" for o in objects)
    assert len({o["code"] for o in objects}) == 5
    # each line is the same variant as `solve PRESET --seed N`
    assert objects[2] == solve_json(TC, "--seed", "3")


def test_solve_code_with_seed_range():
    code = preset_code(TC)
    lines = ok("solve", code, "--seeds", "1-3").stdout.splitlines()
    assert [json.loads(line)["seed"] for line in lines] == [1, 2, 3]
    assert lines == ok("solve", TC, "--seeds", "1-3").stdout.splitlines()


def test_solve_does_not_import_weasyprint():
    script = (
        "import sys\n"
        "from workbook import cli\n"
        "try:\n"
        "    cli.cli.main(['solve', 'token-choice-5x6'], prog_name='moe-workbook')\n"
        "except SystemExit as err:\n"
        "    assert not err.code, err.code\n"
        "loaded = 'weasyprint' in sys.modules\n"
        "print('WEASYPRINT-LOADED' if loaded else 'WEASYPRINT-NOT-LOADED', file=sys.stderr)\n"
        "sys.exit(3 if loaded else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert "WEASYPRINT-NOT-LOADED" in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schema"] == "moe-workbook/1"


# 5. generate --------------------------------------------------------------------------------------

def test_generate_json_and_html(tmp_path):
    out = tmp_path / "out"
    result = ok("generate", TC, "--format", "json,html", "--out", str(out))
    printed = [Path(line) for line in result.stdout.splitlines()]
    assert len(printed) == 3
    assert all(p.is_file() for p in printed)
    names = sorted(p.name for p in printed)
    assert sorted(p.name for p in out.iterdir()) == names
    code = preset_code(TC)
    assert names == sorted([f"{TC}-{code}.json", f"{TC}-{code}-worksheet.html", f"{TC}-{code}-key.html"])
    assert any(n.endswith("-worksheet.html") for n in names)
    assert any(n.endswith("-key.html") for n in names)
    assert json.loads((out / f"{TC}-{code}.json").read_text(encoding="utf-8")) == solve_json(TC)


def test_generate_seed_changes_the_code(tmp_path):
    result = ok("generate", TC, "--seed", "7", "--format", "json", "--out", str(tmp_path))
    (path,) = [Path(line) for line in result.stdout.splitlines()]
    assert path.name == f"{TC}-{solve_json(TC, '--seed', '7')['code']}.json"


@pytest.mark.pdf
def test_generate_pdf_for_the_smallest_preset(tmp_path):
    result = ok("generate", SMALLEST, "--format", "pdf", "--out", str(tmp_path))
    printed = [Path(line) for line in result.stdout.splitlines()]
    code = preset_code(SMALLEST)
    expected = {tmp_path / f"{SMALLEST}-{code}-worksheet.pdf", tmp_path / f"{SMALLEST}-{code}-key.pdf"}
    assert set(printed) == expected
    for path in expected:
        assert path.read_bytes().startswith(b"%PDF")
    assert set(tmp_path.iterdir()) == expected


def test_generate_letter_paper_names_files(tmp_path):
    result = ok("generate", TC, "--paper", "letter", "--format", "html", "--out", str(tmp_path))
    printed = [Path(line) for line in result.stdout.splitlines()]
    code = preset_code(TC)
    assert sorted(p.name for p in printed) == sorted(
        [f"{TC}-{code}-letter-worksheet.html", f"{TC}-{code}-letter-key.html"])
    assert all(p.is_file() for p in printed)
    a4 = ok("generate", TC, "--format", "html", "--out", str(tmp_path / "a4")).stdout
    assert "-letter" not in a4


# 6. key -------------------------------------------------------------------------------------------

def test_key_writes_only_the_key(tmp_path):
    code = preset_code(TC)
    result = ok("key", code, "--format", "html", "--out", str(tmp_path))
    printed = [Path(line) for line in result.stdout.splitlines()]
    assert len(printed) == 1 and printed[0].name.endswith("-key.html")
    assert code in printed[0].name
    assert list(tmp_path.iterdir()) == printed


def test_key_worksheet_writes_only_the_worksheet(tmp_path):
    code = preset_code(TC)
    result = ok("key", code, "--worksheet", "--format", "html", "--out", str(tmp_path))
    printed = [Path(line) for line in result.stdout.splitlines()]
    assert len(printed) == 1 and printed[0].name.endswith("-worksheet.html")
    assert list(tmp_path.iterdir()) == printed


def test_key_letter_paper(tmp_path):
    code = preset_code(TC)
    (path,) = [Path(line) for line in ok("key", code, "--paper", "letter", "--format", "html",
                                         "--out", str(tmp_path)).stdout.splitlines()]
    assert path.name.endswith("-letter-key.html")


def test_key_matches_generate(tmp_path):
    code = preset_code(EC)
    ok("generate", EC, "--format", "html,json", "--out", str(tmp_path / "g"))
    ok("key", code, "--format", "html,json", "--out", str(tmp_path / "k"))
    gen = {p.name.split(code)[1]: p.read_bytes() for p in (tmp_path / "g").iterdir()}
    key = {p.name.split(code)[1]: p.read_bytes() for p in (tmp_path / "k").iterdir()}
    assert set(key) == {"-key.html", ".json"}
    assert key["-key.html"] == gen["-key.html"]
    assert key[".json"] == gen[".json"]


def test_key_is_byte_identical_twice(tmp_path):
    code = preset_code(EC)
    for run_no in ("1", "2"):
        ok("key", code, "--format", "html,json", "--out", str(tmp_path / run_no))
    first = sorted((tmp_path / "1").iterdir())
    second = sorted((tmp_path / "2").iterdir())
    assert [p.name for p in first] == [p.name for p in second]
    assert {p.suffix for p in first} == {".html", ".json"}
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


# 7. Bad input: one line, exit 2 (usage) or 1 (other), nothing written ----------------------------

BAD_GENERATE = [
    # (id, extra args for `generate`, words the message must contain)
    ("unknown-preset", ["no-such-preset"], ["no-such-preset"]),
    ("unknown-format", [TC, "--format", "xls"], ["xls"]),
    ("empty-format", [TC, "--format", ","], ["format"]),
    ("k-above-E", [TC, "--top-k", "6"], ["top-k", "6"]),
    ("k-equals-E", [TC, "--top-k", "5"], ["top-k", "5"]),
    ("k-zero", [TC, "--top-k", "0"], ["top-k"]),
    ("capacity-equals-tokens", [EC, "--capacity", "5"], ["capacity"]),
    ("capacity-above-tokens", [EC, "--capacity", "6"], ["capacity"]),
    ("capacity-tokens-minus-1", [EC, "--capacity", "4"], ["capacity"]),
    ("capacity-zero", [EC, "--capacity", "0"], ["capacity"]),
    ("top-k-on-expert-choice", [EC, "--top-k", "2"], ["top-k"]),
    ("capacity-on-token-choice", [TC, "--capacity", "2"], ["capacity"]),
    ("tokens-zero", [TC, "--tokens", "0"], ["tokens"]),
    ("experts-negative", [TC, "--experts", "-1"], ["experts"]),
    ("d-model-zero", [TC, "--d-model", "0"], ["d-model"]),
    ("d-ff-negative", [TC, "--d-ff", "-2"], ["d-ff"]),
    ("tokens-too-large", [TC, "--tokens", "40"], ["tokens", "at most 10"]),
    ("experts-too-large", [TC, "--experts", "9"], ["experts", "at most 8"]),
    ("tokens-too-large-ec", [EC, "--tokens", "40"], ["tokens", "at most 10"]),
    ("seed-not-a-number", [TC, "--seed", "abc"], ["--seed", "abc"]),
    ("seed-negative", [TC, "--seed", "-1"], ["--seed"]),
    ("tokens-not-a-number", [TC, "--tokens", "many"], ["--tokens", "many"]),
    ("unknown-gate", [TC, "--gate", "relu"], ["--gate", "relu"]),
    ("unknown-paper", [TC, "--paper", "a3"], ["--paper", "a3"]),
    ("missing-preset", [], ["PRESET"]),
    ("unknown-option", [TC, "--colour", "red"], ["--colour"]),
]


@pytest.mark.parametrize("args,words", [pytest.param(a, w, id=i) for i, a, w in BAD_GENERATE])
def test_generate_bad_input(tmp_path, args, words):
    out = tmp_path / "out"
    result = run("generate", *args, "--format", "html,json", "--out", str(out)) \
        if "--format" not in args else run("generate", *args, "--out", str(out))
    assert_one_line_error(result, 2, *words)
    assert_nothing_written(out)


@pytest.mark.parametrize("args,words", [pytest.param(a, w, id=i) for i, a, w in BAD_GENERATE
                                        if "--format" not in a and "--paper" not in a])
def test_solve_bad_input(args, words):
    assert_one_line_error(run("solve", *args), 2, *words)


BAD_SOLVE = [
    ("seeds-reversed", [TC, "--seeds", "9-3"], ["9-3", "reversed"]),
    ("seeds-dots", [TC, "--seeds", "1..3"], ["--seeds", "1..3"]),
    ("seeds-word", [TC, "--seeds", "abc"], ["--seeds", "abc"]),
    ("seeds-open", [TC, "--seeds", "3-"], ["--seeds"]),
    ("seeds-single", [TC, "--seeds", "3"], ["--seeds"]),
    ("seeds-negative", [TC, "--seeds", "-3-5"], ["--seeds"]),
    ("seeds-too-large", [TC, "--seeds", "1-99999999999"], ["--seeds"]),
    ("seed-and-seeds", [TC, "--seed", "1", "--seeds", "1-2"], ["--seed", "--seeds"]),
    ("malformed-code", ["!!!!"], ["!!!!"]),
    ("unknown-preset", ["no-such-preset"], ["no-such-preset"]),
    ("unknown-command", None, ["frobnicate"]),
]


@pytest.mark.parametrize("args,words", [pytest.param(a, w, id=i) for i, a, w in BAD_SOLVE])
def test_solve_bad_input_more(args, words):
    result = run("frobnicate") if args is None else run("solve", *args)
    assert_one_line_error(result, 2, *words)


def test_solve_code_with_options_is_refused():
    code = preset_code(TC)
    for extra in (["--tokens", "4"], ["--gate", "softmax2"], ["--no-ffn"], ["--top-k", "1"]):
        assert_one_line_error(run("solve", code, *extra), 2, "code")


def test_solve_code_with_seed_is_allowed():
    code = preset_code(TC)
    assert solve_json(code, "--seed", "7") == solve_json(TC, "--seed", "7")


def test_key_malformed_code(tmp_path):
    out = tmp_path / "out"
    for bad in ("!!!!", "AB", TC, "10JP-81P-UU"):
        assert_one_line_error(run("key", bad, "--format", "html", "--out", str(out)), 2)
    assert_nothing_written(out)


def test_key_bad_format(tmp_path):
    out = tmp_path / "out"
    result = run("key", preset_code(TC), "--format", "xls", "--out", str(out))
    assert_one_line_error(result, 2, "xls")
    assert_nothing_written(out)


def single_character_changes(code: str):
    """Every code that differs from `code` in one character's value (aliases and case excluded)."""
    for i, ch in enumerate(code):
        if ch == "-":
            continue
        for other in CODE_ALPHABET:
            if other != ch:
                yield code[:i] + other + code[i + 1:]


@pytest.mark.parametrize("name", [TC, EC])
def test_every_single_character_change_of_a_code_is_refused(tmp_path, name):
    code = preset_code(name)
    changed = list(single_character_changes(code))
    assert len(changed) == 31 * len(code.replace("-", ""))
    out = tmp_path / "out"
    for bad in changed:
        result = run("solve", bad)
        assert_one_line_error(result, 2, "check character")
    # and through `key`, a few of them, with an output folder that must stay absent
    for bad in changed[::37]:
        assert_one_line_error(run("key", bad, "--format", "html", "--out", str(out)), 2,
                              "check character")
    assert_nothing_written(out)


def test_mistyped_code_examples_are_refused():
    code = preset_code(TC)                           # '10JP-81P'
    body = code.replace("-", "")
    assert len(body) >= 4
    for bad in (code[:-1] + ("A" if code[-1] != "A" else "B"),    # check character itself
                ("2" if code[0] != "2" else "3") + code[1:],      # first character
                code.lower()[:2] + ("z" if code[2] != "Z" else "y") + code.lower()[3:]):
        assert_one_line_error(run("solve", bad), 2)


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "afile"
    path.write_text("not a folder\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("sub", ["sub", "sub/deeper", None])
def test_generate_unwritable_out(a_file, sub):
    out = a_file if sub is None else a_file / sub
    result = run("generate", TC, "--format", "html,json", "--out", str(out))
    assert_one_line_error(result, 1, "output folder")
    assert a_file.read_text(encoding="utf-8") == "not a folder\n"
    assert sorted(p.name for p in a_file.parent.iterdir()) == ["afile"]


def test_key_unwritable_out(a_file):
    result = run("key", preset_code(TC), "--format", "html", "--out", str(a_file / "sub"))
    assert_one_line_error(result, 1, "output folder")
    assert sorted(p.name for p in a_file.parent.iterdir()) == ["afile"]


def test_build_unwritable_out_fails_fast(a_file):
    result = run("build", "--out", str(a_file / "sub"))
    assert_one_line_error(result, 1, "output folder")
    assert sorted(p.name for p in a_file.parent.iterdir()) == ["afile"]


def test_no_command_prints_help_and_succeeds():
    result = run()
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage:"), result.stdout
    assert "build" in result.stdout and "Error" not in result.output


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGALRM"), reason="needs SIGALRM")
def test_d_model_1_with_5_experts_is_an_error_not_a_hang():
    import signal

    def too_slow(signum, frame):
        raise TimeoutError("moe-workbook solve did not return within 5 s")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(5)           # a refusal or a GenerationError takes well under a second
    try:
        result = run("solve", TC, "--d-model", "1")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not isinstance(result.exception, TimeoutError), "hangs"
    if result.exit_code != 0:
        assert_one_line_error(result, result.exit_code, "d-model" if result.exit_code == 2 else "")
        assert result.exit_code in (1, 2)
    else:
        assert json.loads(result.stdout)["params"]["d_model"] == 1


# 8. Sloppy codes ----------------------------------------------------------------------------------

def sloppy_forms(code: str) -> list[str]:
    body = code.replace("-", "")
    forms = [
        code.lower(),                           # lower case
        code.replace("-", " "),                 # spaces instead of dashes
        body,                                   # no dashes
        body.lower(),                           # no dashes, lower case
        f"  {code}  ",                          # spaces around
        " ".join(body),                         # a space between every character
    ]
    for digit, letters in ALIASES.items():      # O for 0, I and L for 1
        if digit in body:
            for letter in letters:
                forms.append(code.replace(digit, letter))
                forms.append(code.replace(digit, letter.lower()))
    return forms


@pytest.mark.parametrize("name", [TC, EC])
def test_sloppy_codes_are_accepted(name):
    exact = ok("solve", name).stdout
    code = json.loads(exact)["code"]
    forms = sloppy_forms(code)
    if name == TC:
        assert "0" in code and any("O" in f for f in forms), (code, forms)
    for form in forms:
        assert ok("solve", form).stdout == exact, form


def test_sloppy_code_o_for_zero():
    exact = ok("solve", TC).stdout
    code = json.loads(exact)["code"]
    assert "0" in code
    assert ok("solve", code.replace("0", "O")).stdout == exact
    assert ok("solve", code.replace("0", "o").replace("-", " ").lower()).stdout == exact


def test_sloppy_code_through_key(tmp_path):
    code = preset_code(TC)
    exact = ok("key", code, "--format", "json", "--out", str(tmp_path / "a")).stdout
    sloppy = ok("key", code.lower().replace("-", " ").replace("0", "o"), "--format", "json",
                "--out", str(tmp_path / "b")).stdout
    (a,) = [Path(p) for p in exact.splitlines()]
    (b,) = [Path(p) for p in sloppy.splitlines()]
    assert a.name == b.name
    assert a.read_bytes() == b.read_bytes()


# 9. --set NAME=VALUE for any parameter of any exercise -----------------------------------------

def test_set_changes_a_parameter_of_any_exercise():
    data = json.loads(ok("solve", "shared-experts-deepseekmoe", "--set", "variant=v3", "--set", "tokens=3").stdout)
    assert data["params"]["variant"] == "v3" and data["params"]["tokens"] == 3
    assert "bias_new" in {s["id"] for s in data["steps"]}


@pytest.mark.parametrize("assignment, words", [
    ("variant=v4", ("variant", "v4")),
    ("foo=1", ("foo", "shared-experts")),
    ("tokens=x", ("tokens", "whole number")),
    ("tokens", ("NAME=VALUE",)),
])
def test_set_with_bad_input_is_a_one_line_usage_error(assignment, words):
    assert_one_line_error(run("solve", "shared-experts-deepseekmoe", "--set", assignment), 2, *words)


def test_set_does_not_go_with_a_code():
    code = json.loads(ok("solve", "shared-experts-deepseekmoe").stdout)["code"]
    assert_one_line_error(run("solve", code, "--set", "tokens=3"), 2, "code")


def test_an_internal_error_is_one_line_too(monkeypatch):
    import workbook.cli as cli_module

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(cli_module, "solve", broken)
    monkeypatch.delenv("MOE_WORKBOOK_DEBUG", raising=False)
    assert_one_line_error(run("solve", "token-choice-5x6"), 1, "internal error", "boom")


def test_generate_takes_set_too(tmp_path):
    ok("generate", "shared-experts-deepseekmoe", "--set", "variant=v3", "--format", "json", "--out", str(tmp_path))
    (written,) = tmp_path.glob("*.json")
    assert json.loads(written.read_text())["params"]["variant"] == "v3"


@pytest.mark.parametrize("command", [["key"], ["answers"], ["check", "x.toml"]])
def test_a_preset_name_where_a_code_goes_is_said_so(command):
    result = run(command[0], "token-choice-5x6", *command[1:])
    assert result.exit_code == 2
    assert result.output.strip().startswith("Error: 'token-choice-5x6' is a preset, not a variant code")


@pytest.mark.parametrize("command", ["generate", "key"])
def test_help_lists_every_format(command):
    assert "interactive" in run(command, "-h").output
