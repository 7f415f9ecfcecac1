"""Home > Administration > Process Instances in a real browser, as the clinic administrator uses it.

The requests the admin looks at are made through the engine (demo.request, tests/conftest.py): making them through the
UI is covered by test_lifecycle_browser.py. Everything the admin does is done in the page, like a person does.
"""

from __future__ import annotations

import re

from browsing import INVOICE_LIST, REQUESTED, cell, log_in, main_nav
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, expect

INSTANCE_LIST = re.compile(r"/admin/instances(\?.*)?$")
INSTANCE_PAGE = re.compile(r"/admin/instances/\d+$")
WAITING_FOR_REVIEW = "Review request — Approver, Clinic administrator"
TERMINATE_REASON = "Duplicate request: the clinic asked for it twice."


# ---------------------------------------------------------------- helpers: what a person does
# (log_in, main_nav and cell are in tests/browser/browsing.py, shared with test_lifecycle_browser.py)


def open_instances(page: Page) -> Locator:
    """Top navigation > Process Instances; returns the table's body rows."""
    main_nav(page, "Process Instances")
    expect(page).to_have_url(INSTANCE_LIST)
    expect(page.get_by_role("heading", level=1, name="Process Instances")).to_be_visible()
    table = page.get_by_role("table", name="Process instances")
    return table.locator("tbody").get_by_role("row")


def instance_row(page: Page, number: str) -> Locator:
    table = page.get_by_role("table", name="Process instances")
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_have_count(1)
    return row


def open_details(page: Page, row: Locator, number: str) -> None:
    row.get_by_role("link", name="Details").click()
    expect(page).to_have_url(INSTANCE_PAGE)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(rf"^Instance \d+ · invoice {number}$"))


def wait_for_diagram(page: Page) -> None:
    expect(page.locator("#canvas")).to_have_attribute("data-rendered", "true")


def diagram_element(page: Page, element_id: str) -> Locator:
    """The bpmn-js shape of a BPMN element (the viewer marks states with CSS classes on it)."""
    return page.locator(f'#canvas g.djs-element[data-element-id="{element_id}"]')


def has_class(name: str) -> re.Pattern:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def instance_status(page: Page) -> Locator:
    return page.locator("dd.instance-status")


def terminate(page: Page, reason: str) -> int:
    """Fill the Terminate form's Reason and submit it; returns the HTTP status of the form's answer."""
    form = page.get_by_role("region", name="Terminate")
    form.get_by_label("Reason").fill(reason)
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))  # Terminate asks first
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/terminate")) as answer:
        form.get_by_role("button", name="Terminate").click()
    assert asked and asked[0].startswith("Terminate instance ") and "cannot be undone" in asked[0]
    return answer.value.status


def console_errors(page: Page) -> list[str]:
    """Console messages of type "error" and uncaught page errors, collected from now on (CSP reports included)."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    def on_page_error(error: Error) -> None:
        errors.append(f"pageerror: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return errors


# ---------------------------------------------------------------- tests


def test_admin_sees_waiting_task_highlighted_and_terminates_another(page: Page, demo):
    requested = demo.invoice_numbers("NS")[:2]
    for number in requested:  # Billing staff ask to cancel each invoice (through the engine)
        demo.request("billing", number, remarks=f"Billed twice: {number}.")
    errors = console_errors(page)

    log_in(page, "admin")
    rows = open_instances(page)
    overview = page.get_by_role("region", name="Overview")
    expect(overview.get_by_text("2 Running", exact=True)).to_be_visible()
    expect(overview.get_by_text("0 Terminated", exact=True)).to_be_visible()
    expect(rows).to_have_count(2)
    for number in requested:
        row = instance_row(page, number)
        expect(cell(row, "Status")).to_have_text("Running")
        expect(cell(row, "Waiting for")).to_have_text(WAITING_FOR_REVIEW)
        expect(cell(row, "Started by")).to_have_text("Bella Billing")

    # The first instance (longest waiting): the diagram shows where it stands.
    first = rows.first.get_by_role("link").first.inner_text().strip()
    other = next(n for n in requested if n != first)
    with page.expect_response(INSTANCE_PAGE) as shown:
        open_details(page, rows.first, first)
    assert "script-src 'self'" in (shown.value.headers.get("content-security-policy") or "")
    expect(instance_status(page)).to_have_text("Running")
    wait_for_diagram(page)
    review = diagram_element(page, "review_request")
    expect(review).to_have_count(1)
    expect(review).to_have_class(has_class("state-ready"))
    expect(review).not_to_have_class(has_class("state-completed"))
    request_shape = diagram_element(page, "request_cancellation")
    expect(request_shape).to_have_class(has_class("state-completed"))
    expect(request_shape).not_to_have_class(has_class("state-ready"))
    expect(diagram_element(page, "cancel_invoice")).not_to_have_class(re.compile(r"state-"))

    details = page.locator("#element-details")
    expect(details).to_have_text("Select a task in the diagram to see its details.")
    tasks = page.get_by_role("region", name="Tasks")
    review_row = tasks.get_by_role("row").filter(has=page.get_by_role("cell", name="Review request", exact=True))
    request_row = tasks.get_by_role("row").filter(
        has=page.get_by_role("cell", name="Invoice Cancellation Request", exact=True)
    )
    expect(review_row).to_have_count(1)
    expect(review_row).not_to_have_class(has_class("selected-element"))
    review.click()
    expect(details).to_contain_text("Review request")
    expect(details).to_contain_text("highlighted in the task list")
    expect(review_row).to_have_class(has_class("selected-element"))
    expect(request_row).not_to_have_class(has_class("selected-element"))
    assert errors == [], f"the instance page logged errors while drawing the diagram: {errors}"

    # The other instance: Terminate refuses an empty reason and changes nothing, then terminates.
    open_instances(page)
    open_details(page, instance_row(page, other), other)
    wait_for_diagram(page)
    assert terminate(page, "") == 422
    expect(page).to_have_url(re.compile(r"/admin/instances/\d+/terminate$"))  # the refusal is the POST's answer
    # Chromium logs every 4xx answer as a console error: this one is the expected refusal, nothing else is.
    wait_for_diagram(page)
    assert [e for e in errors if "status of 422" not in e] == [], f"unexpected page errors: {errors}"
    errors.clear()
    reason = page.get_by_role("region", name="Terminate").get_by_label("Reason")
    expect(reason).to_have_accessible_description(re.compile(r"^Reason is required"))
    expect(page.get_by_text(re.compile(r"^Reason is required"))).to_be_visible()
    expect(instance_status(page)).to_have_text("Running")
    expect(diagram_element(page, "review_request")).to_have_class(has_class("state-ready"))

    assert terminate(page, TERMINATE_REASON) == 302
    expect(page).to_have_url(INSTANCE_PAGE)
    expect(page.get_by_role("status").filter(has_text="The instance is terminated")).to_be_visible()
    expect(instance_status(page)).to_have_text("Terminated")
    expect(page.get_by_role("region", name="Terminate")).to_have_count(0)
    audit = page.get_by_role("region", name="Audit trail").get_by_role("row")
    expect(audit.filter(has_text="Terminated by the clinic administrator")).to_contain_text(TERMINATE_REASON)
    wait_for_diagram(page)
    expect(diagram_element(page, "review_request")).not_to_have_class(has_class("state-ready"))

    open_instances(page)
    expect(overview.get_by_text("1 Running", exact=True)).to_be_visible()
    expect(overview.get_by_text("1 Terminated", exact=True)).to_be_visible()
    expect(cell(instance_row(page, other), "Status")).to_have_text("Terminated")
    expect(cell(instance_row(page, other), "Waiting for")).to_have_text("")
    expect(cell(instance_row(page, first), "Status")).to_have_text("Running")

    # The invoice list: the terminated request no longer shows as Requested; the other one still does.
    main_nav(page, "Invoice")
    expect(page).to_have_url(INVOICE_LIST)
    invoices = page.get_by_role("table", name="Invoices")
    terminated_row = invoices.get_by_role("row").filter(has=page.get_by_role("link", name=other, exact=True))
    expect(cell(terminated_row, "Approval Status")).to_have_text(f"Terminated — “{TERMINATE_REASON}”")  # and why
    expect(cell(terminated_row, "Status")).to_have_text("Open")
    still_requested = invoices.get_by_role("row").filter(has=page.get_by_role("link", name=first, exact=True))
    expect(cell(still_requested, "Approval Status")).to_have_text(REQUESTED)

    terminated_row.get_by_role("link", name=other, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Invoice {other}")
    expect(page.locator("dd.approval-status")).to_have_text("Terminated")
    history = page.get_by_role("region", name="Cancellation history")
    ended = history.get_by_role("row").filter(
        has=page.get_by_role("cell", name="Terminated by the clinic administrator", exact=True)
    )
    expect(ended).to_have_count(1)
    expect(ended).to_contain_text("Ada Admin")
    expect(ended).to_contain_text(TERMINATE_REASON)
    assert errors == [], f"the pages logged errors: {errors}"


def test_non_admin_gets_403(page: Page, demo):
    log_in(page, "billing")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Process Instances")).to_have_count(0)

    response = page.goto("/admin/instances")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1, name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Your roles do not allow this page.")
    expect(page.get_by_role("table", name="Process instances")).to_have_count(0)
