"""Packaging: the wheel carries templates/ and exercises/, and the package finds them."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbook.presets import presets
from workbook.resources import resource_dir

ROOT = Path(__file__).resolve().parent.parent


def test_resources_are_found():
    assert (resource_dir("templates") / "worksheet.html").is_file()
    assert (resource_dir("templates") / "key.html").is_file()
    assert len(presets()) >= 5


def test_wheel_contains_templates_and_exercises(tmp_path):
    pytest.importorskip("build")
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = next(tmp_path.glob("moe_workbook-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in ("worksheet.html", "key.html", "sheet.css"):
        assert f"workbook/templates/{template}" in names
    for toml in (ROOT / "exercises").glob("*.toml"):
        assert f"workbook/exercises/{toml.name}" in names
    assert "workbook/cli.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "workbook", "list"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "token-choice-5x6" in result.stdout
