"""Issue "Polish", item 11 in a real browser: Compare draws both versions with bpmn-js, the elements added, changed
and removed marked in the legend's colours.

The new version (Review request renamed, a "Decision recorded" event added, the Reminder branch removed) is
deployed through the engine, as an analyst's upload would.
"""

from __future__ import annotations

import os
import re

from browsing import log_in, main_nav
from diagram_edits import changed_request
from helpers import REQUEST
from playwright.sync_api import Page, expect

from engine.db import unit_of_work
from engine.usecases import deployments

SHOTS = os.environ.get("DIAGRAM_SHOTS")  # a folder for a screenshot, as in test_diagram_browser.py


def console_errors(page: Page) -> list[str]:
    """Errors the page logs from now on (a CSP refusal of an inline style or script included)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(error.message))
    return errors


def element(page: Page, side: str, element_id: str):
    return page.locator(f'#diagram-{side} g.djs-element[data-element-id="{element_id}"]')


def stroke(locator) -> str:
    """The outline colour of a diagram element's first drawn part."""
    return locator.evaluate("g => getComputedStyle(g.querySelector(':scope > .djs-visual > :first-child')).stroke")


def swatch_colour(locator) -> str:
    return locator.evaluate("s => getComputedStyle(s).borderTopColor")


def test_compare_marks_added_changed_and_removed_elements_with_a_legend(page: Page, demo, session_factory):
    with unit_of_work(session_factory) as session:
        deployments.deploy(session, demo.actor("analyst"), REQUEST, changed_request())
    errors = console_errors(page)
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, "admin")
    main_nav(page, "Processes")
    section = page.locator("section.process").filter(has_text="invoice_cancellation_request")
    expect(section.get_by_label("Compare version")).to_have_value(re.compile(r"\d+"))
    section.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 1 → version 2")
    for side in ("old", "new"):
        expect(page.locator(f"#diagram-{side}")).to_have_attribute("data-rendered", "true")

    legend = page.get_by_role("list", name="Legend")
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("Added (2)")
    expect(legend).to_contain_text("Changed (2)")
    expect(legend).to_contain_text("Removed (5)")

    # Version 1 shows what goes (and what changes); version 2 what comes (and what changes).
    removed = element(page, "old", "remind_deciders")
    expect(removed).to_have_class(re.compile(r"\bdiff-removed\b"))
    expect(element(page, "old", "flow_remind_deciders_end_reminded")).to_have_class(re.compile(r"\bdiff-removed\b"))
    added = element(page, "new", "decision_recorded")
    expect(added).to_have_class(re.compile(r"\bdiff-added\b"))
    expect(element(page, "new", "flow_decision_recorded_decision_gateway")).to_have_class(re.compile(r"\bdiff-added\b"))
    for side in ("old", "new"):
        expect(element(page, side, "review_request")).to_have_class(re.compile(r"\bdiff-changed\b"))
        expect(element(page, side, "record_decision")).not_to_have_class(re.compile(r"\bdiff-"))
    expect(page.locator("#diagram-new")).to_contain_text("Approve cancellation request")
    expect(page.locator('#diagram-new g.djs-element[data-element-id="remind_deciders"]')).to_have_count(0)

    # The legend's swatches show the markers' colours, and the three kinds differ.
    swatches = {kind: legend.locator(f'.swatch[data-marker="diff-{kind}"]') for kind in ("added", "changed", "removed")}
    assert swatch_colour(swatches["removed"]) == stroke(removed)
    assert swatch_colour(swatches["added"]) == stroke(added)
    assert swatch_colour(swatches["changed"]) == stroke(element(page, "new", "review_request"))
    assert len({swatch_colour(s) for s in swatches.values()}) == 3

    # The textual comparison stays below the diagrams.
    expect(page.get_by_role("heading", name="Tasks changed")).to_be_visible()
    expect(page.get_by_text("name 'Review request' → 'Approve cancellation request'")).to_be_visible()
    page.get_by_role("group", name="Zoom Version 2").get_by_role("button", name="Zoom in").click()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/compare.png", full_page=True)
    assert errors == [], f"the page logged errors: {errors}"
