"""Start-up: what a command imports before it does anything, in a fresh interpreter.

`--help`, `-V`, `list`, a bare `moe-workbook` and every `COMMAND -h` import neither numpy, sympy,
Jinja2 nor WeasyPrint; `solve` imports no renderer (Jinja2, WeasyPrint). Each case runs
workbook.entry.main() (what the `moe-workbook` script runs) in a new process and reads
sys.modules afterwards. Also: WeasyPrint, imported through render_pdf, finds its libraries by
their sonames without child processes, and with WeasyPrint's own lookup when a soname does not
open.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.cli import cli

ROOT = Path(__file__).parent.parent
HEAVY = ("numpy", "sympy", "jinja2", "weasyprint")
RENDERERS = ("jinja2", "weasyprint", "pydyf", "pikepdf")

# Run the command as the `moe-workbook` script does, then print the top-level modules loaded
# (on stderr's last line, after whatever the command wrote).
_PROBE = """
import json, sys
sys.argv = ["moe-workbook", *json.loads(sys.argv[1])]
status = 0
try:
    from workbook.entry import main
    main()
except SystemExit as err:
    status = err.code
sys.stdout.flush()
print(json.dumps({"status": status, "modules": sorted({m.split(".")[0] for m in sys.modules})}),
      file=sys.stderr)
"""


def started(*args: str) -> tuple[dict, str]:
    """({'status': exit status, 'modules': top-level modules loaded}, stdout) of one command."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.splitlines()[-1]), proc.stdout


LIGHT = [(), ("--help",), ("-h",), ("-V",), ("--version",), ("list",)] + [(name, "-h") for name in sorted(cli.commands)]


@pytest.mark.parametrize("args", LIGHT, ids=lambda args: " ".join(args) or "bare")
def test_help_version_and_list_import_nothing_heavy(args):
    report, out = started(*args)
    assert report["status"] in (0, None), report
    assert out.strip()
    loaded = sorted(set(HEAVY) & set(report["modules"]))
    assert not loaded, f"moe-workbook {' '.join(args)} imported {loaded}"


def test_list_still_lists_every_preset():
    from workbook.presets import presets

    _, out = started("list")
    assert [line.split()[0] for line in out.splitlines()] == [p.name for p in presets()]


@pytest.mark.parametrize("args", [("solve", "token-choice-5x6"), ("solve", "token-choice-5x6", "--seeds", "1-2")],
                         ids=["one seed", "seeds"])
def test_solve_imports_no_renderer(args):
    report, out = started(*args)
    assert report["status"] in (0, None), report
    assert json.JSONDecoder().raw_decode(out)[0]["schema"] == "moe-workbook/1"
    loaded = sorted(set(RENDERERS) & set(report["modules"]))
    assert not loaded, f"moe-workbook {' '.join(args)} imported {loaded}"


def test_exam_scaffold_choices_are_the_layouts():
    """The command line offers the scaffolds the layout knows (one definition, in spec.py)."""
    from workbook import cli as cli_module
    from workbook.layout import SCAFFOLDS

    assert cli_module.SCAFFOLDS == SCAFFOLDS


# Import WeasyPrint as render_pdf does, counting the child processes started meanwhile; print
# which libraries it opened and the count.
_WEASYPRINT = """
import json, subprocess, sys
from workbook import render_pdf
render_pdf._SONAMES.update(json.loads(sys.argv[1]))
children = []
start = subprocess.Popen.__init__
def counted(self, *args, **kwargs):
    children.append(args[0] if args else kwargs.get("args"))
    return start(self, *args, **kwargs)
subprocess.Popen.__init__ = counted
render_pdf.import_weasyprint()
subprocess.Popen.__init__ = start
from weasyprint.text import ffi
import ctypes
missing = []
for soname in render_pdf._SONAMES.values():
    try:
        ctypes.CDLL(soname)
    except OSError:
        missing.append(soname)
opened = {name: getattr(ffi, name) is not None for name in
          ("gobject", "pango", "harfbuzz", "harfbuzz_subset", "fontconfig", "pangoft2")}
print(json.dumps({"children": len(children), "missing": missing, "opened": opened}))
"""


def weasyprint_import(sonames: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-c", _WEASYPRINT, json.dumps(sonames or {})], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the soname shortcut is for Linux")
def test_weasyprint_finds_its_libraries_without_child_processes():
    report = weasyprint_import()
    assert all(report["opened"][name] for name in ("gobject", "pango", "harfbuzz", "fontconfig", "pangoft2"))
    # only a library whose soname does not open (an optional one not installed) is looked up, by
    # find_library (ldconfig, gcc, ld: at most 3 processes); WeasyPrint alone starts about 60
    assert report["children"] <= 3 * len(report["missing"]), report


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the soname shortcut is for Linux")
def test_weasyprint_falls_back_to_its_own_lookup_when_a_soname_does_not_open():
    report = weasyprint_import({"pango-1.0": "libpango-1.0.so.99", "fontconfig": "libfontconfig-not-there.so.1"})
    assert report["opened"]["pango"] and report["opened"]["fontconfig"], report
    assert report["children"] >= 1, report
