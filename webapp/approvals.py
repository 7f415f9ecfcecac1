"""Home > Billing > Financial Approval: the clinic's cancellation requests and the review form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine.accounts.permissions import Permission
from engine.errors import Conflict, Invalid
from engine.usecases import approval, financial_approval

from .auth import permission_required
from .forms import submitted_values
from .plumbing import actor, small_int, uow

bp = Blueprint("approvals", __name__, url_prefix="/billing/financial-approval")


@bp.get("/")
@permission_required(Permission.DECIDE)
def queue():
    with uow(read_only=True) as session:
        view = financial_approval.queue_view(session, actor(), request.args, small_int(request.args.get("page")) or 1)
    return render_template(
        "approvals/queue.html", page=view.page, filters=view.filters, errors=view.errors,
        reason_names=view.reason_names, decided=view.decided, hint=view.hint,
    ), 422 if view.errors else 200  # fmt: skip


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
        page = approval.review(session, actor(), request_id)
    return render_template(
        "approvals/review.html",
        req=page.request,
        form=page.form,
        refusal=page.refusal,
        warnings=page.warnings,
        reason_name=page.reason_name,
        step=page.step,
        awaiting={page.request.invoice_id: page.awaiting} if page.awaiting else {},
        values=values,
        errors=errors,
        events=page.history,
    ), status
