"""The HTML sheets print from a browser (a real headless Chromium, Debian's chromium driven by
Playwright) as they print from moe-workbook: page margins from the sheet's @page rule, the grids
(background pictures) printed although "background graphics" is off, and worksheet and key with
the same number of pages. On screen the sheet is a page-wide column."""

import pytest
from conftest import pictures

from workbook.presets import preset
from workbook.render_html import render_html
from workbook.sheet import build_sheet
from workbook.solve import solve


def _printed(browser, html: str, folder, tag: str) -> list[bytes]:
    """The HTML printed by the browser (its own defaults: no background graphics, the page size
    and margins the sheet asks for), each page as a 30 dpi grey picture."""
    page = browser.new_page()
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("data:") else route.continue_())
    page.set_content(html)
    pdf = page.pdf(prefer_css_page_size=True)
    page.close()
    return pictures(pdf, folder, tag, dpi=30)


def _dark(picture: bytes) -> int:
    return sum(1 for b in picture[-250_000:] if b < 160)


@pytest.mark.parametrize("name", ["token-choice-capacity", "quantize-int8-int4"])
def test_a_sheet_prints_from_the_browser_with_its_grids_and_margins(browser, name, tmp_path):
    sheet = build_sheet(solve(preset(name).spec()))
    worksheet = _printed(browser, render_html(sheet), tmp_path, "ws")
    key = _printed(browser, render_html(sheet, True), tmp_path, "key")
    assert len(worksheet) == len(key) >= 1
    text_only = _printed(browser, render_html(sheet).replace("background-image", "x-background"), tmp_path, "bare")
    # The grids are drawn: the printed pages are much darker than the same pages without them.
    assert sum(map(_dark, worksheet)) > 1.3 * sum(map(_dark, text_only))
    # Margins: nothing printed within 10 mm of the page's left and right edges (A4 at 30 dpi: 248 wide).
    for picture in worksheet:
        header, pixels = picture.split(b"\n255\n", 1)
        width, height = map(int, header.split()[-2:])
        edge = round(10 / 25.4 * 30)
        for row in range(height):
            line = pixels[row * width:(row + 1) * width]
            assert min(line[:edge] + line[-edge:]) > 200, f"ink within 10 mm of a side, row {row}"


def test_on_screen_the_sheet_is_a_page_wide_column(browser):
    sheet = build_sheet(solve(preset("token-choice-5x6").spec()))
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.set_content(render_html(sheet))
    box = page.locator("body").bounding_box()
    page.close()
    assert box["width"] < 800 and box["x"] > 300  # about 186 mm wide, centred
