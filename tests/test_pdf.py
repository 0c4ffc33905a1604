"""PDFs read back with pypdf: the key shows every answer, the code is on every page, worksheet
and key have the same pages, nothing runs off A4 or Letter, and nothing is fetched."""

import io
import re
from functools import lru_cache

import pytest
from conftest import pictures
from pypdf import PdfReader

from workbook.presets import presets
from workbook.render_html import printable, render_html
from workbook.render_pdf import lay_out, print_sheets, render_pdf
from workbook.layout import cells
from workbook.sheet import build_sheet
from workbook.solve import solve

pytestmark = pytest.mark.pdf

# Every preset on both papers: in the everyday run on one of them (A4 and Letter in turn), the
# other with the full audit (`pytest -m full_audit`, which .ci/run runs too).
NAMES = [p.name for p in presets()]
PAPERS = [pytest.param(name, paper, id=f"{name}-{paper}",
                       marks=() if (i + (paper == "letter")) % 2 == 0 else pytest.mark.full_audit)
          for i, name in enumerate(NAMES) for paper in ("a4", "letter")]
EVERYDAY = {name: ("a4", "letter")[i % 2] for i, name in enumerate(NAMES)}  # each preset's paper in the everyday run
# Page-by-page reading of the code, page numbers and where text sits: in the everyday run the
# first preset of each kind on its paper; every preset on both papers with the full audit.
FIRSTS = {next(p.name for p in presets() if p.exercise == kind) for kind in dict.fromkeys(p.exercise for p in presets())}
PAGES = [pytest.param(name, paper, id=f"{name}-{paper}",
                      marks=() if name in FIRSTS and paper == EVERYDAY[name] else pytest.mark.full_audit)
         for name in NAMES for paper in ("a4", "letter")]


@lru_cache(maxsize=None)
def rendered(name: str, paper: str):
    p = next(p for p in presets() if p.name == name)
    sheet = build_sheet(solve(p.spec()), paper)
    pdfs = print_sheets([[lay_out(printable(sheet))]]).pdfs  # the route every PDF the tool writes takes
    return sheet, pdfs["worksheet"], pdfs["key"]


def _steps(text: str) -> list[str]:
    return re.findall(r"Step \d+ ·", text)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("preset_name, paper", PAGES)
def test_pages_line_up_and_carry_the_code(preset_name, paper):
    sheet, worksheet, key = rendered(preset_name, paper)
    ws, k = PdfReader(io.BytesIO(worksheet)), PdfReader(io.BytesIO(key))
    assert len(ws.pages) == len(k.pages)
    n = len(ws.pages)
    for i, (a, b) in enumerate(zip(ws.pages, k.pages), 1):  # the same steps start on the same page
        assert _steps(a.extract_text()) == _steps(b.extract_text()), (preset_name, paper, i)
    for reader, kind in ((ws, "Worksheet"), (k, "Answer key")):
        for i, page in enumerate(reader.pages, 1):
            text = page.extract_text()
            assert sheet.code in text, (kind, i)
            assert f"page {i} of {n}" in text, (kind, i)
            assert kind in text


@pytest.mark.parametrize("preset_name, paper", PAGES)
def test_nothing_runs_off_the_page(preset_name, paper):
    _, worksheet, key = rendered(preset_name, paper)
    for pdf in (worksheet, key):
        for page in PdfReader(io.BytesIO(pdf)).pages:
            width, height = float(page.mediabox.width), float(page.mediabox.height)
            spots = []

            def visit(text, cm, tm, font, size):
                if text.strip():
                    spots.append((cm[0] * tm[4] + cm[2] * tm[5] + cm[4], cm[1] * tm[4] + cm[3] * tm[5] + cm[5]))

            page.extract_text(visitor_text=visit)
            assert spots
            assert all(0 <= x <= width - 20 and 0 <= y <= height for x, y in spots)


def test_key_shows_every_answer_and_worksheet_none(preset_name):
    sheet, worksheet, key = rendered(preset_name, EVERYDAY[preset_name])
    key_text = _squash("".join(p.extract_text() for p in PdfReader(io.BytesIO(key)).pages))
    blanks = [c for c in cells(sheet.sections) if c.blank]
    assert blanks
    for cell in blanks:
        for shown in (cell.answer, cell.decimal):
            if shown:
                assert _squash(shown) in key_text, (cell.ref, shown)
    ws_text = _squash("".join(p.extract_text() for p in PdfReader(io.BytesIO(worksheet)).pages))
    fractions = {c.answer for c in blanks if "/" in c.answer}
    assert not any(f in ws_text for f in fractions)


def test_same_code_same_pdf_bytes():
    name = presets()[0].name
    _, worksheet, key = rendered(name, "a4")
    sheet = build_sheet(solve(presets()[0].spec()))
    assert print_sheets([[lay_out(printable(sheet))]]).pdfs["key"] == key  # laid out afresh: the same bytes
    assert b"CreationDate" not in key and b"ModDate" not in key


def test_nothing_is_fetched(monkeypatch):
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("moe-workbook tried to fetch a URL")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", no_network)
    html = ('<html><head><link rel="stylesheet" href="http://example.com/x.css"></head>'
            '<body><img src="http://example.com/x.png"><img src="file:///etc/passwd">hello</body></html>')
    pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF") and "hello" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_the_course_build_joins_every_sheet_in_course_order():
    """build_course on two presets laid out in two processes: each sheet's files, and the combined
    workbook and answer key holding every page of every worksheet (key) in course order, after
    a cover and a contents page, each sheet padded to an even count (tests/test_course_book.py
    checks the books in full)."""
    from workbook.course import build_course
    chosen = presets()[:2]
    files = dict(build_course("a4", chosen, jobs=2))
    workbook, key = PdfReader(io.BytesIO(files["workbook.pdf"])), PdfReader(io.BytesIO(files["answer-key.pdf"]))
    sheets = [(name, PdfReader(io.BytesIO(data))) for name, data in files.items()
              if name.endswith("-worksheet.pdf")]
    assert [n.split("-")[0] for n, _ in sheets] == [p.name.split("-")[0] for p in chosen]
    padded = [len(r.pages) + len(r.pages) % 2 for _, r in sheets]
    assert len(workbook.pages) == len(key.pages) == 2 + sum(padded)
    first = sheets[0][1].pages[0].extract_text()
    assert workbook.pages[2].extract_text() == first and "Answer key" in key.pages[2].extract_text()
    titles = [item.title for item in workbook.outline if not isinstance(item, list)]  # a bookmark per sheet
    assert titles[:2] == ["Cover", "Contents"] and len(titles) == 2 + len(chosen) and titles[2] in first
    second = workbook.get_destination_page_number([i for i in workbook.outline if not isinstance(i, list)][3])
    assert second == 2 + padded[0]


def _looks_like_own_html(pdfs: dict, sheet, folder) -> None:
    for side in ("worksheet", "key"):
        plain = render_pdf(render_html(sheet, side == "key"))
        assert pictures(pdfs[side], folder, side) == pictures(plain, folder, side + "-plain"), side


@pytest.mark.parametrize("preset_name, paper", PAPERS)
def test_printed_sides_look_exactly_like_their_own_html(preset_name, paper, tmp_path):
    """The tool draws what worksheet and key share once and lays each side's own boxes over it
    (render_pdf.lay_out, binding.bind): every page must look exactly as the side's own HTML
    laid out on its own would."""
    sheet, worksheet, key = rendered(preset_name, paper)
    _looks_like_own_html({"worksheet": worksheet, "key": key}, sheet, tmp_path)


def test_an_edition_1_sheet_prints_as_its_own_html_too(tmp_path):
    from workbook.code import decode

    sheet = build_sheet(solve(decode("10JP-81P")))  # tables, a worksheet and a key laid out apart
    pdfs = print_sheets([[lay_out(printable(sheet))]]).pdfs
    _looks_like_own_html(pdfs, sheet, tmp_path)


@pytest.mark.parametrize("options", [{"scaffold": "guided", "font_size": 12.0, "title": "Midterm <1>"},
                                     {"scaffold": "exam", "font_size": 7.0}])
def test_a_class_set_sheet_prints_as_its_own_html_too(options, tmp_path):
    """A named student's sheet with a form letter, another scaffold and font size: the exam's route."""
    from workbook.exam import Assignment, _printable, _sheet
    from workbook.roster import Student

    sol = solve(next(p for p in presets() if p.name == "token-choice-ffn").spec(seed=5))
    a = Assignment(Student(1, "Zoë O'Brien-Ñúñez, a rather long name to shrink"), "B", (("token-choice-ffn", sol),))
    pdfs = print_sheets([[lay_out(_printable(a, sol, "letter", options))]]).pdfs
    sheet = _sheet(a, sol, "letter", options)
    _looks_like_own_html(pdfs, sheet, tmp_path)


def test_a_side_s_layer_never_paints_over_the_shared_page(tmp_path):
    """A page background (here the body's, drawn on the whole page) belongs to the shared page;
    each side's layer holds only its own boxes, so it cannot cover what both sides show."""
    from workbook.render_html import Printable

    style = "@page { size: A6; margin: 10mm } body { background: #ffeeaa } p { font-size: 20pt }"
    body = '<p>shared words</p><p class="only-ws">blank</p><p class="only-key">42</p>'
    pair = f"<html><head><style>{style}</style></head><body>{body}</body></html>"
    pdfs = print_sheets([[lay_out(Printable((pair,), ("worksheet", "key")))]]).pdfs
    for side, other in (("worksheet", "only-key"), ("key", "only-ws")):
        alone = pair.replace("</style>", f" .{other} {{ visibility: hidden }}</style>")
        assert pictures(pdfs[side], tmp_path, side) == pictures(render_pdf(alone), tmp_path, side + "-alone"), side


def test_bookmarks_nest_by_level_even_when_a_level_is_skipped():
    from workbook.binding import JoinedPdf

    part = render_pdf("<p style='break-after: page'>one</p><p>two</p>")
    joined = JoinedPdf()
    joined.add(part, [(0, "A", 0, None), (2, "B", 1, None), (2, "C", 1, 100.0), (0, "D", 1, None)])
    reader = PdfReader(io.BytesIO(joined.pdf("t")))
    shape = [[i.title for i in item] if isinstance(item, list) else item.title for item in reader.outline]
    assert shape == ["A", ["B", "C"], "D"]
    assert [reader.get_destination_page_number(i) for i in (reader.outline[0], reader.outline[2])] == [0, 1]
