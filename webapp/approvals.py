"""Home > Billing > Financial Approval: the clinic's cancellation requests and the review form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine.accounts.permissions import Permission
from engine.errors import Conflict, Invalid
from engine.reads import queries
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
    errors, page = {}, None
    try:
        date_from = queries.parse_day(filters["from"], "From", "from")
        date_to = queries.parse_day(filters["to"], "To", "to")
        with uow(read_only=True) as session:
            page = queries.approval_queue(
                session,
                actor(),
                status=filters["status"],
                date_from=date_from,
                date_to=date_to,
                number=filters["number"],
                page=small_int(args.get("page")) or 1,
            )
            names = approval.reason_names(session, [row.request for row in page.items])
    except Invalid as exc:
        errors, names = exc.errors, {}
    return render_template(
        "approvals/queue.html", page=page, filters=filters, errors=errors, reason_names=names
    ), 422 if errors else 200


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
