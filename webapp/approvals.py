"""Home > Billing > Financial Approval: the clinic's cancellation requests and the review form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine.accounts.permissions import Permission
from engine.errors import Conflict, Invalid
from engine.reads import decisions, queries
from engine.usecases import approval
from engine.vocabulary import RequestStatus

from .auth import permission_required
from .forms import submitted_values
from .plumbing import actor, small_int, uow

bp = Blueprint("approvals", __name__, url_prefix="/billing/financial-approval")


@bp.get("/")
@permission_required(Permission.DECIDE)
def queue():
    args = request.args
    filters = {
        "status": args.get("status", RequestStatus.REQUESTED),
        "from": args.get("from", ""),
        "to": args.get("to", ""),
        "number": args.get("number", "").strip(),
    }
    errors, days = {}, {}
    for field, label in (("from", "From"), ("to", "To")):
        try:
            days[field] = queries.parse_day(filters[field], label, field, actor().locale)
        except Invalid as exc:
            errors |= exc.errors
    with uow(read_only=True) as session:
        page = None
        while page is None:  # a bad filter is named, and the list shows without it: the table stays
            try:
                page = _page(session, filters, days.get("from"), days.get("to"))
            except Invalid as exc:
                errors |= exc.errors
                if "status" in exc.errors:
                    filters["status"] = RequestStatus.REQUESTED
                else:
                    days = {}
        requests = [row.request for row in page.items]
        names = approval.reason_names(session, requests)
        decided = decisions.decisions_of(session, requests) if filters["status"] != RequestStatus.REQUESTED else {}
        hint = None
        if not page.items and filters["number"] and filters["status"] in (RequestStatus.REQUESTED, queries.ALL):
            hint = decisions.why_not_listed(session, actor(), filters["number"])
    return render_template(
        "approvals/queue.html", page=page, filters=filters, errors=errors, reason_names=names, decided=decided,
        hint=hint,
    ), 422 if errors else 200  # fmt: skip


def _page(session, filters: dict, date_from=None, date_to=None):
    return queries.approval_queue(
        session,
        actor(),
        status=filters["status"],
        date_from=date_from,
        date_to=date_to,
        number=filters["number"],
        page=small_int(request.args.get("page")) or 1,
    )


@bp.route("/requests/<id:request_id>", methods=["GET", "POST"])
@permission_required(Permission.DECIDE)
def review(request_id: int):
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = submitted_values(request.form)
        try:
            with uow() as session:
                step = request.form.get("step")
                step_id = small_int(step)
                if step is not None and step_id is None:  # the page sends the step it showed, as a number
                    raise Conflict("The review form was out of date: reload the page and decide again.")
                outcome = approval.decide(session, actor(), request_id, values, step_id)
            flash(outcome.message, "warning" if outcome.incident else "success")
            return redirect(url_for("approvals.queue"))
        except Invalid as exc:
            errors, status = exc.errors, 422
    with uow(read_only=True) as session:
        found = approval.get_request(session, actor(), request_id)
        form, refusal = approval.review_form(session, actor(), found)
        warnings = approval.decision_warnings(session, actor(), found) if form else []
        step = approval.current_step(session, found)
        reason_name = approval.reason_names(session, [found])[found.id]
        awaiting = queries.awaiting_approval(session, [found.invoice_id])
        events = [(e, e.details_dict) for e in queries.history(session, actor(), found.invoice)]
    return render_template(
        "approvals/review.html",
        req=found,
        form=form,
        refusal=refusal,
        warnings=warnings,
        reason_name=reason_name,
        step=step,
        awaiting=awaiting,
        values=values,
        errors=errors,
        events=events,
    ), status
