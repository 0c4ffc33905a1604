"""Plates (workbook/plate.py): a class set lays each preset's pages out once and sets every
student's numbers, code and name into them. Printed, each student's pages must be the pages a
full layout of the same student gives: compared here as pictures, page for page, for every preset
(the everyday run takes one; `-m full_audit` every preset, on A4 or Letter in turn)."""

import dataclasses

import numpy as np
import pytest
from conftest import pictures

from workbook import exam, plate, render_pdf
from workbook.plate import Lettering
from workbook.presets import presets
from workbook.roster import Student

# names in several scripts and lengths: Latin with marks, Chinese (a fallback font), Greek with an
# em space (not a space to collapse), and one long enough to wrap on its line
NAMES = ("Ada Lovelace", "Zoë Ångström-Ørsted", "李小龙", "Γιώργος\u2003Παπαδόπουλος",
         "Maximiliana Wilhelmina Featherstonehaugh-Cholmondeley")
DPI = 100
# Every pixel of one picture must be within TOLERANCE grey levels of some pixel at most one pixel
# (a quarter of a millimetre) away in the other, both ways. Poppler snaps each glyph to its pixel
# grid, so a glyph placed a thousandth of a point differently may move by a pixel: that passes; a
# line a point off (128), a wrong glyph (about 200) or a missing one (255) does not.
TOLERANCE = 96


def _grey(pgm: bytes) -> np.ndarray:
    """A binary PGM (P5) picture as an array."""
    parts = pgm.split(maxsplit=4)
    assert parts[0] == b"P5"
    width, height = int(parts[1]), int(parts[2])
    return np.frombuffer(parts[4][-width * height:], dtype=np.uint8).reshape(height, width)


def _laid(name: str, paper: str, names=NAMES, options=None):
    """Each student's sheet set into plates (as a class set does) and laid out in full."""
    plan = exam.plan_exam([next(p for p in presets() if p.name == name)], 7,
                          tuple(Student(i + 1, n) for i, n in enumerate(names)))
    printables = [exam._printable(a, a.solutions[0][1], paper, options or {}) for a in plan]
    plate._plates.clear()
    plate._families.clear()
    return [plate.lay_out(p, name) for p in printables], [render_pdf.lay_out(p) for p in printables]


def _apart(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per pixel of x, how far its grey is from the nearest grey among y's pixels around it."""
    h, w = x.shape
    pad = np.pad(y, 1, mode="edge")
    best = np.full(x.shape, 255)
    for i in range(3):
        for j in range(3):
            best = np.minimum(best, np.abs(x - pad[i:i + h, j:j + w]))
    return best


def _stamped(laid) -> bool:
    return any(isinstance(layer, Lettering) for entries in laid.sides.values() for entry in entries for layer in entry)


def _same_pictures(stamped, full, paper, tmp_path, tag):
    a = render_pdf.print_sheets([[s] for s in stamped], pad=paper)
    b = render_pdf.print_sheets([[s] for s in full], pad=paper)
    for side in ("worksheet", "key"):
        ours = pictures(a.pdfs[side], tmp_path, f"{tag}-{side}-plate", DPI)
        theirs = pictures(b.pdfs[side], tmp_path, f"{tag}-{side}-full", DPI)
        assert len(ours) == len(theirs), f"{tag} {side}: {len(ours)} pages set, {len(theirs)} laid out"
        for number, (x, y) in enumerate(zip(ours, theirs), 1):
            x, y = _grey(x).astype(int), _grey(y).astype(int)
            assert x.shape == y.shape
            off = np.maximum(_apart(x, y), _apart(y, x))
            assert off.max() <= TOLERANCE, (f"{tag} {side} page {number}: {int((off > TOLERANCE).sum())} pixels "
                                            f"differ by more than {TOLERANCE}")
    assert [g[s][:2] for g in a.groups for s in ("worksheet", "key")] == \
        [g[s][:2] for g in b.groups for s in ("worksheet", "key")]


def _check(name, paper, tmp_path, names=NAMES):
    stamped, full = _laid(name, paper, names)
    assert _stamped(stamped[0]), f"{name}: its plate was not used for the student it was made from"
    _same_pictures(stamped, full, paper, tmp_path, name)
    return stamped


def test_a_plate_prints_what_a_full_layout_prints(tmp_path):
    """Five named students of one preset: every one is set into the first one's plate but the
    Chinese name (another font, whose line metrics differ) and the long name (it wraps onto a
    second line), which are laid out in full; printed, every page is the full layout's. (Every
    preset: the full audit.)"""
    stamped = _check("token-choice-ffn", "a4", tmp_path)
    assert [_stamped(s) for s in stamped] == [True, True, False, True, False]


@pytest.mark.full_audit
@pytest.mark.parametrize("name, paper", [(p.name, ("a4", "letter")[i % 2]) for i, p in enumerate(presets())])
def test_every_preset_prints_the_same_from_its_plate(name, paper, tmp_path):
    """Every preset, on A4 and Letter in turn: three students, the first the plate's own."""
    _check(name, paper, tmp_path, NAMES[:2] + ("Grace Hopper",))


def test_a_keys_chart_of_the_answers_is_each_students_own(tmp_path):
    """A key that draws a chart of the student's answers (switch's load per expert) gets the
    student's chart in the plate's place: set, and printed as a full layout prints it."""
    stamped = _check("switch-8x4", "letter", tmp_path, names=("", ""))
    assert all(_stamped(s) for s in stamped)


def test_unnamed_students_are_all_set_into_one_plate():
    stamped, _ = _laid("quantize-int8-int4", "letter", names=("",) * 4)
    assert all(_stamped(s) for s in stamped)


def test_a_plate_that_would_misplace_its_own_numbers_is_not_used(monkeypatch):
    """make() sets its own student's numbers and compares each line with where WeasyPrint put
    it: a face whose line metrics were off by a little would fail that, and no plate is made."""
    original = plate._faces

    def off_by_a_little(pages):
        return {role: dataclasses.replace(face, ascent=face.ascent + 0.01) for role, face in original(pages).items()}

    monkeypatch.setattr(plate, "_faces", off_by_a_little)
    plan = exam.plan_exam([next(p for p in presets() if p.name == "token-choice-ffn")], 7, (Student(1, ""),))
    printable = exam._printable(plan[0], plan[0].solutions[0][1], "a4", {})
    assert plate.make(printable, printable.htmls[0]) is None


def test_a_student_whose_page_differs_elsewhere_is_laid_out_in_full():
    """The skeleton (the HTML without the words a plate sets) is compared whole: a sheet with
    anything else of its own is not set into another student's plate."""
    plan = exam.plan_exam([next(p for p in presets() if p.name == "token-choice-ffn")], 7,
                          (Student(1, ""), Student(2, "")))
    a, b = (exam._printable(x, x.solutions[0][1], "a4", {}) for x in plan)
    made = plate.make(a, a.htmls[0])
    assert made.set(b, b.htmls[0]) is not None
    changed = b.htmls[0].replace("Step 1 ·", "Step 1 :")
    assert made.set(dataclasses.replace(b, htmls=(changed,)), changed) is None


def _changed(laid, how):
    """A LaidOut whose Letterings' runs are changed by `how`."""
    sides = {side: tuple(tuple(dataclasses.replace(layer, runs=how(layer.runs)) if isinstance(layer, Lettering)
                               else layer for layer in entry) for entry in entries)
             for side, entries in laid.sides.items()}
    return dataclasses.replace(laid, sides=sides)


def _next_glyph(runs):
    """The first run's last glyph drawn as the glyph after it in the font."""
    first = runs[0]
    glyphs = first[5][:-1] + ((first[5][-1][0] + 1, first[5][-1][1]),)
    return (first[:5] + (glyphs,),) + runs[1:]


@pytest.mark.parametrize("how", [lambda runs: tuple(r[:3] + (r[3] + 1.0,) + r[4:] for r in runs), _next_glyph,
                                 lambda runs: runs[1:]], ids=["a point to the right", "a wrong glyph", "a line left out"])
def test_the_picture_comparison_sees_a_misplaced_wrong_or_missing_number(how, tmp_path):
    stamped, full = _laid("token-choice-ffn", "a4", names=("",))
    with pytest.raises(AssertionError, match="differ by more than"):
        _same_pictures([_changed(stamped[0], how)], full, "a4", tmp_path, "changed")


def test_a_plate_that_fails_costs_speed_never_the_sheet(monkeypatch):
    """WeasyPrint's boxes are not a public interface: where setting a sheet fails (here: the
    step that shapes the header's words breaks), the sheet is laid out in full, as before."""
    def broken(plate, words):
        raise AttributeError("a box without the attribute this module expects")

    monkeypatch.setattr(plate, "_set_words", broken)
    stamped, full = _laid("token-choice-ffn", "a4", names=("",))
    assert not _stamped(stamped[0]) and len(stamped[0].drawn) == len(full[0].drawn)
