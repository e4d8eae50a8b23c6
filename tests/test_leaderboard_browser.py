"""The built leaderboard page in a real headless browser (Debian's chromium, driven by Playwright).

Opened from disk (file://), as a reader would: no console errors, sorting reorders rows and
sets aria-sort, the heatmap is there with its legend and numbers, a `<script>` model name
stays inert text, and the relative links to result files open.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_leaderboard import _build_three

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
            viewport={"width": 1280, "height": 900},
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
    return page.eval_on_selector_all(
        "#leaderboard tbody tr", f"rows => rows.map(r => r.cells[{index}].innerText.trim())")


def header_index(page, label: str) -> int:
    labels = page.eval_on_selector_all("#leaderboard thead th", "ths => ths.map(th => th.innerText.trim())")
    return next(i for i, text in enumerate(labels) if text.startswith(label))


def test_leaderboard_page_in_chromium(tmp_path, page):
    lb = _build_three(tmp_path, tmp_path / "leaderboards")
    page.goto((lb / "index.html").as_uri())
    page.wait_for_load_state("load")

    # The <script> model name is text, visible, and nothing ran.
    evil = page.get_by_text("evil/<script>alert(1)</script>", exact=True).first
    assert evil.is_visible()
    assert page.evaluate("document.querySelectorAll('script').length") == 1

    # Default order: Max@R_norm descending.
    model, maxr = header_index(page, "Model"), header_index(page, "MultiRefCLIR Max@R_norm")
    sa, lareqa = header_index(page, "SA"), header_index(page, "LAReQA mAP")
    names = ["org/strong", "org/middle", "evil/<script>alert(1)</script>"]
    assert column_texts(page, model) == names
    th = page.locator("#leaderboard thead th").nth(maxr)
    assert th.get_attribute("aria-sort") == "descending"

    # Clicking a sorted header flips it; values are compared as numbers.
    th.locator("button").click()
    assert th.get_attribute("aria-sort") == "ascending"
    assert column_texts(page, maxr) == ["25.0", "45.0", "75.0"]
    assert column_texts(page, model) == names[::-1]

    # Model sorts as text, ascending first; the other headers go back to "none".
    page.locator("#leaderboard thead th").nth(model).locator("button").click()
    assert column_texts(page, model) == ["evil/<script>alert(1)</script>", "org/middle", "org/strong"]
    assert th.get_attribute("aria-sort") == "none"
    assert page.locator("#leaderboard thead th").nth(model).get_attribute("aria-sort") == "ascending"

    # A missing value ("—") stays last in both directions.
    lareqa_button = page.locator("#leaderboard thead th").nth(lareqa).locator("button")
    lareqa_button.click()
    assert column_texts(page, lareqa) == ["51.0", "31.0", "—"]
    lareqa_button.click()
    assert column_texts(page, lareqa) == ["31.0", "51.0", "—"]

    # Keyboard works too (the header is a real button).
    page.locator("#leaderboard thead th").nth(sa).locator("button").focus()
    page.keyboard.press("Enter")
    assert column_texts(page, sa) == ["0.600", "0.500", "0.450"]

    # Heatmap: models x languages with numbers in the cells, and its legend.
    heat = page.locator("#heatmap")
    assert heat.is_visible()
    assert heat.locator("thead th").all_inner_texts() == ["Model", "de", "zh"]
    cells = heat.locator("td.cell")
    assert cells.count() == 6
    first_row = heat.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first_row == ["70.0", "80.0"]
    backgrounds = {cells.nth(i).evaluate("c => getComputedStyle(c).backgroundColor") for i in range(6)}
    assert len(backgrounds) >= 5  # colours differ with the value
    assert page.locator("#heatmap-legend").is_visible()

    # Explanations at the top.
    explain = page.locator("dl.explain").inner_text()
    for term in ("Max@R_norm", "English preference", "LAReQA mAP", "SA", "great", "no alignment"):
        assert term in explain

    page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
    shot = os.environ.get("XALIGN_SCREENSHOT")
    if shot:  # keep a copy to look at
        shutil.copy(tmp_path / "leaderboard.png", shot)
    assert (tmp_path / "leaderboard.png").stat().st_size > 10_000

    # A result link opens the stored file from disk (the model with the hostile name, too).
    href = page.locator("#leaderboard a", has_text="MultiRefCLIR").last.get_attribute("href")
    assert "%3Cscript%3E" in href
    page.locator("#leaderboard a", has_text="MultiRefCLIR").last.click()
    page.wait_for_load_state("load")
    assert json.loads(page.locator("body").inner_text())["task_name"] == "MultiRefCLIR"

    assert page.problems == []
