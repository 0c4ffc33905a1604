"""workbook.pdf, answer-key.pdf and solutions.pdf as books (course.build_course): a cover, a
contents page whose page numbers are right, every sheet on an odd page, workbook and key page for page aligned,
bookmarks on the right pages, the same bytes on every build.

Everything is checked by reading the PDFs back with pypdf, against the sheets' own PDFs: a
sheet's first page is the one printing 'page 1 of', and the page the contents names must be it.
Three presets keep it cheap: a one-page sheet and a three-page one (both padded), a two-page one."""

import io
import re
from functools import lru_cache

import pytest
from pypdf import PdfReader

from workbook import __version__
from workbook.course import COURSE_TITLE, build_course, front_matter
from workbook.presets import preset

pytestmark = pytest.mark.pdf

CHOSEN = ("sizing-eight-experts", "load-balance-switch", "expert-choice-3e-top2")
BOOKS = {"workbook": "worksheet", "answer-key": "key", "solutions": "solutions"}
LABELS = {"workbook": "Workbook", "answer-key": "Answer key", "solutions": "Worked solutions"}


@lru_cache(maxsize=None)
def built(paper: str, jobs: int = 1) -> dict:
    return dict(build_course(paper, tuple(preset(name) for name in CHOSEN), jobs=jobs))


@lru_cache(maxsize=None)
def books(paper: str) -> dict:
    """book -> (its reader, the text of each of its pages)."""
    suffix = "-letter" if paper == "letter" else ""
    return {book: read(built(paper)[f"{book}{suffix}.pdf"]) for book in BOOKS}


@lru_cache(maxsize=None)
def own(paper: str, side: str) -> list[tuple[str, PdfReader, tuple]]:
    """Each sheet's own PDF of a side, in course order: its code (from its file name), its
    reader and its pages' text."""
    found = []
    for name in CHOSEN:
        (file,) = [f for f in built(paper) if f.startswith(name + "-") and f.endswith(f"-{side}.pdf")]
        code = re.fullmatch(rf"{re.escape(name)}-(.+?)(-letter)?-{side}\.pdf", file)[1]
        found.append((code, *read(built(paper)[file])))
    return found


def read(pdf: bytes) -> tuple[PdfReader, tuple]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, tuple(page.extract_text() for page in reader.pages)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def first_pages(texts: tuple) -> list[int]:
    """The pages (from 1) on which a sheet begins: they print 'page 1 of N'."""
    return [i for i, text in enumerate(texts, 1) if re.search(r"page 1 of \d+", text)]


def title(sheet: PdfReader) -> str:
    """A sheet's title: the heading its first bookmark carries."""
    return sheet.outline[0].title


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_the_cover_says_what_the_book_is(paper):
    for book, (_, texts) in books(paper).items():
        cover = texts[0]
        assert COURSE_TITLE in cover and f"moe-workbook {__version__}" in cover
        assert f"{len(CHOSEN)} sheets" in cover
        assert {"a4": "A4", "letter": "US Letter"}[paper] in cover
        assert LABELS[book] in cover
        assert not re.search(r"20\d\d", cover)  # no date: the same bytes on every run


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_the_contents_names_each_sheet_s_first_page(paper):
    for book, (_, texts) in books(paper).items():
        contents = texts[1]
        assert "Contents" in contents
        for code, sheet, pages in own(paper, BOOKS[book]):
            assert squash(title(sheet)) in squash(contents), (book, code)
            match = re.search(rf"{re.escape(code)}\s+(\d+)", contents)
            assert match, (book, code, contents)
            page = int(match[1])
            named = texts[page - 1]  # the page the contents names is the sheet's first: its code, 'page 1 of'
            assert code in named and re.search(r"page 1 of \d+", named), (book, code, page)
            assert named == pages[0], (book, code, page)
            assert page % 2 == 1, (book, code, page)


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_every_sheet_starts_on_an_odd_page_and_the_books_are_aligned(paper):
    (_, workbook), (_, key) = books(paper)["workbook"], books(paper)["answer-key"]
    assert len(workbook) == len(key) and len(workbook) % 2 == 0
    starts = {book: first_pages(texts) for book, (_, texts) in books(paper).items()}
    assert starts["workbook"] == starts["answer-key"]
    assert len(starts["workbook"]) == len(CHOSEN)
    assert all(page % 2 == 1 for page in starts["workbook"]), starts
    for book, (_, texts) in books(paper).items():  # every page of every sheet, in order, then blank pages
        ends = starts[book][1:] + [len(texts) + 1]
        for (code, _, pages), start, end in zip(own(paper, BOOKS[book]), starts[book], ends):
            assert texts[start - 1:start - 1 + len(pages)] == pages, (book, code)
            assert end - start == len(pages) + len(pages) % 2, (book, code)
            assert all("left blank" in text for text in texts[start - 1 + len(pages):end - 1]), (book, code)
    for a, b in zip(workbook, key):  # page for page: the same sheet, the other side
        assert set(re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{3,4}\b", a)) == set(re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{3,4}\b", b))
    assert "Worksheet" in workbook[starts["workbook"][0] - 1]
    assert "Answer key" in key[starts["answer-key"][0] - 1]
    assert "Worked solutions" in books(paper)["solutions"][1][starts["solutions"][0] - 1]


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_bookmarks_point_to_the_right_pages(paper):
    for book, (reader, texts) in books(paper).items():
        top = [item for item in reader.outline if not isinstance(item, list)]
        sheets = own(paper, BOOKS[book])
        assert [item.title for item in top] == ["Cover", "Contents"] + [title(sheet) for _, sheet, _ in sheets]
        pages = [reader.get_destination_page_number(item) for item in top]
        assert pages[:2] == [0, 1]
        assert [p + 1 for p in pages[2:]] == first_pages(texts)
        nested = [item for item in reader.outline if isinstance(item, list)]
        assert len(nested) == len(sheets)
        for (code, sheet, _), start, steps in zip(sheets, pages[2:], nested):  # each step where its sheet has it
            theirs = [(i.title, sheet.get_destination_page_number(i)) for i in sheet.outline[1]]
            ours = [(i.title, reader.get_destination_page_number(i) - start) for i in steps]
            assert ours == theirs, (book, code)


def test_two_builds_give_the_same_bytes():
    """Laid out again, in two processes instead of one: the same bytes, every file."""
    assert built("a4", jobs=2) == built("a4")
    assert b"CreationDate" not in built("a4")["workbook.pdf"]


def test_a_contents_longer_than_a_page_moves_the_sheets_on():
    """70 sheets: the contents takes more than one page, so the front takes 4 pages (even) and the
    first sheet starts on page 5; each number is the one before plus that sheet's pages."""
    sheets = [(f"A sheet with a title long enough to fill a line, number {i}", f"00{i:02d}-A{i % 10}B")
              for i in range(70)]
    lengths = [2 + 2 * (i % 3) for i in range(70)]
    fronts, count = front_matter(sheets, lengths, "a4")
    assert count % 2 == 0 and count > 2
    for side, (pdf, pages, marks) in fronts.items():
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == pages <= count
        assert [label for _, label, _, _ in marks] == ["Cover", "Contents"]
        text = "\n".join(page.extract_text() for page in reader.pages[1:])
        expected = count + 1
        for (title, code), length in zip(sheets, lengths):
            match = re.search(rf"{re.escape(code)}\s+(\d+)", text)
            assert match and int(match[1]) == expected, (side, code)
            expected += length
