"""Determinism: the same code gives byte-identical JSON and HTML today and in later versions.

The JSON compared is the key's (every step's exact and decimal values); the worked lines JSON
carries too may be reworded in later versions and are checked against the key instead
(tests/test_worked.py)."""

import json

import pytest

from make_golden import CODES, GOLDEN, outputs


@pytest.mark.parametrize("code", CODES)
def test_golden_code_gives_the_same_json_and_html(code):
    out = outputs(code)
    assert out["json"] == (GOLDEN / f"{code}.json").read_text(encoding="utf-8")
    hashes = json.loads((GOLDEN / "html-sha256.json").read_text())[code]
    assert out["worksheet.html"] == hashes["worksheet.html"]
    assert out["key.html"] == hashes["key.html"]


def test_golden_json_parses_back_exactly():
    import sympy

    data = json.loads((GOLDEN / f"{CODES[1]}.json").read_text())
    assert data["schema"] == "moe-workbook/1"
    for step in data["steps"]:
        def walk(e, d):
            if isinstance(e, list):
                assert isinstance(d, list) and len(e) == len(d)
                for a, b in zip(e, d):
                    walk(a, b)
            else:
                assert abs(float(sympy.sympify(e)) - d) < 1e-12
        walk(step["exact"], step["decimal"])
