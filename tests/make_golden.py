"""Write the golden files the determinism tests compare against.

`python tests/make_golden.py` adds the files of codes that have none yet and leaves every existing
one alone. `--all` rewrites them all: only for a deliberate, announced change of output. A change
of problems or layout gets a new edition (spec.EDITIONS) instead, so printed codes keep their bytes.
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
CODES = ["10JP-81P", "11A7-G1K", "0FKA-8HG", "0FK5-GHJ", "0H2J-RHV",   # routing (issue 2)
         "0XM4-H1P", "0NFP-11P", "6TM4-HHN",                           # switch, top-2 with capacity
         "000Y-T17", "0017-21D",                                        # load balance
         "002H-M15",                                                    # router gradient
         "006X-WH0", "009Q-WH9",                                        # shared experts
         "1SQZ-Q313", "1SQZ-NB1Z",                                      # expert parallelism
         "0001-AHH", "0000-TH3", "0001-TH1",                            # sizing
         "0069-BHT", "007X-KH8",                                        # quantize
         # edition 2 (drawn boards): every preset's own code
         "10JP-82M", "11A7-G2H", "0FKA-8JE", "0FK5-GJG", "0H2J-RJS", "0XM4-H2M", "0NFP-12M",
         "6TM4-HJK", "000Y-T25", "0017-22B", "006X-WJY", "009Q-WJ7", "002H-M23", "0001-AJF",
         "0000-TJ1", "0001-TJZ", "0069-BJR", "007X-KJ6", "1SQZ-Q321", "1SQZ-NB2X",
         # edition 3 (answer-free worksheets): every preset's own code, and two base-e sheets
         "10JP-83J", "11A7-G3F", "0FKA-8KC", "0FK5-GKE", "0H2J-RKQ", "0XM4-H3J", "0NFP-13J",
         "6TM4-HKH", "000Y-T33", "0017-239", "006X-WKW", "009Q-WK5", "002H-M31", "0001-AKD",
         "0000-TKZ", "0001-TKX", "0069-BKP", "007X-KK4", "1SQZ-Q33Z", "1SQZ-NB3V", "6V3Y-9KK", "0G32-8K9",
         # issue 16: published models from their configurations, and the GPT-4 rumour
         "0002-X3S", "0003-53F", "0003-D37", "0003-N3Z", "0003-X3Q", "0004-53D", "0004-D35", "0004-N3X", "0004-X3N",
         # issue 16: group-limited and device-limited routing; MXFP4 and FP8 E4M3 blocks
         "ANPV-3DKN", "ANPX-0DKS", "ANPX-1DKQ", "000E-63R", "000E-E3G",
         # edition 4 (expert-choice and shared-experts problems built by construction): every preset's own code
         "10JP-84G", "11A7-G4D", "0FKA-8MA", "0FK5-GMC", "0H2J-RMN", "0XM4-H4G", "0NFP-14G", "6TM4-HMF",
         "000Y-T41", "0017-247", "006X-WMT", "009Q-WM3", "ANPV-3DMK", "ANPX-0DMQ", "002H-M4Z", "0001-AMB",
         "0000-TMX", "0001-TMV", "0002-X4Q", "0003-54D", "0003-D45", "0003-N4X", "0003-X4N", "0004-54B",
         "0004-D43", "0004-N4V", "0004-X4K", "0069-BMM", "007X-KM2", "000E-64P", "000E-E4E", "1SQZ-Q34X",
         "1SQZ-NB4S", "ANPX-1DMN"]


def outputs(code: str) -> dict:
    sol = solve(decode(code))
    sheet = build_sheet(sol)
    return {"json": render_json(sol, working=False),  # the key; the worked lines: tests/test_worked.py
            "worksheet.html": hashlib.sha256(render_html(sheet, False).encode()).hexdigest(),
            "key.html": hashlib.sha256(render_html(sheet, True).encode()).hexdigest()}


if __name__ == "__main__":
    import sys

    GOLDEN.mkdir(exist_ok=True)
    index = GOLDEN / "html-sha256.json"
    hashes = json.loads(index.read_text()) if index.exists() and "--all" not in sys.argv else {}
    for code in CODES:
        if code in hashes:
            continue
        out = outputs(code)
        (GOLDEN / f"{code}.json").write_text(out["json"], encoding="utf-8")
        hashes[code] = {"worksheet.html": out["worksheet.html"], "key.html": out["key.html"]}
    index.write_text(json.dumps(hashes, indent=1) + "\n", encoding="utf-8")
