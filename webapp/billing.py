"""Home > Billing > Invoice: the invoice list, an invoice's detail and history, and its More Action forms."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine.accounts.permissions import Permission
from engine.errors import Invalid
from engine.reads import cancelled as cancelled_reads
from engine.reads import offers, queries
from engine.usecases import steps

from .auth import permission_required
from .forms import submitted_values
from .plumbing import actor, csv_download, small_int, uow

bp = Blueprint("billing", __name__, url_prefix="/billing")


def _int_arg(name: str, default: int) -> int:
    return small_int(request.args.get(name)) or default


@bp.get("/invoices")
@permission_required(Permission.WORK_ON_INVOICES)
def invoices():
    try:
        filters, errors, status = queries.InvoiceFilters.parse(request.args), {}, 200
    except Invalid as exc:
        filters, errors, status = queries.InvoiceFilters(request.args.get("q", "").strip()), exc.errors, 422
    with uow(read_only=True) as session:
        page = queries.list_invoices(session, actor(), page=_int_arg("page", 1), per_page=20, filters=filters)
        ended = offers.ended_requests(session, page.items)
        actions = offers.actions_for_invoices(session, actor(), page.items, ended)
        awaiting = queries.awaiting_approval(session, [i.id for i in page.items])
        # Approval Status (column and filter) once an invoice of the clinic has one, or while the URL filters by it.
        by_approval = bool(filters.approval or "approval" in errors)
        show_approval_status = by_approval or queries.has_approval_status(session, actor())
    page_html = render_template(
        "billing/invoices.html", page=page, q=filters.q, filters=filters, args=filters.args(), errors=errors,
        actions=actions, awaiting=awaiting, ended=ended, show_approval_status=show_approval_status,
    )  # fmt: skip
    return page_html, status


def _list_args() -> dict:
    """The invoice list's filters an invoice page was opened with (`back`), to link back to the same list."""
    try:
        return queries.InvoiceFilters.parse(dict(parse_qsl(request.args.get("back", "")))).args()
    except Invalid:
        return {}


@bp.get("/invoices/<number>")
@permission_required(Permission.WORK_ON_INVOICES)
def invoice(number: str):
    with uow(read_only=True) as session:
        found = offers.get_invoice(session, actor(), number)
        actions = offers.invoice_actions(session, actor(), found)
        shown = [(e, e.details_dict) for e in queries.history(session, actor(), found)]
        awaiting = queries.awaiting_approval(session, [found.id])
    return render_template(
        "billing/invoice.html", invoice=found, actions=actions, events=shown, awaiting=awaiting, back=_list_args()
    )


@bp.route("/invoices/<number>/tasks/<element_id>", methods=["GET", "POST"])
@permission_required(Permission.WORK_ON_INVOICES)
def task(number: str, element_id: str):
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = submitted_values(request.form)
        try:
            with uow() as session:
                outcome = steps.complete_task(session, actor(), number, element_id, values)
            flash(outcome.message, "warning" if outcome.incident else "success")
            return redirect(url_for("billing.invoices", q=number))
        except Invalid as exc:
            errors, status = exc.errors, 422
    with uow(read_only=True) as session:
        found = offers.get_invoice(session, actor(), number)
        form = offers.task_form(session, actor(), found, element_id)
        awaiting = queries.awaiting_approval(session, [found.id])
    page = render_template(
        "billing/task.html", invoice=found, form=form, values=values, errors=errors, awaiting=awaiting
    )
    return page, status


# ---- Cancelled Invoice -----------------------------------------------------------------------------------------


def _cancelled_args() -> dict:
    return {k: v for k in ("q", "from", "to") if (v := request.args.get(k, "").strip())}


@bp.get("/cancelled")
@permission_required(Permission.WORK_ON_INVOICES)
def cancelled():
    args, page, errors, status = _cancelled_args(), None, {}, 200
    try:
        filters = cancelled_reads.CancelledFilters.parse(args, actor().locale)
        with uow(read_only=True) as session:
            page = cancelled_reads.cancelled_invoices(session, actor(), filters, _int_arg("page", 1))
    except Invalid as exc:
        errors, status = exc.errors, 422
    raw = {k: args.get(k, "") for k in ("q", "from", "to")}
    return render_template("billing/cancelled.html", page=page, args=args, raw=raw, errors=errors), status


@bp.get("/cancelled.csv")
@permission_required(Permission.WORK_ON_INVOICES)
def cancelled_csv():
    filters = cancelled_reads.CancelledFilters.parse(_cancelled_args(), actor().locale)
    return csv_download("cancelled-invoices.csv", cancelled_reads.export_csv, actor(), filters)
