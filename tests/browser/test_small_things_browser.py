"""Issue "Polish", 8 (keyboard and small things) in a real browser: the reason under a disabled More Action item
and the muted texts around it meet WCAG AA contrast (4.5:1) as rendered, and the invoice list's search
placeholder fits its input on a laptop (1366 px) and a phone (390 px)."""

from __future__ import annotations

import pytest
from browsing import invoice_row, log_in, main_nav, open_more_action, select_row
from playwright.sync_api import Locator, Page, expect

AA = 4.5

# The WCAG 2 contrast ratio of an element's text colour against the first opaque background behind it.
CONTRAST = """(element, pseudo) => {
  const rgba = text => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = c => (c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const style = getComputedStyle(element, pseudo);
  let [r, g, b, a = 1] = rgba(style.color);
  a *= Number(style.opacity);  // a dimmed placeholder is paler than its colour
  let background = [255, 255, 255];
  for (let e = element; e; e = e.parentElement) {
    const [br, bg, bb, ba = 1] = rgba(getComputedStyle(e).backgroundColor);
    if (ba === 1) { background = [br, bg, bb]; break; }
  }
  const text = [r, g, b].map((c, i) => a * c + (1 - a) * background[i]);
  const [light, dark] = [luminance(text), luminance(background)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}"""

# Whether the placeholder's text is as wide as the input's content box at most (an input's scrollWidth does not
# grow with its placeholder, so the text is measured in the placeholder's font).
PLACEHOLDER_FITS = """input => {
  const style = getComputedStyle(input, '::placeholder'), box = getComputedStyle(input);
  const canvas = document.createElement('canvas').getContext('2d');
  canvas.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const text = canvas.measureText(input.placeholder).width;
  const room = input.clientWidth - parseFloat(box.paddingLeft) - parseFloat(box.paddingRight);
  return {text, room, value: input.value, scroll: input.scrollWidth, client: input.clientWidth};
}"""


def contrast(element: Locator, pseudo: str | None = None) -> float:
    return element.evaluate(f"e => ({CONTRAST})(e, {'null' if pseudo is None else repr(pseudo)})")


def test_reason_of_a_disabled_action_and_muted_texts_meet_aa_contrast(page: Page, demo):
    number = demo.invoice_numbers("NS")[0]
    log_in(page, "billing")
    main_nav(page, "Invoice")
    select_row(invoice_row(page, number))
    menu = open_more_action(page)

    reasons = menu.locator(".why")
    expect(reasons.first).to_be_visible()
    for i in range(reasons.count()):
        reason = reasons.nth(i)
        assert reason.inner_text().strip(), "the reason is visible text"
        assert contrast(reason) >= AA, f"{reason.inner_text()!r}: {contrast(reason):.2f}:1"

    search = page.get_by_label("Search")
    assert contrast(search, "::placeholder") >= AA, f"placeholder: {contrast(search, '::placeholder'):.2f}:1"
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    for crumb in (crumbs.get_by_role("link", name="Billing"), crumbs.locator("[aria-current=page]")):
        assert contrast(crumb) >= AA, f"breadcrumb {crumb.inner_text()!r}: {contrast(crumb):.2f}:1"


@pytest.mark.parametrize("width, height", [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_search_placeholder_fits_its_input(page: Page, demo, width, height):
    demo.request("billing", demo.invoice_numbers("NS")[0])  # Approval Status shows: the filters' widest label
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, "billing")
    main_nav(page, "Invoice")
    expect(page.get_by_label("Approval Status")).to_be_visible()

    search = page.get_by_label("Search")
    placeholder = search.get_attribute("placeholder")
    assert all(word in placeholder.lower() for word in ("number", "patient name", "id"))
    measured = search.evaluate(PLACEHOLDER_FITS)
    assert measured["value"] == "", "the placeholder is shown"
    assert measured["scroll"] <= measured["client"]
    assert measured["text"] <= measured["room"], f"{placeholder!r} at {width} px: {measured}"
