"""Reproducible by code: `key CODE` writes the very bytes `generate` wrote for that code, PDF and
HTML, key and (with --worksheet) worksheet, on both papers. A PDF embeds font subsets of the
glyphs of every page it was drawn with, so the key alone must be drawn as `generate` draws it,
with its worksheet (render_pdf.lay_out); its title and keywords must be the same too."""

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from workbook.cli import cli

pytestmark = pytest.mark.pdf

CASES = [("token-choice-ffn", "a4"), ("token-choice-ffn", "letter"),  # routing with the expert FFNs
         ("load-balance-top2", "a4"), ("load-balance-top2", "letter")]


def run(*args) -> list[Path]:
    result = CliRunner().invoke(cli, list(args), prog_name="moe-workbook")
    assert result.exit_code == 0 and result.exception is None, result.output
    return [Path(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("name, paper", CASES)
def test_key_gives_the_bytes_generate_wrote(name, paper, tmp_path):
    generated = run("generate", name, "--format", "pdf,html", "--paper", paper, "--out", str(tmp_path / "g"))
    (stem,) = {p.name.split("-worksheet")[0] for p in generated if "-worksheet." in p.name}
    code = stem[len(name) + 1:].removesuffix("-letter")
    for side, extra in (("key", ()), ("worksheet", ("--worksheet",))):
        rebuilt = run("key", code, *extra, "--format", "pdf,html", "--paper", paper, "--out", str(tmp_path / side))
        assert sorted(p.suffix for p in rebuilt) == [".html", ".pdf"]
        for path in rebuilt:
            (written,) = [p for p in generated if p.name.endswith(f"-{side}{path.suffix}")]
            assert path.read_bytes() == written.read_bytes(), (name, paper, path.name)
        pdf = next(p for p in rebuilt if p.suffix == ".pdf").read_bytes()
        info = PdfReader(io.BytesIO(pdf)).metadata
        assert code in info.title and info["/Keywords"] == f"variant {code}"
        assert ("Answer key" if side == "key" else "Worksheet") in info.title
