"""The built leaderboard page in a real headless browser (Debian's chromium, driven by Playwright).

Opened from disk (file://), as a reader would: no console errors, sorting reorders rows and
sets aria-sort, search and every filter hide the right rows (and the per-language tables
follow), a `<script>` model name stays inert text, and the relative links to result files open.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_leaderboard import EVIL, _build_three

CHROMIUM = os.environ.get("XALIGN_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)),
                       reason=f"chromium not found at {CHROMIUM} (`make setup` installs Debian's chromium)"),
]


@pytest.fixture
def page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = context.new_page()
            page.problems = []  # console errors, page errors, dialogs
            page.on("console", lambda msg: msg.type == "error" and page.problems.append(f"console: {msg.text}"))
            page.on("pageerror", lambda exc: page.problems.append(f"pageerror: {exc}"))

            def on_dialog(dialog):
                page.problems.append(f"dialog: {dialog.message}")
                dialog.dismiss()

            page.on("dialog", on_dialog)
            yield page
        finally:
            context.close()


def column_texts(page, index: int) -> list[str]:
    """The shown values (a cell's first line: its rank band or interval is on the lines below)."""
    return page.eval_on_selector_all(
        "#leaderboard tbody tr:not([hidden])",
        f"rows => rows.map(r => r.cells[{index}].innerText.trim().split('\\n')[0])")


def model_names(page) -> list[str]:
    return page.eval_on_selector_all("#leaderboard tbody tr:not([hidden]) .model",
                                     "els => els.map(e => e.innerText.trim())")


def header_index(page, label: str) -> int:
    labels = page.eval_on_selector_all("#leaderboard thead th", "ths => ths.map(th => th.innerText.trim())")
    return next(i for i, text in enumerate(labels) if text.startswith(label))


def visible_heat_rows(page) -> int:
    return page.eval_on_selector_all("table.heat tbody tr", "rows => rows.filter(r => !r.hidden).length")


def test_leaderboard_page_in_chromium(tmp_path, page):
    lb = _build_three(tmp_path, tmp_path / "leaderboards",
                      known_models={"org/str\u043eng": "r0"})  # a registered look-alike: flagged
    page.goto((lb / "index.html").as_uri())
    page.wait_for_load_state("load")

    # The <script> model name is text, visible, and nothing ran.
    evil = page.get_by_text(EVIL, exact=True).first
    assert evil.is_visible()
    assert page.evaluate("document.querySelectorAll('script').length") == 1
    assert "looks like org/str\u043eng" in page.locator("#leaderboard").inner_text()

    # Default order: the Borda rank, best first.
    names = ["org/strong", "org/middle", EVIL]
    assert model_names(page) == names
    rank, maxr = header_index(page, "Rank"), header_index(page, "Max@R_norm")
    assert column_texts(page, rank) == ["1", "2", "3"]
    assert page.locator("#leaderboard thead th").nth(rank).get_attribute("aria-sort") == "ascending"

    # Clicking a header sorts by it (numbers as numbers), twice reverses.
    th = page.locator("#leaderboard thead th").nth(maxr)
    th.locator("button").click()
    assert th.get_attribute("aria-sort") == "descending"
    assert column_texts(page, maxr) == ["75.0", "45.0", "25.0"]
    th.locator("button").click()
    assert column_texts(page, maxr) == ["25.0", "45.0", "75.0"]
    assert page.locator("#leaderboard thead th").nth(rank).get_attribute("aria-sort") == "none"

    # A missing value ("—") stays last in both directions.
    lareqa = page.locator("#leaderboard thead th").nth(header_index(page, "LAReQA mAP")).locator("button")
    lareqa.click()
    assert column_texts(page, header_index(page, "LAReQA mAP")) == ["51.0", "31.0", "—"]
    lareqa.click()
    assert column_texts(page, header_index(page, "LAReQA mAP")) == ["31.0", "51.0", "—"]

    # Keyboard works too (the header is a real button).
    page.locator("#leaderboard thead th").nth(rank).locator("button").focus()
    page.keyboard.press("Enter")
    assert column_texts(page, rank) == ["1", "2", "3"]

    # Search, and each filter; the per-language tables follow the rows.
    heat_rows = visible_heat_rows(page)
    page.fill("#filter-search", "STRONG")
    assert model_names(page) == ["org/strong"]
    assert visible_heat_rows(page) < heat_rows
    assert page.locator("#shown").inner_text() == "1 of 3 model revisions shown"
    page.fill("#filter-search", "")
    assert model_names(page) == names
    page.select_option("#filter-license", "apache-2.0")
    assert model_names(page) == ["org/middle"]
    page.select_option("#filter-license", "")
    page.select_option("#filter-open", "no")
    assert model_names(page) == ["org/middle"]
    page.select_option("#filter-open", "")
    page.select_option("#filter-size", "100M-1B")
    assert model_names(page) == ["org/strong", "org/middle"]  # 560M and 118M
    page.select_option("#filter-size", "unknown")
    assert model_names(page) == [EVIL]
    page.select_option("#filter-size", "")
    # Language: models declaring it (or declaring none), and only the cells in that language.
    page.select_option("#filter-language", "cmn-Hans")
    assert model_names(page) == ["org/strong", EVIL]
    shown_heads = page.eval_on_selector_all("table.heat thead th[data-langs]:not([hidden])",
                                            "ths => ths.map(th => th.innerText.trim())")
    assert shown_heads and all("zh" in head for head in shown_heads), shown_heads
    page.select_option("#filter-language", "")
    assert model_names(page) == names

    # Both bias directions beside their chance levels.
    heads = page.eval_on_selector_all("#leaderboard thead th", "ths => ths.map(th => th.innerText.trim())")
    i = heads.index("English pref. (q-X) %")
    assert heads[i:i + 4] == ["English pref. (q-X) %", "chance %", "X pref. (q-en) %", "chance %"]

    # Per-language and per-subset tables, coloured by value.
    cells = page.locator("table.heat td.cell")
    assert cells.count() >= 12
    backgrounds = {cells.nth(i).evaluate("c => getComputedStyle(c).backgroundColor") for i in range(12)}
    assert len(backgrounds) >= 4

    page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
    shot = os.environ.get("XALIGN_SCREENSHOT")
    if shot:  # keep a copy to look at
        shutil.copy(tmp_path / "leaderboard.png", shot)
    assert (tmp_path / "leaderboard.png").stat().st_size > 10_000

    # A result link opens the stored file from disk (the model with the hostile name, too).
    link = page.locator("#leaderboard a", has_text="MultiRefCLIR").last
    assert "%3Cscript%3E" in link.get_attribute("href")
    link.click()
    page.wait_for_load_state("load")
    assert json.loads(page.locator("body").inner_text())["task_name"] == "MultiRefCLIR"

    assert page.problems == []
