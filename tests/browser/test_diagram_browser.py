"""The diagrams drawn with bpmn-js, on a 1366 x 768 laptop: the instance page's legend shows the colours the diagram
uses, the labels are readable, and Zoom in / Zoom out / Fit to screen work from the keyboard.

The request the admin looks at is made through the engine (demo.request, tests/conftest.py). Screenshots go to the
folder DIAGRAM_SHOTS names, when it is set (DIAGRAM_SHOTS=/tmp/diagram).
"""

from __future__ import annotations

import os
import re

from browsing import log_in, main_nav
from playwright.sync_api import Locator, Page, expect

LAPTOP = {"width": 1366, "height": 768}
READABLE_ZOOM = 0.75  # bpmn-js draws labels at 11-12 px: 9 px at this zoom
SHOTS = os.environ.get("DIAGRAM_SHOTS")
MATRIX = re.compile(r"matrix\(([^)]*)\)")


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.locator("#canvas").scroll_into_view_if_needed()
        page.screenshot(path=f"{SHOTS}/{name}.png")


def console_errors(page: Page) -> list[str]:
    """Errors the page logs from now on (a CSP refusal of an inline style or script included)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(error.message))
    return errors


def open_instance(page: Page, number: str) -> None:
    main_nav(page, "Process Instances")
    table = page.get_by_role("table", name="Process instances")
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    row.get_by_role("link", name="Details").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    expect(page.locator("#canvas")).to_have_attribute("data-rendered", "true")


def viewport(page: Page) -> list[float]:
    """The transform bpmn-js puts on its `.viewport` group: matrix(scale 0 0 scale dx dy)."""
    transform = page.locator("#canvas .viewport").get_attribute("transform") or ""
    found = MATRIX.fullmatch(transform)
    assert found, f"unexpected viewport transform {transform!r}"
    return [float(n) for n in re.split(r"[\s,]+", found[1].strip())]


def zoom(page: Page) -> float:
    return viewport(page)[0]


def pan(page: Page) -> tuple[float, float]:
    return viewport(page)[4], viewport(page)[5]


def box(locator: Locator) -> dict:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not drawn"
    return found


def inside(inner: dict, outer: dict, axes: str = "xy") -> bool:
    """`inner` lies within `outer` along the axes given (a pixel of rounding allowed)."""
    size = {"x": "width", "y": "height"}
    return all(inner[a] >= outer[a] - 1 and inner[a] + inner[size[a]] <= outer[a] + outer[size[a]] + 1 for a in axes)


def diagram_box(page: Page) -> dict:
    """Where the whole diagram is drawn on the page (its shapes' bounding box)."""
    return box(page.locator("#canvas .viewport"))


def swatch_colours(page: Page, marker: str) -> dict[str, str]:
    swatch = page.get_by_role("list", name="Legend").locator(f'.swatch[data-marker="{marker}"]')
    expect(swatch).to_have_count(1)
    return swatch.evaluate(
        "s => { const c = getComputedStyle(s); return {stroke: c.borderTopColor, fill: c.backgroundColor,"
        " dashed: c.borderTopStyle === 'dashed'}; }"
    )


def marked_colours(page: Page, selector: str) -> dict[str, str]:
    """The computed stroke and fill of the first drawn part (the outline) of the diagram element `selector`."""
    visual = page.locator(f"#canvas {selector} > .djs-visual > :first-child").first
    return visual.evaluate(
        "v => { const c = getComputedStyle(v); return {stroke: c.stroke, fill: c.fill,"
        " dashed: c.strokeDasharray !== 'none'}; }"
    )


def test_legend_shows_the_colours_the_diagram_uses(page: Page, demo):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    page.set_viewport_size(LAPTOP)
    log_in(page, "admin")
    open_instance(page, number)
    shot(page, "instance-legend")

    # Markers the instance put on the diagram: Review request waits, the request's steps and flows are done.
    for marker in ("state-ready", "state-completed"):
        shape = f"g.djs-shape.{marker}"
        expect(page.locator(f"#canvas {shape}").first).to_be_visible()
        assert swatch_colours(page, marker) == marked_colours(page, shape), marker
    taken = page.locator("#canvas g.djs-connection.state-taken > .djs-visual > path").first
    expect(taken).to_be_attached()  # a straight line has no area: Playwright never calls it visible
    assert swatch_colours(page, "state-taken")["stroke"] == taken.evaluate("p => getComputedStyle(p).stroke")

    # Failed and cancelled do not occur in this instance: the same marker classes on a shape it has not reached.
    unreached = page.locator('#canvas g.djs-element[data-element-id="cancel_invoice"]')
    expect(unreached).not_to_have_class(re.compile(r"state-"))
    for marker in ("state-failed", "state-cancelled"):
        unreached.evaluate("(g, marker) => g.classList.add(marker)", marker)
        assert swatch_colours(page, marker) == marked_colours(page, f"g.djs-shape.{marker}"), marker
        unreached.evaluate("(g, marker) => g.classList.remove(marker)", marker)

    outlines = {swatch_colours(page, m)["stroke"] for m in ("state-ready", "state-completed", "state-failed")}
    assert len(outlines) == 3, f"the legend's keys share a colour: {outlines}"


def test_diagram_is_readable_on_a_laptop_and_zooms_from_the_keyboard(page: Page, demo):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    errors = console_errors(page)
    page.set_viewport_size(LAPTOP)
    log_in(page, "admin")
    open_instance(page, number)
    canvas = page.locator("#canvas")
    hint = page.get_by_text("Part of the diagram is outside the box")
    zoom_level = page.get_by_role("group", name="Diagram zoom").locator(".diagram-zoom-level")
    shot(page, "instance-laptop")

    # The box fits the page; the diagram is drawn large enough to read, showing the step the instance waits on.
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    section = box(page.get_by_role("region", name="Diagram"))
    assert inside(box(canvas), section, "x")
    readable = zoom(page)
    assert readable >= READABLE_ZOOM
    expect(zoom_level).to_have_text(f"{round(readable * 100)} %")
    assert inside(box(page.locator('#canvas g.djs-element[data-element-id="review_request"]')), box(canvas))
    assert inside(diagram_box(page), box(canvas), "y"), "the diagram's height fits the box"
    expect(hint).to_be_visible()  # the process is wider than 1,280 px at that zoom

    # Keyboard: from the heading, Tab reaches Zoom out, Zoom in, Fit to screen, then the diagram itself.
    page.get_by_role("heading", level=2, name="Diagram").click()
    for name in ("Zoom out", "Zoom in", "Fit to screen"):
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name=name, exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    expect(canvas.locator("svg").first).to_be_focused()
    before = pan(page)
    page.keyboard.press("ArrowRight")
    assert pan(page) != before, "the arrow keys move the diagram"

    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Zoom in", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    assert zoom(page) > readable
    expect(zoom_level).to_have_text(f"{round(zoom(page) * 100)} %")
    shot(page, "instance-zoomed-in")

    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Fit to screen: all of the diagram, in the box
    assert zoom(page) < readable
    assert inside(diagram_box(page), box(canvas)), "Fit to screen shows the whole diagram"
    expect(hint).to_be_hidden()
    shot(page, "instance-fit")

    page.get_by_role("button", name="Zoom out", exact=True).click()
    fitted_out = zoom(page)
    page.get_by_role("button", name="Fit to screen", exact=True).click()
    assert zoom(page) > fitted_out
    assert errors == [], f"the page logged errors: {errors}"


def test_a_process_version_diagram_fits_its_box_with_the_same_controls(page: Page, demo):
    errors = console_errors(page)
    page.set_viewport_size(LAPTOP)
    log_in(page, "admin")
    main_nav(page, "Processes")
    section = page.locator("section.process").filter(has_text="invoice_cancellation_direct")
    section.get_by_role("link", name="Diagram").first.click()
    canvas = page.locator("#canvas")
    expect(canvas).to_have_attribute("data-rendered", "true")
    shot(page, "process-version")

    # A diagram narrower than the box at a readable zoom opens whole, within the box's width.
    assert inside(diagram_box(page), box(canvas), "x")
    assert zoom(page) >= READABLE_ZOOM
    expect(page.get_by_text("Part of the diagram is outside the box")).to_be_hidden()

    controls = page.get_by_role("group", name="Diagram zoom")
    fitted = zoom(page)
    controls.get_by_role("button", name="Zoom in").click()
    assert zoom(page) > fitted
    controls.get_by_role("button", name="Fit to screen").click()
    assert zoom(page) == fitted
    assert inside(diagram_box(page), box(canvas))
    assert errors == [], f"the page logged errors: {errors}"
