"""Write the golden files the determinism tests compare against.

Run only for a deliberate, announced change of output (and bump GENERATOR_VERSION when the
problems themselves change): python tests/make_golden.py
"""

import hashlib
import json
from pathlib import Path

from workbook.code import decode
from workbook.render_html import render_html
from workbook.render_json import render_json
from workbook.sheet import build_sheet
from workbook.solve import solve

GOLDEN = Path(__file__).parent / "golden"
CODES = ["10JP-81P", "11A7-G1K", "0FKA-8HG", "0FK5-GHJ", "0H2J-RHV"]


def outputs(code: str) -> dict:
    sol = solve(decode(code))
    sheet = build_sheet(sol)
    return {"json": render_json(sol),
            "worksheet.html": hashlib.sha256(render_html(sheet, False).encode()).hexdigest(),
            "key.html": hashlib.sha256(render_html(sheet, True).encode()).hexdigest()}


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    hashes = {}
    for code in CODES:
        out = outputs(code)
        (GOLDEN / f"{code}.json").write_text(out["json"], encoding="utf-8")
        hashes[code] = {"worksheet.html": out["worksheet.html"], "key.html": out["key.html"]}
    (GOLDEN / "html-sha256.json").write_text(json.dumps(hashes, indent=1) + "\n", encoding="utf-8")
