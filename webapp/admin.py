"""Home > Administration > Process Instances: monitor, retry and terminate the clinic's instances (admins)."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from engine.accounts.permissions import Permission
from engine.errors import Invalid
from engine.reads import monitoring, queries
from engine.reads.instance_detail import instance_detail
from engine.usecases import instance_admin, timers

from .auth import permission_required
from .plumbing import actor, csv_download, localtime, small_int, uow

bp = Blueprint("admin", __name__, url_prefix="/admin")


FILTERS = ("status", "process", "version", "task", "number", "from", "to", "no_one_may_decide")


def _filters() -> tuple[monitoring.InstanceFilters, dict]:
    args = request.args
    raw = {k: args.get(k, "").strip() for k in FILTERS}
    errors = {}
    version = None
    if raw["version"]:
        if small_int(raw["version"]):
            version = small_int(raw["version"])
        else:
            errors["version"] = "Version must be a whole number, e.g. 2."
    try:
        started_from = queries.parse_day(raw["from"], "Started From", "from", actor().locale)
        started_to = queries.parse_day(raw["to"], "Started To", "to", actor().locale)
    except Invalid as exc:
        errors.update(exc.errors)
        started_from = started_to = None
    filters = monitoring.InstanceFilters(
        status=raw["status"],
        process_id=raw["process"],
        version=version,
        waiting_element=raw["task"],
        number=raw["number"],
        started_from=started_from,
        started_to=started_to,
        no_one_may_decide=raw["no_one_may_decide"] not in ("", "0"),
    )
    try:
        filters.check()
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    return filters, raw


@bp.get("/instances")
@permission_required(Permission.MONITOR_INSTANCES)
def instances():
    page, errors, raw = (
        None,
        {},
        {k: request.args.get(k, "") for k in FILTERS},
    )
    with uow(read_only=True) as session:
        try:
            filters, raw = _filters()
            number = request.args.get("page", "1")
            page = monitoring.list_instances(session, actor(), filters, page=small_int(number) or 1)
        except Invalid as exc:
            errors = exc.errors
        summary = monitoring.overview(session, actor())
        choices = monitoring.filter_choices(session, actor())
    args = {k: v for k, v in raw.items() if v}
    return render_template(
        "admin/instances.html",
        page=page,
        summary=summary,
        choices=choices,
        filters=raw,
        args=args,
        errors=errors,
        statuses=monitoring.STATUS_LABELS,
    ), 422 if errors else 200


@bp.get("/instances.csv")
@permission_required(Permission.MONITOR_INSTANCES)
def instances_csv():
    filters, _raw = _filters()
    return csv_download("process-instances.csv", monitoring.export_csv, actor(), filters)


@bp.get("/instances/<id:instance_id>")
@permission_required(Permission.MONITOR_INSTANCES)
def instance(instance_id: int):
    return _instance_page(instance_id)


def _instance_page(
    instance_id: int, reason_errors: dict | None = None, status: int = 200, timer_errors: dict | None = None
):
    with uow(read_only=True) as session:
        detail = instance_detail(session, actor(), instance_id)
    diagram = {
        "xml": detail.xml,
        "ready": detail.ready,
        "completed": detail.completed,
        "failed": detail.failed,
        "cancelled": detail.cancelled,
        "flows": detail.flows_taken,
    }
    return render_template(
        "admin/instance.html",
        d=detail,
        diagram=diagram,
        reason_errors=reason_errors or {},
        timer_errors=timer_errors or {},
    ), status


@bp.post("/instances/<id:instance_id>/retry")
@permission_required(Permission.RETRY)
def retry(instance_id: int):
    with uow() as session:
        went_through = instance_admin.retry(session, actor(), instance_id)
    if went_through:
        flash("Retried: the step went through and the instance goes on.", "success")
    else:
        flash("The retry failed again; the incident shows the new error. Fix the cause, then retry.", "error")
    return redirect(url_for("admin.instance", instance_id=instance_id))


@bp.post("/instances/<id:instance_id>/terminate")
@permission_required(Permission.TERMINATE)
def terminate(instance_id: int):
    try:
        with uow() as session:
            instance_admin.terminate(session, actor(), instance_id, request.form.get("reason"))
    except Invalid as exc:
        return _instance_page(instance_id, exc.errors, 422)
    flash("The instance is terminated; the invoice stays Open and a new request may be made.", "success")
    return redirect(url_for("admin.instance", instance_id=instance_id))


@bp.post("/instances/<id:instance_id>/timers/<id:timer_id>/fire")
@permission_required(Permission.RETRY)
def fire_timer(instance_id: int, timer_id: int):
    with uow() as session:
        timer = timers.fire_now(session, actor(), instance_id, timer_id)
        name = timer.name
    flash(f"The timer {name} fired; the process went on from it.", "success")
    return redirect(url_for("admin.instance", instance_id=instance_id))


@bp.post("/instances/<id:instance_id>/timers/<id:timer_id>/due")
@permission_required(Permission.RETRY)
def timer_due(instance_id: int, timer_id: int):
    try:
        with uow() as session:
            timer = timers.change_due(session, actor(), instance_id, timer_id, request.form.get("due"))
            name, due = timer.name, timer.due_at
    except Invalid as exc:
        return _instance_page(instance_id, status=422, timer_errors=exc.errors)
    flash(f"The timer {name} is now due {localtime(due)} ({actor().timezone}).", "success")
    return redirect(url_for("admin.instance", instance_id=instance_id))
